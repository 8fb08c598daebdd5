"""Static scene painting for the synthetic archive: the world a satellite video looks at.

One scene per video, painted once: an urban road grid with blocks of buildings, parking
lots and parks, and, in bands along two sides of the frame, a port (water with a
shoreline, quays, piers, a container yard) and an airport apron (terminal, stands,
taxilanes). One sun lights it all, so every cast shadow points the same way. Sizes are
pixels at ~1 m ground sampling, as in Jilin-1 video.

The scene also exports the geometry that objects move on (lanes and their crossings,
parking slots, moorings, stands, ship and taxi routes) and the object sprites with `stamp`,
which places one at a sub-pixel position and heading: parked and moving objects are drawn
by the same code, so the ground truth of both is the silhouette that was drawn.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import cv2
import numpy as np

Side = Literal["left", "right", "top", "bottom"]
RGB = tuple[float, float, float]

MARGIN = 4
"""World pixels painted beyond each frame edge, so a jittered frame never sees past the world."""
LANE_WIDTH = 7.0
SIDEWALK_WIDTH = 4.0
ROAD_SPACING = (110.0, 200.0)
"""Distance between parallel roads of the urban grid (a city block plus its roads)."""
CROSSWALK_DEPTH = 5.0
SUPERSAMPLE = 4
"""Sprites are drawn this many times finer, then area-averaged: anti-aliased edges."""
SILHOUETTE_ALPHA = 0.5
"""Coverage at which a sprite pixel counts as part of the object (gt box, visibility)."""
SHADOW_DARKNESS = 0.45
"""Fraction of light a cast shadow removes."""
MAX_PLANE_LENGTH = 70.0
MAX_SHIP_LENGTH = 60.0

LAND = (128.0, 124.0, 112.0)
ASPHALT = (74.0, 76.0, 79.0)
PAVEMENT = (150.0, 148.0, 140.0)
LOT_ASPHALT = (96.0, 98.0, 99.0)
CONCRETE = (170.0, 170.0, 163.0)
GRASS = (84.0, 102.0, 60.0)
TREE = (46.0, 70.0, 40.0)
SAND = (188.0, 174.0, 142.0)
MARKING = (215.0, 215.0, 205.0)
TAXI_YELLOW = (205.0, 172.0, 64.0)
WATER_COLOURS: tuple[RGB, ...] = ((34.0, 62.0, 76.0), (40.0, 70.0, 70.0), (30.0, 52.0, 70.0))
ROOF_COLOURS: tuple[RGB, ...] = (
    (196.0, 194.0, 188.0),
    (150.0, 150.0, 148.0),
    (112.0, 112.0, 116.0),
    (222.0, 220.0, 213.0),
    (160.0, 94.0, 72.0),
    (98.0, 122.0, 142.0),
    (132.0, 142.0, 122.0),
)
CONTAINER_COLOURS: tuple[RGB, ...] = (
    (170.0, 52.0, 40.0),
    (40.0, 78.0, 140.0),
    (60.0, 120.0, 70.0),
    (210.0, 210.0, 205.0),
    (200.0, 120.0, 40.0),
    (120.0, 120.0, 118.0),
    (110.0, 70.0, 50.0),
)


# --- sprites -----------------------------------------------------------------------------


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
    pts = np.array([(w / 2 + px * scale, h / 2 + py * scale) for px, py in points], np.float64)
    cv2.fillPoly(
        canvas, [np.round(pts * 16).astype(np.int32)], (*rgb, 1.0), lineType=cv2.LINE_8, shift=4
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


def _shade(rgb: RGB, factor: float) -> RGB:
    return tuple(float(min(255.0, c * factor)) for c in rgb)  # type: ignore[return-value]


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


def vehicle_sprite(rng: np.random.Generator, shadow_ratio: float) -> Sprite:
    """A car seen from above: body 8-12 x 4-6 px, dark windscreen and rear window, roof panel."""
    length = rng.uniform(8.0, 12.0)
    width = float(np.clip(length * rng.uniform(0.42, 0.52), 4.0, 6.0))
    body = VEHICLE_COLOURS[rng.choice(len(VEHICLE_COLOURS), p=VEHICLE_COLOUR_WEIGHTS)]
    body = _shade(body, rng.uniform(0.9, 1.1))
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
        _rect(canvas, s, -hl * 0.45, -hw * 0.7, hl * 0.15, hw * 0.7, _shade(body, 1.08))

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
    white = _shade((236.0, 236.0, 234.0), rng.uniform(0.95, 1.0))
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


HAZE = (150.0, 156.0, 162.0)
HAZE_AMOUNT = 0.12
"""Share of the signal replaced by atmospheric haze: lowers contrast as in real imagery."""
DESATURATION = 0.3
"""How far colours are pulled towards grey: satellite video colour is muted."""


def grade(rgb: np.ndarray, coverage: np.ndarray) -> np.ndarray:
    """The atmosphere and sensor colour response, for premultiplied colour with `coverage`."""
    grey = rgb.mean(axis=-1, keepdims=True)
    muted = rgb + DESATURATION * (grey - rgb)
    return muted * (1 - HAZE_AMOUNT) + np.asarray(HAZE, np.float32) * HAZE_AMOUNT * coverage


# --- geometry --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Band:
    """A strip along one world side; u runs along the side, v inwards from the world edge."""

    side: Side
    depth: float
    u_range: tuple[float, float]
    world: tuple[int, int]
    """(width, height) of the world."""

    def point(self, u: np.ndarray | float, v: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        w, h = self.world
        u, v = np.asarray(u, np.float64), np.asarray(v, np.float64)
        return {"left": (v, u), "right": (w - v, u), "top": (u, v), "bottom": (u, h - v)}[self.side]

    def rect(self, u0: float, v0: float, u1: float, v1: float) -> tuple[float, float, float, float]:
        xs, ys = self.point(np.array([u0, u1]), np.array([v0, v1]))
        return float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())

    def heading(self, du: float, dv: float) -> float:
        dx, dy = {"left": (dv, du), "right": (-dv, du), "top": (du, dv), "bottom": (du, -dv)}[
            self.side
        ]
        return math.atan2(dy, dx)

    @property
    def length(self) -> float:
        w, h = self.world
        return float(h if self.side in ("left", "right") else w)


@dataclass(frozen=True)
class Road:
    """An axis-aligned two-way road: `axis` 0 runs along x at y=`centre`, 1 along y at x=`centre`."""

    axis: int
    centre: float
    start: float
    end: float
    lanes: int
    """Lanes per direction."""

    @property
    def half_width(self) -> float:
        return self.lanes * LANE_WIDTH


@dataclass(frozen=True)
class Lane:
    """One direction of travel on one lane of a road; position s runs from `origin` along `direction`."""

    road: int
    origin: tuple[float, float]
    direction: tuple[float, float]
    length: float
    rank: int
    """0 for the lane next to the centre line (left turns start here), counting outwards."""
    curb: bool
    """The rightmost lane: right turns and kerbside stops happen from here."""
    enters: bool
    """s=0 lies outside the world: vehicles appear here."""
    exits: bool
    """The lane's end lies outside the world: vehicles leave here."""

    def point(self, s: float) -> tuple[float, float]:
        return self.origin[0] + self.direction[0] * s, self.origin[1] + self.direction[1] * s

    @cached_property
    def heading(self) -> float:
        return math.atan2(self.direction[1], self.direction[0])


