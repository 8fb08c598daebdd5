from __future__ import annotations

import numpy as np
import pytest

from tgram.detection_metrics import (
    ImageDetections,
    ImageGroundTruth,
    average_precision,
    detection_metrics,
)


def dets(boxes, scores, classes) -> ImageDetections:
    return ImageDetections(
        np.asarray(boxes, np.float32).reshape(-1, 4),
        np.asarray(scores, np.float32),
        np.asarray(classes),
    )


def gts(boxes, classes) -> ImageGroundTruth:
    return ImageGroundTruth(np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(classes))


def test_perfect_detections() -> None:
    gt = gts([[0, 0, 10, 10], [20, 20, 30, 30]], [0, 1])
    m = detection_metrics([dets(gt.boxes, [0.9, 0.8], [0, 1])], [gt], ["a", "b"])
    assert m["map50"] == 1.0 and m["centre_recall"] == 1.0


def test_hand_computed_ap() -> None:
    """Scores 0.9 (TP), 0.8 (FP), 0.7 (TP) over 2 gt: P/R = (1, .5), (.5, .5), (2/3, 1)."""
    gt = gts([[0, 0, 10, 10], [20, 20, 30, 30]], [0, 0])
    d = dets([[0, 0, 10, 10], [50, 50, 60, 60], [20, 20, 30, 30]], [0.9, 0.8, 0.7], [0, 0, 0])
    m = detection_metrics([d], [gt], ["a"])
    assert m["ap50/a"] == pytest.approx(0.5 * 1.0 + 0.5 * 2 / 3)


def test_duplicate_detection_is_a_false_positive() -> None:
    gt = gts([[0, 0, 10, 10]], [0])
    d = dets([[0, 0, 10, 10], [0, 0, 10, 10]], [0.9, 0.8], [0, 0])
    assert detection_metrics([d], [gt], ["a"])["ap50/a"] == 1.0  # the FP ranks after full recall
    d = dets([[0, 0, 10, 10], [0, 0, 10, 10]], [0.8, 0.9], [0, 0])
    assert detection_metrics([d], [gt], ["a"])["ap50/a"] == 1.0


def test_wrong_class_does_not_count_and_centre_recall_tolerates_tiny_offsets() -> None:
    gt = gts([[0, 0, 4, 8]], [0])
    shifted = dets([[2, 2, 6, 10]], [0.9], [0])  # IoU 0.33: AP misses it, centre distance 2.8 px
    m = detection_metrics([shifted], [gt], ["a"], centre_radius_px=3)
    assert m["ap50/a"] == 0.0 and m["centre_recall/a"] == 1.0
    m = detection_metrics([dets([[0, 0, 4, 8]], [0.9], [1])], [gt], ["a", "b"])
    assert m["ap50/a"] == 0.0 and "ap50/b" not in m


def test_average_precision_edges() -> None:
    assert average_precision(np.array([]), np.array([])) == 0.0
    assert average_precision(np.array([1.0]), np.array([1.0])) == 1.0
