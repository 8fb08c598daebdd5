"""Settings of an alternative-style archive (`tgram synth-altstyle`), validated, defaults here."""

from __future__ import annotations

from dataclasses import dataclass

from tgram.data.rendered import check_archive_settings
from tgram.data.video import X264Preset


@dataclass(frozen=True)
class AltStyleConfig:
    """An archive of the alternative style: by default 8 videos of 2.5 s at 1024x576, 10 fps.

    Each video draws its own look (ground sample distance, street-grid angle, palette, sun,
    blur, noise, haze, JPEG blocking) from `seed` and its index; these settings bound it.
    """

    width: int = 1024
    height: int = 576
    frames: int = 25
    fps: float = 10.0
    videos: int = 8
    seed: int = 0
    """Same seed -> same frames and gt."""
    crf: int = 28
    """H.264 quality (lower: better, bigger)."""
    preset: X264Preset = "superfast"
    """x264 speed preset; ultrafast and superfast reproduce the frames bit for bit."""
    gsd_range: tuple[float, float] = (0.45, 0.8)
    """Ground sample distance, m/px, drawn per video: a 4.5 m car is 5.6-10 px long."""
    traffic: float = 1.0
    """Scales moving and parked vehicles (each video also draws 0.6-1.4x of it)."""
    jitter_px: float = 1.0
    """Largest platform jitter, px (sum of two sinusoids the gt follows)."""
    drift_px: float = 8.0
    """Largest platform drift over a video, px (the gt follows it)."""

    def __post_init__(self) -> None:
        check_archive_settings(self)
        lo, hi = self.gsd_range
        if not 0.2 <= lo <= hi <= 2.0:
            raise ValueError(
                f"gsd_range must be [lo, hi] with 0.2 <= lo <= hi <= 2, got {self.gsd_range}"
            )
        if not 0 < self.traffic <= 3:
            raise ValueError(f"traffic must be in (0, 3], got {self.traffic}")
        if not 0 <= self.jitter_px <= 4:
            raise ValueError(f"jitter_px must be in [0, 4], got {self.jitter_px}")
        if not 0 <= self.drift_px <= 16:
            raise ValueError(f"drift_px must be in [0, 16], got {self.drift_px}")

    @property
    def margin(self) -> int:
        """World pixels beyond each frame edge: room for drift, jitter and the blur kernel."""
        return int(self.drift_px + self.jitter_px) + 8
