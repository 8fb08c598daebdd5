"""Selection after the network (numpy): threshold, suppressed cells, box NMS."""

from __future__ import annotations

import numpy as np

from tgram.model.select import Candidates, box_nms_keep, select


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union


def test_box_nms_equals_the_pairwise_rule_on_crowded_boxes() -> None:
    rng = np.random.default_rng(4)
    xy = rng.uniform(0, 40, (80, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(2, 9, (80, 2))], axis=1)
    boxes[0, 2:] += 50  # one large object: the neighbour search must reach across it
    classes = rng.integers(0, 2, 80)
    expected = [
        not any(classes[i] == classes[j] and _iou(boxes[i], boxes[j]) > 0.3 for i in range(j))
        for j in range(80)
    ]
    got = box_nms_keep(boxes, classes, 0.3)
    assert got.tolist() == expected and 0 < got.sum() < 80


def test_select_drops_suppressed_cells_and_low_scores() -> None:
    c = Candidates(
        scores=np.array([0.9, 0.5, 0.2, 0.0], np.float32),
        classes=np.array([1, 0, 0, 2]),
        boxes=np.array(
            [[0, 0, 4, 8], [10, 10, 14, 18], [20, 20, 24, 28], [0, 0, 0, 0]], np.float32
        ),
        embeddings=np.eye(4, dtype=np.float32),
    )
    assert select(c, score_threshold=0.3, peaks="box").classes.tolist() == [1, 0]
    assert len(select(c, score_threshold=0.0, peaks="maxpool")) == 3  # never a suppressed cell
