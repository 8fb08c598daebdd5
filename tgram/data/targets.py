"""CenterNet/FairMOT training targets from boxes: heatmaps, ltrb sizes, offsets, ids.

Satellite vehicles are 4x8 px, one or two cells at stride 4, where CenterNet's radius is 0
and every positive would be a single cell next to near-identical negatives. A floor of
`MIN_RADIUS` cells gives the focal loss a small neighbourhood of reduced penalty instead.
"""

from __future__ import annotations

import math

import numpy as np

from tgram.geometry import DOWN_RATIO

MIN_RADIUS = 1
IGNORED_PEAK = 0.999
"""Peak of an ignored object's Gaussian: not 1, so it is no positive, and close enough to 1
that the focal loss's negative weight (1 - target)^4 vanishes around its centre."""


def gaussian_radius(height: float, width: float, min_overlap: float = 0.7) -> float:
    """CenterNet's radius: the corner shift that keeps IoU >= min_overlap (three cases)."""
    a1, b1 = 1, height + width
    c1 = width * height * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + math.sqrt(b1**2 - 4 * a1 * c1)) / 2
    a2, b2 = 4, 2 * (height + width)
    c2 = (1 - min_overlap) * width * height
    r2 = (b2 + math.sqrt(b2**2 - 4 * a2 * c2)) / 2
    a3, b3 = 4 * min_overlap, -2 * min_overlap * (height + width)
    c3 = (min_overlap - 1) * width * height
    r3 = (b3 + math.sqrt(b3**2 - 4 * a3 * c3)) / 2
    return min(r1, r2, r3)


def _radius(box: np.ndarray) -> int:
    """Gaussian radius (cells) of a box in cells, floored at MIN_RADIUS."""
    x1, y1, x2, y2 = box
    return max(MIN_RADIUS, int(gaussian_radius(math.ceil(y2 - y1), math.ceil(x2 - x1))))


def draw_gaussian(heatmap: np.ndarray, cx: int, cy: int, radius: int, peak: float = 1.0) -> None:
    """Max-merge a Gaussian of `radius` cells and height `peak` centred at (cx, cy) into heatmap [h, w]."""
    sigma = (2 * radius + 1) / 6
    y, x = np.ogrid[-radius : radius + 1, -radius : radius + 1]
    g = peak * np.exp(-(x * x + y * y) / (2 * sigma * sigma))
    h, w = heatmap.shape
    left, right = min(cx, radius), min(w - cx, radius + 1)
    top, bottom = min(cy, radius), min(h - cy, radius + 1)
    region = heatmap[cy - top : cy + bottom, cx - left : cx + right]
    patch = g[radius - top : radius + bottom, radius - left : radius + right]
    np.maximum(region, patch, out=region)


def build_targets(
    boxes_xyxy: np.ndarray,
    classes: np.ndarray,
    track_ids: np.ndarray,
    *,
    ignore: np.ndarray | None = None,
    image_hw: tuple[int, int],
    num_classes: int,
    max_objects: int,
    down_ratio: int = DOWN_RATIO,
) -> dict[str, np.ndarray]:
    """Targets for one image. Every object gets its heatmap peak; box, offset and identity
    targets go to the `max_objects` largest only (the per-object tensors have that many
    rows). A dense 256 px crop of a car park holds over 1,000 cars: leaving the ones past the
    cap out of the heatmap would teach the network that they are background.

    Objects flagged in `ignore` (barely visible) get no positive, no box and no identity: their
    heatmap cells are neither rewarded nor punished.

    Returns hm [C, h, w], ltrb [M, 4] and offset [M, 2] in output cells, index [M] (cy*w+cx),
    mask [M] (1 = real object), ids [M] (-1 = no identity).
    """
    out_h, out_w = image_hw[0] // down_ratio, image_hw[1] // down_ratio
    hm = np.zeros((num_classes, out_h, out_w), np.float32)
    ltrb = np.zeros((max_objects, 4), np.float32)
    offset = np.zeros((max_objects, 2), np.float32)
    index = np.zeros(max_objects, np.int64)
    mask = np.zeros(max_objects, np.float32)
    ids = np.full(max_objects, -1, np.int64)
    boxes = np.asarray(boxes_xyxy, np.float32).reshape(-1, 4) / down_ratio
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, out_w - 1e-3)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, out_h - 1e-3)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    ignored = np.zeros(len(boxes), bool) if ignore is None else np.asarray(ignore, bool)
    for i in np.flatnonzero(ignored):
        x1, y1, x2, y2 = boxes[i]
        if x2 > x1 and y2 > y1:
            draw_gaussian(
                hm[int(classes[i])],
                int((x1 + x2) / 2),
                int((y1 + y2) / 2),
                _radius(boxes[i]),
                IGNORED_PEAK,
            )
    kept = np.flatnonzero(~ignored)
    order = kept[np.argsort(-area[kept], kind="stable")]
    for k, i in enumerate(order):
        x1, y1, x2, y2 = boxes[i]
        if x2 <= x1 or y2 <= y1:
            continue
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        ix, iy = int(cx), int(cy)
        draw_gaussian(hm[int(classes[i])], ix, iy, _radius(boxes[i]))
        if k >= max_objects:
            continue
        ltrb[k] = (cx - x1, cy - y1, x2 - cx, y2 - cy)
        offset[k] = (cx - ix, cy - iy)
        index[k] = iy * out_w + ix
        mask[k] = 1.0
        ids[k] = track_ids[i]
    return {"hm": hm, "ltrb": ltrb, "offset": offset, "index": index, "mask": mask, "ids": ids}
