"""Settings of a synthetic archive (`tgram synth`), validated, with the defaults in one place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from tgram.data.classes import CLASS_NAMES, check_class_names
from tgram.data.world import MARGIN

X264Preset = Literal[
    "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"
]


@dataclass(frozen=True)
class SynthConfig:
    """A synthetic archive: by default 4 videos of 30 s at 1920x1080 and 10 fps, ~1 m/px."""

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
    jitter_px: float = 1.5
    """Largest platform jitter: a whole-frame shift that the gt boxes follow exactly."""
    brightness_drift: float = 0.04
    """Largest relative change of frame brightness over a video."""
    noise_sigma: float = 2.0
    """Sensor noise standard deviation in grey levels."""
    blur_sigma: float = 0.6
    """Optics blur, Gaussian sigma in pixels; 0 switches it off."""
    cloud_puffs: float = 1.5
    """Mean number of cloud puffs drifting over each video (they briefly hide objects)."""
    crf: int = 26
    """H.264 quality of the mp4 layout (lower: better, bigger); Jilin-1 products show visible
    compression, and fewer bits also encode faster."""
    preset: X264Preset = "superfast"
    """x264 speed preset of the mp4 layout. Encoding is half the CPU an archive costs: per
    1080p frame of this content at crf 26 (one x264 thread, RGB->I420 included) superfast
    takes ~19 ms and ~26 kB, veryfast ~30 ms and ~17 kB; ultrafast (~12 ms) writes ~3x the
    bytes of superfast (~79 kB) and drops the deblocking filter and CABAC."""
    jpeg_quality: int = 90
    """JPEG quality of the airmot layout's frames."""
    gsd_m: float = 1.0
    """Ground sampling distance written to the meta geotransform."""

    def __post_init__(self) -> None:
        if self.width < 64 or self.height < 64:
            raise ValueError(f"width and height must be >= 64 px, got {self.width}x{self.height}")
        if self.layout == "mp4" and (self.width % 2 or self.height % 2):
            raise ValueError(
                f"layout mp4 (H.264) needs even width and height, got {self.width}x{self.height}"
            )
        if self.layout not in ("mp4", "airmot"):
            raise ValueError(f"layout must be 'mp4' or 'airmot', got {self.layout!r}")
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
