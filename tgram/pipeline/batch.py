"""Ray Data batch tracking: a video archive in, trajectory Parquet per video out.

archive listing -> per-video probe and clip plan (Ray Data `flat_map`) -> an actor pool of
trackers that open, seek and decode their clip themselves (`map_batches`), so frames never
enter the object store -> the driver collects each video's clips as they stream in, stitches
them into global track ids and writes the video's Parquet. Videos therefore finish one by one:
a job killed half way keeps its finished videos, and the re-run skips them.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import ray

from tgram import storage
from tgram.data.video import list_videos, probe, read_frames, video_id
from tgram.inference import Detector, TrackRows, track_frames
from tgram.pipeline.clips import Clip, plan_clips
from tgram.pipeline.geo import georeference, load_meta, meta_uri_for
from tgram.pipeline.stitch import StitchConfig, stitch_table
from tgram.pipeline.trajectories import (
    VideoRecord,
    clear_failures,
    trajectory_uri,
    video_done,
    write_failure,
    write_video_record,
    write_video_trajectories,
)
from tgram.resources import SHIPPED_WEIGHTS
from tgram.track.tracker import TrackerConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchConfig:
    """How an archive is cut into clips and how many trackers run them."""

    clip_frames: int = 300
    """Frames per clip (30 s at 10 fps): the unit of parallelism and of retry."""
    overlap: int = 30
    """Frames shared by consecutive clips; stitching matches tracks over them."""
    actors: int = 1
    """Tracker actors (one model each)."""
    cpus_per_actor: float = 1.0
    gpus_per_actor: float = 0.0
    """0 runs the model on CPU; 1 (or 0.5 to pack two actors per GPU) asks Ray for a GPU."""
    max_restarts: int = 3
    """A dead actor is restarted this often and its clip retried; output is unchanged."""
    weights: str = ""
    """Weights file, local or s3:// (empty: the shipped weights)."""
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    stitch: StitchConfig = field(default_factory=StitchConfig)

    def __post_init__(self) -> None:
        if self.actors < 1:
            raise ValueError(f"actors: expected >= 1, got {self.actors}")
        if self.cpus_per_actor <= 0 or self.gpus_per_actor < 0:
            raise ValueError("cpus_per_actor must be > 0 and gpus_per_actor >= 0")
        if not 0 <= self.overlap < self.clip_frames:
            raise ValueError(f"overlap: expected 0 <= overlap < clip_frames={self.clip_frames}, got {self.overlap}")


@dataclass
class BatchSummary:
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    rows: int = 0
    tracks: int = 0
    frames: int = 0
    seconds: float = 0.0
    decode_seconds: float = 0.0
    track_seconds: float = 0.0

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0

    def to_text(self) -> str:
        decode_share = self.decode_seconds / max(self.decode_seconds + self.track_seconds, 1e-9)
        return (
            f"videos: {self.ok} ok, {self.failed} failed, {self.skipped} already done; "
            f"{self.rows} rows, {self.tracks} tracks; {self.frames} frames in {self.seconds:.1f} s "
            f"({self.fps:.2f} fps, decode {decode_share:.0%} of actor time)"
        )


# -- planning -------------------------------------------------------------------------------


def plan_video(item: dict[str, Any], *, clip_frames: int, overlap: int, context: int) -> list[dict[str, Any]]:
    """One row per clip of a video, or one failure row if the video cannot be probed."""
    uri, vid = str(item["uri"]), str(item["video_id"])
    try:
        info = probe(uri)
    except Exception as exc:  # noqa: BLE001 - any unreadable video becomes a failure row
        return [_failure_row(vid, uri, "probe", exc)]
    clips = plan_clips(vid, uri, info.frames, clip_frames, overlap, context=context)
    video = dict(fps=info.fps, frames=info.frames, width=info.width, height=info.height, n_clips=len(clips))
    return [{**clip.to_row(), **video, "stage": "", "error": ""} for clip in clips]


def _failure_row(vid: str, uri: str, stage: str, exc: BaseException, clip: Clip | None = None) -> dict[str, Any]:
    row = clip.to_row() if clip else Clip(vid, uri, 0, 0, 0, 0, 0).to_row()
    return {**row, "fps": 0.0, "frames": 0, "width": 0, "height": 0, "n_clips": 1, "stage": stage, "error": _one_line(exc)}


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


# -- the tracker actor ----------------------------------------------------------------------


