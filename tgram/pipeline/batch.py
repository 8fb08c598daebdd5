"""Ray Data batch tracking: a video archive in, trajectory Parquet per video out.

archive listing -> per-video probe and clip plan (Ray Data `flat_map`) -> an actor pool that
opens, seeks and decodes its clips itself and runs the model over them (`map_batches`), so
frames never enter the object store -> the driver collects each video's clips as they stream
in, turns them into tracks and writes the video's Parquet. Videos therefore finish one by one:
a job killed half way keeps its finished videos, and the re-run skips them.

Two ways to turn clips into tracks (`BatchConfig.association`):
- "video" (default): actors return each frame's detections; on the driver one tracker per
  video goes through them in frame order as the clips arrive. A frame's detections and
  platform shift depend only on it and its `context_frames` predecessors (given to each clip
  as warm-up context), so the tracks
  are exactly those of `tgram track` on the whole video. Association costs milliseconds per
  frame (bench_tracker: 100 to 5,000 objects) against tens to hundreds for the model, so one
  driver keeps up with many actors.
- "clip": actors also track their own clip, and consecutive clips, which share `overlap`
  frames, are stitched there (`tgram.pipeline.stitch`). Nothing runs per frame on the driver,
  which suits scenes of thousands of objects on many GPUs, but every clip's tracker starts
  cold, so tracks near clip edges differ from whole-video tracking (measured with the
  shipped weights: IDF1 0.91-0.94 against it with 20-frame clips overlapping by 10).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import ray

from tgram import storage
from tgram.api import load_detector
from tgram.config import to_dict
from tgram.data.video import probe, read_frames, scan_archive
from tgram.faults import Deadline, crash_env, crash_point
from tgram.inference import (
    FrameDetections,
    TrackRows,
    TrackRun,
    context_frames,
    detect_frames,
)
from tgram.model.decode import Detections
from tgram.model.weights import weights_config
from tgram.pipeline.clips import Clip, plan_clips
from tgram.pipeline.geo import georeference, load_meta, meta_uri_for
from tgram.pipeline.ground import cumulative_offsets, ground_table
from tgram.pipeline.lease import OutputLease
from tgram.pipeline.stitch import StitchConfig, stitch_table
from tgram.pipeline.trajectories import (
    ClipFailure,
    RunIdentity,
    VideoRecord,
    commit_failure,
    commit_rows,
    video_done,
)
from tgram.resources import SHIPPED_WEIGHTS
from tgram.track.tracker import TrackerConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchConfig:
    """How an archive is cut into clips and how many trackers run them."""

    clip_frames: int = 300
    """Frames per clip (30 s at 10 fps): the unit of parallelism and of retry."""
    association: Literal["video", "clip"] = "video"
    """video: one tracker per video on the driver over the clips' detections, equal to
    `tgram track`; clip: each clip tracked on its own and stitched (see the module docstring)."""
    overlap: int = 30
    """Frames shared by consecutive clips, where stitching matches tracks (clip association
    only: video association needs no overlap, its clips are disjoint)."""
    actors: int = 1
    """Tracker actors (one model each)."""
    cpus_per_actor: float = 1.0
    gpus_per_actor: float = 0.0
    """0 runs the model on CPU; 1 (or 0.5 to pack two actors per GPU) asks Ray for a GPU."""
    clip_timeout_s: float = 0.0
    """Longest a clip may take in its actor (0: no limit); past it the actor process ends,
    and the clip is retried like one whose actor died. Set it to several times the expected
    clip time: a hung read from object storage then costs minutes, not the job."""
    max_restarts: int = 3
    """Retries of a clip whose actor died (the actor is restarted; output is unchanged). A
    clip that kills its actor on every attempt then fails its video, not the job."""
    weights: str = ""
    """Weights file, local or s3:// (empty: the shipped weights)."""
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    stitch: StitchConfig = field(default_factory=StitchConfig)

    def __post_init__(self) -> None:
        if self.actors < 1:
            raise ValueError(f"actors: expected >= 1, got {self.actors}")
        if self.cpus_per_actor <= 0 or self.gpus_per_actor < 0:
            raise ValueError("cpus_per_actor must be > 0 and gpus_per_actor >= 0")
        if self.clip_frames < 1:
            raise ValueError(f"clip_frames: expected >= 1, got {self.clip_frames}")
        if self.max_restarts < 0:
            raise ValueError(
                f"max_restarts: expected >= 0, got {self.max_restarts} (Ray's -1 restarts "
                "forever: a clip that kills its actor would be retried without end)"
            )
        if self.association not in ("video", "clip"):
            raise ValueError(f"association: expected 'video' or 'clip', got {self.association!r}")
        if self.association == "clip" and not 0 <= self.overlap < self.clip_frames:
            raise ValueError(
                f"overlap: expected 0 <= overlap < clip_frames={self.clip_frames}, got {self.overlap}"
            )


