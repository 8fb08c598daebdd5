"""How much each box stands out of what surrounds it, measured on the frame itself.

The training renderer paints many cars in the colour of the asphalt they park on, with no edge
or shadow that shows at the sensor's blur: their gt box is a car, the pixels are bare ground.
Taught as positives, they can only teach the parking row around them as evidence of a car;
the shipped weights fire on empty slots. Trained with `data.min_contrast: 3` (such cars ignored),
the same recipe stopped doing so on validation (val_sparse centre MOTA 0.07 -> 0.49), at a price
on imagery whose cars all stand out little (val_shift 0.10 -> 0.05): weights/experimental,
tgram_t3_vis.pt. A box whose mean colour differs from the ring around it by less than a few grey
levels (in every channel) shows nothing a detector could see.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

RING_PX = 3
"""Width of the ring around a box that stands for its surroundings."""


def box_contrast(image: np.ndarray, boxes_xyxy: np.ndarray, ring: int = RING_PX) -> np.ndarray:
    """[N] float32: max over channels of |mean inside the box - mean of the ground in the
    `ring` px around it| (grey levels) for an [H, W, C] image and [N, 4] boxes (rounded out to
    whole pixels, clipped to the image). The ground is what no box covers: in a parking row the
    ring is mostly the neighbouring cars, and a white car among white cars does show. A box with
    no pixels, or no ground around it, reads inf: nothing says it does not show."""
    boxes = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)
    h, w = image.shape[:2]
    if not len(boxes):
        return np.zeros(0, np.float32)
    ground = np.ones((h, w), np.float64)
    covered = np.clip(np.round(boxes), 0, [w, h, w, h]).astype(np.int64)
    for x0, y0, x1, y1 in covered.tolist():
        ground[y0:y1, x0:x1] = 0.0
    pixels = image.astype(np.float64)
    sums_of = _box_sums(pixels)
    ground_sums_of = _box_sums(pixels * ground[..., None])
    ground_counts_of = _box_sums(ground[..., None])
    x0 = np.clip(np.floor(boxes[:, 0]), 0, w).astype(np.int64)
    y0 = np.clip(np.floor(boxes[:, 1]), 0, h).astype(np.int64)
    x1 = np.clip(np.ceil(boxes[:, 2]), 0, w).astype(np.int64)
    y1 = np.clip(np.ceil(boxes[:, 3]), 0, h).astype(np.int64)
    outer = (np.clip(x0 - ring, 0, w), np.clip(y0 - ring, 0, h))
    outer += (np.clip(x1 + ring, 0, w), np.clip(y1 + ring, 0, h))
    area = ((x1 - x0) * (y1 - y0)).astype(np.float64)
    ground_count = (ground_counts_of(*outer) - ground_counts_of(x0, y0, x1, y1))[:, 0]
    ground_sum = ground_sums_of(*outer) - ground_sums_of(x0, y0, x1, y1)
    with np.errstate(invalid="ignore", divide="ignore"):
        difference = np.abs(
            sums_of(x0, y0, x1, y1) / area[:, None] - ground_sum / ground_count[:, None]
        )
    contrast = difference.max(axis=1)
    contrast[(area <= 0) | (ground_count <= 0)] = np.inf
    return contrast.astype(np.float32)


def _box_sums(image: np.ndarray) -> Callable[..., np.ndarray]:
    """Sums over [y0, y1) x [x0, x1) of an [H, W, C] image, per box, from one summed-area table."""
    h, w = image.shape[:2]
    table = np.zeros((h + 1, w + 1, image.shape[2]), np.float64)
    table[1:, 1:] = image.cumsum(0).cumsum(1)

    def sums(x0: np.ndarray, y0: np.ndarray, x1: np.ndarray, y1: np.ndarray) -> np.ndarray:
        return table[y1, x1] - table[y0, x1] - table[y1, x0] + table[y0, x0]

    return sums
