"""The look of one synthetic video: ground sample distance, palette, sun, sensor, compression.

`style: fixed` gives every video the one look of earlier archives. `style: randomised`
(domain randomisation) draws each video's look from `SynthConfig.style_ranges` with the
video's own random stream, so it depends on (seed, video index) only and not on the order
or the process videos are made in; `Style.meta` is what the video's meta JSON records.

Scale: the fixed style's scene geometry and objects are drawn in "legacy pixels" that
correspond to ~0.5 m (a 7 px lane is 3.5 m, an 8-12 px car 4-6 m, a parking slot 3.5 x 6 m);
its speeds correspond to ~1 m/px at 10 fps (cars at 7-16 m/s). A randomised video at
`gsd_m` draws geometry at `scale` = 0.5 / gsd_m px per legacy pixel and speeds at
`speed` = 1 / gsd_m px/frame per legacy px/frame, and sizes its objects in metres.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tgram.synth.config import STYLE_MARGIN, SynthConfig
from tgram.synth.palette import (
    BIOME_PALETTES,
    HAZE,
    LEGACY_GRADING,
    LEGACY_PALETTE,
    Grading,
    Palette,
)
from tgram.synth.sprites import MAX_PLANE_M, MAX_SHIP_M, MIN_SHIP_M
from tgram.synth.world import MARGIN, Sizes

LEGACY_GSD_M = 0.5
"""Metres per legacy pixel of the scene geometry and object sizes (see the module doc)."""
LEGACY_SPEED_GSD_M = 1.0
"""Metres per legacy pixel of the speeds and accelerations (at 10 fps)."""
PARKING_SLOT = (5.4, 11.0, 13.0)
"""The randomised style's parking slot width, depth and aisle, legacy pixels (2.7 x 5.5 m, 6.5 m)."""
ROAD_SPACING = (160.0, 320.0)
"""The randomised style's distance between parallel roads, legacy pixels (80-160 m: city
blocks of ~60-140 m between the roads; the fixed style's are 55-100 m)."""


@dataclass(frozen=True)
class Style:
    """One video's look. Geometry is `scale` px per legacy pixel, speeds `speed` times the
    legacy px/frame; the fixed style has both 1."""

    name: str
    gsd_m: float
    """Ground sample distance, m/px (the meta's geotransform)."""
    scale: float
    speed: float
    blur_sigma: float
    noise_sigma: float
    jitter_px: float
    drift_px: float
    brightness_drift: float
    crf: int
    grading: Grading
    palette: Palette
    biome: str
    density: float
    """Factor on the config's density."""
    sun_azimuth: float | None = None
    """Direction shadows fall, radians in image axes (None: the scene draws it, fixed style)."""
    shadow_ratio: float | None = None
    """Shadow length per unit of height (None: the scene draws it, fixed style)."""

    @property
    def randomised(self) -> bool:
        return self.name == "randomised"

    @property
    def sizes(self) -> Sizes:
        """Parking slots, and the longest ships and airplanes, for the scene's layout."""
        if not self.randomised:
            return Sizes()
        ppm = 1 / self.gsd_m
        return Sizes(
            parking_slot=PARKING_SLOT,
            max_ship=MAX_SHIP_M * ppm,
            min_ship=MIN_SHIP_M * ppm,
            max_plane=MAX_PLANE_M * ppm,
            container=2.0,
            road_spacing=ROAD_SPACING,
        )

    @property
    def margin(self) -> int:
        """World pixels painted beyond each frame edge: room for the jitter and the drift
        (the same for every randomised video, so the drawn jitter never changes the scene)."""
        return STYLE_MARGIN if self.randomised else MARGIN

    def meta(self, shadow_dir: tuple[float, float], shadow_ratio: float) -> dict[str, object]:
        """What the video's meta JSON records under "style" (the drawn values, rounded)."""
        g = self.grading

        def r(value: float) -> float:
            return round(float(value), 4) + 0.0  # + 0.0: no "-0.0" in the JSON

        return {
            "name": self.name,
            "gsd_m": r(self.gsd_m),
            "biome": self.biome,
            "density": r(self.density),
            "sun_azimuth_deg": round(math.degrees(math.atan2(shadow_dir[1], shadow_dir[0])), 2),
            "shadow_ratio": r(shadow_ratio),
            "blur_sigma": r(self.blur_sigma),
            "noise_sigma": r(self.noise_sigma),
            "contrast": r(g.contrast),
            "gamma": r(g.gamma),
            "haze": r(g.haze),
            "desaturation": r(g.desaturation),
            "white_balance": r(g.white_balance),
            "tint": r(g.tint),
            "crf": self.crf,
            "jitter_px": r(self.jitter_px),
            "drift_px": r(self.drift_px),
            "brightness_drift": r(self.brightness_drift),
        }


def fixed_style(cfg: SynthConfig) -> Style:
    """The look of earlier archives, set by the config's sensor fields."""
    return Style(
        name="fixed",
        gsd_m=cfg.gsd_m,
        scale=1.0,
        speed=1.0,
        blur_sigma=cfg.blur_sigma,
        noise_sigma=cfg.noise_sigma,
        jitter_px=cfg.jitter_px,
        drift_px=0.0,
        brightness_drift=cfg.brightness_drift,
        crf=cfg.crf,
        grading=LEGACY_GRADING,
        palette=LEGACY_PALETTE,
        biome="temperate",
        density=1.0,
    )


def draw_style(cfg: SynthConfig, rng: np.random.Generator) -> Style:
    """A video's style: fixed, or drawn from `cfg.style_ranges` with `rng` (its own stream)."""
    if cfg.style == "fixed":
        return fixed_style(cfg)
    r = cfg.style_ranges

    def uniform(bounds: tuple[float, float]) -> float:
        return float(rng.uniform(*bounds))

    def log_uniform(bounds: tuple[float, float]) -> float:
        lo, hi = bounds
        if lo <= 0:
            return uniform(bounds)
        return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))

    mid_crf = (r.crf[0] + r.crf[1]) / 2
    gsd = round(uniform(r.gsd_m), 3)
    biome = r.biomes[int(rng.integers(len(r.biomes)))]
    haze_rgb = tuple(float(v) for v in np.asarray(HAZE) * rng.uniform(0.92, 1.08, 3))
    grading = Grading(
        haze=uniform(r.haze),
        desaturation=uniform(r.desaturation),
        haze_rgb=haze_rgb,  # type: ignore[arg-type]
        white_balance=uniform(r.white_balance),
        tint=uniform(r.tint),
        contrast=uniform(r.contrast),
        gamma=uniform(r.gamma),
    )
    return Style(
        name="randomised",
        gsd_m=gsd,
        scale=LEGACY_GSD_M / gsd,
        speed=LEGACY_SPEED_GSD_M / gsd,
        blur_sigma=uniform(r.blur_sigma),
        noise_sigma=log_uniform(r.noise_sigma),
        jitter_px=uniform(r.jitter_px),
        drift_px=uniform(r.drift_px),
        brightness_drift=uniform(r.brightness_drift),
        crf=int(np.clip(round(rng.triangular(r.crf[0] - 0.5, mid_crf, r.crf[1] + 0.5)), *r.crf)),
        grading=grading,
        palette=BIOME_PALETTES[biome].jittered(rng),
        biome=biome,
        density=uniform(r.density),
        sun_azimuth=uniform((-math.pi, math.pi)),
        shadow_ratio=uniform(r.shadow_ratio),
    )


FIXED_SCENE_STYLE = fixed_style(SynthConfig(style="fixed"))
"""The fixed style, for painting a scene without a video (its sensor fields are unused there)."""
