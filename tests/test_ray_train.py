"""Ray Train DDP on a real local Ray (2 CPU workers, gloo) with data and checkpoints on loopback S3."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pyarrow.fs as pafs
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.utils.data import DataLoader, Subset

from tests.conftest import _free_port
from tests.test_train import tiny_config
from tgram import storage
from tgram.inference import Detector
from tgram.model.tgram import TGraM
from tgram.ray_train import distributed_model, load_ray_checkpoint, train_on_ray
from tgram.synth import SynthConfig, generate_archive
from tgram.train import TrainConfig, build_datasets

GLOBAL_BATCH = 4


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("archive")
    generate_archive(out, SynthConfig(width=192, height=128, frames=6, videos=3, seed=3), workers=1)
    return out


def _config(data_path: str, epochs: int, name: str) -> TrainConfig:
    cfg = tiny_config(Path(data_path), Path("unused"), epochs=epochs)
    return replace(
        cfg,
        name=name,
        data=replace(cfg.data, path=data_path),
        optim=replace(cfg.optim, batch_size=GLOBAL_BATCH, steps_per_epoch=3),
    )


def _epochs(history: list[dict[str, float]]) -> list[int]:
    return [int(h["epoch"]) for h in history]


@pytest.mark.parametrize(
    ("workers", "batch_size", "message"),
    [(0, 4, "workers must be >= 1"), (3, 4, "must be divisible by workers")],
)
def test_rejects_bad_worker_counts(workers: int, batch_size: int, message: str) -> None:
    cfg = TrainConfig(optim=replace(TrainConfig().optim, batch_size=batch_size))
    with pytest.raises(ValueError, match=message):
        train_on_ray(cfg, workers=workers)


@pytest.mark.slow
def test_ddp_trains_from_s3_checkpoints_to_s3_exports_and_resumes(
    ray_local: None, s3_bucket: str, archive: Path
) -> None:
    fs, data_root = storage.resolve(f"{s3_bucket}/archive")
    pafs.copy_files(str(archive), data_root, destination_filesystem=fs)
    cfg = _config(f"{s3_bucket}/archive", epochs=3, name="ddp")

    result, weights = train_on_ray(cfg, workers=2, storage_path=f"{s3_bucket}/runs")

    history = load_ray_checkpoint(result)["history"]
    assert _epochs(history) == [1, 2, 3]
    assert history[-1]["loss/total"] < history[0]["loss/total"]
    _, run_dir = storage.resolve(f"{s3_bucket}/runs/ddp")
    files = [i.path for i in fs.get_file_info(pafs.FileSelector(run_dir, recursive=True))]
    assert 1 <= sum(f.endswith("/checkpoint.pt") for f in files) <= 2, files  # num_to_keep=2
    assert weights == f"{s3_bucket}/runs/ddp/weights.pt" and storage.exists(weights)
    detector = Detector.from_weights(weights, device=torch.device("cpu"), score_threshold=0.0)
    frame = np.zeros((128, 192, 3), np.uint8)
    assert len(detector([frame] * detector.num_frames).scores) > 0

    # The same name again with more epochs resumes after epoch 3 instead of starting over.
    again, _ = train_on_ray(
        replace(cfg, optim=replace(cfg.optim, epochs=4)),
        workers=2,
        storage_path=f"{s3_bucket}/runs",
    )
    resumed = load_ray_checkpoint(again)["history"]
    assert _epochs(resumed) == [1, 2, 3, 4]
    assert resumed[:3] == history


def _kill_one_train_worker_after_a_checkpoint(
    run_dir: Path, done: threading.Event, committed: dict
) -> None:
    """SIGKILL one Ray Train worker of this test's own Ray (a descendant of this process) once
    Ray has committed a checkpoint; `committed` gets that checkpoint's reported metrics.

    A checkpoint's files are uploaded before Ray registers it, so the signal is Ray's own
    checkpoint-manager snapshot (a private file of Ray Train V2), not the files.
    """
    while not done.wait(0.2):
        try:
            latest = json.loads((run_dir / "checkpoint_manager_snapshot.json").read_text())[
                "latest_checkpoint_result"
            ]
        except (OSError, ValueError):  # not written yet, or being written
            continue
        if latest is None:
            continue
        for proc in psutil.Process().children(recursive=True):
            try:
                if "RayTrainWorker" in " ".join(proc.cmdline()):
                    proc.kill()
                    committed.update(latest["metrics"])
                    return
            except psutil.NoSuchProcess:
                continue


@pytest.mark.slow
def test_killed_worker_restores_from_last_checkpoint(
    ray_local: None, tmp_path: Path, archive: Path
) -> None:
    cfg = _config(str(archive), epochs=4, name="killed")
    done, committed = threading.Event(), {}
    killer = threading.Thread(
        target=_kill_one_train_worker_after_a_checkpoint,
        args=(tmp_path / "killed", done, committed),
    )
    killer.start()
    try:
        result, _ = train_on_ray(cfg, workers=2, storage_path=str(tmp_path), max_failures=2)
    finally:
        done.set()
        killer.join()
    assert committed, "the run finished before a worker could be killed"
    assert result.error is None
    history = load_ray_checkpoint(result)["history"]
    assert _epochs(history) == [1, 2, 3, 4]
    # The committed epoch was restored, not trained again (a redone epoch has another speed).
    restored = history[int(committed["epoch"]) - 1]
    assert restored["samples_per_s"] == pytest.approx(committed["samples_per_s"], rel=1e-9)


def _first_step_gradients(cfg: TrainConfig, rank: int, world: int) -> dict[str, torch.Tensor]:
    """One step of `fit`'s maths on this rank's shard of the same global batch."""
    torch.manual_seed(0)
    train_set, _ = build_datasets(cfg)
    model = TGraM(cfg.model, num_ids=train_set.num_ids)
    # BatchNorm statistics are per worker on CPU (no SyncBatchNorm with gloo): freeze them so
    # the comparison isolates gradient averaging and the global loss normalisers.
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.eval()
    wrapped = distributed_model(model, torch.device("cpu"))
    shard = GLOBAL_BATCH // world
    batch = next(
        iter(
            DataLoader(Subset(train_set, range(rank * shard, (rank + 1) * shard)), batch_size=shard)
        )
    )
    losses = model.compute_losses(wrapped(batch["frames"]), batch, progress=0.5)
    losses["total"].backward()
    return {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


def _ddp_rank(rank: int, world: int, cfg: TrainConfig, port: int, out: dict[str, Any]) -> None:
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world
    )
    grads = _first_step_gradients(cfg, rank, world)
    if rank == 0:
        out.update(grads)
    dist.destroy_process_group()


@pytest.mark.slow
def test_two_worker_ddp_gradients_equal_one_process_on_the_global_batch(archive: Path) -> None:
    base = tiny_config(archive, Path("unused"))
    cfg = replace(
        base, data=replace(base.data, augment=None), model=replace(base.model, adversarial=True)
    )
    single = _first_step_gradients(cfg, rank=0, world=1)
    # a spawned manager: a forked one inherits this process's Ray state, and collecting an
    # actor handle in the fork can hang it (seen in the full suite)
    with mp.get_context("spawn").Manager() as manager:
        out = manager.dict()
        mp.spawn(_ddp_rank, args=(2, cfg, _free_port(), out), nprocs=2, join=True)
        ddp = dict(out)
    names = {name for name, _ in TGraM(cfg.model, num_ids=2).named_parameters()}
    assert single.keys() == ddp.keys() == names  # every parameter, discriminator included
    for name, grad in single.items():
        torch.testing.assert_close(
            ddp[name], grad, rtol=1e-3, atol=1e-5, msg=lambda m, n=name: f"{n}: {m}"
        )
