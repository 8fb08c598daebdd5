"""Road traffic: intelligent-driver-model car following on the scene's lanes, with lights and turns."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter

import numpy as np

from tgram.data.movers import SPEED_WOBBLE
from tgram.data.sprites import Sprite, vehicle_sprite
from tgram.data.world import Crossing, Lane, Scene, Turn

ACCEL = 0.04
"""Car acceleration, px/frame^2 (4 m/s^2 at 1 m/px and 10 fps)."""
COMFORT_DECEL = 0.05
MAX_DECEL = 0.12
MIN_GAP = 2.0
"""Bumper-to-bumper distance kept when queued, px."""
HEADWAY = 10.0
"""Time gap kept to the car ahead, frames (1 s)."""
LIGHT_CYCLE = 360
"""Traffic light cycle, frames: each axis has green for 45% of it, with all-red between."""
SPAWN_RATE = 0.03
"""Cars entering per entry lane per frame, at density 1."""
LINE_DENSITY = 0.01
"""Cars per lane pixel at the start, at density 1."""
TURN_RIGHT, TURN_LEFT = 0.2, 0.08
"""Chance of turning at an intersection where going straight is possible."""
HALT_RATE = 0.0005
"""Chance per frame that a car in the curb lane stops at the kerb for a while."""
TURN_LOOKAHEAD = 30.0
"""Distance (px) before a turn from which a car checks that the target lane has room."""
TURN_RATE = 0.35
"""Largest heading change per frame, radians: cars swing round corners over a few frames."""
WARMUP = 120
"""Frames simulated before the video starts, so traffic begins queued and flowing."""
IDM_BRAKING = 2 * math.sqrt(ACCEL * COMFORT_DECEL)
"""The IDM's braking term scale, 2 sqrt(a b): how hard a car closing in on its leader brakes."""


@dataclass(slots=True)
class Car:
    index: int
    length: float
    lane: int
    s: float
    v: float
    v0: float
    heading: float
    phase: float
    halt_at: int
    """Next frame at which the car stops at the kerb, if it is then in the curb lane."""
    halt_until: int = -1
    crossing: int = 0
    """Index of the next crossing on the current lane."""
    came_from: int = -1
    """Road just turned off: its crossing on the new lane is already behind the car."""
    decided: bool = False
    """Whether `turn` holds the choice for the next crossing yet."""
    turn: Turn | None = None
    """The turn to take at the next crossing; None: straight on."""


