from __future__ import annotations

import numpy as np
import pytest

from tgram.synth.traffic import LIGHT_CYCLE, Traffic
from tgram.synth.world import Crossing, Lane, Scene

STOP_LINE = 300.0


def one_lane(crossing: bool) -> Scene:
    """A 600 px eastbound lane entering and leaving the world, optionally with a signalled crossing."""
    h, w = 100, 600
    scene = Scene(
        np.zeros((h, w, 3), np.uint8),
        np.zeros((h, w), np.uint8),
        np.ones((h, w), np.float32),
        (1.0, 0.0),
        0.5,
    )
    scene.lanes = [Lane(0, (0.0, 50.0), (1.0, 0.0), 600.0, 0, True, True, True)]
    cross = Crossing(1, 0, STOP_LINE, STOP_LINE + 20, True, None, None)
    scene.crossings = [[cross] if crossing else []]
    scene.lights = 1 if crossing else 0
    return scene


def traffic(scene: Scene, seed: int, density: float) -> Traffic:
    count = iter(range(10**6))
    return Traffic(
        scene, np.random.default_rng(seed), density, lambda _: next(count), lambda _: None
    )


def gaps(sim: Traffic) -> np.ndarray:
    """Bumper-to-bumper distance from each car to the one ahead on the lane."""
    cars = sim.cars[np.argsort(sim.cars["s"])]
    return (cars["s"][1:] - cars["length"][1:] / 2) - (cars["s"][:-1] + cars["length"][:-1] / 2)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dense_traffic_never_collides(seed: int) -> None:
    sim = traffic(one_lane(crossing=False), seed, density=3.0)
    smallest = np.inf
    for t in range(300):
        sim.step(t)
        smallest = min(smallest, gaps(sim).min(initial=np.inf))
    assert smallest >= 0.0
    assert len(sim.cars) > 10


def test_cars_queue_at_a_red_light_and_go_on_green() -> None:
    sim = traffic(one_lane(crossing=True), 3, density=2.0)
    sim.light_offset[:] = LIGHT_CYCLE // 2  # from t = 0: red for eastbound for 45% of a cycle
    far = set(sim.cars["index"][sim.cars["s"] + sim.cars["length"] / 2 < STOP_LINE - 30].tolist())
    for t in range(int(0.45 * LIGHT_CYCLE)):
        sim.step(t)
        front = sim.cars["s"] + sim.cars["length"] / 2
        crossed = front > STOP_LINE + 0.5
        assert not far & set(sim.cars["index"][crossed].tolist()), "a car ran the red light"
    waiting = (sim.cars["v"] < 0.05) & (sim.cars["s"] < STOP_LINE)
    assert waiting.sum() >= 3
    queue = set(sim.cars["index"][waiting].tolist())
    for t in range(LIGHT_CYCLE // 2, LIGHT_CYCLE // 2 + 150):  # green
        sim.step(t)
    still_before = set(sim.cars["index"][sim.cars["s"] < STOP_LINE + 20].tolist())
    assert queue - still_before, "nobody left the queue on green"


def test_same_seed_same_traffic() -> None:
    a, b = (traffic(one_lane(crossing=True), 5, 1.0) for _ in range(2))
    for t in range(50):
        a.step(t)
        b.step(t)
    assert np.array_equal(a.cars, b.cars)
