"""Platform motion from the frames themselves: how far static ground moved between frames.

A satellite platform jitters and drifts by a pixel or two a frame, as much as a 4x8 px car
moves, so the tracker must see ground motion and not image motion. The estimate is a global
translation of frame t against frame t-1: phase correlation on a coarse copy finds it to
about a pixel whatever its size, then ECC (enhanced correlation coefficient, OpenCV) refines
it to sub-pixel on a finer copy, tile by tile (3x3), keeping the median of the tiles' shifts.
ECC is a least-squares fit, so whatever moves inside a tile (drifting clouds, dense traffic, a
large mover) pulls that tile's estimate; the median keeps the tiles that see static ground.
A frame pair most tiles cannot align (a cloud over the frame, a scene cut) falls back to the
coarse estimate. ECC's cost grows with the pixels it is given (it filters its whole input
image on every call), so each tile's template is its central part and its search window only
where the coarse shift puts it: ~2 ms a 1024x576 frame instead of ~5.4 (same load), median
errors within 0.01 px. Measured against the renderers' true shifts: median error ~0.06-0.08 px a
frame; per video the mean error stays within +-0.02 px a frame, except +0.045 in x in one of
`make demo`'s two videos (a single whole-frame fit: +0.11), which summed over frames still
drifts its stabilised positions.

Frames are registered against a keyframe, not against their predecessor: summing pairwise
shifts sums their errors too, a random walk (0.3-0.4 px after 25 frames on validation) that
reads as a tenth of a metre a second of speed on every parked car. Against the last keyframe
(every `keyframe_interval` frames) the error of a frame's position stays that of one pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

COARSE = 4
"""Downscale of the phase-correlation pass."""
TILES = 3
"""The fine pass aligns TILES x TILES tiles separately and takes the median shift."""
TILE_FILL = 0.5
"""Each tile's template is its central TILE_FILL (linear; a quarter of its pixels): the median
needs tiles spread over the frame, not every pixel, and ECC's cost grows with the pixels.
Chosen on validation (val_v3, val_turned, val_shift, 960x544): 0.5 against 0.7 cost median
errors 0.078 / 0.099 / 0.310 px against 0.072 / 0.096 / 0.305 and saved a quarter of the
registration's time (1.8-2.4 against 2.4-2.5 ms a frame), which the int8 model had made 4-7 %
of `tgram track`'s; 0.7 against whole tiles was within 0.01 px at less than half the time."""
ECC_EPS = 1e-3
"""ECC stops when the correlation coefficient gains less than this in an iteration; 1e-4 cost
a third more time for no accuracy on validation."""
BORDER = 8
"""Pixels (of the fine pass) left out around the previous frame: more than a frame's shift."""


@dataclass(frozen=True)
class RegistrationConfig:
    """How platform motion is estimated (`enabled: false` tracks in raw image coordinates)."""

    enabled: bool = True
    downscale: int = 2
    """Downscale of the sub-pixel (ECC) pass: 1 is the most precise, 2 costs a quarter."""
    iterations: int = 20
    """Most ECC iterations per frame pair."""
    keyframe_interval: int = 8
    """Frames whose index is a multiple of this are keyframes; every frame is registered
    against the last keyframe before it (1: against its predecessor). Chosen on validation
    (val_v3 / val_turned / val_sparse, 25 frames; 2026-11-30): position error at the last
    frame 0.40 / 0.29 / 0.39 px chained, 0.11 / 0.12 / 0.13 with 8; parked-car speeds from the
    true centres, median 0.11 / 0.16 / 0.17 m/s chained, 0.05 / 0.07 / 0.04 with 8 (4: 0.05 /
    0.06 / 0.08; 12: 0.03 / 0.07 / 0.02, but a 25-frame video has only two keyframes then);
    the frame-to-frame shift the tracker uses is a little noisier (median error 0.077 / 0.108
    / 0.070 px chained, 0.086 / 0.117 / 0.082 with 8)."""

    def __post_init__(self) -> None:
        for name in ("downscale", "iterations", "keyframe_interval"):
            if getattr(self, name) < 1:
                raise ValueError(f"registration.{name} must be >= 1, got {getattr(self, name)}")


class Prepared:
    """One frame at the two working scales, grey float32, computed once per frame."""

    def __init__(self, frame: np.ndarray, downscale: int) -> None:
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) if frame.ndim == 3 else frame
        fine = _shrink(grey, downscale)
        # area averaging twice by integer factors is area averaging once (up to the fine
        # copy's rounding to uint8): the coarse copy from the fine one reads a quarter of the
        # pixels (0.09 against 0.36 ms at 1024x576; median errors unchanged on validation)
        step = COARSE // downscale if COARSE % downscale == 0 else 0
        self.coarse = (_shrink(fine, step) if step else _shrink(grey, COARSE)).astype(np.float32)
        self.fine = fine.astype(np.float32)
        self.downscale = downscale