@dataclass(frozen=True)
class Turn:
    lane: int
    s_from: float
    """Position on the current lane where its centre line meets the target lane's."""
    s_to: float


@dataclass(frozen=True)
class Crossing:
    """An intersection ahead on a lane: where to stop for a red light and where to turn."""

    road: int
    light: int
    s_stop: float
    s_exit: float
    """Past this the vehicle has left the intersection box."""
    straight: bool
    right: Turn | None
    left: Turn | None


@dataclass(frozen=True)
class Pose:
    """Where a parked object stands: its nose is anchored, so shorter objects sit further back."""

    x: float
    y: float
    heading: float
    max_length: float
    """Length of the longest object that fits; (x, y) is that object's centre."""

    def centre_for(self, length: float) -> tuple[float, float]:
        back = (self.max_length - length) / 2
        return self.x - math.cos(self.heading) * back, self.y - math.sin(self.heading) * back


@dataclass(frozen=True)
class Stand:
    """An apron stand: the parked pose and the routes that lead in and out of it."""

    pose: Pose
    arrival: np.ndarray
    """Taxi route from outside the world to the stand (nose in)."""
    pushback: np.ndarray
    """Route driven backwards from the stand to the taxilane."""
    departure: np.ndarray
    """Taxi route from the end of the pushback out of the world."""


@dataclass
class Scene:
    """The painted world (frame plus MARGIN on every side) and where objects may be."""

    background: np.ndarray
    """uint8 RGB [H + 2*MARGIN, W + 2*MARGIN, 3]."""
    occluder: np.ndarray
    """uint8 [H', W']: 255 where a tree canopy hides whatever is on the ground below it."""
    shade: np.ndarray
    """float32 [H', W']: 1 in sunlight, less in cast shadow (objects below are darkened)."""
    shadow_dir: tuple[float, float]
    """Unit vector along which shadows fall."""
    shadow_ratio: float
    """Shadow length per pixel of object height (low sun: longer)."""
    water_rgb: RGB = (0.0, 0.0, 0.0)
    roads: list[Road] = field(default_factory=list)
    lanes: list[Lane] = field(default_factory=list)
    crossings: list[list[Crossing]] = field(default_factory=list)
    """Per lane, its crossings in driving order."""
    lights: int = 0
    """Number of signalled intersections (ids used by Crossing.light)."""
    parking: list[Pose] = field(default_factory=list)
    moorings: list[Pose] = field(default_factory=list)
    ship_routes: list[np.ndarray] = field(default_factory=list)
    stands: list[Stand] = field(default_factory=list)
    taxi_routes: list[np.ndarray] = field(default_factory=list)
    """Through routes along the taxiway, entering and leaving the world."""
    plane_length: tuple[float, float] = (40.0, MAX_PLANE_LENGTH)
    ship_length: tuple[float, float] = (15.0, MAX_SHIP_LENGTH)


# --- painting helpers ------------------------------------------------------------------------


class _Painter:
    """Float canvas plus what painting steps share: textures, marking masks, tall things.

    Ground-level paint goes straight onto the canvas; road markings collect in masks that
    are blended once; buildings and trees are collected and drawn last, after every cast
    shadow has darkened the ground, because they stand above it.
    """

    def __init__(
        self,
        rng: np.random.Generator,
        width: int,
        height: int,
        shadow_dir: tuple[float, float],
        shadow_ratio: float,
    ) -> None:
        self.rng = rng
        self.width, self.height = width, height
        self.shadow_dir, self.shadow_ratio = shadow_dir, shadow_ratio
        self.img = np.empty((height, width, 3), np.float32)
        self.grain = rng.standard_normal((height, width), dtype=np.float32)
        self.blotch = smooth_noise(rng, height, width, 4)
        self.white_marks = np.zeros((height, width), np.uint8)
        self.yellow_marks = np.zeros((height, width), np.uint8)
        self.joints = np.zeros((height, width), np.uint8)
        self.shadow = np.zeros((height, width), np.uint8)
        self.occluder = np.zeros((height, width), np.uint8)
        self.buildings: list[tuple[np.ndarray, float, RGB, bool]] = []
        """(footprint polygon, height, roof colour, whether the roof gets edges and units)."""
        self.trees: list[tuple[float, float, float]] = []

    def fill(
        self,
        rect: tuple[float, float, float, float],
        rgb: RGB,
        grain: float = 3.0,
        blotch: float = 4.0,
    ) -> None:
        box = self.clip(rect)
        if box is not None:
            x0, y0, x1, y1 = box
            noise = self.grain[y0:y1, x0:x1] * grain + self.blotch[y0:y1, x0:x1] * blotch
            self.img[y0:y1, x0:x1] = np.asarray(rgb, np.float32) + noise[..., None]

    def fill_poly(
        self, points: np.ndarray, rgb: RGB, grain: float = 3.0, blotch: float = 4.0
    ) -> None:
        mask = np.zeros((self.height, self.width), np.uint8)
        cv2.fillPoly(mask, [np.round(points * 16).astype(np.int32)], 1, shift=4)
        ys, xs = np.nonzero(mask)
        noise = self.grain[ys, xs] * grain + self.blotch[ys, xs] * blotch
        self.img[ys, xs] = np.asarray(rgb, np.float32) + noise[:, None]

    def clip(self, rect: tuple[float, float, float, float]) -> tuple[int, int, int, int] | None:
        x0, y0 = max(0, round(rect[0])), max(0, round(rect[1]))
        x1, y1 = min(self.width, round(rect[2])), min(self.height, round(rect[3]))
        return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None

    def mark(self, mask: np.ndarray, p0: tuple[float, float], p1: tuple[float, float]) -> None:
        cv2.line(mask, pixel(p0), pixel(p1), 255, 1)

    def cast_shadow(self, footprint: np.ndarray, height: float) -> None:
        """Mark the ground shadowed by a prism with base `footprint` (polygon) and `height`."""
        shifted = footprint + np.array(self.shadow_dir) * height * self.shadow_ratio
        hull = cv2.convexHull(np.round(np.vstack([footprint, shifted]) * 16).astype(np.int32))
        cv2.fillConvexPoly(self.shadow, hull, 1, shift=4)


