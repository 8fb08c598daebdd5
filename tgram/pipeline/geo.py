"""Georeferencing of trajectory rows: pixel boxes and frame numbers -> UTC time, lon/lat, m/s.

A video's meta JSON (written by `tgram synth`, or by whoever ingests real imagery) says when
and where the satellite looked. Without it the rows keep their pixel boxes and the
geographic columns are null, so one archive can mix georeferenced and raw videos.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timezone
from typing import Any

import numpy as np
import pyarrow as pa
from pyproj import Transformer

from tgram.data.meta import VideoMeta

GEO_COLUMNS = ("t", "lon", "lat", "speed_mps")
"""Columns `georeference` adds (and replaces if present)."""


def georeference(table_or_arrays: pa.Table | Mapping[str, Any], meta: VideoMeta | None) -> pa.Table:
    """Add t (UTC, frame / fps after the start), lon/lat (WGS84) of the box centres and
    speed_mps = |(vx, vy)| * gsd * fps; all null when `meta` is None.

    Needs the columns frame, x, y, w, h (top-left px) and vx, vy (px/frame); with x_stab,
    y_stab (the top-left in frame 0's grid, platform motion removed) lon/lat come from those.
    """
    table = (
        table_or_arrays
        if isinstance(table_or_arrays, pa.Table)
        else pa.table(dict(table_or_arrays))
    )
    missing = [c for c in ("frame", "x", "y", "w", "h", "vx", "vy") if c not in table.column_names]
    if missing:
        raise ValueError(f"georeference: missing columns {missing} (have {table.column_names})")
    values = _null_geo(table.num_rows) if meta is None else _geo(table, meta)
    table = table.drop_columns([c for c in GEO_COLUMNS if c in table.column_names])
    for name in GEO_COLUMNS:
        table = table.append_column(name, values[name])
    return table


def _geo(table: pa.Table, meta: VideoMeta) -> dict[str, pa.Array]:
    def column(name: str) -> np.ndarray:  # nulls (unknown velocity) read as NaN
        return table[name].to_numpy(zero_copy_only=False).astype(np.float64)

    start_ms = round(meta.start_time.astimezone(timezone.utc).timestamp() * 1000)
    t_ms = start_ms + np.round(column("frame") * (1000.0 / meta.fps)).astype(np.int64)
    stable = "x_stab" in table.column_names  # the grid of frame 0, which the geotransform is of
    col = column("x_stab" if stable else "x") + column("w") / 2
    row = column("y_stab" if stable else "y") + column("h") / 2
    x0, pixel_w, row_rot, y0, col_rot, pixel_h = meta.geotransform
    easting = x0 + col * pixel_w + row * row_rot
    northing = y0 + col * col_rot + row * pixel_h
    lon, lat = Transformer.from_crs(meta.crs, "EPSG:4326", always_xy=True).transform(
        easting, northing
    )
    speed = np.hypot(column("vx"), column("vy")) * meta.gsd_m * meta.fps
    return {
        "t": pa.array(t_ms, pa.timestamp("ms", tz="UTC")),
        "lon": pa.array(lon, pa.float64()),
        "lat": pa.array(lat, pa.float64()),
        "speed_mps": pa.array(speed.astype(np.float32), mask=np.isnan(speed)),
    }


def _null_geo(n: int) -> dict[str, pa.Array]:
    return {
        "t": pa.nulls(n, pa.timestamp("ms", tz="UTC")),
        "lon": pa.nulls(n, pa.float64()),
        "lat": pa.nulls(n, pa.float64()),
        "speed_mps": pa.nulls(n, pa.float32()),
    }
