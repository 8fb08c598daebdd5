"""Timing and georeference of a synthetic video: where and when the satellite looked."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import numpy as np
from pyproj import Transformer

from tgram.data.meta import video_meta_record
from tgram.synth.config import SynthConfig

CITIES = (
    ("Shanghai", 121.49, 31.23),
    ("Tianjin", 117.72, 39.0),
    ("Shenzhen", 113.9, 22.5),
    ("Rotterdam", 4.13, 51.95),
    ("San Diego", -117.17, 32.71),
    ("Dubai", 55.27, 25.26),
    ("Singapore", 103.84, 1.27),
)
"""Port cities with airports: the videos' plausible origins (lon, lat)."""


def video_meta(
    cfg: SynthConfig,
    video_id: str,
    rng: np.random.Generator,
    gsd_m: float | None = None,
    platform_shift_px: list[list[float]] | None = None,
    view_angle_deg: float = 0.0,
) -> dict[str, object]:
    """Timing and georeference: a UTM CRS and a GDAL geotransform at `gsd_m` m/px (the
    video's style draws it; None: cfg.gsd_m), north-up or turned by `view_angle_deg`
    (tgram.synth.view); `platform_shift_px` (formats.platform_shift) is recorded when given."""
    gsd = cfg.gsd_m if gsd_m is None else gsd_m
    city, lon, lat = CITIES[rng.integers(len(CITIES))]
    lon += rng.uniform(-0.05, 0.05)
    lat += rng.uniform(-0.05, 0.05)
    epsg = (32600 if lat >= 0 else 32700) + int((lon + 180) // 6) + 1
    easting, northing = Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True).transform(
        lon, lat
    )
    # the frame's top-left corner: its centre minus half the frame along the turned axes
    a = math.radians(view_angle_deg)
    c, s = math.cos(a), math.sin(a)
    half_w, half_h = cfg.width * gsd / 2, cfg.height * gsd / 2
    x0 = round(easting - half_w * c + half_h * s, 2)
    y0 = round(northing + half_w * s + half_h * c, 2)
    # Sun-synchronous pass near 10:30 local solar time.
    local_solar = timedelta(hours=10.5 + rng.uniform(-0.5, 0.5) - lon / 15)
    day = datetime(2023, 1, 1, tzinfo=timezone.utc) + timedelta(days=int(rng.integers(0, 365)))
    start = (day + local_solar).replace(microsecond=0)
    return video_meta_record(
        video_id,
        fps=cfg.fps,
        width=cfg.width,
        height=cfg.height,
        frames=cfg.frames,
        start=start,
        crs=f"EPSG:{epsg}",
        origin_xy=(x0, y0),
        gsd_m=gsd,
        place=city,
        platform_shift_px=platform_shift_px,
        view_angle_deg=view_angle_deg,
    )