def _blend(img: np.ndarray, mask: np.ndarray, rgb: RGB, opacity: float) -> None:
    ys, xs = np.nonzero(mask)
    img[ys, xs] = img[ys, xs] * (1 - opacity) + np.asarray(rgb, np.float32) * opacity


def pixel(p: tuple[float, float]) -> tuple[int, int]:
    """Nearest integer point, for OpenCV drawing calls."""
    return round(float(p[0])), round(float(p[1]))


def smooth_noise(rng: np.random.Generator, height: int, width: int, cell: float) -> np.ndarray:
    """Noise of roughly unit amplitude varying over `cell` pixels."""
    small = rng.standard_normal((int(height / cell) + 2, int(width / cell) + 2)).astype(np.float32)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)


def _rect_poly(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], np.float64)


def _route(points: list[tuple[float, float]], radius: float) -> np.ndarray:
    """A polyline with its corners rounded over about `radius` pixels (Chaikin corner cutting)."""
    pts = np.asarray(points, np.float64)
    dense = [pts[0]]
    for prev, corner, nxt in zip(pts[:-2], pts[1:-1], pts[2:], strict=True):
        into, out = corner - prev, nxt - corner
        r = min(radius, np.linalg.norm(into) / 2, np.linalg.norm(out) / 2)
        dense += [
            corner - into / np.linalg.norm(into) * r,
            corner,
            corner + out / np.linalg.norm(out) * r,
        ]
    dense.append(pts[-1])
    curve = np.asarray(dense)
    for _ in range(3):
        a, b = curve[:-1], curve[1:]
        cut = np.empty((2 * len(a), 2))
        cut[0::2] = 0.75 * a + 0.25 * b
        cut[1::2] = 0.25 * a + 0.75 * b
        curve = np.vstack([curve[:1], cut, curve[-1:]])
    return curve


# --- layout ----------------------------------------------------------------------------------


def build_scene(
    rng: np.random.Generator, width: int, height: int, classes: tuple[str, ...]
) -> Scene:
    """Lay out and paint the world of one `width` x `height` video showing `classes`."""
    world_w, world_h = width + 2 * MARGIN, height + 2 * MARGIN
    angle = rng.uniform(-math.pi * 0.9, -math.pi * 0.1)
    painter = _Painter(
        rng, world_w, world_h, (math.cos(angle), math.sin(angle)), rng.uniform(0.35, 0.65)
    )
    scene = Scene(
        np.empty(0, np.uint8),
        painter.occluder,
        np.empty(0, np.float32),
        painter.shadow_dir,
        painter.shadow_ratio,
    )
    painter.fill((0, 0, world_w, world_h), LAND, grain=4.0, blotch=6.0)
    water, airport = _choose_bands(rng, world_w, world_h, classes)
    urban = [0.0, 0.0, float(world_w), float(world_h)]
    for band in (water, airport):
        if band is not None:
            index, sign = {"left": (0, 1), "top": (1, 1), "right": (2, -1), "bottom": (3, -1)}[
                band.side
            ]
            urban[index] += sign * band.depth
    internal = {band.side for band in (water, airport) if band is not None}
    _layout_roads(
        rng, scene, (urban[0], urban[1], urban[2], urban[3]), internal, (world_w, world_h)
    )
    _paint_roads(painter, scene)
    _paint_blocks(painter, scene, (urban[0], urban[1], urban[2], urban[3]))
    if water is not None:
        _paint_port(painter, scene, water)
    if airport is not None:
        _paint_airport(painter, scene, airport)
    _paint_tall_things(painter)
    lighting = 1 + 0.05 * smooth_noise(rng, world_h, world_w, 240)
    graded = grade(painter.img * lighting[..., None], np.ones((1, 1, 1), np.float32))
    scene.background = np.clip(graded, 0, 255).astype(np.uint8)
    scene.shade = 1 - SHADOW_DARKNESS * painter.shadow.astype(np.float32)
    return scene


def _choose_bands(
    rng: np.random.Generator, world_w: int, world_h: int, classes: tuple[str, ...]
) -> tuple[Band | None, Band | None]:
    """Water along one side (if ships are shown), the apron along a perpendicular side (airplanes)."""
    sides: tuple[Side, ...] = ("left", "right", "top", "bottom")
    water: Band | None = None
    airport: Band | None = None

    def extent(side: Side) -> tuple[float, float]:
        """(depth dimension, length) of a band on `side`."""
        return (world_w, world_h) if side in ("left", "right") else (world_h, world_w)

    if "ship" in classes:
        side = sides[rng.integers(4)]
        dim, length = extent(side)
        water = Band(side, dim * rng.uniform(0.24, 0.32), (0.0, length), (world_w, world_h))
    if "airplane" in classes:
        choices = [
            s
            for s in sides
            if water is None or (s in ("left", "right")) != (water.side in ("left", "right"))
        ]
        side = choices[rng.integers(len(choices))]
        dim, length = extent(side)
        plane_length = min(MAX_PLANE_LENGTH, (0.4 * dim - 16) / 3.73)
        if plane_length >= 20:
            u_range = (0.0, length)
            if water is not None:
                u_range = (
                    (water.depth, length)
                    if water.side in ("left", "top")
                    else (0.0, length - water.depth)
                )
            airport = Band(side, 3.73 * plane_length + 16, u_range, (world_w, world_h))
    return water, airport


