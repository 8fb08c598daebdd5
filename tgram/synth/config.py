"""Settings of a synthetic archive (`tgram synth`), validated, with the defaults in one place."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Literal, get_args

from tgram.classes import CLASS_NAMES, check_class_names
from tgram.data.video import X264Preset
from tgram.synth.world import MARGIN

StyleMode = Literal["fixed", "randomised"]
Biome = Literal["temperate", "arid", "urban", "winter", "tropical"]
BIOMES: tuple[Biome, ...] = get_args(Biome)

Range = tuple[float, float]

STYLE_MARGIN = 10
"""World pixels painted beyond each frame edge in the randomised style: the largest jitter
plus the drift's reach (~0.53 of its travel) plus 1.5 px must fit in it."""


@dataclass(frozen=True)
class StyleRanges:
    """Where the `randomised` style draws each video's look from: (low, high), uniformly
    unless said otherwise.

    Every video draws its own style from its own random stream, so a video's style depends
    on (seed, video index) only; the drawn values are written to its meta JSON ("style").
    The defaults are wide on purpose (domain randomisation): a network trained on them
    should not depend on one sensor, one city or one season.
    """

    gsd_m: Range = (0.5, 1.5)
    """Ground sample distance, m/px. Objects are sized in metres (a 4.5 m car is 9 px long at
    0.5 m/px and 3 px at 1.5 m/px) and the scene's geometry (lanes, parking slots, blocks,
    buildings, trees, piers, container yard, apron stands) scales with it; the drawn value is
    the meta's gsd_m and geotransform."""
    blur_sigma: Range = (0.3, 1.5)
    """Optics PSF, Gaussian sigma in px (the kernel is sized from sigma)."""
    noise_sigma: Range = (0.5, 6.0)
    """Sensor noise standard deviation, grey levels; log-uniform (as many videos below the
    geometric mean, ~1.7, as above it: most satellite video is fairly clean)."""
    contrast: Range = (0.6, 1.3)
    """Gain around mid-grey after haze (1: unchanged)."""
    gamma: Range = (0.7, 1.4)
    """Tone curve exponent, out = 255 (in / 255) ** gamma (below 1: brighter mid-tones)."""
    haze: Range = (0.0, 0.35)
    """Share of the signal replaced by a bluish-grey atmospheric haze."""
    desaturation: Range = (0.1, 0.7)
    """How far colours are pulled towards grey (satellite video colour is muted)."""
    white_balance: Range = (-0.1, 0.1)
    """Colour temperature shift: red gain 1 + wb, blue gain 1 - wb (> 0: warmer)."""
    tint: Range = (-0.03, 0.03)
    """Green gain shift (green-magenta white balance error)."""
    crf: tuple[int, int] = (20, 34)
    """H.264 quality of the mp4 layout, inclusive integers (higher: blockier); triangular,
    most likely mid-range (the low end costs ~2x the encoding time and ~4x the bytes)."""
    jitter_px: Range = (0.0, 2.5)
    """Largest platform jitter, px (a whole-frame shift that the gt follows exactly)."""
    drift_px: Range = (0.0, 6.0)
    """Slow platform drift, px: total travel of the frame over the video, along a random
    direction with a gentle curve; the gt follows it too."""
    brightness_drift: Range = (0.0, 0.08)
    """Largest relative change of frame brightness over a video."""
    shadow_ratio: Range = (0.2, 1.2)
    """Shadow length per unit of object height (sun elevation ~80 to ~40 degrees); the sun's
    azimuth is drawn over the full circle."""
    density: Range = (0.6, 1.4)
    """Per-video factor on `density` (traffic, parked cars, ships, airplanes)."""
    view_angle_deg: Range = (0.0, 0.0)
    """Angle the frame is turned by against the world, degrees (tgram.synth.view): the renderer
    lays roads, parking rows, aprons and piers along the world's axes, real imagery shows
    them at any angle. Drawn from the video's own stream only when the range is not
    (0, 0), so archives of other settings stay as they were. With 90-degree turns and flips
    in training, (0, 90) covers every heading."""
    biomes: tuple[Biome, ...] = BIOMES
    """Ground palettes drawn from, evenly: temperate (green), arid (desert), urban (grey),
    winter (snow), tropical (lush); each video's palette is jittered further."""

    def __post_init__(self) -> None:
        bounds: dict[str, tuple[float, float]] = {
            "gsd_m": (0.2, 3.0),  # the scene's object count grows as 1 / gsd^2
            "blur_sigma": (0.0, 3.0),
            "noise_sigma": (0.0, 30.0),
            "contrast": (0.2, 3.0),
            "gamma": (0.2, 5.0),
            "haze": (0.0, 0.9),
            "desaturation": (0.0, 1.0),
            "white_balance": (-0.5, 0.5),
            "tint": (-0.5, 0.5),
            "crf": (0, 51),
            "jitter_px": (0.0, 8.0),
            "drift_px": (0.0, 16.0),
            "brightness_drift": (0.0, 0.49),
            "shadow_ratio": (0.0, 5.0),
            "density": (0.01, 10.0),
            "view_angle_deg": (-360.0, 360.0),
        }
        for f in fields(self):
            if f.name == "biomes":
                continue
            lo, hi = getattr(self, f.name)
            low, high = bounds[f.name]
            if not low <= lo <= hi <= high:
                raise ValueError(
                    f"style_ranges.{f.name} must be [low, high] with {low} <= low <= high"
                    f" <= {high}, got [{lo}, {hi}]"
                )
        reach = self.jitter_px[1] + 0.53 * self.drift_px[1] + 1.5
        if reach > STYLE_MARGIN:
            raise ValueError(
                f"style_ranges: jitter_px high + 0.53 drift_px high + 1.5 must be <= {STYLE_MARGIN}"
                f" px (the world's margin), got {reach:.2f}"
            )
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in self.crf):
            raise ValueError(f"style_ranges.crf must be integers, got {list(self.crf)}")
        if not self.biomes:
            raise ValueError("style_ranges.biomes must name at least one biome")
        for name in self.biomes:
            if name not in BIOMES:
                raise ValueError(
                    f"style_ranges.biomes: unknown biome {name!r} (expected some of: {', '.join(BIOMES)})"
                )


