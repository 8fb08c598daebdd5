"""The look of one held-out video, drawn from its seed: palette, scale, light, optics, sensor.

Palettes are land-cover families the training renderer does not draw (arid desert, snowy
winter, grey-brown autumn steppe, dark volcanic ground); colour is set per video by a white
balance (colour temperature), a saturation and a tone curve; optics by a defocus disk and an
anisotropic Gaussian; the sensor by signal-dependent noise with fixed-pattern row and column
banding; the atmosphere by an optional thin drifting haze.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from tgram.heldout.config import HeldoutConfig

RGB = tuple[float, float, float]


@dataclass(frozen=True)
class Palette:
    name: str
    terrain: tuple[RGB, ...]
    """Colour stops of the ground, from low to high terrain value."""
    water: RGB
    deep: RGB
    shore: RGB
    road: RGB
    highway: RGB
    lot: RGB
    apron: RGB
    roofs: tuple[RGB, ...]
    vegetation: RGB
    line: RGB
    place: str
    """Fake place name written to the meta file."""


PALETTES: tuple[Palette, ...] = (
    Palette(
        "arid",
        ((150, 118, 86), (184, 150, 112), (200, 170, 128), (216, 194, 154), (196, 166, 124)),
        (48, 104, 112),
        (34, 80, 96),
        (224, 208, 172),
        (98, 96, 94),
        (164, 158, 148),
        (86, 84, 84),
        (186, 182, 172),
        ((226, 218, 202), (208, 198, 180), (190, 124, 90), (238, 236, 230), (172, 162, 148)),
        (86, 92, 60),
        (232, 232, 222),
        "Qara Dunes (held-out)",
    ),
    Palette(
        "winter",
        ((104, 96, 88), (134, 124, 114), (202, 204, 208), (226, 230, 234), (236, 238, 242)),
        (44, 58, 68),
        (32, 44, 56),
        (208, 214, 220),
        (72, 74, 78),
        (96, 98, 102),
        (80, 82, 86),
        (152, 154, 158),
        ((238, 240, 242), (226, 228, 232), (92, 86, 82), (122, 72, 62), (200, 204, 210)),
        (38, 50, 44),
        (236, 236, 236),
        "Nordvik (held-out)",
    ),
    Palette(
        "steppe",
        ((112, 100, 72), (130, 116, 84), (148, 136, 100), (162, 150, 114), (138, 128, 96)),
        (70, 88, 84),
        (54, 72, 70),
        (172, 162, 132),
        (88, 88, 90),
        (124, 124, 126),
        (80, 80, 82),
        (164, 164, 160),
        ((152, 62, 50), (172, 92, 72), (122, 124, 128), (202, 198, 190), (92, 94, 98)),
        (66, 78, 48),
        (228, 228, 220),
        "Kurgan Flats (held-out)",
    ),
    Palette(
        "basalt",
        ((76, 72, 70), (92, 86, 80), (104, 98, 90), (120, 110, 98), (100, 94, 88)),
        (30, 72, 88),
        (22, 54, 72),
        (62, 60, 58),
        (62, 62, 64),
        (142, 140, 136),
        (66, 66, 68),
        (172, 170, 164),
        ((212, 212, 208), (182, 62, 52), (92, 112, 132), (232, 232, 228), (142, 142, 140)),
        (58, 86, 56),
        (224, 224, 218),
        "Hraun Bay (held-out)",
    ),
)


@dataclass(frozen=True)
class Style:
    palette: Palette
    gsd_m: float
    px_per_m: float
    """Vehicle pixels per metre (vehicle_scale / gsd)."""
    density: float
    water: str
    """coast or river."""
    sun_dx: float
    sun_dy: float
    """Shadow offset per px of object height."""
    shadow_dark: float
    saturation: float
    wb: RGB
    """Per-channel white-balance gains."""
    gamma: float
    contrast: float
    lift: float
    psf_radius: float
    """Defocus disk radius, px (0: none)."""
    psf_sigma: tuple[float, float]
    """Anisotropic Gaussian sigmas, px (major, minor)."""
    psf_angle: float
    read_noise: float
    shot_gain: float
    """Noise variance per grey level (signal-dependent, Poisson-like)."""
    row_band: float
    col_band: float
    haze: float
    """Largest haze opacity (0: no haze)."""
    haze_velocity: tuple[float, float]
    vignette: float
    meta: dict[str, object] = field(default_factory=dict)

    def saturate(self, c: RGB) -> RGB:
        y = 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]
        return tuple(float(min(255.0, max(0.0, y + self.saturation * (v - y)))) for v in c)  # type: ignore[return-value]


def draw_style(cfg: HeldoutConfig, rng: np.random.Generator) -> Style:
    palette = PALETTES[int(rng.integers(len(PALETTES)))]
    gsd = float(rng.uniform(0.8, 1.2))
    azimuth = rng.uniform(0, 2 * math.pi)
    ratio = rng.uniform(0.5, 1.3)  # shadow length per unit height (sun elevation ~38-63 deg)
    temperature = rng.uniform(-1, 1)  # <0 cool, >0 warm
    wb = (1.0 + 0.07 * temperature, 1.0, 1.0 - 0.09 * temperature)
    psf_radius = float(rng.choice([0.0, rng.uniform(0.5, 1.1)], p=[0.35, 0.65]))
    major = rng.uniform(0.4, 0.85)
    haze = float(rng.uniform(0.12, 0.3)) if rng.random() < cfg.haze_probability else 0.0
    fields = dict(
        palette=palette,
        gsd_m=round(gsd, 3),
        px_per_m=cfg.vehicle_scale / gsd,
        density=float(cfg.density * rng.uniform(0.8, 1.2)),
        water=str(rng.choice(["coast", "river"])),
        sun_dx=float(math.cos(azimuth) * ratio),
        sun_dy=float(math.sin(azimuth) * ratio),
        shadow_dark=float(rng.uniform(0.35, 0.6)),
        saturation=float(rng.uniform(0.7, 1.15)),
        wb=wb,
        gamma=float(rng.uniform(0.85, 1.15)),
        contrast=float(rng.uniform(0.0, 0.45)),
        lift=float(rng.uniform(0.0, 0.06)),
        psf_radius=psf_radius,
        psf_sigma=(float(major), float(major * rng.uniform(0.45, 0.9))),
        psf_angle=float(rng.uniform(0, math.pi)),
        read_noise=float(rng.uniform(0.8, 2.2)),
        shot_gain=float(rng.uniform(0.03, 0.16)),
        row_band=float(rng.uniform(0.2, 1.2)),
        col_band=float(rng.uniform(0.2, 1.4)),
        haze=haze,
        haze_velocity=(float(rng.uniform(-0.5, 0.5)), float(rng.uniform(-0.5, 0.5))),
        vignette=float(rng.uniform(0.0, 0.07)),
    )
    psf_sigma: tuple[float, float] = fields["psf_sigma"]  # type: ignore[assignment]
    summary = {
        "palette": palette.name,
        "water": fields["water"],
        "psf": f"disk r={psf_radius:.2f} + gauss {psf_sigma[0]:.2f}x{psf_sigma[1]:.2f}",
        "white_balance": [round(v, 3) for v in wb],
        "haze": round(haze, 3),
        "density": round(float(fields["density"]), 3),  # type: ignore[arg-type]
    }
    return Style(**fields, meta=summary)  # type: ignore[arg-type]
