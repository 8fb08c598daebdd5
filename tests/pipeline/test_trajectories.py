from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyproj import Transformer

from tgram import storage
from tgram.pipeline.trajectories import (
    SCHEMA_VERSION,
    VideoRecord,
    georeference,
    load_meta,
    read_trajectories,
    video_done,
    write_video_record,
    write_video_trajectories,
)

META = {
    "fps": 10.0,
    "start_time": "2023-01-30T10:43:19Z",
    "crs": "EPSG:32631",
    "geotransform": [574575.0, 1.0, 0.0, 5753164.0, 0.0, -1.0],
    "gsd_m": 1.0,
}


def _rows(n: int = 4) -> pa.Table:
    return pa.table({
        "video_id": ["v1"] * n,
        "frame": np.arange(n, dtype=np.int32),
        "track_id": np.ones(n, np.int64),
        "class": ["vehicle"] * n,
        "x": np.float32([100, 103, 106, 109][:n]),
        "y": np.float32([200, 204, 208, 212][:n]),
        "w": np.full(n, 6, np.float32),
        "h": np.full(n, 10, np.float32),
        "score": np.full(n, 0.9, np.float32),
        "vx": np.full(n, 3, np.float32),
        "vy": np.full(n, 4, np.float32),
    })


def test_georeference_against_hand_computed_point(tmp_path: Path) -> None:
    (tmp_path / "m.json").write_text(json.dumps(META))
    out = georeference(_rows(), load_meta(str(tmp_path / "m.json")))
    # Box centre of row 0: (103, 205) px -> UTM (574678, 5752959) -> WGS84.
    lon, lat = Transformer.from_crs("EPSG:32631", "EPSG:4326", always_xy=True).transform(574575.0 + 103, 5753164.0 - 205)
    assert out["lon"][0].as_py() == pytest.approx(lon, abs=1e-9)
    assert out["lat"][0].as_py() == pytest.approx(lat, abs=1e-9)
    # 5 px/frame at 1 m/px and 10 fps = 50 m/s; frame 3 is 0.3 s after the start.
    assert out["speed_mps"].to_pylist() == pytest.approx([50.0] * 4)
    assert out["t"][3].as_py() == datetime(2023, 1, 30, 10, 43, 19, 300000, tzinfo=timezone.utc)


def test_without_meta_geo_columns_are_null(tmp_path: Path) -> None:
    assert load_meta(str(tmp_path / "missing.json")) is None
    out = georeference(_rows(), None)
    assert out["lon"].null_count == out["t"].null_count == out["speed_mps"].null_count == 4


def test_malformed_meta_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "m.json").write_text(json.dumps({**META, "fps": "fast"}))
    with pytest.raises(ValueError, match=r"m\.json: bad video meta JSON") as err:
        load_meta(str(tmp_path / "m.json"))
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("where", ["local", "s3"])
def test_rewrite_is_idempotent_and_schema_versioned(where: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    root = str(tmp_path / "out") if where == "local" else request.getfixturevalue("s3_bucket") + "/out"
    table = georeference(_rows(), None)
    for _ in range(2):
        uri = write_video_trajectories(root, "v1", table)
    write_video_trajectories(root, "v2", georeference(_rows(2), None).set_column(0, "video_id", pa.array(["v2"] * 2)))
    assert read_trajectories(root).num_rows == 6
    assert read_trajectories(root, ["v1"]).num_rows == 4
    meta = pq.read_schema(storage.resolve(uri)[0].open_input_file(storage.resolve(uri)[1])).metadata
    assert meta[b"schema_version"] == SCHEMA_VERSION.encode()
    assert not video_done(root, "v1")
    record = VideoRecord("v1", "v1.mp4", "ok", 4, 10.0, 64, 64, 1, 4, 1.0, "")
    write_video_record(root, record)
    assert video_done(root, "v1")
    write_video_record(root, VideoRecord(**{**record.__dict__, "status": "failed", "error": "x"}))
    assert not video_done(root, "v1")


@pytest.mark.parametrize("bad", ["../etc", "a/b", "", ".hidden", "a b"])
def test_unsafe_video_ids_are_rejected(bad: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="video_id"):
        write_video_trajectories(str(tmp_path), bad, georeference(_rows(), None))
