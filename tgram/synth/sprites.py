"""Object sprites for the synthetic archive: cars, ships and airliners seen from above.

Sprites are drawn supersampled and area-averaged (anti-aliased edges) facing east; `stamp`
places one at a sub-pixel position and heading. Parked and moving objects are drawn by the
same code, so the ground truth of both is the silhouette that was drawn.

A video's objects come from its fleet: `LegacyFleet` (the fixed style: the sprites below,
in legacy pixels) or `StyledFleet` (the randomised style: road vehicles, vessels and
aircraft of several kinds with realistic shares, sizes in metres at the video's GSD,
colours as in real traffic, graded like the rest of the video).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from tgram.synth.palette import CONTAINER_COLOURS, LEGACY_GRADING, RGB, Grading, shade

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
    length: float,
    width: float,
    shadow_px: float,
    draw: Callable[[np.ndarray, float], None],
    grading: Grading = LEGACY_GRADING,
) -> Sprite:
    """Run `draw(canvas, scale)` on a supersampled RGBA canvas and area-average it down."""
    w = int(math.ceil(length)) + 2
    h = int(math.ceil(width)) + 2
    canvas = np.zeros((h * SUPERSAMPLE, w * SUPERSAMPLE, 4), np.float32)
    draw(canvas, SUPERSAMPLE)
    small = cv2.resize(canvas, (w, h), interpolation=cv2.INTER_AREA)
    small[..., :3] = grading.apply(small[..., :3], small[..., 3:])
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


# --- object fleets: what a video's objects look like -------------------------------------------


class LegacyFleet:
    """The fixed style's objects: the sprites above, sized in legacy pixels."""

    min_moored = 10.0
    """Shortest berth (px) a ship is moored at."""

    def __init__(self, shadow_ratio: float) -> None:
        self.shadow_ratio = shadow_ratio

    def vehicle(self, rng: np.random.Generator) -> Sprite:
        return vehicle_sprite(rng, self.shadow_ratio)

    def parked_vehicle(self, rng: np.random.Generator, max_length: float) -> Sprite | None:
        return vehicle_sprite(rng, self.shadow_ratio)

    def moored_ship(self, rng: np.random.Generator, max_length: float) -> Sprite:
        length = rng.uniform(max(10.0, 0.6 * max_length), max_length)
        return ship_sprite(rng, length, self.shadow_ratio)

    def ship(self, rng: np.random.Generator, lengths: tuple[float, float]) -> Sprite:
        return ship_sprite(rng, rng.uniform(*lengths), self.shadow_ratio)

    def airplane(self, rng: np.random.Generator, lengths: tuple[float, float]) -> Sprite:
        return airplane_sprite(rng, rng.uniform(*lengths), self.shadow_ratio)


@dataclass(frozen=True)
class Kind:
    """A type of object in the randomised style: its share and size in metres."""

    name: str
    share: float
    length_m: tuple[float, float]
    width: tuple[float, float]
    """Vehicles: width in metres; ships: beam / length; airplanes: span / length."""
    height_m: float = 0.0
    """Vehicles: height (their shadow's length is this times the sun's shadow ratio)."""


VEHICLE_KINDS: tuple[Kind, ...] = (
    Kind("car", 0.80, (3.8, 5.0), (1.7, 1.9), 1.5),
    Kind("van", 0.12, (4.8, 6.2), (1.9, 2.1), 2.3),
    Kind("truck", 0.05, (7.0, 16.5), (2.4, 2.55), 3.6),
    Kind("bus", 0.03, (10.5, 13.5), (2.5, 2.55), 3.2),
)
"""Road vehicles of the randomised style: cars (SUVs and pickups included), vans and light
lorries, trucks (rigid and articulated), buses; shares as in urban traffic counts."""
VEHICLE_VARIANTS = {"car": 32, "van": 8, "truck": 6, "bus": 4}
"""Distinct looks per vehicle type and video: vehicles share them, so each look is
rendered once per heading and sub-pixel phase however many vehicles wear it."""

