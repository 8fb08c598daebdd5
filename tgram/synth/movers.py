"""Ships and airplanes following routes: arc-length paths, legs with stops, and ship wakes.

Speeds and accelerations are legacy px/frame (tgram.synth.style): the video scales them by
its scene's `speed`."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from tgram.synth.painter import pixel
from tgram.synth.palette import RGB
from tgram.synth.sprites import Sprite

SHIP_SPEED = (0.25, 0.7)
"""Ship cruise speeds, px/frame (2.5-7 m/s at 1 m/px and 10 fps); one per route, so ships on
a route keep their distance."""
SHIP_SPACING = 700.0
"""Mean extra gap between ships on a route at the start, px, at density 1."""
SHIP_ARRIVALS = 1 / 500
"""Ships entering per route per frame, at density 1."""
TAXI_SPEED = (0.6, 0.9)
"""Airplane taxi speeds, px/frame."""
PUSHBACK_SPEED = 0.3
ROUTE_ACCEL = 0.01
"""Acceleration of ships and airplanes, px/frame^2 (heavy: they take seconds to get going)."""
SPEED_WOBBLE = 0.12
"""Relative amplitude of the slow speed variation every mover and car has."""


class Path:
    """A polyline parametrised by arc length."""

    def __init__(self, points: np.ndarray) -> None:
        self.points = np.asarray(points, np.float64)
        steps = np.linalg.norm(np.diff(self.points, axis=0), axis=1)
        self.cum = np.r_[0.0, np.cumsum(steps)]
        self.length = float(self.cum[-1])

    def at(self, s: float) -> tuple[float, float, float]:
        """(x, y, heading of travel) at arc length `s`."""
        # one interpolation per axis for the point and the two ends of the heading chord
        along = (s, max(0.0, s - 1.5), min(self.length, s + 1.5))
        x, xa, xb = np.interp(along, self.cum, self.points[:, 0]).tolist()
        y, ya, yb = np.interp(along, self.cum, self.points[:, 1]).tolist()
        return x, y, math.atan2(yb - ya, xb - xa)


@dataclass
class Leg:
    path: Path
    speed: float
    """Cruise speed, px/frame."""
    stop: bool = False
    """Come to rest at the end (then the next leg starts after a pause)."""
    reverse: bool = False
    """Driven backwards (a pushback): the object faces against the direction of travel."""


@dataclass
class Mover:
    """An object following legs of routes with smooth acceleration and a slowly varying speed."""

    index: int
    sprite: Sprite
    legs: list[Leg]
    rng: np.random.Generator
    start: int
    """Frame at which it starts moving (-1: already moving); before that it waits at s."""
    s: float
    wake: bool = False
    accel: float = ROUTE_ACCEL
    """Acceleration, px/frame^2 (braking is twice this)."""
    leg: int = 0
    v: float = 0.0
    pause: int = 0
    active: bool = True
    """False once it has left the world for good."""
    phase: float = field(init=False)
    history: list[tuple[int, int]] = field(init=False, default_factory=list)
    """Recent stern positions (nearest pixel), newest last: the wake follows them."""

    def __post_init__(self) -> None:
        self.phase = float(self.rng.uniform(0, 2 * math.pi))
        self.v = self.legs[0].speed if self.start < 0 else 0.0

    def step(self, t: int) -> None:
        if t < self.start or not self.active:
            return
        leg = self.legs[self.leg]
        if self.pause > 0:
            self.pause -= 1
            return
        target = leg.speed * (1 + SPEED_WOBBLE * math.sin(t / 40 + self.phase))
        remaining = leg.path.length - self.s
        if leg.stop:
            target = min(target, math.sqrt(2 * self.accel * max(remaining, 0.0)))
        self.v = max(0.0, self.v + min(max(target - self.v, -2 * self.accel), self.accel))
        self.s += self.v
        if self.s >= leg.path.length:
            if self.leg + 1 < len(self.legs):
                self.leg, self.s, self.v, self.pause = (
                    self.leg + 1,
                    0.0,
                    0.0,
                    int(self.rng.integers(10, 40)),
                )
            elif leg.stop:
                self.s = leg.path.length
            elif self.s > leg.path.length + 2 * self.sprite.length:
                self.active = False
        if self.wake:
            self.history.append(pixel(self.stern(self.pose())))
            del self.history[:-WAKE_FRAMES]

    def pose(self) -> tuple[int, float, float, float]:
        leg = self.legs[self.leg]
        x, y, heading = leg.path.at(min(self.s, leg.path.length))
        if self.s > leg.path.length:  # beyond the route's end: carry on straight
            x += math.cos(heading) * (self.s - leg.path.length)
            y += math.sin(heading) * (self.s - leg.path.length)
        return self.index, x, y, heading + (math.pi if leg.reverse else 0.0)

    def stern(self, pose: tuple[int, float, float, float]) -> tuple[float, float]:
        """The middle of the stern, for the object at `pose` (one of its poses)."""
        _, x, y, heading = pose
        half = self.sprite.length / 2
        return x - math.cos(heading) * half, y - math.sin(heading) * half


WAKE_FRAMES = 120
"""How many past positions a ship's wake trails behind it (12 s at 10 fps)."""
WAKE_STRIDE = 3
"""Wake segments span this many frames of the track (it is smooth; fewer lines to draw)."""
FOAM = (214.0, 220.0, 220.0)


def draw_wake(canvas: np.ndarray, ship: Mover, water: RGB, foam: RGB = FOAM) -> None:
    """Turbulent wake along the ship's past track and the two Kelvin arms, fading with age."""
    track = ship.history
    if len(track) < 2 or ship.v < 0.05:
        return
    recent = track[::-WAKE_STRIDE]
    styles = _wake_styles(ship.sprite.rgba.shape[0] - 2, water, foam)
    for newer, older, (colour, thickness) in zip(recent, recent[1:], styles, strict=False):
        cv2.line(canvas, older, newer, colour, thickness, cv2.LINE_AA)
    pose = ship.pose()
    stern, heading = ship.stern(pose), pose[3]
    arm = ship.v * WAKE_FRAMES * 0.5
    colour = tuple(w + (f - w) * 0.25 for w, f in zip(water, foam, strict=True))
    for side in (-1, 1):
        angle = heading + math.pi + side * math.radians(19.5)
        cv2.line(
            canvas,
            pixel(stern),
            pixel((stern[0] + math.cos(angle) * arm, stern[1] + math.sin(angle) * arm)),
            colour,
            1,
            cv2.LINE_AA,
        )


@functools.lru_cache(maxsize=64)
def _wake_styles(
    beam: int, water: RGB, foam: RGB = FOAM
) -> tuple[tuple[tuple[float, ...], int], ...]:
    """(colour, line width) of each wake segment, newest first: the same for every frame of
    a ship, so worked out once rather than per segment and frame."""
    styles = []
    for age in range(0, WAKE_FRAMES, WAKE_STRIDE):
        fade = 0.5 * (1 - age / WAKE_FRAMES) ** 1.5
        colour = tuple(w + (f - w) * fade for w, f in zip(water, foam, strict=True))
        styles.append((colour, max(1, round(beam * 0.5 + age / 25))))
    return tuple(styles)


def spaced(rng: np.random.Generator, length: float, spacing: float, mean_gap: float) -> list[float]:
    """Random positions along `length`, at least `spacing` apart plus a random gap."""
    positions, s = [], float(rng.exponential(mean_gap))
    while s < length:
        positions.append(s)
        s += spacing + float(rng.exponential(mean_gap))
    return positions
