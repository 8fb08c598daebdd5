"""The batch job's model actor: opens, seeks and decodes its own clip (frames never enter
the object store), runs the model over it, and hands the clip's detections or tracklets to
the associator that owns its video (tgram.pipeline.association); what goes back to the
driver is the clip's timings and, when the clip completed its video, the video's record.

On CPUs the actor is given the driver's checked ONNX export (`ort.OnnxNetwork`) and never
imports torch: a job over many short videos waits for its actors to start, and importing
PyTorch and loading the weights was most of that."""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from tgram.data.video import read_frames
from tgram.detect import FrameDetector, detect_frames
from tgram.faults import Deadline, crash_point
from tgram.model.config import CPU_RUNTIME, Runtime
from tgram.model.export_cache import CheckedExports
from tgram.model.ort import OnnxDetector, OnnxNetwork
from tgram.pipeline.clips import ClipPack, ClipTask, associator_for, one_line
from tgram.pipeline.payloads import (
    ClipResult,
    detections_to_ipc,
    shifts_to_bytes,
    tracklets_to_ipc,
)
from tgram.stage_times import StageTimes
from tgram.track.run import TrackRun
from tgram.track.tracker import TrackerConfig

log = logging.getLogger(__name__)


class ClipTracker:
    """A Ray actor: loads the model once, then runs it over one pack of clips per call
    (`ClipPack`), clip by clip: each clip's detections (video association) or tracklets (clip
    association) go to its video's associator as soon as it is done, and the call returns a row
    per clip without them plus `record` (see module)."""

    def __init__(
        self,
        network: OnnxNetwork | str,
        tracker: TrackerConfig,
        threads: int,
        track_clips: bool,
        associators: list[Any],
        clip_timeout_s: float = 0.0,
    ) -> None:
        """`network`: the export to run on ONNX Runtime, or a weights URI to run with eager
        PyTorch (GPU actors)."""
        self.detector: FrameDetector
        if isinstance(network, OnnxNetwork):
            self.detector = OnnxDetector(
                network, score_threshold=tracker.score_floor, threads=threads
            )
        else:
            import torch

            from tgram.api import load_detector

            torch.set_num_threads(max(1, threads))
            self.detector = load_detector(network, tracker, runtime="eager")
        self.tracker = tracker
        self.track_clips = track_clips
        self.associators = associators
        """Handles of the job's VideoAssociator actors."""
        self.clip_timeout_s = clip_timeout_s

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        rows = []
        for packed in batch["tasks"]:
            tasks = ClipPack.from_row({"tasks": packed}).tasks
            if len(tasks) == 1:
                rows.append(self._hand_over(self.track_clip(tasks[0])))
                continue
            for task in self.in_safe_order(tasks):
                self._ask(task.clip.video_id, "begin", task.clip.video_id, task.clip.index)
                rows.append(self._hand_over(self.track_clip(task)))
        return {
            k: np.array([r[k] for r in rows], dtype=object if k in _OBJECT_COLUMNS else None)
            for k in rows[0]
        }

    def in_safe_order(self, tasks: tuple[ClipTask, ...]) -> tuple[ClipTask, ...]:
        """The pack's clips, those an earlier attempt began and never handed over last: such a
        clip killed (or hung) its actor, and run first again it would take its healthy
        pack-mates down on every retry, until the pack is dropped with them."""
        keys = [(t.clip.video_id, t.clip.index) for t in tasks]
        owners: dict[str, list[tuple[str, int]]] = {}
        for key in keys:
            owners.setdefault(key[0], []).append(key)
        suspects = {
            tuple(key)
            for vid, owned in owners.items()
            for key in self._ask(vid, "suspects", owned) or []
        }
        return tuple(sorted(tasks, key=lambda t: (t.clip.video_id, t.clip.index) in suspects))

    def _ask(self, video_id: str, method: str, *args: Any) -> Any:
        """Call `method` of the associator that owns `video_id`; None if it is gone (its videos
        fail at the end of the job)."""
        import ray

        owner = self.associators[associator_for(video_id, len(self.associators))]
        try:
            return ray.get(getattr(owner, method).remote(*args))
        except ray.exceptions.RayActorError as exc:
            log.warning("associator of %s is gone: %s", video_id, one_line(exc))
            return None

    def _hand_over(self, result: ClipResult) -> dict[str, Any]:
        """Send a clip's result to its video's associator; the driver's row for the clip."""
        return result.summary_row(self._ask(result.clip.video_id, "add", result) or "")

    def track_clip(self, task: ClipTask) -> ClipResult:
        if task.error:
            return ClipResult(task, stage=task.stage, error=task.error)
        clip = task.clip
        crash_point(f"clip:{clip.video_id}:{clip.index}")
        with Deadline(self.clip_timeout_s, f"clip {clip.index} of {clip.uri}"):
            return self._track(task)

    def _track(self, task: ClipTask) -> ClipResult:
        clip, times = task.clip, StageTimes()
        try:  # opening is inside: the file may have changed or gone since it was planned
            detections = list(
                detect_frames(
                    read_frames(clip.uri, clip.context_start, clip.end),
                    self.detector,
                    first_output_frame=clip.start,
                    registration=self.tracker.registration,
                    times=times,
                )
            )
            if len(detections) < clip.end - clip.start:
                raise ValueError(
                    f"{clip.uri}: video ends at frame {clip.start + len(detections)}, its header says {task.frames}"
                )
            if self.track_clips:
                run = TrackRun(self.tracker, fps=task.fps, emb_dim=self.detector.emb_dim)
                start = time.perf_counter()
                for frame in detections:
                    run.update(frame)
                times.association += time.perf_counter() - start
                # every tracklet: the weak-track filter is the stitched video's (video_tracks)
                payload = tracklets_to_ipc(
                    run.rows(all_tracks=True), clip, self.detector.class_names
                )
            else:
                payload = detections_to_ipc(detections, self.detector.emb_dim)
        except Exception as exc:  # noqa: BLE001 - a bad clip fails its video, never the job
            return ClipResult(task, times=times, stage="track", error=one_line(exc))
        return ClipResult(task, payload, shifts_to_bytes(detections), times)


def actor_network(
    weights: str,
    weights_sha256: str,
    tracker: TrackerConfig,
    runtime: Runtime,
    gpus: float,
    exports: CheckedExports | None = None,
) -> OnnxNetwork | str:
    """What the model actors are given: on CPU actors (runtime auto, onnxruntime or int8) the
    weights' checked ONNX export (quantised for int8), made and checked once here for all of them, or found in
    `exports` when these weights' export passed its check before (then no model is built);
    otherwise (GPU actors, the eager runtime, or a model whose export fails its check under
    auto) the weights URI."""
    if runtime == "eager" or (runtime == "auto" and gpus > 0):
        return weights
    exports = exports or CheckedExports()
    int8 = (CPU_RUNTIME if runtime == "auto" else runtime) == "int8"
    network = exports.find(weights_sha256, int8=int8)
    if network is not None:
        return network
    from tgram.api import load_detector

    detector = load_detector(weights, tracker, device="cpu", runtime=runtime)
    if detector.onnx is None:
        return weights
    exports.remember(weights_sha256, detector.onnx.network, int8=detector.runtime == "int8")
    return detector.onnx.network


_OBJECT_COLUMNS = {"video_id", "uri", "stage", "error", "record"}
