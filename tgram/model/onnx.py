"""The network on ONNX Runtime: tgram's CPU inference runtime.

On CPU, a Detector call (network, peak decoding) with ONNX Runtime took 1/1.5 of eager
PyTorch's time at 960x544 on a quiet 2-core machine, and about 1/3.4 beside other work on the
same cores (PyTorch's threads suffer more from sharing), with the same outputs to float
rounding (tests/bench/bench_inference.py measures the variants, and detection AP, on the same
frames). The export happens when a Detector is built and is checked against eager PyTorch
at two input sizes before it is used, so a model the exporter traces wrongly is refused
instead of giving other detections.

Exports are kept in a cache folder (EXPORT_CACHE_ENV, else ~/.cache/tgram/onnx), named by a
hash of the weights, the model config and the torch version: tracing and exporting took
~1.5 s of CPU (~80 % of building the runtime), paid by every `tgram track` and by every model
actor of every batch job, and a batch job's start-up is what its short videos wait for. A
cached export is checked like a fresh one; one that fails the check is exported again.
"""

from __future__ import annotations

import copy
import hashlib
import io
import logging
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from tgram.model.tgram import TGraM
from tgram.model.weights import TRAINING_ONLY

log = logging.getLogger(__name__)

OUTPUTS = ("hm", "ltrb", "offset", "emb")
"""The head maps decoding needs (the shared features stay inside the graph)."""
CHECK_SIZES = ((64, 96), (96, 64))
"""Input sizes (H, W) the export is compared with eager PyTorch at: neither is the traced
size, so a shape frozen into the graph shows up as a mismatch."""
CHECK_TOLERANCE = 1e-3
"""Largest absolute difference of any head output (logits, distances) that counts as equal."""
OPSET = 17
EXPORT_CACHE_ENV = "TGRAM_CACHE_DIR"
"""Folder whose `onnx/` holds exported networks (default ~/.cache/tgram); read-only is fine."""


class _HeadMaps(nn.Module):
    def __init__(self, model: TGraM) -> None:
        super().__init__()
        self.model = model

    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outputs = self.model(frames)
        return tuple(outputs[name] for name in OUTPUTS)


def export_onnx(model: TGraM) -> bytes:
    """The network as ONNX bytes, input "frames" [1, T, 3, H, W] with H and W free (multiples
    of 32), outputs OUTPUTS. A copy is exported: tracing may touch the module's state."""
    traced = _HeadMaps(copy.deepcopy(model).float().cpu().eval())
    sample = torch.rand(1, model.cfg.frames, 3, 32, 64)
    free = {3: "height", 4: "width"}
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated in favour of torch.export's, which needs
        # onnxscript besides onnx and does not yet export the graph module's per-frame loop;
        # its tracer warnings are about the frame count, a constant of the model.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            traced,
            (sample,),
            buffer,
            dynamo=False,
            input_names=["frames"],
            output_names=list(OUTPUTS),
            dynamic_axes={"frames": free, **{name: {2: "h", 3: "w"} for name in OUTPUTS}},
            opset_version=OPSET,
        )
    return buffer.getvalue()


class OnnxTGraM:
    """Inference-only stand-in for a TGraM on the CPU: frames [1, T, 3, H, W] -> head maps."""

    def __init__(self, model: TGraM, threads: int | None = None) -> None:
        self.cfg = model.cfg
        self.threads = threads or torch.get_num_threads()
        path = export_cache_path(model)
        cached = _read(path)
        if cached is not None:
            try:
                self._start(cached, model)
                return
            except Exception as error:  # noqa: BLE001 - whatever is wrong with it: export afresh
                log.info("%s: cached export unusable (%s); exporting again", path, error)
        onnx = export_onnx(model)
        self._start(onnx, model)
        _write(path, onnx)

    def _start(self, onnx: bytes, model: TGraM) -> None:
        """A session on `onnx`, checked against `model` (raises RuntimeError if they differ)."""
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only
        # no busy-waiting between runs: spinning threads would take the cores from decoding,
        # peak picking and the tracker, which run in this process between network calls
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(
            onnx, options, providers=["CPUExecutionProvider"]
        )
        self._check_against(model)

    def __call__(self, frames: torch.Tensor) -> dict[str, torch.Tensor]:
        maps = self.session.run(None, {"frames": frames.float().cpu().numpy()})
        return {name: torch.from_numpy(m) for name, m in zip(OUTPUTS, maps, strict=True)}

    def _check_against(self, model: TGraM) -> None:
        eager = copy.deepcopy(model).float().cpu().eval()
        generator = torch.Generator().manual_seed(0)
        for h, w in CHECK_SIZES:
            frames = torch.rand(1, self.cfg.frames, 3, h, w, generator=generator)
            with torch.inference_mode():
                expected = eager(frames)
            try:
                got = self(frames)
            except Exception as error:  # onnxruntime's own error types; the message says enough
                reason = " ".join(str(error).split())[:200]
                raise RuntimeError(
                    f"the ONNX export of this model fails at {h}x{w} ({reason}); "
                    "use the eager runtime"
                ) from None
            worst = max(float(np.abs(got[k].numpy() - expected[k].numpy()).max()) for k in OUTPUTS)
            if not worst <= CHECK_TOLERANCE:
                raise RuntimeError(
                    f"the ONNX export of this model differs from PyTorch by {worst:.3g} at "
                    f"{h}x{w} (allowed {CHECK_TOLERANCE}); use the eager runtime"
                )


def export_cache_path(model: TGraM) -> Path:
    """Where the export of `model` is cached: a hash of everything the export depends on."""
    digest = hashlib.sha256(f"{model.cfg!r} torch {torch.__version__} opset {OPSET}".encode())
    for name, tensor in model.state_dict().items():
        if name.startswith(TRAINING_ONLY):  # started afresh (randomly) by every load
            continue
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().numpy().tobytes())
    root = os.environ.get(EXPORT_CACHE_ENV) or Path.home() / ".cache" / "tgram"
    return Path(root) / "onnx" / f"{digest.hexdigest()[:32]}.onnx"


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _write(path: Path, onnx: bytes) -> None:
    """Write atomically (model actors starting together export the same file at once);
    a cache that cannot be written is skipped."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as tmp:
            tmp.write(onnx)
        os.replace(tmp.name, path)
    except OSError as error:
        log.debug("%s: export not cached (%s)", path, error)
        if tmp is not None:
            Path(tmp.name).unlink(missing_ok=True)
