"""The world a synthetic video looks at: the painted scene and the geometry objects move on.

Sizes are "legacy pixels" (~0.5 m for geometry, ~1 m/px at 10 fps for speeds; see
tgram.synth.style): the fixed style draws them as they are, a randomised style scales them
by `Scene.scale` (geometry) and `Scene.speed` (motion).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import numpy as np

from tgram.synth.palette import RGB

Side = Literal["left", "right", "top", "bottom"]

MARGIN = 4
"""World pixels painted beyond each frame edge, so a jittered frame never sees past the world."""
LANE_WIDTH = 7.0
SIDEWALK_WIDTH = 4.0

CROSSWALK_DEPTH = 5.0

MAX_PLANE_LENGTH = 70.0
MAX_SHIP_LENGTH = 60.0


@dataclass(frozen=True)
class Sizes:
    """Scene sizes that the styles set differently."""

    parking_slot: tuple[float, float, float] = (7.0, 12.0, 9.0)
    """Slot width, slot depth and aisle width, legacy pixels (times the scale)."""
    max_ship: float = MAX_SHIP_LENGTH
    """Longest ship, px (the port's depth may allow less)."""
    min_ship: float = 15.0
    """Shortest ship, px."""
    max_plane: float = MAX_PLANE_LENGTH
    """Longest airplane (and stand), px (the apron's depth may allow less)."""
    container: float = 1.0
    """Factor on the container yard's sizes (the fixed style's containers are half-size)."""
    road_spacing: tuple[float, float] = (110.0, 200.0)
    """Distance between parallel roads of the urban grid, legacy pixels (times the scale)."""


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

    def polygon(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """World [n, 2] points of a polygon given in band coordinates."""
        xs, ys = self.point(u, v)
        return np.stack([xs, ys], axis=1)

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
    lane_width: float = LANE_WIDTH

    @property
    def half_width(self) -> float:
        return self.lanes * self.lane_width


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
    foam_rgb: RGB = (214.0, 220.0, 220.0)
    """Colour of ship wakes' foam (`water_rgb` is that of the water around them)."""
    margin: int = MARGIN
    """World pixels beyond each frame edge."""
    scale: float = 1.0
    """Pixels per legacy pixel of geometry (1 in the fixed style)."""
    speed: float = 1.0
    """Factor on legacy speeds and accelerations, px/frame (1 in the fixed style)."""
