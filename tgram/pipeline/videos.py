"""One video's association: gather its clips as they stream in (in an associator actor,
tgram.pipeline.association), turn them into tracks (one tracker over the video, or
stitching), and commit the result or the failure."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

import numpy as np
import pyarrow as pa

from tgram.data.meta import load_meta, meta_uri_for
from tgram.data.tracks import confident_track_rows
from tgram.pipeline.clips import ClipTask, one_line
from tgram.pipeline.geo import georeference
from tgram.pipeline.ground import cumulative_offsets, ground_table
from tgram.pipeline.payloads import ClipResult, detections_from_ipc, from_ipc, video_shifts
from tgram.pipeline.stitch import StitchConfig, stitch_table
from tgram.pipeline.trajectories import (
    ClipFailure,
    RunIdentity,
    VideoRecord,
    commit_failure,
    commit_rows,
)
from tgram.track.run import TrackRun

log = logging.getLogger(__name__)


class VideoClips:
    """One video's clip results as they stream in to its associator, in any order.

    Under video association `run` (the video's tracker) takes each clip's detections as soon
    as all earlier clips are in, and the clip's payload is then dropped, so the associator
    holds only clips that arrived ahead of a missing one.
    """

    def __init__(self, n_clips: int, run: TrackRun | None) -> None:
        self.n_clips = n_clips
        self.run = run
        self.results: dict[int, ClipResult] = {}
        self.associate_seconds = 0.0
        self._fed = 0

    def add(self, result: ClipResult) -> None:
        if result.clip.index < self._fed:  # sent again after its actor died: already used
            return
        self.results[result.clip.index] = result
        t0 = time.perf_counter()
        while self.run is not None and not self.failures and self._fed in self.results:
            fed = self.results[self._fed]
            try:
                for frame in detections_from_ipc(fed.payload, fed.shift, fed.clip):
                    self.run.update(frame)
            except Exception as exc:  # noqa: BLE001 - fails this video, not the job
                fed = replace(fed, stage="associate", error=one_line(exc))
            self.results[self._fed] = replace(fed, payload=b"")
            self._fed += 1
        self.associate_seconds += time.perf_counter() - t0

    @property
    def complete(self) -> bool:
        return len(self.results) == self.n_clips

    @property
    def failures(self) -> list[ClipResult]:
        return [r for r in self.results.values() if r.error]

    def ordered(self) -> list[ClipResult]:
        return [self.results[i] for i in sorted(self.results)]


def video_tracks(
    video: VideoClips,
    stitch: StitchConfig,
    class_names: tuple[str, ...],
    *,
    min_track_score: float,
) -> pa.Table:
    """The tracks of a complete video without failures: frame, track_id, class, x1, y1, x2,
    y2, score, vx, vy; from its tracker (video association: its run drops the weak tracks) or
    by stitching its clips (then dropped here, over the stitched tracks)."""
    if video.run is not None:
        return video.run.rows().to_arrow(class_names)
    results = video.ordered()
    parts = []
    for r in results:
        part = from_ipc(r.payload)
        parts.append(
            part.append_column(
                "clip_index", pa.array(np.full(part.num_rows, r.clip.index, np.int32))
            )
        )
    tracks = stitch_table(pa.concat_tables(parts), [r.clip for r in results], stitch)
    keep = confident_track_rows(
        tracks["track_id"].to_numpy(), tracks["score"].to_numpy(), min_track_score
    )
    return tracks.filter(pa.array(keep))


def finalize_video(
    out_root: str,
    video: VideoClips,
    identity: RunIdentity,
    stitch: StitchConfig,
    class_names: tuple[str, ...],
    *,
    min_track_score: float,
) -> VideoRecord:
    """Commit a complete video: its georeferenced tracks (`trajectories.commit_rows`), or the
    failure of its clips. An error here (a bad meta JSON, stitching, storage) fails this
    video, recorded like a clip failure at stage "finalize": the job goes on."""
    clip_results = video.ordered()
    record = _video_record(clip_results[0].task, identity, _clip_seconds(clip_results))
    failures = [ClipFailure(r.clip.start, r.clip.end, r.stage, r.error) for r in video.failures]
    if not failures:
        try:
            tracks = video_tracks(video, stitch, class_names, min_track_score=min_track_score)
            offsets = cumulative_offsets(video_shifts(clip_results, frames=record.frames))
            table = ground_table(record.video_id, tracks, offsets, fps=record.fps)
            table = georeference(table, load_meta(meta_uri_for(record.uri)))
            n_tracks = len(np.unique(tracks["track_id"].to_numpy())) if tracks.num_rows else 0
            return commit_rows(out_root, replace(record, n_tracks=n_tracks), table)
        except Exception as exc:  # noqa: BLE001 - one video's fault never ends the job
            log.warning("%s: %s", record.uri, one_line(exc))
            failures = [ClipFailure(0, record.frames, "finalize", one_line(exc))]
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
    first = arrived[0].task if arrived else ClipTask.unplanned(item["video_id"], item["uri"])
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


def _video_record(first: ClipTask, identity: RunIdentity, seconds: float) -> VideoRecord:
    return VideoRecord(
        video_id=first.clip.video_id,
        uri=first.clip.uri,
        status="ok",
        frames=first.frames,
        fps=first.fps,
        width=first.width,
        height=first.height,
        n_tracks=0,
        n_rows=0,
        seconds=seconds,
        error="",
        weights_sha256=identity.weights_sha256,
        config_hash=identity.config_hash,
        tgram_version=identity.tgram_version,
    )


def _clip_seconds(clip_results: list[ClipResult]) -> float:
    return float(sum(r.times.total for r in clip_results))
