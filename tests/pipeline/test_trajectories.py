from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyproj import Transformer

from tests.outputs import commit, record_for
from tests.outputs import vehicle_rows as _rows
from tgram import storage
from tgram.data.meta import VideoMeta, load_meta, meta_uri_for
from tgram.faults import CRASH_EXIT
from tgram.faults import ENV as CRASH_ENV
from tgram.pipeline.geo import georeference
from tgram.pipeline.trajectories import (
    COMMIT_KEY,
    PROVENANCE,
    SCHEMA_VERSION,
    TRAJECTORY_SCHEMA,
    VIDEOS_SCHEMA,
    ClipFailure,
    RunIdentity,
    VideoRecord,
    _rows_file,
    clear_failures,
    commit_failure,
    commit_rows,
    failures_table,
    read_record,
    read_trajectories,
    trajectory_uri,
    video_done,
    videos_table,
    write_failure,
)

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2023, 1, 30, 10, 43, 19, tzinfo=timezone.utc)
# UTM 31N: easting 500 000 m lies on the central meridian 3°E, northing 0 on the equator,
# so a box centred on pixel (103, 205) with this geotransform is at exactly lon 3, lat 0.
EQUATOR_META = {
    "fps": 10.0,
    "start_time": "2023-01-30T10:43:19Z",
    "crs": "EPSG:32631",
    "geotransform": [500000.0 - 103 * 0.5, 0.5, 0.0, 205 * 0.5, 0.0, -0.5],
}


def _meta_file(tmp_path: Path, meta: dict) -> str:
    path = tmp_path / "meta.json"
    path.write_text(json.dumps(meta))
    return str(path)


@pytest.fixture(params=["local", "s3"])
def out_root(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return (
        str(tmp_path / "out")
        if request.param == "local"
        else request.getfixturevalue("s3_bucket") + "/out"
    )


def test_georeference_hand_computed_point(tmp_path: Path) -> None:
    out = georeference(_rows(), load_meta(_meta_file(tmp_path, EQUATOR_META)))
    assert out["lon"][0].as_py() == pytest.approx(3.0, abs=1e-9)
    assert out["lat"][0].as_py() == pytest.approx(0.0, abs=1e-9)
    # gsd defaults to the 0.5 m pixel: 5 px/frame * 0.5 m * 10 fps = 25 m/s.
    assert out["speed_mps"].to_pylist() == pytest.approx([25.0] * 4)
    assert out["t"].to_pylist() == [START + timedelta(milliseconds=100 * i) for i in range(4)]


def test_georeference_rotated_geotransform_matches_pyproj() -> None:
    x0, y0 = 350000.0, 3450000.0
    meta = VideoMeta(
        fps=25.0,
        start_time=START,
        crs="EPSG:32650",
        geotransform=(x0, 0.8, 0.1, y0, 0.2, -0.8),
        gsd_m=0.8,
    )
    out = georeference(_rows(), meta)
    col, row = 103.0 + 3, 205.0 + 4  # row 1
    expected = Transformer.from_crs("EPSG:32650", "EPSG:4326", always_xy=True).transform(
        x0 + col * 0.8 + row * 0.1, y0 + col * 0.2 - row * 0.8
    )
    assert (out["lon"][1].as_py(), out["lat"][1].as_py()) == pytest.approx(expected, abs=1e-9)
    # Zone 50N spans 114-120°E; an easting of 350 km lies west of its 117°E meridian.
    assert 114 < expected[0] < 117 and 31 < expected[1] < 32
    assert out["t"][1].as_py() == START + timedelta(milliseconds=40)
    assert out["speed_mps"][1].as_py() == pytest.approx(5 * 0.8 * 25)


def test_georeference_without_meta_gives_nulls_and_replaces_old_values(tmp_path: Path) -> None:
    assert load_meta(str(tmp_path / "missing.json")) is None
    located = georeference(pa.table(_rows()), load_meta(_meta_file(tmp_path, EQUATOR_META)))
    out = georeference(located, None)
    assert out.column_names == located.column_names
    assert [out[c].null_count for c in ("t", "lon", "lat", "speed_mps")] == [4, 4, 4, 4]


def test_load_meta_reads_explicit_gsd(tmp_path: Path) -> None:
    meta = load_meta(_meta_file(tmp_path, {**EQUATOR_META, "gsd_m": 0.7}))
    assert meta is not None and meta.gsd_m == 0.7 and meta.start_time == START


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"fps": "fast"}, "could not convert"),
        ({"fps": 0}, "fps: expected > 0"),
        ({"crs": "EPSG:999999"}, "crs: expected a CRS"),
        ({"geotransform": [1, 2, 3, 4, 5]}, "geotransform: expected 6 numbers"),
        ({"start_time": "2023-01-30T10:43:19"}, "start_time: expected a time zone"),
        ({"start_time": None}, "Invalid isoformat"),
    ],
)
def test_malformed_meta_is_a_one_line_error(tmp_path: Path, change: dict, reason: str) -> None:
    uri = _meta_file(tmp_path, {**EQUATOR_META, **change})
    with pytest.raises(ValueError, match=rf"meta\.json: bad video meta JSON: .*{reason}") as err:
        load_meta(uri)
    assert "\n" not in str(err.value)


