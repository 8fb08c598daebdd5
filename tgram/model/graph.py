"""Graph-based spatiotemporal reasoning (TGraM's core) on one backbone level (`graph_stride`).

Nodes are the feature cells of each frame; edges connect each cell of the current frame to
cells of each past frame, weighted by a learned affinity (embedded dot product, softmax over
the past cells it reaches). Messages flow along those edges, a GCN layer transforms the
aggregated node features, a spatial gate decides where temporal evidence is trusted (moving
objects, not static background), and a GRU-style gated update writes it into the current
frame's features. The last projection starts at zero, so an untrained module is the identity
and switching it on cannot hurt a pretrained detector at step 0.

Two settings decide what the graph can learn (`ModelConfig.graph_window`, `graph_ordered`):
- edges: to every past cell (window 0, the first design) or to the k x k past cells around the
  current one. With every cell, the softmax spreads over 64 cells of a 256 px training crop
  and over 576 of a 1024x576 frame, so what was learnt dilutes at inference; a window gives
  each node the same neighbours at any image size, and objects move a fraction of a stride-32
  cell a frame, so a 3 x 3 window reaches them.
- order: each past frame's messages averaged (the first design: t-1 and t-2 interchangeable,
  so no direction of motion), or concatenated in time order (t-1 first) before the GCN, as
  the released TGraM code does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

MASKED = -1e4
"""Affinity logit of a window position outside the image (softmax weight ~0)."""


class SpatioTemporalGraph(nn.Module):
    def __init__(
        self,
        channels: int,
        embed_channels: int,
        *,
        past_frames: int = 2,
        window: int = 0,
        ordered: bool = False,
    ) -> None:
        super().__init__()
        if window < 0 or (window and window % 2 == 0):
            raise ValueError(f"graph window must be 0 (every cell) or odd, got {window}")
        self.window, self.ordered = window, ordered
        fused = channels * (1 + (past_frames if ordered else 1))
        self.query = nn.Conv2d(channels, embed_channels, 1)
        self.key = nn.Conv2d(channels, embed_channels, 1)
        self.value = nn.Conv2d(channels, channels, 1)
        self.gcn = nn.Sequential(
            nn.Conv2d(fused, channels, 1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
        )
        self.spatial_gate = nn.Sequential(nn.Conv2d(fused, 1, 3, padding=1), nn.Sigmoid())
        self.update_gate = nn.Conv2d(2 * channels, channels, 1)
        self.out = nn.Conv2d(channels, channels, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.scale = embed_channels**-0.5

    def affinity(self, current: torch.Tensor, past: torch.Tensor) -> torch.Tensor:
        """Edge weights, each row summing to 1: [B, N_cur, N_past] for every past cell,
        [B, k*k, N_cur] (window positions, row-major) for a k x k window."""
        if self.window:
            q = self.query(current).flatten(2)[:, :, None]  # [B, E, 1, N]
            logits = (q * self._neighbours(self.key(past))).sum(1) * self.scale  # [B, K, N]
            # ones from the input, not ones_like: an ONNX export freezes that at the traced size
            inside = self._neighbours(past[:, :1] * 0 + 1)[:, 0]  # [B, K, N]
            return torch.softmax(logits + (1 - inside) * MASKED, dim=1)
        q = self.query(current).flatten(2).transpose(1, 2)  # [B, N, E]
        k = self.key(past).flatten(2)  # [B, E, N]
        return torch.softmax(q @ k * self.scale, dim=-1)

    def _neighbours(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C, h, w] -> [B, C, k*k, h*w]: each cell's window (zeros beyond the image).
        Shifted slices of the padded map with constant bounds (no image size in them), which
        an ONNX export keeps free, as it does not `unfold`'s."""
        span = self.window - 1
        padded = F.pad(x, (span // 2,) * 4)
        shifted = [
            padded[:, :, dy : (dy - span) or None, dx : (dx - span) or None]
            for dy in range(span + 1)
            for dx in range(span + 1)
        ]
        return torch.stack(shifted, 2).flatten(3)

    def _messages(self, current: torch.Tensor, frame: torch.Tensor) -> torch.Tensor:
        """What one past frame sends to each current cell: affinity-weighted values."""
        edges = self.affinity(current, frame)
        if self.window:
            values = self._neighbours(self.value(frame))  # [B, C, K, N]
            return (values * edges[:, None]).sum(2).reshape_as(current)
        values = self.value(frame).flatten(2).transpose(1, 2)  # [B, N, C]
        return (edges @ values).transpose(1, 2).reshape_as(current)

    def forward(self, current: torch.Tensor, past: torch.Tensor) -> torch.Tensor:
        """current [B, C, h, w], past [B, P, C, h, w] (t-1 first) -> updated current [B, C, h, w]."""
        # a list over past frames, no zeros_like accumulator or reshape to Python ints, which
        # an ONNX export would freeze at the traced size
        messages = [self._messages(current, past[:, p]) for p in range(past.shape[1])]
        fused = torch.cat(messages, 1) if self.ordered else torch.stack(messages).mean(0)
        both = torch.cat([current, fused], 1)
        node = self.gcn(both)  # GCN: self-loop + aggregated neighbours, shared linear map
        gate = self.spatial_gate(both) * torch.sigmoid(
            self.update_gate(torch.cat([current, node], 1))
        )
        return current + gate * self.out(node)
