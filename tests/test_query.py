"""Queries checked against the rows written, computed independently with numpy."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from tgram import cli, storage
from tgram.data.meta import VideoMeta
from tgram.pipeline.geo import georeference
from tgram.pipeline.trajectories import (
    PART_FILE,
    ClipFailure,
    VideoRecord,
    commit_failure,
    commit_rows,
    record_uri,
)
from tgram.query import (
    TrackFilter,
    TrajectoryStore,
    export,
    find_tracks,
    query,
    summary,
    to_text,
    tracks_faster_than,
    tracks_in_bbox,
    tracks_of_class,
)

START = datetime(2023, 1, 30, 10, 0, 0, tzinfo=timezone.utc)
FPS, FRAMES, TRACKS = 10.0, 40, 6
CLASSES = ("airplane", "ship", "vehicle")
META = VideoMeta(
    fps=FPS,
    start_time=START,
    crs="EPSG:32631",
    geotransform=(499000.0, 1.0, 0.0, 1000.0, 0.0, -1.0),
    gsd_m=1.0,
)
Written = dict[str, pa.Table]


def _video(video_id: str, rng: np.random.Generator, meta: VideoMeta | None) -> pa.Table:
    """Track k lives from frame 2k to the end, moving at its own constant velocity."""
    frame, track = np.meshgrid(np.arange(FRAMES), np.arange(TRACKS), indexing="ij")
    alive = frame >= 2 * track
    frame, track = frame[alive].astype(np.int32), track[alive].astype(np.int64)
    vx, vy = rng.uniform(0, 3, TRACKS)[track], rng.uniform(-1, 1, TRACKS)[track]
    n = len(frame)
    return georeference(
        {
            "video_id": [video_id] * n,
            "frame": frame,
            "track_id": track,
            "class": [CLASSES[k % 3] for k in track],
            "x": (40.0 * track + vx * frame).astype(np.float32),
            "y": (50.0 + 30 * track + vy * frame).astype(np.float32),
            "w": np.full(n, 6, np.float32),
            "h": np.full(n, 10, np.float32),
            "score": np.full(n, 0.8, np.float32),
            "vx": vx.astype(np.float32),
            "vy": vy.astype(np.float32),
            "x_stab": (40.0 * track + vx * frame).astype(np.float32),
            "y_stab": (50.0 + 30 * track + vy * frame).astype(np.float32),
        },
        meta,
    )


def _write_output(root: str) -> Written:
    """video0 and video1 georeferenced, video2 without meta, video3 failed."""
    rng = np.random.default_rng(0)
    written = {}
    for i, meta in enumerate((META, META, None)):
        vid = f"video{i}"
        written[vid] = _video(vid, rng, meta)
        record = VideoRecord(vid, f"{vid}.mp4", "ok", FRAMES, FPS, 640, 480, TRACKS, 0, 1.0, "")
        commit_rows(root, record, written[vid])
    commit_failure(
        root,
        VideoRecord("video3", "video3.mp4", "failed", FRAMES, FPS, 640, 480, 0, 0, 0.5, "corrupt"),
        [ClipFailure(0, FRAMES, "decode", "corrupt")],
    )
    return written


@pytest.fixture(params=["local", "s3"])
def output(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Written]:
    root = (
        str(tmp_path / "out")
        if request.param == "local"
        else request.getfixturevalue("s3_bucket") + "/out"
    )
    return root, _write_output(root)


def _tracks_where(
    written: Written, row_mask: Callable[[pa.Table], np.ndarray]
) -> set[tuple[str, int]]:
    return {
        (vid, int(k))
        for vid, t in written.items()
        for k in np.unique(t["track_id"].to_numpy()[row_mask(t)])
    }


def _keys(table: pa.Table) -> set[tuple[str, int]]:
    return set(zip(table["video_id"].to_pylist(), table["track_id"].to_pylist(), strict=True))


def _column(t: pa.Table, name: str) -> np.ndarray:
    return t[name].to_numpy(zero_copy_only=False)


def test_counts_and_video_filter(output: tuple[str, Written]) -> None:
    root, written = output
    total = query(root, "SELECT count(*) AS n FROM trajectories")["n"][0].as_py()
    assert (
        total
        == sum(t.num_rows for t in written.values())
        == 3 * (TRACKS * FRAMES - 2 * sum(range(TRACKS)))
    )
    one = query(root, "SELECT count(*) AS n FROM trajectories WHERE video_id = ?", ["video1"])
    assert one["n"][0].as_py() == written["video1"].num_rows


def test_video_filter_opens_only_that_partition(tmp_path: Path) -> None:
    root = str(tmp_path / "out")
    written = _write_output(root)
    with TrajectoryStore(root) as store:  # lists the committed files when a query first names them
        store.query("SELECT count(*) FROM trajectories WHERE video_id = 'video0'")
        storage.write_bytes(storage.join(root, "video_id=video2", PART_FILE), b"not parquet")
        one = store.query("SELECT count(*) AS n FROM trajectories WHERE video_id = 'video1'")
        assert one["n"][0].as_py() == written["video1"].num_rows
        with pytest.raises(ValueError, match="query failed: .*video2"):
            store.query("SELECT count(*) FROM trajectories")
    # reopened, the damaged video is no longer committed: the others stay queryable
    videos = query(root, "SELECT video_id FROM videos WHERE status = 'ok' ORDER BY video_id")
    assert videos["video_id"].to_pylist() == ["video0", "video1"]


def test_a_store_scoped_to_a_video_reads_only_its_files(tmp_path: Path, caplog) -> None:
    root = str(tmp_path / "out")
    written = _write_output(root)
    for other in ("video0", "video2"):  # damaged records: a reader of them would warn
        storage.write_bytes(record_uri(root, other), b"not parquet")
    with caplog.at_level(logging.WARNING), TrajectoryStore(root, videos=["video1"]) as store:
        rows = store.query("SELECT count(*) AS n, min(video_id) AS v FROM trajectories")
        videos = store.query("SELECT video_id FROM videos")
    assert (rows["n"][0].as_py(), rows["v"][0].as_py()) == (written["video1"].num_rows, "video1")
    assert videos["video_id"].to_pylist() == ["video1"]
    assert "unreadable video record" not in caplog.text
    with caplog.at_level(logging.WARNING), TrajectoryStore(root) as store:
        store.query("SELECT count(*) FROM failures")  # names no table that needs the records
    assert "unreadable video record" not in caplog.text
    with pytest.raises(ValueError, match=r"video_id '\.\./x'"):
        query(root, "SELECT count(*) FROM trajectories", videos=["../x"])


@pytest.mark.parametrize("class_name", CLASSES)
def test_tracks_of_class(output: tuple[str, Written], class_name: str) -> None:
    root, written = output
    found = tracks_of_class(root, class_name)
    assert _keys(found) == _tracks_where(written, lambda t: _column(t, "class") == class_name)
    assert found["class"].to_pylist() == [class_name] * found.num_rows


@pytest.mark.parametrize("window_s", [None, (1.0, 2.0)])
def test_tracks_in_bbox_and_time_window(
    output: tuple[str, Written], window_s: tuple[float, float] | None
) -> None:
    root, written = output
    lon = np.concatenate([_column(written[v], "lon") for v in ("video0", "video1")])
    lat = np.concatenate([_column(written[v], "lat") for v in ("video0", "video1")])
    box = (
        float(np.quantile(lon, 0.1)),
        float(np.quantile(lat, 0.1)),
        float(np.quantile(lon, 0.5)),
        float(np.quantile(lat, 0.5)),
    )
    t_start, t_end = (
        (None, None)
        if window_s is None
        else (START + timedelta(seconds=window_s[0]), START + timedelta(seconds=window_s[1]))
    )

    def in_box_and_window(t: pa.Table) -> np.ndarray:
        lo, la = _column(t, "lon"), _column(t, "lat")
        # NaN (a video without meta) never matches, as NULL never does in SQL.
        mask = (lo >= box[0]) & (lo <= box[2]) & (la >= box[1]) & (la <= box[3])
        if window_s is not None:
            seconds = _column(t, "frame") / FPS
            mask &= (seconds >= window_s[0]) & (seconds <= window_s[1])
        return mask

    expected = _tracks_where(written, in_box_and_window)
    assert 0 < len(expected) < 2 * TRACKS
    found = tracks_in_bbox(root, *box, t_start=t_start, t_end=t_end)
    assert _keys(found) == expected
    assert found["matching_rows"].to_pylist() == [
        int(in_box_and_window(written[v]).sum(where=_column(written[v], "track_id") == k))
        for v, k in sorted(expected)
    ]


@pytest.mark.parametrize("mps", [0.0, 15.0, 1000.0])
def test_tracks_faster_than_mean_speed(output: tuple[str, Written], mps: float) -> None:
    root, written = output
    expected = set()
    for vid, t in written.items():
        track, speed = _column(t, "track_id"), _column(t, "speed_mps")
        expected |= {(vid, int(k)) for k in np.unique(track) if np.mean(speed[track == k]) > mps}
    assert _keys(tracks_faster_than(root, mps)) == expected
    assert all(vid != "video2" for vid, _ in expected)  # no meta, no speed


def test_summary(output: tuple[str, Written]) -> None:
    root, written = output
    result = summary(root)
    videos = result["videos"].to_pydict()
    assert (videos["status"], videos["videos"]) == (["failed", "ok"], [1, 3])
    assert result["failures"].to_pydict() == {"stage": ["decode"], "clips": [1], "videos": [1]}
    classes = result["classes"].to_pydict()
    all_rows = pa.concat_tables(written.values())
    speeds = _column(all_rows, "speed_mps")
    for i, name in enumerate(classes["class"]):
        of_class = _column(all_rows, "class") == name
        assert classes["tracks"][i] == len(written) * len(
            {k for k in range(TRACKS) if CLASSES[k % 3] == name}
        )
        assert classes["mean_speed_mps"][i] == pytest.approx(np.nanmean(speeds[of_class]), rel=1e-5)
    longest = result["longest tracks"].to_pydict()
    assert longest["frames"][:3] == [FRAMES] * 3 and longest["track_id"][:3] == [0, 0, 0]
    assert longest["seconds"][:2] == pytest.approx([(FRAMES - 1) / FPS] * 2)


def test_naive_datetimes_are_utc_and_store_is_reusable(tmp_path: Path) -> None:
    root = str(tmp_path / "out")
    _write_output(root)
    aware = TrackFilter(start=START + timedelta(seconds=3.5))
    naive = TrackFilter(start=(START + timedelta(seconds=3.5)).replace(tzinfo=None))
    with TrajectoryStore(root) as store:
        by_aware, by_naive = store.find_tracks(aware), store.find_tracks(naive)
        assert store.query("SET threads = 1").num_rows == 0
    # Tracks 0-5 appear at frame 2k: all exist after 3.5 s, but only in the georeferenced videos.
    assert (
        _keys(by_naive)
        == _keys(by_aware)
        == {(v, k) for v in ("video0", "video1") for k in range(TRACKS)}
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"bbox": (3.0, 0.0, 2.0, 1.0)}, "lon_min <= lon_max"),
        ({"bbox": (1.0, 2.0, 3.0)}, "expected \\(lon_min, lat_min, lon_max, lat_max\\)"),
        ({"start": START, "end": START - timedelta(seconds=1)}, "is after end"),
        ({"min_speed_mps": -1.0}, "min_speed_mps: expected >= 0"),
    ],
)
def test_track_filter_validation(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrackFilter(**kwargs)


def test_export_and_text(output: tuple[str, Written], tmp_path: Path) -> None:
    root, _ = output
    table = find_tracks(root, TrackFilter(class_name="vehicle", video_id="video0"))
    assert (
        pacsv.read_csv(export(table, tmp_path / "t.csv"))["track_id"].to_pylist()
        == table["track_id"].to_pylist()
    )
    assert pq.read_table(export(table, tmp_path / "t.parquet")).equals(table)
    with pytest.raises(ValueError, match=r"t\.txt: expected a \.csv or \.parquet"):
        export(table, tmp_path / "t.txt")
    text = to_text(table, max_rows=1)
    assert text.splitlines()[0].split()[:3] == ["video_id", "track_id", "class"]
    assert text.endswith(f"... {table.num_rows - 1} more rows")


def test_errors_are_one_line(tmp_path: Path) -> None:
    root = str(tmp_path / "out")
    _write_output(root)
    with pytest.raises(ValueError, match="query failed: Catalog Error") as err:
        query(root, "SELECT * FROM nope")
    assert "\n" not in str(err.value)
    with pytest.raises(FileNotFoundError, match="no trajectory output here"):
        query(str(tmp_path / "missing"), "SELECT 1")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_text('/etc/hostname')",
        "COPY (SELECT 1) TO '{tmp}/leak.csv'",
        "SET enable_external_access = true",
        "ATTACH '{tmp}/other.db'",
    ],
)
def test_free_sql_cannot_touch_files(tmp_path: Path, sql: str) -> None:
    root = str(tmp_path / "out")
    _write_output(root)
    with pytest.raises(ValueError, match="query failed"):
        query(root, sql.format(tmp=tmp_path))
    assert not (tmp_path / "leak.csv").exists()
    assert query(root, "SELECT count(*) AS n FROM videos")["n"][0].as_py() == 4


def test_external_access_is_an_explicit_choice(tmp_path: Path) -> None:
    root = str(tmp_path / "out")
    _write_output(root)
    query(root, f"COPY (SELECT 1 AS one) TO '{tmp_path}/ok.csv'", external_access=True)
    assert (tmp_path / "ok.csv").read_text().split() == ["one", "1"]


def test_cli_query_scopes_sql_to_a_video_and_refuses_track_filters_on_sql(
    output: tuple[str, Written], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    root, written = output
    sql = "SELECT video_id, count(*) AS n FROM trajectories GROUP BY video_id"
    out = tmp_path / "one.csv"
    assert cli.main(["query", root, sql, "--video", "video1", "--out", str(out)]) == 0
    assert f"result: 1 rows -> {out}" in capsys.readouterr().out
    assert pacsv.read_csv(out).to_pylist() == [
        {"video_id": "video1", "n": written["video1"].num_rows}
    ]
    assert cli.main(["query", root, sql, "--class", "ship", "--min-speed", "1"]) == 2
    assert "--class, --min-speed: track filters do not apply to SQL" in capsys.readouterr().err
