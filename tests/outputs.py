"""Trajectory rows for tests, committed the way the batch job does (record, then rows); light
to import, so crash tests can run it in a subprocess."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from tgram.pipeline.trajectories import VideoRecord, commit_rows


def record_for(video_id: str, status: str = "ok", uri: str = "") -> VideoRecord:
    return VideoRecord(
        video_id,
        uri or f"s3://archive/{video_id}.mp4",
        status,
        frames=4,
        fps=10.0,
        width=64,
        height=64,
        n_tracks=1,
        n_rows=0,
        seconds=1.0,
        error="" if status == "ok" else "boom",
    )


def commit(out_root: str, video_id: str, table: pa.Table, uri: str = "") -> VideoRecord:
    return commit_rows(out_root, record_for(video_id, uri=uri), table)


def vehicle_rows(video_id: str = "v1", n: int = 4) -> dict[str, np.ndarray | list]:
    """One vehicle moving (3, 4) px/frame; its first box (100, 200, 6, 10) centres on (103, 205)."""
    frame = np.arange(n, dtype=np.int32)
    return {
        "video_id": [video_id] * n,
        "frame": frame,
        "track_id": np.ones(n, np.int64),
        "class": ["vehicle"] * n,
        "x": (100 + 3 * frame).astype(np.float32),
        "y": (200 + 4 * frame).astype(np.float32),
        "w": np.full(n, 6, np.float32),
        "h": np.full(n, 10, np.float32),
        "score": np.full(n, 0.9, np.float32),
        "vx": np.full(n, 3, np.float32),
        "vy": np.full(n, 4, np.float32),
        "x_stab": (100 + 3 * frame).astype(np.float32),  # a platform that does not move
        "y_stab": (200 + 4 * frame).astype(np.float32),
    }
