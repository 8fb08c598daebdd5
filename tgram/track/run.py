"""One tracker through one video: the detections it is fed and the rows it keeps.

Free of torch on purpose: the batch job's associator actors run this and nothing of the
network, and a process that never imports torch starts seconds sooner (tgram.pipeline).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tgram.data.tracks import TrackRows
from tgram.detections import Detections
from tgram.track.tracker import OnlineTracker, TrackerConfig


@dataclass(frozen=True)
class FrameDetections:
    """What the tracker needs of one frame."""

    index: int
    """0-based frame of the video."""
    detections: Detections
    shift: np.ndarray
    """[2] float64: image motion of static ground since the previous frame (platform)."""


class TrackRun:
    """One tracker through one video, fed each frame's detections in order, keeping its rows."""

    def __init__(self, tracker_config: TrackerConfig, *, fps: float, emb_dim: int) -> None:
        self.tracker = OnlineTracker(tracker_config, fps=fps)
        self.compensate = tracker_config.registration.enabled
        self.min_track_score = tracker_config.min_track_score
        self.emb_dim = emb_dim
        self._parts: list[tuple] = []

    def update(self, frame: FrameDetections) -> None:
        det, index = frame.detections, frame.index
        tracks = self.tracker.update(
            det.boxes,
            det.scores,
            det.classes,
            det.embeddings,
            frame_index=index,
            shift=frame.shift if self.compensate else None,
        )
        if len(tracks.track_ids):
            self._parts.append(
                (
                    np.full(len(tracks.track_ids), index, np.int32),
                    tracks.track_ids,
                    tracks.boxes,
                    tracks.scores,
                    tracks.classes,
                    tracks.velocities,
                    tracks.embeddings,
                )
            )

    def rows(self, *, all_tracks: bool = False) -> TrackRows:
        """The rows so far, without the tracks whose mean score is below the config's
        `min_track_score` unless `all_tracks` (a clip's tracklets: the filter is the video's)."""
        rows = _concat_rows(self._parts, emb_dim=self.emb_dim)
        if all_tracks:
            return rows
        return rows.confident_tracks(self.min_track_score)


def _concat_rows(parts: list[tuple], emb_dim: int) -> TrackRows:
    if not parts:
        return TrackRows(
            np.zeros(0, np.int32),
            np.zeros(0, np.int64),
            np.zeros((0, 4), np.float32),
            np.zeros(0, np.float32),
            np.zeros(0, np.int64),
            np.zeros((0, 2), np.float32),
            np.zeros((0, emb_dim), np.float32),
        )
    cols = list(zip(*parts, strict=True))
    return TrackRows(
        np.concatenate(cols[0]),
        np.concatenate(cols[1]).astype(np.int64),
        np.concatenate(cols[2]).astype(np.float32),
        np.concatenate(cols[3]).astype(np.float32),
        np.concatenate(cols[4]).astype(np.int64),
        np.concatenate(cols[5]).astype(np.float32),
        np.concatenate(cols[6]).astype(np.float32),
    )
