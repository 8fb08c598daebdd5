"""Post-processing: heatmap peaks -> boxes, scores, classes and unit ReID embeddings."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from tgram.detections import Detections
from tgram.geometry import DOWN_RATIO
from tgram.model.config import TOP_K, PeakRule
from tgram.model.select import Candidates, select

SCORE_FLOOR = 0.1
"""Lowest score `decode` keeps unless told otherwise; a tracker passes its own floor
(TrackerConfig.score_floor) and AP measurement a lower one (AP_SCORE_FLOOR)."""
AP_SCORE_FLOOR = 0.05
"""Lowest score kept when AP is measured: the precision-recall curve needs the low tail."""


def heatmap_peaks(heat: torch.Tensor, kernel: int = 3, ratio: float = 1.0) -> torch.Tensor:
    """Keep cells scoring at least `ratio` x the maximum of their neighbourhood in a
    probability heatmap, zero elsewhere: ratio 1 keeps local maxima (max-pool NMS)."""
    peaks = F.max_pool2d(heat, kernel, stride=1, padding=kernel // 2)
    return heat * (heat >= ratio * peaks)


CANDIDATES = ("scores", "index", "classes", "boxes", "emb")
"""What `candidates` returns, in this order (also the ONNX graph's output names)."""


def candidates(
    outputs: dict[str, torch.Tensor],
    *,
    top_k: int = TOP_K,
    peaks: PeakRule = "maxpool",
    peak_ratio: float = 0.0,
    down_ratio: int = DOWN_RATIO,
) -> tuple[torch.Tensor, ...]:
    """Head maps -> each image's `top_k` best cells, named as CANDIDATES: scores [B, K] sorted
    descending, flat heatmap index [B, K], classes [B, K], boxes [B, K, 4] (xyxy, input
    pixels), unit embeddings [B, K, E].

    The heatmap is padded with `top_k` zero cells before the top-K, so K is `top_k` whatever
    the frame size (an exported graph freezes it); padded cells have class -1.
    `peaks`: "maxpool" keeps cells that are the maximum of their 3x3 neighbourhood (CenterNet);
    "box" keeps every cell scoring at least `peak_ratio` x its 3x3 neighbourhood's best
    (ModelConfig.peak_ratio), and `select.select` removes duplicates by box IoU, so two cars
    in adjacent stride-4 cells (parking slots 3-7 px apart) both survive.
    """
    heat = torch.sigmoid(outputs["hm"].float())
    if peaks == "maxpool":
        heat = heatmap_peaks(heat)
    elif peaks != "box":
        raise ValueError(f"peaks must be 'maxpool' or 'box', got {peaks!r}")
    elif peak_ratio > 0:
        heat = heatmap_peaks(heat, ratio=peak_ratio)
    # Class, row, column and cell of every heatmap entry as maps of its shape, computed from
    # the tensor itself (not ones_like or Python ints, which tracing freezes into constants),
    # so an exported graph keeps any frame size.
    ones = heat * 0 + 1
    row, column = ones.cumsum(2) - 1, ones.cumsum(3)
    cell = row * column[..., -1:] + column - 1  # the last column holds the width
    where = [ones.cumsum(1) - 1, row, column - 1, cell]
    pad = heat.new_zeros(heat.shape[0], top_k)
    scores, flat = torch.cat([heat.flatten(1), pad], dim=1).topk(top_k)
    classes, ys, xs, cell = (
        torch.cat([m.flatten(1), pad - float(i == 0)], dim=1).gather(1, flat)
        for i, m in enumerate(where)
    )
    classes, cell = classes.long(), cell.long()

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
    return scores, flat, classes, boxes, emb


@torch.no_grad()
def decode(
    outputs: dict[str, torch.Tensor],
    *,
    top_k: int = TOP_K,
    score_threshold: float = SCORE_FLOOR,
    peaks: PeakRule = "maxpool",
    peak_ratio: float = 0.0,
    down_ratio: int = DOWN_RATIO,
) -> list[Detections]:
    """Head maps -> each image's detections: `candidates`, then `select.select`."""
    scores, _, classes, boxes, emb = (
        t.cpu().numpy()
        for t in candidates(
            outputs, top_k=top_k, peaks=peaks, peak_ratio=peak_ratio, down_ratio=down_ratio
        )
    )
    return [
        select(
            Candidates(scores[i], classes[i], boxes[i], emb[i]),
            score_threshold=score_threshold,
            peaks=peaks,
        )
        for i in range(len(scores))
    ]