@dataclass
class BatchSummary:
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    """Videos already done."""
    ignored: int = 0
    """Files under the input that are not videos (`scan_archive`'s `skipped`)."""
    rows: int = 0
    tracks: int = 0
    frames: int = 0
    seconds: float = 0.0
    decode_seconds: float = 0.0
    track_seconds: float = 0.0
    """Actor time besides decoding: the model, and the tracker under clip association."""
    associate_seconds: float = 0.0
    """Driver time in the tracker under video association."""

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0

    def to_text(self) -> str:
        decode_share = self.decode_seconds / max(self.decode_seconds + self.track_seconds, 1e-9)
        return (
            f"videos: {self.ok} ok, {self.failed} failed, {self.skipped} already done; "
            f"{self.ignored} other files skipped; "
            f"{self.rows} rows, {self.tracks} tracks; {self.frames} frames in {self.seconds:.1f} s "
            f"({self.fps:.2f} fps, decode {decode_share:.0%} of actor time, "
            f"association on the driver {self.associate_seconds:.1f} s)"
        )


# -- planning -------------------------------------------------------------------------------


def plan_video(
    item: dict[str, Any], *, clip_frames: int, overlap: int, context: int
) -> list[dict[str, Any]]:
    """One row per clip of a video, or one failure row if the video cannot be probed."""
    uri, vid = str(item["uri"]), str(item["video_id"])
    try:
        info = probe(uri)
    except Exception as exc:  # noqa: BLE001 - any unreadable video becomes a failure row
        return [_failure_row(vid, uri, "probe", exc)]
    clips = plan_clips(vid, uri, info.frames, clip_frames, overlap, context=context)
    video = dict(
        fps=info.fps, frames=info.frames, width=info.width, height=info.height, n_clips=len(clips)
    )
    return [{**clip.to_row(), **video, "stage": "", "error": ""} for clip in clips]


def _failure_row(
    vid: str, uri: str, stage: str, exc: BaseException, clip: Clip | None = None
) -> dict[str, Any]:
    row = clip.to_row() if clip else Clip(vid, uri, 0, 0, 0, 0, 0).to_row()
    return {
        **row,
        "fps": 0.0,
        "frames": 0,
        "width": 0,
        "height": 0,
        "n_clips": 1,
        "stage": stage,
        "error": _one_line(exc),
    }


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


# -- the tracker actor ----------------------------------------------------------------------


