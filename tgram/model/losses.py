"""Detection and ReID losses (FairMOT), balanced by learned task uncertainty."""

from __future__ import annotations

import math

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

PROB_EPS = 1e-4


def batch_count(local: torch.Tensor) -> torch.Tensor:
    """A loss normaliser (peaks, objects) for the whole batch, also under DDP.

    Each DDP worker sees a shard and DDP averages gradients over the W workers, so dividing
    each shard's loss sum by count_total / W gives exactly the single-process gradient of the
    global batch. Every worker must call this for every loss term, in the same order.
    """
    count = local.detach().float()
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        count = count.clone()
        dist.all_reduce(count)
        return count.clamp(min=1) / dist.get_world_size()
    return count.clamp(min=1)


def focal_loss(
    logits: torch.Tensor, target: torch.Tensor, alpha: float = 2.0, beta: float = 4.0
) -> torch.Tensor:
    """CornerNet's penalty-reduced focal loss, normalised by the number of peaks (target == 1)."""
    p = torch.sigmoid(logits.float()).clamp(PROB_EPS, 1 - PROB_EPS)
    pos = target.eq(1).float()
    neg_weight = (1 - target).pow(beta) * (1 - pos)
    pos_loss = (torch.log(p) * (1 - p).pow(alpha) * pos).sum()
    neg_loss = (torch.log(1 - p) * p.pow(alpha) * neg_weight).sum()
    return -(pos_loss + neg_loss) / batch_count(pos.sum())


def gather_at(feature: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """feature [B, D, h, w] at flat cell indices [B, M] -> [B, M, D]."""
    flat = feature.flatten(2)
    return flat.gather(2, index[:, None, :].expand(-1, flat.shape[1], -1)).transpose(1, 2)


def masked_l1(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over real objects (mask [B, M]), per object and coordinate."""
    m = mask[..., None].expand_as(pred)
    return (F.l1_loss(pred.float() * m, target * m, reduction="sum")) / batch_count(m.sum())


def centre_giou_loss(
    pred_ltrb: torch.Tensor,
    pred_offset: torch.Tensor,
    target_ltrb: torch.Tensor,
    target_offset: torch.Tensor,
    mask: torch.Tensor,
) -> torch.Tensor:
    """Mean 1 - GIoU of the boxes decoded at object centre cells ([B, M, 4] ltrb, [B, M, 2] offsets).

    Boxes are relative to their cell, so the loss sees exactly what decoding returns. Unlike
    the L1 on ltrb, it weighs a pixel of error by the object's size: off by one cell a side,
    a 1x2-cell car loses most of its IoU, a 20-cell ship almost none.
    """

    def corners(ltrb: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
        ltrb = ltrb.float().clamp(min=0)
        return torch.cat([offset.float() - ltrb[..., :2], offset.float() + ltrb[..., 2:]], dim=-1)

    p, t = corners(pred_ltrb, pred_offset), corners(target_ltrb, target_offset)
    area_p = (p[..., 2] - p[..., 0]) * (p[..., 3] - p[..., 1])
    area_t = (t[..., 2] - t[..., 0]) * (t[..., 3] - t[..., 1])
    inter_wh = (
        torch.minimum(p[..., 2:], t[..., 2:]) - torch.maximum(p[..., :2], t[..., :2])
    ).clamp(min=0)
    inter = inter_wh[..., 0] * inter_wh[..., 1]
    union = area_p + area_t - inter
    hull_wh = torch.maximum(p[..., 2:], t[..., 2:]) - torch.minimum(p[..., :2], t[..., :2])
    hull = hull_wh[..., 0] * hull_wh[..., 1]
    eps = 1e-6
    giou = inter / (union + eps) - (hull - union) / (hull + eps)
    return ((1 - giou) * mask).sum() / batch_count(mask.sum())


class ReIDLoss(nn.Module):
    """Identity classification of normalised embeddings with FairMOT's scaled linear layer."""

    def __init__(self, emb_dim: int, num_ids: int) -> None:
        super().__init__()
        self.classifier = nn.Linear(emb_dim, max(num_ids, 1))
        self.scale = math.sqrt(2) * math.log(max(num_ids - 1, 2))

    def forward(self, emb: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        valid = (mask > 0) & (ids >= 0)
        count = batch_count(valid.sum())
        if not valid.any():
            return emb.sum() * 0.0 + self.classifier.weight.sum() * 0.0
        vectors = self.scale * F.normalize(emb[valid].float(), dim=1)
        return F.cross_entropy(self.classifier(vectors), ids[valid], reduction="sum") / count


class UncertaintyWeighting(nn.Module):
    """Kendall et al.: total = 0.5 * (e^-s_det L_det + e^-s_id L_id + s_det + s_id)."""

    def __init__(self) -> None:
        super().__init__()
        self.s_det = nn.Parameter(torch.tensor(-1.85))
        self.s_id = nn.Parameter(torch.tensor(-1.05))

    def forward(self, det: torch.Tensor, reid: torch.Tensor) -> torch.Tensor:
        return 0.5 * (
            torch.exp(-self.s_det) * det + torch.exp(-self.s_id) * reid + self.s_det + self.s_id
        )
