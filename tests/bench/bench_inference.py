"""CPU inference: what runs the shipped network fastest with the same detections.

Side by side on the same frames of the weights card's validation archive (bench_model's
recipe, or `TGRAM_BENCH_ARCHIVE`), full 960x544 frames through `Detector` (padding, forward,
decode): eager PyTorch fp32 (the peer), eager with channels_last weights, eager under bf16
autocast (where the CPU has AVX512-BF16), `torch.compile` (inductor), and ONNX Runtime (the
`onnxruntime` runtime, tgram.model.onnx), fp32 and with the decoder and heads in int8 (the
`int8` runtime, tgram.model.quantize: ONNX Runtime's static quantisation; PyTorch's dynamic
quantisation covers Linear layers and this network is convolutions). Each gets seconds per
frame (median after warm-up, same thread count) and full-frame AP@0.5 over all classes
against the gt, whose difference from eager must stay within 0.005 for a variant to be
eligible as the default; `auto` (CPU_RUNTIME on a CPU) must be the fastest eligible one.
About 4 minutes on 2 cores (torch.compile's first call is most of it).
"""

from __future__ import annotations

import copy
import logging
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tests.bench.bench_model import generate_card_archive
from tests.bench.run import row
from tgram.classes import CLASS_NAMES
from tgram.data.formats import read_gt
from tgram.data.video import list_videos, read_frames, video_id
from tgram.detection_metrics import (
    ImageDetections,
    ImageGroundTruth,
    detection_metrics,
    gt_frame,
)
from tgram.inference import Detector
from tgram.model.config import CPU_RUNTIME, Runtime
from tgram.model.decode import AP_SCORE_FLOOR
from tgram.model.weights import load_weights
from tgram.resources import SHIPPED_WEIGHTS

log = logging.getLogger(__name__)

FRAMES_PER_VIDEO = 6
"""Frames scored per validation video (after the model's T-1 frames of history)."""
WARM_UP = 2
"""Calls before timing starts (torch.compile compiles on the first)."""
AP_TOLERANCE = 0.005
"""Largest AP@0.5 change from eager that still counts as the same accuracy (the issue's bar)."""
DEFAULT = f"auto ({CPU_RUNTIME})"
"""The variant `runtime: auto` picks on a CPU."""


def run() -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="tgram-bench-inference-") as tmp:
        archive = os.environ.get("TGRAM_BENCH_ARCHIVE") or generate_card_archive(Path(tmp))
        samples = _samples(archive)
    results = {name: _measure(make, samples) for name, make in _variants().items()}
    eager = results["eager fp32"]
    assert eager.seconds is not None and eager.ap is not None, eager.error
    threads = torch.get_num_threads()
    eligible = {
        name: eager.seconds / m.seconds
        for name, m in results.items()
        if m.seconds is not None and m.ap is not None and abs(m.ap - eager.ap) <= AP_TOLERANCE
    }
    rows = []
    for name, measured in results.items():
        if measured.seconds is None or measured.ap is None:
            rows.append(row(f"{name}: failed ({measured.error})", float("nan"), ok=False))
            continue
        speedup = eager.seconds / measured.seconds
        default = name == DEFAULT
        rows.append(
            row(
                f"inference speed-up, {name}, 960x544, {threads} threads",
                speedup,
                "x eager",
                peer="eager fp32",
                peer_value=1.0,
                target="the fastest with AP within 0.005 (it is the default)" if default else None,
                ok=name in eligible and speedup >= max(eligible.values()) if default else None,
            )
        )
        rows.append(
            row(
                f"mAP@0.5, {name}",
                measured.ap,
                peer="eager fp32",
                peer_value=eager.ap,
                target=f"within {AP_TOLERANCE} of eager",
                ok=name in eligible,
            )
        )
    return rows


Sample = tuple[list[np.ndarray], ImageGroundTruth]
Network = Callable[[torch.Tensor], dict[str, torch.Tensor]]


def _samples(archive: str) -> list[Sample]:
    """(T frames, current first; the current frame's gt) for the first frames of each video."""
    model, _ = load_weights(str(SHIPPED_WEIGHTS))
    t = model.cfg.frames
    samples = []
    for uri in list_videos(f"{archive}/videos"):
        gt = read_gt(f"{archive}/gt/{video_id(uri)}.txt")
        frames = [f for _, f in read_frames(uri, 0, t - 1 + FRAMES_PER_VIDEO)]
        for index in range(t - 1, len(frames)):
            truth = gt_frame(gt, index, CLASS_NAMES)
            samples.append(([frames[index - k] for k in range(t)], truth))
    return samples


def _variants() -> dict[str, Callable[[], Detector]]:
    cpu = torch.device("cpu")

    def detector(
        runtime: Runtime, prepare: Callable[[torch.nn.Module], Network] | None = None
    ) -> Callable[[], Detector]:
        def make() -> Detector:
            model, _ = load_weights(str(SHIPPED_WEIGHTS))
            made = Detector(
                model.float(), device=cpu, score_threshold=AP_SCORE_FLOOR, runtime=runtime
            )
            if prepare is not None:
                made.network = prepare(made.model)
            return made

        return make

    def bf16(model: torch.nn.Module) -> Network:
        def forward(x: torch.Tensor) -> dict[str, torch.Tensor]:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return {k: v.float() for k, v in model(x).items()}

        return forward

    return {
        "eager fp32": detector("eager"),
        "eager channels_last": detector(
            "eager", lambda m: copy.deepcopy(m).to(memory_format=torch.channels_last)
        ),
        "eager bf16 autocast": detector("eager", bf16),
        "torch.compile": detector("eager", lambda m: torch.compile(m, dynamic=False)),
        "onnxruntime fp32": detector("onnxruntime"),
        "onnxruntime int8 (decoder, heads)": detector("int8"),
        DEFAULT: detector("auto"),
    }


@dataclass(frozen=True)
class Measured:
    seconds: float | None = None
    """Median seconds per frame after warm-up; None if the variant failed."""
    ap: float | None = None
    """mAP@0.5 over the classes with gt, full frames."""
    error: str = ""


def _measure(make: Callable[[], Detector], samples: list[Sample]) -> Measured:
    try:
        detector = make()
        seconds, found = [], []
        for i, (frames, _) in enumerate(samples):
            start = time.perf_counter()
            det = detector(frames)
            if i >= WARM_UP:
                seconds.append(time.perf_counter() - start)
            found.append(ImageDetections(det.boxes, det.scores, det.classes))
    except Exception as error:  # noqa: BLE001 - a variant this machine cannot run is a row
        log.warning("variant failed: %s", error)
        return Measured(error=f"{type(error).__name__}: {str(error).splitlines()[0][:80]}")
    metrics = detection_metrics(found, [truth for _, truth in samples], CLASS_NAMES)
    return Measured(statistics.median(seconds), metrics["map50"])
