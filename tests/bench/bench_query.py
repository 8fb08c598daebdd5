"""Queries over a 10M-row output: DuckDB (`tgram query`, which also checks each video's commit;
scoped to the video with `--video`, it checks only that one) against the reads a user would
write by hand: pandas reading everything and filtering, pandas
and pyarrow.dataset with the partition filter (Hive pruning), and, for a bounding box + time
window over all videos, pyarrow.dataset with the same predicate pushed down. polars is not a
peer here: it is not among the project's dependencies."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pyarrow.dataset as pads

from tests.bench.run import row
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
        table["x_stab"], table["y_stab"] = table["x"], table["y"]  # no platform motion
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
        one_video = f"""SELECT track_id, count(*) AS rows, avg(speed_mps) AS mean_speed_mps
                        FROM trajectories WHERE video_id = '{video}' GROUP BY track_id"""
        duck_all_s = _median_seconds(lambda: query(root, one_video), repeats=5)
        duck_s = _median_seconds(lambda: query(root, one_video, videos=[video]), repeats=5)

        def dataset() -> pads.Dataset:  # opened per query, as a script would (DuckDB's is too)
            return pads.dataset(root, format="parquet", partitioning="hive")

        def by_track(frame: pd.DataFrame) -> pd.DataFrame:
            return frame.groupby("track_id")["speed_mps"].agg(["count", "mean"])

        def pandas_read_all() -> pd.DataFrame:
            frame = pd.read_parquet(root)
            return by_track(frame[frame["video_id"] == video])

        def pandas_filtered() -> pd.DataFrame:
            return by_track(pd.read_parquet(root, filters=[("video_id", "==", video)]))

        def arrow_filtered() -> pd.DataFrame:
            table = dataset().to_table(
                columns=["track_id", "speed_mps"], filter=pads.field("video_id") == video
            )
            return by_track(table.to_pandas())

        peers = {
            "pandas reads all + filters": _median_seconds(pandas_read_all, repeats=1),
            "pandas read_parquet with the partition filter": _median_seconds(pandas_filtered, 3),
            "pyarrow.dataset with the partition filter": _median_seconds(arrow_filtered, 3),
        }
        lon0, lat0, lon1, lat1 = _bbox(root)
        window = f"""SELECT count(DISTINCT (video_id, track_id)) AS tracks FROM trajectories
                     WHERE lon BETWEEN {lon0} AND {lon1} AND lat BETWEEN {lat0} AND {lat1}
                     AND t BETWEEN TIMESTAMP '2023-06-01 02:30:10' AND '2023-06-01 02:30:40'"""
        duck_window_s = _median_seconds(lambda: query(root, window), repeats=3)

        def arrow_window() -> int:
            t = pads.field("t")
            predicate = (
                (pads.field("lon") >= lon0) & (pads.field("lon") <= lon1)
                & (pads.field("lat") >= lat0) & (pads.field("lat") <= lat1)
                & (t >= pd.Timestamp("2023-06-01 02:30:10", tz="UTC"))
                & (t <= pd.Timestamp("2023-06-01 02:30:40", tz="UTC"))
            )  # fmt: skip
            table = dataset().to_table(columns=["video_id", "track_id"], filter=predicate)
            return len(table.group_by(["video_id", "track_id"]).aggregate([]))

        arrow_window_s = _median_seconds(arrow_window, repeats=3)
    rows = f"{videos * rows_per_video / 1e6:.3g}M rows"
    filtered = {k: v for k, v in peers.items() if "filter" in k and "all" not in k}
    best_name = min(filtered, key=filtered.__getitem__)
    scoped = f"query one video of {videos} ({rows}), DuckDB scoped to it (tgram query --video)"
    return [
        row(scoped, duck_s, "s", peer=name,
            peer_value=seconds,
            target=(f"<= {1 / TARGET_SPEEDUP:g}x" if "all" in name else "< 1x (best filtered read)")
            if name in ("pandas reads all + filters", best_name) else None,
            ok=(seconds / duck_s >= TARGET_SPEEDUP if "all" in name else duck_s < seconds)
            if name in ("pandas reads all + filters", best_name) else None)
        for name, seconds in peers.items()
    ] + [
        row(scoped, duck_s, "s",
            peer="interactive limit", peer_value=TARGET_SECONDS, target="< 1x",
            ok=duck_s < TARGET_SECONDS),
        row(f"query one video of {videos} ({rows}), DuckDB over every video, filter pruned",
            duck_all_s, "s", peer="DuckDB scoped to the video", peer_value=duck_s),
        row(f"bbox + 30 s window over all {videos} videos, DuckDB", duck_window_s, "s",
            peer="pyarrow.dataset with the predicate pushed down", peer_value=arrow_window_s),
    ]  # fmt: skip


def _bbox(root: str) -> tuple[float, float, float, float]:
    """A box around the middle tenth (per axis) of the rows' lon/lat extent."""
    table = pads.dataset(root, format="parquet", partitioning="hive").to_table(
        columns=["lon", "lat"], filter=pads.field("video_id") == "v0000"
    )
    lon, lat = table["lon"].to_numpy(), table["lat"].to_numpy()
    (lon_a, lon_b), (lat_a, lat_b) = np.quantile(lon, [0.45, 0.55]), np.quantile(lat, [0.45, 0.55])
    return float(lon_a), float(lat_a), float(lon_b), float(lat_b)


if __name__ == "__main__":
    from tests.bench.run import to_table

    print(to_table(run()))
