"""Object sprites for the synthetic archive: cars, ships and airliners seen from above.

Sprites are drawn supersampled and area-averaged (anti-aliased edges) facing east; `stamp`
places one at a sub-pixel position and heading. Parked and moving objects are drawn by the
same code, so the ground truth of both is the silhouette that was drawn.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from tgram.data.palette import CONTAINER_COLOURS, RGB, grade, shade

SUPERSAMPLE = 4
"""Sprites are drawn this many times finer, then area-averaged: anti-aliased edges."""
SILHOUETTE_ALPHA = 0.5
"""Coverage at which a sprite pixel counts as part of the object (gt box, visibility)."""


@dataclass(frozen=True)
class Sprite:
    """An object's look facing +x (east), anti-aliased: premultiplied RGB and coverage.

    `rgba[..., :3]` is colour times coverage (0..255), `rgba[..., 3]` coverage (0..1); the
    object's centre is the array centre.
    """

    rgba: np.ndarray
    length: float
    """Extent along the heading, in pixels."""
    shadow_px: float
    """Length of the object's cast shadow (its height above ground, times the sun ratio)."""


@dataclass(frozen=True)
class Stamp:
    """A sprite warped into a world-aligned patch whose top-left pixel is (x0, y0)."""

    x0: int
    y0: int
    rgba: np.ndarray

    @property
    def silhouette(self) -> np.ndarray:
        return self.rgba[..., 3] >= SILHOUETTE_ALPHA


def stamp(sprite: Sprite, x: float, y: float, heading: float) -> Stamp:
    """Rotate `sprite` by `heading` (radians, image axes: +x east, +y south) and centre it at (x, y)."""
    h, w = sprite.rgba.shape[:2]
    cos, sin = math.cos(heading), math.sin(heading)
    half_x = (abs(cos) * w + abs(sin) * h) / 2 + 1
    half_y = (abs(sin) * w + abs(cos) * h) / 2 + 1
    x0, y0 = math.floor(x - half_x), math.floor(y - half_y)
    x1, y1 = math.ceil(x + half_x), math.ceil(y + half_y)
    centre_x, centre_y = w / 2 - 0.5, h / 2 - 0.5
    matrix = np.array(
        [
            [cos, -sin, x - x0 - 0.5 - (cos * centre_x - sin * centre_y)],
            [sin, cos, y - y0 - 0.5 - (sin * centre_x + cos * centre_y)],
        ],
        np.float32,
    )
    patch = cv2.warpAffine(
        sprite.rgba, matrix, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderValue=0
    )
    return Stamp(x0, y0, patch)


def _render_sprite(
    length: float, width: float, shadow_px: float, draw: Callable[[np.ndarray, float], None]
) -> Sprite:
    """Run `draw(canvas, scale)` on a supersampled RGBA canvas and area-average it down."""
    w = int(math.ceil(length)) + 2
    h = int(math.ceil(width)) + 2
    canvas = np.zeros((h * SUPERSAMPLE, w * SUPERSAMPLE, 4), np.float32)
    draw(canvas, SUPERSAMPLE)
    small = cv2.resize(canvas, (w, h), interpolation=cv2.INTER_AREA)
    small[..., :3] = grade(small[..., :3], small[..., 3:])
    return Sprite(small, length, shadow_px)


def _poly(canvas: np.ndarray, scale: float, points: list[tuple[float, float]], rgb: RGB) -> None:
    """Fill a polygon given in object units around the centre (x along the heading)."""
    h, w = canvas.shape[:2]
    # in 1/16 px (shift=4); a few whole-array steps, as a car's sprite is several polygons
    pts = np.asarray(points, np.float64) * (scale * 16) + (w * 8, h * 8)
    cv2.fillPoly(
        canvas, [np.round(pts).astype(np.int32)], (*rgb, 1.0), lineType=cv2.LINE_8, shift=4
    )


def _rect(
    canvas: np.ndarray, scale: float, x0: float, y0: float, x1: float, y1: float, rgb: RGB
) -> None:
    _poly(canvas, scale, [(x0, y0), (x1, y0), (x1, y1), (x0, y1)], rgb)


def _ellipse(
    canvas: np.ndarray, scale: float, cx: float, cy: float, rx: float, ry: float, rgb: RGB
) -> None:
    t = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    _poly(canvas, scale, list(zip(cx + rx * np.cos(t), cy + ry * np.sin(t), strict=True)), rgb)


VEHICLE_COLOURS: tuple[RGB, ...] = (
    (226.0, 226.0, 222.0),
    (172.0, 174.0, 178.0),
    (34.0, 35.0, 38.0),
    (84.0, 86.0, 90.0),
    (168.0, 34.0, 32.0),
    (40.0, 62.0, 140.0),
    (196.0, 184.0, 150.0),
    (44.0, 84.0, 56.0),
)
VEHICLE_COLOUR_WEIGHTS = (0.3, 0.18, 0.2, 0.1, 0.07, 0.07, 0.05, 0.03)
_VEHICLE_COLOUR_CDF = np.cumsum(VEHICLE_COLOUR_WEIGHTS)
"""Colours are drawn by inverting this (rng.choice with weights checks them on every call,
which costs more than the rest of choosing a car's look)."""


