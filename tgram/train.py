"""The one training loop: `tgram train` runs it in one process, Ray Train runs it per worker.

Everything that differs between the two (DDP wrapping, distributed sampling, where
checkpoints go, how metrics are reported) comes in through a `TrainHooks` object, so there is
no second copy of the loop.
"""

from __future__ import annotations

import io
import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel
from torch.utils.data import DataLoader

from tgram import storage
from tgram.config import ConfigError, load_config, to_dict
from tgram.data.dataset import DataConfig, MultiFrameDataset
from tgram.data.sources import load_sequences, split_validation
from tgram.detection_metrics import ImageDetections, detection_metrics
from tgram.model.config import ModelConfig
from tgram.model.decode import AP_SCORE_FLOOR, decode
from tgram.model.tgram import TGraM
from tgram.model.weights import (
    TRAINING_ONLY,
    checkpoint_dict,
    load_tensors,
    model_from_checkpoint,
    read_checkpoint,
)

log = logging.getLogger(__name__)

CHECKPOINT_FILE = "checkpoint.pt"
"""A run's resumable state (model, optimiser, EMA, history), in its run directory."""
WEIGHTS_FILE = "weights.pt"
"""A finished run's exported weights (fp16), beside its checkpoint."""
STEPS_FILE = "steps.json"
"""Per-step values of STEP_LOGGED, beside metrics.json (per-epoch means)."""
STEP_LOGGED = ("total", "det", "id", "adv", "adv_acc", "adv_cos", "adv_neg")
"""Loss parts kept for every optimiser step: the adversarial ones move within an epoch
(the reversal ramps up), so epoch means alone would hide whether GAL acts."""


@dataclass(frozen=True)
class OptimConfig:
    lr: float = 5e-4
    """Adam learning rate of the network (the discriminator's comes from the model config)."""
    weight_decay: float = 0.0
    epochs: int = 20
    batch_size: int = 8
    """The global batch; Ray Train splits it evenly over the workers."""
    warmup_steps: int = 200
    """Linear warm-up of the learning rate from 0; then a cosine decay to `final_lr_ratio` x lr."""
    final_lr_ratio: float = 0.02
    grad_clip_norm: float = 35.0
    """Gradient-norm clip; lowering it steadies early training with the adversarial term."""
    steps_per_epoch: int | None = None
    """Optimizer steps per epoch, whatever the number of frames (None: one pass over the data)."""
    ema_decay: float = 0.999
    """Decay of the weight moving average that is validated, checkpointed and exported
    (ramped up over the first steps); 0 turns it off."""

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("optim.epochs and optim.batch_size must be >= 1")
        if self.steps_per_epoch is not None and self.steps_per_epoch < 1:
            raise ValueError(
                f"optim.steps_per_epoch must be >= 1 or null, got {self.steps_per_epoch}"
            )
        if not 0 <= self.ema_decay < 1:
            raise ValueError(f"optim.ema_decay must be in [0, 1), got {self.ema_decay}")
        if self.warmup_steps < 0 or not 0 <= self.final_lr_ratio <= 1:
            raise ValueError("optim.warmup_steps must be >= 0 and optim.final_lr_ratio in [0, 1]")


@dataclass(frozen=True)
class TrainConfig:
    name: str = "tgram"
    seed: int = 0
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loader_workers: int = 2
    amp: bool = True
    """Mixed precision (bf16 autocast) on CUDA; ignored on CPU."""
    val_images: int = 64
    """Validation crops scored per epoch (AP@0.5, centre recall)."""
    storage_path: str = "runs"
    """Local dir or s3:// prefix; a run writes under <storage_path>/<name>/."""
    init_weights: str | None = None
    """Weights file or checkpoint (local or s3://) a new run starts from: fine-tuning, e.g. the
    shipped weights on a custom dataset. The architecture must match `model` outside
    `init_fresh`; the identity classifier is dataset-specific and starts afresh. A resumed run
    ignores it."""
    init_fresh: tuple[str, ...] = ()
    """Modules (state-dict prefixes, e.g. "graph") that start afresh instead of from
    `init_weights`, whatever either side has there: an ablation starts every variant from one
    detector trunk, with or without a graph of another shape."""


class TrainHooks(Protocol):
    """What differs between single-process and Ray Train (per-worker) training."""

    rank: int
    world_size: int

    def prepare_model(self, model: nn.Module) -> nn.Module: ...

    def prepare_loader(self, loader: DataLoader) -> DataLoader: ...

    def restore(self) -> dict[str, Any] | None: ...

    def report(self, metrics: dict[str, float], checkpoint: dict[str, Any]) -> None: ...


