"""A video's meta JSON (`meta/<id>.json`): the one contract for where and when a satellite
looked, written by `tgram synth` (or whoever ingests real imagery), located beside a video,
and read by georeferencing (tgram.pipeline.geo) and the batch job.

Keys: video_id, fps, width, height, frames, start_time (ISO 8601 UTC), crs, geotransform
(GDAL order), gsd_m, place; synthetic videos add platform_shift_px (their motion truth) and
style. Readers need fps, start_time, crs and geotransform only.
"""

from __future__ import annotations

import json
import math
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from pyproj import CRS
from pyproj.exceptions import CRSError

from tgram import storage
from tgram.data.video import VIDEO_SUFFIXES


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


def video_meta_record(
    video_id: str,
    *,
    fps: float,
    width: int,
    height: int,
    frames: int,
    start: datetime,
    crs: str,
    origin_xy: tuple[float, float],
    gsd_m: float,
    place: str,
    platform_shift_px: Sequence[Sequence[float]] | None = None,
    view_angle_deg: float = 0.0,
) -> dict[str, object]:
    """The meta JSON of a video (`meta/<id>.json`): timing and a GDAL geotransform with its
    top-left corner at `origin_xy` (metres in `crs`), north-up or with the image's x axis
    turned `view_angle_deg` from east towards south (y down, as image axes turn).

    `platform_shift_px` (synthetic videos only, see `platform_shift`): one [dx, dy] per
    frame; None leaves the key out, so real videos' meta keeps its keys.
    """
    x0, y0 = origin_xy
    record: dict[str, object] = {
        "video_id": video_id,
        "fps": fps,
        "width": width,
        "height": height,
        "frames": frames,
        "start_time": start.isoformat().replace("+00:00", "Z"),
        "crs": crs,
        "geotransform": _geotransform(x0, y0, gsd_m, view_angle_deg),
        "gsd_m": gsd_m,
        "place": place,
    }
    if platform_shift_px is not None:
        shift = [[float(v) for v in pair] for pair in platform_shift_px]
        if len(shift) != frames or any(len(pair) != 2 for pair in shift):
            raise ValueError(
                f"{video_id}: platform_shift_px needs one [dx, dy] per frame ({frames}), got {len(shift)}"
            )
        record["platform_shift_px"] = shift
    return record


def _geotransform(x0: float, y0: float, gsd_m: float, angle_deg: float) -> list[float]:
    """GDAL order: X = x0 + col g1 + row g2, Y = y0 + col g4 + row g5; a column step is the
    world direction (cos, sin) in image axes (y down, so northing falls with sin)."""
    if angle_deg == 0.0:
        return [x0, gsd_m, 0.0, y0, 0.0, -gsd_m]
    a = math.radians(angle_deg)
    c, s = round(math.cos(a), 12) + 0.0, round(math.sin(a), 12) + 0.0
    return [x0, gsd_m * c, -gsd_m * s, y0, -gsd_m * s, -gsd_m * c]


def platform_shift(offsets: np.ndarray | Sequence[Sequence[float]]) -> list[list[float]]:
    """The meta's `platform_shift_px` from the world position of each frame's top-left corner
    ([frames, 2] px): shift[t] = offsets[0] - offsets[t], rounded to 3 decimals.

    It is the image displacement of static ground since frame 0 (a ground point at p in
    frame 0 is at p + shift[t] in frame t), which a tracker's camera-motion compensation
    or a speed estimate has to take out; shift[0] is [0, 0].
    """
    o = np.asarray(offsets, np.float64).reshape(-1, 2)
    return (np.round(o[0] - o, 3) + 0.0).tolist()  # + 0.0: no -0.0 in the JSON
