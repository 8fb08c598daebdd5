"""Detection quality for training validation and the model benchmark: AP@IoU and centre recall.

Centre recall (a gt counts as found when a detection's centre lies within a few pixels of its
centre) is reported beside AP because IoU is brittle for 4x8 px vehicles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tgram.classes import class_name_of_gt_id
from tgram.geometry import box_centres, iou_matrix

RECALL_SCORE = 0.3
"""Score at which centre recall is counted: a fixed operating point, so recall moves only
with the model (AP covers every threshold)."""


@dataclass(frozen=True)
class ImageDetections:
    boxes: np.ndarray  # [n, 4] xyxy
    scores: np.ndarray  # [n]
    classes: np.ndarray  # [n] 0-based


@dataclass(frozen=True)
class ImageGroundTruth:
    boxes: np.ndarray  # [m, 4] xyxy
    classes: np.ndarray  # [m] 0-based


def gt_frame(rows: np.ndarray, frame: int, class_names: Sequence[str]) -> ImageGroundTruth:
    """One frame's boxes of a gt array (`formats.read_gt` rows) as 0-based model classes
    (-1 for classes the model does not have, which then only count as misses of no class)."""
    here = rows[rows["frame"] == frame]
    index = {name: i for i, name in enumerate(class_names)}
    classes = np.array([index.get(class_name_of_gt_id(int(c)), -1) for c in here["cls"]], np.int64)
    boxes = np.stack([here["x"], here["y"], here["x"] + here["w"], here["y"] + here["h"]], 1)
    return ImageGroundTruth(boxes.reshape(-1, 4).astype(np.float32), classes)


def average_precision(recall: np.ndarray, precision: np.ndarray) -> float:
    """Area under the interpolated precision/recall curve (VOC 2010+ all-points)."""
    r = np.concatenate([[0.0], recall, [1.0]])
    p = np.concatenate([[0.0], precision, [0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]
    steps = np.nonzero(r[1:] != r[:-1])[0]
    return float(np.sum((r[steps + 1] - r[steps]) * p[steps + 1]))


def detection_metrics(
    detections: Sequence[ImageDetections],
    ground_truth: Sequence[ImageGroundTruth],
    class_names: Sequence[str],
    *,
    iou_threshold: float = 0.5,
    centre_radius_px: float = 4.0,
    score_threshold: float = RECALL_SCORE,
) -> dict[str, float]:
    """Per-class and mean AP@`iou_threshold`, and centre recall at `score_threshold`.

    Keys: `ap50/<class>`, `centre_recall/<class>`, `map50`, `centre_recall` (classes with no
    ground truth are left out of the means).
    """
    if len(detections) != len(ground_truth):
        raise ValueError(
            f"{len(detections)} detection images vs {len(ground_truth)} ground-truth images"
        )
    out: dict[str, float] = {}
    aps, recalls = [], []
    for c, name in enumerate(class_names):
        scores, hits, n_gt, found = [], [], 0, 0
        for det, gt in zip(detections, ground_truth, strict=True):
            d_mask, g_mask = det.classes == c, gt.classes == c
            d_boxes, d_scores, g_boxes = det.boxes[d_mask], det.scores[d_mask], gt.boxes[g_mask]
            n_gt += len(g_boxes)
            order = np.argsort(-d_scores, kind="stable")
            d_boxes, d_scores = d_boxes[order], d_scores[order]
            hits.append(_greedy_hits(iou_matrix(d_boxes, g_boxes), iou_threshold))
            scores.append(d_scores)
            found += _centres_found(d_boxes[d_scores >= score_threshold], g_boxes, centre_radius_px)
        if n_gt == 0:
            continue
        all_scores = np.concatenate(scores)
        all_hits = np.concatenate(hits)[np.argsort(-all_scores, kind="stable")]
        tp = np.cumsum(all_hits)
        precision = tp / np.arange(1, len(tp) + 1)
        ap = average_precision(tp / n_gt, precision) if len(tp) else 0.0
        out[f"ap50/{name}"] = ap
        out[f"centre_recall/{name}"] = found / n_gt
        aps.append(ap)
        recalls.append(found / n_gt)
    out["map50"] = float(np.mean(aps)) if aps else 0.0
    out["centre_recall"] = float(np.mean(recalls)) if recalls else 0.0
    return out


def _greedy_hits(iou: np.ndarray, threshold: float) -> np.ndarray:
    """VOC matching: detections in score order each take the best still-free gt above threshold."""
    hits = np.zeros(iou.shape[0], bool)
    taken = np.zeros(iou.shape[1], bool)
    for i in range(iou.shape[0]):
        if iou.shape[1] == 0:
            break
        candidates = np.where(taken, -1.0, iou[i])
        j = int(np.argmax(candidates))
        if candidates[j] >= threshold:
            hits[i] = taken[j] = True
    return hits


def _centres_found(det_boxes: np.ndarray, gt_boxes: np.ndarray, radius: float) -> int:
    if len(det_boxes) == 0 or len(gt_boxes) == 0:
        return 0
    dc, gc = box_centres(det_boxes), box_centres(gt_boxes)
    dist = np.linalg.norm(gc[:, None, :] - dc[None, :, :], axis=2)
    return int(np.sum(dist.min(axis=1) <= radius))
