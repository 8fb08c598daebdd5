"""The trajectory Parquet contract: schemas, the per-video commit, and reading back.

Layout under an output root (local or s3://):
  video_id=<id>/part-0.parquet     the video's rows (Hive partition: queries prune by video_id)
  _videos/<id>.parquet             one row per video: how its run went, what produced it, and
                                   the commit token of its rows
  _failures/<id>-<hash>.parquet    one row per failed clip, keyed by the clip
Every file goes to a deterministic key in one atomic write (locally through a hidden
temporary file), so re-runs and retried tasks replace files instead of adding rows, and no
partial file is ever visible at a final key or where a Hive reader looks.

A video's rows count only when its `_videos` record says ok and names the token stored in
the rows file's footer (`commit_rows` writes the record first, then the rows; Delta Lake and
Iceberg readers likewise trust the log, not the listing). `read_trajectories`, `tgram query`
and `video_done` apply that rule, so a crash at any point leaves either the previous state
or a video that the next run redoes. Readers of the bare root (pandas, DuckDB, Spark) see
only whole files; after a crash they can see a video's previous rows until it is redone.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime, timezone

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from tgram import __version__, storage
from tgram.data.meta import VideoMeta, load_meta, meta_uri_for
from tgram.data.video import SAFE_ID
from tgram.faults import crash_point
from tgram.pipeline.geo import georeference

__all__ = [
    "COMMIT_KEY",
    "FAILURES_SCHEMA",
    "PART_FILE",
    "PROVENANCE",
    "SCHEMA_VERSION",
    "TRAJECTORY_SCHEMA",
    "VIDEOS_SCHEMA",
    "ClipFailure",
    "RunIdentity",
    "VideoMeta",
    "VideoRecord",
    "check_video_id",
    "clear_failures",
    "commit_failure",
    "commit_rows",
    "committed_record",
    "committed_video_ids",
    "failures_table",
    "georeference",
    "load_meta",
    "meta_uri_for",
    "read_record",
    "read_trajectories",
    "trajectory_dataset",
    "trajectory_uri",
    "video_done",
    "videos_table",
    "write_failure",
    "write_video_record",
]

SCHEMA_VERSION = "4"
"""Bumped on any change to the three schemas (2: _failures columns clip_start, clip_end,
failed_at; 3: x_stab, y_stab, and vx, vy, speed_mps in ground terms; 4: _videos columns
commit, weights_sha256, config_hash, tgram_version). Readers take every version: columns an
older file lacks read as null, and a record without a commit token vouches for whatever
rows file its video has (the rule before version 4)."""
COMMIT_KEY = b"tgram.commit"
"""Footer metadata key of a rows file: the token its `_videos` record must name."""

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
        ("commit", pa.string()),
        ("weights_sha256", pa.string()),
        ("config_hash", pa.string()),
        ("tgram_version", pa.string()),
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
_TOKEN_HEX = 16
_NO_TOKEN = "(none)"
PROVENANCE = ("commit", "weights_sha256", "config_hash", "tgram_version")
_READ_THREADS = 16
_FAILURE_KEY_HEX = 12
log = logging.getLogger(__name__)
_HIVE = pads.partitioning(pa.schema([("video_id", pa.string())]), flavor="hive")


@dataclass(frozen=True)
class RunIdentity:
    """What produced a video's rows: a finished video counts as done for a new run only when
    its weights and settings are the same (`video_done`)."""

    weights_sha256: str
    config_hash: str
    tgram_version: str = __version__


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
    commit: str = ""
    """Token of the rows file this record vouches for (set by `commit_rows`)."""
    weights_sha256: str = ""
    config_hash: str = ""
    tgram_version: str = ""

    def __post_init__(self) -> None:
        check_video_id(self.video_id)
        if self.status not in VIDEO_STATUSES:
            raise ValueError(f"status: expected one of {VIDEO_STATUSES}, got {self.status!r}")


_RECORD_FIELDS = {f.name for f in fields(VideoRecord)}


def check_video_id(video_id: str) -> str:
    """`video_id` unchanged if it is safe as a storage key segment, else a ValueError."""
    if not SAFE_ID.fullmatch(video_id):
        raise ValueError(
            f"video_id {video_id!r}: expected [A-Za-z0-9._-] only, starting with a letter or digit"
        )
    return video_id


def trajectory_uri(out_root: str, video_id: str) -> str:
    return storage.join(out_root, f"video_id={check_video_id(video_id)}", PART_FILE)


def record_uri(out_root: str, video_id: str) -> str:
    return storage.join(out_root, "_videos", f"{check_video_id(video_id)}.parquet")


# -- the commit ------------------------------------------------------------------------------


def commit_rows(out_root: str, record: VideoRecord, table: pa.Table) -> VideoRecord:
    """Publish a finished video: drop its failure rows, write its record naming the rows'
    token, then the rows. A crash after any step leaves a video the next run redoes (the
    record's token matches no rows file yet) or, after the last, a done one.

    The rows are cast to the contract and sorted by frame and track, so a re-run writes the
    same bytes for the same rows. As in any Hive layout, video_id lives in the folder name,
    not in the file (pyarrow, so pandas, rejects a file that repeats it); a video_id column
    in `table` must name this video. Crash points: `commit:failures-cleared`,
    `commit:recorded`, and `mid-write:<file>` inside each write.
    """
    vid = record.video_id
    body, token = _rows_file(vid, table)
    clear_failures(out_root, vid)
    crash_point("commit:failures-cleared")
    record = replace(record, status="ok", error="", commit=token, n_rows=table.num_rows)
    write_video_record(out_root, record)
    crash_point("commit:recorded")
    storage.write_bytes(trajectory_uri(out_root, vid), body)
    return record


def commit_failure(out_root: str, record: VideoRecord, failures: list[ClipFailure]) -> VideoRecord:
    """Record a failed attempt: its failed clips in `_failures`; then, unless rows of an
    earlier run are committed (they stay, with their record: a re-run never loses good
    output), the `failed` record, after removing rows no record vouches for."""
    vid = record.video_id
    for failure in failures:
        write_failure(out_root, vid, record.uri, failure)
    crash_point("commit:failures-written")
    record = replace(record, status="failed", n_tracks=0, n_rows=0, commit="")
    if committed_record(out_root, vid) is None:
        stale = trajectory_uri(out_root, vid)
        if storage.exists(stale):
            fs, path = storage.resolve(stale)
            fs.delete_file(path)
        write_video_record(out_root, record)
    return record


def _rows_file(video_id: str, table: pa.Table) -> tuple[bytes, str]:
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
    rows = rows.sort_by([("frame", "ascending"), ("track_id", "ascending")])
    token = hashlib.sha256(_parquet_bytes(rows)).hexdigest()[:_TOKEN_HEX]
    stamped = rows.replace_schema_metadata({**_METADATA, COMMIT_KEY: token.encode()})
    return _parquet_bytes(stamped), token


def write_video_record(out_root: str, record: VideoRecord) -> str:
    uri = record_uri(out_root, record.video_id)
    _write_parquet(uri, pa.Table.from_pylist([asdict(record)], schema=VIDEOS_SCHEMA))
    return uri


@dataclass(frozen=True)
class ClipFailure:
    """Frames [start, end) of a video failed at `stage` (plan, decode, track, associate...)."""

    start: int
    end: int
    stage: str
    error: str


def write_failure(out_root: str, video_id: str, uri: str, failure: ClipFailure) -> str:
    """Record one failed clip; the same clip failing again replaces its row."""
    clip_hash = hashlib.blake2b(
        f"{uri}\0{failure.start}\0{failure.end}".encode(), digest_size=_FAILURE_KEY_HEX // 2
    ).hexdigest()
    key = storage.join(out_root, "_failures", f"{check_video_id(video_id)}-{clip_hash}.parquet")
    row = {
        "video_id": video_id,
        "uri": uri,
        "clip_start": failure.start,
        "clip_end": failure.end,
        "stage": failure.stage,
        "error": failure.error,
        "failed_at": datetime.now(timezone.utc),
    }
    _write_parquet(key, pa.Table.from_pylist([row], schema=FAILURES_SCHEMA))
    return key


def clear_failures(out_root: str, video_id: str) -> None:
    """Drop a video's failure rows before it is redone (a fixed video must not stay listed).
    Crash point: `commit:clearing-failures`, after the first one is gone."""
    own = re.compile(
        rf"{re.escape(check_video_id(video_id))}-[0-9a-f]{{{_FAILURE_KEY_HEX}}}\.parquet"
    )
    fs, root = storage.resolve(storage.join(out_root, "_failures"))
    for info in fs.get_file_info(pafs.FileSelector(root, allow_not_found=True)):
        if own.fullmatch(info.base_name):
            fs.delete_file(info.path)
            crash_point("commit:clearing-failures")


# -- what is committed ------------------------------------------------------------------------


def read_record(out_root: str, video_id: str) -> VideoRecord | None:
    """A video's `_videos` record; None when there is none or it cannot be read (a zero-byte
    or corrupt record means "not done": the video is redone, with a warning)."""
    uri = record_uri(out_root, video_id)
    try:
        table = pq.read_table(io.BytesIO(storage.read_bytes(uri)))
    except FileNotFoundError:
        return None
    except (pa.ArrowInvalid, OSError) as exc:
        if not storage.exists(uri):
            return None
        log.warning("%s: unreadable video record, the video will be redone (%s)", uri, exc)
        return None
    rows = table.to_pylist()
    if len(rows) != 1:
        log.warning("%s: expected one record row, found %d; redoing the video", uri, len(rows))
        return None
    values = {k: v for k, v in rows[0].items() if k in _RECORD_FIELDS}
    values.update({k: values.get(k) or "" for k in PROVENANCE})  # null before schema 4
    try:
        return VideoRecord(**values)
    except (TypeError, ValueError) as exc:
        log.warning("%s: invalid video record (%s); redoing the video", uri, exc)
        return None


def committed_record(out_root: str, video_id: str) -> VideoRecord | None:
    """The record of a video whose rows are committed (see `_is_committed`), else None."""
    record = read_record(out_root, video_id)
    return record if record is not None and _is_committed(out_root, record) else None


def video_done(out_root: str, video_id: str, identity: RunIdentity | None = None) -> bool:
    """True when the video's rows are committed and, given `identity`, were produced by the
    same weights and settings (the tgram version is recorded, not compared: a new release
    does not redo an archive; records older than schema 4 carry none and count as done)."""
    record = committed_record(out_root, video_id)
    if record is None:
        return False
    if identity is None or not record.weights_sha256:
        return True
    return (record.weights_sha256, record.config_hash) == (
        identity.weights_sha256,
        identity.config_hash,
    )


def committed_video_ids(out_root: str) -> list[str]:
    """Ids of the videos whose rows are committed, sorted."""
    return [r.video_id for r, committed in video_records(out_root) if committed]


def _is_committed(out_root: str, record: VideoRecord) -> bool:
    """Status ok and the record's token in the rows file's footer; a record older than
    schema 4 has no token and needs only a rows file without one."""
    if record.status != "ok":
        return False
    return _rows_token(out_root, record.video_id) == (record.commit or _NO_TOKEN)


VideoRecords = list[tuple[VideoRecord, bool]]
"""Readable `_videos` records, each with whether its rows are committed, sorted by video."""


def video_records(out_root: str, video_ids: Iterable[str] | None = None) -> VideoRecords:
    """The records of every video (a listing of `_videos`) or of `video_ids` only, and whether
    each one's rows are committed; reads the records and the footers of ok videos' rows files
    in parallel (a few GETs a video on S3), so a reader scoped to a few videos of a large
    archive reads a few records, not all."""
    if video_ids is None:
        fs, root = storage.resolve(storage.join(out_root, "_videos"))
        infos = fs.get_file_info(pafs.FileSelector(root, allow_not_found=True))
        names = (
            i.base_name.removesuffix(".parquet") for i in infos if i.type == pafs.FileType.File
        )
        ids = sorted(n for n in names if SAFE_ID.fullmatch(n))
    else:
        ids = sorted({check_video_id(v) for v in video_ids})

    def load(vid: str) -> tuple[VideoRecord, bool] | None:
        record = read_record(out_root, vid)
        return None if record is None else (record, _is_committed(out_root, record))

    if len(ids) <= 1:  # starting threads would cost more than the reads
        loaded = [load(vid) for vid in ids]
    else:
        with ThreadPoolExecutor(_READ_THREADS) as pool:
            loaded = list(pool.map(load, ids))
    return [r for r in loaded if r is not None]


def _rows_token(out_root: str, video_id: str) -> str | None:
    """The commit token in a rows file's footer; `_NO_TOKEN` for a file without one (written
    before schema 4), "" for one that cannot be read, None when there is none."""
    fs, path = storage.resolve(trajectory_uri(out_root, video_id))
    try:
        with fs.open_input_file(path) as f:
            metadata = pq.read_schema(f).metadata or {}
    except FileNotFoundError:
        return None
    except (pa.ArrowInvalid, OSError):
        return None if not storage.exists(trajectory_uri(out_root, video_id)) else ""
    token = metadata.get(COMMIT_KEY)
    return token.decode() if token is not None else _NO_TOKEN


def trajectory_dataset(
    out_root: str, video_ids: Iterable[str] | None = None, *, records: VideoRecords | None = None
) -> pads.Dataset:
    """The committed trajectory files as one Hive-partitioned dataset: filters on video_id
    skip whole files. With `video_ids`, only those of them that are committed; `records`
    (from `video_records`) saves reading them again."""
    fs, root = storage.resolve(out_root)
    records = video_records(out_root, video_ids) if records is None else records
    wanted = [r.video_id for r, committed in records if committed]
    paths = [storage.resolve(trajectory_uri(out_root, v))[1] for v in wanted]
    return pads.dataset(
        paths,
        schema=TRAJECTORY_SCHEMA,
        format="parquet",
        filesystem=fs,
        partitioning=_HIVE,
        partition_base_dir=root,
    )


def read_trajectories(out_root: str, video_ids: Iterable[str] | None = None) -> pa.Table:
    """Committed rows of some or all videos; sorted by video, frame, track."""
    table = trajectory_dataset(out_root, video_ids).to_table()
    return table.sort_by(
        [("video_id", "ascending"), ("frame", "ascending"), ("track_id", "ascending")]
    )


def videos_table(
    out_root: str, video_ids: Iterable[str] | None = None, *, records: VideoRecords | None = None
) -> pa.Table:
    """The `_videos` records that hold (of `video_ids`, if given): failed ones, and ok ones
    whose rows are committed."""
    records = video_records(out_root, video_ids) if records is None else records
    holding = [r for r, committed in records if committed or r.status == "failed"]
    return pa.Table.from_pylist([asdict(r) for r in holding], schema=VIDEOS_SCHEMA)


def failures_table(out_root: str, video_ids: Iterable[str] | None = None) -> pa.Table:
    """The `_failures` rows (of `video_ids`, if given; empty when nothing failed); unreadable
    files are skipped, with a warning."""
    fs, root = storage.resolve(storage.join(out_root, "_failures"))
    wanted = None if video_ids is None else {check_video_id(v) for v in video_ids}
    tables = []
    for info in fs.get_file_info(pafs.FileSelector(root, allow_not_found=True)):
        if info.type != pafs.FileType.File or not info.base_name.endswith(".parquet"):
            continue
        if wanted is not None and not any(info.base_name.startswith(f"{v}-") for v in wanted):
            continue  # "a-b-<hash>" also starts with "a-": the rows are filtered below
        try:
            with fs.open_input_file(info.path) as f:
                tables.append(pq.read_table(f, schema=FAILURES_SCHEMA))
        except (pa.ArrowInvalid, OSError) as exc:
            log.warning("%s: unreadable failure record skipped (%s)", info.path, exc)
    table = pa.concat_tables(tables) if tables else FAILURES_SCHEMA.empty_table()
    if wanted is not None:
        table = table.filter(pc.is_in(table["video_id"], pa.array(sorted(wanted))))
    return table


def _parquet_bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return buffer.getvalue()


def _write_parquet(uri: str, table: pa.Table) -> None:
    storage.write_bytes(uri, _parquet_bytes(table))


def to_results(table: pa.Table) -> np.ndarray:
    """Trajectory rows of one video as MOTChallenge result rows (formats.RESULT_DTYPE), the
    form `tgram eval` and the renderers take."""
    from tgram.data.formats import RESULT_DTYPE

    rows = np.zeros(table.num_rows, RESULT_DTYPE)
    for name in ("frame", "x", "y", "w", "h", "score"):
        rows[name] = table[name].to_numpy()
    rows["id"] = table["track_id"].to_numpy()
    return rows