CAR_COLOURS: tuple[tuple[RGB, float], ...] = (
    ((228.0, 228.0, 224.0), 0.28),  # white
    ((32.0, 33.0, 36.0), 0.19),  # black
    ((98.0, 100.0, 104.0), 0.16),  # grey
    ((172.0, 174.0, 178.0), 0.12),  # silver
    ((42.0, 66.0, 132.0), 0.08),  # blue
    ((164.0, 32.0, 30.0), 0.07),  # red
    ((150.0, 124.0, 94.0), 0.04),  # beige, brown
    ((48.0, 86.0, 60.0), 0.02),  # green
    ((212.0, 170.0, 44.0), 0.02),  # yellow, orange, gold
    ((100.0, 32.0, 40.0), 0.02),  # dark red
)
"""Car colours and their shares in traffic: white, black, grey and silver ~75 %."""
CAB_COLOURS: tuple[tuple[RGB, float], ...] = (
    ((230.0, 230.0, 226.0), 0.4),
    ((170.0, 36.0, 32.0), 0.15),
    ((40.0, 70.0, 140.0), 0.15),
    ((160.0, 162.0, 166.0), 0.12),
    ((34.0, 35.0, 38.0), 0.08),
    ((214.0, 150.0, 40.0), 0.05),
    ((50.0, 100.0, 60.0), 0.05),
)
CARGO_COLOURS: tuple[tuple[RGB, float], ...] = (
    ((232.0, 232.0, 228.0), 0.4),
    ((176.0, 178.0, 180.0), 0.2),
    ((110.0, 112.0, 116.0), 0.1),
    ((170.0, 52.0, 40.0), 0.08),
    ((40.0, 78.0, 140.0), 0.08),
    ((60.0, 120.0, 70.0), 0.06),
    ((200.0, 120.0, 40.0), 0.08),
)
"""Truck bodies, trailers and containers."""
BUS_COLOURS: tuple[tuple[RGB, float], ...] = (
    ((232.0, 232.0, 228.0), 0.3),
    ((222.0, 176.0, 40.0), 0.15),
    ((180.0, 40.0, 36.0), 0.15),
    ((44.0, 80.0, 150.0), 0.15),
    ((60.0, 130.0, 76.0), 0.1),
    ((220.0, 120.0, 40.0), 0.05),
    ((170.0, 172.0, 176.0), 0.1),
)
GLASS = (28.0, 32.0, 38.0)

SHIP_KINDS: tuple[Kind, ...] = (
    Kind("motorboat", 0.30, (6.0, 16.0), (0.30, 0.36)),
    Kind("sailboat", 0.15, (7.0, 16.0), (0.28, 0.34)),
    Kind("fishing", 0.15, (12.0, 35.0), (0.25, 0.32)),
    Kind("tug", 0.07, (20.0, 35.0), (0.33, 0.40)),
    Kind("ferry", 0.10, (40.0, 130.0), (0.16, 0.22)),
    Kind("cargo", 0.10, (80.0, 200.0), (0.14, 0.17)),
    Kind("bulk", 0.07, (80.0, 200.0), (0.14, 0.17)),
    Kind("tanker", 0.06, (80.0, 200.0), (0.15, 0.18)),
)
"""Vessels of the randomised style: kinds that fit the berth or the water are drawn by share."""
MIN_SHIP_M = SHIP_KINDS[0].length_m[0]
MAX_SHIP_M = max(kind.length_m[1] for kind in SHIP_KINDS)
SHIP_HULLS: dict[str, tuple[RGB, ...]] = {
    "motorboat": (
        (236.0, 236.0, 232.0),
        (236.0, 236.0, 232.0),
        (200.0, 204.0, 210.0),
        (40.0, 52.0, 90.0),
    ),
    "sailboat": ((238.0, 238.0, 234.0), (222.0, 224.0, 226.0), (40.0, 52.0, 90.0)),
    "fishing": (
        (160.0, 40.0, 36.0),
        (44.0, 74.0, 130.0),
        (50.0, 100.0, 70.0),
        (220.0, 220.0, 214.0),
        (40.0, 40.0, 44.0),
    ),
    "tug": ((40.0, 40.0, 44.0), (160.0, 40.0, 36.0), (44.0, 74.0, 130.0)),
    "ferry": ((236.0, 236.0, 232.0), (44.0, 74.0, 130.0), (170.0, 40.0, 36.0)),
    "cargo": ((48.0, 50.0, 56.0), (130.0, 40.0, 34.0), (40.0, 60.0, 110.0), (52.0, 90.0, 70.0)),
    "bulk": ((48.0, 50.0, 56.0), (130.0, 40.0, 34.0), (40.0, 60.0, 110.0)),
    "tanker": ((48.0, 50.0, 56.0), (130.0, 40.0, 34.0), (40.0, 60.0, 110.0)),
}
SHIP_DECKS: dict[str, tuple[RGB, ...]] = {
    "motorboat": ((238.0, 238.0, 234.0), (168.0, 128.0, 86.0)),
    "sailboat": ((236.0, 236.0, 232.0), (168.0, 128.0, 86.0)),
    "fishing": ((120.0, 122.0, 124.0), (200.0, 120.0, 50.0), (150.0, 150.0, 140.0)),
    "tug": ((150.0, 50.0, 40.0), (200.0, 120.0, 50.0), (90.0, 92.0, 96.0)),
    "ferry": ((226.0, 226.0, 222.0), (180.0, 182.0, 184.0)),
    "cargo": ((140.0, 60.0, 48.0), (90.0, 96.0, 92.0)),
    "bulk": ((140.0, 60.0, 48.0), (96.0, 102.0, 100.0), (60.0, 100.0, 80.0)),
    "tanker": ((150.0, 56.0, 44.0), (70.0, 110.0, 80.0), (120.0, 122.0, 124.0)),
}
WHITE = (238.0, 238.0, 234.0)