class ClipTracker:
    """A Ray actor: loads the model once, then runs it over one clip per call, returning the
    clip's detections (video association) or its tracklets (clip association)."""

    def __init__(
        self,
        weights: str,
        tracker: TrackerConfig,
        threads: int,
        track_clips: bool,
        clip_timeout_s: float = 0.0,
    ) -> None:
        import torch

        torch.set_num_threads(max(1, threads))
        self.detector = load_detector(weights, tracker)
        self.tracker = tracker
        self.track_clips = track_clips
        self.clip_timeout_s = clip_timeout_s

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        results = [
            self.track_clip({k: v[i] for k, v in batch.items()}) for i in range(len(batch["uri"]))
        ]
        return {
            k: np.array([r[k] for r in results], dtype=object if k in _OBJECT_COLUMNS else None)
            for k in results[0]
        }

    def track_clip(self, row: dict[str, Any]) -> dict[str, Any]:
        out = {**row, "payload": b"", "shift": b"", "decode_s": 0.0, "track_s": 0.0}
        if row["error"]:
            return out
        clip = Clip.from_row(row)
        crash_point(f"clip:{clip.video_id}:{clip.index}")
        with Deadline(self.clip_timeout_s, f"clip {clip.index} of {clip.uri}"):
            return self._track(clip, out)

    def _track(self, clip: Clip, out: dict[str, Any]) -> dict[str, Any]:
        t0 = time.perf_counter()
        try:  # opening is inside: the file may have changed or gone since it was planned
            timer = _DecodeTimer(read_frames(clip.uri, clip.context_start, clip.end))
            detections = list(
                detect_frames(
                    timer,
                    self.detector,
                    first_output_frame=clip.start,
                    registration=self.tracker.registration,
                )
            )
            if len(detections) < clip.end - clip.start:
                raise ValueError(
                    f"{clip.uri}: video ends at frame {clip.start + len(detections)}, its header says {out['frames']}"
                )
            if self.track_clips:
                run = TrackRun(
                    self.tracker, fps=float(out["fps"]), emb_dim=self.detector.model.cfg.emb_dim
                )
                for frame in detections:
                    run.update(frame)
                payload = _tracklets_to_ipc(run.rows(), clip, self.detector.class_names)
            else:
                payload = _detections_to_ipc(detections, self.detector.model.cfg.emb_dim)
        except Exception as exc:  # noqa: BLE001 - a bad clip fails its video, never the job
            return {**out, "stage": "track", "error": _one_line(exc)}
        seconds = time.perf_counter() - t0
        return {
            **out,
            "payload": payload,
            "shift": _shifts_to_bytes(detections),
            "decode_s": timer.seconds,
            "track_s": seconds - timer.seconds,
        }


_OBJECT_COLUMNS = {"video_id", "uri", "stage", "error", "payload", "shift"}


class _DecodeTimer:
    """Wraps a frame iterator to measure the time spent decoding (the rest is model + tracker)."""

    def __init__(self, frames: Iterator[tuple[int, np.ndarray]]) -> None:
        self._frames, self.seconds = frames, 0.0

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        while True:
            t0 = time.perf_counter()
            item = next(self._frames, None)
            self.seconds += time.perf_counter() - t0
            if item is None:
                return
            yield item


def _shifts_to_bytes(detections: list[FrameDetections]) -> bytes:
    """A clip's per-frame platform shifts, [frames, 2] little-endian float64 (no pickle)."""
    shifts = np.stack([f.shift for f in detections]) if detections else np.zeros((0, 2))
    return np.asarray(shifts, "<f8").tobytes()


def _shifts_from_bytes(payload: bytes) -> np.ndarray:
    return np.frombuffer(payload, "<f8").reshape(-1, 2)


def video_shifts(clip_results: list[dict[str, Any]], frames: int) -> np.ndarray:
    """[frames, 2] per-frame platform shifts of a video from its clips, placed by frame
    (clips of `association: clip` overlap; their shared frames agree)."""
    shifts = np.zeros((frames, 2))
    for r in clip_results:
        clip = Clip.from_row(r)
        shifts[clip.start : clip.end] = _shifts_from_bytes(r["shift"])
    return shifts


