"""The network on ONNX Runtime: tgram's CPU inference runtime.

On CPU, a Detector call (network, peak decoding) with ONNX Runtime took 1/1.5 of eager
PyTorch's time at 960x544 on a quiet 2-core machine, and about 1/3.4 beside other work on the
same cores (PyTorch's threads suffer more from sharing), with the same outputs to float
rounding (tests/bench/bench_inference.py measures the variants, and detection AP, on the same
frames). The export happens in memory when a Detector is built (well under a
second) and is checked against eager PyTorch at two input sizes before it is used, so a
model the exporter traces wrongly is refused instead of giving other detections.
"""

from __future__ import annotations

import copy
import io
import warnings

import numpy as np
import torch
from torch import nn

from tgram.model.tgram import TGraM

OUTPUTS = ("hm", "ltrb", "offset", "emb")
"""The head maps decoding needs (the shared features stay inside the graph)."""
CHECK_SIZES = ((64, 96), (96, 64))
"""Input sizes (H, W) the export is compared with eager PyTorch at: neither is the traced
size, so a shape frozen into the graph shows up as a mismatch."""
CHECK_TOLERANCE = 1e-3
"""Largest absolute difference of any head output (logits, distances) that counts as equal."""


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
            opset_version=17,
        )
    return buffer.getvalue()


class OnnxTGraM:
    """Inference-only stand-in for a TGraM on the CPU: frames [1, T, 3, H, W] -> head maps."""

    def __init__(self, model: TGraM, threads: int | None = None) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only
        # no busy-waiting between runs: spinning threads would take the cores from decoding,
        # peak picking and the tracker, which run in this process between network calls
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.cfg = model.cfg
        self.session = onnxruntime.InferenceSession(
            export_onnx(model), options, providers=["CPUExecutionProvider"]
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