class LocalHooks:
    """Single process: checkpoints and metrics under <storage_path>/<name>/ (local or s3://)."""

    rank = 0
    world_size = 1

    def __init__(self, run_dir: str) -> None:
        self.run_dir = run_dir

    def prepare_model(self, model: nn.Module) -> nn.Module:
        return model

    def prepare_loader(self, loader: DataLoader) -> DataLoader:
        return loader

    def restore(self) -> dict[str, Any] | None:
        uri = storage.join(self.run_dir, CHECKPOINT_FILE)
        if not storage.exists(uri):
            return None
        return torch.load(
            io.BytesIO(storage.read_bytes(uri)), map_location="cpu", weights_only=True
        )

    def report(self, metrics: dict[str, float], checkpoint: dict[str, Any]) -> None:
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        storage.write_bytes(storage.join(self.run_dir, CHECKPOINT_FILE), buffer.getvalue())
        history = checkpoint["history"]
        storage.write_bytes(
            storage.join(self.run_dir, "metrics.json"), json.dumps(history, indent=1).encode()
        )
        storage.write_bytes(
            storage.join(self.run_dir, STEPS_FILE), json.dumps(checkpoint["steps"]).encode()
        )


@dataclass
class FitResult:
    model: TGraM
    history: list[dict[str, float]]
    trained_epochs: int = 0
    """Epochs run by this call (0: the run had finished already)."""


RESUMABLE_CHANGES = (
    "optim.epochs",
    "loader_workers",
    "storage_path",
    "init_weights",
    "init_fresh",
)
"""Settings a resumed run may differ in from its checkpoint: training on for more epochs,
more loader processes, where the run lives, and the start weights and what of them starts
afresh (a resumed run ignores both). Any other difference is an error unless asked for
(`resume_changed`)."""


