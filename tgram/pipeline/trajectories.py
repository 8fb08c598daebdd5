"""The trajectory Parquet contract: schemas, exactly-once writing, and reading back.

Layout under an output root (local or s3://):
  video_id=<id>/part-0.parquet     the video's rows (Hive partition: queries prune by video_id)
  _videos/<id>.parquet             one row per video; written last, so it marks the video done
  _failures/<id>-<hash>.parquet    one row per failed clip, keyed by the clip
Every file goes to a deterministic key in one atomic write, so re-runs and retried tasks
replace files instead of adding rows, and no partial file is ever visible at a final key.
Readers list only final keys, so a half-written local temporary file is never scanned.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from tgram import storage
from tgram.pipeline.geo import VideoMeta, georeference, load_meta, meta_uri_for

__all__ = [
    "FAILURES_SCHEMA",
    "SCHEMA_VERSION",
    "TRAJECTORY_SCHEMA",
    "VIDEOS_SCHEMA",
    "VideoMeta",
    "VideoRecord",
    "check_video_id",
    "clear_failures",
    "failures_dataset",
    "georeference",
    "load_meta",
    "meta_uri_for",
    "read_trajectories",
    "trajectory_dataset",
    "trajectory_uri",
    "video_done",
    "videos_dataset",
    "write_failure",
    "write_video_record",
    "write_video_trajectories",
]

SCHEMA_VERSION = "3"
"""Bumped on any change to the three schemas (2: _failures columns clip_start, clip_end,
failed_at; 3: x_stab, y_stab, and vx, vy, speed_mps in ground terms). Readers take every
version: columns an older file lacks read as null."""

_METADATA = {b"schema_version": SCHEMA_VERSION.encode()}

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
        ("x_stab", pa.float32()),
        ("y_stab", pa.float32()),
        ("t", pa.timestamp("ms", tz="UTC")),
        ("lon", pa.float64()),
        ("lat", pa.float64()),
        ("speed_mps", pa.float32()),
    ],
    metadata=_METADATA,
)

_FILE_SCHEMA = TRAJECTORY_SCHEMA.remove(TRAJECTORY_SCHEMA.get_field_index("video_id"))
"""What a partition file holds: the folder name `video_id=<id>` supplies the rest."""

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
    metadata=_METADATA,
)

FAILURES_SCHEMA = pa.schema(
    [
        ("video_id", pa.string()),
        ("uri", pa.string()),
        ("clip_start", pa.int64()),
        ("clip_end", pa.int64()),
        ("stage", pa.string()),
        ("error", pa.string()),
        ("failed_at", pa.timestamp("ms", tz="UTC")),
    ],
    metadata=_METADATA,
)

VIDEO_STATUSES = ("ok", "failed")
PART_FILE = "part-0.parquet"
_SAFE_ID = "[A-Za-z0-9][A-Za-z0-9._-]*"
"""Safe as one key segment: no '/', no '..' traversal, no leading '.'/'_' (readers skip those)."""
_PARTITION_FILE = re.compile(rf"video_id={_SAFE_ID}/{re.escape(PART_FILE)}")
_FAILURE_KEY_HEX = 12
_HIVE = pads.partitioning(pa.schema([("video_id", pa.string())]), flavor="hive")


@dataclass(frozen=True)
class VideoRecord:
    """The `_videos` row of one video: how its run went."""

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
    """Decode + tracking time summed over the video's clips."""
    error: str

    def __post_init__(self) -> None:
        check_video_id(self.video_id)
        if self.status not in VIDEO_STATUSES:
            raise ValueError(f"status: expected one of {VIDEO_STATUSES}, got {self.status!r}")


def check_video_id(video_id: str) -> str:
    """`video_id` unchanged if it is safe as a storage key segment, else a ValueError."""
    if not re.fullmatch(_SAFE_ID, video_id):
        raise ValueError(
            f"video_id {video_id!r}: expected [A-Za-z0-9._-] only, starting with a letter or digit"
        )
    return video_id


def trajectory_uri(out_root: str, video_id: str) -> str:
    return storage.join(out_root, f"video_id={check_video_id(video_id)}", PART_FILE)


def write_video_trajectories(out_root: str, video_id: str, table: pa.Table) -> str:
    """Replace the video's partition file with `table`, cast to the contract and sorted by
    frame and track (so a re-run writes the same bytes for the same rows).

    As in any Hive layout, video_id lives in the folder name, not in the file: pandas,
    polars, Spark and DuckDB's hive_partitioning read the folder back as that column (and
    pyarrow, so pandas, rejects a file that repeats it). A video_id column in `table` must
    name this video.
    """
    uri = trajectory_uri(out_root, video_id)
    missing = [name for name in _FILE_SCHEMA.names if name not in table.column_names]
    if missing:
        raise ValueError(
            f"{video_id}: trajectory table lacks columns {missing} (georeference() adds t, lon, lat, speed_mps)"
        )
    named = table["video_id"].unique().to_pylist() if "video_id" in table.column_names else []
    if named not in ([], [video_id]):
        raise ValueError(
            f"{video_id}: every row's video_id must be {video_id!r} (it names the partition)"
        )
    rows = table.select(_FILE_SCHEMA.names).cast(_FILE_SCHEMA)
    _write_parquet(uri, rows.sort_by([("frame", "ascending"), ("track_id", "ascending")]))
    return uri