def _detections_to_ipc(detections: list[FrameDetections], emb_dim: int) -> bytes:
    """A clip's detections, one row each, as Arrow IPC bytes. Embeddings stay float32: the
    driver's tracker must see exactly what `tgram track` sees."""
    frame = np.concatenate(
        [np.full(len(f.detections), f.index, np.int32) for f in detections]
        + [np.zeros(0, np.int32)]
    )

    def stacked(name: str, shape: tuple[int, ...], dtype: type) -> np.ndarray:
        return np.concatenate(
            [getattr(f.detections, name) for f in detections] + [np.zeros(shape, dtype)]
        ).astype(dtype)

    boxes = stacked("boxes", (0, 4), np.float32)
    embedding = stacked("embeddings", (0, emb_dim), np.float32)
    table = pa.table(
        {
            "frame": frame,
            "x1": boxes[:, 0],
            "y1": boxes[:, 1],
            "x2": boxes[:, 2],
            "y2": boxes[:, 3],
            "score": stacked("scores", (0,), np.float32),
            "class_id": stacked("classes", (0,), np.int64),
            "embedding": pa.FixedSizeListArray.from_arrays(embedding.reshape(-1), emb_dim),
        }
    )
    return _to_ipc(table)


def _detections_from_ipc(payload: bytes, shifts: bytes, clip: Clip) -> Iterator[FrameDetections]:
    """Every frame of the clip in order, empty frames included: the tracker must step
    through them as it would in `tgram track`."""
    shift = _shifts_from_bytes(shifts)
    table = _from_ipc(payload)
    frame = table["frame"].to_numpy()
    boxes = np.stack([table[c].to_numpy() for c in ("x1", "y1", "x2", "y2")], axis=1).reshape(-1, 4)
    scores, classes = table["score"].to_numpy(), table["class_id"].to_numpy()
    embedding = table["embedding"].combine_chunks()
    embeddings = embedding.flatten().to_numpy().reshape(len(frame), embedding.type.list_size)
    bounds = np.searchsorted(frame, np.arange(clip.start, clip.end + 1))
    for index, lo, hi in zip(range(clip.start, clip.end), bounds[:-1], bounds[1:], strict=True):
        det = Detections(boxes[lo:hi], scores[lo:hi], classes[lo:hi], embeddings[lo:hi])
        yield FrameDetections(index, det, shift[index - clip.start])


def _to_ipc(table: pa.Table) -> bytes:
    """Arrow IPC, zstd: how clips travel from actors to the driver (no pickle)."""
    sink = io.BytesIO()
    with pa.ipc.new_stream(
        sink, table.schema, options=pa.ipc.IpcWriteOptions(compression="zstd")
    ) as writer:
        writer.write_table(table)
    return sink.getvalue()


def _from_ipc(payload: bytes) -> pa.Table:
    with pa.ipc.open_stream(payload) as reader:
        return reader.read_all()


def _tracklets_to_ipc(rows: TrackRows, clip: Clip, class_names: tuple[str, ...]) -> bytes:
    """A clip's rows as Arrow IPC bytes (no pickle). Embeddings are kept only on overlap
    frames, where stitching compares them; elsewhere they are zero, which leaves the
    direction of a tracklet's mean embedding over the overlap unchanged and compresses away."""
    in_overlap = (rows.frame < clip.start + clip.overlap) | (rows.frame >= clip.end - clip.overlap)
    embedding = np.where(in_overlap[:, None], rows.embedding, 0).astype(np.float16)
    table = rows_table(rows, class_names, id_column="local_track_id")
    return _to_ipc(
        table.append_column(
            "embedding",
            pa.FixedSizeListArray.from_arrays(embedding.reshape(-1), embedding.shape[1]),
        )
    )


def rows_table(rows: TrackRows, class_names: tuple[str, ...], *, id_column: str) -> pa.Table:
    return pa.table(
        {
            "frame": rows.frame,
            id_column: rows.track_id,
            "class": pa.array(
                np.asarray(class_names, dtype=object)[rows.class_id] if len(rows) else [],
                pa.string(),
            ),
            "x1": rows.boxes[:, 0],
            "y1": rows.boxes[:, 1],
            "x2": rows.boxes[:, 2],
            "y2": rows.boxes[:, 3],
            "score": rows.score,
            "vx": rows.velocity[:, 0],
            "vy": rows.velocity[:, 1],
        }
    )


