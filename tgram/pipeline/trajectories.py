"""The trajectory Parquet contract: schema, georeferencing, and exactly-once writing.

Layout under an output root (local or s3://):
  video_id=<id>/part-0.parquet   the video's rows (Hive partition: queries prune by video_id)
  _videos/<id>.parquet           one row per video; written last, so it marks the video done
  _failures/<id>-<clip>.parquet  one row per failed clip or video, with the reason
Every file goes to a deterministic key in one atomic write, so re-runs and retried tasks
replace files instead of adding rows, and no partial file is ever visible at a final key.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from tgram import storage

SCHEMA_VERSION = "1"
_META = {b"schema_version": SCHEMA_VERSION.encode()}

TRAJECTORY_SCHEMA = pa.schema(
    [
        ("video_id", pa.string()),
        ("frame", pa.int32()),
        ("track_id", pa.int64()),
        ("class", pa.dictionary(pa.int8(), pa.string())),
        ("x", pa.float32()),
        ("y", pa.float32()),
        ("w", pa.float32()),
        ("h", pa.float32()),
        ("score", pa.float32()),
        ("vx", pa.float32()),
        ("vy", pa.float32()),
        ("t", pa.timestamp("ms", tz="UTC")),
        ("lon", pa.float64()),
        ("lat", pa.float64()),
        ("speed_mps", pa.float32()),
    ],
    metadata=_META,
)

VIDEOS_SCHEMA = pa.schema(
    [
        ("video_id", pa.string()),
        ("uri", pa.string()),
        ("status", pa.string()),
        ("frames", pa.int64()),
        ("fps", pa.float64()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("n_tracks", pa.int64()),
        ("n_rows", pa.int64()),
        ("seconds", pa.float64()),
        ("error", pa.string()),
    ],
    metadata=_META,
)

FAILURES_SCHEMA = pa.schema(
    [
        ("video_id", pa.string()),
        ("uri", pa.string()),
        ("start", pa.int64()),
        ("end", pa.int64()),
        ("stage", pa.string()),
        ("error", pa.string()),
        ("time", pa.timestamp("ms", tz="UTC")),
    ],
    metadata=_META,
)

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class VideoRecord:
    video_id: str
    uri: str
    status: str
    """"ok" or "failed"."""
    frames: int
    fps: float
    width: int
    height: int
    n_tracks: int
    n_rows: int
    seconds: float
    error: str


@dataclass(frozen=True)
class VideoMeta:
    """What georeferencing needs from a video's meta JSON (written by `tgram synth`)."""

    fps: float
    start_time: datetime
    crs: str
    geotransform: tuple[float, float, float, float, float, float]
    """GDAL order: x0, pixel width, row rotation, y0, column rotation, pixel height (< 0)."""
    gsd_m: float


def check_video_id(video_id: str) -> str:
    if not _SAFE_ID.match(video_id):
        raise ValueError(f"video_id {video_id!r}: expected only [A-Za-z0-9._-], not starting with '.' or '-'")
    return video_id


def load_meta(uri: str) -> VideoMeta | None:
    """The meta JSON at `uri`, or None if there is none (rows then have null t/lon/lat/speed)."""
    if not storage.exists(uri):
        return None
    try:
        raw = json.loads(storage.read_bytes(uri))
        start = datetime.fromisoformat(str(raw["start_time"]).replace("Z", "+00:00"))
        return VideoMeta(
            fps=float(raw["fps"]),
            start_time=start if start.tzinfo else start.replace(tzinfo=timezone.utc),
            crs=str(raw["crs"]),
            geotransform=tuple(float(v) for v in raw["geotransform"]),
            gsd_m=float(raw.get("gsd_m", abs(float(raw["geotransform"][1])))),
        )
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise ValueError(f"{uri}: bad video meta JSON ({type(exc).__name__}: {exc})") from None


def meta_uri_for(video_uri: str, video_id: str) -> str:
    """Where an archive keeps a video's meta: `<seq>/meta.json` beside an image sequence,
    `meta/<id>.json` beside the `videos/` folder of an mp4 archive (the `tgram synth` layout)."""
    if not video_uri.lower().endswith((".mp4", ".mov", ".avi", ".mkv")):
        return storage.join(video_uri, "meta.json")
    videos_dir = video_uri.rsplit("/", 1)[0]
    return storage.join(videos_dir.rsplit("/", 1)[0], "meta", f"{video_id}.json")


