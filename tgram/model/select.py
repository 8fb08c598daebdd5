"""Candidates -> detections: the half of post-processing that needs no torch.

The network side (`decode.candidates`: in PyTorch, or traced into the ONNX graph) picks each
image's top-K heatmap cells with their boxes and embeddings. What is left (the score
threshold, box NMS, float16 rounding of embeddings, clipping to the frame) runs here in numpy,
so a process that runs the network on ONNX Runtime never imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from tgram.detections import Detections
from tgram.model.config import PeakRule

BOX_NMS_IOU = 0.3
"""IoU above which the lower-scoring of two same-class candidate boxes is dropped (rule "box")."""


@dataclass(frozen=True)
class Candidates:
    """One image's top-K cells, best first. Cells padded in to make K (a constant of the
    exported graph, whatever the frame size) have score 0 and class -1."""

    scores: np.ndarray  # [K] float32, sorted descending
    classes: np.ndarray  # [K] int64
    boxes: np.ndarray  # [K, 4] float32 xyxy, input pixels
    embeddings: np.ndarray  # [K, E] float32, unit length


def select(c: Candidates, *, score_threshold: float, peaks: PeakRule) -> Detections:
    """The candidates at or above `score_threshold`; with the "box" peak rule, also without
    the same-class boxes that a higher-scoring one overlaps by more than BOX_NMS_IOU."""
    keep = np.flatnonzero((c.scores >= score_threshold) & (c.classes >= 0))
    if peaks == "box":
        keep = keep[box_nms_keep(c.boxes[keep], c.classes[keep], BOX_NMS_IOU)]
    return Detections(
        c.boxes[keep].astype(np.float32),
        c.scores[keep].astype(np.float32),
        c.classes[keep].astype(np.int64),
        c.embeddings[keep].astype(np.float32),
    )


def box_nms_keep(boxes: np.ndarray, classes: np.ndarray, iou: float) -> np.ndarray:
    """Fast NMS (YOLACT) per class over boxes sorted by descending score: keep a box unless a
    higher-scoring box of its class overlaps it by more than `iou`; a bool mask."""
    if len(boxes) == 0:
        return np.zeros(0, dtype=bool)
    x1, y1, x2, y2 = (boxes[:, i] for i in range(4))
    area = (x2 - x1).clip(min=0) * (y2 - y1).clip(min=0)
    w = (np.minimum(x2[:, None], x2[None]) - np.maximum(x1[:, None], x1[None])).clip(min=0)
    h = (np.minimum(y2[:, None], y2[None]) - np.maximum(y1[:, None], y1[None])).clip(min=0)
    inter = w * h
    overlap = inter / np.maximum(area[:, None] + area[None] - inter, 1e-6)
    overlap *= classes[:, None] == classes[None]
    return np.triu(overlap, k=1).max(axis=0) <= iou


def finish(det: Detections, *, width: int, height: int) -> Detections:
    """What every runtime hands the tracker: boxes clipped to the frame (the network saw it
    padded), embeddings rounded to float16 precision. The batch job ships embeddings as
    float16 and its tracks must equal `tgram track`'s; appearance cosines move by ~1e-4, far
    below any association threshold."""
    det = replace(det, embeddings=det.embeddings.astype(np.float16).astype(np.float32))
    return det.clip(width=width, height=height)
