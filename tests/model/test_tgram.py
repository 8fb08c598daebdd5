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


def _trained_looking_graph(**settings: object) -> SpatioTemporalGraph:
    torch.manual_seed(0)
    graph = SpatioTemporalGraph(8, 4, **settings).eval()
    torch.nn.init.normal_(graph.out.weight)
    return graph


def test_windowed_graph_sees_the_same_neighbours_at_any_image_size() -> None:
    """With edges to every past cell, a cell's update depends on the whole map, so what a
    256 px training crop taught changes on a full frame; with a 3 x 3 window, a cell away from
    the border gets the same update in a crop as in the frame it was cut from."""
    current, past = torch.randn(1, 8, 9, 11), torch.randn(1, 2, 8, 9, 11)

    def interior_change(graph: SpatioTemporalGraph) -> float:
        # two cells of margin: the window's, then the 3 x 3 spatial gate's
        full = graph(current, past)[..., 3:6, 4:7]
        crop = graph(current[..., 1:8, 2:9], past[..., 1:8, 2:9])[..., 2:5, 2:5]
        return (full - crop).abs().max().item()

    with torch.no_grad():
        assert interior_change(_trained_looking_graph(window=3)) < 1e-5
        assert interior_change(_trained_looking_graph(window=0)) > 1e-3
    edges = _trained_looking_graph(window=3).affinity(current, past[:, 0])  # [1, 9, 99]
    assert edges.shape == (1, 9, 99) and torch.allclose(edges.sum(1), torch.ones(1, 99))
    assert edges[0, :3, :11].max() < 1e-6  # the row above the top row is outside the image


@pytest.mark.parametrize("ordered", [True, False])
def test_ordered_graph_tells_t1_from_t2(ordered: bool) -> None:
    """Averaged messages make t-1 and t-2 interchangeable (no direction of motion)."""
    graph = _trained_looking_graph(window=3, ordered=ordered)
    current, past = torch.randn(1, 8, 5, 6), torch.randn(1, 2, 8, 5, 6)
    with torch.no_grad():
        swapped = (graph(current, past) - graph(current, past.flip(1))).abs().max().item()
    assert (swapped > 1e-4) == ordered


@pytest.mark.parametrize(("use_graph", "stride"), [(True, 32), (True, 8), (False, 32)])
def test_past_frames_matter_only_with_the_graph(use_graph: bool, stride: int) -> None:
    torch.manual_seed(0)
    cfg = ModelConfig(graph=use_graph, adversarial=False, graph_stride=stride, graph_window=3)
    model = TGraM(cfg, num_ids=4).eval()
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


def _discriminator_accuracy(strength: float, seed: int, steps: int = 60) -> float:
    """A toy two-head TGraM (one frame, 16 channels) trained on its whole loss, GAL at a fixed
    reversal strength; the discriminator's mean accuracy over the last 10 steps."""
    torch.manual_seed(seed)
    model = TGraM(
        ModelConfig(
            frames=1,
            graph=False,
            emb_dim=8,
            decoder_channels=16,
            head_channels=16,
            adversarial_weight=1.0,
            adversarial_max_lambda=strength,
            discriminator_lr_scale=2.0,  # at the toy's network rate 3e-3
        ),
        num_ids=10,
    )
    frames, targets = batch(b=4, t=1)
    opt = torch.optim.Adam(model.parameter_groups(3e-3))
    accuracy = []
    for _ in range(steps):
        losses = model.compute_losses(model(frames), targets, progress=1.0)
        opt.zero_grad()
        losses["total"].backward()
        opt.step()
        assert 0 <= losses["adv_neg"].item() <= 1 and -1 <= losses["adv_cos"].item() <= 1
        accuracy.append(losses["adv_acc"].item())
    return float(np.mean(accuracy[-10:]))


@pytest.mark.parametrize("seed", [0, 1])
def test_reversal_makes_per_object_task_gradients_indistinguishable(seed: int) -> None:
    """The probe (discriminator trained, reversal off) tells the tasks' per-object gradient
    directions apart; with the reversal on, the shared network moves them until it cannot
    (measured: probe 0.92-0.97, reversal 0.46-0.60 over seeds 0-3)."""
    assert _discriminator_accuracy(0.0, seed) >= 0.9
    assert _discriminator_accuracy(1.0, seed) <= 0.7


def test_adversarial_terms_without_objects_are_zero() -> None:
    model = TGraM(ModelConfig(frames=1, graph=False, emb_dim=8), num_ids=4)
    frames, targets = batch(b=1, t=1)
    targets["mask"] = torch.zeros_like(targets["mask"])
    losses = model.compute_losses(model(frames), targets, progress=1.0)
    assert losses["adv"].item() == 0 and losses["adv_acc"].item() == 0
    losses["total"].backward()  # still one graph: the step goes on


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
