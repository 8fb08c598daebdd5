"""Graph-based spatiotemporal reasoning (TGraM's core) at the coarsest feature level.

Nodes are the feature cells of each frame; edges connect every cell of the current frame to
every cell of each past frame, weighted by a learned affinity (embedded dot product, softmax
over the past frame's cells). Messages flow along those edges, a GCN layer transforms the
aggregated node features, a spatial gate decides where temporal evidence is trusted (moving
objects, not static background), and a GRU-style gated update writes it into the current
frame's features. The last projection starts at zero, so an untrained module is the identity
and switching it on cannot hurt a pretrained detector at step 0.
"""

from __future__ import annotations

import torch
from torch import nn


class SpatioTemporalGraph(nn.Module):
    def __init__(self, channels: int, embed_channels: int) -> None:
        super().__init__()
        self.query = nn.Conv2d(channels, embed_channels, 1)
        self.key = nn.Conv2d(channels, embed_channels, 1)
        self.value = nn.Conv2d(channels, channels, 1)
        self.gcn = nn.Sequential(
            nn.Conv2d(2 * channels, channels, 1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
        )
        self.spatial_gate = nn.Sequential(nn.Conv2d(2 * channels, 1, 3, padding=1), nn.Sigmoid())
        self.update_gate = nn.Conv2d(2 * channels, channels, 1)
        self.out = nn.Conv2d(channels, channels, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.scale = embed_channels**-0.5

    def affinity(self, current: torch.Tensor, past: torch.Tensor) -> torch.Tensor:
        """Edge weights [B, N_cur, N_past], rows sum to 1."""
        q = self.query(current).flatten(2).transpose(1, 2)  # [B, N, E]
        k = self.key(past).flatten(2)  # [B, E, N]
        return torch.softmax(q @ k * self.scale, dim=-1)

    def _messages(self, current: torch.Tensor, frame: torch.Tensor) -> torch.Tensor:
        """What one past frame sends to each current cell: affinity-weighted values."""
        edges = self.affinity(current, frame)  # [B, N, N]
        values = self.value(frame).flatten(2).transpose(1, 2)  # [B, N, C]
        return (edges @ values).transpose(1, 2).reshape_as(current)

    def forward(self, current: torch.Tensor, past: torch.Tensor) -> torch.Tensor:
        """current [B, C, h, w], past [B, P, C, h, w] (t-1 first) -> updated current [B, C, h, w]."""
        # one message per past frame, averaged (the graph is built only with past frames); no
        # zeros_like accumulator or reshape to Python ints, which an ONNX export would freeze
        # at the traced size
        messages = torch.stack(
            [self._messages(current, past[:, p]) for p in range(past.shape[1])]
        ).mean(0)
        both = torch.cat([current, messages], 1)
        node = self.gcn(both)  # GCN: self-loop + aggregated neighbours, shared linear map
        gate = self.spatial_gate(both) * torch.sigmoid(
            self.update_gate(torch.cat([current, node], 1))
        )
        return current + gate * self.out(node)
