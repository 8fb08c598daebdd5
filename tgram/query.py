"""SQL over a trajectory output (local or s3://) with DuckDB.

The Parquet is read through pyarrow datasets registered as DuckDB views, so S3 goes through
pyarrow.fs (DuckDB's httpfs extension would need a download) and DuckDB pushes filters down
into the scan: `WHERE video_id = '...'` reads only that video's partition.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from tgram import storage
from tgram.pipeline.trajectories import (
    FAILURES_SCHEMA,
    VIDEOS_SCHEMA,
    table_dataset,
    trajectory_dataset,
)

TABLES = ("trajectories", "videos", "failures")


def connect(out_root: str) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the tables `trajectories`, `videos` and `failures`."""
    if not storage.exists(out_root):
        raise FileNotFoundError(f"{out_root}: no trajectory output here")
    con = duckdb.connect()
    con.register("trajectories", trajectory_dataset(out_root))
    con.register("videos", table_dataset(out_root, "_videos", VIDEOS_SCHEMA))
    con.register("failures", table_dataset(out_root, "_failures", FAILURES_SCHEMA))
    return con


def query(out_root: str, sql: str, params: list | None = None) -> pa.Table:
    try:
        return connect(out_root).sql(sql, params=params or None).to_arrow_table()
    except duckdb.Error as exc:
        raise ValueError(f"query failed: {' '.join(str(exc).split())}") from None


@dataclass(frozen=True)
class TrackFilter:
    """Tracks with at least one row matching every given condition (None: no condition)."""

    video_id: str | None = None
    class_name: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    """lon_min, lat_min, lon_max, lat_max (WGS84)."""
    start: datetime | None = None
    end: datetime | None = None
    min_speed_mps: float | None = None

    def where(self) -> tuple[str, list]:
        clauses, params = [], []
        if self.video_id is not None:
            clauses.append("video_id = ?")
            params.append(self.video_id)
        if self.class_name is not None:
            clauses.append("class = ?")
            params.append(self.class_name)
        if self.bbox is not None:
            clauses.append("lon BETWEEN ? AND ? AND lat BETWEEN ? AND ?")
            params += [self.bbox[0], self.bbox[2], self.bbox[1], self.bbox[3]]
        if self.start is not None:
            clauses.append("t >= ?")
            params.append(self.start)
        if self.end is not None:
            clauses.append("t <= ?")
            params.append(self.end)
        if self.min_speed_mps is not None:
            clauses.append("speed_mps > ?")
            params.append(self.min_speed_mps)
        return (" AND ".join(clauses) or "TRUE"), params


def find_tracks(out_root: str, track_filter: TrackFilter) -> pa.Table:
    """One row per matching track: where and when it was seen, how fast it went."""
    where, params = track_filter.where()
    sql = f"""
        SELECT video_id, track_id, any_value(class) AS class, count(*) AS rows,
               min(frame) AS first_frame, max(frame) AS last_frame, min(t) AS first_t, max(t) AS last_t,
               avg(lon) AS lon, avg(lat) AS lat, avg(speed_mps) AS mean_speed_mps
        FROM trajectories WHERE {where}
        GROUP BY video_id, track_id ORDER BY video_id, track_id"""
    return query(out_root, sql, params)


def summary(out_root: str) -> dict[str, pa.Table]:
    """Videos by status, tracks per class, and the longest tracks."""
    return {
        "videos": query(out_root, "SELECT status, count(*) AS videos, sum(frames) AS frames FROM videos GROUP BY status ORDER BY status"),
        "classes": query(
            out_root,
            """SELECT class, count(DISTINCT (video_id, track_id)) AS tracks, count(*) AS rows,
                      avg(speed_mps) AS mean_speed_mps FROM trajectories GROUP BY class ORDER BY class""",
        ),
        "longest tracks": query(
            out_root,
            """SELECT video_id, track_id, any_value(class) AS class, count(*) AS rows FROM trajectories
               GROUP BY video_id, track_id ORDER BY rows DESC, video_id, track_id LIMIT 10""",
        ),
    }


def export(table: pa.Table, path: str | Path) -> str:
    """Write a result as CSV or Parquet, chosen by the file suffix."""
    suffix = Path(str(path)).suffix.lower()
    if suffix == ".csv":
        sink = pa.BufferOutputStream()
        pacsv.write_csv(table, sink)
    elif suffix == ".parquet":
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
    else:
        raise ValueError(f"{path}: expected a .csv or .parquet output file")
    storage.write_bytes(str(path), sink.getvalue().to_pybytes())
    return str(path)


def to_text(table: pa.Table, max_rows: int = 40) -> str:
    """A plain fixed-width table for the terminal."""
    names = table.column_names
    rows = [[_cell(v) for v in row.values()] for row in table.slice(0, max_rows).to_pylist()]
    widths = [max([len(n)] + [len(r[i]) for r in rows]) for i, n in enumerate(names)]
    lines = ["  ".join(n.rjust(w) for n, w in zip(names, widths, strict=True))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    if table.num_rows > max_rows:
        lines.append(f"... {table.num_rows - max_rows} more rows")
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else str(value)
