from __future__ import annotations

import math

import pytest
import torch

from tgram.model.adversarial import reversal_strength, reverse_gradient
from tgram.model.losses import ReIDLoss, UncertaintyWeighting, focal_loss, masked_l1


def test_focal_loss_hand_computed() -> None:
    logits = torch.tensor([[[[0.0, math.log(3.0)], [-math.log(3.0), 0.0]]]])  # p = .5, .75, .25, .5
    target = torch.tensor([[[[1.0, 0.5], [0.0, 0.0]]]])
    pos = math.log(0.5) * 0.5**2
    negs = math.log(0.25) * 0.75**2 * 0.5**4 + math.log(0.75) * 0.25**2 + math.log(0.5) * 0.5**2
    assert focal_loss(logits, target).item() == pytest.approx(-(pos + negs), rel=1e-5)


def test_focal_loss_without_objects_is_not_nan() -> None:
    assert torch.isfinite(focal_loss(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 4)))


def test_masked_l1_ignores_padding() -> None:
    pred = torch.tensor([[[1.0, 2.0], [100.0, 100.0]]])
    target = torch.tensor([[[0.0, 0.0], [0.0, 0.0]]])
    assert masked_l1(pred, target, torch.tensor([[1.0, 0.0]])).item() == pytest.approx(1.5)


def test_reid_loss_uses_scaled_normalised_embeddings() -> None:
    loss = ReIDLoss(emb_dim=2, num_ids=3)
    with torch.no_grad():
        loss.classifier.weight.copy_(torch.eye(3, 2))
        loss.classifier.bias.zero_()
    emb = torch.tensor([[[10.0, 0.0], [0.0, 1.0], [5.0, 5.0]]])
    value = loss(emb, torch.tensor([[0, 1, -1]]), torch.tensor([[1.0, 1.0, 1.0]]))
    s = math.sqrt(2) * math.log(2)
    expected = -math.log(
        math.exp(s) / (math.exp(s) + 2)
    )  # each: logit s for its id, 0 for the others
    assert value.item() == pytest.approx(expected, rel=1e-5)


def test_uncertainty_weighting_formula() -> None:
    w = UncertaintyWeighting()
    det, reid = torch.tensor(2.0), torch.tensor(3.0)
    expected = 0.5 * (math.exp(1.85) * 2 + math.exp(1.05) * 3 - 1.85 - 1.05)
    assert w(det, reid).item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("strength", [0.0, 0.3, 1.0])
def test_gradient_reversal_sign(strength: float) -> None:
    x = torch.tensor([1.0, -2.0], requires_grad=True)
    y = reverse_gradient(x, strength)
    assert torch.equal(y, x)
    (y * torch.tensor([3.0, 4.0])).sum().backward()
    assert torch.allclose(x.grad, -strength * torch.tensor([3.0, 4.0]))


def test_reversal_ramp() -> None:
    assert reversal_strength(0.0) == 0.0
    assert reversal_strength(1.0, 2.0) == pytest.approx(2 * (2 / (1 + math.exp(-10)) - 1))
    assert 0 < reversal_strength(0.1) < reversal_strength(0.5) < 1
