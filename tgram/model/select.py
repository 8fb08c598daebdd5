"""Candidates -> detections: the half of post-processing that needs no torch.

The network side (`decode.candidates`: in PyTorch, or traced into the ONNX graph) picks each
image's best heatmap cells with their boxes and embeddings. What is left (the score
threshold, box NMS, float16 rounding of embeddings, clipping to the frame) runs here in numpy,
so a process that runs the network on ONNX Runtime never imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.spatial import cKDTree

from tgram.detections import Detections
from tgram.geometry import iou_matrix
from tgram.model.config import PeakRule

BOX_NMS_IOU = 0.3
"""IoU above which the lower-scoring of two same-class candidate boxes is dropped (rule "box")."""


@dataclass(frozen=True)
class Candidates:
    """One image's candidate cells, best first; a cell that peak picking suppressed scores 0."""

    scores: np.ndarray  # [K] float32, sorted descending
    classes: np.ndarray  # [K] int64
    boxes: np.ndarray  # [K, 4] float32 xyxy, input pixels
    embeddings: np.ndarray  # [K, E] float32, unit length


def select(c: Candidates, *, score_threshold: float, peaks: PeakRule) -> Detections:
    """The candidates at or above `score_threshold`; with the "box" peak rule, also without
    the same-class boxes that a higher-scoring one overlaps by more than BOX_NMS_IOU."""
    keep = np.flatnonzero((c.scores >= score_threshold) & (c.scores > 0))
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
    higher-scoring box of its class overlaps it by more than `iou`; a bool mask. Only pairs
    near enough to overlap are compared (a k-d tree finds them): "box" peaks keep every cell
    above the threshold, thousands in a dense frame, and the full matrix grows as its square."""
    keep = np.ones(len(boxes), dtype=bool)
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    extent = (boxes[:, 2:] - boxes[:, :2]).max(axis=1).clip(min=0)
    for c in np.unique(classes):  # per class: a few airplanes must not widen every car's search
        (members,) = np.nonzero(classes == c)
        if len(members) < 2:
            continue
        # boxes overlap only if their centres are within the larger extent (Chebyshev)
        pairs = cKDTree(centres[members]).query_pairs(
            float(extent[members].max()), p=np.inf, output_type="ndarray"
        )
        rows, cols = members[pairs.min(axis=1)], members[pairs.max(axis=1)]
        keep[cols[iou_matrix(boxes, boxes, (rows, cols)) > iou]] = False
    return keep


def finish(det: Detections, *, width: int, height: int) -> Detections:
    """What every runtime hands the tracker: boxes clipped to the frame (the network saw it
    padded), embeddings rounded to float16 precision. The batch job ships embeddings as
    float16 and its tracks must equal `tgram track`'s; appearance cosines move by ~1e-4, far
    below any association threshold."""
    det = replace(det, embeddings=det.embeddings.astype(np.float16).astype(np.float32))
    return det.clip(width=width, height=height)
