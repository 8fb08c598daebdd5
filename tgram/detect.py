"""Frames in, each frame's detections and platform shift out: the loop every runtime shares.

It keeps the model's T-frame history and the platform registration's previous frame, and
times decode, model and registration. It imports no torch: batch model actors on ONNX
Runtime (`tgram.model.ort`) run it without loading PyTorch.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Protocol

import numpy as np

from tgram.detections import Detections
from tgram.stage_times import StageTimes
from tgram.track.registration import PlatformMotion, RegistrationConfig
from tgram.track.run import FrameDetections


class FrameDetector(Protocol):
    """Maps the T most recent frames (current first) to the current frame's detections:
    `tgram.inference.Detector` (PyTorch or ONNX Runtime) or `tgram.model.ort.OnnxDetector`."""

    @property
    def num_frames(self) -> int: ...

    @property
    def class_names(self) -> tuple[str, ...]: ...

    @property
    def emb_dim(self) -> int: ...

    def __call__(self, frames: list[np.ndarray]) -> Detections: ...


def context_frames(num_frames: int, registration: RegistrationConfig) -> int:
    """Frames before a clip's first that its outputs depend on: the model's T-1 frames of
    history, and the platform registration's keyframe (up to `keyframe_interval` back)."""
    return max(num_frames - 1, registration.keyframe_interval if registration.enabled else 0)


def _timed(
    frames: Iterable[tuple[int, np.ndarray]], times: StageTimes
) -> Iterator[tuple[int, np.ndarray]]:
    """`frames`, adding the time spent producing each (reading, decoding) to `times.decode`."""
    iterator = iter(frames)
    while True:
        start = time.perf_counter()
        try:
            item = next(iterator)
        except StopIteration:
            return
        times.decode += time.perf_counter() - start
        yield item


def detect_frames(
    frames: Iterable[tuple[int, np.ndarray]],
    detector: FrameDetector,
    *,
    first_output_frame: int = 0,
    registration: RegistrationConfig | None = None,
    times: StageTimes | None = None,
) -> Iterator[FrameDetections]:
    """Each frame's detections and platform shift from `first_output_frame` on, in order.

    Earlier frames only fill the model's history (clip warm-up context) and the registration's
    keyframe. Before any history exists the first frame is repeated, as in training. A
    frame's output depends only on it and its `context_frames` predecessors, so any cut of a
    video into clips gives the same detections and shifts. `registration` None: no platform motion.
    """
    times = times if times is not None else StageTimes()
    history: deque[np.ndarray] = deque(maxlen=detector.num_frames)
    motion = PlatformMotion(registration or RegistrationConfig(enabled=False))
    for index, frame in _timed(frames, times):
        if not history:
            history.extend([frame] * detector.num_frames)
        else:
            history.append(frame)
        start = time.perf_counter()
        shift = motion.shift(frame, index)
        times.registration += time.perf_counter() - start
        if index >= first_output_frame:
            start = time.perf_counter()
            detections = detector(list(reversed(history)))
            times.model += time.perf_counter() - start
            yield FrameDetections(index, detections, shift)
