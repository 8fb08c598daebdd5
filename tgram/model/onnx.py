"""The network on ONNX Runtime: tgram's CPU inference runtime (the export side, in PyTorch).

On CPU, a Detector call (network, peak decoding) with ONNX Runtime took 1/1.5 of eager
PyTorch's time at 960x544 on a quiet 2-core machine, and about 1/3.4 beside other work on the
same cores (PyTorch's threads suffer more from sharing), with the same outputs to float
rounding (tests/bench/bench_inference.py measures the variants, and detection AP, on the same
frames). The graph holds the network and its candidate picking (`decode.candidates`, with
the score floor as a second input), so what runs after it (`select`) is numpy and a process given the
export (`ort.OnnxNetwork`) needs no torch. The export happens when a Detector is built (a
batch job: once, in the driver) and is checked against eager PyTorch at two input sizes
before it is used, so a model the exporter traces wrongly is refused instead of giving other
detections.

Exports are kept in a cache folder (EXPORT_CACHE_ENV, else ~/.cache/tgram/onnx), named by a
hash of the weights, the model config, candidate rule, peak rule and torch version: tracing and
exporting took ~1.5 s of CPU (~80 % of building the runtime), paid by every `tgram track` and
every batch job. A cached export is checked like a fresh one; one that fails the check is
exported again. (A batch driver skips even that when its weights file's export passed the
check before: `export_cache.CheckedExports`.)
"""

from __future__ import annotations

import copy
import hashlib
import io
import logging
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from tgram.model.config import PeakRule
from tgram.model.decode import CANDIDATES, candidates
from tgram.model.export_cache import (
    CANDIDATE_RULE,
    OPSET,
    CheckedExports,
    cache_root,
    write_atomic,
)
from tgram.model.ort import OnnxNetwork, OnnxSession, short_reason
from tgram.model.quantize import calibration_frames, check_quantised, quantise
from tgram.model.tgram import TGraM
from tgram.model.weights import TRAINING_ONLY

log = logging.getLogger(__name__)

CHECK_SIZES = ((64, 96), (96, 64))
"""Input sizes (H, W) the export is compared with eager PyTorch at: neither is the traced
size, so a shape frozen into the graph shows up as a mismatch."""
CHECK_TOLERANCE = 1e-3
"""Largest absolute difference of any candidate's score, box (px) or embedding that counts as
equal."""


CHECK_FLOOR = 0.0
"""Score floor of the check: every cell that peak picking keeps (up to the cap) is compared."""


class _Candidates(nn.Module):
    def __init__(self, model: TGraM, peaks: PeakRule) -> None:
        super().__init__()
        self.model, self.peaks = model, peaks

    def forward(self, frames: torch.Tensor, score_floor: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return candidates(
            self.model(frames),
            score_floor=score_floor,
            peaks=self.peaks,
            peak_ratio=self.model.cfg.peak_ratio,
        )


def export_onnx(model: TGraM, *, peaks: PeakRule) -> bytes:
    """The network and its candidate picking as ONNX bytes: inputs "frames" [1, T, 3, H, W]
    with H and W free (multiples of 32) and "score_floor" (a float32 scalar), outputs
    CANDIDATES. A copy is exported: tracing may touch the module's state."""
    traced = _Candidates(copy.deepcopy(model).float().cpu().eval(), peaks)
    sample = (torch.rand(1, model.cfg.frames, 3, 32, 64), torch.tensor(0.1))
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated in favour of torch.export's, which needs
        # onnxscript besides onnx and does not yet export the graph module's per-frame loop;
        # its tracer warnings are about the frame count, a constant of the model.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            traced,
            sample,
            buffer,
            dynamo=False,
            input_names=["frames", "score_floor"],
            output_names=list(CANDIDATES),
            dynamic_axes={"frames": {3: "height", 4: "width"}},
            opset_version=OPSET,
        )
    return buffer.getvalue()


def onnx_network(model: TGraM, *, peaks: PeakRule) -> OnnxNetwork:
    """`model`'s export, from the cache or made afresh, checked against eager PyTorch (raises
    RuntimeError if they differ)."""
    path = export_cache_path(model, peaks=peaks)
    cached = _read(path)
    if cached is not None:
        try:
            return _checked(cached, model, peaks)
        except Exception as error:  # noqa: BLE001 - whatever is wrong with it: export afresh
            log.info("%s: cached export unusable (%s); exporting again", path, error)
    network = _checked(export_onnx(model, peaks=peaks), model, peaks)
    _write(path, network.onnx)
    return network


