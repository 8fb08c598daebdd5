"""Modulated deformable convolution (DCNv2) in pure PyTorch.

Each kernel tap samples the input at its regular position plus a learned offset, bilinearly
(grid_sample), and is scaled by a learned mask; a matmul with the weights then acts as the
convolution. Slower than the CUDA op, but it runs everywhere and needs no compiled extension.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def deform_conv2d(
    x: torch.Tensor,
    offset: torch.Tensor,
    mask: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    padding: int = 1,
) -> torch.Tensor:
    """x [B,C,H,W], offset [B,2K,H,W] as (dy, dx) per tap, mask [B,K,H,W]; stride 1."""
    b, c, h, w = x.shape
    out_c, _, kh, kw = weight.shape
    k = kh * kw
    ys, xs = torch.meshgrid(
        torch.arange(h, device=x.device, dtype=x.dtype),
        torch.arange(w, device=x.device, dtype=x.dtype),
        indexing="ij",
    )
    ky, kx = torch.meshgrid(
        torch.arange(kh, device=x.device, dtype=x.dtype),
        torch.arange(kw, device=x.device, dtype=x.dtype),
        indexing="ij",
    )
    ky, kx = ky.reshape(k, 1, 1) - padding, kx.reshape(k, 1, 1) - padding
    off = offset.view(b, k, 2, h, w)
    py = ys[None, None] + ky[None] + off[:, :, 0]  # [B, K, H, W]
    px = xs[None, None] + kx[None] + off[:, :, 1]
    grid = torch.stack(
        [2 * px / max(w - 1, 1) - 1, 2 * py / max(h - 1, 1) - 1], dim=-1
    )  # [B,K,H,W,2]
    sampled = F.grid_sample(
        x, grid.view(b, k * h, w, 2), mode="bilinear", padding_mode="zeros", align_corners=True
    )
    sampled = sampled.view(b, c, k, h, w) * mask[:, None]
    out = torch.einsum("bckhw,ock->bohw", sampled, weight.view(out_c, c, k))
    return out if bias is None else out + bias.view(1, -1, 1, 1)


class DeformConv2d(nn.Module):
    """3x3 DCNv2 layer; offsets and masks start at 0 and 0.5 (a plain conv, half strength)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.padding = kernel_size // 2
        k = kernel_size * kernel_size
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        self.offset_mask = nn.Conv2d(in_channels, 3 * k, kernel_size, padding=self.padding)
        nn.init.zeros_(self.offset_mask.weight)
        nn.init.zeros_(self.offset_mask.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.weight.shape[-1] * self.weight.shape[-2]
        om = self.offset_mask(x)
        offset, mask = om[:, : 2 * k], torch.sigmoid(om[:, 2 * k :])
        return deform_conv2d(x, offset, mask, self.weight, self.bias, self.padding)