class ClipTracker:
    """A Ray actor: loads the model once, then tracks one clip per call."""

    def __init__(self, weights: str, tracker: TrackerConfig, threads: int) -> None:
        import torch

        torch.set_num_threads(max(1, threads))
        self.detector = Detector.from_weights(weights, score_threshold=tracker.det_threshold)
        self.tracker = tracker

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        results = [self.track_clip({k: v[i] for k, v in batch.items()}) for i in range(len(batch["uri"]))]
        return {k: np.array([r[k] for r in results], dtype=object if k in _OBJECT_COLUMNS else None) for k in results[0]}

    def track_clip(self, row: dict[str, Any]) -> dict[str, Any]:
        out = {**row, "tracklets": b"", "decode_s": 0.0, "track_s": 0.0}
        if row["error"]:
            return out
        clip = Clip.from_row(row)
        timer = _DecodeTimer(read_frames(clip.uri, clip.context_start, clip.end))
        t0 = time.perf_counter()
        try:
            rows = track_frames(timer, self.detector, self.tracker, fps=float(row["fps"]), first_output_frame=clip.start)
            decoded = timer.count - (clip.start - clip.context_start)
            if decoded < clip.end - clip.start:
                raise ValueError(f"{clip.uri}: video ends at frame {clip.start + decoded}, its header says {row['frames']}")
        except Exception as exc:  # noqa: BLE001 - a bad clip fails its video, never the job
            return {**out, "stage": "track", "error": _one_line(exc)}
        seconds = time.perf_counter() - t0
        payload = _tracklets_to_ipc(rows, clip, self.detector.class_names)
        return {**out, "tracklets": payload, "decode_s": timer.seconds, "track_s": seconds - timer.seconds}


_OBJECT_COLUMNS = {"video_id", "uri", "stage", "error", "tracklets"}


class _DecodeTimer:
    """Wraps a frame iterator to measure the time spent decoding (the rest is model + tracker)."""

    def __init__(self, frames: Iterator[tuple[int, np.ndarray]]) -> None:
        self._frames, self.seconds, self.count = frames, 0.0, 0

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        while True:
            t0 = time.perf_counter()
            item = next(self._frames, None)
            self.seconds += time.perf_counter() - t0
            if item is None:
                return
            self.count += 1
            yield item


def _tracklets_to_ipc(rows: TrackRows, clip: Clip, class_names: tuple[str, ...]) -> bytes:
    """A clip's rows as Arrow IPC bytes (no pickle). Embeddings are kept only on overlap
    frames, where stitching compares them; elsewhere they are zero, which leaves the
    direction of a tracklet's mean embedding over the overlap unchanged and compresses away."""
    in_overlap = (rows.frame < clip.start + clip.overlap) | (rows.frame >= clip.end - clip.overlap)
    embedding = np.where(in_overlap[:, None], rows.embedding, 0).astype(np.float16)
    table = pa.table(
        {
            "frame": rows.frame,
            "local_track_id": rows.track_id,
            "class": pa.array(np.asarray(class_names, dtype=object)[rows.class_id] if len(rows) else [], pa.string()),
            "x1": rows.boxes[:, 0],
            "y1": rows.boxes[:, 1],
            "x2": rows.boxes[:, 2],
            "y2": rows.boxes[:, 3],
            "score": rows.score,
            "vx": rows.velocity[:, 0],
            "vy": rows.velocity[:, 1],
            "embedding": pa.FixedSizeListArray.from_arrays(embedding.reshape(-1), embedding.shape[1]),
        }
    )
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema, options=pa.ipc.IpcWriteOptions(compression="zstd")) as writer:
        writer.write_table(table)
    return sink.getvalue()


def _tracklets_from_ipc(payload: bytes) -> pa.Table:
    with pa.ipc.open_stream(payload) as reader:
        return reader.read_all()


# -- per-video finalisation (driver) --------------------------------------------------------