def int8_network(fp32: OnnxNetwork) -> OnnxNetwork:
    """The quantised form of a checked fp32 export.
    Quantising and its check take seconds (calibration frames are rendered), so a quantised
    export that passed is recorded in `CheckedExports` under the fp32 export's SHA-256: the
    same fp32 bytes give the same int8 graph and verdict."""
    exports = CheckedExports()
    source = hashlib.sha256(fp32.onnx).hexdigest()
    found = exports.find(source, int8=True)
    if found is not None:
        return found
    calibration = calibration_frames(fp32.frames)
    try:
        network = quantise(fp32, calibration)
    except Exception as error:  # noqa: BLE001 - the quantiser's own errors: refuse int8
        reason = short_reason(error)
        raise RuntimeError(f"quantising the ONNX export failed ({reason})") from None
    check_quantised(fp32, network, calibration, CHECK_SIZES)
    exports.remember(source, network, int8=True)
    return network


def _checked(onnx: bytes, model: TGraM, peaks: PeakRule) -> OnnxNetwork:
    """`onnx` packed as an OnnxNetwork once its candidates equal eager PyTorch's at
    CHECK_SIZES (neither is the traced size: a shape frozen into the graph shows up)."""
    session = OnnxSession(onnx, threads=torch.get_num_threads())
    eager = copy.deepcopy(model).float().cpu().eval()
    generator = torch.Generator().manual_seed(0)
    for h, w in CHECK_SIZES:
        frames = torch.rand(1, model.cfg.frames, 3, h, w, generator=generator)
        with torch.inference_mode():
            expected = candidates(
                eager(frames),
                score_floor=CHECK_FLOOR,
                peaks=peaks,
                peak_ratio=model.cfg.peak_ratio,
            )
        try:
            got = session(frames.numpy(), CHECK_FLOOR)
        except Exception as error:  # onnxruntime's own error types; the message says enough
            reason = short_reason(error)
            raise RuntimeError(
                f"the ONNX export of this model fails at {h}x{w} ({reason}); use the eager runtime"
            ) from None
        worst = _difference(dict(zip(CANDIDATES, (t.numpy() for t in expected), strict=True)), got)
        if not worst <= CHECK_TOLERANCE:
            raise RuntimeError(
                f"the ONNX export of this model differs from PyTorch by {worst:.3g} at "
                f"{h}x{w} (allowed {CHECK_TOLERANCE}); use the eager runtime"
            )
    return OnnxNetwork(onnx, model.cfg.frames, tuple(model.cfg.classes), model.cfg.emb_dim, peaks)


def _difference(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    """Largest difference in score, box or embedding between two candidate sets, over the
    scoring cells both picked; infinite if they share under 90 % of them or disagree on a
    class. Near-equal scores may order or cut the two candidate sets differently, and neighbours
    within float rounding of each other may swap which one max-pooling keeps."""
    pa, pb = (np.flatnonzero(x["scores"][0] > 0) for x in (a, b))
    _, ia, ib = np.intersect1d(a["index"][0, pa], b["index"][0, pb], return_indices=True)
    if len(ia) < 0.9 * max(len(pa), len(pb)):
        return float("inf")
    ia, ib = pa[ia], pb[ib]
    if (a["classes"][0, ia] != b["classes"][0, ib]).any():
        return float("inf")
    return max(
        float(np.abs(a[name][0, ia] - b[name][0, ib]).max(initial=0.0))
        for name in ("scores", "boxes", "emb")
    )


def export_cache_path(model: TGraM, *, peaks: PeakRule) -> Path:
    """Where the export of `model` is cached: a hash of everything the export depends on."""
    digest = hashlib.sha256(
        f"{model.cfg!r} {CANDIDATE_RULE} peaks {peaks} torch {torch.__version__} "
        f"opset {OPSET}".encode()
    )
    for name, tensor in model.state_dict().items():
        if name.startswith(TRAINING_ONLY):  # started afresh (randomly) by every load
            continue
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().numpy().tobytes())
    return cache_root() / f"{digest.hexdigest()[:32]}.onnx"


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _write(path: Path, onnx: bytes) -> None:
    """A cache that cannot be written is skipped."""
    try:
        write_atomic(path, onnx)
    except OSError as error:
        log.debug("%s: export not cached (%s)", path, error)
