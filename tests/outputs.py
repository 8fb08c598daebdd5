"""Committing trajectory rows in tests the way the batch job does (record, then rows)."""

from __future__ import annotations

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
