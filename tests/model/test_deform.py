from __future__ import annotations

import torch
import torch.nn.functional as F

from tgram.model.deform import DeformConv2d, deform_conv2d


def bilinear(img: torch.Tensor, y: float, x: float) -> torch.Tensor:
    """Textbook bilinear sample of img [C, H, W] at (y, x), zero outside."""
    c, h, w = img.shape
    y0, x0 = int(torch.floor(torch.tensor(y))), int(torch.floor(torch.tensor(x)))
    out = torch.zeros(c, dtype=img.dtype)
    for yy, xx in ((y0, x0), (y0, x0 + 1), (y0 + 1, x0), (y0 + 1, x0 + 1)):
        if 0 <= yy < h and 0 <= xx < w:
            out += img[:, yy, xx] * (1 - abs(y - yy)) * (1 - abs(x - xx))
    return out


def test_matches_direct_reference_computation() -> None:
    torch.manual_seed(0)
    x = torch.randn(1, 2, 5, 6, dtype=torch.float64)
    offset = torch.randn(1, 18, 5, 6, dtype=torch.float64) * 0.7
    mask = torch.rand(1, 9, 5, 6, dtype=torch.float64)
    weight = torch.randn(3, 2, 3, 3, dtype=torch.float64)
    bias = torch.randn(3, dtype=torch.float64)
    out = deform_conv2d(x, offset, mask, weight, bias, padding=1)
    ref = torch.zeros(1, 3, 5, 6, dtype=torch.float64)
    for i in range(5):
        for j in range(6):
            acc = bias.clone()
            for k in range(9):
                ky, kx = divmod(k, 3)
                y = i + ky - 1 + float(offset[0, 2 * k, i, j])
                xx = j + kx - 1 + float(offset[0, 2 * k + 1, i, j])
                acc += weight[:, :, ky, kx] @ bilinear(x[0], y, xx) * mask[0, k, i, j]
            ref[0, :, i, j] = acc
    assert torch.allclose(out, ref, atol=1e-10)


def test_zero_offsets_unit_mask_equals_plain_conv() -> None:
    torch.manual_seed(1)
    x = torch.randn(2, 4, 7, 9)
    weight, bias = torch.randn(5, 4, 3, 3), torch.randn(5)
    out = deform_conv2d(x, torch.zeros(2, 18, 7, 9), torch.ones(2, 9, 7, 9), weight, bias)
    assert torch.allclose(out, F.conv2d(x, weight, bias, padding=1), atol=1e-5)


def test_layer_learns_offsets() -> None:
    layer = DeformConv2d(3, 4)
    x = torch.randn(1, 3, 8, 8, requires_grad=True)
    layer(x).square().sum().backward()
    assert layer.offset_mask.weight.grad.abs().sum() > 0 and x.grad is not None
