"""Every figure the project needs a GPU for, in one command of under 10 minutes on one GPU.

    make gpu-check                 # on a machine with CUDA
    make gpu-check DRY_RUN=1       # on a CPU: every part at toy size, so the command stays working

Parts, in this order (each records its figures, or why it did not run; one that fails does
not stop the others):
1. `tests`: the tests marked gpu (`pytest -m gpu`), on CUDA.
2. `inference`: detect fps of the shipped network at 1088x608 and 1920x1080 through `Detector`
   (eager, T=3 frames a call, decoding included), bf16 autocast against fp32, after warm-up.
   The issue's target: >= 150 fps with AMP at 1088x608 on an H100/H200-class GPU.
3. `ddp`: two Ray Train workers, NCCL, a few optimiser steps, where two GPUs exist.
4. `batch`: `tgram batch` with one GPU actor on a small archive: frames per second end to end.
5. `ablation`: tests/bench/ablation.py at the CPU budget into its own results file
   (`ablation_gpu.jsonl`, device recorded), until the time left runs out; it resumes on the
   next call.
One record per call is appended to RESULTS (device, commit, dry run or not, every part).

On a GPU image without the project's venv (`make gpu-check GPU_PY=python3`), packages it lacks
must be installed first; the parts that need Ray (ddp, batch) record "skipped" where Ray is not
importable, and the others still run. The workplace's GPU machines (Python 3.12 with torch,
onnxruntime, opencv, pyarrow, scipy, pandas; no Ray, PyAV or motmetrics; nothing downloadable;
64 MiB carried) take the wheels of PyAV, motmetrics and xmltodict in an ignored `.whl/`
(`pip download --no-deps --only-binary=:all: --python-version 3.12 --platform
manylinux_2_28_x86_64 -d .whl av==18.1.0 motmetrics==1.4.0 xmltodict`, 36 MB), and one command,
carrying `.whl`:

    python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl &&
    PYTHONPATH=/tmp/site make gpu-check GPU_PY=python3; cp tests/bench/results/*.jsonl $OUT/
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tests.bench import ablation
from tgram.resources import CHECKOUT, SHIPPED_WEIGHTS

RESULTS = Path(__file__).parent / "results" / "gpu_check.jsonl"
ABLATION_RESULTS = Path(__file__).parent / "results" / "ablation_gpu.jsonl"
BUDGET_S = 570.0
"""The whole check's wall-clock budget: the ablation starts no run after it."""
SIZES = ((1088, 608), (1920, 1080))
FPS_TARGET = 150.0


def _device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def gpu_tests(dry_run: bool) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider", "tests"],
        cwd=CHECKOUT,
        capture_output=True,
        text=True,
    )
    summary = (out.stdout.strip().splitlines() or ["no output"])[-1]
    return {"ok": out.returncode == 0, "summary": summary}


def inference_fps(dry_run: bool) -> dict[str, Any]:
    from tgram.inference import Detector
    from tgram.model.weights import load_weights

    device = _device()
    model, _ = load_weights(str(SHIPPED_WEIGHTS), device=device)
    calls, warm_up = (2, 1) if dry_run else (50, 5)
    rng = np.random.default_rng(0)
    figures: dict[str, Any] = {"device": str(device), "calls": calls}
    for width, height in SIZES:
        frames = list(rng.integers(0, 256, (model.cfg.frames, height, width, 3), np.uint8))
        for amp in (True, False) if device.type == "cuda" else (False,):
            detector = Detector(model, device=device, runtime="eager", amp=amp)
            for _ in range(warm_up):
                detector(frames)
            start = time.perf_counter()
            for _ in range(calls):
                detector(frames)  # returns numpy: the device work is done
            label = f"{width}x{height} {'amp' if amp else 'fp32'}"
            figures[f"fps {label}"] = round(calls / (time.perf_counter() - start), 2)
    amp_fps = figures.get(f"fps {SIZES[0][0]}x{SIZES[0][1]} amp")
    figures["target"] = f">= {FPS_TARGET} fps with AMP at 1088x608"
    figures["ok"] = None if amp_fps is None else amp_fps >= FPS_TARGET
    return figures


def _without_ray() -> dict[str, Any] | None:
    if importlib.util.find_spec("ray") is None:
        return {"ok": None, "skipped": "ray is not importable here"}
    return None