def estimate_shift(prev: Prepared, cur: Prepared, iterations: int = 20) -> np.ndarray:
    """(dx, dy) float64 px: a static ground point at p in `prev` is at p + (dx, dy) in `cur`."""
    window = _hanning(prev.coarse.shape)
    # phaseCorrelate windows its inputs in place: copies keep each frame's pixels for the
    # next pair, so a shift depends on its two frames only (and clips agree with videos).
    (cx, cy), _ = cv2.phaseCorrelate(prev.coarse.copy(), cur.coarse.copy(), window)
    coarse = np.array([cx, cy]) * COARSE
    # Each tile is aligned on its own; the median of their shifts ignores the few that a
    # cloud or dense traffic pulls away.
    h, w = prev.fine.shape
    start = coarse / prev.downscale
    shifts = []
    for x0, y0, x1, y1 in _tiles(h, w):
        # ECC filters its whole input image on every call: hand it only the part of the
        # current frame where this tile can land (the coarse shift plus a margin).
        wx0, wy0 = _clamp(x0 + start[0] - BORDER, w), _clamp(y0 + start[1] - BORDER, h)
        wx1, wy1 = _clamp(x1 + start[0] + BORDER, w), _clamp(y1 + start[1] + BORDER, h)
        origin = np.array([wx0, wy0], np.float64)
        corner = np.array([x0, y0], np.float64)
        found = _ecc(
            prev.fine[y0:y1, x0:x1],
            cur.fine[wy0:wy1, wx0:wx1],
            start + corner - origin,
            iterations,
        )
        if found is not None:
            shifts.append((found + origin - corner) * prev.downscale)
    if 2 * len(shifts) <= TILES * TILES:  # most tiles featureless or lost: keep the coarse value
        return coarse
    fine = np.median(np.asarray(shifts), axis=0)
    if np.abs(fine - coarse).max() > COARSE:  # ECC ran off to another optimum
        return coarse
    return fine


def _ecc(
    template: np.ndarray,
    image: np.ndarray,
    start: np.ndarray,
    iterations: int,
) -> np.ndarray | None:
    """ECC translation of `image` against `template` from `start`; None if it fails."""
    warp = np.array([[1, 0, start[0]], [0, 1, start[1]]], np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, iterations, ECC_EPS)
    try:
        _, warp = cv2.findTransformECC(
            template, image, warp, cv2.MOTION_TRANSLATION, criteria, None, 1
        )
    except cv2.error:  # no convergence (featureless or mostly masked frames)
        return None
    return warp[:, 2].astype(np.float64)


class PlatformMotion:
    """Feeds the frames of one video in order (a clip may start anywhere): `shift(frame, index)`
    answers how far static ground moved since the previous frame.

    Each frame is located against its keyframe (the last frame before it whose index is a
    multiple of `keyframe_interval`), and its shift is the difference of its and its
    predecessor's positions from that keyframe (from the keyframe itself: its own position), so
    the shifts of a video sum to a chain of keyframe-to-keyframe estimates. A frame's shift
    depends only on it, its predecessor and their keyframe, at most `keyframe_interval` frames
    back: clips given that much context (`tgram.detect.context_frames`) agree with whole videos.
    """

    def __init__(self, config: RegistrationConfig | None = None) -> None:
        self.config = config or RegistrationConfig()
        self._key: Prepared | None = None
        self._key_index = -1
        self._last_index = -1
        self._last_position = np.zeros(2)
        """Ground motion from the keyframe to the last frame fed (zeros: it is the keyframe)."""

    def shift(self, frame: np.ndarray, index: int) -> np.ndarray:
        """Ground motion from frame `index - 1` to this one, frame `index` of the video; zeros
        where it is not known (the first frame, a frame whose keyframe or predecessor was not
        fed, a frame of another size) and when registration is disabled."""
        if not self.config.enabled:
            return np.zeros(2)
        cur = Prepared(frame, self.config.downscale)
        interval = self.config.keyframe_interval
        key, shift = self._key, np.zeros(2)
        position = np.zeros(2)
        if (
            key is not None
            and self._key_index == (index - 1) // interval * interval
            and self._last_index == index - 1
            and key.fine.shape == cur.fine.shape
        ):
            position = estimate_shift(key, cur, self.config.iterations)
            shift = position - self._last_position
        self._last_index, self._last_position = index, position
        if index % interval == 0:
            self._key, self._key_index, self._last_position = cur, index, np.zeros(2)
        return shift


def _tiles(h: int, w: int) -> list[tuple[int, int, int, int]]:
    """Template boxes (x0, y0, x1, y1) of the fine pass: TILES x TILES over the interior of an
    h x w frame (the border is left out: ground there leaves or enters the frame), each the
    central TILE_FILL of its cell."""
    m = min(BORDER, (min(h, w) - 1) // 4)
    rows = np.linspace(m, h - m, TILES + 1)
    cols = np.linspace(m, w - m, TILES + 1)
    gap_y = (1 - TILE_FILL) / 2 * (rows[1] - rows[0])
    gap_x = (1 - TILE_FILL) / 2 * (cols[1] - cols[0])
    return [
        (int(x0 + gap_x), int(y0 + gap_y), int(x1 - gap_x), int(y1 - gap_y))
        for y0, y1 in zip(rows[:-1], rows[1:], strict=True)
        for x0, x1 in zip(cols[:-1], cols[1:], strict=True)
    ]


@lru_cache(maxsize=8)
def _hanning(shape: tuple[int, ...]) -> np.ndarray:
    """Phase correlation's window for a coarse frame of `shape`, made once per frame size
    (read-only: phaseCorrelate windows copies of its inputs, never the window)."""
    window = cv2.createHanningWindow(shape[::-1], cv2.CV_32F)
    window.flags.writeable = False
    return window


def _clamp(value: float, size: int) -> int:
    return int(min(max(round(value), 0), size))


def _shrink(grey: np.ndarray, factor: int) -> np.ndarray:
    if factor == 1:
        return grey
    h, w = grey.shape
    return cv2.resize(
        grey, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA
    )
