"""Ray Train DDP on a real local Ray (2 CPU workers, gloo) with checkpoints on loopback S3."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import psutil
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Subset

from tests.test_train import tiny_config
from tgram import storage
from tgram.data.synth import SynthConfig, generate_archive
from tgram.inference import Detector
from tgram.model.tgram import TGraM
from tgram.ray_train import load_ray_checkpoint, train_on_ray
from tgram.train import build_datasets

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("archive")
    generate_archive(out, SynthConfig(width=192, height=128, frames=6, videos=3, seed=3), workers=1)
    return out


def _config(archive: Path, epochs: int, name: str):
    cfg = tiny_config(archive, Path("unused"), epochs=epochs)
    return replace(cfg, name=name, optim=replace(cfg.optim, batch_size=4, steps_per_epoch=3), val_images=2)


def _epochs(result) -> list[int]:
    return [int(h["epoch"]) for h in load_ray_checkpoint(result)["history"]]


def test_ddp_training_checkpoints_to_s3_resumes_and_exports(ray_local: None, s3_bucket: str, archive: Path) -> None:
    cfg = _config(archive, epochs=3, name="ddp")
    result, weights = train_on_ray(cfg, workers=2, storage_path=f"{s3_bucket}/runs")
    history = load_ray_checkpoint(result)["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3]
    assert history[-1]["loss/total"] < history[0]["loss/total"]
    fs, path = storage.resolve(f"{s3_bucket}/runs/ddp")
    import pyarrow.fs as pafs

    names = [i.path for i in fs.get_file_info(pafs.FileSelector(path, recursive=True))]
    assert any(n.endswith("checkpoint.pt") for n in names), names
    detector = Detector.from_weights(weights, device=torch.device("cpu"), score_threshold=0.0)
    frame = np.zeros((128, 192, 3), np.uint8)
    assert len(detector([frame] * detector.num_frames).scores) > 0

    # Same name again with more epochs: resumes at epoch 3 instead of starting over.
    more = replace(cfg, optim=replace(cfg.optim, epochs=4))
    again, _ = train_on_ray(more, workers=2, storage_path=f"{s3_bucket}/runs")
    restored = load_ray_checkpoint(again)["history"]
    assert [h["epoch"] for h in restored] == [1, 2, 3, 4]
    assert restored[:3] == history


def test_killed_worker_restores_from_last_checkpoint(ray_local: None, tmp_path: Path, archive: Path) -> None:
    cfg = _config(archive, epochs=6, name="killed")
    killed: list[int] = []

    def kill_a_worker_after_first_checkpoint() -> None:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if list((tmp_path / "killed").glob("checkpoint_*/checkpoint.pt")):
                for proc in psutil.process_iter(["pid", "cmdline"]):
                    if "RayTrainWorker" in " ".join(proc.info["cmdline"] or []):
                        proc.kill()
                        killed.append(proc.info["pid"])
                        return
            time.sleep(0.2)

    killer = threading.Thread(target=kill_a_worker_after_first_checkpoint)
    killer.start()
    result, _ = train_on_ray(cfg, workers=2, storage_path=str(tmp_path), max_failures=2)
    killer.join()
    assert killed, "no Ray Train worker process was found to kill"
    assert _epochs(result) == [1, 2, 3, 4, 5, 6]


def _ddp_first_step_grads(rank: int, world: int, cfg, port: int, out: dict) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    torch.manual_seed(0)
    train_set, _ = build_datasets(cfg)
    model = TGraM(cfg.model, num_ids=train_set.num_ids)
    for module in model.modules():  # batch statistics are per worker on CPU (no SyncBatchNorm there)
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.eval()
    wrapped = DistributedDataParallel(model)
    per_worker = 4 // world
    batch = next(iter(DataLoader(Subset(train_set, range(rank * per_worker, (rank + 1) * per_worker)), batch_size=per_worker)))
    losses = model.compute_losses(wrapped(batch["frames"]), batch, progress=0.0)
    losses["total"].backward()
    if rank == 0:
        out.update({k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None})
    dist.destroy_process_group()


def test_two_worker_ddp_gradients_equal_one_process_on_the_global_batch(archive: Path) -> None:
    from tests.conftest import _free_port

    base = tiny_config(archive, Path("unused"))
    cfg = replace(base, data=replace(base.data, augment=None))
    grads: dict[int, dict] = {}
    for world in (1, 2):
        manager = mp.Manager()
        out = manager.dict()
        mp.spawn(_ddp_first_step_grads, args=(world, cfg, _free_port(), out), nprocs=world, join=True)
        grads[world] = dict(out)
    assert grads[1].keys() == grads[2].keys() and len(grads[1]) > 10
    for name, g in grads[1].items():
        torch.testing.assert_close(grads[2][name], g, rtol=1e-3, atol=1e-5, msg=lambda m, n=name: f"{n}: {m}")
