from __future__ import annotations

import numpy as np
import pytest

from tgram.synth.config import SynthConfig
from tgram.synth.sensor import Sensor, optics_blur
from tgram.synth.world import MARGIN

QUIET = SynthConfig(
    width=80, height=64, frames=2, jitter_px=0.0, noise_sigma=0.0, brightness_drift=0.0
)


def world(value: int | np.ndarray = 100) -> np.ndarray:
    """A world canvas (frame plus MARGIN on every side) of one grey level or given columns."""
    canvas = np.empty((QUIET.height + 2 * MARGIN, QUIET.width + 2 * MARGIN, 3), np.uint8)
    canvas[:] = np.asarray(value, np.uint8).reshape(1, -1, 1)
    return canvas


def test_without_effects_a_frame_is_the_world_window() -> None:
    canvas = np.random.default_rng(0).integers(0, 256, world().shape, dtype=np.uint8)
    frame = Sensor(QUIET, np.random.default_rng(1)).expose(canvas, 0)
    assert np.array_equal(frame, canvas[MARGIN:-MARGIN, MARGIN:-MARGIN])


@pytest.mark.parametrize(("shift", "edge_value"), [(0.25, 50), (0.5, 100), (0.75, 150)])
def test_sub_pixel_jitter_interpolates_neighbours(shift: float, edge_value: int) -> None:
    columns = np.where(np.arange(QUIET.width + 2 * MARGIN) < 10, 0, 200)
    sensor = Sensor(QUIET, np.random.default_rng(1))
    sensor.jitter[0] = (shift, 0.0)
    frame = sensor.expose(world(columns), 0)
    # frame column u samples world x = u + MARGIN + shift: column 5 lies between x 9 and 10
    assert frame[:, 4].max() == 0 and frame[:, 6].min() == 200
    assert (frame[:, 5] == edge_value).all()


def test_gain_scales_the_brightness() -> None:
    sensor = Sensor(QUIET, np.random.default_rng(1))
    sensor.gain[1] = 1.1
    assert (sensor.expose(world(100), 1) == 110).all()


def test_noise_has_the_configured_sigma_and_changes_every_frame() -> None:
    sensor = Sensor(
        SynthConfig(width=256, height=192, frames=2, jitter_px=0.0), np.random.default_rng(2)
    )
    canvas = np.full((192 + 2 * MARGIN, 256 + 2 * MARGIN, 3), 100, np.uint8)
    sensor.gain[:] = 1.0
    first, second = (sensor.expose(canvas, t).astype(float) for t in (0, 1))
    assert abs(first.mean() - 100) < 0.05
    assert 1.9 < first.std() < 2.15  # sigma 2 plus the uint8 rounding of the noise tile
    assert (first != second).mean() > 0.5


def test_optics_blur_keeps_the_light_and_zero_sigma_is_no_blur() -> None:
    image = np.zeros((9, 9), np.float32)
    image[4, 4] = 1.0
    blurred = optics_blur(image, 0.6)
    assert blurred.sum() == pytest.approx(1.0) and 0.3 < blurred[4, 4] < 0.5
    assert optics_blur(image, 0.0) is image
