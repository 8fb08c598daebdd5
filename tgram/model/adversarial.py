"""Multi-task gradient adversarial learning between detection and ReID (TGraM).

The gradients of the two task losses with respect to the shared features disagree (the
detection/ReID conflict). A discriminator learns to tell which task a gradient map came
from; a gradient-reversal layer between them makes the shared network learn features whose
task gradients the discriminator cannot tell apart. Going through the gradients needs
second-order autograd (create_graph=True).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class _ReverseGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, strength: float) -> torch.Tensor:  # noqa: ANN001
        ctx.strength = strength
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # noqa: ANN001
        return -ctx.strength * grad, None


def reverse_gradient(x: torch.Tensor, strength: float) -> torch.Tensor:
    """Identity forward; multiplies the gradient by -strength backward."""
    return _ReverseGrad.apply(x, strength)


def reversal_strength(progress: float, max_strength: float = 1.0) -> float:
    """DANN's ramp 2/(1+exp(-10p))-1: starts at 0 so the discriminator learns first."""
    return max_strength * (2.0 / (1.0 + math.exp(-10.0 * min(max(progress, 0.0), 1.0))) - 1.0)


class GradientDiscriminator(nn.Module):
    """Fully convolutional classifier: which task produced this gradient map (logit: ReID)."""

    def __init__(self, channels: int, hidden: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, hidden, 3, padding=1),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(hidden, hidden, 3, stride=2, padding=1),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(hidden, 1, 1),
        )

    def forward(self, grad_map: torch.Tensor) -> torch.Tensor:
        return self.net(grad_map).mean(dim=(1, 2, 3))  # [B] logits


def task_gradients(losses: tuple[torch.Tensor, ...], features: torch.Tensor) -> list[torch.Tensor]:
    """Per-task gradient maps w.r.t. the shared features, unit L2 norm per sample."""
    out = []
    for loss in losses:
        (g,) = torch.autograd.grad(loss, features, create_graph=True, retain_graph=True)
        norm = g.flatten(1).norm(dim=1).clamp(min=1e-12).view(-1, 1, 1, 1)
        out.append(
            g / norm * math.sqrt(g[0].numel())
        )  # unit RMS keeps the discriminator's input scale fixed
    return out


def adversarial_loss(
    discriminator: GradientDiscriminator,
    det_loss: torch.Tensor,
    reid_loss: torch.Tensor,
    features: torch.Tensor,
    strength: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(discriminator BCE loss, its accuracy); backward trains the discriminator to win and,
    through the reversal, the shared network to make it lose."""
    g_det, g_id = task_gradients((det_loss, reid_loss), features)
    grads = reverse_gradient(torch.cat([g_det, g_id]), strength)
    labels = torch.cat([torch.zeros(len(g_det)), torch.ones(len(g_id))]).to(features.device)
    logits = discriminator(grads.float())
    loss = F.binary_cross_entropy_with_logits(logits, labels)
    accuracy = ((logits > 0).float() == labels).float().mean()
    return loss, accuracy.detach()