def georeference(table: pa.Table, meta: VideoMeta | None) -> pa.Table:
    """Add t (UTC), lon/lat of box centres (WGS84) and speed (m/s) from the video's meta;
    nulls without meta. Input columns: frame, x, y, w, h, vx, vy (px, px/frame)."""
    n = table.num_rows
    if meta is None:
        t = pa.nulls(n, pa.timestamp("ms", tz="UTC"))
        lon = lat = pa.nulls(n, pa.float64())
        speed = pa.nulls(n, pa.float32())
    else:
        from pyproj import Transformer

        frame = table["frame"].to_numpy().astype(np.float64)
        start_ms = int(meta.start_time.timestamp() * 1000)
        t = pa.array(start_ms + np.round(frame / meta.fps * 1000).astype(np.int64), pa.timestamp("ms", tz="UTC"))
        col = table["x"].to_numpy().astype(np.float64) + table["w"].to_numpy() / 2
        row = table["y"].to_numpy().astype(np.float64) + table["h"].to_numpy() / 2
        x0, dx, rx, y0, ry, dy = meta.geotransform
        easting, northing = x0 + col * dx + row * rx, y0 + col * ry + row * dy
        to_wgs84 = Transformer.from_crs(meta.crs, "EPSG:4326", always_xy=True)
        lon_v, lat_v = to_wgs84.transform(easting, northing)
        lon, lat = pa.array(lon_v, pa.float64()), pa.array(lat_v, pa.float64())
        px_per_frame = np.hypot(table["vx"].to_numpy(), table["vy"].to_numpy())
        speed = pa.array((px_per_frame * meta.gsd_m * meta.fps).astype(np.float32))
    for name, values in (("t", t), ("lon", lon), ("lat", lat), ("speed_mps", speed)):
        if name in table.column_names:
            table = table.drop_columns([name])
        table = table.append_column(name, values)
    return table


def write_video_trajectories(out_root: str, video_id: str, table: pa.Table) -> str:
    """Replace the video's partition file with `table` (cast to the contract schema)."""
    uri = storage.join(out_root, f"video_id={check_video_id(video_id)}", "part-0.parquet")
    _write_parquet(uri, table.select(TRAJECTORY_SCHEMA.names).cast(TRAJECTORY_SCHEMA))
    return uri


def write_video_record(out_root: str, record: VideoRecord) -> str:
    uri = storage.join(out_root, "_videos", f"{check_video_id(record.video_id)}.parquet")
    _write_parquet(uri, pa.Table.from_pylist([asdict(record)], schema=VIDEOS_SCHEMA))
    return uri


def write_failure(out_root: str, video_id: str, uri: str, *, start: int, end: int, stage: str, error: str) -> str:
    key = storage.join(out_root, "_failures", f"{check_video_id(video_id)}-{start}.parquet")
    row = dict(video_id=video_id, uri=uri, start=start, end=end, stage=stage, error=error,
               time=datetime.now(timezone.utc))
    _write_parquet(key, pa.Table.from_pylist([row], schema=FAILURES_SCHEMA))
    return key


def clear_failures(out_root: str, video_id: str) -> None:
    """Drop a video's old failure rows before it is redone (a fixed video must not stay listed)."""
    fs, root = storage.resolve(storage.join(out_root, "_failures"))
    if not storage.is_dir(storage.join(out_root, "_failures")):
        return
    from pyarrow.fs import FileSelector

    prefix = f"{check_video_id(video_id)}-"
    for info in fs.get_file_info(FileSelector(root)):
        stem = info.base_name.removesuffix(".parquet")
        if info.base_name.startswith(prefix) and stem[len(prefix):].isdigit():
            fs.delete_file(info.path)


def video_done(out_root: str, video_id: str) -> bool:
    """True when the video's record says ok (it is written after the rows, so they exist)."""
    uri = storage.join(out_root, "_videos", f"{check_video_id(video_id)}.parquet")
    if not storage.exists(uri):
        return False
    table = pq.read_table(io.BytesIO(storage.read_bytes(uri)))
    return table["status"].to_pylist() == ["ok"]


def read_trajectories(out_root: str, video_ids: list[str] | None = None) -> pa.Table:
    """Rows of some or all videos, reading only their partitions; sorted by video, frame, track."""
    table = trajectory_dataset(out_root).to_table(
        filter=None if video_ids is None else pads.field("video_id").isin(video_ids)
    )
    return table.sort_by([("video_id", "ascending"), ("frame", "ascending"), ("track_id", "ascending")])


def trajectory_dataset(out_root: str) -> pads.Dataset:
    fs, root = storage.resolve(out_root)
    return pads.dataset(
        root,
        filesystem=fs,
        format="parquet",
        schema=TRAJECTORY_SCHEMA,
        partitioning=pads.partitioning(pa.schema([("video_id", pa.string())]), flavor="hive"),
        exclude_invalid_files=False,
        ignore_prefixes=["_", "."],
    )


def table_dataset(out_root: str, name: str, schema: pa.Schema) -> pads.Dataset:
    """`_videos` or `_failures` as a dataset (empty if the job has not written any yet)."""
    fs, root = storage.resolve(storage.join(out_root, name))
    if not storage.is_dir(storage.join(out_root, name)):
        return pads.dataset(pa.Table.from_pylist([], schema=schema))
    return pads.dataset(root, filesystem=fs, format="parquet", schema=schema)


def _write_parquet(uri: str, table: pa.Table) -> None:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    storage.write_bytes(uri, buffer.getvalue())