def _road_positions(
    rng: np.random.Generator, lo: float, hi: float, lo_internal: bool, hi_internal: bool
) -> list[tuple[float, int]]:
    """Centres and lanes-per-direction of parallel roads between `lo` and `hi`.

    An internal side (facing water or the apron) gets a boundary road, so no road dead-ends.
    """

    def lanes() -> int:
        return 2 if rng.random() < 0.4 else 1

    def half(n: int) -> float:
        return n * LANE_WIDTH + SIDEWALK_WIDTH

    roads: list[tuple[float, int]] = []
    if lo_internal:
        n = lanes()
        roads.append((lo + half(n) + 2, n))
    position = roads[-1][0] if roads else lo - rng.uniform(0.2, 0.8) * ROAD_SPACING[0]
    last_lanes = lanes()
    last = hi - half(last_lanes) - 2
    while True:
        position += rng.uniform(*ROAD_SPACING)
        if position > (last - ROAD_SPACING[0] / 2 if hi_internal else hi):
            break
        roads.append((position, lanes()))
    if hi_internal:
        roads.append((last, last_lanes))
    return roads


def _layout_roads(
    rng: np.random.Generator,
    scene: Scene,
    urban: tuple[float, float, float, float],
    internal: set[Side],
    world: tuple[int, int],
) -> None:
    """The urban grid: roads reaching a frame edge run past it; others end at a boundary road."""
    x0, y0, x1, y1 = urban
    overhang = 30.0
    verticals = _road_positions(rng, x0, x1, "left" in internal, "right" in internal)
    horizontals = _road_positions(rng, y0, y1, "top" in internal, "bottom" in internal)

    def span(
        world_size: int, cross: list[tuple[float, int]], lo_side: Side, hi_side: Side
    ) -> tuple[float, float]:
        start = (
            cross[0][0] - cross[0][1] * LANE_WIDTH if lo_side in internal and cross else -overhang
        )
        end = (
            cross[-1][0] + cross[-1][1] * LANE_WIDTH
            if hi_side in internal and cross
            else world_size + overhang
        )
        return start, end

    v_span = span(world[1], horizontals, "top", "bottom")
    h_span = span(world[0], verticals, "left", "right")
    scene.roads = [Road(1, c, *v_span, n) for c, n in verticals] + [
        Road(0, c, *h_span, n) for c, n in horizontals
    ]
    _build_lanes(scene, world)


def _build_lanes(scene: Scene, world: tuple[int, int]) -> None:
    """Lanes of every road (right-hand traffic), and for each lane its crossings."""
    lanes: list[Lane] = []
    for index, road in enumerate(scene.roads):
        limit = world[road.axis]
        for sign in (1, -1):
            d = (float(sign), 0.0) if road.axis == 0 else (0.0, float(sign))
            right = (-d[1], d[0])
            along = road.start if sign == 1 else road.end
            base = (along, road.centre) if road.axis == 0 else (road.centre, along)
            for k in range(road.lanes):
                offset = (k + 0.5) * LANE_WIDTH
                lanes.append(
                    Lane(
                        index,
                        (base[0] + right[0] * offset, base[1] + right[1] * offset),
                        d,
                        road.end - road.start,
                        rank=k,
                        curb=k == road.lanes - 1,
                        enters=road.start < 0 if sign == 1 else road.end > limit,
                        exits=road.end > limit if sign == 1 else road.start < 0,
                    )
                )
    scene.lanes = lanes
    light_ids: dict[tuple[int, int], int] = {}
    for lane in lanes:
        road = scene.roads[lane.road]
        axis = road.axis
        found = []
        for other_index, other in enumerate(scene.roads):
            if other.axis == axis or not other.start <= road.centre <= other.end:
                continue
            s_centre = lane.direction[axis] * (other.centre - lane.origin[axis])
            if not 0 < s_centre < lane.length:
                continue
            right_dir = (-lane.direction[1], lane.direction[0])
            found.append(
                Crossing(
                    road=other_index,
                    light=light_ids.setdefault(
                        (min(lane.road, other_index), max(lane.road, other_index)), len(light_ids)
                    ),
                    s_stop=s_centre - other.half_width - CROSSWALK_DEPTH - 1,
                    s_exit=s_centre + other.half_width,
                    straight=lane.length - s_centre > other.half_width + 10,
                    right=_turn(lanes, lane, other_index, right_dir, curb=True)
                    if lane.curb
                    else None,
                    left=_turn(lanes, lane, other_index, (-right_dir[0], -right_dir[1]), curb=False)
                    if lane.rank == 0
                    else None,
                )
            )
        scene.crossings.append(sorted(found, key=lambda c: c.s_stop))
    scene.lights = len(light_ids)


def _turn(
    lanes: list[Lane], lane: Lane, road: int, direction: tuple[float, float], curb: bool
) -> Turn | None:
    """The turn from `lane` onto `road` heading `direction`, into its curb lane (a right turn)
    or its inner lane (a left turn), if that lane goes on long enough after the turn."""
    axis = 0 if lane.direction[1] == 0 else 1
    for index, target in enumerate(lanes):
        wanted = target.curb if curb else target.rank == 0
        if target.road != road or target.direction != direction or not wanted:
            continue
        s_from = (target.origin[axis] - lane.origin[axis]) * lane.direction[axis]
        s_to = (lane.origin[1 - axis] - target.origin[1 - axis]) * target.direction[1 - axis]
        if 0 <= s_to <= target.length - 15 and 0 < s_from < lane.length:
            return Turn(index, s_from, s_to)
    return None