@dataclass(frozen=True)
class SynthConfig:
    """A synthetic archive: by default 4 videos of 30 s at 1920x1080 and 10 fps, each in its
    own randomly drawn style (see StyleRanges); `style: fixed` draws every video in the one
    look of earlier archives (the sensor settings below, a temperate palette, ~1 m/px)."""

    width: int = 1920
    height: int = 1080
    frames: int = 300
    fps: float = 10.0
    videos: int = 4
    density: float = 1.0
    """Scales the number of objects (traffic, parked cars, ships, airplanes)."""
    classes: tuple[str, ...] = CLASS_NAMES
    """Object classes to draw and annotate."""
    seed: int = 0
    layout: Literal["mp4", "airmot"] = "mp4"
    """mp4: videos/, gt/, meta/; airmot: the AIR-MOT image tree images/{train,test}/<seq>/."""
    test_fraction: float = 0.25
    """Share of videos (the last ones) put in the airmot layout's test split."""
    style: StyleMode = "randomised"
    """randomised: every video draws its look (GSD, palette, sun, sensor, compression,
    density) from `style_ranges`; fixed: the one look of earlier archives, set by jitter_px,
    brightness_drift, noise_sigma, blur_sigma, crf and gsd_m below."""
    style_ranges: StyleRanges = field(default_factory=StyleRanges)
    """Ranges of the randomised style."""
    jitter_px: float = 1.5
    """Fixed style: largest platform jitter, a whole-frame shift that the gt boxes follow exactly."""
    brightness_drift: float = 0.04
    """Fixed style: largest relative change of frame brightness over a video."""
    noise_sigma: float = 2.0
    """Fixed style: sensor noise standard deviation in grey levels."""
    blur_sigma: float = 0.6
    """Fixed style: optics blur, Gaussian sigma in pixels; 0 switches it off."""
    cloud_puffs: float = 1.5
    """Mean number of cloud puffs drifting over each video (they briefly hide objects); both styles."""
    crf: int = 26
    """Fixed style: H.264 quality of the mp4 layout (lower: better, bigger); Jilin-1 products
    show visible compression, and fewer bits also encode faster."""
    preset: X264Preset = "superfast"
    """x264 speed preset of the mp4 layout. Encoding is half the CPU an archive costs: per
    1080p frame of this content at crf 26 (one x264 thread, RGB->I420 included) superfast
    takes ~19 ms and ~26 kB, veryfast ~30 ms and ~17 kB; ultrafast (~12 ms) writes ~3x the
    bytes of superfast (~79 kB) and drops the deblocking filter and CABAC."""
    jpeg_quality: int = 90
    """JPEG quality of the airmot layout's frames."""
    gsd_m: float = 1.0
    """Fixed style: ground sampling distance written to the meta geotransform."""

    def __post_init__(self) -> None:
        if self.width < 64 or self.height < 64:
            raise ValueError(f"width and height must be >= 64 px, got {self.width}x{self.height}")
        if self.layout == "mp4" and (self.width % 2 or self.height % 2):
            raise ValueError(
                f"layout mp4 (H.264) needs even width and height, got {self.width}x{self.height}"
            )
        if self.layout not in ("mp4", "airmot"):
            raise ValueError(f"layout must be 'mp4' or 'airmot', got {self.layout!r}")
        if self.style not in get_args(StyleMode):
            raise ValueError(f"style must be 'fixed' or 'randomised', got {self.style!r}")
        for name in ("frames", "videos"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("fps", "density", "gsd_m"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        check_class_names(self.classes)
        if not 0 <= self.test_fraction < 1:
            raise ValueError(f"test_fraction must be in [0, 1), got {self.test_fraction}")
        if not 0 <= self.jitter_px <= MARGIN - 1.5:
            raise ValueError(f"jitter_px must be in [0, {MARGIN - 1.5}], got {self.jitter_px}")
        if not 0 <= self.brightness_drift < 0.5:
            raise ValueError(f"brightness_drift must be in [0, 0.5), got {self.brightness_drift}")
        for name in ("noise_sigma", "blur_sigma", "cloud_puffs"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.preset not in get_args(X264Preset):
            raise ValueError(f"preset must be an x264 preset name, got {self.preset!r}")
        if not 0 <= self.crf <= 51:
            raise ValueError(f"crf must be in [0, 51], got {self.crf}")
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be in [1, 100], got {self.jpeg_quality}")