# -- per-video finalisation (driver) --------------------------------------------------------


class VideoClips:
    """One video's clip results as they stream in to the driver, in any order.

    Under video association `run` (the video's tracker) takes each clip's detections as soon
    as all earlier clips are in, and the clip's payload is then dropped, so the driver holds
    only clips that arrived ahead of a missing one.
    """

    def __init__(self, n_clips: int, run: TrackRun | None) -> None:
        self.n_clips = n_clips
        self.run = run
        self.results: dict[int, dict[str, Any]] = {}
        self.associate_seconds = 0.0
        self._fed = 0

    def add(self, row: dict[str, Any]) -> None:
        self.results[int(row["index"])] = row
        t0 = time.perf_counter()
        while self.run is not None and not self.failures and self._fed in self.results:
            fed = self.results[self._fed]
            try:
                for frame in _detections_from_ipc(fed["payload"], fed["shift"], Clip.from_row(fed)):
                    self.run.update(frame)
            except Exception as exc:  # noqa: BLE001 - fails this video, not the job
                fed.update(stage="associate", error=_one_line(exc))
            fed["payload"] = b""
            self._fed += 1
        self.associate_seconds += time.perf_counter() - t0

    @property
    def complete(self) -> bool:
        return len(self.results) == self.n_clips

    @property
    def failures(self) -> list[dict[str, Any]]:
        return [r for r in self.results.values() if r["error"]]

    def ordered(self) -> list[dict[str, Any]]:
        return [self.results[i] for i in sorted(self.results)]


def video_tracks(video: VideoClips, stitch: StitchConfig, class_names: tuple[str, ...]) -> pa.Table:
    """The tracks of a complete video without failures: frame, track_id, class, x1, y1, x2,
    y2, score, vx, vy; from its tracker (video association) or by stitching its clips."""
    if video.run is not None:
        return rows_table(video.run.rows(), class_names, id_column="track_id")
    results = video.ordered()
    parts = []
    for r in results:
        part = _from_ipc(r["payload"])
        parts.append(
            part.append_column(
                "clip_index", pa.array(np.full(part.num_rows, int(r["index"]), np.int32))
            )
        )
    return stitch_table(pa.concat_tables(parts), [Clip.from_row(r) for r in results], stitch)


def finalize_video(
    out_root: str,
    video: VideoClips,
    identity: RunIdentity,
    stitch: StitchConfig,
    class_names: tuple[str, ...],
) -> VideoRecord:
    """Commit a complete video: its georeferenced tracks (`trajectories.commit_rows`), or the
    failure of its clips. An error here (a bad meta JSON, stitching, storage) fails this
    video, recorded like a clip failure at stage "finalize": the job goes on."""
    clip_results = video.ordered()
    record = _video_record(clip_results[0], identity, _clip_seconds(clip_results))
    failures = []
    for r in video.failures:
        clip = Clip.from_row(r)
        failures.append(ClipFailure(clip.start, clip.end, str(r["stage"]), str(r["error"])))
    if not failures:
        try:
            tracks = video_tracks(video, stitch, class_names)
            offsets = cumulative_offsets(video_shifts(clip_results, frames=record.frames))
            table = ground_table(record.video_id, tracks, offsets, fps=record.fps)
            table = georeference(table, load_meta(meta_uri_for(record.uri)))
            n_tracks = len(np.unique(tracks["track_id"].to_numpy())) if tracks.num_rows else 0
            return commit_rows(out_root, replace(record, n_tracks=n_tracks), table)
        except Exception as exc:  # noqa: BLE001 - one video's fault never ends the job
            log.warning("%s: %s", record.uri, _one_line(exc))
            failures = [ClipFailure(0, record.frames, "finalize", _one_line(exc))]
    return commit_failure(out_root, replace(record, error=failures[0].error), failures)


