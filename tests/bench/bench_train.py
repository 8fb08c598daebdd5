"""Ray Train throughput: training samples/s with 2 DDP CPU workers against 1 worker.

Both runs train the same tiny config (same global batch) on a tiny synthetic archive; the
rate is `fit`'s own samples_per_s of the epochs after the first, so Ray's worker start-up
and the first epoch's warm-up are not counted. Runs in about a minute on 2 cores.
"""

from __future__ import annotations

import statistics
import tempfile
from dataclasses import replace
from pathlib import Path

import ray

from tests.test_train import tiny_config
from tgram.ray_train import load_ray_checkpoint, train_on_ray
from tgram.synth import SynthConfig, generate_archive
from tgram.train import TrainConfig

WORKER_COUNTS = (1, 2)
GLOBAL_BATCH = 8
INPUT_SIZE = (128, 128)
"""Big enough that a step's compute, not gloo's all-reduce latency, dominates."""
EPOCHS = 2
STEPS_PER_EPOCH = 4
SPEEDUP_TARGET = 1.0
"""2 workers must at least match 1: below it, DDP's all-reduce costs more than it shares."""


def _samples_per_s(cfg: TrainConfig, workers: int, storage_path: str) -> float:
    result, _ = train_on_ray(
        replace(cfg, name=f"bench_{workers}w"), workers=workers, storage_path=storage_path
    )
    history = load_ray_checkpoint(result)["history"]
    return statistics.mean(h["samples_per_s"] for h in history[1:])


def run() -> list[dict]:
    started_ray = not ray.is_initialized()
    if started_ray:
        ray.init(
            num_cpus=max(WORKER_COUNTS),
            include_dashboard=False,
            configure_logging=False,
            log_to_driver=False,
        )
    try:
        with tempfile.TemporaryDirectory() as tmp:
            archive = Path(tmp) / "archive"
            generate_archive(
                archive, SynthConfig(width=192, height=128, frames=6, videos=3, seed=3), workers=1
            )
            base = tiny_config(archive, Path(tmp) / "runs", epochs=EPOCHS)
            cfg = replace(
                base,
                data=replace(base.data, input_size=INPUT_SIZE),
                optim=replace(base.optim, batch_size=GLOBAL_BATCH, steps_per_epoch=STEPS_PER_EPOCH),
            )
            rates = {n: _samples_per_s(cfg, n, str(Path(tmp) / "runs")) for n in WORKER_COUNTS}
    finally:
        if started_ray:
            ray.shutdown()
    ratio = rates[2] / rates[1]
    return [
        {
            "name": "ray train samples/s, 2 CPU workers (DDP, gloo)",
            "value": round(rates[2], 2),
            "unit": "samples/s",
            "peer": "1 Ray Train worker, same global batch",
            "peer_value": round(rates[1], 2),
            "ratio": round(ratio, 3),
            "target": f">= {SPEEDUP_TARGET}",
            "ok": ratio >= SPEEDUP_TARGET,
        }
    ]


if __name__ == "__main__":
    from tests.bench.run import to_table

    print(to_table(run()))
