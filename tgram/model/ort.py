"""The exported network on ONNX Runtime, without torch: what CPU model actors run.

`tgram.model.onnx` (PyTorch) exports the network with its candidate picking, checks the
export against eager PyTorch and packs it as an `OnnxNetwork`; a process given one builds an
`OnnxDetector` from it with numpy and onnxruntime alone. Importing torch took most of a batch
model actor's start-up, and a job over many short videos waits for its actors to start.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tgram.detections import Detections
from tgram.model.config import LEVEL_STRIDES, PeakRule
from tgram.model.select import Candidates, finish, select

INPUT_MULTIPLE = LEVEL_STRIDES[-1]
"""Frames are zero-padded right and bottom to a multiple of the coarsest feature stride."""


@dataclass(frozen=True)
class OnnxNetwork:
    """A checked export (`onnx`: graph with outputs decode.CANDIDATES) and the facts about
    its model that the detection loop needs."""

    onnx: bytes
    frames: int
    classes: tuple[str, ...]
    emb_dim: int
    peaks: PeakRule


def short_reason(error: BaseException) -> str:
    """An error's message on one line, cut to 200 characters: ONNX Runtime's and its
    quantiser's messages span lines and dump graphs, and ours must stay one line."""
    return " ".join(str(error).split())[:200]


def network_input(frames: list[np.ndarray]) -> np.ndarray:
    """T RGB uint8 frames [H, W, 3] -> the network's input [1, T, 3, H', W'] float32 in [0, 1],
    zero-padded to multiples of INPUT_MULTIPLE."""
    x = np.stack(frames).transpose(0, 3, 1, 2).astype(np.float32) / np.float32(255.0)
    h, w = x.shape[-2:]
    pad = ((0, 0), (0, 0), (0, -h % INPUT_MULTIPLE), (0, -w % INPUT_MULTIPLE))
    return np.pad(x, pad)[None]


def graph_inputs(x: np.ndarray, score_floor: float) -> dict[str, np.ndarray]:
    """The export's inputs by name (`onnx.export_onnx`)."""
    return {"frames": x, "score_floor": np.asarray(score_floor, np.float32)}


class OnnxSession:
    """An ONNX Runtime session over an export: input [1, T, 3, H, W] float32 and the lowest
    score wanted -> the graph's outputs by name."""

    def __init__(self, onnx: bytes, threads: int) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only
        # no busy-waiting between runs: spinning threads would take the cores from decoding,
        # registration and the tracker, which run in this process between network calls
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(
            onnx, options, providers=["CPUExecutionProvider"]
        )
        self.outputs = [o.name for o in self.session.get_outputs()]

    def __call__(self, x: np.ndarray, score_floor: float) -> dict[str, np.ndarray]:
        maps = self.session.run(None, graph_inputs(x, score_floor))
        return dict(zip(self.outputs, maps, strict=True))


class OnnxDetector:
    """Maps the T most recent frames to the current frame's detections, like
    `tgram.inference.Detector`, on ONNX Runtime and numpy only."""

    def __init__(self, network: OnnxNetwork, *, score_threshold: float, threads: int) -> None:
        self.network = network
        self.score_threshold = score_threshold
        self.session = OnnxSession(network.onnx, threads)

    @property
    def num_frames(self) -> int:
        return self.network.frames

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.network.classes

    @property
    def emb_dim(self) -> int:
        return self.network.emb_dim

    def __call__(self, frames: list[np.ndarray]) -> Detections:
        """`frames`: RGB uint8 [H, W, 3], current first, then t-1, ... (len == num_frames)."""
        h, w = frames[0].shape[:2]
        out = self.session(network_input(frames), self.score_threshold)
        best = Candidates(out["scores"][0], out["classes"][0], out["boxes"][0], out["emb"][0])
        det = select(best, score_threshold=self.score_threshold, peaks=self.network.peaks)
        return finish(det, width=w, height=h)