PLANE_KINDS: tuple[Kind, ...] = (
    Kind("bizjet", 0.05, (14.0, 25.0), (0.85, 1.0)),
    Kind("turboprop", 0.10, (20.0, 28.0), (1.0, 1.15)),
    Kind("regional", 0.20, (26.0, 36.0), (0.85, 1.0)),
    Kind("narrowbody", 0.50, (33.0, 45.0), (0.88, 1.05)),
    Kind("widebody", 0.15, (55.0, 74.0), (0.9, 1.05)),
)
"""Aircraft of the randomised style: kinds that fit the apron's stands are drawn by share."""
MAX_PLANE_M = max(kind.length_m[1] for kind in PLANE_KINDS)
LIVERIES: tuple[tuple[RGB, float], ...] = (
    ((238.0, 238.0, 236.0), 0.6),
    ((206.0, 208.0, 212.0), 0.12),
    ((40.0, 70.0, 150.0), 0.07),
    ((30.0, 40.0, 80.0), 0.05),
    ((170.0, 40.0, 40.0), 0.05),
    ((40.0, 110.0, 70.0), 0.04),
    ((214.0, 172.0, 44.0), 0.03),
    ((120.0, 60.0, 130.0), 0.04),
)
"""Fuselage colours: mostly white."""


def _pick(rng: np.random.Generator, weighted: tuple[tuple[RGB, float], ...]) -> RGB:
    cdf = np.cumsum([w for _, w in weighted])
    return weighted[int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"))][0]


def _choose_kind(
    rng: np.random.Generator, kinds: tuple[Kind, ...], lo_m: float, hi_m: float
) -> tuple[Kind, float]:
    """A kind that has sizes in [lo_m, hi_m], by share, and a length of it there (metres);
    if none fits, the smallest kind shrunk to hi_m."""
    fits = [k for k in kinds if k.length_m[0] <= hi_m and k.length_m[1] >= lo_m]
    if not fits:
        return kinds[0], hi_m
    shares = np.cumsum([k.share for k in fits])
    kind = fits[int(np.searchsorted(shares, rng.random() * shares[-1], side="right"))]
    return kind, rng.uniform(max(kind.length_m[0], lo_m), min(kind.length_m[1], hi_m))


def styled_vehicle_sprite(
    rng: np.random.Generator, kind: Kind, ppm: float, shadow_ratio: float, grading: Grading
) -> Sprite:
    """A road vehicle of `kind` from above, `ppm` px per metre."""
    length = rng.uniform(*kind.length_m) * ppm
    width = rng.uniform(*kind.width) * ppm
    hl, hw = length / 2, width / 2
    m = ppm  # one metre, px
    if kind.name == "car":
        body = shade(_pick(rng, CAR_COLOURS), rng.uniform(0.9, 1.1))
        shape = rng.choice(3, p=[0.55, 0.38, 0.07])  # sedan, hatchback/SUV, pickup
    elif kind.name == "van":
        body = shade(_pick(rng, CAB_COLOURS), rng.uniform(0.9, 1.1))
        shape = 0
    elif kind.name == "truck":
        body = shade(_pick(rng, CAB_COLOURS), rng.uniform(0.9, 1.1))
        cargo = shade(_pick(rng, CARGO_COLOURS), rng.uniform(0.9, 1.1))
        shape = rng.choice(2, p=[0.85, 0.15])  # box, tank
    else:
        body = shade(_pick(rng, BUS_COLOURS), rng.uniform(0.9, 1.1))
        shape = 0

    def draw(canvas: np.ndarray, s: float) -> None:
        cut = min(0.45 * m, hw * 0.5)
        outline = [
            (-hl, -hw + cut),
            (-hl + cut, -hw),
            (hl - cut, -hw),
            (hl, -hw + cut),
            (hl, hw - cut),
            (hl - cut, hw),
            (-hl + cut, hw),
            (-hl, hw - cut),
        ]
        if kind.name == "car":
            _poly(canvas, s, outline, body)
            if shape == 0:
                _rect(canvas, s, hl * 0.12, -hw * 0.8, hl * 0.5, hw * 0.8, GLASS)
                _rect(canvas, s, -hl * 0.64, -hw * 0.75, -hl * 0.42, hw * 0.75, GLASS)
                _rect(canvas, s, -hl * 0.42, -hw * 0.72, hl * 0.12, hw * 0.72, shade(body, 1.08))
            elif shape == 1:
                _rect(canvas, s, hl * 0.2, -hw * 0.82, hl * 0.52, hw * 0.82, GLASS)
                _rect(canvas, s, -hl * 0.9, -hw * 0.75, -hl * 0.78, hw * 0.75, GLASS)
                _rect(canvas, s, -hl * 0.78, -hw * 0.74, hl * 0.2, hw * 0.74, shade(body, 1.08))
            else:
                _rect(canvas, s, hl * 0.25, -hw * 0.8, hl * 0.55, hw * 0.8, GLASS)
                _rect(canvas, s, -hl * 0.12, -hw * 0.75, hl * 0.25, hw * 0.75, shade(body, 1.08))
                _rect(canvas, s, -hl * 0.92, -hw * 0.8, -hl * 0.18, hw * 0.8, shade(body, 0.55))
        elif kind.name == "van":
            _poly(canvas, s, outline, body)
            _rect(canvas, s, hl * 0.7, -hw * 0.82, hl * 0.9, hw * 0.82, GLASS)
            _rect(canvas, s, -hl * 0.94, -hw * 0.8, hl * 0.7, hw * 0.8, shade(body, 1.06))
        elif kind.name == "truck":
            cab = min(2.4 * m, 0.35 * length)
            gap = 0.35 * m
            _rect(canvas, s, hl - cab, -hw * 0.96, hl, hw * 0.96, body)
            _rect(canvas, s, hl - 0.35 * cab, -hw * 0.85, hl - 0.12 * cab, hw * 0.85, GLASS)
            _rect(canvas, s, hl - cab - gap, -hw * 0.5, hl - cab, hw * 0.5, (50.0, 50.0, 52.0))
            if shape == 0:
                _rect(canvas, s, -hl, -hw, hl - cab - gap, hw, cargo)
                for x in np.arange(-hl + 2.5 * m, hl - cab - gap - 1.0 * m, 2.5 * m):
                    _rect(canvas, s, x, -hw, x + 0.25 * m, hw, shade(cargo, 0.85))
            else:
                tank = shade((190.0, 192.0, 196.0), rng.uniform(0.9, 1.05))
                _ellipse(
                    canvas,
                    s,
                    (-hl + hl - cab - gap) / 2,
                    0.0,
                    (length - cab - gap) / 2,
                    hw * 0.95,
                    tank,
                )
                _rect(
                    canvas,
                    s,
                    -hl + 0.5 * m,
                    -0.15 * m,
                    hl - cab - gap - 0.5 * m,
                    0.15 * m,
                    shade(tank, 1.1),
                )
        else:
            _poly(canvas, s, outline, body)
            _rect(canvas, s, hl - 0.6 * m, -hw * 0.85, hl - 0.1 * m, hw * 0.85, GLASS)
            for x in (-0.25 * length, 0.1 * length):
                _rect(canvas, s, x, -hw * 0.5, x + 2.2 * m, hw * 0.5, (200.0, 202.0, 204.0))

    return _render_sprite(length, width, kind.height_m * ppm * shadow_ratio, draw, grading)


def styled_ship_sprite(
    rng: np.random.Generator,
    kind: Kind,
    length_m: float,
    ppm: float,
    shadow_ratio: float,
    grading: Grading,
    max_beam: float = 1.0,
) -> Sprite:
    """A vessel of `kind`, `length_m` long, from above; beam at most `max_beam` x length."""
    length = length_m * ppm
    beam = length * min(max_beam, rng.uniform(*kind.width))
    hl, hb = length / 2, beam / 2
    m = ppm
    hull = shade(
        SHIP_HULLS[kind.name][rng.integers(len(SHIP_HULLS[kind.name]))], rng.uniform(0.9, 1.08)
    )
    deck = shade(
        SHIP_DECKS[kind.name][rng.integers(len(SHIP_DECKS[kind.name]))], rng.uniform(0.9, 1.08)
    )
    small = kind.name in ("motorboat", "sailboat", "fishing", "tug")
    bow = rng.uniform(0.25, 0.4) if small else rng.uniform(0.12, 0.2)
    inset = max(0.35 * m, 0.07 * beam)
    stern_cut = hb * (rng.uniform(0.2, 0.5) if small else 0.1)
    containers = [CONTAINER_COLOURS[rng.integers(len(CONTAINER_COLOURS))] for _ in range(64)]

    def draw(canvas: np.ndarray, s: float) -> None:
        taper = hl * (1 - 2 * bow)
        _poly(
            canvas,
            s,
            [
                (-hl, -hb + stern_cut),
                (-hl + stern_cut, -hb),
                (taper, -hb),
                (hl, 0.0),
                (taper, hb),
                (-hl + stern_cut, hb),
                (-hl, hb - stern_cut),
            ],
            hull,
        )
        di, db = inset, hb - inset
        if db > 0:
            _poly(
                canvas,
                s,
                [
                    (-hl + di, -db),
                    (taper, -db),
                    (hl - 2.5 * di, 0.0),
                    (taper, db),
                    (-hl + di, db),
                ],
                deck,
            )
        if kind.name == "motorboat":
            _rect(canvas, s, -0.15 * hl, -0.7 * hb, 0.35 * hl, 0.7 * hb, WHITE)
            _rect(canvas, s, 0.25 * hl, -0.62 * hb, 0.38 * hl, 0.62 * hb, GLASS)
        elif kind.name == "sailboat":
            _rect(canvas, s, -0.4 * hl, -0.55 * hb, 0.3 * hl, 0.55 * hb, shade(WHITE, 0.93))
            _rect(canvas, s, -0.85 * hl, -0.45 * hb, -0.45 * hl, 0.45 * hb, (90.0, 80.0, 70.0))
        elif kind.name == "fishing":
            _rect(canvas, s, 0.05 * hl, -0.65 * hb, 0.4 * hl, 0.65 * hb, WHITE)
            _rect(canvas, s, -0.8 * hl, -0.5 * hb, -0.3 * hl, 0.5 * hb, shade(deck, 0.7))
        elif kind.name == "tug":
            _rect(canvas, s, -0.25 * hl, -0.6 * hb, 0.3 * hl, 0.6 * hb, WHITE)
            _rect(canvas, s, 0.15 * hl, -0.5 * hb, 0.3 * hl, 0.5 * hb, GLASS)
        elif kind.name == "ferry":
            _rect(canvas, s, -0.85 * hl, -0.8 * hb, 0.55 * hl, 0.8 * hb, WHITE)
            _rect(canvas, s, -0.3 * hl, -0.2 * hb, -0.1 * hl, 0.2 * hb, shade(hull, 0.8))
        elif kind.name == "cargo":
            bay = 6.4 * m
            x, i = -hl + 0.18 * length, 0
            while x + bay < taper + 0.3 * bow * length:
                _rect(
                    canvas, s, x, -db + 0.2 * m, x + bay - 0.5 * m, db - 0.2 * m, containers[i % 64]
                )
                for row in np.arange(-db + 2.6 * m, db - 1.0 * m, 2.5 * m):
                    _rect(
                        canvas,
                        s,
                        x,
                        row,
                        x + bay - 0.5 * m,
                        row + 0.3 * m,
                        shade(containers[i % 64], 0.8),
                    )
                x, i = x + bay, i + 1
        elif kind.name == "bulk":
            hatch = rng.uniform(0.06, 0.09) * length
            for x in np.arange(-hl + 0.2 * length, taper - hatch, hatch * 1.35):
                _rect(canvas, s, x, -db * 0.7, x + hatch, db * 0.7, shade(deck, 1.25))
        elif kind.name == "tanker":
            _rect(canvas, s, -hl + 0.16 * length, -0.5 * m, taper, 0.5 * m, (196.0, 190.0, 176.0))
            _rect(canvas, s, -0.05 * hl, -db, 0.03 * hl, db, (180.0, 176.0, 166.0))
        if not small and kind.name != "ferry":
            _rect(
                canvas, s, -hl + di, -hb + 0.8 * di, -hl + di + 0.12 * length, hb - 0.8 * di, WHITE
            )
            _rect(
                canvas,
                s,
                -hl + di + 0.09 * length,
                -hb * 0.6,
                -hl + di + 0.12 * length,
                hb * 0.6,
                GLASS,
            )

    height = 1.0 + 0.05 * length_m
    return _render_sprite(length, beam, height * ppm * shadow_ratio, draw, grading)


def styled_airplane_sprite(
    rng: np.random.Generator,
    kind: Kind,
    length_m: float,
    ppm: float,
    shadow_ratio: float,
    grading: Grading,
) -> Sprite:
    """An aircraft of `kind`, `length_m` long, from above: fuselage, wings, engines, tail."""
    length = length_m * ppm
    span = length * rng.uniform(*kind.width)
    hl, hs = length / 2, span / 2
    prop = kind.name == "turboprop"
    rear_engines = kind.name == "bizjet" or (kind.name == "regional" and rng.random() < 0.3)
    fus = length * (0.065 if kind.name in ("bizjet", "turboprop") else 0.055)
    fuselage = shade(_pick(rng, LIVERIES), rng.uniform(0.95, 1.02))
    tail = shade(_pick(rng, CAR_COLOURS[4:] + LIVERIES[2:]), rng.uniform(0.9, 1.1))
    wing = shade((206.0, 208.0, 210.0), rng.uniform(0.92, 1.04))
    nacelle = (120.0, 122.0, 126.0) if rng.random() < 0.7 else tail
    engines = 4 if kind.name == "widebody" and rng.random() < 0.3 else 2
    sweep = length * (0.02 if prop else rng.uniform(0.15, 0.24))
    chord = length * (0.1 if prop else 0.07)
    root = hl * (0.05 if prop else 0.18)

    def draw(canvas: np.ndarray, s: float) -> None:
        for side in (-1, 1):
            _poly(
                canvas,
                s,
                [
                    (root, side * fus),
                    (root - sweep, side * hs),
                    (root - sweep - chord * 0.6, side * hs),
                    (root - chord * 1.8 if not prop else root - chord, side * fus),
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
            if rear_engines:
                _ellipse(
                    canvas,
                    s,
                    -hl + length * 0.27,
                    side * fus * 1.7,
                    length * 0.06,
                    fus * 0.6,
                    nacelle,
                )
            elif prop:
                ey = side * hs * 0.3
                _ellipse(canvas, s, root + length * 0.02, ey, length * 0.07, fus * 0.45, nacelle)
            else:
                for k in range(engines // 2):
                    ey = side * hs * (0.34 + 0.28 * k)
                    ex = root - sweep * (0.34 + 0.28 * k) * 2 + length * 0.05
                    _ellipse(canvas, s, ex, ey, length * 0.05, fus * 0.65, nacelle)
        _ellipse(canvas, s, 0.0, 0.0, hl, fus, fuselage)
        _rect(canvas, s, -hl + length * 0.01, -0.25 * fus, -hl + length * 0.17, 0.25 * fus, tail)
        _ellipse(canvas, s, hl - length * 0.04, 0.0, length * 0.025, fus * 0.6, (60.0, 66.0, 78.0))

    height = 1.0 + 0.1 * length_m
    return _render_sprite(length, span, height * ppm * shadow_ratio, draw, grading)


class StyledFleet:
    """The randomised style's objects of one video, sized in metres at `gsd_m` m/px.

    Road vehicles come from a catalogue drawn once per video (`VEHICLE_VARIANTS` looks per
    type) and shared: tens of vehicles wear each look. Ships and airplanes are each their
    own.
    """

    def __init__(
        self, rng: np.random.Generator, gsd_m: float, shadow_ratio: float, grading: Grading
    ) -> None:
        self.ppm = 1 / gsd_m
        self.shadow_ratio, self.grading = shadow_ratio, grading
        self.min_moored = MIN_SHIP_M * self.ppm
        self.looks = {
            kind.name: [
                styled_vehicle_sprite(rng, kind, self.ppm, shadow_ratio, grading)
                for _ in range(VEHICLE_VARIANTS[kind.name])
            ]
            for kind in VEHICLE_KINDS
        }
        self._shares = np.cumsum([kind.share for kind in VEHICLE_KINDS])
        self._by_length = {
            name: sorted(self.looks[name], key=lambda sprite: sprite.length)
            for name in ("car", "van")
        }
        self._lengths = {
            name: np.array([sprite.length for sprite in looks])
            for name, looks in self._by_length.items()
        }

    def vehicle(self, rng: np.random.Generator) -> Sprite:
        draw = rng.random(2)
        kind = VEHICLE_KINDS[
            int(np.searchsorted(self._shares, draw[0] * self._shares[-1], side="right"))
        ]
        looks = self.looks[kind.name]
        return looks[int(draw[1] * len(looks))]

    def parked_vehicle(self, rng: np.random.Generator, max_length: float) -> Sprite | None:
        """A car (or, less often, a van) that fits a slot `max_length` px deep."""
        name = "car" if rng.random() < 0.87 else "van"
        fitting = int(np.searchsorted(self._lengths[name], max_length, side="right"))
        return self._by_length[name][int(rng.integers(fitting))] if fitting else None

    def moored_ship(self, rng: np.random.Generator, max_length: float) -> Sprite:
        lo = max(MIN_SHIP_M, 0.5 * max_length / self.ppm)
        kind, length_m = _choose_kind(rng, SHIP_KINDS, lo, max_length / self.ppm)
        return styled_ship_sprite(
            rng, kind, length_m, self.ppm, self.shadow_ratio, self.grading, max_beam=0.22
        )

    def ship(self, rng: np.random.Generator, lengths: tuple[float, float]) -> Sprite:
        kind, length_m = _choose_kind(rng, SHIP_KINDS, lengths[0] / self.ppm, lengths[1] / self.ppm)
        return styled_ship_sprite(rng, kind, length_m, self.ppm, self.shadow_ratio, self.grading)

    def airplane(self, rng: np.random.Generator, lengths: tuple[float, float]) -> Sprite:
        kind, length_m = _choose_kind(
            rng, PLANE_KINDS, 0.5 * lengths[1] / self.ppm, lengths[1] / self.ppm
        )
        return styled_airplane_sprite(
            rng, kind, length_m, self.ppm, self.shadow_ratio, self.grading
        )