def config_changes(saved: dict[str, Any], current: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two `to_dict` configs."""
    changed = []
    for key in sorted(set(saved) | set(current)):
        a, b = saved.get(key), current.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            changed += config_changes(a, b, f"{prefix}{key}.")
        elif a != b:
            changed.append(f"{prefix}{key}")
    return changed


def load_train_config(path: str | Path, overrides: dict[str, Any] | None = None) -> TrainConfig:
    return load_config(path, TrainConfig, overrides)


def select_device(prefer_gpu: bool = True) -> torch.device:
    return torch.device("cuda" if prefer_gpu and torch.cuda.is_available() else "cpu")


def build_datasets(cfg: TrainConfig) -> tuple[MultiFrameDataset, MultiFrameDataset]:
    """Train and validation datasets with one identity space (ids global over both)."""
    sequences = load_sequences(
        cfg.data.source, cfg.data.path, cfg.model.classes, cfg.data.max_frames_per_video
    )
    if cfg.data.val_path:
        val_sequences = load_sequences(
            cfg.data.source, cfg.data.val_path, cfg.model.classes, cfg.data.max_frames_per_video
        )
    else:
        sequences, val_sequences = split_validation(sequences)
    common = dict(
        num_frames=cfg.model.frames,
        num_classes=len(cfg.model.classes),
        input_size=cfg.data.input_size,
        max_objects=cfg.model.max_objects,
        frame_stride=cfg.data.frame_stride,
        min_visibility=cfg.data.min_visibility,
        min_contrast=cfg.data.min_contrast,
        contrast_classes=[
            cfg.model.classes.index(n) for n in cfg.data.contrast_classes if n in cfg.model.classes
        ],
        seed=cfg.seed,
    )
    steps = cfg.optim.steps_per_epoch
    samples = steps * cfg.optim.batch_size if steps is not None else None
    train = MultiFrameDataset(
        sequences,
        augment=cfg.data.augment,
        reid_objects=cfg.data.reid_objects,
        samples_per_epoch=samples,
        **common,
    )
    val = MultiFrameDataset(val_sequences, augment=None, **common)
    return train, val


def fit(
    cfg: TrainConfig,
    *,
    hooks: TrainHooks | None = None,
    device: torch.device | None = None,
    datasets: tuple[MultiFrameDataset, MultiFrameDataset] | None = None,
    resume_changed: bool = False,
) -> FitResult:
    """Train `cfg` to `cfg.optim.epochs`, resuming from the hooks' checkpoint if there is one.

    A checkpoint made with other settings (beyond RESUMABLE_CHANGES) is an error naming
    them, unless `resume_changed`; a run that reached its epochs trains no more."""
    hooks = hooks or LocalHooks(storage.join(cfg.storage_path, cfg.name))
    device = device or select_device()
    torch.manual_seed(cfg.seed + hooks.rank)
    train_set, val_set = datasets or build_datasets(cfg)
    model = TGraM(cfg.model, num_ids=max(train_set.num_ids, 1)).to(device)
    state = hooks.restore()
    if state is None and cfg.init_weights is not None:
        initialise(model, cfg.init_weights, fresh=cfg.init_fresh)
    optimizer = torch.optim.Adam(
        model.parameter_groups(cfg.optim.lr), weight_decay=cfg.optim.weight_decay
    )
    ema = _ema(model, cfg.optim.ema_decay)
    start_epoch, history, step_log = 0, [], []
    if state is not None:
        changed = [
            key
            for key in config_changes(state.get("train_config", {}), to_dict(cfg))
            if key not in RESUMABLE_CHANGES
        ]
        if changed and not resume_changed:
            raise ConfigError(
                f"run '{cfg.name}': its checkpoint was trained with other settings "
                f"({', '.join(changed)}); use a new name, or resume with these anyway "
                "(--resume-changed)"
            )
        model.load_state_dict(state["train_state_dict"])
        optimizer.load_state_dict(state["optimizer"])
        if ema is not None:  # the checkpoint's state_dict is the average itself
            ema.module.load_state_dict(state["state_dict"])
            ema.n_averaged.fill_(int(state["ema_count"]))
        start_epoch, history = int(state["epoch"]), list(state["history"])
        step_log = list(state.get("steps", []))
        log.info("resumed %s at epoch %d", cfg.name, start_epoch)
    averaged = ema.module if ema is not None else model
    wrapped = hooks.prepare_model(model)
    loader = hooks.prepare_loader(
        DataLoader(
            train_set,
            batch_size=cfg.optim.batch_size,
            shuffle=True,
            num_workers=cfg.loader_workers,
            drop_last=len(train_set) >= cfg.optim.batch_size,
            persistent_workers=cfg.loader_workers > 0,
            generator=torch.Generator().manual_seed(cfg.seed),
        )
    )
    steps_per_epoch = len(loader)
    total_steps = steps_per_epoch * cfg.optim.epochs
    use_amp = cfg.amp and device.type == "cuda"
    if start_epoch >= cfg.optim.epochs:
        log.info(
            "run '%s' finished at epoch %d of %d: nothing to train (raise optim.epochs to go on)",
            cfg.name,
            start_epoch,
            cfg.optim.epochs,
        )
    for epoch in range(start_epoch, cfg.optim.epochs):
        train_set.set_epoch(epoch)
        if hasattr(loader, "sampler") and hasattr(loader.sampler, "set_epoch"):
            loader.sampler.set_epoch(epoch)
        t0 = time.perf_counter()
        sums: dict[str, float] = {}
        model.train()
        for step, batch in enumerate(loader):
            global_step = epoch * steps_per_epoch + step
            _set_lr(optimizer, learning_rate(cfg.optim, global_step, total_steps))
            batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                outputs = wrapped(batch["frames"])
                losses = model.compute_losses(
                    outputs, batch, progress=global_step / max(total_steps, 1)
                )
            optimizer.zero_grad(set_to_none=True)
            losses["total"].backward()
            nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip_norm)
            optimizer.step()
            if ema is not None:
                ema.update_parameters(model)
            values = {k: float(v.detach()) for k, v in losses.items()}
            for k, v in values.items():
                sums[k] = sums.get(k, 0.0) + v
            step_log.append(
                {"step": global_step, **{k: values[k] for k in STEP_LOGGED if k in values}}
            )
        seconds = time.perf_counter() - t0
        metrics = {f"loss/{k}": v / max(steps_per_epoch, 1) for k, v in sums.items()}
        metrics.update(validate(averaged, val_set, cfg, device))
        metrics.update(
            epoch=epoch + 1,
            lr=optimizer.param_groups[0]["lr"],
            samples_per_s=steps_per_epoch * cfg.optim.batch_size * hooks.world_size / seconds,
        )
        history.append(metrics)
        log.info("epoch %d/%d %s", epoch + 1, cfg.optim.epochs, _fmt(metrics))
        checkpoint = checkpoint_dict(averaged, cfg.model, metrics)
        checkpoint.update(
            train_state_dict=model.state_dict(),
            optimizer=optimizer.state_dict(),
            epoch=epoch + 1,
            history=history,
            steps=step_log,
            train_config=to_dict(cfg),
        )
        if ema is not None:
            checkpoint["ema_count"] = int(ema.n_averaged)
        hooks.report(metrics, checkpoint)
    return FitResult(averaged, history, max(cfg.optim.epochs - start_epoch, 0))


@torch.inference_mode()
def validate(
    model: TGraM, val_set: MultiFrameDataset, cfg: TrainConfig, device: torch.device
) -> dict[str, float]:
    """AP@0.5 and centre recall on a fixed set of validation crops."""
    if len(val_set) == 0:
        return {}
    model.eval()
    indices = (
        np.linspace(0, len(val_set) - 1, min(cfg.val_images, len(val_set))).round().astype(int)
    )
    dets, gts = [], []
    for i in indices:
        sample = val_set[int(i)]
        outputs = model(sample["frames"][None].to(device))
        det = decode(
            outputs,
            score_threshold=AP_SCORE_FLOOR,
            peaks=cfg.model.peaks,
            peak_ratio=cfg.model.peak_ratio,
        )[0]
        dets.append(ImageDetections(det.boxes, det.scores, det.classes))
        gts.append(val_set.ground_truth(int(i)))
    model.train()
    return {f"val/{k}": v for k, v in detection_metrics(dets, gts, cfg.model.classes).items()}


def export_weights(result: FitResult, uri: str, *, half: bool = True) -> str:
    """Write the trained model as a weights file (same format as weights/) to `uri`."""
    from tgram.model.weights import save_weights

    save_weights(
        uri, result.model, result.model.cfg, result.history[-1] if result.history else {}, half=half
    )
    return uri


def load_checkpoint_model(uri: str, device: torch.device) -> TGraM:
    state = torch.load(io.BytesIO(storage.read_bytes(uri)), map_location=device, weights_only=True)
    return model_from_checkpoint(state, source=uri).to(device)


def learning_rate(optim: OptimConfig, step: int, total_steps: int) -> float:
    """Linear warm-up, then cosine decay from `lr` to `final_lr_ratio * lr` at the last step."""
    if step < optim.warmup_steps:
        return optim.lr * (step + 1) / optim.warmup_steps
    span = max(total_steps - optim.warmup_steps - 1, 1)
    progress = min((step - optim.warmup_steps) / span, 1.0)
    final = optim.lr * optim.final_lr_ratio
    return final + (optim.lr - final) * 0.5 * (1 + math.cos(math.pi * progress))


def _set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set the network's rate; other groups (the discriminator) keep their ratio to it."""
    for group in optimizer.param_groups:
        group.setdefault("initial_lr", group["lr"])
    base = optimizer.param_groups[0]["initial_lr"]
    for group in optimizer.param_groups:
        group["lr"] = lr * group["initial_lr"] / base


def initialise(model: TGraM, uri: str, fresh: tuple[str, ...] = ()) -> None:
    """Load the weights of `uri` into `model`, all but the training-only parts (the identity
    classifier's size is the number of identities of the data it was trained on) and the
    modules named in `fresh`. A motion branch that `uri` lacks keeps its zero-initialised
    output, so the model starts as `uri`."""
    source = model_from_checkpoint(read_checkpoint(uri), source=uri)
    skipped = TRAINING_ONLY + tuple(f"{name}." for name in fresh)
    tensors = {k: v for k, v in source.state_dict().items() if not k.startswith(skipped)}
    missing, unexpected = load_tensors(model, tensors, source=uri, strict=False)
    fresh_here = skipped + (() if source.cfg.motion else ("motion.",))
    missing = [k for k in missing if not k.startswith(fresh_here)]
    if missing or unexpected:
        raise ValueError(
            f"{uri}: init_weights do not fit the model config"
            f" (missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    log.info("initialised %d tensors from %s", len(tensors), uri)


def _ema(model: TGraM, decay: float) -> AveragedModel | None:
    """A moving average of the weights (and BatchNorm statistics), decay ramped up from 0:
    early steps would otherwise average in the random initialisation for thousands of steps."""
    if decay == 0:
        return None

    def average(averaged: torch.Tensor, current: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
        d = min(decay, (1 + int(count)) / (10 + int(count)))
        return averaged * d + current * (1 - d)

    return AveragedModel(model, avg_fn=average, use_buffers=True)


def _fmt(metrics: dict[str, float]) -> str:
    return " ".join(
        f"{k}={v:.4g}" for k, v in metrics.items() if isinstance(v, float) and math.isfinite(v)
    )
