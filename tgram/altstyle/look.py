"""A video's look: what a sensor, a season and a city make of the same kinds of objects.

Drawn once per video from its own generator. Ranges follow very-high-resolution satellite
video (SkySat, Jilin-1 class sensors) rather than any renderer: muted colours, a blue-grey
haze, a sun 25-65 degrees up, a Gaussian optical blur of 0.5-1.1 px, signal-dependent noise
and, in most videos, the 8x8 JPEG blocking of an on-board or ground-segment transcode before
the archive's own H.264.
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass

import numpy as np

from tgram.altstyle.config import AltStyleConfig

RGB = tuple[float, float, float]

CAR_COLOURS: tuple[tuple[str, float, RGB], ...] = (
    ("white", 0.24, (226.0, 226.0, 222.0)),
    ("black", 0.20, (28.0, 29.0, 32.0)),
    ("grey", 0.17, (108.0, 110.0, 114.0)),
    ("silver", 0.15, (172.0, 174.0, 178.0)),
    ("blue", 0.08, (42.0, 62.0, 118.0)),
    ("red", 0.07, (150.0, 34.0, 32.0)),
    ("other", 0.09, (0.0, 0.0, 0.0)),
)
"""Roof colours of traffic and their shares (white, black and greys dominate worldwide);
"other" is drawn per car from the whole hue circle."""


def shade(rgb: RGB, k: float) -> RGB:
    """`rgb` scaled by `k`, clipped to 255."""
    return (min(255.0, rgb[0] * k), min(255.0, rgb[1] * k), min(255.0, rgb[2] * k))


def _hsv(h: float, s: float, v: float) -> RGB:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
    return (255.0 * r, 255.0 * g, 255.0 * b)


@dataclass(frozen=True)
class Look:
    gsd_m: float
    grid_angle: float
    """Street grid direction, radians from the image x axis."""
    sun: tuple[float, float]
    """Unit image direction shadows fall along."""
    shadow_per_m: float
    """Shadow length in px per metre of object height (cot of the sun's elevation / gsd)."""
    asphalt: RGB
    ground: tuple[RGB, ...]
    """Block fill colours: lawn, bare soil, pavement, a crop field."""
    roofs: tuple[RGB, ...]
    water: RGB
    blur_sigma: float
    noise: float
    """Grey levels of read noise; shot noise adds sqrt(signal) x noise / 8."""
    haze: float
    """Share of airlight mixed into every pixel."""
    airlight: RGB
    gain: RGB
    """Per-channel white balance."""
    saturation: float
    gamma: float
    jpeg_quality: int | None
    traffic: float
    place: str
    meta: dict[str, object]
    """What the meta JSON records of the look."""


def draw_look(cfg: AltStyleConfig, rng: np.random.Generator) -> Look:
    gsd = float(rng.uniform(*cfg.gsd_range))
    # a third of cities are laid out on the compass, the rest at any angle
    angle = (
        float(rng.normal(0.0, 0.02)) if rng.random() < 1 / 3 else float(rng.uniform(0, math.pi / 2))
    )
    azimuth = float(rng.uniform(0, 2 * math.pi))
    elevation = math.radians(float(rng.uniform(25, 65)))
    season = str(rng.choice(["summer", "autumn", "dry", "winter"]))
    hue = {"summer": 0.27, "autumn": 0.11, "dry": 0.09, "winter": 0.2}[season]
    sat = {"summer": 0.45, "autumn": 0.5, "dry": 0.3, "winter": 0.12}[season]
    bright = float(rng.uniform(0.45, 0.7))
    ground = (
        _hsv(hue + rng.normal(0, 0.02), sat * rng.uniform(0.7, 1.2), bright * 0.75),
        _hsv(0.08 + rng.normal(0, 0.02), rng.uniform(0.2, 0.4), bright * rng.uniform(0.8, 1.05)),
        _hsv(0.1, rng.uniform(0.02, 0.08), bright * rng.uniform(0.95, 1.3)),
        _hsv(
            hue + rng.normal(0, 0.05), sat * rng.uniform(0.5, 1.0), bright * rng.uniform(0.6, 0.95)
        ),
    )
    tar = float(rng.uniform(55, 115))
    roofs = tuple(
        _hsv(
            float(rng.choice([0.03, 0.07, 0.55, 0.1])),
            float(rng.uniform(0, 0.45)),
            float(rng.uniform(0.3, 0.9)),
        )
        for _ in range(5)
    )
    cast = float(rng.uniform(-0.06, 0.06))
    jpeg = int(rng.integers(35, 90)) if rng.random() < 0.7 else None
    water = _hsv(
        float(rng.uniform(0.45, 0.6)), float(rng.uniform(0.25, 0.6)), float(rng.uniform(0.18, 0.35))
    )
    blur, noise, haze = (
        float(rng.uniform(0.5, 1.1)),
        float(rng.uniform(1.0, 5.0)),
        float(rng.uniform(0.0, 0.3)),
    )
    saturation, gamma = float(rng.uniform(0.5, 1.0)), float(rng.uniform(0.85, 1.2))
    traffic = cfg.traffic * float(rng.uniform(0.6, 1.4))
    return Look(
        gsd_m=gsd,
        grid_angle=angle,
        sun=(math.cos(azimuth), math.sin(azimuth)),
        shadow_per_m=1.0 / math.tan(elevation) / gsd,
        asphalt=(tar, tar * 1.01, tar * 1.04),
        ground=ground,
        roofs=roofs,
        water=water,
        blur_sigma=blur,
        noise=noise,
        haze=haze,
        airlight=(175.0, 185.0, 200.0),
        gain=(1.0 + cast, 1.0, 1.0 - cast),
        saturation=saturation,
        gamma=gamma,
        jpeg_quality=jpeg,
        traffic=traffic,
        place=f"altstyle-{season}",
        meta={
            "renderer": "tgram.altstyle",
            "gsd_m": round(gsd, 4),
            "grid_angle_deg": round(math.degrees(angle), 2),
            "season": season,
            "sun_elevation_deg": round(math.degrees(elevation), 1),
            "blur_sigma": round(blur, 3),
            "noise": round(noise, 2),
            "haze": round(haze, 3),
            "jpeg_quality": jpeg,
            "traffic": round(traffic, 3),
        },
    )


def car_colour(rng: np.random.Generator) -> RGB:
    """A roof colour from CAR_COLOURS' shares, each car a little lighter or darker."""
    shares = np.array([c[1] for c in CAR_COLOURS])
    name, _, rgb = CAR_COLOURS[int(rng.choice(len(CAR_COLOURS), p=shares / shares.sum()))]
    if name == "other":
        rgb = _hsv(
            float(rng.random()), float(rng.uniform(0.4, 0.8)), float(rng.uniform(0.35, 0.85))
        )
    return shade(rgb, float(rng.uniform(0.9, 1.1)))
