"""One frame's detections as arrays: what the detector (or the classical peer) gives and the
tracker takes. Neutral like `geometry`: model/, track/ and pipeline/ share it, and it imports
nothing but numpy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Detections:
    boxes: np.ndarray  # [N, 4] float32 xyxy, input pixels
    scores: np.ndarray  # [N] float32
    classes: np.ndarray  # [N] int64, 0-based
    embeddings: np.ndarray  # [N, E] float32, unit length

    def __len__(self) -> int:
        return len(self.scores)

    def clip(self, *, width: int, height: int) -> Detections:
        """Clip boxes to the image (padding added for the network is outside it)."""
        boxes = self.boxes.copy()
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, width)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, height)
        return Detections(boxes, self.scores, self.classes, self.embeddings)
