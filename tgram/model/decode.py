"""Post-processing: heatmap peaks -> boxes, scores, classes and unit ReID embeddings."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from tgram.detections import Detections
from tgram.geometry import DOWN_RATIO
from tgram.model.config import PeakRule
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
CELLS_PER_CANDIDATE = 8
"""At most one candidate per this many heatmap cells (all classes): a bound on the outputs
for a map that scores everything (a new model's flat prior), far above any real scene. A
dense 1920x1080 car park holds over 11,000 objects, 1 per ~11 cells of one class's map."""


def candidates(
    outputs: dict[str, torch.Tensor],
    *,
    score_floor: float | torch.Tensor,
    peaks: PeakRule = "maxpool",
    peak_ratio: float = 0.0,
    down_ratio: int = DOWN_RATIO,
) -> tuple[torch.Tensor, ...]:
    """Head maps -> each image's K best cells, named as CANDIDATES: scores [B, K] sorted
    descending, flat heatmap index [B, K], classes [B, K], boxes [B, K, 4] (xyxy, input
    pixels), unit embeddings [B, K, E].

    K is the largest number of peak cells scoring at least `score_floor` in any image of the
    batch, capped at 1 / CELLS_PER_CANDIDATE of the map: it grows with the scene, so a dense
    1080p frame loses no object to a fixed K (2,000 until 2026-11-30 kept 1,948 of 11,574
    cars). Other images of the batch fill their K with cells below the floor (`select` drops
    them). Traced into an ONNX graph, K and the floor (a graph input) stay free.
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
    flat = heat.flatten(1)
    scoring = ((flat >= score_floor) & (flat > 0)).sum(1).max()
    k = torch.minimum(scoring, ones.flatten(1).sum(1)[0].long() // CELLS_PER_CANDIDATE)
    scores, index = flat.topk(k if torch.jit.is_tracing() else int(k))
    classes, ys, xs, cell = (m.flatten(1).gather(1, index) for m in where)
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
    return scores, index, classes, boxes, emb


@torch.no_grad()
def decode(
    outputs: dict[str, torch.Tensor],
    *,
    score_threshold: float = SCORE_FLOOR,
    peaks: PeakRule = "maxpool",
    peak_ratio: float = 0.0,
    down_ratio: int = DOWN_RATIO,
) -> list[Detections]:
    """Head maps -> each image's detections: `candidates`, then `select.select`."""
    scores, _, classes, boxes, emb = (
        t.cpu().numpy()
        for t in candidates(
            outputs,
            score_floor=score_threshold,
            peaks=peaks,
            peak_ratio=peak_ratio,
            down_ratio=down_ratio,
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
