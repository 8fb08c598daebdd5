"""The model: detection quality per class, training throughput and inference fps per backbone.

Quality is AP@0.5 and centre recall per class of the shipped weights on the validation
archive that weights/README.md was measured on: the card's `tgram synth` recipe for it
(seed 2000), crops scored by `tgram.train.validate`, the function that produced the card's
numbers. Their peer is what the weights file recorded at training, so a ratio off 1.0 means
the data, the decoding or the scoring changed since (or the generator: the card's archive is
what the recipe wrote at the card's commit). `TGRAM_BENCH_ARCHIVE=data/val_v2` scores an
existing archive instead and skips generating one. Full-frame AP on test seeds and on the
held-out style family is in bench_tracking.

Training from scratch takes an hour on a 2-core CPU, so by default the bench scores the
shipped weights only; `TGRAM_BENCH_TRAIN_EPOCHS=N` also trains each backbone for N epochs
with `tgram.train.fit` on the same archive (configs/train/synth.yaml otherwise) and scores it
the same way, with the shipped weights as its peer: the full "trains and evaluates" run for a
GPU machine.

Speed numbers do not depend on the weights, so they come from randomly initialised models of
each backbone (full TGraM otherwise: T=3, graph, adversarial): training samples/s is `fit`'s
own rate (data loading included, as in real training) over a short second epoch, the first
being warm-up; inference fps is `Detector` (padding, forward with AMP on CUDA, decode) on
noise frames, median after warm-up. dla34 rows have mobilenetv3 of the same run as peer,
mobilenetv3 inference rows the satellite video frame rate. About 4 minutes on 2 cores.
"""

from __future__ import annotations

import logging
import os
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import get_args, get_type_hints

import numpy as np
import torch

from tgram.config import load_config
from tgram.data.dataset import MultiFrameDataset
from tgram.inference import Detector
from tgram.model.config import ModelConfig
from tgram.model.tgram import TGraM
from tgram.model.weights import load_weights, read_checkpoint
from tgram.resources import CONFIGS, SHIPPED_WEIGHTS
from tgram.synth import SynthConfig, generate_archive
from tgram.train import TrainConfig, build_datasets, fit, load_train_config, select_device, validate

log = logging.getLogger(__name__)

BACKBONES: tuple[str, ...] = get_args(get_type_hints(ModelConfig)["backbone"])
CARD_ARCHIVE = {"videos": 8, "frames": 25, "width": 960, "height": 544, "seed": 2000}
"""The weights card's validation `tgram synth` overrides of configs/synth/default.yaml."""
RESOLUTIONS = ((1088, 608), (1920, 1080))
"""Inference frame sizes (width, height): FairMOT's input size and a full-HD Jilin-1 frame."""
VIDEO_FPS = SynthConfig().fps
"""Jilin-1 frame rate: mobilenetv3's inference fps over it is its real-time factor."""
TRAIN_STEPS = 5
"""Optimiser steps per epoch of the throughput runs (2 epochs; only the second is timed):
enough that a short burst of other work on a shared machine does not decide the rate."""
INFERENCE_REPEATS = {"cpu": (1, 3), "cuda": (5, 20)}
"""(warm-up, timed) frames per backbone and size: few on CPU, where dla34 at 1080p takes seconds."""
CLASS_METRICS = ("ap50", "centre_recall")
METRIC_NAMES = {"ap50": "AP@0.5", "centre_recall": "centre recall"}
MEAN_NAMES = {"map50": "mAP@0.5", "centre_recall": "mean centre recall"}


def run() -> list[dict]:
    train_epochs = int(os.environ.get("TGRAM_BENCH_TRAIN_EPOCHS", "0"))
    device = select_device()
    with tempfile.TemporaryDirectory(prefix="tgram-bench-model-") as tmp:
        archive = os.environ.get("TGRAM_BENCH_ARCHIVE") or generate_card_archive(Path(tmp))
        cfg = load_train_config(
            CONFIGS / "train" / "synth.yaml",
            {"data.path": archive, "data.val_path": archive, "storage_path": tmp},
        )
        datasets = build_datasets(cfg)
        shipped = _shipped_metrics(cfg, datasets[1], device)
        recorded = read_checkpoint(str(SHIPPED_WEIGHTS))["metrics"]
        shipped_name = f"shipped weights ({cfg.model.backbone})"
        rows = _quality_rows(
            shipped_name, shipped, "recorded in the weights file at training", recorded
        )
        for backbone in BACKBONES if train_epochs > 0 else ():
            trained_cfg = _backbone_config(
                cfg, backbone, f"bench_{backbone}_trained", epochs=train_epochs
            )
            trained = fit(trained_cfg, device=device, datasets=datasets)
            rows += _quality_rows(
                f"{backbone} trained here ({train_epochs} epochs)",
                trained.history[-1],
                shipped_name,
                shipped,
            )
        rates = {
            backbone: _train_samples_per_s(
                _backbone_config(cfg, backbone, f"bench_{backbone}_throughput", epochs=2),
                datasets,
                device,
            )
            for backbone in BACKBONES
        }
    crop_h, crop_w = cfg.data.input_size
    crops = f"{crop_w}x{crop_h} crops, batch {cfg.optim.batch_size}, {device.type}"
    rows += _speed_rows("train samples/s", crops, rates, "samples/s", None)
    amp = " bf16" if device.type == "cuda" else ""
    for width, height in RESOLUTIONS:
        fps = {
            backbone: _inference_fps(replace(cfg.model, backbone=backbone), width, height, device)
            for backbone in BACKBONES
        }
        video_rate = ("video frame rate (Jilin-1)", VIDEO_FPS)
        rows += _speed_rows(
            "inference fps", f"{width}x{height}, {device.type}{amp}", fps, "fps", video_rate
        )
    return rows


