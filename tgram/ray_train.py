"""Ray Train (DDP) around the one training loop, `tgram.train.fit`.

Each worker runs `fit` with `RayTrainHooks`: the model is wrapped in DistributedDataParallel
(gloo on CPU, nccl on GPU: Ray's TorchConfig picks the backend and starts the process group)
and the loader gets a DistributedSampler; rank 0 writes the checkpoint that every worker
restores from after a failure or when the run is started again under the same name, and
exports the weights file at the end. Data and storage may be local paths or s3:// URIs:
the data loaders and checkpoints go through `tgram.storage`, so nothing is staged locally.
"""

from __future__ import annotations

import io
import logging
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import ray
import ray.train
import ray.train.torch
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from tgram import storage
from tgram.config import from_dict, to_dict
from tgram.ray_session import connect
from tgram.train import CHECKPOINT_FILE, WEIGHTS_FILE, TrainConfig, export_weights, fit

log = logging.getLogger(__name__)

SCORE_METRIC = "val/map50"
"""Validation metric that decides which checkpoints are kept (higher is better)."""
CHECKPOINTS_TO_KEEP = 2


def distributed_model(model: nn.Module, device: torch.device) -> nn.Module:
    """`model` wrapped for DDP in an initialised process group (unchanged for one process).

    Every parameter gets its gradient from the one `backward` of each step: the heads
    through the forward pass, the uncertainty weights and the discriminator through
    `compute_losses` (which runs on the unwrapped model, but DDP's reducer hooks sit on the
    parameters themselves, so they fire there too). The per-task gradients inside the
    adversarial loss come from `torch.autograd.grad` w.r.t. the features, which accumulates
    into no parameter and so triggers no all-reduce. Hence no `find_unused_parameters`
    (its extra graph walk each step) and exactly one all-reduce per parameter per step.
    Batch statistics are synchronised on GPU (SyncBatchNorm needs NCCL).
    """
    if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        return model
    if device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        return DistributedDataParallel(model, device_ids=[device], output_device=device)
    return DistributedDataParallel(model)


class RayTrainHooks:
    """`TrainHooks` inside a Ray Train worker."""

    def __init__(self, device: torch.device) -> None:
        context = ray.train.get_context()
        self.rank = context.get_world_rank()
        self.world_size = context.get_world_size()
        self.device = device

    def prepare_model(self, model: nn.Module) -> nn.Module:
        return distributed_model(model, self.device)

    def prepare_loader(self, loader: DataLoader) -> DataLoader:
        # Batches are moved by `fit`; Ray only swaps in a DistributedSampler (shuffle kept).
        return ray.train.torch.prepare_data_loader(loader, move_to_device=False)

    def restore(self) -> dict[str, Any] | None:
        checkpoint = ray.train.get_checkpoint()
        return None if checkpoint is None else read_checkpoint(checkpoint)

    def report(self, metrics: dict[str, float], checkpoint: dict[str, Any]) -> None:
        # Every rank must call report (it is a barrier); one copy of the weights is enough.
        if self.rank != 0:
            ray.train.report(metrics)
            return
        with tempfile.TemporaryDirectory() as directory:
            torch.save(checkpoint, Path(directory) / CHECKPOINT_FILE)
            # The default upload mode is synchronous, so the temporary directory may go after.
            ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(directory))


def train_worker(config: dict[str, Any]) -> None:
    """Runs on every worker: the same `fit` as `tgram train`, then rank 0 exports weights."""
    cfg = from_dict(TrainConfig, config["train"], source="ray train config")
    device = ray.train.torch.get_device()
    hooks = RayTrainHooks(device)
    result = fit(cfg, hooks=hooks, device=device)
    if hooks.rank == 0:
        export_weights(result, config["weights_uri"])


def train_on_ray(
    cfg: TrainConfig,
    *,
    workers: int,
    use_gpu: bool = False,
    storage_path: str | None = None,
    address: str | None = None,
    max_failures: int = 2,
    cpus_per_worker: float = 1.0,
) -> tuple[ray.train.Result, str]:
    """Train with `workers` DDP workers; returns Ray's result and the exported weights' URI.

    `cfg.optim.batch_size` is the global batch (each worker takes its share), so a config
    trains the same model on 1 or N workers. Checkpoints go to
    `<storage_path or cfg.storage_path>/<cfg.name>/`; started again with the same name and
    storage the run resumes from its latest checkpoint, and a worker that dies restarts the
    group from there (up to `max_failures` times). Joins the Ray cluster at `address`
    (`auto`, `ray://...`) or starts a local Ray unless one is already connected.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if cfg.optim.batch_size % workers:
        raise ValueError(
            f"optim.batch_size ({cfg.optim.batch_size}) must be divisible by workers ({workers})"
        )
    connect(address)
    root = storage_path or cfg.storage_path
    fs, path = storage.resolve(root)
    per_worker = replace(
        cfg, storage_path=root, optim=replace(cfg.optim, batch_size=cfg.optim.batch_size // workers)
    )
    weights_uri = storage.join(root, cfg.name, WEIGHTS_FILE)
    trainer = ray.train.torch.TorchTrainer(
        train_worker,
        train_loop_config={"train": to_dict(per_worker), "weights_uri": weights_uri},
        scaling_config=ray.train.ScalingConfig(
            num_workers=workers, use_gpu=use_gpu, resources_per_worker={"CPU": cpus_per_worker}
        ),
        run_config=ray.train.RunConfig(
            name=cfg.name,
            storage_path=path,
            storage_filesystem=fs,
            failure_config=ray.train.FailureConfig(max_failures=max_failures),
            checkpoint_config=ray.train.CheckpointConfig(
                num_to_keep=CHECKPOINTS_TO_KEEP,
                checkpoint_score_attribute=SCORE_METRIC,
                checkpoint_score_order="max",
            ),
            worker_runtime_env={"env_vars": storage.s3_env()},
        ),
    )
    result = trainer.fit()
    log.info("run %s finished in %s; weights %s", cfg.name, result.path, weights_uri)
    return result, weights_uri


def read_checkpoint(checkpoint: ray.train.Checkpoint) -> dict[str, Any]:
    """The checkpoint dict, read straight from the checkpoint's own filesystem.

    Not `Checkpoint.as_directory`: for remote storage it downloads into one temporary
    directory shared by the workers of a node, and a worker that takes the download lock after
    another finished downloads again over the files the first is still reading (seen as a
    "PytorchStreamReader failed reading file" on rank 1 of a two-worker resume from S3).
    """
    path = f"{checkpoint.path.rstrip('/')}/{CHECKPOINT_FILE}"
    with checkpoint.filesystem.open_input_stream(path) as stream:
        data = stream.read()
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


def load_ray_checkpoint(result: ray.train.Result) -> dict[str, Any]:
    """The latest checkpoint dict of a finished run (history, epoch, weights)."""
    return read_checkpoint(result.checkpoint)
