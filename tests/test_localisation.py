"""What limits small boxes' IoU (tests/bench/localisation.py), on boxes with known errors."""

import numpy as np
import pytest

from tests.bench.localisation import localisation, nearest_within

RNG = np.random.default_rng(0)
OBJECTS, FRAMES = 200, 20


def cars() -> tuple[np.ndarray, np.ndarray]:
    """4 x 8 px boxes of OBJECTS cars over FRAMES frames at random sub-pixel places; ids."""
    corner = RNG.uniform(0, 500, (OBJECTS, 2))
    boxes = np.concatenate([corner, corner + [4.0, 8.0]], axis=1)
    return np.tile(boxes, (FRAMES, 1)), np.tile(np.arange(OBJECTS), FRAMES)


def shifted(boxes: np.ndarray, by: np.ndarray) -> np.ndarray:
    return boxes + np.concatenate([by, by], axis=1)


def test_nearest_within_keeps_only_detections_inside_the_radius():
    truth = np.array([[0, 0, 4, 8], [100, 100, 104, 108]], float)
    detected = np.array([[103, 101, 107, 109], [1, 0, 5, 8]], float)
    assert nearest_within(detected, truth, 5.0).tolist() == [[0, 1], [1, 0]]
    assert nearest_within(detected, truth, 2.0).tolist() == [[0, 1]]
    assert nearest_within(detected[:0], truth, 5.0).shape == (0, 2)


def test_a_centre_off_by_two_pixels_is_what_costs_the_iou():
    truth, ids = cars()
    m = localisation(shifted(truth, np.full((len(truth), 2), 2.0)), truth, ids)
    assert m.iou50 == 0.0  # 2 x 6 / (64 - 12) on 4 x 8
    assert m.iou50_true_centre == 1.0 and m.iou50_true_size == 0.0
    assert m.centre_error_px == pytest.approx(2 * np.sqrt(2))


def test_a_wrong_size_is_told_apart_from_a_wrong_centre():
    truth, ids = cars()
    centre = (truth[:, :2] + truth[:, 2:]) / 2
    doubled = np.concatenate([centre - [4.0, 8.0], centre + [4.0, 8.0]], axis=1)
    m = localisation(doubled, truth, ids)
    assert m.iou50 == 0.0 and m.iou50_true_centre == 0.0 and m.iou50_true_size == 1.0


def test_bias_share_separates_an_error_each_object_keeps_from_noise_of_each_frame():
    truth, ids = cars()
    per_object = RNG.normal(0, 0.7, (OBJECTS, 2))[ids]
    per_frame = RNG.normal(0, 0.7, (len(truth), 2))
    assert localisation(shifted(truth, per_object), truth, ids).bias_share == pytest.approx(1.0)
    assert localisation(shifted(truth, per_frame), truth, ids).bias_share < 0.1


def test_subcell_slope_is_one_when_positions_within_a_cell_are_resolved_and_zero_when_not():
    truth, ids = cars()
    noise = RNG.normal(0, 0.2, (len(truth), 2))
    slope = localisation(shifted(truth, noise), truth, ids).subcell_slope
    assert slope == pytest.approx(1, abs=0.1)
    centre = (truth[:, :2] + truth[:, 2:]) / 2
    middle = (np.floor(centre / 4) + 0.5) * 4  # every detection at its cell's middle
    m = localisation(shifted(truth, middle - centre), truth, ids)
    assert m.subcell_slope == pytest.approx(0.0, abs=1e-9)