def commit_lost_video(
    out_root: str,
    item: dict[str, Any],
    video: VideoClips | None,
    identity: RunIdentity,
    attempts: int,
) -> VideoRecord:
    """Fail a video some of whose clips never came back: their actor died on every attempt
    (a clip that crashes its process or runs it out of memory), so Ray Data dropped them."""
    arrived = video.ordered() if video is not None else []
    first = arrived[0] if arrived else {**item, "frames": 0, "fps": 0.0, "width": 0, "height": 0}
    record = _video_record(first, identity, _clip_seconds(arrived))
    n_clips = video.n_clips if video is not None else "all"
    lost = (
        f"{n_clips} clips"
        if video is None
        else f"{video.n_clips - len(arrived)} of {n_clips} clips"
    )
    error = f"{lost} lost: the actor running them died on each of {attempts} attempts"
    failure = ClipFailure(0, record.frames, "actor", error)
    return commit_failure(out_root, replace(record, error=error), [failure])


def _video_record(first: dict[str, Any], identity: RunIdentity, seconds: float) -> VideoRecord:
    return VideoRecord(
        video_id=str(first["video_id"]),
        uri=str(first["uri"]),
        status="ok",
        frames=int(first["frames"]),
        fps=float(first["fps"]),
        width=int(first["width"]),
        height=int(first["height"]),
        n_tracks=0,
        n_rows=0,
        seconds=seconds,
        error="",
        weights_sha256=identity.weights_sha256,
        config_hash=identity.config_hash,
        tgram_version=identity.tgram_version,
    )


def run_identity(cfg: BatchConfig, weights: str) -> RunIdentity:
    """The weights' SHA-256 and a hash of the settings that change a video's rows (the
    tracker; clip length, overlap and stitching only under clip association)."""
    settings: dict[str, Any] = {"association": cfg.association, "tracker": to_dict(cfg.tracker)}
    if cfg.association == "clip":
        settings.update(
            clip_frames=cfg.clip_frames, overlap=cfg.overlap, stitch=to_dict(cfg.stitch)
        )
    text = json.dumps(settings, sort_keys=True)
    return RunIdentity(
        weights_sha256=hashlib.sha256(storage.read_bytes(weights)).hexdigest(),
        config_hash=hashlib.sha256(text.encode()).hexdigest()[:16],
    )


def _clip_seconds(clip_results: list[dict[str, Any]]) -> float:
    return float(sum(float(r["decode_s"]) + float(r["track_s"]) for r in clip_results))


# -- the job --------------------------------------------------------------------------------


def run_batch(
    input_uri: str,
    output_uri: str,
    cfg: BatchConfig,
    *,
    overwrite: bool = False,
    on_video: Callable[[VideoRecord], None] | None = None,
) -> BatchSummary:
    """Track every video under `input_uri` into trajectory Parquet under `output_uri`.

    Needs a connected Ray (`ray.init`); videos already complete are skipped unless `overwrite`.
    The job holds the output's lease (`pipeline.lease`) throughout: a second job on the same
    output refuses at start.
    """
    with OutputLease(output_uri), _lost_clips_fail_their_video():
        return _run_batch(input_uri, output_uri, cfg, overwrite=overwrite, on_video=on_video)


@contextmanager
def _lost_clips_fail_their_video() -> Iterator[None]:
    """Let Ray Data drop a block whose actor died on every retry instead of ending the job;
    `_run_batch` then fails the videos whose clips did not all come back."""
    context = ray.data.DataContext.get_current()
    saved, context.max_errored_blocks = context.max_errored_blocks, -1
    try:
        yield
    finally:
        context.max_errored_blocks = saved


