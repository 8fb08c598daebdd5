"""SQL over a trajectory output (local or s3://) with DuckDB.

The Parquet is read through pyarrow datasets registered as DuckDB tables, so S3 goes through
pyarrow.fs (DuckDB's httpfs extension would need a download) and DuckDB pushes filters into
the scan: `WHERE video_id = '...'` opens only that video's file. What costs is knowing which
videos are committed (a record and a rows footer per video), so a store reads them once, only
when a query first names `trajectories` or `videos`, and a store scoped to some videos
(`videos=`, `tgram query --video`) reads only theirs: a one-video query of a large archive
touches that video's three files.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from tgram import storage
from tgram.pipeline.trajectories import (
    VideoRecords,
    failures_table,
    trajectory_dataset,
    video_records,
    videos_table,
)

TABLES = ("trajectories", "videos", "failures")
"""The SQL table names: the committed videos' rows (a dataset, read lazily), their records and
the failure rows (small tables)."""
LONGEST_TRACKS = 10
"""How many tracks the summary lists, longest first."""

_TRACKS_SQL = """
SELECT video_id, track_id, any_value(class) AS class, count(*) AS rows,
       min(frame) AS first_frame, max(frame) AS last_frame, min(t) AS first_t, max(t) AS last_t,
       avg(speed_mps) AS mean_speed_mps, count(*) FILTER (WHERE {match}) AS matching_rows
FROM trajectories WHERE {scan}
GROUP BY video_id, track_id
HAVING count(*) FILTER (WHERE {match}) > 0 AND {track}
ORDER BY video_id, track_id
"""


@dataclass(frozen=True)
class TrackFilter:
    """Tracks with at least one row inside every given row condition, whose mean speed
    exceeds `min_speed_mps` (None: no condition). Naive datetimes are taken as UTC."""

    video_id: str | None = None
    class_name: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    """lon_min, lat_min, lon_max, lat_max (WGS84 degrees, inclusive)."""
    start: datetime | None = None
    end: datetime | None = None
    min_speed_mps: float | None = None
    """Mean over the track, not one row: single-row Kalman velocities are noisy."""

    def __post_init__(self) -> None:
        if self.bbox is not None:
            if len(self.bbox) != 4:
                raise ValueError(
                    f"bbox: expected (lon_min, lat_min, lon_max, lat_max), got {self.bbox}"
                )
            lon_min, lat_min, lon_max, lat_max = self.bbox
            if lon_min > lon_max or lat_min > lat_max:
                raise ValueError(
                    f"bbox: expected lon_min <= lon_max and lat_min <= lat_max, got {self.bbox}"
                )
        if (
            self.start is not None
            and self.end is not None
            and _as_utc(self.start) > _as_utc(self.end)
        ):
            raise ValueError(f"time window: start {self.start} is after end {self.end}")
        if self.min_speed_mps is not None and self.min_speed_mps < 0:
            raise ValueError(f"min_speed_mps: expected >= 0, got {self.min_speed_mps}")

    def sql(self) -> tuple[str, dict[str, Any]]:
        """The track query with named parameters; only the video_id condition is applied
        to the scan (it prunes files), the rest decide per track."""
        scan, match, track = ["TRUE"], ["TRUE"], ["TRUE"]
        params: dict[str, Any] = {}
        if self.video_id is not None:
            scan.append("video_id = $video_id")
            params["video_id"] = self.video_id
        if self.class_name is not None:
            match.append("class = $class_name")
            params["class_name"] = self.class_name
        if self.bbox is not None:
            match.append("lon BETWEEN $lon_min AND $lon_max AND lat BETWEEN $lat_min AND $lat_max")
            params.update(zip(("lon_min", "lat_min", "lon_max", "lat_max"), self.bbox, strict=True))
        if self.start is not None:
            match.append("t >= $start")
            params["start"] = _as_utc(self.start)
        if self.end is not None:
            match.append("t <= $end")
            params["end"] = _as_utc(self.end)
        if self.min_speed_mps is not None:
            track.append("avg(speed_mps) > $min_speed_mps")
            params["min_speed_mps"] = self.min_speed_mps
        sql = _TRACKS_SQL.format(
            scan=" AND ".join(scan), match=" AND ".join(match), track=" AND ".join(track)
        )
        return sql, params


_DATABASES: dict[tuple[int, bool], duckdb.DuckDBPyConnection] = {}
_DATABASES_LOCK = threading.Lock()


def _database(external_access: bool) -> duckdb.DuckDBPyConnection:
    """This process's in-memory DuckDB of either access mode. Opening one costs ~10 ms, a
    cursor on it ~0.2 ms, and a one-video query ~10 ms in all, so stores take cursors (each
    with its own registered tables) of a database opened once; keyed by pid, since a forked
    child must not share its parent's. Without external access the database refuses file
    access for good: DuckDB cannot switch it back on while it runs."""
    key = (os.getpid(), external_access)
    with _DATABASES_LOCK:
        if key not in _DATABASES:
            database = duckdb.connect()
            if not external_access:
                database.execute("SET enable_external_access = false")
            _DATABASES[key] = database
        return _DATABASES[key]


class TrajectoryStore:
    """One output root opened for SQL: a DuckDB connection with the tables `trajectories`,
    `videos` and `failures` of every video, or of `videos` only. Each table is listed when a
    query first names it, then kept (reopen to see newer videos).

    The tables are read through pyarrow, so DuckDB itself needs no file access: it is
    switched off (no `read_text('/etc/...')`, no `COPY ... TO` any path, no extension
    installs from a query string) unless `external_access`; SQL cannot switch it back on.
    """

    def __init__(
        self,
        out_root: str,
        *,
        videos: Sequence[str] | None = None,
        external_access: bool = False,
    ) -> None:
        if not storage.exists(out_root):
            raise FileNotFoundError(f"{out_root}: no trajectory output here")
        self.out_root = out_root
        self.videos = None if videos is None else list(videos)
        self.connection = _database(external_access).cursor()
        self.connection.execute("SET TimeZone = 'UTC'")
        self._records: VideoRecords | None = None
        self._registered: set[str] = set()

    def _register(self, sql: str) -> None:
        """Register the tables `sql` names (a word match, so a name inside a string literal
        only costs a listing) that are not registered yet."""
        for name in TABLES:
            if name in self._registered or not re.search(rf"\b{name}\b", sql, re.IGNORECASE):
                continue
            if name == "failures":
                table = failures_table(self.out_root, self.videos)
            else:
                if self._records is None:
                    self._records = video_records(self.out_root, self.videos)
                reader = trajectory_dataset if name == "trajectories" else videos_table
                table = reader(self.out_root, records=self._records)
            self.connection.register(name, table)
            self._registered.add(name)

    def query(self, sql: str, params: list[Any] | dict[str, Any] | None = None) -> pa.Table:
        """Run `sql` (with ? or $name parameters); a statement without a result (SET ...) gives
        an empty table, a DuckDB error a one-line ValueError."""
        self._register(sql)
        try:
            relation = self.connection.sql(sql, params=params)
            return pa.table({}) if relation is None else relation.to_arrow_table()
        except duckdb.Error as exc:
            raise ValueError(f"query failed: {' '.join(str(exc).split())}") from None

    def find_tracks(self, track_filter: TrackFilter) -> pa.Table:
        """One row per matching track, summarised over the whole track."""
        return self.query(*track_filter.sql())

    def summary(self) -> dict[str, pa.Table]:
        """Videos by status, failures by stage, tracks and mean speed per class, longest tracks."""
        return {
            "videos": self.query(
                """SELECT status, count(*) AS videos, sum(frames) AS frames, sum(n_rows) AS rows,
                          sum(seconds) AS seconds FROM videos GROUP BY status ORDER BY status"""
            ),
            "failures": self.query(
                "SELECT stage, count(*) AS clips, count(DISTINCT video_id) AS videos FROM failures GROUP BY stage ORDER BY stage"
            ),
            "classes": self.query(
                """SELECT class, count(DISTINCT (video_id, track_id)) AS tracks, count(*) AS rows,
                          avg(speed_mps) AS mean_speed_mps FROM trajectories GROUP BY class ORDER BY class"""
            ),
            "longest tracks": self.query(
                """SELECT video_id, track_id, any_value(class) AS class, max(frame) - min(frame) + 1 AS frames,
                          epoch(max(t) - min(t)) AS seconds, avg(speed_mps) AS mean_speed_mps
                   FROM trajectories GROUP BY video_id, track_id
                   ORDER BY frames DESC, video_id, track_id LIMIT $limit""",
                {"limit": LONGEST_TRACKS},
            ),
        }

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> TrajectoryStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def query(
    out_root: str,
    sql: str,
    params: list[Any] | dict[str, Any] | None = None,
    *,
    videos: Sequence[str] | None = None,
    external_access: bool = False,
) -> pa.Table:
    """`sql` over the output's tables, of `videos` only when given (see TrajectoryStore)."""
    with TrajectoryStore(out_root, videos=videos, external_access=external_access) as store:
        return store.query(sql, params)