# --- painting: roads and blocks --------------------------------------------------------------


def _road_rect(road: Road, half: float) -> tuple[float, float, float, float]:
    if road.axis == 0:
        return road.start, road.centre - half, road.end, road.centre + half
    return road.centre - half, road.start, road.centre + half, road.end


def _paint_roads(p: _Painter, scene: Scene) -> None:
    for road in scene.roads:
        p.fill(_road_rect(road, road.half_width + SIDEWALK_WIDTH), PAVEMENT, grain=4.0, blotch=5.0)
    for road in scene.roads:
        p.fill(_road_rect(road, road.half_width), ASPHALT, grain=3.0, blotch=3.0)
    for road in scene.roads:
        _mark_road(p, road)
    for h in scene.roads:
        for v in scene.roads:
            if (
                h.axis == 0
                and v.axis == 1
                and v.start <= h.centre <= v.end
                and h.start <= v.centre <= h.end
            ):
                _paint_intersection(p, h, v)


def _along(road: Road, t: float, offset: float) -> tuple[float, float]:
    """World point `t` along a road, `offset` across it."""
    return (t, road.centre + offset) if road.axis == 0 else (road.centre + offset, t)


def _mark_road(p: _Painter, road: Road) -> None:
    """Centre line and dashed lane dividers (faint at 1 m/px, as in real imagery)."""
    p.mark(p.yellow_marks, _along(road, road.start, 0.0), _along(road, road.end, 0.0))
    for k in range(1, road.lanes):
        for offset in (-k * LANE_WIDTH, k * LANE_WIDTH):
            for t in np.arange(road.start, road.end, 8.0):
                p.mark(p.white_marks, _along(road, t, offset), _along(road, t + 3.0, offset))


def _paint_intersection(p: _Painter, h: Road, v: Road) -> None:
    """Clear the box of lane marks; zebra crossings and stop lines on every approach."""
    box = p.clip(
        (
            v.centre - v.half_width,
            h.centre - h.half_width,
            v.centre + v.half_width,
            h.centre + h.half_width,
        )
    )
    if box is None:
        return
    x0, y0, x1, y1 = box
    p.fill(box, ASPHALT, grain=3.0, blotch=3.0)
    p.white_marks[y0:y1, x0:x1] = 0
    p.yellow_marks[y0:y1, x0:x1] = 0
    for road, cross in ((h, v), (v, h)):
        for sign in (-1, 1):
            edge = cross.centre + sign * cross.half_width
            if not road.start < edge + sign * 2 < road.end:
                continue
            near, far = edge + sign, edge + sign * CROSSWALK_DEPTH
            zone = p.clip(
                (
                    *_along(road, min(near, far), -road.half_width),
                    *_along(road, max(near, far) + 1, road.half_width),
                )
            )
            if zone is not None:
                p.yellow_marks[zone[1] : zone[3], zone[0] : zone[2]] = 0
            for t in np.arange(-road.half_width + 1.5, road.half_width - 1, 2.0):
                p.mark(p.white_marks, _along(road, near, t), _along(road, far, t))
            stop = far + sign * 1.5
            # approaching traffic drives on its right: for sign -1 (coming from lower t) the +offset side
            approach = (
                (0.0, road.half_width)
                if (sign < 0) == (road.axis == 0)
                else (-road.half_width, 0.0)
            )
            p.mark(p.white_marks, _along(road, stop, approach[0]), _along(road, stop, approach[1]))


def _free_intervals(
    lo: float, hi: float, occupied: list[tuple[float, float]], min_size: float = 12.0
) -> list[tuple[float, float]]:
    out, cursor = [], lo
    for a, b in sorted(occupied):
        if a > cursor:
            out.append((cursor, min(a, hi)))
        cursor = max(cursor, b)
    if cursor < hi:
        out.append((cursor, hi))
    return [(a, b) for a, b in out if b - a > min_size]


def _paint_blocks(p: _Painter, scene: Scene, urban: tuple[float, float, float, float]) -> None:
    """Fill the land between roads: buildings, parking lots, parks, or a mix; street trees."""
    x0, y0, x1, y1 = urban

    def occupied(axis: int) -> list[tuple[float, float]]:
        half = [(r.centre, r.half_width + SIDEWALK_WIDTH) for r in scene.roads if r.axis == axis]
        return [(c - w, c + w) for c, w in half]

    for by0, by1 in _free_intervals(y0, y1, occupied(0)):
        for bx0, bx1 in _free_intervals(x0, x1, occupied(1)):
            rect = (bx0, by0, bx1, by1)
            kind = p.rng.choice(4, p=[0.55, 0.1, 0.1, 0.25])
            if kind == 0:
                _lots(p, rect)
            elif kind == 1:
                _paint_parking(p, scene, rect)
            elif kind == 2:
                _paint_park(p, rect)
            else:
                first, second = _split(p.rng, rect)
                _lots(p, first)
                if p.rng.random() < 0.6:
                    _paint_parking(p, scene, second)
                else:
                    _paint_park(p, second)
    _plant_street_trees(p, scene)


def _split(
    rng: np.random.Generator, rect: tuple[float, float, float, float]
) -> tuple[tuple[float, float, float, float], tuple[float, float, float, float]]:
    x0, y0, x1, y1 = rect
    t = rng.uniform(0.35, 0.65)
    if x1 - x0 > y1 - y0:
        m = x0 + (x1 - x0) * t
        return (x0, y0, m, y1), (m, y0, x1, y1)
    m = y0 + (y1 - y0) * t
    return (x0, y0, x1, m), (x0, m, x1, y1)


