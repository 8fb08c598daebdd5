"""Ray Train (DDP) around the one training loop, `tgram.train.fit`.

Each worker runs `fit` with `RayTrainHooks`: Ray wraps the model in DistributedDataParallel
(gloo on CPU, nccl on GPU) and the loader in a DistributedSampler; rank 0 writes the
checkpoint that every worker restores from after a failure or when the run is started again
under the same name, and exports the weights file at the end.
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
from torch import nn
from torch.utils.data import DataLoader

from tgram import storage
from tgram.config import from_dict, to_dict
from tgram.train import TrainConfig, export_weights, fit

log = logging.getLogger(__name__)

CHECKPOINT_FILE = "checkpoint.pt"
SCORE_METRIC = "val/map50"


class RayTrainHooks:
    """`TrainHooks` inside a Ray Train worker."""

    def __init__(self) -> None:
        context = ray.train.get_context()
        self.rank = context.get_world_rank()
        self.world_size = context.get_world_size()

    def prepare_model(self, model: nn.Module) -> nn.Module:
        # Every parameter gets a gradient each step (the discriminator and the uncertainty
        # weights through compute_losses), so DDP needs no unused-parameter search. Loss
        # normalisers are global (losses.batch_count); batch statistics are synced on GPU.
        if self.world_size > 1 and torch.cuda.is_available():
            nn.SyncBatchNorm.convert_sync_batchnorm(model)
        return ray.train.torch.prepare_model(model, move_to_device=False)

    def prepare_loader(self, loader: DataLoader) -> DataLoader:
        return ray.train.torch.prepare_data_loader(loader, move_to_device=False)

    def restore(self) -> dict[str, Any] | None:
        checkpoint = ray.train.get_checkpoint()
        if checkpoint is None:
            return None
        with checkpoint.as_directory() as directory:
            return torch.load(Path(directory) / CHECKPOINT_FILE, map_location="cpu", weights_only=True)

    def report(self, metrics: dict[str, float], checkpoint: dict[str, Any]) -> None:
        if self.rank != 0:
            ray.train.report(metrics)
            return
        with tempfile.TemporaryDirectory() as directory:
            torch.save(checkpoint, Path(directory) / CHECKPOINT_FILE)
            ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(directory))


def train_worker(config: dict[str, Any]) -> None:
    """Runs on every worker: the same `fit` as `tgram train`, then rank 0 exports weights."""
    cfg = from_dict(TrainConfig, config["train"], source="ray train config")
    hooks = RayTrainHooks()
    result = fit(cfg, hooks=hooks, device=ray.train.torch.get_device())
    if hooks.rank == 0:
        export_weights(result, config["weights_uri"])


def train_on_ray(
    cfg: TrainConfig,
    *,
    workers: int,
    use_gpu: bool = False,
    storage_path: str | None = None,
    max_failures: int = 2,
    cpus_per_worker: float = 1.0,
) -> tuple[ray.train.Result, str]:
    """Train with `workers` DDP workers; returns Ray's result and the exported weights' URI.

    `cfg.optim.batch_size` is the global batch: each worker takes its share. Needs a
    connected Ray (`ray.init`). Started again with the same name and storage it resumes.
    """
    if cfg.optim.batch_size % workers:
        raise ValueError(f"optim.batch_size ({cfg.optim.batch_size}) must be divisible by workers ({workers})")
    root = storage_path or cfg.storage_path
    fs, path = storage.resolve(root)
    per_worker = replace(
        cfg,
        storage_path=root,
        optim=replace(cfg.optim, batch_size=cfg.optim.batch_size // workers),
    )
    weights_uri = storage.join(root, cfg.name, "weights.pt")
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
                num_to_keep=2, checkpoint_score_attribute=SCORE_METRIC, checkpoint_score_order="max"
            ),
            worker_runtime_env={"env_vars": storage.s3_env()},
        ),
    )
    return trainer.fit(), weights_uri


def load_ray_checkpoint(result: ray.train.Result) -> dict[str, Any]:
    """The latest checkpoint dict of a finished run (history, epoch, weights)."""
    with result.checkpoint.as_directory() as directory:
        data = (Path(directory) / CHECKPOINT_FILE).read_bytes()
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