def vehicle_sprite(rng: np.random.Generator, shadow_ratio: float) -> Sprite:
    """A car seen from above: body 8-12 x 4-6 px, dark windscreen and rear window, roof panel."""
    length = rng.uniform(8.0, 12.0)
    width = min(max(length * rng.uniform(0.42, 0.52), 4.0), 6.0)
    colour = int(np.searchsorted(_VEHICLE_COLOUR_CDF, rng.random() * _VEHICLE_COLOUR_CDF[-1]))
    body = VEHICLE_COLOURS[colour]
    body = shade(body, rng.uniform(0.9, 1.1))
    glass = (28.0, 32.0, 38.0)
    hl, hw = length / 2, width / 2

    def draw(canvas: np.ndarray, s: float) -> None:
        cut = min(1.2, hw * 0.5)
        _poly(
            canvas,
            s,
            [
                (-hl, -hw + cut),
                (-hl + cut, -hw),
                (hl - cut, -hw),
                (hl, -hw + cut),
                (hl, hw - cut),
                (hl - cut, hw),
                (-hl + cut, hw),
                (-hl, hw - cut),
            ],
            body,
        )
        _rect(canvas, s, hl * 0.18, -hw * 0.8, hl * 0.55, hw * 0.8, glass)
        _rect(canvas, s, -hl * 0.75, -hw * 0.75, -hl * 0.5, hw * 0.75, glass)
        _rect(canvas, s, -hl * 0.45, -hw * 0.7, hl * 0.15, hw * 0.7, shade(body, 1.08))

    return _render_sprite(length, width, 1.5 * shadow_ratio, draw)


SHIP_COLOURS: dict[str, tuple[RGB, RGB]] = {
    "cargo": ((60.0, 62.0, 66.0), (96.0, 84.0, 70.0)),
    "tanker": ((120.0, 48.0, 40.0), (150.0, 66.0, 52.0)),
    "boat": ((228.0, 228.0, 224.0), (200.0, 205.0, 208.0)),
}
"""Hull and deck colour of each kind of ship (small ones are mostly white boats)."""


def ship_sprite(rng: np.random.Generator, length: float, shadow_ratio: float) -> Sprite:
    """A ship from above: pointed bow, superstructure aft, deck cargo or hatches amidships."""
    beam = length * rng.uniform(0.16, 0.22)
    hl, hb = length / 2, beam / 2
    kinds = list(SHIP_COLOURS)
    kind = kinds[rng.choice(len(kinds), p=[0.45, 0.3, 0.25] if length > 25 else [0.1, 0.1, 0.8])]
    hull, deck = SHIP_COLOURS[kind]

    def draw(canvas: np.ndarray, s: float) -> None:
        _poly(
            canvas, s, [(-hl, -hb), (hl * 0.55, -hb), (hl, 0.0), (hl * 0.55, hb), (-hl, hb)], hull
        )
        _poly(
            canvas,
            s,
            [
                (-hl + 1, -hb + 1),
                (hl * 0.5, -hb + 1),
                (hl - 2, 0.0),
                (hl * 0.5, hb - 1),
                (-hl + 1, hb - 1),
            ],
            deck,
        )
        if kind == "cargo":
            for x in np.arange(-hl * 0.45, hl * 0.5, 3.2):
                colour = CONTAINER_COLOURS[rng.integers(len(CONTAINER_COLOURS))]
                _rect(canvas, s, x, -hb + 1.3, x + 2.8, hb - 1.3, colour)
        elif kind == "tanker":
            _rect(canvas, s, -hl * 0.5, -0.5, hl * 0.6, 0.5, (180.0, 170.0, 150.0))
        _rect(
            canvas,
            s,
            -hl + 1,
            -hb + 0.8,
            -hl + 1 + max(2.5, length * 0.14),
            hb - 0.8,
            (236.0, 236.0, 232.0),
        )

    return _render_sprite(length, beam, 4.0 * shadow_ratio, draw)


def airplane_sprite(rng: np.random.Generator, length: float, shadow_ratio: float) -> Sprite:
    """An airliner from above: fuselage, swept wings with engines, tailplane, coloured fin."""
    span = length * rng.uniform(0.9, 1.05)
    hl, hs = length / 2, span / 2
    fus = length * 0.055
    white = shade((236.0, 236.0, 234.0), rng.uniform(0.95, 1.0))
    wing = (206.0, 208.0, 210.0)
    livery = VEHICLE_COLOURS[rng.integers(4, len(VEHICLE_COLOURS))]
    engines = 4 if length > 60 and rng.random() < 0.4 else 2
    sweep = length * 0.22

    def draw(canvas: np.ndarray, s: float) -> None:
        root = hl * 0.18
        for side in (-1, 1):
            _poly(
                canvas,
                s,
                [
                    (root, side * fus),
                    (root - sweep, side * hs),
                    (root - sweep - length * 0.07, side * hs),
                    (root - length * 0.2, side * fus),
                ],
                wing,
            )
            tail_root = -hl + length * 0.13
            _poly(
                canvas,
                s,
                [
                    (tail_root, side * fus * 0.8),
                    (tail_root - length * 0.09, side * hs * 0.36),
                    (tail_root - length * 0.13, side * hs * 0.36),
                    (-hl + length * 0.02, side * fus * 0.6),
                ],
                wing,
            )
            for k in range(engines // 2):
                ey = side * hs * (0.34 + 0.28 * k)
                ex = root - sweep * (0.34 + 0.28 * k) * 2 + length * 0.05
                _ellipse(canvas, s, ex, ey, length * 0.05, fus * 0.65, (120.0, 122.0, 126.0))
        _ellipse(canvas, s, 0.0, 0.0, hl, fus, white)
        _rect(canvas, s, -hl + length * 0.01, -0.45, -hl + length * 0.17, 0.45, livery)
        _ellipse(canvas, s, hl - length * 0.04, 0.0, length * 0.025, fus * 0.6, (60.0, 66.0, 78.0))

    return _render_sprite(length, span, 9.0 * shadow_ratio, draw)
