"""Motion at full resolution: a small encoder over frame differences beside the graph.

The graph works on stride-32 cells while a car moves 1-2 px a frame and is 4x8 px long, so
it cannot see what moves. This branch reads the current frame and its differences to each
past frame (in order: t-1, then t-2, ...) at full resolution, and adds its stride-4 map to
the shared features the heads read. Its last convolution starts at zero: switched on in
pretrained weights it changes nothing at step 0, and fine-tuning decides what it adds.
"""

from __future__ import annotations

import torch
from torch import nn


def _conv(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class MotionEncoder(nn.Module):
    def __init__(self, frames: int, out_channels: int, hidden: int = 32) -> None:
        super().__init__()
        if frames < 2:
            raise ValueError(f"the motion branch needs >= 2 frames, got {frames}")
        self.layers = nn.Sequential(
            _conv(3 * frames, hidden // 2, 2),
            _conv(hidden // 2, hidden, 2),
            _conv(hidden, hidden, 1),
        )
        self.out = nn.Conv2d(hidden, out_channels, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """frames [B, T, 3, H, W], normalised, current first -> [B, C, H/4, W/4]."""
        current = frames[:, 0]
        differences = [current - frames[:, k] for k in range(1, frames.shape[1])]
        return self.out(self.layers(torch.cat([current, *differences], 1)))
