"""Post-processing: heatmap peaks -> boxes, scores, classes and unit ReID embeddings."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from tgram.data.targets import DOWN_RATIO


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


def heatmap_peaks(heat: torch.Tensor, kernel: int = 3) -> torch.Tensor:
    """Keep local maxima of a probability heatmap (max-pool NMS), zero elsewhere."""
    peaks = F.max_pool2d(heat, kernel, stride=1, padding=kernel // 2)
    return heat * (peaks == heat)


@torch.no_grad()
def decode(
    outputs: dict[str, torch.Tensor], *, top_k: int = 500, score_threshold: float = 0.1, down_ratio: int = DOWN_RATIO
) -> list[Detections]:
    heat = heatmap_peaks(torch.sigmoid(outputs["hm"].float()))
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
    boxes = torch.stack([cx - ltrb[..., 0], cy - ltrb[..., 1], cx + ltrb[..., 2], cy + ltrb[..., 3]], dim=2) * down_ratio
    out = []
    for i in range(b):
        keep = scores[i] >= score_threshold
        out.append(
            Detections(
                boxes[i][keep].cpu().numpy().astype(np.float32),
                scores[i][keep].cpu().numpy().astype(np.float32),
                classes[i][keep].cpu().numpy().astype(np.int64),
                emb[i][keep].cpu().numpy().astype(np.float32),
            )
        )
    return out
