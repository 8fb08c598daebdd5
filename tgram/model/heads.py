"""CenterNet/FairMOT heads on the stride-4 shared features."""

from __future__ import annotations

import math

import torch
from torch import nn

HEATMAP_PRIOR = 0.1
"""Initial foreground probability of every heatmap cell (bias = -log((1-p)/p) = -2.19)."""


def _head(cin: int, hidden: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, hidden, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(hidden, cout, 1)
    )


class TrackingHeads(nn.Module):
    def __init__(self, in_channels: int, hidden: int, num_classes: int, emb_dim: int) -> None:
        super().__init__()
        self.hm = _head(in_channels, hidden, num_classes)
        nn.init.constant_(self.hm[-1].bias, -math.log((1 - HEATMAP_PRIOR) / HEATMAP_PRIOR))
        self.ltrb = _head(in_channels, hidden, 4)
        self.offset = _head(in_channels, hidden, 2)
        self.emb = _head(in_channels, hidden, emb_dim)

    def forward(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        return {
            "hm": self.hm(features),  # [B, C, h, w] logits
            "ltrb": self.ltrb(features),  # [B, 4, h, w] distances centre->sides, stride-4 units
            "offset": self.offset(features),  # [B, 2, h, w] sub-cell centre offset (x, y)
            "emb": self.emb(features),  # [B, E, h, w] ReID embedding (unnormalised)
        }
