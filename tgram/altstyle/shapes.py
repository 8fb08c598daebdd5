"""Object outlines in metres and the painting of polygons by their pixel coverage.

An object is a list of parts (polygon in the object's own frame: x forward, y to its right as
seen on the image, metres; a colour; a height for its shadow). Posing scales by the ground
sample distance and rotates by the heading; painting blends each polygon by its pixel coverage (`paint`), so a
moving car's sub-pixel position shows in its edge pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from tgram.altstyle.look import RGB, car_colour, shade

_SHIFT = 4
"""Fractional bits of the polygon coordinates handed to cv2.fillPoly."""
_FINE, _COARSE = 8, 2
"""Coverage grid per pixel side for shapes up to 64 px across, and for larger ones."""


@dataclass(frozen=True)
class Part:
    outline: np.ndarray
    """[N, 2] metres, object frame."""
    colour: RGB
    height_m: float


@dataclass(frozen=True)
class Design:
    cls: str
    parts: tuple[Part, ...]
    length_m: float

    def posed(self, x: float, y: float, heading: float, gsd: float) -> list[np.ndarray]:
        """Each part's outline in image pixels at centre (x, y) and `heading` (radians)."""
        c, s = math.cos(heading), math.sin(heading)
        rot = np.array([[c, s], [-s, c]]) / gsd  # object x -> (c, s), object y -> (-s, c)
        return [p.outline @ rot + (x, y) for p in self.parts]

    def box(
        self, x: float, y: float, heading: float, gsd: float
    ) -> tuple[float, float, float, float]:
        pts = np.concatenate(self.posed(x, y, heading, gsd))
        return (
            float(pts[:, 0].min()),
            float(pts[:, 1].min()),
            float(pts[:, 0].max()),
            float(pts[:, 1].max()),
        )