def _lots(p: _Painter, rect: tuple[float, float, float, float], min_side: float = 22.0) -> None:
    """Recursively cut a block into lots, each holding one building (or a small garden)."""
    x0, y0, x1, y1 = rect
    if max(x1 - x0, y1 - y0) > 2.2 * min_side and p.rng.random() < 0.85:
        for half in _split(p.rng, rect):
            _lots(p, half, min_side)
        return
    inset = p.rng.uniform(1.5, 4.0)
    if min(x1 - x0, y1 - y0) < 2 * inset + 4:
        return
    if p.rng.random() < 0.1:
        _paint_park(p, rect)
        return
    height = p.rng.uniform(3, 30) if p.rng.random() > 0.1 else p.rng.uniform(40, 80)
    roof = _shade(ROOF_COLOURS[p.rng.integers(len(ROOF_COLOURS))], p.rng.uniform(0.9, 1.1))
    p.buildings.append(
        (_rect_poly(x0 + inset, y0 + inset, x1 - inset, y1 - inset), height, roof, True)
    )


def _paint_parking(p: _Painter, scene: Scene, rect: tuple[float, float, float, float]) -> None:
    """An asphalt lot with rows of slots either side of aisles; each slot is a parking pose."""
    x0, y0, x1, y1 = rect[0] + 2, rect[1] + 2, rect[2] - 2, rect[3] - 2
    if min(x1 - x0, y1 - y0) < 14:
        return
    p.fill((x0, y0, x1, y1), LOT_ASPHALT, grain=3.0, blotch=3.0)
    along_x = x1 - x0 >= y1 - y0
    slot_w, slot_d, aisle = 7.0, 12.0, 9.0
    lo, hi = (y0, y1) if along_x else (x0, x1)
    a0, a1 = (x0, x1) if along_x else (y0, y1)
    row, index = lo + 1, 0
    while row + slot_d <= hi - 1:
        facing = math.pi / 2 if along_x else 0.0
        for t in np.arange(a0 + 1, a1 - slot_w, slot_w):
            centre = (
                (t + slot_w / 2, row + slot_d / 2)
                if along_x
                else (row + slot_d / 2, t + slot_w / 2)
            )
            heading = facing + (math.pi if p.rng.random() < 0.5 else 0.0) + p.rng.normal(0, 0.04)
            scene.parking.append(
                Pose(
                    centre[0] + p.rng.normal(0, 0.3),
                    centre[1] + p.rng.normal(0, 0.3),
                    heading,
                    slot_d,
                )
            )
            a, b = ((t, row), (t, row + slot_d)) if along_x else ((row, t), (row + slot_d, t))
            p.mark(p.white_marks, a, b)
        row += slot_d + (aisle if index % 2 == 0 else 0.0)
        index += 1


def _paint_park(p: _Painter, rect: tuple[float, float, float, float]) -> None:
    p.fill(rect, GRASS, grain=5.0, blotch=7.0)
    _plant(p, rect)


def _plant(p: _Painter, rect: tuple[float, float, float, float]) -> None:
    """Trees scattered over a rectangle, about one per 260 square pixels."""
    x0, y0, x1, y1 = rect
    for _ in range(int((x1 - x0) * (y1 - y0) / 260)):
        p.trees.append(
            (p.rng.uniform(x0 + 2, x1 - 2), p.rng.uniform(y0 + 2, y1 - 2), p.rng.uniform(2.5, 6.0))
        )


def _plant_street_trees(p: _Painter, scene: Scene) -> None:
    """Rows of trees on the sidewalk edge; their canopies overhang the curb lane a little,
    so vehicles there are briefly, partly hidden."""
    for road in scene.roads:
        if p.rng.random() > 0.5:
            continue
        crossings = [
            (r.centre, r.half_width + SIDEWALK_WIDTH + 5)
            for r in scene.roads
            if r.axis != road.axis
        ]
        for side in (-1, 1):
            t = road.start + p.rng.uniform(0, 10)
            while t < road.end:
                if all(abs(t - c) > reach for c, reach in crossings):
                    x, y = _along(road, t, side * (road.half_width + 1.0))
                    p.trees.append((x, y, p.rng.uniform(2.5, 4.0)))
                t += p.rng.uniform(9, 14)


# --- painting: port and airport ----------------------------------------------------------------


