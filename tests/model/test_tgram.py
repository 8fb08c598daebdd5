from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from tgram.data.targets import build_targets
from tgram.model.config import ModelConfig
from tgram.model.graph import SpatioTemporalGraph
from tgram.model.heads import TrackingHeads
from tgram.model.tgram import TGraM
from tgram.model.weights import load_weights, save_weights

H, W = 64, 96


def batch(b: int = 2, t: int = 3, seed: int = 0) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    rng = np.random.default_rng(seed)
    frames = torch.from_numpy(rng.random((b, t, 3, H, W), dtype=np.float32))
    targets = []
    for _ in range(b):
        xy = rng.uniform(0, [W - 16, H - 16], (4, 2))
        boxes = np.concatenate([xy, xy + rng.uniform(4, 16, (4, 2))], 1).astype(np.float32)
        targets.append(
            build_targets(
                boxes,
                rng.integers(0, 3, 4),
                rng.integers(0, 10, 4),
                image_hw=(H, W),
                num_classes=3,
                max_objects=8,
            )
        )
    return frames, {k: torch.from_numpy(np.stack([t[k] for t in targets])) for k in targets[0]}


def calibrate_batch_norm(model: TGraM, frames: torch.Tensor) -> None:
    """Set BN running stats to one batch's statistics (fresh ones make eval-mode features vanish)."""
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    model.train()
    with torch.no_grad():
        model(frames)
    model.eval()


@pytest.mark.parametrize("backbone", ["mobilenetv3", "dla34"])
@pytest.mark.parametrize("deform", [False, True])
def test_output_shapes(backbone: str, deform: bool) -> None:
    torch.manual_seed(0)
    model = TGraM(ModelConfig(backbone=backbone, deform_conv=deform, emb_dim=16), num_ids=10).eval()
    with torch.no_grad():
        out = model(batch(b=1)[0])
    assert out["hm"].shape == (1, 3, H // 4, W // 4)
    assert out["ltrb"].shape == (1, 4, H // 4, W // 4) and out["offset"].shape == (
        1,
        2,
        H // 4,
        W // 4,
    )
    assert out["emb"].shape == (1, 16, H // 4, W // 4)


def test_wrong_frame_count_is_an_error() -> None:
    model = TGraM(ModelConfig(frames=3), num_ids=4)
    with pytest.raises(ValueError, match="expected 3 frames per sample, got 2"):
        model(torch.zeros(1, 2, 3, H, W))


def test_graph_starts_as_identity_and_passes_gradients_to_past_frames() -> None:
    torch.manual_seed(0)
    graph = SpatioTemporalGraph(8, 4)
    current, past = torch.randn(2, 8, 3, 5), torch.randn(2, 2, 8, 3, 5, requires_grad=True)
    assert torch.allclose(graph(current, past), current)
    torch.nn.init.normal_(graph.out.weight)
    graph(current, past).sum().backward()
    assert past.grad.abs().sum() > 0
    assert torch.allclose(graph.affinity(current, past[:, 0]).sum(-1), torch.ones(2, 15))


@pytest.mark.parametrize("use_graph", [True, False])
def test_past_frames_matter_only_with_the_graph(use_graph: bool) -> None:
    torch.manual_seed(0)
    model = TGraM(ModelConfig(graph=use_graph, adversarial=False), num_ids=4).eval()
    if use_graph:
        torch.nn.init.normal_(model.graph.out.weight, std=0.5)
    frames = batch(b=1)[0]
    calibrate_batch_norm(model, frames)
    changed = frames.clone()
    changed[:, 1:] = torch.rand_like(changed[:, 1:])
    with torch.no_grad():
        diff = (model(frames)["hm"] - model(changed)["hm"]).abs().max().item()
    assert (diff > 1e-4) == use_graph


def test_motion_branch_starts_silent_and_reads_past_frames_in_order(tmp_path) -> None:
    """Switched on in weights trained without it, the branch changes nothing until trained;
    once it has weights, swapping t-1 and t-2 changes the output (order is kept)."""
    from tgram import train

    torch.manual_seed(0)
    base = TGraM(ModelConfig(graph=False, adversarial=False), num_ids=4)
    save_weights(str(tmp_path / "base.pt"), base, base.cfg, {}, half=False)
    cfg = ModelConfig(graph=False, motion=True, adversarial=False)
    model = TGraM(cfg, num_ids=4)
    train.initialise(model, str(tmp_path / "base.pt"))
    frames = batch(b=1)[0]
    calibrate_batch_norm(base, frames)
    calibrate_batch_norm(model, frames)
    with torch.no_grad():
        assert torch.equal(base(frames)["hm"], model(frames)["hm"])
        torch.nn.init.normal_(model.motion.out.weight, std=0.5)
        swapped = frames[:, [0, 2, 1]]
        diff = (model(frames)["hm"] - model(swapped)["hm"]).abs().max().item()
    assert diff > 1e-4


def test_motion_needs_past_frames() -> None:
    with pytest.raises(ValueError, match="motion needs frames >= 2"):
        ModelConfig(frames=1, graph=False, motion=True)


def test_losses_and_gradients_reach_every_part() -> None:
    torch.manual_seed(0)
    model = TGraM(ModelConfig(emb_dim=16), num_ids=10)
    frames, targets = batch()
    losses = model.compute_losses(model(frames), targets, progress=0.5)
    assert {"hm", "ltrb", "offset", "det", "id", "adv", "adv_acc", "total"} <= losses.keys()
    assert all(torch.isfinite(v) for v in losses.values())
    losses["total"].backward()
    for name in (
        "backbone.stem.0.weight",
        "graph.out.weight",
        "heads.emb.2.weight",
        "discriminator.net.0.weight",
        "weighting.s_id",
    ):
        assert dict(model.named_parameters())[name].grad.abs().sum() > 0, name


def test_parameter_groups_split_the_discriminator() -> None:
    model = TGraM(ModelConfig(discriminator_lr_scale=3.0), num_ids=4)
    groups = model.parameter_groups(0.01)
    assert [g["name"] for g in groups] == ["network", "discriminator"] and groups[1][
        "lr"
    ] == pytest.approx(0.03)
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))