def generate_card_archive(tmp: Path) -> str:
    """The weights card's validation archive, written by today's generator."""
    synth = load_config(CONFIGS / "synth" / "default.yaml", SynthConfig, CARD_ARCHIVE)
    generate_archive(tmp / "archive", synth)
    return str(tmp / "archive")


def _shipped_metrics(
    cfg: TrainConfig, val_set: MultiFrameDataset, device: torch.device
) -> dict[str, float]:
    model, model_cfg = load_weights(str(SHIPPED_WEIGHTS), device=device)
    return validate(model, val_set, replace(cfg, model=model_cfg), device)


def _backbone_config(cfg: TrainConfig, backbone: str, name: str, *, epochs: int) -> TrainConfig:
    """The shipped training config with another backbone and length; `name` keeps runs apart."""
    return replace(
        cfg,
        name=name,
        model=replace(cfg.model, backbone=backbone),
        optim=replace(cfg.optim, epochs=epochs),
    )


def _train_samples_per_s(
    cfg: TrainConfig, datasets: tuple[MultiFrameDataset, MultiFrameDataset], device: torch.device
) -> float:
    """`fit`'s samples/s of its last epoch; the first is warm-up, and validation is skipped."""
    short = replace(cfg, val_images=0, optim=replace(cfg.optim, steps_per_epoch=TRAIN_STEPS))
    return fit(short, device=device, datasets=datasets).history[-1]["samples_per_s"]


def _inference_fps(model_cfg: ModelConfig, width: int, height: int, device: torch.device) -> float:
    """Frames/s of one `Detector` call (T frames in, the current frame's detections out)."""
    detector = Detector(TGraM(model_cfg, num_ids=1), device=device)
    frames = list(
        np.random.default_rng(0).integers(0, 256, (model_cfg.frames, height, width, 3), np.uint8)
    )
    warm_up, timed = INFERENCE_REPEATS[device.type]
    for _ in range(warm_up):
        detector(frames)
    seconds = []
    for _ in range(timed):
        start = time.perf_counter()
        detector(frames)  # returns numpy arrays, so CUDA work is finished when it returns
        seconds.append(time.perf_counter() - start)
    log.info(
        "%s %dx%d: %s s per frame",
        model_cfg.backbone,
        width,
        height,
        [round(s, 3) for s in seconds],
    )
    return 1.0 / statistics.median(seconds)


def _quality_rows(
    name: str, metrics: dict[str, float], peer: str, peer_metrics: dict[str, float]
) -> list[dict]:
    """AP@0.5 and centre recall per class with ground truth in the split, then their means."""
    classes = [key.removeprefix("val/ap50/") for key in metrics if key.startswith("val/ap50/")]
    keys = [f"{metric}/{c}" for c in classes for metric in CLASS_METRICS] + list(MEAN_NAMES)
    rows = []
    for key in keys:
        metric, _, class_name = key.partition("/")
        label = f"{METRIC_NAMES[metric]} {class_name}" if class_name else MEAN_NAMES[metric]
        peer_value = peer_metrics.get(f"val/{key}")
        rows.append(_row(f"{label}, {name}", metrics[f"val/{key}"], None, peer, peer_value))
    return rows


def _speed_rows(
    metric: str,
    setting: str,
    values: dict[str, float],
    unit: str,
    first_peer: tuple[str, float] | None,
) -> list[dict]:
    """One row per backbone; the first backbone's peer is `first_peer`, the others' the first."""
    first = BACKBONES[0]
    rows = []
    for backbone, value in values.items():
        if backbone == first:
            peer, peer_value = first_peer or (None, None)
        else:
            peer, peer_value = f"{first}, same run", values[first]
        name = f"{metric}, {backbone} (random init), {setting}"
        rows.append(_row(name, value, unit, peer, peer_value))
    return rows


def _row(
    name: str,
    value: float,
    unit: str | None,
    peer: str | None,
    peer_value: float | None,
) -> dict:
    """A row without a target: these numbers are reported, not judged."""
    ratio = _significant(value / peer_value) if peer_value else None
    return {
        "name": name,
        "value": _significant(value),
        "unit": unit,
        "peer": peer,
        "peer_value": None if peer_value is None else _significant(peer_value),
        "ratio": ratio,
        "target": None,
        "ok": None,
    }


def _significant(value: float) -> float:
    """3 significant digits: sub-1 fps and AP values keep their precision, others lose noise."""
    return float(f"{value:.3g}")


if __name__ == "__main__":
    from tests.bench.run import to_table

    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    print(to_table(run()))
