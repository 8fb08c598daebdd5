"""Writing a rendered evaluation video (tgram.heldout, tgram.altstyle) in the `tgram synth` layout.

The independent renderers share no drawing code; what they share is what an archive is:
videos/<id>.mp4, gt/<id>.txt (MOTChallenge), meta/<id>.json, speeds/<id>.csv, and a meta
record of an imaginary place (a fixed fake UTM zone, north-up, a random origin and date).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Protocol, get_args

import numpy as np

from tgram import storage
from tgram.data.formats import write_gt, write_speed_truth
from tgram.data.meta import platform_shift, video_meta_record
from tgram.data.video import VideoWriter, X264Preset

Progress = Callable[[int], object]


class ArchiveSettings(Protocol):
    """What every rendered archive's config holds (HeldoutConfig, AltStyleConfig)."""

    width: int
    height: int
    frames: int
    fps: float
    videos: int
    seed: int
    crf: int
    preset: X264Preset


class RenderedVideo(Protocol):
    video_id: str
    meta: dict[str, object]

    def frames(self) -> Iterator[tuple[np.ndarray, np.ndarray]]: ...

    def speed_truth(self, gt: np.ndarray) -> np.ndarray: ...


def check_archive_settings(cfg: ArchiveSettings) -> None:
    """The checks every rendered archive's config makes; one-line ValueErrors naming the key."""
    if cfg.width < 128 or cfg.height < 96:
        raise ValueError(f"width and height must be >= 128x96 px, got {cfg.width}x{cfg.height}")
    if cfg.width % 2 or cfg.height % 2:
        raise ValueError(f"H.264 needs even width and height, got {cfg.width}x{cfg.height}")
    for name in ("frames", "videos"):
        if getattr(cfg, name) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(cfg, name)}")
    if not cfg.fps > 0:
        raise ValueError(f"fps must be > 0, got {cfg.fps}")
    if cfg.seed < 0:
        raise ValueError(f"seed must be >= 0, got {cfg.seed}")
    if not 0 <= cfg.crf <= 51:
        raise ValueError(f"crf must be in [0, 51], got {cfg.crf}")
    if cfg.preset not in get_args(X264Preset):
        raise ValueError(f"preset must be an x264 preset name, got {cfg.preset!r}")


def write_rendered_archive(
    out: str,
    cfg: ArchiveSettings,
    video: Callable[[int], RenderedVideo],
    progress: Progress | None = None,
) -> list[str]:
    """Render and write `cfg.videos` videos (`video(index)`) under `out`; returns their ids.
    `progress(n)` is called as n more frames are done."""
    ids = []
    for index in range(cfg.videos):
        v = video(index)
        write_rendered_video(
            out,
            v.video_id,
            v.frames(),
            fps=cfg.fps,
            size=(cfg.width, cfg.height),
            crf=cfg.crf,
            preset=cfg.preset,
            speeds=v.speed_truth,
            meta=v.meta,
            progress=progress,
        )
        ids.append(v.video_id)
    return ids


ENCODER_THREADS = 1
"""x264 output depends on its thread count: one thread keeps the frames reproducible."""


def write_rendered_video(
    out: str,
    video_id: str,
    frames: Iterable[tuple[np.ndarray, np.ndarray]],
    *,
    fps: float,
    size: tuple[int, int],
    crf: int,
    preset: str,
    speeds: Callable[[np.ndarray], np.ndarray],
    meta: dict[str, object],
    progress: Progress | None = None,
) -> None:
    """Encode `frames` ((RGB frame, GT_DTYPE rows) pairs) and write the gt, the speed truth
    (`speeds(gt)`: SPEED_DTYPE rows) and the meta of one video under `out`."""
    rows = []
    width, height = size
    with VideoWriter(
        storage.join(out, "videos", f"{video_id}.mp4"),
        fps=fps,
        width=width,
        height=height,
        crf=crf,
        preset=preset,
        threads=ENCODER_THREADS,
    ) as writer:
        for image, gt in frames:
            writer.write(image)
            rows.append(gt)
            if progress:
                progress(1)
    gt = np.concatenate(rows)
    write_gt(storage.join(out, "gt", f"{video_id}.txt"), gt)
    write_speed_truth(storage.join(out, "speeds", f"{video_id}.csv"), speeds(gt))
    storage.write_bytes(
        storage.join(out, "meta", f"{video_id}.json"), (json.dumps(meta, indent=2) + "\n").encode()
    )


def imaginary_meta(
    video_id: str,
    rng: np.random.Generator,
    cfg: ArchiveSettings,
    *,
    crs: str,
    year: int,
    hours: tuple[float, float],
    gsd_m: float,
    place: str,
    offsets: np.ndarray,
) -> dict[str, object]:
    """Timing (a day of `year`, a start between `hours` UTC) and a north-up geotransform at
    `gsd_m` with a random origin in `crs` for a video of `cfg`, and the platform motion of `offsets`
    ([frames, 2] world position of each frame's top-left corner)."""
    x0 = round(float(rng.uniform(300_000, 700_000)), 2)
    y0 = round(float(rng.uniform(4_000_000, 5_000_000)), 2)
    day = datetime(year, 1, 1, tzinfo=timezone.utc) + timedelta(days=int(rng.integers(0, 366)))
    start = (day + timedelta(hours=float(rng.uniform(*hours)))).replace(microsecond=0)
    return video_meta_record(
        video_id,
        fps=cfg.fps,
        width=cfg.width,
        height=cfg.height,
        frames=cfg.frames,
        start=start,
        crs=crs,
        origin_xy=(x0, y0),
        gsd_m=gsd_m,
        place=place,
        platform_shift_px=platform_shift(offsets),
    )