def summary(out_root: str) -> dict[str, pa.Table]:
    with TrajectoryStore(out_root) as store:
        return store.summary()


def find_tracks(out_root: str, track_filter: TrackFilter) -> pa.Table:
    """Tracks matching `track_filter`; one video's only read that video's files."""
    scope = None if track_filter.video_id is None else [track_filter.video_id]
    with TrajectoryStore(out_root, videos=scope) as store:
        return store.find_tracks(track_filter)


def tracks_in_bbox(
    out_root: str,
    lon_min: float,
    lat_min: float,
    lon_max: float,
    lat_max: float,
    t_start: datetime | None = None,
    t_end: datetime | None = None,
) -> pa.Table:
    """Tracks seen inside the lon/lat box (during [t_start, t_end] when given)."""
    return find_tracks(
        out_root, TrackFilter(bbox=(lon_min, lat_min, lon_max, lat_max), start=t_start, end=t_end)
    )


def tracks_of_class(out_root: str, class_name: str) -> pa.Table:
    return find_tracks(out_root, TrackFilter(class_name=class_name))


def tracks_faster_than(out_root: str, mps: float) -> pa.Table:
    """Tracks whose mean speed exceeds `mps` metres per second (georeferenced videos only)."""
    return find_tracks(out_root, TrackFilter(min_speed_mps=mps))


def export(table: pa.Table, path: str | Path) -> str:
    """Write a result as CSV or Parquet (chosen by the suffix), locally or to s3://."""
    suffix = Path(str(path)).suffix.lower()
    sink = pa.BufferOutputStream()
    if suffix == ".csv":
        pacsv.write_csv(table, sink)
    elif suffix == ".parquet":
        pq.write_table(table, sink)
    else:
        raise ValueError(f"{path}: expected a .csv or .parquet output file")
    storage.write_bytes(str(path), sink.getvalue().to_pybytes())
    return str(path)


def to_text(table: pa.Table, max_rows: int = 40) -> str:
    """A fixed-width table for the terminal, cut after `max_rows` rows."""
    text = table.slice(0, max_rows).to_pandas().to_string(index=False)
    if table.num_rows > max_rows:
        text += f"\n... {table.num_rows - max_rows} more rows"
    return text


def _as_utc(moment: datetime) -> datetime:
    return (
        moment.replace(tzinfo=timezone.utc)
        if moment.tzinfo is None
        else moment.astimezone(timezone.utc)
    )
