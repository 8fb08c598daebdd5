"""Post-processing: heatmap peaks -> boxes, scores, classes and unit ReID embeddings."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from tgram.detections import Detections
from tgram.geometry import DOWN_RATIO
from tgram.model.config import PeakRule

TOP_K = 2000
"""Most detections decoded per image: dense car parks hold over 1,000 objects a frame."""
SCORE_FLOOR = 0.1
"""Lowest score `decode` keeps unless told otherwise; a tracker passes its own floor
(TrackerConfig.score_floor) and AP measurement a lower one (AP_SCORE_FLOOR)."""
AP_SCORE_FLOOR = 0.05
"""Lowest score kept when AP is measured: the precision-recall curve needs the low tail."""
BOX_NMS_IOU = 0.3
"""IoU above which the lower-scoring of two same-class candidate boxes is dropped (rule "box")."""


def heatmap_peaks(heat: torch.Tensor, kernel: int = 3) -> torch.Tensor:
    """Keep local maxima of a probability heatmap (max-pool NMS), zero elsewhere."""
    peaks = F.max_pool2d(heat, kernel, stride=1, padding=kernel // 2)
    return heat * (peaks == heat)


def box_nms_keep(
    boxes: torch.Tensor, scores: torch.Tensor, classes: torch.Tensor, iou: float
) -> torch.Tensor:
    """Fast NMS (YOLACT) per class: keep a box unless a higher-scoring box of its class overlaps it
    by more than `iou`. `scores` must be sorted in descending order; returns a bool mask."""
    x1, y1, x2, y2 = boxes.unbind(-1)
    area = (x2 - x1).clamp(min=0) * (y2 - y1).clamp(min=0)
    w = (torch.minimum(x2[:, None], x2[None]) - torch.maximum(x1[:, None], x1[None])).clamp(min=0)
    h = (torch.minimum(y2[:, None], y2[None]) - torch.maximum(y1[:, None], y1[None])).clamp(min=0)
    inter = w * h
    overlap = inter / (area[:, None] + area[None] - inter).clamp(min=1e-6)
    overlap = overlap * (classes[:, None] == classes[None])
    if len(scores) == 0:
        return torch.zeros(0, dtype=torch.bool, device=scores.device)
    return overlap.triu(diagonal=1).amax(dim=0) <= iou


@torch.no_grad()
def decode(
    outputs: dict[str, torch.Tensor],
    *,
    top_k: int = TOP_K,
    score_threshold: float = SCORE_FLOOR,
    peaks: PeakRule = "maxpool",
    down_ratio: int = DOWN_RATIO,
) -> list[Detections]:
    """Heatmap peaks -> detections, at most `top_k` per image.

    `peaks`: "maxpool" keeps cells that are the maximum of their 3x3 neighbourhood (CenterNet);
    "box" keeps every cell above the threshold and removes duplicates by box IoU, so two cars
    in adjacent stride-4 cells (parking slots 3-7 px apart) both survive.
    """
    heat = torch.sigmoid(outputs["hm"].float())
    if peaks == "maxpool":
        heat = heatmap_peaks(heat)
    elif peaks != "box":
        raise ValueError(f"peaks must be 'maxpool' or 'box', got {peaks!r}")
    b, c, h, w = heat.shape
    scores, flat = heat.reshape(b, -1).topk(min(top_k, c * h * w))
    classes, cell = flat // (h * w), flat % (h * w)
    ys, xs = (cell // w).float(), (cell % w).float()

    def gather(name: str) -> torch.Tensor:  # [B, K, D]
        t = outputs[name].float().flatten(2)
        return t.gather(2, cell[:, None, :].expand(-1, t.shape[1], -1)).transpose(1, 2)

    ltrb, offset = gather("ltrb").clamp(min=0), gather("offset")
    emb = F.normalize(gather("emb"), dim=2)
    cx, cy = xs + offset[..., 0], ys + offset[..., 1]
    boxes = (
        torch.stack(
            [cx - ltrb[..., 0], cy - ltrb[..., 1], cx + ltrb[..., 2], cy + ltrb[..., 3]], dim=2
        )
        * down_ratio
    )
    out = []
    for i in range(b):
        keep = scores[i] >= score_threshold
        if peaks == "box":
            keep[keep.clone()] = box_nms_keep(
                boxes[i][keep], scores[i][keep], classes[i][keep], BOX_NMS_IOU
            )
        out.append(
            Detections(
                boxes[i][keep].cpu().numpy().astype(np.float32),
                scores[i][keep].cpu().numpy().astype(np.float32),
                classes[i][keep].cpu().numpy().astype(np.int64),
                emb[i][keep].cpu().numpy().astype(np.float32),
            )
        )
    return out
