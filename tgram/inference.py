"""The detector of a weights file, and model + tracker over videos: `tgram track`.

The detector pads frames to a multiple of 32 instead of resizing, so 4x8 px vehicles keep
their size and boxes come back in the video's own pixel coordinates. The per-frame loop
(`detect.detect_frames`) is shared with the batch model actors.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from tgram import storage
from tgram.data.formats import write_results
from tgram.data.tracks import TrackRows
from tgram.data.video import probe, read_frames, scan_archive
from tgram.detect import FrameDetector, context_frames, detect_frames
from tgram.detections import Detections
from tgram.model.config import CPU_RUNTIME, CPU_RUNTIMES, CpuRuntime, PeakRule, Runtime
from tgram.model.decode import SCORE_FLOOR, decode
from tgram.model.onnx import int8_network, onnx_network
from tgram.model.ort import INPUT_MULTIPLE, OnnxDetector
from tgram.model.select import finish
from tgram.model.tgram import TGraM
from tgram.model.weights import load_weights
from tgram.stage_times import StageTimes
from tgram.track.run import TrackRun
from tgram.track.tracker import TrackerConfig

log = logging.getLogger(__name__)


class Detector:
    """Loads weights once; maps the T most recent frames to the current frame's detections
    (a `detect.FrameDetector`), with eager PyTorch or, on the CPU, ONNX Runtime."""

    def __init__(
        self,
        model: TGraM,
        *,
        device: torch.device,
        score_threshold: float = SCORE_FLOOR,
        peaks: PeakRule | None = None,
        amp: bool = True,
        runtime: Runtime = "auto",
    ) -> None:
        self.model = model.eval().to(device)
        self.device = device
        self.score_threshold = score_threshold
        self.peaks = peaks or model.cfg.peaks
        """The model's own rule (`ModelConfig.peaks`) unless given."""
        self.amp = amp and device.type == "cuda"
        self.runtime = _resolve_runtime(runtime, device)
        self.network: Callable[[torch.Tensor], dict[str, torch.Tensor]] = self.model
        """What runs the network on the eager runtime."""
        self.onnx: OnnxDetector | None = None
        """The whole call on the ONNX Runtime runtime; its `.network` is what batch model
        actors are given."""
        if self.runtime != "eager":
            self.onnx = self._exported(fallback=runtime == "auto")

    def _exported(self, *, fallback: bool) -> OnnxDetector | None:
        """The ONNX Runtime detector of `self.runtime`; under `fallback`, an export that fails
        its check steps down: int8 to fp32 ONNX Runtime, fp32 to eager (returning None)."""
        try:
            network = onnx_network(self.model, peaks=self.peaks)
        except RuntimeError as error:
            if not fallback:
                raise
            log.warning("%s: running it with eager PyTorch", error)
            self.runtime = "eager"
            return None
        if self.runtime == "int8":
            try:
                network = int8_network(network)
            except RuntimeError as error:
                if not fallback:
                    raise
                log.warning("%s: running it with fp32 ONNX Runtime", error)
                self.runtime = "onnxruntime"
        return OnnxDetector(
            network, score_threshold=self.score_threshold, threads=torch.get_num_threads()
        )

    @classmethod
    def from_weights(
        cls,
        uri: str,
        *,
        device: torch.device | None = None,
        decode: dict[str, Any] | None = None,
        **kwargs: object,
    ) -> Detector:
        """`decode`: the weights' decode settings to override (`model.weights.load_weights`)."""
        device = device or torch.device("cuda" if torch.cuda.is_available() else "cpu")
        model, _ = load_weights(uri, device=device, decode=decode)
        return cls(model, device=device, **kwargs)

    @property
    def num_frames(self) -> int:
        return self.model.cfg.frames

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(self.model.cfg.classes)

    @property
    def emb_dim(self) -> int:
        return self.model.cfg.emb_dim

    @torch.inference_mode()
    def __call__(self, frames: list[np.ndarray]) -> Detections:
        """`frames`: RGB uint8 [H, W, 3], current first, then t-1, ... (len == num_frames)."""
        if self.onnx is not None:
            return self.onnx(frames)
        x = torch.from_numpy(np.stack(frames)).to(self.device)
        x = x.permute(0, 3, 1, 2).float().div_(255.0)  # [T, 3, H, W]
        h, w = x.shape[-2:]
        x = F.pad(x, (0, -w % INPUT_MULTIPLE, 0, -h % INPUT_MULTIPLE))
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            outputs = self.network(x[None])
        det = decode(
            outputs,
            score_threshold=self.score_threshold,
            peaks=self.peaks,
            peak_ratio=self.model.cfg.peak_ratio,
        )[0]
        return finish(det, width=w, height=h)