def ddp_steps(dry_run: bool) -> dict[str, Any]:
    if skipped := _without_ray():
        return skipped
    gpus = torch.cuda.device_count()
    if gpus < 2 and not dry_run:
        return {"ok": None, "skipped": f"{gpus} GPU(s): a 2-worker NCCL step needs 2"}
    from tests.test_train import tiny_config
    from tgram.ray_train import train_on_ray
    from tgram.synth import SynthConfig, generate_archive

    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "archive"
        generate_archive(
            archive, SynthConfig(videos=2, frames=6, width=192, height=128, seed=3), workers=1
        )
        cfg = tiny_config(archive, Path(tmp) / "runs")
        start = time.perf_counter()
        result, weights = train_on_ray(cfg, workers=2, use_gpu=not dry_run)
        return {
            "ok": Path(weights).is_file(),
            "backend": "gloo (CPU, dry run)" if dry_run else "nccl",
            "seconds": round(time.perf_counter() - start, 1),
            "loss": result.metrics.get("loss/total"),
        }


def batch_fps(dry_run: bool) -> dict[str, Any]:
    if skipped := _without_ray():
        return skipped
    from tgram import cli
    from tgram.synth import SynthConfig, generate_archive

    videos, frames, size = (1, 8, (320, 192)) if dry_run else (4, 50, (1920, 1080))
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "archive"
        generate_archive(
            archive,
            SynthConfig(videos=videos, frames=frames, width=size[0], height=size[1], seed=7),
            workers=1,
        )
        gpus = "0" if dry_run else "1"
        start = time.perf_counter()
        code = cli.main(
            ["batch", str(archive / "videos"), str(Path(tmp) / "tracks"), "--gpus-per-actor", gpus]
        )
        seconds = time.perf_counter() - start
    return {
        "ok": code == 0,
        "gpus_per_actor": float(gpus),
        "frames": videos * frames,
        "size": f"{size[0]}x{size[1]}",
        "fps end to end (Ray start included)": round(videos * frames / seconds, 2),
    }


def ablation_runs(dry_run: bool, deadline: float) -> dict[str, Any]:
    if dry_run:
        records = ablation.dry_run(ablation.VARIANTS)
        return {"ok": len(records) == len(ablation.VARIANTS), "runs": len(records)}
    added = ablation.run(ablation.VARIANTS, (0, 1, 2), ABLATION_RESULTS, deadline=deadline)
    return {"ok": True, "runs_added": len(added), "results": str(ABLATION_RESULTS)}


def _part(name: str, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    start = time.perf_counter()
    print(f"gpu-check: {name} ...", file=sys.stderr, flush=True)
    try:
        figures = fn()
    except Exception as exc:  # a part's failure is a figure too; the others still run
        last = traceback.format_exception_only(exc)[-1].strip()
        figures = {"ok": False, "error": last}
    figures["part_s"] = round(time.perf_counter() - start, 1)
    print(f"gpu-check: {name}: {json.dumps(figures)}", file=sys.stderr, flush=True)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dry-run", action="store_true", help="every part at toy size on CPU")
    parser.add_argument("--results", type=Path, default=RESULTS, help="default: %(default)s")
    args = parser.parse_args(argv)
    if not args.dry_run and not torch.cuda.is_available():
        print("gpu-check: no CUDA device here; use --dry-run on a CPU", file=sys.stderr)
        return 2
    deadline = time.time() + BUDGET_S
    dry = args.dry_run
    parts = {
        "tests": _part("tests", lambda: gpu_tests(dry)),
        "inference": _part("inference", lambda: inference_fps(dry)),
        "ddp": _part("ddp", lambda: ddp_steps(dry)),
        "batch": _part("batch", lambda: batch_fps(dry)),
        "ablation": _part("ablation", lambda: ablation_runs(dry, deadline)),
    }
    record = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": ablation.commit(),
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        "gpus": torch.cuda.device_count(),
        "dry_run": dry,
        "torch": torch.__version__,
        "parts": parts,
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    with args.results.open("a") as out:
        out.write(json.dumps(record, sort_keys=True) + "\n")
    print(json.dumps(record, indent=1))
    print(f"gpu-check: recorded in {args.results}", file=sys.stderr)
    return 0 if all(p.get("ok") is not False for p in parts.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
