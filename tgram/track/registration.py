"""Platform motion from the frames themselves: how far static ground moved between frames.

A satellite platform jitters and drifts by a pixel or two a frame, as much as a 4x8 px car
moves, so the tracker must see ground motion and not image motion. The estimate is a global
translation of frame t against frame t-1: phase correlation on a coarse copy finds it to
about a pixel whatever its size, then ECC (enhanced correlation coefficient, OpenCV) refines
it to sub-pixel on a finer copy. Both are whole-frame statistics dominated by the static
background; ECC is a least-squares fit, though, so dense traffic pulls on it (60 cars on 2 %
of a test frame, driving both ways: ~0.2 px). A frame pair ECC cannot align (a cloud over
most of the frame, a scene cut) falls back to the coarse estimate. Measured against the
renderers' true shifts (bench_motion): median error ~0.06-0.09 px a frame, but not always
zero-mean: in one of `make demo`'s two videos the estimates run +0.10 px a frame ahead in x
(+0.003 in the other, -0.002 to -0.017 on validation videos), likely drifting clouds or a
large mover pulling the fit; summed over frames that is a drift of stabilised positions and
~1 m/s on parked objects there. A robust estimator (median over tiles, residual weighting)
is the next step. The result depends on the two frames only, so any cut of a video into clips gives
the same shifts.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

COARSE = 4
"""Downscale of the phase-correlation pass."""
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

    def __post_init__(self) -> None:
        if self.downscale < 1 or self.iterations < 1:
            raise ValueError(
                f"registration.downscale and registration.iterations must be >= 1, got "
                f"{self.downscale} and {self.iterations}"
            )


class Prepared:
    """One frame at the two working scales, grey float32, computed once per frame."""

    def __init__(self, frame: np.ndarray, downscale: int) -> None:
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) if frame.ndim == 3 else frame
        self.fine = _shrink(grey, downscale).astype(np.float32)
        self.coarse = _shrink(grey, COARSE).astype(np.float32)
        self.downscale = downscale


def estimate_shift(prev: Prepared, cur: Prepared, iterations: int = 20) -> np.ndarray:
    """(dx, dy) float64 px: a static ground point at p in `prev` is at p + (dx, dy) in `cur`."""
    window = cv2.createHanningWindow(prev.coarse.shape[::-1], cv2.CV_32F)
    (cx, cy), _ = cv2.phaseCorrelate(prev.coarse, cur.coarse, window)
    coarse = np.array([cx, cy]) * COARSE
    # The template is the previous frame's interior: ground near the border leaves or enters
    # the frame, and a template pixel without a counterpart biases the fit.
    m = min(BORDER, (min(prev.fine.shape) - 1) // 4)
    template = prev.fine[m : prev.fine.shape[0] - m, m : prev.fine.shape[1] - m]
    fine = _ecc(template, cur.fine, coarse / prev.downscale + m, iterations)
    if fine is None:
        return coarse
    fine = (fine - m) * prev.downscale
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
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, iterations, 1e-4)
    try:
        _, warp = cv2.findTransformECC(
            template, image, warp, cv2.MOTION_TRANSLATION, criteria, None, 1
        )
    except cv2.error:  # no convergence (featureless or mostly masked frames)
        return None
    return warp[:, 2].astype(np.float64)


class PlatformMotion:
    """Feeds consecutive frames of one video; `shift(frame)` answers against the previous one."""

    def __init__(self, config: RegistrationConfig | None = None) -> None:
        self.config = config or RegistrationConfig()
        self._prev: Prepared | None = None

    def shift(self, frame: np.ndarray) -> np.ndarray:
        """Ground motion from the previous frame given to this one; zeros for the first frame
        (and always, when registration is disabled)."""
        if not self.config.enabled:
            return np.zeros(2)
        cur = Prepared(frame, self.config.downscale)
        prev, self._prev = self._prev, cur
        if prev is None or prev.fine.shape != cur.fine.shape:
            return np.zeros(2)
        return estimate_shift(prev, cur, self.config.iterations)


def _shrink(grey: np.ndarray, factor: int) -> np.ndarray:
    if factor == 1:
        return grey
    h, w = grey.shape
    return cv2.resize(
        grey, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA
    )