class Traffic:
    """Intelligent-driver-model car following on the scene's lanes, with lights and turns.

    `register(sprite)` makes a new car an object of the video and returns its index;
    `forget(index)` tells the video that a car has left the world for good.
    """

    def __init__(
        self,
        scene: Scene,
        rng: np.random.Generator,
        density: float,
        register: Callable[[Sprite], int],
        forget: Callable[[int], None],
    ) -> None:
        self.rng, self.scene, self.density = rng, scene, density
        self.register, self.forget = register, forget
        self.light_offset = rng.integers(0, LIGHT_CYCLE, max(1, self.scene.lights)).tolist()
        self.cars: list[Car] = []
        for lane_index, lane in enumerate(self.scene.lanes):
            s = rng.exponential(1 / (LINE_DENSITY * self.density))
            while s < lane.length:
                car = self._new_car(lane_index, s, -WARMUP)
                self.cars.append(car)
                s += car.length + MIN_GAP + 2 + rng.exponential(1 / (LINE_DENSITY * self.density))
        for t in range(-WARMUP, 0):
            self.step(t)

    def _new_car(self, lane: int, s: float, t: int) -> Car:
        sprite = vehicle_sprite(self.rng, self.scene.shadow_ratio)
        v0 = self.rng.uniform(0.7, 1.6)
        return Car(
            self.register(sprite),
            sprite.length,
            lane,
            s,
            v0 * self.rng.uniform(0.5, 1.0),
            v0,
            self.scene.lanes[lane].heading,
            float(self.rng.uniform(0, 2 * math.pi)),
            halt_at=t + int(self.rng.geometric(HALT_RATE)),
        )

    def poses(self) -> list[tuple[int, float, float, float]]:
        return [
            (car.index, *self.scene.lanes[car.lane].point(car.s), car.heading) for car in self.cars
        ]

    def step(self, t: int) -> None:
        by_lane: dict[int, list[Car]] = {}
        for car in self.cars:
            by_lane.setdefault(car.lane, []).append(car)
        for cars in by_lane.values():
            cars.sort(key=attrgetter("s"), reverse=True)
        for cars in list(by_lane.values()):
            leader: Car | None = None
            for car in cars:
                self._drive(car, leader, by_lane, t)
                leader = car
        self._spawn(by_lane, t)
        lanes, staying = self.scene.lanes, []
        for car in self.cars:
            if car.s - car.length / 2 > lanes[car.lane].length:
                self.forget(car.index)
            else:
                staying.append(car)
        self.cars = staying

    def _drive(self, car: Car, leader: Car | None, by_lane: dict[int, list[Car]], t: int) -> None:
        lane = self.scene.lanes[car.lane]
        obstacles = []
        if leader is not None:
            obstacles.append(
                (leader.s - leader.length / 2 - car.s - car.length / 2, car.v - leader.v)
            )
        crossing = self._next_crossing(car)
        front = car.s + car.length / 2
        if crossing is not None:
            if not self._green(crossing.light, lane, t) and front <= crossing.s_stop + 0.5:
                distance = crossing.s_stop - front
                if car.v**2 / (2 * max(distance, 0.1)) <= MAX_DECEL:
                    obstacles.append((distance, car.v))
            turn = car.turn
            if (
                turn is not None
                and turn.s_from - car.s < TURN_LOOKAHEAD
                and self._blocked(car, turn, by_lane)
            ):
                obstacles.append((turn.s_from - car.s - 1, car.v))
        if t >= car.halt_at:
            if lane.curb:
                car.halt_until = t + int(self.rng.integers(30, 150))
            car.halt_at = max(t, car.halt_until) + int(self.rng.geometric(HALT_RATE))
        if car.halt_until >= t:
            accel = -min(COMFORT_DECEL, car.v)
        else:
            v0 = car.v0 * (1 + SPEED_WOBBLE * math.sin(t / 50 + car.phase))
            accel = math.inf if obstacles else _idm(car.v, v0, math.inf, 0.0)
            for gap, dv in obstacles:
                accel = min(accel, _idm(car.v, v0, gap, dv))
        car.v = max(0.0, car.v + min(max(accel, -MAX_DECEL), ACCEL))
        car.s += car.v
        if car.turn is not None and car.s >= car.turn.s_from:
            car.came_from, car.lane = lane.road, car.turn.lane
            car.s = car.turn.s_to + car.s - car.turn.s_from
            car.crossing, car.turn, car.decided = 0, None, False
        target = self.scene.lanes[car.lane].heading
        if car.heading != target:
            turn = (target - car.heading + math.pi) % (2 * math.pi) - math.pi
            car.heading += min(max(turn, -TURN_RATE), TURN_RATE)

    def _next_crossing(self, car: Car) -> Crossing | None:
        crossings = self.scene.crossings[car.lane]
        while car.crossing < len(crossings) and (
            crossings[car.crossing].s_exit < car.s or crossings[car.crossing].road == car.came_from
        ):
            car.crossing, car.decided = car.crossing + 1, False
        if car.crossing == len(crossings):
            return None
        crossing = crossings[car.crossing]
        if not car.decided:
            car.turn, car.decided = self._decide(crossing), True
        return crossing

    def _decide(self, c: Crossing) -> Turn | None:
        if c.straight:
            if c.right is not None and self.rng.random() < TURN_RIGHT:
                return c.right
            if c.left is not None and self.rng.random() < TURN_LEFT:
                return c.left
            return None
        options = [turn for turn in (c.right, c.left) if turn is not None]
        return options[self.rng.integers(len(options))] if options else None

    def _green(self, light: int, lane: Lane, t: int) -> bool:
        phase = ((t + self.light_offset[light]) % LIGHT_CYCLE) / LIGHT_CYCLE
        return phase < 0.45 if lane.direction[1] == 0 else 0.5 <= phase < 0.95

    def _blocked(self, car: Car, turn: Turn, by_lane: dict[int, list[Car]]) -> bool:
        return any(
            abs(other.s - turn.s_to) < (other.length + car.length) / 2 + MIN_GAP
            for other in by_lane.get(turn.lane, [])
        )

    def _spawn(self, by_lane: dict[int, list[Car]], t: int) -> None:
        for index, lane in enumerate(self.scene.lanes):
            if not lane.enters or self.rng.random() >= SPAWN_RATE * self.density:
                continue
            cars = by_lane.get(index, [])
            if cars and min(c.s - c.length / 2 for c in cars) < 12 + 2 * MIN_GAP:
                continue
            self.cars.append(self._new_car(index, 0.0, t))


def _idm(v: float, v0: float, gap: float, dv: float) -> float:
    """Intelligent driver model acceleration for speed v, desired v0, gap and closing speed dv."""
    desired_gap = MIN_GAP + v * HEADWAY + v * dv / IDM_BRAKING
    return ACCEL * (1 - (v / max(v0, 1e-3)) ** 4 - (max(desired_gap, 0.0) / max(gap, 0.01)) ** 2)
