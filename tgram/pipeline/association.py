"""Association off the driver: Ray actors that each own a share of the videos (by a stable
hash of the video id), take their clips straight from the model actors, track or stitch
each video as its clips arrive in order, and commit it.

The driver sees one small row per clip (timings and, when the clip completed its video, the
video's record), so its work and memory grow with the number of clips, not with frames or
detections; a video's detections exist only between its model actor and its associator,
and only for clips that arrived ahead of a missing earlier one.

Retries are safe: a clip sent twice (its model actor died after sending it) is recognised
by (video id, clip index), and a finished video's record is returned again for it. An
associator that dies loses its unfinished videos; the driver fails those at the end
(`fail_unfinished`), as it fails videos whose clips were lost.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from tgram.pipeline.payloads import ClipResult
from tgram.pipeline.stitch import StitchConfig
from tgram.pipeline.trajectories import RunIdentity, VideoRecord
from tgram.pipeline.videos import VideoClips, commit_lost_video, finalize_video
from tgram.track.run import TrackRun
from tgram.track.tracker import TrackerConfig


class VideoAssociator:
    """A Ray actor holding the videos whose clips are in flight, one `VideoClips` each."""

    def __init__(
        self,
        output_uri: str,
        identity: RunIdentity,
        tracker: TrackerConfig,
        stitch: StitchConfig,
        class_names: tuple[str, ...],
        emb_dim: int,
        by_clip: bool,
    ) -> None:
        self.output_uri, self.identity = output_uri, identity
        self.tracker, self.stitch = tracker, stitch
        self.class_names, self.emb_dim, self.by_clip = class_names, emb_dim, by_clip
        self.pending: dict[str, VideoClips] = {}
        self.done: dict[str, str] = {}
        """Video id -> its record as JSON, for a clip that arrives again after its video ended."""
        self.begun: set[tuple[str, int]] = set()
        """(video id, clip index) of packed clips a model actor began and has not added yet."""

    def begin(self, video_id: str, index: int) -> None:
        """A model actor starts a clip of a pack (`ClipTracker.in_safe_order`)."""
        self.begun.add((video_id, index))

    def suspects(self, keys: list[tuple[str, int]]) -> list[tuple[str, int]]:
        """Those of `keys` begun and never added: their actor died (or hung) on them."""
        return [key for key in keys if tuple(key) in self.begun]

    def add(self, result: ClipResult) -> str:
        """Take one clip result; the video's record (JSON) if this clip completed it, else ""."""
        vid = result.clip.video_id
        self.begun.discard((vid, result.clip.index))
        if vid in self.done:
            return self.done[vid]
        video = self.pending.get(vid)
        if video is None:
            run = (
                None
                if self.by_clip or result.error
                else TrackRun(self.tracker, fps=result.task.fps, emb_dim=self.emb_dim)
            )
            video = self.pending[vid] = VideoClips(result.task.n_clips, run)
        video.add(result)
        if not video.complete:
            return ""
        del self.pending[vid]
        record = finalize_video(
            self.output_uri,
            video,
            self.identity,
            self.stitch,
            self.class_names,
            min_track_score=self.tracker.min_track_score,
        )
        self.done[vid] = record_json(record, video.associate_seconds)
        return self.done[vid]

    def fail_unfinished(self, items: list[dict[str, Any]], attempts: int) -> list[str]:
        """Commit the failure of each of `items` (video_id, uri) it holds unfinished: some of
        their clips never came back. Returns those records (JSON), and the records of those it
        finished whose last row never reached the driver (a pack dropped after that clip)."""
        failed = []
        for item in items:
            vid = str(item["video_id"])
            if vid in self.done:
                failed.append(self.done[vid])
                continue
            video = self.pending.pop(vid, None)
            if video is not None:
                record = commit_lost_video(self.output_uri, item, video, self.identity, attempts)
                failed.append(record_json(record, video.associate_seconds))
        return failed


def record_json(record: VideoRecord, associate_seconds: float) -> str:
    """A video's record and its association time, as the text the driver receives."""
    return json.dumps({"record": asdict(record), "associate_s": associate_seconds})


def record_from_json(text: str) -> tuple[VideoRecord, float]:
    data = json.loads(text)
    return VideoRecord(**data["record"]), float(data["associate_s"])
