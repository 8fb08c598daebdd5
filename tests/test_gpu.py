"""Tests marked gpu: the device paths (bf16 autocast inference, training with AMP and GAL's
second-order backward, the batch actors' GPU switch). They run on CUDA where there is one
(`make gpu-check` runs them there) and on the CPU everywhere else, where they check the same
code paths with autocast off: device-agnostic code has no second path to test."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.test_train import tiny_config
from tgram.inference import Detector
from tgram.model.config import ModelConfig
from tgram.model.tgram import TGraM
from tgram.synth import SynthConfig, generate_archive
from tgram.train import fit

pytestmark = pytest.mark.gpu
DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")


def test_autocast_inference_keeps_the_fp32_detections() -> None:
    torch.manual_seed(0)
    model = TGraM(ModelConfig(emb_dim=16, adversarial=False, graph_window=3), num_ids=4).eval()
    torch.nn.init.normal_(model.graph.out.weight, std=0.05)
    frames = list(np.random.default_rng(0).integers(0, 256, (3, 128, 192, 3), np.uint8))
    reference = Detector(model, device=torch.device("cpu"), runtime="eager")(frames)
    on_device = Detector(model, device=DEVICE, runtime="eager")(frames)
    assert on_device.boxes.shape == reference.boxes.shape
    np.testing.assert_allclose(on_device.scores, reference.scores, atol=0.03)
    np.testing.assert_allclose(on_device.boxes, reference.boxes, atol=1.5)


def test_training_on_the_device_with_amp_and_gal(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    generate_archive(
        archive, SynthConfig(width=192, height=128, frames=6, videos=2, seed=3), workers=1
    )
    cfg = tiny_config(archive, tmp_path / "runs")
    cfg = replace(
        cfg,
        model=replace(cfg.model, adversarial=True, graph_window=3, graph_ordered=True),
        optim=replace(cfg.optim, steps_per_epoch=3),
    )
    result = fit(cfg, device=DEVICE)
    assert next(result.model.parameters()).device.type == DEVICE.type
    steps = json.loads((tmp_path / "runs" / cfg.name / "steps.json").read_text())
    assert len(steps) == 3
    assert all(np.isfinite(s[k]) for s in steps for k in ("total", "adv", "adv_cos"))