def test_meta_missing_key_and_non_json(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="missing key 'crs'"):
        load_meta(_meta_file(tmp_path, {k: v for k, v in EQUATOR_META.items() if k != "crs"}))
    (tmp_path / "meta.json").write_text("{not json")
    with pytest.raises(ValueError, match="bad video meta JSON"):
        load_meta(str(tmp_path / "meta.json"))


@pytest.mark.parametrize(
    ("video_uri", "expected"),
    [
        ("s3://b/archive/videos/v7.mp4", "s3://b/archive/meta/v7.json"),
        ("s3://b/airmot/seq-3", "s3://b/airmot/seq-3/meta.json"),
        ("/a/videos/village vidéo.MOV", "/a/meta/village vidéo.json"),
    ],
)
def test_meta_uri_for(video_uri: str, expected: str) -> None:
    assert meta_uri_for(video_uri) == expected


def test_write_read_back_schema_and_version(out_root: str) -> None:
    written = georeference(_rows("v1"), None)
    record = commit(out_root, "v1", written.take([3, 1, 0, 2]))
    uri = storage.join(out_root, "video_id=v1", "part-0.parquet")
    fs, path = storage.resolve(uri)
    with fs.open_input_file(path) as f:
        file_schema = pq.read_schema(f)
    assert file_schema.metadata[b"schema_version"] == SCHEMA_VERSION.encode()
    assert file_schema.metadata[COMMIT_KEY] == record.commit.encode() and record.n_rows == 4
    back = read_trajectories(out_root)
    assert back.schema.equals(TRAJECTORY_SCHEMA)
    assert back["frame"].to_pylist() == [0, 1, 2, 3]  # sorted on write
    assert back["x"].to_pylist() == written["x"].to_pylist()
    assert back["class"].to_pylist() == ["vehicle"] * 4
    assert read_record(out_root, "v1") == record


def test_outputs_of_schema_3_and_2_stay_readable(tmp_path: Path) -> None:
    """Rows and records written before commit tokens (and before x_stab) read as committed."""
    old = georeference(_rows("v1"), None).drop_columns(["video_id", "x_stab", "y_stab"])
    (tmp_path / "video_id=v1").mkdir()
    pq.write_table(old, tmp_path / "video_id=v1" / "part-0.parquet")
    (tmp_path / "_videos").mkdir()
    legacy = pa.Table.from_pylist([asdict(record_for("v1"))], schema=VIDEOS_SCHEMA)
    pq.write_table(legacy.drop_columns(list(PROVENANCE)), tmp_path / "_videos" / "v1.parquet")
    commit(str(tmp_path), "v2", georeference(_rows("v2"), None))
    back = read_trajectories(str(tmp_path))
    assert back["x_stab"].null_count == 4 and back["x_stab"].to_pylist()[4:] == [100, 103, 106, 109]
    assert video_done(str(tmp_path), "v1", RunIdentity("a" * 64, "b"))  # predates identities


def test_rewrite_replaces_rows_never_duplicates(out_root: str) -> None:
    for _ in range(2):
        commit(out_root, "v1", georeference(_rows("v1", 4), None))
    commit(out_root, "v2", georeference(_rows("v2", 2), None))
    assert read_trajectories(out_root).num_rows == 6
    commit(out_root, "v1", georeference(_rows("v1", 3), None))
    assert read_trajectories(out_root).num_rows == 5
    assert read_trajectories(out_root, ["v2", "never-written"]).num_rows == 2
    assert read_trajectories(storage.join(out_root, "empty")).num_rows == 0