def _band_poly(band: Band, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    xs, ys = band.point(u, v)
    return np.stack([xs, ys], axis=1)


def _paint_port(p: _Painter, scene: Scene, band: Band) -> None:
    """Water with a shoreline: a straight quay with piers and a container yard along part of
    it, a sandy natural coast elsewhere; moorings at the piers and quay; shipping routes."""
    rng = p.rng
    u_lo, u_hi = band.u_range
    quay_v = band.depth * rng.uniform(0.62, 0.72)
    port_len = (u_hi - u_lo) * rng.uniform(0.45, 0.7)
    ua = u_lo + rng.uniform(0, u_hi - u_lo - port_len)
    ub = ua + port_len
    u = np.arange(u_lo - 20, u_hi + 21, 2.0)
    natural = 1 - np.clip(np.minimum(u - ua, ub - u) / 25, 0, 1)
    wiggle = smooth_noise(rng, 1, len(u), 20)[0] * 7 + smooth_noise(rng, 1, len(u), 4)[0] * 1.5
    shore = quay_v + natural * (wiggle - 6)
    sand = shore + natural * rng.uniform(4, 8)
    p.fill(band.rect(ua, quay_v - 2, ub, band.depth), _shade(CONCRETE, 0.9), grain=3.0, blotch=4.0)
    p.fill_poly(
        _band_poly(band, np.r_[u, u[::-1]], np.r_[shore, (sand + natural * 10)[::-1]]),
        GRASS,
        grain=5.0,
        blotch=7.0,
    )
    p.fill_poly(
        _band_poly(band, np.r_[u, u[::-1]], np.r_[shore, sand[::-1]]), SAND, grain=4.0, blotch=4.0
    )
    scene.water_rgb = WATER_COLOURS[rng.integers(len(WATER_COLOURS))]
    p.fill_poly(
        _band_poly(band, np.r_[u, u[::-1]], np.r_[np.full_like(u, -10.0), shore[::-1]]),
        scene.water_rgb,
        grain=1.5,
        blotch=2.5,
    )
    p.fill(band.rect(ua, quay_v - 1, ub, quay_v), (192.0, 192.0, 186.0), grain=2.0, blotch=0.0)
    max_ship = max(12.0, min(MAX_SHIP_LENGTH, 0.5 * quay_v))
    scene.ship_length = (min(15.0, 0.6 * max_ship), max_ship)
    pier_reach = _piers_and_moorings(p, scene, band, ua, ub, quay_v, max_ship)
    _container_yard(p, band, ua + 8, quay_v + 8, ub - 8, band.depth - 4)
    for a, b in _free_intervals(u_lo, u_hi, [(ua - 10, ub + 10)], min_size=30):
        _coastal_land(p, band, a, b, quay_v + 16, band.depth - 2)
    bottom, top = 12.0, quay_v - pier_reach - 18
    count = max(1, min(3, int((top - bottom) / 45)))
    for v_lane in (
        np.linspace(bottom, max(bottom, top), count + 2)[1:-1] if top > bottom else [quay_v * 0.35]
    ):
        us = np.arange(u_lo - 80, u_hi + 81, 80.0)
        vs = v_lane + rng.normal(0, 5, len(us))
        route = _route(list(zip(us, vs, strict=True)), 30.0)
        route = route[::-1] if rng.random() < 0.5 else route
        scene.ship_routes.append(_band_poly(band, route[:, 0], route[:, 1]))


def _piers_and_moorings(
    p: _Painter, scene: Scene, band: Band, ua: float, ub: float, quay_v: float, max_ship: float
) -> float:
    """Piers out from the quay, ships berthed along them and along the quay; returns the pier reach."""
    rng = p.rng
    reach = 0.0
    spans: list[tuple[float, float]] = []
    u = ua + rng.uniform(20, 60)
    while u < ub - 30:
        width, length = rng.uniform(8, 12), min(rng.uniform(40, 80), 0.4 * quay_v)
        reach = max(reach, length)
        footprint = _band_poly(
            band,
            np.array([u, u + width, u + width, u]),
            np.array([quay_v - length, quay_v - length, quay_v, quay_v]),
        )
        p.buildings.append((footprint, 1.5, CONCRETE, False))
        ship = min(max_ship, length - 6)
        nose_v = quay_v - length + 3
        for side in (-1, 1):
            uc = u + width / 2 + side * (width / 2 + 1.5 + 0.11 * ship)
            x, y = band.point(uc, nose_v + ship / 2)
            scene.moorings.append(Pose(float(x), float(y), band.heading(0.0, -1.0), ship))
        spans.append((u - 0.3 * ship - 4, u + width + 0.3 * ship + 4))
        u += width + rng.uniform(70, 150)
    for a, b in _free_intervals(ua, ub, spans, min_size=40):
        ship = min(max_ship, b - a - 10)
        x, y = band.point((a + b) / 2, quay_v - 0.11 * ship - 1.5)
        scene.moorings.append(
            Pose(float(x), float(y), band.heading(1.0 if rng.random() < 0.5 else -1.0, 0.0), ship)
        )
    return reach


def _coastal_land(p: _Painter, band: Band, u0: float, u1: float, v0: float, v1: float) -> None:
    """Behind a natural shore: gardens with trees and scattered low buildings."""
    if v1 - v0 < 12:
        return
    p.fill(band.rect(u0, v0, u1, v1), GRASS, grain=5.0, blotch=7.0)
    u = u0
    while u < u1 - 20:
        width = p.rng.uniform(25, 60)
        rect = band.rect(u, v0 + 2, min(u + width, u1) - 3, v1 - 2)
        if p.rng.random() < 0.5:
            _lots(p, rect, min_side=14.0)
        else:
            _plant(p, rect)
        u += width


def _container_yard(p: _Painter, band: Band, u0: float, v0: float, u1: float, v1: float) -> None:
    """Rows of stacked containers (3 px wide, 6 or 12 px long) with driving lanes between blocks."""
    rng = p.rng
    v, row = v0, 0
    while v + 3 <= v1:
        u = u0 + rng.uniform(0, 4)
        while u < u1 - 12:
            if rng.random() < 0.1:
                u += rng.uniform(6, 20)
                continue
            length = 6.0 if rng.random() < 0.4 else 12.0
            colour = _shade(
                CONTAINER_COLOURS[rng.integers(len(CONTAINER_COLOURS))], rng.uniform(0.85, 1.1)
            )
            footprint = _band_poly(
                band,
                np.array([u, u + length - 0.6, u + length - 0.6, u]),
                np.array([v, v, v + 2.6, v + 2.6]),
            )
            p.buildings.append((footprint, 2.6 * rng.integers(1, 4), colour, False))
            u += length
        row += 1
        v += 3.0 + (7.0 if row % 4 == 0 else 0.0)


def _paint_airport(p: _Painter, scene: Scene, band: Band) -> None:
    """Apron with terminal, nose-in stands, a taxilane (departures) and a taxiway (arrivals)."""
    rng = p.rng
    u0, u1 = band.u_range
    lm = (band.depth - 16) / 3.73
    scene.plane_length = (0.57 * lm, lm)
    terminal = 0.38 * lm
    nose = terminal + 4
    v_tl = nose + 1.6 * lm
    v_tw = v_tl + 1.15 * lm
    apron_end = v_tw + 0.6 * lm
    p.fill(band.rect(u0, 0, u1, apron_end), CONCRETE, grain=3.0, blotch=3.0)
    p.fill(band.rect(u0, apron_end, u1, band.depth), GRASS, grain=5.0, blotch=7.0)
    for t in np.arange(u0, u1, 16.0):
        p.mark(p.joints, tuple(band.point(t, 0.0)), tuple(band.point(t, apron_end)))
    for t in np.arange(0.0, apron_end, 16.0):
        p.mark(p.joints, tuple(band.point(u0, t)), tuple(band.point(u1, t)))
    p.buildings.append(
        (
            _band_poly(
                band,
                np.array([u0 + 8, u1 - 8, u1 - 8, u0 + 8]),
                np.array([-MARGIN, -MARGIN, terminal, terminal]),
            ),
            14.0,
            (206.0, 206.0, 200.0),
            True,
        )
    )
    for v in (v_tl, v_tw):
        p.mark(p.yellow_marks, tuple(band.point(u0, v)), tuple(band.point(u1, v)))
    lo_open, hi_open = u0 <= 0.5, u1 >= band.length - 0.5
    inbound = 1.0 if (lo_open and (not hi_open or rng.random() < 0.5)) else -1.0
    outbound = 1.0 if (hi_open and (not lo_open or rng.random() < 0.5)) else -1.0
    enter_u = u0 - lm if inbound > 0 else u1 + lm
    leave_u = u1 + lm if outbound > 0 else u0 - lm
    pitch = 1.05 * lm + 8
    us = u0 + 0.6 * lm + 4
    while us + 0.6 * lm < u1 - 4:
        centre_v = nose + lm / 2
        p.mark(p.yellow_marks, tuple(band.point(us, v_tl)), tuple(band.point(us, nose + 0.3 * lm)))
        bridge = _band_poly(
            band,
            np.array([us + 0.18 * lm, us + 0.18 * lm + 2.5, us + 0.18 * lm + 2.5, us + 0.18 * lm]),
            np.array([terminal, terminal, nose + 0.3 * lm, nose + 0.3 * lm]),
        )
        p.buildings.append((bridge, 5.0, (150.0, 150.0, 150.0), False))
        x, y = band.point(us, centre_v)
        back_u = us - outbound * 0.7 * lm

        def world(points: list[tuple[float, float]], radius: float) -> np.ndarray:
            route = _route(points, radius)
            return _band_poly(band, route[:, 0], route[:, 1])

        scene.stands.append(
            Stand(
                Pose(float(x), float(y), band.heading(0.0, -1.0), lm),
                arrival=world([(enter_u, v_tw), (us, v_tw), (us, centre_v)], 0.5 * lm),
                pushback=world([(us, centre_v), (us, v_tl), (back_u, v_tl)], 0.45 * lm),
                departure=world([(back_u, v_tl), (leave_u, v_tl)], 0.0),
            )
        )
        us += pitch
    if lo_open and hi_open:
        scene.taxi_routes.append(
            _band_poly(
                band,
                np.array([enter_u, u1 + lm if inbound > 0 else u0 - lm]),
                np.array([v_tw, v_tw]),
            )
        )


# --- painting: what stands above the ground ---------------------------------------------------


def _paint_tall_things(p: _Painter) -> None:
    """Marks, then every cast shadow at once, then roofs, containers, piers and tree canopies."""
    _blend(p.img, p.white_marks, MARKING, 0.42)
    _blend(p.img, p.yellow_marks, TAXI_YELLOW, 0.55)
    ys, xs = np.nonzero(p.joints)
    p.img[ys, xs] *= 0.93
    for footprint, height, _, _ in p.buildings:
        p.cast_shadow(footprint, height)
    for x, y, r in p.trees:
        t = np.linspace(0, 2 * np.pi, 12, endpoint=False)
        p.cast_shadow(np.stack([x + r * np.cos(t), y + r * np.sin(t)], axis=1), 2.2 * r)
    ys, xs = np.nonzero(p.shadow)
    p.img[ys, xs] *= 1 - SHADOW_DARKNESS
    for footprint, _, rgb, detailed in p.buildings:
        _paint_roof(p, footprint, rgb, detailed)
    for x, y, r in p.trees:
        _paint_canopy(p, x, y, r)


def _paint_roof(p: _Painter, footprint: np.ndarray, rgb: RGB, detailed: bool) -> None:
    x0, y0 = footprint.min(axis=0)
    x1, y1 = footprint.max(axis=0)
    p.fill((x0, y0, x1, y1), rgb, grain=2.5, blotch=2.0)
    box = p.clip((x0, y0, x1, y1))
    if not detailed or box is None:
        return
    if p.rng.random() < 0.3 and min(x1 - x0, y1 - y0) < 40:
        half = (x0, y0, (x0 + x1) / 2, y1) if x1 - x0 < y1 - y0 else (x0, y0, x1, (y0 + y1) / 2)
        p.fill(half, _shade(rgb, 1.12), grain=2.5, blotch=2.0)
        return
    cv2.rectangle(p.img, (box[0], box[1]), (box[2] - 1, box[3] - 1), _shade(rgb, 0.8), 1)
    sx, sy = p.shadow_dir
    for _ in range(int(p.rng.integers(0, 5))):
        if x1 - x0 < 10 or y1 - y0 < 10:
            break
        ux, uy = p.rng.uniform(x0 + 2, x1 - 6), p.rng.uniform(y0 + 2, y1 - 6)
        size = p.rng.uniform(2, 4)
        p.fill(
            (ux + sx * 1.5, uy + sy * 1.5, ux + size + sx * 1.5, uy + size + sy * 1.5),
            _shade(rgb, 0.7),
            grain=1.0,
            blotch=0.0,
        )
        p.fill((ux, uy, ux + size, uy + size), _shade(rgb, 1.2), grain=1.5, blotch=0.0)


def _paint_canopy(p: _Painter, x: float, y: float, r: float) -> None:
    """A textured crown, lit on the sun side; it goes into the occluder mask."""
    box = p.clip((x - r - 1, y - r - 1, x + r + 2, y + r + 2))
    if box is None:
        return
    x0, y0, x1, y1 = box
    local = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.circle(local, (round((x - x0) * 16), round((y - y0) * 16)), round(r * 16), 1, -1, shift=4)
    lit = np.zeros_like(local)
    sx, sy = p.shadow_dir
    cv2.circle(
        lit,
        (round((x - x0 - sx * r * 0.35) * 16), round((y - y0 - sy * r * 0.35) * 16)),
        round(r * 0.55 * 16),
        1,
        -1,
        shift=4,
    )
    colour = np.asarray(_shade(TREE, p.rng.uniform(0.8, 1.2)), np.float32)
    texture = colour * (1 + 0.3 * lit[..., None]) + p.grain[y0:y1, x0:x1, None] * 7
    region = p.img[y0:y1, x0:x1]
    region[local > 0] = texture[local > 0]
    p.occluder[y0:y1, x0:x1][local > 0] = 255
