"""One video's tracks out of a 10M-row output: DuckDB with partition pruning vs pandas reading
everything and filtering (what a user without the Hive layout would do)."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone

import numpy as np
import pandas as pd

from tests.outputs import commit
from tgram.data.meta import VideoMeta
from tgram.pipeline.geo import georeference
from tgram.query import query

VIDEOS, ROWS_PER_VIDEO, TRACKS_PER_VIDEO = 200, 50_000, 250
TARGET_SPEEDUP, TARGET_SECONDS = 10.0, 0.5
META = VideoMeta(
    fps=10.0,
    start_time=datetime(2023, 6, 1, 2, 30, tzinfo=timezone.utc),
    crs="EPSG:32650",
    geotransform=(390000.0, 1.0, 0.0, 3450000.0, 0.0, -1.0),
    gsd_m=1.0,
)


def write_output(root: str, videos: int, rows_per_video: int) -> None:
    """Georeferenced rows of `videos` videos, `TRACKS_PER_VIDEO` tracks each, random boxes."""
    rng = np.random.default_rng(0)
    n = rows_per_video
    for v in range(videos):
        vid = f"v{v:04d}"
        track = np.arange(n) % TRACKS_PER_VIDEO
        table = {
            "video_id": [vid] * n,
            "frame": (np.arange(n) // TRACKS_PER_VIDEO).astype(np.int32),
            "track_id": track.astype(np.int64),
            "class": np.array(["airplane", "ship", "vehicle"])[track % 3].tolist(),
            "x": rng.uniform(0, 4000, n).astype(np.float32),
            "y": rng.uniform(0, 3000, n).astype(np.float32),
            "w": np.full(n, 6, np.float32),
            "h": np.full(n, 10, np.float32),
            "score": rng.uniform(0.4, 1, n).astype(np.float32),
            "vx": rng.normal(0, 1, n).astype(np.float32),
            "vy": rng.normal(0, 1, n).astype(np.float32),
        }
        commit(root, vid, georeference(table, META))


def _median_seconds(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(videos: int = VIDEOS, rows_per_video: int = ROWS_PER_VIDEO) -> list[dict]:
    video = f"v{videos // 2:04d}"
    with tempfile.TemporaryDirectory(prefix="tgram-bench-query-") as root:
        write_output(root, videos, rows_per_video)
        sql = f"""SELECT track_id, count(*) AS rows, avg(speed_mps) AS mean_speed_mps
                  FROM trajectories WHERE video_id = '{video}' GROUP BY track_id"""
        duck_s = _median_seconds(lambda: query(root, sql), repeats=5)

        def pandas_read_all() -> pd.DataFrame:
            frame = pd.read_parquet(root)
            return (
                frame[frame["video_id"] == video]
                .groupby("track_id")["speed_mps"]
                .agg(["count", "mean"])
            )

        pandas_s = _median_seconds(pandas_read_all, repeats=1)
    rows = f"{videos * rows_per_video / 1e6:.3g}M rows"
    return [
        {
            "name": f"query one video of {videos} ({rows}), DuckDB pruned",
            "value": duck_s,
            "unit": "s",
            "peer": "pandas reads all + filters",
            "peer_value": pandas_s,
            "ratio": duck_s / pandas_s,
            "target": f"<= {1 / TARGET_SPEEDUP:g}x (>= {TARGET_SPEEDUP:g}x faster)",
            "ok": pandas_s / duck_s >= TARGET_SPEEDUP,
        },
        {
            "name": f"query one video of {videos} ({rows}), DuckDB pruned",
            "value": duck_s,
            "unit": "s",
            "peer": "interactive limit",
            "peer_value": TARGET_SECONDS,
            "ratio": duck_s / TARGET_SECONDS,
            "target": "< 1x",
            "ok": duck_s < TARGET_SECONDS,
        },
    ]


if __name__ == "__main__":
    from tests.bench.run import to_table

    print(to_table(run()))