def paint(canvas: np.ndarray, pts: np.ndarray, colour: RGB, alpha: float = 1.0) -> None:
    """Blend a polygon (image px, float) into a float32 [H, W, 3] canvas by its exact-ish
    pixel coverage: filled without anti-aliasing on a grid `_FINE` (small shapes) or
    `_COARSE` (large ones) times finer, then area-averaged. (OpenCV's LINE_AA fill would be
    simpler but spreads every edge by about a pixel: a 2.5 x 5.5 px car came out with 1.7x
    its area, boxes would no longer be what is drawn.)"""
    h, w = canvas.shape[:2]
    x0, y0 = max(math.floor(pts[:, 0].min()), 0), max(math.floor(pts[:, 1].min()), 0)
    x1, y1 = min(math.ceil(pts[:, 0].max()), w), min(math.ceil(pts[:, 1].max()), h)
    if x1 <= x0 or y1 <= y0:
        return
    k = _FINE if max(x1 - x0, y1 - y0) <= 64 else _COARSE
    fine = np.zeros(((y1 - y0) * k, (x1 - x0) * k), np.uint8)
    # fillPoly fills the pixels whose centres lie inside: shift by half a fine pixel
    fixed = np.round(((pts - (x0, y0)) * k - 0.5) * (1 << _SHIFT)).astype(np.int32)
    cv2.fillPoly(fine, [fixed], 255, lineType=cv2.LINE_8, shift=_SHIFT)  # edges inclusive: +1/k px
    cover = cv2.resize(fine, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
    a = cover.astype(np.float32)[..., None] * (alpha / 255.0)
    region = canvas[y0:y1, x0:x1]
    region += (np.asarray(colour, np.float32) - region) * a


def shadow(canvas: np.ndarray, pts: np.ndarray, offset: np.ndarray, alpha: float) -> None:
    """Darken what a prism over `pts` shades when its top casts onto the ground at `offset`
    (px): the convex hull of the outline and its shifted copy."""
    hull = cv2.convexHull(np.concatenate([pts, pts + offset]).astype(np.float32))[:, 0]
    paint(canvas, hull.astype(np.float64), (0.0, 0.0, 0.0), alpha)


def draw(
    canvas: np.ndarray,
    design: Design,
    x: float,
    y: float,
    heading: float,
    gsd: float,
    sun: tuple[float, float],
    shadow_per_m: float,
) -> None:
    """Shadows first (darkening what is below), then the parts in order."""
    posed = design.posed(x, y, heading, gsd)
    for part, pts in zip(design.parts, posed, strict=True):
        if part.height_m > 0:
            shadow(canvas, pts, np.asarray(sun) * part.height_m * shadow_per_m, 0.45)
    for part, pts in zip(design.parts, posed, strict=True):
        paint(canvas, pts, part.colour)


def _rect(x0: float, x1: float, half: float, cut: float = 0.0) -> np.ndarray:
    """A rectangle from x0 to x1 (forward), +-half wide, its corners cut by `cut`."""
    if cut <= 0:
        return np.array([[x0, -half], [x1, -half], [x1, half], [x0, half]], float)
    return np.array(
        [
            [x0 + cut, -half],
            [x1 - cut, -half],
            [x1, -half + cut],
            [x1, half - cut],
            [x1 - cut, half],
            [x0 + cut, half],
            [x0, half - cut],
            [x0, -half + cut],
        ],
        float,
    )


def vehicle(rng: np.random.Generator) -> Design:
    """A car (70 %), van (15 %), truck (10 %) or bus (5 %) with real-world proportions."""
    kind = rng.choice(4, p=[0.7, 0.15, 0.1, 0.05])
    roof = car_colour(rng)
    glass = (38.0, 42.0, 50.0)
    if kind <= 1:
        length = float(rng.uniform(4.1, 4.9) if kind == 0 else rng.uniform(5.0, 5.6))
        half = float(rng.uniform(0.85, 0.95) if kind == 0 else rng.uniform(0.95, 1.02))
        a, b = length / 2, half
        parts = [
            Part(_rect(-a, a, b, 0.3 * b), roof, 1.5 if kind == 0 else 2.0),
            Part(_rect(a * 0.25, a * 0.6, b * 0.8), glass, 0.0),
            Part(_rect(-a * 0.8, -a * 0.6, b * 0.75), shade(glass, 1.2), 0.0),
        ]
        return Design("vehicle", tuple(parts), length)
    half = 1.25
    if kind == 2:
        cab, trailer = 2.3, float(rng.uniform(5.5, 11.0))
        length = cab + 0.4 + trailer
        a = length / 2
        box = (float(rng.uniform(190, 235)),) * 3
        parts = [
            Part(_rect(a - cab, a, half * 0.95, 0.2), roof, 3.0),
            Part(_rect(-a, a - cab - 0.4, half), box, 3.8),
        ]
        return Design("vehicle", tuple(parts), length)
    length = float(rng.uniform(10.5, 12.5))
    a = length / 2
    parts = [
        Part(_rect(-a, a, half, 0.3), roof, 3.2),
        Part(_rect(-a * 0.3, a * 0.1, half * 0.5), shade(roof, 0.8), 0.0),
    ]
    return Design("vehicle", tuple(parts), length)


def ship(rng: np.random.Generator) -> Design:
    """A hull with a pointed bow and a superstructure toward the stern."""
    length = float(rng.uniform(12, 70))
    half = length * float(rng.uniform(0.08, 0.12))
    a = length / 2
    hull_rgb = [
        (225.0, 225.0, 220.0),
        (70.0, 72.0, 78.0),
        (120.0, 40.0, 36.0),
        (150.0, 150.0, 145.0),
    ][int(rng.integers(4))]
    hull = np.array([[-a, -half], [a * 0.55, -half], [a, 0.0], [a * 0.55, half], [-a, half]], float)
    cabin = _rect(-a * 0.85, -a * float(rng.uniform(0.2, 0.5)), half * 0.7)
    return Design(
        "ship", (Part(hull, hull_rgb, 2.5), Part(cabin, (232.0, 232.0, 228.0), 5.0)), length
    )


def airplane(rng: np.random.Generator) -> Design:
    """Fuselage, swept wings and a tailplane; span about the length, as on airliners."""
    length = float(rng.uniform(25, 62))
    a = length / 2
    body_half = length * 0.055
    span = length * float(rng.uniform(0.85, 1.1)) / 2
    sweep = length * float(rng.uniform(0.08, 0.18))
    root = a * 0.25
    chord = length * 0.16
    colour = (float(rng.uniform(205, 240)),) * 3
    body = np.array(
        [
            [-a, -body_half * 0.6],
            [a * 0.85, -body_half],
            [a, 0.0],
            [a * 0.85, body_half],
            [-a, body_half * 0.6],
        ],
        float,
    )
    wing = np.array(
        [
            [root, -body_half],
            [root - sweep - chord * 0.4, -span],
            [root - sweep - chord, -span],
            [root - chord * 1.5, -body_half],
            [root - chord * 1.5, body_half],
            [root - sweep - chord, span],
            [root - sweep - chord * 0.4, span],
            [root, body_half],
        ],
        float,
    )
    tail_span = span * 0.35
    tail = np.array(
        [
            [-a * 0.78, -body_half],
            [-a * 0.95, -tail_span],
            [-a, -tail_span],
            [-a, tail_span],
            [-a * 0.95, tail_span],
            [-a * 0.78, body_half],
        ],
        float,
    )
    return Design(
        "airplane",
        (Part(wing, shade(colour, 0.97), 3.0), Part(tail, colour, 5.0), Part(body, colour, 4.0)),
        length,
    )
