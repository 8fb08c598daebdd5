"""Georeferencing of trajectory rows: pixel boxes and frame numbers -> UTC time, lon/lat, m/s.

A video's meta JSON (written by `tgram synth`, or by whoever ingests real imagery) says when
and where the satellite looked. Without it the rows keep their pixel boxes and the
geographic columns are null, so one archive can mix georeferenced and raw videos.
"""

from __future__ import annotations

import json
import math
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pyarrow as pa
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from tgram import storage
from tgram.data.video import VIDEO_SUFFIXES

GEO_COLUMNS = ("t", "lon", "lat", "speed_mps")
"""Columns `georeference` adds (and replaces if present)."""


@dataclass(frozen=True)
class VideoMeta:
    """What georeferencing needs from a video's meta JSON."""

    fps: float
    start_time: datetime
    """UTC time of frame 0."""
    crs: str
    """The projected CRS the geotransform is in, e.g. "EPSG:32650" (UTM 50N)."""
    geotransform: tuple[float, float, float, float, float, float]
    """GDAL order: x0, pixel width, row rotation, y0, column rotation, pixel height (< 0 north-up)."""
    gsd_m: float
    """Ground sampling distance, metres per pixel: turns px/frame into m/s."""

    def __post_init__(self) -> None:
        if len(self.geotransform) != 6:
            raise ValueError(
                f"geotransform: expected 6 numbers (GDAL order), got {len(self.geotransform)}"
            )
        if not self.fps > 0:
            raise ValueError(f"fps: expected > 0, got {self.fps}")
        if not self.gsd_m > 0:
            raise ValueError(f"gsd_m: expected > 0, got {self.gsd_m}")
        if self.start_time.tzinfo is None:
            raise ValueError("start_time: expected a time zone (ISO 8601 with 'Z' or an offset)")
        try:
            CRS.from_user_input(self.crs)
        except CRSError:
            raise ValueError(
                f"crs: expected a CRS such as 'EPSG:32650', got {self.crs!r}"
            ) from None


def load_meta(uri: str) -> VideoMeta | None:
    """The meta JSON at `uri`, or None if there is none (rows then have null t/lon/lat/speed).

    Keys: fps, start_time (ISO 8601 UTC), crs, geotransform; gsd_m defaults to the length of a
    column step (the pixel width, whether or not the image is north-up).
    """
    if not storage.exists(uri):
        return None
    try:
        raw: dict[str, Any] = json.loads(storage.read_bytes(uri))
        geotransform = tuple(float(v) for v in raw["geotransform"])
        pixel_width = (
            math.hypot(geotransform[1], geotransform[4]) if len(geotransform) == 6 else float("nan")
        )
        return VideoMeta(
            fps=float(raw["fps"]),
            start_time=datetime.fromisoformat(str(raw["start_time"]).replace("Z", "+00:00")),
            crs=str(raw["crs"]),
            geotransform=geotransform,  # type: ignore[arg-type]  # length checked by VideoMeta
            gsd_m=float(raw.get("gsd_m", pixel_width)),
        )
    except KeyError as exc:
        raise ValueError(f"{uri}: bad video meta JSON: missing key {exc}") from None
    except (ValueError, TypeError, AttributeError) as exc:
        reason = " ".join(str(exc).split())
        raise ValueError(f"{uri}: bad video meta JSON: {reason}") from None


def meta_uri_for(video_uri: str) -> str:
    """Where an archive keeps a video's meta: `<seq>/meta.json` inside an image sequence,
    `meta/<file stem>.json` beside the `videos/` folder of a video-file archive (the
    `tgram synth` layout)."""
    path = video_uri.rstrip("/")
    stem, suffix = posixpath.splitext(posixpath.basename(path))
    if suffix.lower() not in VIDEO_SUFFIXES:
        return storage.join(video_uri, "meta.json")
    videos_dir = posixpath.dirname(path)
    return storage.join(posixpath.dirname(videos_dir), "meta", f"{stem}.json")


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