def test_temporary_files_are_hidden_from_every_reader(tmp_path: Path) -> None:
    commit(str(tmp_path), "v1", georeference(_rows("v1"), None))
    folder = tmp_path / "video_id=v1"
    env = {**os.environ, CRASH_ENV: "mid-write:part-0.parquet"}
    script = (
        "import sys; from tests.outputs import commit, vehicle_rows;"
        "from tgram.pipeline.geo import georeference;"
        "commit(sys.argv[1], 'v1', georeference(vehicle_rows('v1', 8), None))"
    )
    run = subprocess.run([sys.executable, "-c", script, str(tmp_path)], env=env, cwd=ROOT)
    assert run.returncode == CRASH_EXIT
    debris = [p.name for p in folder.iterdir() if p.name != "part-0.parquet"]
    assert len(debris) == 1 and debris[0].startswith(".part-0.parquet.tmp-")
    assert len(pd.read_parquet(tmp_path / "video_id=v1")) == 4  # pandas skips hidden files
    glob = f"{tmp_path}/video_id=*/*.parquet"
    assert duckdb.sql(f"SELECT count(*) FROM read_parquet('{glob}')").fetchall() == [(4,)]
    # the record already names the new rows, which never arrived: not committed, redone
    assert read_trajectories(str(tmp_path)).num_rows == 0 and not video_done(str(tmp_path), "v1")


def test_output_opens_with_pandas_and_duckdb_hive_reader(tmp_path: Path) -> None:
    root = str(tmp_path)
    for video_id, n in (("v1", 4), ("v2", 2)):
        commit(root, video_id, georeference(_rows(video_id, n), None))
    frame = pd.read_parquet(root)
    assert frame.groupby("video_id", observed=True).size().to_dict() == {"v1": 4, "v2": 2}
    counts = duckdb.sql(
        f"SELECT video_id, count(*) FROM read_parquet('{root}/video_id=*/*.parquet', hive_partitioning = true) "
        "GROUP BY video_id ORDER BY video_id"
    ).fetchall()
    assert counts == [("v1", 4), ("v2", 2)]


def _corrupt_record(root: str) -> None:
    storage.write_bytes(storage.join(root, "_videos", "v1.parquet"), b"PAR1 half a footer")


def _empty_record(root: str) -> None:
    storage.write_bytes(storage.join(root, "_videos", "v1.parquet"), b"")


def _stale_rows(root: str) -> None:
    """Rows of an earlier run, then a crash after the new record: the token differs."""
    earlier = georeference(_rows("v1", 2), None)
    storage.write_bytes(
        storage.join(root, "video_id=v1", "part-0.parquet"),
        _rows_file("v1", earlier)[0],
    )


@pytest.mark.parametrize(
    ("damage", "done"),
    [(None, True), (_corrupt_record, False), (_empty_record, False), (_stale_rows, False)],
)
def test_video_done_needs_a_record_naming_its_rows(
    out_root: str, damage: Callable[[str], None] | None, done: bool
) -> None:
    commit(out_root, "v1", georeference(_rows("v1"), None))
    if damage is not None:
        damage(out_root)
    assert video_done(out_root, "v1") is done
    assert (read_trajectories(out_root).num_rows == 4) is done
    assert videos_table(out_root).num_rows == int(done)


def test_video_done_for_this_run_only(out_root: str) -> None:
    identity = RunIdentity("a" * 64, "c1")
    record = replace(record_for("v1"), weights_sha256="a" * 64, config_hash="c1")
    commit_rows(out_root, record, georeference(_rows("v1"), None))
    assert video_done(out_root, "v1", identity) and video_done(out_root, "v1")
    assert not video_done(out_root, "v1", replace(identity, config_hash="c2"))
    assert not video_done(out_root, "v1", replace(identity, weights_sha256="b" * 64))


def test_a_failure_keeps_committed_rows_and_their_record(out_root: str) -> None:
    good = commit(out_root, "v1", georeference(_rows("v1"), None))
    failed = commit_failure(
        out_root, record_for("v1", "failed"), [ClipFailure(0, 4, "decode", "x")]
    )
    assert failed.status == "failed"
    assert read_record(out_root, "v1") == good and read_trajectories(out_root).num_rows == 4
    assert failures_table(out_root)["video_id"].to_pylist() == ["v1"]
    commit_failure(out_root, record_for("v2", "failed"), [ClipFailure(0, 4, "decode", "y")])
    assert read_record(out_root, "v2").status == "failed"
    statuses = videos_table(out_root).to_pydict()
    assert dict(zip(statuses["video_id"], statuses["status"], strict=True)) == {
        "v1": "ok",
        "v2": "failed",
    }


_COMMIT_SCRIPT = """
import os
import sys
from tests.outputs import commit, record_for, vehicle_rows
from tgram.pipeline.geo import georeference
from tgram.pipeline.trajectories import ClipFailure, commit_failure
root, outcome = sys.argv[1:]
if outcome == "rows":
    commit(root, "v1", georeference(vehicle_rows("v1", 6), None))
else:
    commit_failure(root, record_for("v1", "failed"), [ClipFailure(0, 6, "decode", "bad")])
# the commit is done: skip interpreter teardown, where a native library's thread sometimes
# aborts this short-lived process ("terminate called without an active exception")
os._exit(0)
"""


