"""A tracker's output rows, and the one place they become other tables: MOTChallenge result
rows (`tgram track`, eval), Arrow (the batch job's wire format and Parquet), pandas (the
Python API)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from tgram.data.formats import RESULT_DTYPE

if TYPE_CHECKING:
    import pandas as pd

TRACK_COLUMNS = ("frame", "track_id", "class", "x", "y", "w", "h", "score", "vx", "vy")
"""Columns of `TrackRows.to_pandas` (top-left x, y and size in px, velocity in px/frame)."""


@dataclass(frozen=True)
class TrackRows:
    """Per (frame, track) output rows of a tracked run of frames."""

    frame: np.ndarray  # [N] int32, 0-based video frame
    track_id: np.ndarray  # [N] int64
    boxes: np.ndarray  # [N, 4] float32 xyxy
    score: np.ndarray  # [N] float32
    class_id: np.ndarray  # [N] int64
    velocity: np.ndarray  # [N, 2] float32 px/frame
    embedding: np.ndarray  # [N, E] float32

    def __len__(self) -> int:
        return len(self.frame)

    def take(self, rows: np.ndarray) -> TrackRows:
        """The rows a boolean mask or an index array selects."""
        return TrackRows(*(getattr(self, f.name)[rows] for f in fields(self)))

    def confident_tracks(self, min_mean_score: float) -> TrackRows:
        """Without the tracks whose mean score is below `min_mean_score` (all of them at 0)."""
        return self.take(confident_track_rows(self.track_id, self.score, min_mean_score))

    def to_results(self) -> np.ndarray:
        """MOTChallenge result rows (RESULT_DTYPE; 0-based frames here, files are 1-based)."""
        out = np.zeros(len(self), RESULT_DTYPE)
        out["frame"], out["id"], out["score"] = self.frame, self.track_id, self.score
        out["x"], out["y"] = self.boxes[:, 0], self.boxes[:, 1]
        out["w"], out["h"] = (
            self.boxes[:, 2] - self.boxes[:, 0],
            self.boxes[:, 3] - self.boxes[:, 1],
        )
        return out

    def class_names_of(self, class_names: tuple[str, ...]) -> np.ndarray:
        """Each row's class name (object array)."""
        return np.asarray(class_names, dtype=object)[self.class_id]

    def to_arrow(self, class_names: tuple[str, ...], *, id_column: str = "track_id") -> pa.Table:
        """frame, `id_column`, class, x1, y1, x2, y2, score, vx, vy (xyxy boxes, as the batch
        job's clips travel and are stitched; the Parquet rows take top-left and size later)."""
        return pa.table(
            {
                "frame": self.frame,
                id_column: self.track_id,
                "class": pa.array(
                    self.class_names_of(class_names) if len(self) else [], pa.string()
                ),
                "x1": self.boxes[:, 0],
                "y1": self.boxes[:, 1],
                "x2": self.boxes[:, 2],
                "y2": self.boxes[:, 3],
                "score": self.score,
                "vx": self.velocity[:, 0],
                "vy": self.velocity[:, 1],
            }
        )

    def to_pandas(self, class_names: tuple[str, ...]) -> pd.DataFrame:
        """A DataFrame with TRACK_COLUMNS; class is categorical over `class_names`."""
        import pandas as pd

        boxes = self.boxes
        return pd.DataFrame(
            {
                "frame": self.frame,
                "track_id": self.track_id,
                "class": pd.Categorical.from_codes(self.class_id, categories=list(class_names)),
                "x": boxes[:, 0],
                "y": boxes[:, 1],
                "w": boxes[:, 2] - boxes[:, 0],
                "h": boxes[:, 3] - boxes[:, 1],
                "score": self.score,
                "vx": self.velocity[:, 0],
                "vy": self.velocity[:, 1],
            },
            columns=list(TRACK_COLUMNS),
        )


def confident_track_rows(
    track_id: np.ndarray, score: np.ndarray, min_mean_score: float
) -> np.ndarray:
    """Mask of the rows whose track's mean detection score reaches `min_mean_score` (every
    row at 0). A whole track stays or goes: an id never loses some of its frames."""
    if min_mean_score <= 0 or not len(track_id):
        return np.ones(len(track_id), bool)
    _, inverse = np.unique(track_id, return_inverse=True)
    mean = np.bincount(inverse, weights=score) / np.bincount(inverse)
    return mean[inverse] >= min_mean_score
