"""int8 inference on the CPU: the checked ONNX export with its decoder and heads quantised.

ONNX Runtime's static quantisation (QDQ, weights per output channel, activation ranges
calibrated by MinMax) runs int8 convolutions on VNNI CPUs. Only the decoder and the heads are
quantised: they work at stride 4 and hold most of the network's multiply-adds (leaving them
fp32 kept none of the speed-up), and in a first trial on 32 validation frames quantising the
MobileNet backbone as well cost vehicle AP@0.5 0.153 -> 0.121 where these alone did not. As
shipped: mAP@0.5 0.5998 against eager's 0.6014 at 1.9x fp32 ONNX Runtime's speed
(tests/bench/bench_inference.py). Activation ranges come
from frames of the training renderer at a training seed (`calibration_frames`): the data the
network was fitted to, never a user's video, so the export is the same everywhere and can be
cached.

Like the fp32 export, the quantised graph is checked before use (`check_quantised`), here
against the fp32 export on the calibration frames: int8 cannot equal fp32 to rounding, so the
check asks for the same detections (cells and classes) with scores close, which catches a
quantisation gone wrong without demanding equality. No torch here.
"""

from __future__ import annotations

import functools
import logging
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from tgram.model.ort import OnnxNetwork, OnnxSession, graph_inputs, network_input, short_reason

log = logging.getLogger(__name__)

QUANTISED_PREFIXES = ("/model/decoder/", "/model/heads/")
"""Convolutions whose node names start with these are quantised (names from the exporter's
module paths: `tgram.model.tgram.TGraM.decoder` / `.heads`)."""
CALIBRATION_VIDEOS = 8
"""Training-style videos (seed CALIBRATION_SEED, the first of each) whose first frames
calibrate activation ranges."""
CALIBRATION_SEED = 1000
"""The training archive's seed (weights/README.md, train_v4): calibration sees training data."""
CALIBRATION_SIZE = (544, 960)
"""(H, W) of calibration frames: a typical input, large enough for whole scenes."""
MATCH_SCORE = 0.3
"""fp32 detections at or above this score must be found by the int8 graph."""
MIN_FOUND = 0.9
"""Share of those the int8 graph must pick at the same cell with the same class."""
MAX_SCORE_CHANGE = 0.1
"""Largest score change of a found detection."""


@functools.lru_cache(maxsize=2)
def calibration_frames(frames: int = 1) -> tuple[list[np.ndarray], ...]:
    """Inputs for calibration: per video, its first `frames` frames (current first). Kept
    for the process: rendering them is most of a quantisation's time."""
    from tgram.config import load_config
    from tgram.resources import CONFIGS
    from tgram.synth import SynthConfig
    from tgram.synth.video import SyntheticVideo

    cfg = replace(
        load_config(CONFIGS / "synth" / "train.yaml", SynthConfig),
        videos=CALIBRATION_VIDEOS,
        frames=frames,
        height=CALIBRATION_SIZE[0],
        width=CALIBRATION_SIZE[1],
        seed=CALIBRATION_SEED,
    )
    return tuple(
        [f.image for f in SyntheticVideo(cfg, index).frames()][::-1]
        for index in range(CALIBRATION_VIDEOS)
    )


def quantise(network: OnnxNetwork, calibration: Sequence[list[np.ndarray]]) -> OnnxNetwork:
    """`network` with its decoder and head convolutions in int8 (static QDQ)."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.inputs: Iterator[np.ndarray] = (network_input(f) for f in calibration)

        def get_next(self) -> dict[str, np.ndarray] | None:
            x = next(self.inputs, None)
            return None if x is None else graph_inputs(x, MATCH_SCORE)

    with tempfile.TemporaryDirectory(prefix="tgram-int8-") as tmp:
        fp32, prepared, int8 = (Path(tmp) / n for n in ("fp32.onnx", "pre.onnx", "int8.onnx"))
        fp32.write_bytes(network.onnx)
        # shape inference and graph optimisation first, as ONNX Runtime's recipe asks
        quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
        convs = [
            n.name
            for n in onnx.load(str(prepared)).graph.node
            if n.op_type == "Conv" and n.name.startswith(QUANTISED_PREFIXES)
        ]
        if not convs:
            raise RuntimeError("no decoder or head convolutions found to quantise")
        quantize_static(
            str(prepared),
            str(int8),
            Reader(),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=["Conv"],
            nodes_to_quantize=convs,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
        )
        return replace(network, onnx=int8.read_bytes())


def check_quantised(
    fp32: OnnxNetwork,
    int8: OnnxNetwork,
    calibration: Sequence[list[np.ndarray]],
    sizes: Sequence[tuple[int, int]],
) -> None:
    """Raise RuntimeError unless `int8` runs at `sizes` (no shape frozen into the graph) and
    finds what `fp32` finds on the calibration frames (MIN_FOUND of its detections scoring
    MATCH_SCORE or more, at the same cell with the same class, scores within MAX_SCORE_CHANGE)."""
    reference, quantised = OnnxSession(fp32.onnx, threads=1), OnnxSession(int8.onnx, threads=1)
    for h, w in sizes:
        x = np.zeros((1, fp32.frames, 3, h, w), np.float32)
        try:
            quantised(x, MATCH_SCORE)
        except Exception as error:  # onnxruntime's own error types; the message says enough
            reason = short_reason(error)
            raise RuntimeError(f"the int8 export fails at {h}x{w} ({reason})") from None
    wanted = found = 0
    worst = 0.0
    for frames in calibration:
        x = network_input(frames)
        a, b = reference(x, MATCH_SCORE), quantised(x, MATCH_SCORE - MAX_SCORE_CHANGE)
        keep = np.flatnonzero(a["scores"][0] >= MATCH_SCORE)
        cells_b = {int(i): k for k, i in enumerate(b["index"][0])}
        wanted += len(keep)
        for k in keep:
            j = cells_b.get(int(a["index"][0, k]))
            if j is None or b["classes"][0, j] != a["classes"][0, k]:
                continue
            change = abs(float(b["scores"][0, j] - a["scores"][0, k]))
            worst = max(worst, change)
            found += change <= MAX_SCORE_CHANGE
    if wanted and found < MIN_FOUND * wanted:
        raise RuntimeError(
            f"the int8 export finds {found} of the fp32 export's {wanted} detections on the "
            f"calibration frames (needs {MIN_FOUND:.0%}; largest score change {worst:.3f})"
        )
    log.debug(
        "int8 export: %d of %d fp32 detections found, score change <= %.3f", found, wanted, worst
    )