def _commit_in_process(root: str, outcome: str, crash_at: str | None) -> int:
    env = {**os.environ, CRASH_ENV: crash_at or ""}
    argv = [sys.executable, "-c", _COMMIT_SCRIPT, root, outcome]
    run = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True)
    assert run.returncode in (0, CRASH_EXIT), run.stderr[-3000:]
    return run.returncode


def _state(root: str) -> tuple:
    """What every reader of ours sees: committed rows, records that hold, failure rows."""
    videos = videos_table(root).drop_columns(["seconds"]).to_pylist()
    failures = failures_table(root).select(["video_id", "clip_start", "stage"]).to_pydict()
    return read_trajectories(root).to_pylist(), videos, sorted(zip(*failures.values(), strict=True))


@pytest.mark.parametrize(
    ("outcome", "crash_at"),
    [
        ("rows", "commit:clearing-failures"),
        ("rows", "commit:failures-cleared"),
        ("rows", "mid-write:v1.parquet"),
        ("rows", "commit:recorded"),
        ("rows", "mid-write:part-0.parquet"),
        ("failed", "commit:failures-written"),
        ("failed", "mid-write:v1.parquet"),
    ],
)
def test_a_crash_anywhere_in_a_commit_then_a_rerun_equals_a_clean_run(
    out_root: str, outcome: str, crash_at: str
) -> None:
    """Start: v1 failed in two clips, v2 done. Kill the commit of v1's new outcome at one
    point, check that readers see no half state, re-run as the job would, compare with a
    run that was never killed."""

    def start(root: str) -> None:
        failures = [ClipFailure(0, 3, "decode", "old"), ClipFailure(3, 6, "track", "old")]
        commit_failure(root, record_for("v1", "failed"), failures)
        commit(root, "v2", georeference(_rows("v2", 3), None))

    clean, crashed = storage.join(out_root, "clean"), storage.join(out_root, "crashed")
    for root in (clean, crashed):
        start(root)
    before = _state(crashed)
    assert _commit_in_process(clean, outcome, None) == 0
    assert _commit_in_process(crashed, outcome, crash_at) == CRASH_EXIT
    rows, videos, failures = _state(crashed)
    assert rows == before[0]  # v1's new rows are not visible before they are committed
    ok = {v["video_id"] for v in videos if v["status"] == "ok"}
    assert not ok & {video for video, _, _ in failures}, "a video both ok and failed"
    if not video_done(crashed, "v1"):
        assert _commit_in_process(crashed, outcome, None) == 0
    assert _state(crashed) == _state(clean)


def test_failures_keyed_by_clip_and_cleared_per_video(out_root: str) -> None:
    keys = [
        write_failure(out_root, "a", "a.mp4", ClipFailure(0, 100, "decode", "bad frame")),
        write_failure(out_root, "a", "a.mp4", ClipFailure(0, 100, "track", "again")),
        write_failure(out_root, "a", "a.mp4", ClipFailure(70, 170, "decode", "bad frame")),
        write_failure(out_root, "a-b", "a-b.mp4", ClipFailure(0, 100, "decode", "other video")),
    ]
    assert keys[0] == keys[1] != keys[2]
    failures = failures_table(out_root).sort_by("clip_start")
    assert failures.num_rows == 3
    assert failures.filter(pa.compute.equal(failures["video_id"], "a"))["error"].to_pylist() == [
        "again",
        "bad frame",
    ]
    clear_failures(out_root, "a")
    assert failures_table(out_root)["video_id"].to_pylist() == ["a-b"]
    commit(out_root, "a-b", georeference(_rows("a-b"), None))  # a commit clears them too
    assert failures_table(out_root).num_rows == 0


@pytest.mark.parametrize("bad", ["../etc", "a/b", "", ".hidden", "_videos", "a b", "-x"])
def test_unsafe_video_ids_are_rejected(bad: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="video_id"):
        trajectory_uri(str(tmp_path), bad)
    with pytest.raises(ValueError, match="video_id"):
        VideoRecord(bad, "u", "ok", 1, 10.0, 8, 8, 0, 0, 0.0, "")


def test_rows_must_match_their_partition_and_contract(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="every row's video_id must be 'v2'"):
        commit(str(tmp_path), "v2", georeference(_rows("v1"), None))
    with pytest.raises(ValueError, match=r"lacks columns \['t', 'lon', 'lat', 'speed_mps'\]"):
        commit(str(tmp_path), "v1", pa.table(_rows("v1")))
    with pytest.raises(ValueError, match="status: expected one of"):
        record_for("v1", "done")
    assert not any(tmp_path.iterdir())  # nothing written, not even the record
