"""Road traffic: intelligent-driver-model car following on the scene's lanes, with lights and turns.

The cars are one structured array (a row per car, in creation order, which is also the
order they are drawn in) and a frame is one vectorised update of all of them: a video
simulates ~500 cars over 420 frames (warm-up included), which as a per-car Python loop
cost more CPU than compositing them. Every car moves on the state of the frame before (a
synchronous update): a follower sees its leader where the leader was, never further
ahead than it now is, so keeping the IDM's gap to that position keeps queues apart.

The constants are legacy pixels (tgram.synth.style): speeds, accelerations and gaps are
scaled by the scene's `speed`, distances along lanes by its `scale`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tgram.synth.compositor import Poses
from tgram.synth.movers import SPEED_WOBBLE
from tgram.synth.sprites import Sprite, vehicle_sprite
from tgram.synth.world import Scene

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

NO_TURN = -1
CAR = np.dtype(
    [
        ("index", np.int64),
        ("length", np.float64),
        ("lane", np.int64),
        ("s", np.float64),
        ("v", np.float64),
        ("v0", np.float64),
        ("heading", np.float64),
        ("phase", np.float64),
        ("halt_at", np.int64),  # next frame at which it stops at the kerb, if then in the curb lane
        ("halt_until", np.int64),
        ("crossing", np.int64),  # rank of the next crossing on its lane
        ("came_from", np.int64),  # road just turned off: its crossing on the new lane is behind
        ("decided", np.bool_),  # whether the turn fields hold the choice for the next crossing
        ("turn", np.int64),  # lane to turn into at the next crossing; NO_TURN: straight on
        ("turn_from", np.float64),
        ("turn_to", np.float64),
    ]
)
"""One car of the simulation (object index, size, where it is, how it drives, what it plans)."""


@dataclass(frozen=True)
class LaneTables:
    """The scene's lanes, and their crossings ranked in driving order, as arrays.

    Crossing tables are [lane, rank], padded past each lane's last crossing with one that
    is never passed (s_exit infinite, road -2, which no car came from), so a car's
    next-crossing rank stops there.
    """

    origin: np.ndarray
    direction: np.ndarray
    length: np.ndarray
    heading: np.ndarray
    road: np.ndarray
    curb: np.ndarray
    horizontal: np.ndarray
    entries: np.ndarray
    """Indices of the lanes whose start lies outside the world (cars appear there)."""
    crossings: np.ndarray
    """Number of crossings on each lane."""
    cross_road: np.ndarray
    light: np.ndarray
    s_stop: np.ndarray
    s_exit: np.ndarray
    straight: np.ndarray
    turn_lane: np.ndarray
    """[lane, rank, 0: right / 1: left] target lane of the turn, NO_TURN if there is none."""
    turn_from: np.ndarray
    turn_to: np.ndarray

    @staticmethod
    def of(scene: Scene) -> LaneTables:
        lanes, crossings = scene.lanes, scene.crossings
        shape = (len(lanes), max((len(c) for c in crossings), default=0) + 1)
        road, light = np.full(shape, -2, np.int64), np.zeros(shape, np.int64)
        s_stop, s_exit = np.zeros(shape), np.full(shape, np.inf)
        straight = np.zeros(shape, bool)
        turn_lane = np.full((*shape, 2), NO_TURN, np.int64)
        turn_from, turn_to = np.zeros((*shape, 2)), np.zeros((*shape, 2))
        for i, ranked in enumerate(crossings):
            for k, c in enumerate(ranked):
                road[i, k], light[i, k], straight[i, k] = c.road, c.light, c.straight
                s_stop[i, k], s_exit[i, k] = c.s_stop, c.s_exit
                for side, turn in enumerate((c.right, c.left)):
                    if turn is not None:
                        turn_lane[i, k, side] = turn.lane
                        turn_from[i, k, side], turn_to[i, k, side] = turn.s_from, turn.s_to
        return LaneTables(
            origin=np.array([lane.origin for lane in lanes], np.float64).reshape(-1, 2),
            direction=np.array([lane.direction for lane in lanes], np.float64).reshape(-1, 2),
            length=np.array([lane.length for lane in lanes], np.float64),
            heading=np.array([lane.heading for lane in lanes], np.float64),
            road=np.array([lane.road for lane in lanes], np.int64),
            curb=np.array([lane.curb for lane in lanes], bool),
            horizontal=np.array([lane.direction[1] == 0 for lane in lanes], bool),
            entries=np.array([i for i, lane in enumerate(lanes) if lane.enters], np.int64),
            crossings=np.array([len(c) for c in crossings], np.int64),
            cross_road=road,
            light=light,
            s_stop=s_stop,
            s_exit=s_exit,
            straight=straight,
            turn_lane=turn_lane,
            turn_from=turn_from,
            turn_to=turn_to,
        )


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
        new_sprite: Callable[[np.random.Generator], Sprite] | None = None,
    ) -> None:
        self.rng, self.scene, self.density = rng, scene, density
        self.register, self.forget = register, forget
        self.new_sprite = new_sprite or (lambda r: vehicle_sprite(r, scene.shadow_ratio))
        g, v = scene.scale, scene.speed
        self.accel, self.comfort, self.max_decel = ACCEL * v, COMFORT_DECEL * v, MAX_DECEL * v
        self.min_gap, self.braking = MIN_GAP * v, IDM_BRAKING * v
        self.line_density, self.lookahead, self.g = LINE_DENSITY / g, TURN_LOOKAHEAD * g, g
        self.lanes = LaneTables.of(scene)
        self.light_offset = rng.integers(0, LIGHT_CYCLE, max(1, scene.lights))
        cars = [np.zeros(0, CAR)]
        for lane_index, lane in enumerate(scene.lanes):
            s = rng.exponential(1 / (self.line_density * density))
            while s < lane.length:
                cars.append(self._new_car(lane_index, s, -WARMUP))
                s += cars[-1]["length"][0] + self.min_gap + 2 * g
                s += rng.exponential(1 / (self.line_density * density))
        self.cars = np.concatenate(cars)
        for t in range(-WARMUP, 0):
            self.step(t)

    def _new_car(self, lane: int, s: float, t: int) -> np.ndarray:
        """A new car (a CAR array of one) on `lane` at `s`, appearing at frame t."""
        sprite = self.new_sprite(self.rng)
        v0 = self.rng.uniform(0.7, 1.6) * self.scene.speed
        car = np.zeros(1, CAR)
        car["index"] = self.register(sprite)
        car["length"], car["lane"], car["s"] = sprite.length, lane, s
        car["v"], car["v0"] = v0 * self.rng.uniform(0.5, 1.0), v0
        car["heading"] = self.lanes.heading[lane]
        car["phase"] = self.rng.uniform(0, 2 * math.pi)
        car["halt_at"] = t + int(self.rng.geometric(HALT_RATE))
        # not halted: a halt lasts while halt_until >= t, so it must start before t (with
        # -1, every car would halt through the warm-up, whose frames are negative)
        car["halt_until"], car["came_from"], car["turn"] = t - 1, -1, NO_TURN
        return car

    def _interaction(self, v: np.ndarray, gap: np.ndarray, closing: np.ndarray) -> np.ndarray:
        return _interaction(v, gap, closing, self.min_gap, self.braking)

    def poses(self) -> Poses:
        """Where the cars are drawn, in creation order."""
        cars, lanes = self.cars, self.lanes
        at = lanes.origin[cars["lane"]] + lanes.direction[cars["lane"]] * cars["s"][:, None]
        return Poses(cars["index"], at[:, 0], at[:, 1], cars["heading"])

    def step(self, t: int) -> None:
        """Advance every car by one frame, then let new cars in and drop those that left."""
        cars, lanes = self.cars, self.lanes
        self._next_crossings()
        lane, s, v, length = cars["lane"], cars["s"], cars["v"], cars["length"]
        rank = cars["crossing"]
        ahead = _leaders(lane, s)
        # the IDM's interaction term, largest over the obstacles: the leader, a red light, a
        # turn into a lane that has no room (no obstacle: 0, free-road driving)
        has_leader = ahead >= 0
        leader = np.where(has_leader, ahead, 0)
        gap = np.where(has_leader, s[leader] - length[leader] / 2 - s - length / 2, np.inf)
        interaction = self._interaction(v, gap, v - np.where(has_leader, v[leader], v))
        front = s + length / 2
        to_stop = lanes.s_stop[lane, rank] - front
        red = (
            (rank < lanes.crossings[lane])
            & ~self._green(lanes.light[lane, rank], lane, t)
            & (to_stop >= -0.5 * self.g)
            & (v**2 / (2 * np.maximum(to_stop, 0.1 * self.g)) <= self.max_decel)
        )
        np.maximum(
            interaction, np.where(red, self._interaction(v, to_stop, v), 0.0), out=interaction
        )
        blocked = self._blocked_turns()
        if len(blocked):
            gap = cars["turn_from"][blocked] - s[blocked] - 1 * self.g
            interaction[blocked] = np.maximum(
                interaction[blocked], self._interaction(v[blocked], gap, v[blocked])
            )
        self._halts(t)
        v0 = cars["v0"] * (1 + SPEED_WOBBLE * np.sin(t / 50 + cars["phase"]))
        accel = self.accel * (1 - (v / np.maximum(v0, 1e-3)) ** 4 - interaction)
        accel = np.where(cars["halt_until"] >= t, -np.minimum(self.comfort, v), accel)
        cars["v"] = np.maximum(0.0, v + np.clip(accel, -self.max_decel, self.accel))
        cars["s"] += cars["v"]
        self._turn()
        heading = cars["heading"]
        swing = (lanes.heading[cars["lane"]] - heading + math.pi) % (2 * math.pi) - math.pi
        cars["heading"] = heading + np.clip(swing, -TURN_RATE, TURN_RATE)
        gone = cars["s"] - cars["length"] / 2 > lanes.length[cars["lane"]]
        for index in cars["index"][gone].tolist():
            self.forget(index)
        self.cars = cars[~gone]
        self._spawn(t)

    def _next_crossings(self) -> None:
        """Move each car's next-crossing rank past the crossings it has left (or turned in
        from), and choose its turn at a crossing it has not decided on yet."""
        cars, lanes = self.cars, self.lanes
        while True:
            lane, rank = cars["lane"], cars["crossing"]
            passed = np.flatnonzero(
                (lanes.s_exit[lane, rank] < cars["s"])
                | (lanes.cross_road[lane, rank] == cars["came_from"])
            )
            if not len(passed):
                break
            cars["crossing"][passed] += 1
            cars["decided"][passed] = False
            cars["turn"][passed] = NO_TURN
        undecided = np.flatnonzero(~cars["decided"] & (rank < lanes.crossings[lane]))
        if len(undecided):
            self._decide(undecided)

    def _decide(self, which: np.ndarray) -> None:
        """Turn right, left or go straight on at the next crossing, as the crossing allows."""
        cars, lanes = self.cars, self.lanes
        lane, rank = cars["lane"][which], cars["crossing"][which]
        right, left = (lanes.turn_lane[lane, rank, side] != NO_TURN for side in (0, 1))
        draw = self.rng.random((len(which), 2))
        side = np.where(
            lanes.straight[lane, rank],
            # straight on is possible: a turn by chance
            np.where(
                right & (draw[:, 0] < TURN_RIGHT),
                0,
                np.where(left & (draw[:, 1] < TURN_LEFT), 1, -1),
            ),
            # a T-junction's end: one of the turns there is, evenly
            np.where(
                right & left,
                (draw[:, 0] < 0.5).astype(np.int64),
                np.where(right, 0, np.where(left, 1, -1)),
            ),
        )
        turning = side >= 0
        side = np.maximum(side, 0)
        cars["turn"][which] = np.where(turning, lanes.turn_lane[lane, rank, side], NO_TURN)
        cars["turn_from"][which] = lanes.turn_from[lane, rank, side]
        cars["turn_to"][which] = lanes.turn_to[lane, rank, side]
        cars["decided"][which] = True

    def _green(self, light: np.ndarray, lane: np.ndarray, t: int) -> np.ndarray:
        phase = ((t + self.light_offset[light]) % LIGHT_CYCLE) / LIGHT_CYCLE
        return np.where(self.lanes.horizontal[lane], phase < 0.45, (phase >= 0.5) & (phase < 0.95))

    def _blocked_turns(self) -> np.ndarray:
        """Cars close before their turn whose target lane has a car where they would enter it."""
        cars = self.cars
        near = np.flatnonzero(
            (cars["turn"] != NO_TURN) & (cars["turn_from"] - cars["s"] < self.lookahead)
        )
        if not len(near):
            return near
        # [turning car, car on a lane turned into]: both few, so the matrix is small
        other = np.flatnonzero(np.isin(cars["lane"], cars["turn"][near]))
        there = (cars["lane"][other] == cars["turn"][near, None]) & (
            np.abs(cars["s"][other] - cars["turn_to"][near, None])
            < (cars["length"][other] + cars["length"][near, None]) / 2 + self.min_gap
        )
        return near[there.any(axis=1)]

    def _halts(self, t: int) -> None:
        """Cars due to stop at the kerb do so if they are in the curb lane; all draw the next time."""
        cars = self.cars
        due = np.flatnonzero(t >= cars["halt_at"])
        if not len(due):
            return
        stay = t + self.rng.integers(30, 150, len(due))
        until = np.where(self.lanes.curb[cars["lane"][due]], stay, cars["halt_until"][due])
        cars["halt_until"][due] = until
        cars["halt_at"][due] = np.maximum(t, until) + self.rng.geometric(HALT_RATE, len(due))

    def _turn(self) -> None:
        """Cars that reached their turn's start continue on the target lane."""
        cars = self.cars
        turned = np.flatnonzero((cars["turn"] != NO_TURN) & (cars["s"] >= cars["turn_from"]))
        if not len(turned):
            return
        c = cars[turned]
        c["came_from"] = self.lanes.road[c["lane"]]
        c["s"] = c["turn_to"] + c["s"] - c["turn_from"]
        c["lane"] = c["turn"]
        c["turn"], c["crossing"], c["decided"] = NO_TURN, 0, False
        cars[turned] = c

    def _spawn(self, t: int) -> None:
        """New cars on entry lanes, by chance, where the lane's start has room."""
        entries = self.lanes.entries
        arriving = entries[self.rng.random(len(entries)) < SPAWN_RATE * self.density]
        new = []
        for lane in arriving.tolist():
            on = self.cars["lane"] == lane
            rear = self.cars["s"][on] - self.cars["length"][on] / 2
            if not len(rear) or rear.min() >= 12 * self.g + 2 * self.min_gap:
                new.append(self._new_car(lane, 0.0, t))
        if new:
            self.cars = np.concatenate([self.cars, *new])


def _leaders(lane: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Index of the car just ahead on the same lane, -1 for the first car of a lane."""
    order = np.lexsort((-s, lane))
    ahead = np.full(len(s), -1, np.int64)
    same = lane[order[1:]] == lane[order[:-1]]
    ahead[order[1:][same]] = order[:-1][same]
    return ahead


def _interaction(
    v: np.ndarray,
    gap: np.ndarray,
    closing: np.ndarray,
    min_gap: float = MIN_GAP,
    braking: float = IDM_BRAKING,
) -> np.ndarray:
    """The IDM's interaction term (desired gap / gap)^2 for speed v, a gap and closing speed."""
    desired = np.maximum(min_gap + v * HEADWAY + v * closing / braking, 0.0)
    return (desired / np.maximum(gap, 0.01)) ** 2
