"""Queries checked against the rows written, computed independently with numpy."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from tgram.pipeline.trajectories import VideoRecord, georeference, load_meta, write_video_record, write_video_trajectories
from tgram.query import TrackFilter, export, find_tracks, query, summary

START = datetime(2023, 1, 30, 10, 0, 0, tzinfo=timezone.utc)


def _write_archive(root: str, tmp_path: Path) -> dict[str, pa.Table]:
    rng = np.random.default_rng(0)
    meta_path = tmp_path / "meta.json"
    meta_path.write_text(json.dumps({
        "fps": 10.0, "start_time": START.isoformat(), "crs": "EPSG:32631",
        "geotransform": [574575.0, 1.0, 0.0, 5753164.0, 0.0, -1.0], "gsd_m": 1.0,
    }))
    written = {}
    for v in range(3):
        vid = f"video{v}"
        n_tracks, n_frames = 5, 50
        frame = np.repeat(np.arange(n_frames), n_tracks).astype(np.int32)
        track = np.tile(np.arange(1, n_tracks + 1), n_frames).astype(np.int64)
        speed_px = np.tile(rng.uniform(0, 3, n_tracks), n_frames).astype(np.float32)
        table = pa.table({
            "video_id": [vid] * len(frame),
            "frame": frame,
            "track_id": track,
            "class": np.where(track % 2 == 0, "ship", "vehicle").tolist(),
            "x": (100 * track + speed_px * frame).astype(np.float32),
            "y": (50.0 * track).astype(np.float32),
            "w": np.full(len(frame), 6, np.float32),
            "h": np.full(len(frame), 10, np.float32),
            "score": np.full(len(frame), 0.8, np.float32),
            "vx": speed_px,
            "vy": np.zeros(len(frame), np.float32),
        })
        table = georeference(table, load_meta(str(meta_path)))
        write_video_trajectories(root, vid, table)
        write_video_record(root, VideoRecord(vid, f"{vid}.mp4", "ok", n_frames, 10.0, 640, 480, n_tracks, len(frame), 1.0, ""))
        written[vid] = table
    return written


@pytest.fixture(params=["local", "s3"])
def output(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, dict[str, pa.Table]]:
    root = str(tmp_path / "out") if request.param == "local" else request.getfixturevalue("s3_bucket") + "/out"
    return root, _write_archive(root, tmp_path)


def _tracks_where(written: dict[str, pa.Table], mask_of) -> set[tuple[str, int]]:
    found = set()
    for vid, t in written.items():
        mask = mask_of(t)
        found |= {(vid, int(k)) for k in np.unique(t["track_id"].to_numpy()[mask])}
    return found


def _keys(table: pa.Table) -> set[tuple[str, int]]:
    return set(zip(table["video_id"].to_pylist(), table["track_id"].to_pylist(), strict=True))


def test_counts_and_partition_filter(output: tuple[str, dict[str, pa.Table]]) -> None:
    root, written = output
    assert query(root, "SELECT count(*) AS n FROM trajectories")["n"][0].as_py() == sum(t.num_rows for t in written.values())
    one = query(root, "SELECT count(*) AS n FROM trajectories WHERE video_id = 'video1'")
    assert one["n"][0].as_py() == written["video1"].num_rows
    assert summary(root)["videos"]["videos"].to_pylist() == [3]


def test_class_bbox_time_and_speed_filters(output: tuple[str, dict[str, pa.Table]]) -> None:
    root, written = output
    ships = find_tracks(root, TrackFilter(class_name="ship"))
    assert _keys(ships) == _tracks_where(written, lambda t: np.asarray(t["class"].to_pylist()) == "ship")

    lon = np.concatenate([t["lon"].to_numpy() for t in written.values()])
    lat = np.concatenate([t["lat"].to_numpy() for t in written.values()])
    bbox = (float(np.quantile(lon, 0.2)), float(np.quantile(lat, 0.2)), float(np.quantile(lon, 0.7)), float(np.quantile(lat, 0.7)))
    t_start, t_end = START + timedelta(seconds=1), START + timedelta(seconds=2)

    def in_box_and_window(t: pa.Table) -> np.ndarray:
        lo, la = t["lon"].to_numpy(), t["lat"].to_numpy()
        ts = t["t"].cast(pa.int64()).to_numpy()
        return ((lo >= bbox[0]) & (lo <= bbox[2]) & (la >= bbox[1]) & (la <= bbox[3])
                & (ts >= int(t_start.timestamp() * 1000)) & (ts <= int(t_end.timestamp() * 1000)))

    found = find_tracks(root, TrackFilter(bbox=bbox, start=t_start, end=t_end))
    expected = _tracks_where(written, in_box_and_window)
    assert 0 < len(expected) < 15 and _keys(found) == expected

    fast = find_tracks(root, TrackFilter(min_speed_mps=15.0, video_id="video2"))
    assert _keys(fast) == {("video2", k) for k in np.unique(
        written["video2"]["track_id"].to_numpy()[written["video2"]["speed_mps"].to_numpy() > 15.0])}


def test_export_csv_and_parquet(output: tuple[str, dict[str, pa.Table]], tmp_path: Path) -> None:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    root, _ = output
    table = find_tracks(root, TrackFilter(class_name="vehicle"))
    assert pacsv.read_csv(export(table, tmp_path / "t.csv")).num_rows == table.num_rows
    assert pq.read_table(export(table, tmp_path / "t.parquet")).num_rows == table.num_rows
    with pytest.raises(ValueError, match=r"t\.txt: expected a \.csv or \.parquet"):
        export(table, tmp_path / "t.txt")


def test_bad_sql_is_a_one_line_error(tmp_path: Path) -> None:
    root = str(tmp_path / "out")
    _write_archive(root, tmp_path)
    with pytest.raises(ValueError, match="query failed: Catalog Error") as err:
        query(root, "SELECT * FROM nope")
    assert "\n" not in str(err.value)