def finalize_video(out_root: str, clip_results: list[dict[str, Any]], stitch: StitchConfig) -> VideoRecord:
    """Stitch a video's clips, georeference and write its Parquet, then its `_videos` record.

    The record is written last: it is what marks the video done, so a crash in between
    leaves the video to be redone, never a record pointing at missing rows.
    """
    clip_results = sorted(clip_results, key=lambda r: int(r["index"]))
    first = clip_results[0]
    vid, uri = str(first["video_id"]), str(first["uri"])
    failures = [r for r in clip_results if r["error"]]
    clear_failures(out_root, vid)
    base = dict(video_id=vid, uri=uri, frames=int(first["frames"]), fps=float(first["fps"]),
                width=int(first["width"]), height=int(first["height"]))
    if failures:
        stale = trajectory_uri(out_root, vid)  # rows of an earlier successful run
        if storage.exists(stale):
            fs, path = storage.resolve(stale)
            fs.delete_file(path)
        for r in failures:
            clip = Clip.from_row(r)
            write_failure(out_root, vid, uri, start=clip.start, end=clip.end, stage=str(r["stage"]), error=str(r["error"]))
        record = VideoRecord(**base, status="failed", n_tracks=0, n_rows=0, seconds=_clip_seconds(clip_results),
                             error=str(failures[0]["error"]))
        write_video_record(out_root, record)
        return record
    clips = [Clip.from_row(r) for r in clip_results]
    parts = []
    for r in clip_results:
        part = _tracklets_from_ipc(r["tracklets"])
        parts.append(part.append_column("clip_index", pa.array(np.full(part.num_rows, int(r["index"]), np.int32))))
    tracklets = pa.concat_tables(parts)
    stitched = stitch_table(tracklets, clips, stitch)
    table = georeference(_trajectory_table(vid, stitched), load_meta(meta_uri_for(uri, vid)))
    write_video_trajectories(out_root, vid, table)
    n_tracks = len(np.unique(stitched["track_id"].to_numpy())) if stitched.num_rows else 0
    record = VideoRecord(**base, status="ok", n_tracks=n_tracks, n_rows=table.num_rows,
                         seconds=_clip_seconds(clip_results), error="")
    write_video_record(out_root, record)
    return record


def _clip_seconds(clip_results: list[dict[str, Any]]) -> float:
    return float(sum(float(r["decode_s"]) + float(r["track_s"]) for r in clip_results))


def _trajectory_table(vid: str, stitched: pa.Table) -> pa.Table:
    x1, y1 = stitched["x1"].to_numpy(), stitched["y1"].to_numpy()
    return pa.table(
        {
            "video_id": pa.array([vid] * stitched.num_rows, pa.string()),
            "frame": stitched["frame"].cast(pa.int32()),
            "track_id": stitched["track_id"].cast(pa.int64()),
            "class": stitched["class"],
            "x": x1,
            "y": y1,
            "w": stitched["x2"].to_numpy() - x1,
            "h": stitched["y2"].to_numpy() - y1,
            "score": stitched["score"],
            "vx": stitched["vx"],
            "vy": stitched["vy"],
        }
    )


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
    """
    t0 = time.perf_counter()
    summary = BatchSummary()
    todo = []
    for uri in list_videos(input_uri):
        vid = video_id(uri)
        if not overwrite and video_done(output_uri, vid):
            summary.skipped += 1
        else:
            todo.append({"video_id": vid, "uri": uri})
    if not todo:
        summary.seconds = time.perf_counter() - t0
        return summary
    weights = cfg.weights or str(SHIPPED_WEIGHTS)
    context = _model_frames(weights) - 1
    runtime_env = {"env_vars": storage.s3_env()}
    ds = (
        ray.data.from_items(todo, override_num_blocks=len(todo))
        .flat_map(
            plan_video,
            fn_kwargs=dict(clip_frames=cfg.clip_frames, overlap=cfg.overlap, context=context),
            runtime_env=runtime_env,
        )
        .map_batches(
            ClipTracker,
            batch_size=1,
            compute=ray.data.ActorPoolStrategy(size=cfg.actors),
            fn_constructor_kwargs=dict(weights=weights, tracker=cfg.tracker, threads=int(cfg.cpus_per_actor)),
            num_cpus=cfg.cpus_per_actor,
            num_gpus=cfg.gpus_per_actor or None,
            runtime_env=runtime_env,
            max_restarts=cfg.max_restarts,
            max_task_retries=cfg.max_restarts,
        )
    )
    pending: dict[str, list[dict[str, Any]]] = {}
    for row in ds.iter_rows():
        clips = pending.setdefault(str(row["video_id"]), [])
        clips.append(row)
        if len(clips) < int(row["n_clips"]):
            continue
        record = finalize_video(output_uri, pending.pop(str(row["video_id"])), cfg.stitch)
        _count(summary, record, clips)
        if on_video is not None:
            on_video(record)
    summary.seconds = time.perf_counter() - t0
    return summary


def _count(summary: BatchSummary, record: VideoRecord, clips: list[dict[str, Any]]) -> None:
    if record.status == "ok":
        summary.ok += 1
        summary.rows += record.n_rows
        summary.tracks += record.n_tracks
        summary.frames += record.frames
    else:
        summary.failed += 1
    summary.decode_seconds += sum(float(r["decode_s"]) for r in clips)
    summary.track_seconds += sum(float(r["track_s"]) for r in clips)


def _model_frames(weights: str) -> int:
    from tgram.model.weights import read_checkpoint

    return int(read_checkpoint(weights)["config"]["frames"])