def _resolve_runtime(runtime: Runtime, device: torch.device) -> Literal["eager"] | CpuRuntime:
    if runtime not in get_args(Runtime):
        raise ValueError(f"runtime must be one of {', '.join(get_args(Runtime))}, got {runtime!r}")
    if runtime in CPU_RUNTIMES and device.type != "cpu":
        raise ValueError(f"runtime {runtime!r} runs on the CPU, not on {device.type}")
    if runtime == "auto":
        return CPU_RUNTIME if device.type == "cpu" else "eager"
    return runtime


def track_frames(
    frames: Iterable[tuple[int, np.ndarray]],
    detector: FrameDetector,
    tracker_config: TrackerConfig,
    *,
    fps: float,
    first_output_frame: int = 0,
    on_frame: Callable[[int], None] | None = None,
    times: StageTimes | None = None,
) -> TrackRows:
    """Run detector + a fresh tracker over (index, frame) pairs in order; the tracker starts
    at `first_output_frame` (see `detect_frames`). Stage times are added to `times`."""
    times = times if times is not None else StageTimes()
    run = TrackRun(tracker_config, fps=fps, emb_dim=detector.emb_dim)
    for frame in detect_frames(
        frames,
        detector,
        first_output_frame=first_output_frame,
        registration=tracker_config.registration,
        times=times,
    ):
        start = time.perf_counter()
        run.update(frame)
        times.association += time.perf_counter() - start
        if on_frame is not None:
            on_frame(frame.index)
    return run.rows()


def track_video(
    uri: str,
    detector: FrameDetector,
    tracker_config: TrackerConfig,
    *,
    start: int = 0,
    end: int | None = None,
    on_frame: Callable[[int], None] | None = None,
    times: StageTimes | None = None,
) -> TrackRows:
    """Track frames [start, end) of a video; the frames before `start` that its outputs depend
    on (`context_frames`) warm the model and the registration up."""
    fps = probe(uri).fps
    first = max(0, start - context_frames(detector.num_frames, tracker_config.registration))
    frames = read_frames(uri, first, end)
    return track_frames(
        frames,
        detector,
        tracker_config,
        fps=fps,
        first_output_frame=start,
        on_frame=on_frame,
        times=times,
    )


@dataclass(frozen=True)
class TrackedVideo:
    uri: str
    results_uri: str
    frames: int
    rows: TrackRows
    times: StageTimes


def track_to_results(
    input_uri: str,
    out_dir: str,
    detector: FrameDetector,
    tracker_config: TrackerConfig,
    *,
    progress: bool = True,
) -> list[TrackedVideo]:
    """`tgram track`: every video under `input_uri` -> `out_dir/<video_id>.txt` (MOTChallenge)."""
    scan = scan_archive(input_uri)
    videos = scan.videos
    if not videos:
        raise ValueError(f"{input_uri}: no mp4 files or image sequences found")
    infos = [probe(v) for v in videos]
    done = []
    with tqdm(
        total=sum(i.frames for i in infos), desc="track", unit="frame", disable=not progress
    ) as bar:
        for uri, vid, info in zip(videos, scan.ids, infos, strict=True):
            times = StageTimes()
            rows = track_video(
                uri, detector, tracker_config, on_frame=lambda _: bar.update(), times=times
            )
            out = storage.join(out_dir, f"{vid}.txt")
            write_results(out, rows.to_results())
            done.append(TrackedVideo(uri, out, info.frames, rows, times))
    return done