def _train_adversarially(strength: float, steps: int) -> list[float]:
    """Train only on the adversarial loss at a fixed reversal strength; discriminator losses."""
    torch.manual_seed(0)
    model = TGraM(
        ModelConfig(
            frames=1,
            graph=False,
            emb_dim=8,
            decoder_channels=16,
            head_channels=16,
            adversarial_weight=1.0,
            adversarial_max_lambda=strength,
        ),
        num_ids=10,
    )
    frames, targets = batch(b=2, t=1)
    opt = torch.optim.Adam(model.parameter_groups(1e-3))
    disc_losses = []
    for _ in range(steps):
        losses = model.compute_losses(model(frames), targets, progress=1.0)
        opt.zero_grad()
        losses["adv"].backward()
        opt.step()
        disc_losses.append(losses["adv"].item())
    return disc_losses


def test_discriminator_learns_when_reversal_is_off() -> None:
    disc_losses = _train_adversarially(strength=0.0, steps=25)
    assert np.mean(disc_losses[-5:]) < 0.2 < 0.6 < np.mean(disc_losses[:3])


def test_reversal_lets_the_shared_network_defeat_the_discriminator() -> None:
    """With the reversal on, the shared features change so that the same discriminator stays
    near chance (BCE ~ ln 2) instead of separating the two tasks' gradients."""
    disc_losses = _train_adversarially(strength=1.0, steps=25)
    assert np.mean(disc_losses[-5:]) > 0.6


def test_weights_round_trip_and_mismatch(tmp_path) -> None:
    torch.manual_seed(0)
    cfg = ModelConfig(emb_dim=16)
    model = TGraM(cfg, num_ids=7).eval()
    path = str(tmp_path / "w.pt")
    save_weights(path, model, cfg, {"map50": 0.5}, half=False)
    loaded, loaded_cfg = load_weights(path)
    frames = batch(b=1)[0]
    with torch.no_grad():
        assert torch.allclose(model(frames)["hm"], loaded(frames)["hm"], atol=1e-6)
    assert loaded_cfg == cfg
    state = torch.load(path, weights_only=True)
    state["config"]["emb_dim"] = 32
    torch.save(state, path)
    with pytest.raises(ValueError, match=r"w.pt: weights do not match the config"):
        load_weights(path)
    state["arch"] = "yolo"
    torch.save(state, path)
    with pytest.raises(ValueError, match="w.pt: expected arch 'tgram', got 'yolo'"):
        load_weights(path)
    state["arch"], state["config"]["embdim"] = "tgram", 3
    torch.save(state, path)
    with pytest.raises(ValueError, match=r"unknown key 'embdim'"):
        load_weights(path)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="junk.pt: not a tgram weights file"):
        load_weights(str(tmp_path / "junk.pt"))


class _TinyBackbone(nn.Module):
    """Plain strided convolutions with levels at strides 4, 8, 16, 32: any module with
    `.channels` and levels each 2x apart fits."""

    def __init__(self) -> None:
        super().__init__()
        self.channels = [8, 8, 12, 16]
        self.fine = nn.Conv2d(3, 8, 3, stride=4, padding=1)
        self.down = nn.ModuleList(
            nn.Conv2d(cin, cout, 3, stride=2, padding=1)
            for cin, cout in zip(self.channels[:-1], self.channels[1:], strict=True)
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        levels = [self.fine(x)]
        for down in self.down:
            levels.append(down(levels[-1]))
        return levels


def test_backbone_decoder_and_heads_are_injected_and_trained_through() -> None:
    torch.manual_seed(0)
    cfg = ModelConfig(frames=3, emb_dim=16, adversarial=False)
    heads = TrackingHeads(cfg.decoder_channels, 8, cfg.num_classes, cfg.emb_dim)
    model = TGraM(cfg, num_ids=10, backbone=_TinyBackbone(), heads=heads)
    assert model.heads is heads and isinstance(model.backbone, _TinyBackbone)
    assert model.graph is not None  # built for the injected backbone's coarsest width (16)
    frames, targets = batch(b=2)
    out = model(frames)
    assert out["hm"].shape == (2, 3, H // 4, W // 4)
    model.compute_losses(out, targets)["total"].backward()
    assert model.backbone.fine.weight.grad.abs().sum() > 0
    assert heads.hm[0].weight.grad.abs().sum() > 0
