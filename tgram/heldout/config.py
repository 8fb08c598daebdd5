"""Settings of a held-out evaluation archive (`tgram synth-heldout`), validated, defaults here."""

from __future__ import annotations

from dataclasses import dataclass

from tgram.data.rendered import check_archive_settings
from tgram.data.video import X264Preset


@dataclass(frozen=True)
class HeldoutConfig:
    """A held-out archive: by default 3 videos of 15 s at 1024x576 and 10 fps.

    Each video draws its own style (palette, ground sample distance, colour, blur, noise,
    haze, object density) from `seed` and its index; these settings bound what is drawn.
    """

    width: int = 1024
    height: int = 576
    frames: int = 150
    fps: float = 10.0
    videos: int = 3
    seed: int = 0
    """Same seed -> same frames and gt."""
    crf: int = 27
    """H.264 quality (lower: better, bigger)."""
    preset: X264Preset = "superfast"
    """x264 speed preset. ultrafast and superfast reproduce the frames bit for bit; the slower
    presets' lookahead (mb-tree) was seen to encode the same frames differently from run to
    run, so with them only the gt, not the decoded frames, is reproducible."""
    density: float = 1.0
    """Scales parked and moving vehicles and boats (each video also draws 0.8-1.2x of it)."""
    vehicle_scale: float = 1.8
    """Vehicles, lanes and parking slots are drawn this many times their size in metres at
    the video's GSD, so that cars are ~4x8 px as vehicles appear in Jilin-1 imagery and in
    the training renderer (at a true 1 m/px a 4.5 m car would be a 2x5 px blob)."""
    jitter_px: float = 1.2
    """Largest platform jitter, px (whole-frame shift that the gt follows)."""
    drift_px: float = 6.0
    """Largest platform drift over a video, px (slow whole-frame shift that the gt follows)."""
    haze_probability: float = 0.35
    """Share of videos with a thin drifting haze."""

    def __post_init__(self) -> None:
        check_archive_settings(self)
        if not 0 < self.density <= 3:
            raise ValueError(f"density must be in (0, 3], got {self.density}")
        if not 1 <= self.vehicle_scale <= 3:
            raise ValueError(f"vehicle_scale must be in [1, 3], got {self.vehicle_scale}")
        if not 0 <= self.jitter_px <= 4:
            raise ValueError(f"jitter_px must be in [0, 4], got {self.jitter_px}")
        if not 0 <= self.drift_px <= 16:
            raise ValueError(f"drift_px must be in [0, 16], got {self.drift_px}")
        if not 0 <= self.haze_probability <= 1:
            raise ValueError(f"haze_probability must be in [0, 1], got {self.haze_probability}")

    @property
    def margin(self) -> int:
        """World pixels beyond each frame edge: room for drift, jitter and the blur kernel."""
        return int(self.drift_px / 2 + self.jitter_px) + 8
