"""Multi-task gradient adversarial learning (GAL) between detection and ReID (TGraM).

The gradients of the two task losses with respect to the shared features disagree (the
detection/ReID conflict). A discriminator learns to tell which task a gradient came from; a
gradient-reversal layer between them makes the shared network learn features whose task
gradients the discriminator cannot tell apart. Going through the gradients needs
second-order autograd (create_graph=True).

What the discriminator sees decides whether this can act. Whole gradient maps cannot be
aligned: the ReID loss reaches only object cells and the detection loss every cell, so where a
map is non-zero tells the tasks apart whatever the features are (the first design reached
accuracy 1.0 with the reversal at full strength). Here it sees one vector per object: both
tasks' gradients at the object's centre cell, L2-normalised, so their direction is the only
signal, and aligning those directions is what reduces the conflict. `adv_cos` (mean cosine
between the two tasks' gradients at object cells) and `adv_neg` (share of objects where they
point apart) measure the conflict itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from tgram.model.losses import batch_count, gather_at


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
    """DANN's ramp 2/(1+exp(-10p))-1: starts at 0 so the discriminator learns first.
    A max_strength of 0 is the probe: the discriminator learns, the network is left alone."""
    return max_strength * (2.0 / (1.0 + math.exp(-10.0 * min(max(progress, 0.0), 1.0))) - 1.0)


class GradientDiscriminator(nn.Module):
    """MLP over one object's unit gradient vector: which task produced it (logit: ReID)."""

    def __init__(self, channels: int, hidden: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(channels, hidden),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(hidden, hidden),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(hidden, 1),
        )

    def forward(self, directions: torch.Tensor) -> torch.Tensor:
        return self.net(directions).squeeze(-1)  # [N] logits


@dataclass(frozen=True)
class AdversarialTerms:
    loss: torch.Tensor
    """Discriminator BCE; its backward trains the discriminator and, reversed, the network."""
    accuracy: torch.Tensor
    cosine: torch.Tensor
    """Mean cosine between the detection and ReID gradients at object centre cells."""
    negative: torch.Tensor
    """Share of objects whose two task gradients point apart (cosine < 0)."""


def object_gradients(
    loss: torch.Tensor,
    features: torch.Tensor,
    index: torch.Tensor,
    objects: torch.Tensor,
    *,
    create_graph: bool,
) -> torch.Tensor:
    """d loss / d features at the centre cells of the `objects` ([B, M] bool): [N, C]."""
    (grad,) = torch.autograd.grad(loss, features, create_graph=create_graph, retain_graph=True)
    return gather_at(grad, index)[objects]


def adversarial_loss(
    discriminator: GradientDiscriminator,
    det_loss: torch.Tensor,
    reid_loss: torch.Tensor,
    features: torch.Tensor,
    index: torch.Tensor,
    objects: torch.Tensor,
    strength: float,
) -> AdversarialTerms:
    """The discriminator's loss on both tasks' gradient directions at the centre cells of the
    `objects` ([B, M] bool over the targets' `index`): those in both losses, since an object
    without an identity label has no ReID gradient of its own. At strength 0 the gradients
    are taken without a second-order graph: nothing would flow back through them."""
    reverse = strength > 0
    g_det, g_id = (
        object_gradients(loss, features, index, objects, create_graph=reverse)
        for loss in (det_loss, reid_loss)
    )
    # the loss is a sum over both tasks' vectors over the batch's count, all-reduced under DDP
    # (every worker calls it, objects or not), so N workers give the one-process gradient
    count = batch_count(torch.tensor(2 * len(g_det), device=features.device))
    if len(g_det) == 0:  # no objects in the batch: nothing to tell apart
        zero = sum(p.sum() for p in discriminator.parameters()) * 0.0
        return AdversarialTerms(zero, zero.detach(), zero.detach(), zero.detach())
    cosine = F.cosine_similarity(g_det.detach().float(), g_id.detach().float(), dim=1, eps=1e-20)
    directions = F.normalize(torch.cat([g_det, g_id]).float(), dim=1, eps=1e-20)
    directions = reverse_gradient(directions, strength) if reverse else directions.detach()
    labels = torch.cat([torch.zeros(len(g_det)), torch.ones(len(g_id))]).to(features.device)
    logits = discriminator(directions)
    loss = F.binary_cross_entropy_with_logits(logits, labels, reduction="sum") / count
    accuracy = ((logits > 0).float() == labels).float().mean()
    return AdversarialTerms(loss, accuracy.detach(), cosine.mean(), (cosine < 0).float().mean())