def _run_batch(
    input_uri: str,
    output_uri: str,
    cfg: BatchConfig,
    *,
    overwrite: bool,
    on_video: Callable[[VideoRecord], None] | None,
) -> BatchSummary:
    t0 = time.perf_counter()
    summary = BatchSummary()
    todo = []
    scan = scan_archive(input_uri)
    summary.ignored = len(scan.skipped)
    if scan.skipped:
        log.warning(
            "%s: %d files are neither videos nor image sequences, e.g. %s",
            input_uri,
            len(scan.skipped),
            scan.skipped[0],
        )
    weights = cfg.weights or str(SHIPPED_WEIGHTS)
    identity = run_identity(cfg, weights)
    for uri, vid in zip(scan.videos, scan.ids, strict=True):
        if not overwrite and video_done(output_uri, vid, identity):
            summary.skipped += 1
        else:
            todo.append({"video_id": vid, "uri": uri})
    if not todo:
        summary.seconds = time.perf_counter() - t0
        return summary
    model = weights_config(weights)
    by_clip = cfg.association == "clip"
    runtime_env = {"env_vars": {**storage.s3_env(), **crash_env()}}
    ds = (
        ray.data.from_items(todo, override_num_blocks=len(todo))
        .flat_map(
            plan_video,
            fn_kwargs=dict(
                clip_frames=cfg.clip_frames,
                overlap=cfg.overlap if by_clip else 0,
                context=context_frames(model.frames),
            ),
            # Probing reads a container header: I/O, not CPU. Reserving a CPU would deadlock
            # the job when the tracker actors hold every CPU of the cluster.
            num_cpus=0,
            runtime_env=runtime_env,
        )
        .map_batches(
            ClipTracker,
            batch_size=1,
            compute=ray.data.ActorPoolStrategy(size=cfg.actors),
            fn_constructor_kwargs=dict(
                weights=weights,
                tracker=cfg.tracker,
                threads=int(cfg.cpus_per_actor),
                track_clips=by_clip,
                clip_timeout_s=cfg.clip_timeout_s,
            ),
            num_cpus=cfg.cpus_per_actor,
            num_gpus=cfg.gpus_per_actor or None,
            runtime_env=runtime_env,
            # A dead actor always comes back (Ray Data's default max_restarts=-1); the clip it
            # was running is retried cfg.max_restarts times, not forever (the default -1), then
            # dropped and its video failed (commit_lost_video). Ray 2.60 has no named parameter
            # for it yet, so this one extra kwarg raises its ray_remote_args deprecation warning.
            max_task_retries=cfg.max_restarts,
        )
    )
    pending: dict[str, VideoClips] = {}
    finished: set[str] = set()
    for row in ds.iter_rows():
        vid = str(row["video_id"])
        if vid not in pending:
            run = (
                None
                if by_clip or row["error"]
                else TrackRun(cfg.tracker, fps=float(row["fps"]), emb_dim=model.emb_dim)
            )
            pending[vid] = VideoClips(int(row["n_clips"]), run)
        video = pending[vid]
        video.add(row)
        if not video.complete:
            continue
        del pending[vid]
        finished.add(vid)
        record = finalize_video(output_uri, video, identity, cfg.stitch, tuple(model.classes))
        _count(summary, record, video)
        if on_video is not None:
            on_video(record)
    attempts = cfg.max_restarts + 1
    for item in todo:
        if item["video_id"] not in finished:
            video = pending.get(item["video_id"])
            record = commit_lost_video(output_uri, item, video, identity, attempts)
            summary.failed += 1
            if on_video is not None:
                on_video(record)
    summary.seconds = time.perf_counter() - t0
    return summary


def _count(summary: BatchSummary, record: VideoRecord, video: VideoClips) -> None:
    clips = video.ordered()
    if record.status == "ok":
        summary.ok += 1
        summary.rows += record.n_rows
        summary.tracks += record.n_tracks
        summary.frames += record.frames
    else:
        summary.failed += 1
    summary.decode_seconds += sum(float(r["decode_s"]) for r in clips)
    summary.track_seconds += sum(float(r["track_s"]) for r in clips)
    summary.associate_seconds += video.associate_seconds