def write_video_record(out_root: str, record: VideoRecord) -> str:
    uri = storage.join(out_root, "_videos", f"{record.video_id}.parquet")
    _write_parquet(uri, pa.Table.from_pylist([asdict(record)], schema=VIDEOS_SCHEMA))
    return uri


def write_failure(
    out_root: str, video_id: str, uri: str, *, start: int, end: int, stage: str, error: str
) -> str:
    """Record that frames [start, end) of a video failed at `stage`; the same clip failing
    again replaces its row."""
    clip_hash = hashlib.blake2b(
        f"{uri}\0{start}\0{end}".encode(), digest_size=_FAILURE_KEY_HEX // 2
    ).hexdigest()
    key = storage.join(out_root, "_failures", f"{check_video_id(video_id)}-{clip_hash}.parquet")
    row = {
        "video_id": video_id,
        "uri": uri,
        "clip_start": start,
        "clip_end": end,
        "stage": stage,
        "error": error,
        "failed_at": datetime.now(timezone.utc),
    }
    _write_parquet(key, pa.Table.from_pylist([row], schema=FAILURES_SCHEMA))
    return key


def clear_failures(out_root: str, video_id: str) -> None:
    """Drop a video's failure rows before it is redone (a fixed video must not stay listed)."""
    own = re.compile(
        rf"{re.escape(check_video_id(video_id))}-[0-9a-f]{{{_FAILURE_KEY_HEX}}}\.parquet"
    )
    fs, root = storage.resolve(storage.join(out_root, "_failures"))
    for info in fs.get_file_info(pafs.FileSelector(root, allow_not_found=True)):
        if own.fullmatch(info.base_name):
            fs.delete_file(info.path)


def video_done(out_root: str, video_id: str) -> bool:
    """True when the video's record says ok and its trajectory file exists."""
    record_uri = storage.join(out_root, "_videos", f"{check_video_id(video_id)}.parquet")
    if not storage.exists(record_uri):
        return False
    record = pq.read_table(io.BytesIO(storage.read_bytes(record_uri)))
    return record["status"].to_pylist() == ["ok"] and storage.exists(
        trajectory_uri(out_root, video_id)
    )


def trajectory_dataset(out_root: str, video_ids: Iterable[str] | None = None) -> pads.Dataset:
    """The trajectory files as one Hive-partitioned dataset: filters on video_id skip whole
    files. With `video_ids`, only their files are looked up (no listing of the whole root)."""
    fs, root = storage.resolve(out_root)
    if video_ids is None:
        infos = fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
        paths = sorted(i.path for i in infos if _PARTITION_FILE.fullmatch(_relative(i.path, root)))
    else:
        wanted = [storage.resolve(trajectory_uri(out_root, v))[1] for v in dict.fromkeys(video_ids)]
        paths = [i.path for i in fs.get_file_info(wanted) if i.type == pafs.FileType.File]
    return pads.dataset(
        paths,
        schema=TRAJECTORY_SCHEMA,
        format="parquet",
        filesystem=fs,
        partitioning=_HIVE,
        partition_base_dir=root,
    )


def read_trajectories(out_root: str, video_ids: Iterable[str] | None = None) -> pa.Table:
    """Rows of some or all videos, reading only their files; sorted by video, frame, track."""
    table = trajectory_dataset(out_root, video_ids).to_table()
    return table.sort_by(
        [("video_id", "ascending"), ("frame", "ascending"), ("track_id", "ascending")]
    )


def videos_dataset(out_root: str) -> pads.Dataset:
    """The `_videos` records (empty before the first video finishes)."""
    return _record_dataset(out_root, "_videos", VIDEOS_SCHEMA)


def failures_dataset(out_root: str) -> pads.Dataset:
    """The `_failures` records (empty when nothing failed)."""
    return _record_dataset(out_root, "_failures", FAILURES_SCHEMA)


def _record_dataset(out_root: str, folder: str, schema: pa.Schema) -> pads.Dataset:
    fs, root = storage.resolve(storage.join(out_root, folder))
    infos = fs.get_file_info(pafs.FileSelector(root, allow_not_found=True))
    paths = sorted(
        i.path for i in infos if i.type == pafs.FileType.File and i.base_name.endswith(".parquet")
    )
    return pads.dataset(paths, schema=schema, format="parquet", filesystem=fs)


def _relative(path: str, root: str) -> str:
    return path[len(root) :].lstrip("/")


def _write_parquet(uri: str, table: pa.Table) -> None:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    storage.write_bytes(uri, buffer.getvalue())


def to_results(table: pa.Table) -> np.ndarray:
    """Trajectory rows of one video as MOTChallenge result rows (formats.RESULT_DTYPE), the
    form `tgram eval` and the renderers take."""
    from tgram.data.formats import RESULT_DTYPE

    rows = np.zeros(table.num_rows, RESULT_DTYPE)
    for name in ("frame", "x", "y", "w", "h", "score"):
        rows[name] = table[name].to_numpy()
    rows["id"] = table["track_id"].to_numpy()
    return rows
