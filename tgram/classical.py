"""Classical moving-object detector for satellite video: registered background subtraction.

This is the pipeline satellite-video trackers used before learnt detectors, kept as the
peer TGraM is measured against: register each frame to the background (the platform
jitters by a pixel or two, enough to light up every edge of a static scene), subtract a
per-pixel Gaussian-mixture background (OpenCV's MOG2), clean the mask with morphology and
take connected components as boxes. It needs no training, but it only sees what moves:
parked cars and moored ships become background and are never detected.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from tgram.classes import class_index
from tgram.detections import Detections

DETECTED_CLASS = class_index("vehicle")
"""Every blob is reported as a vehicle: background subtraction cannot tell classes apart,
and moving vehicles are nearly all it finds in satellite video."""


@dataclass(frozen=True)
class BackgroundSubtractionConfig:
    """Settings of `BackgroundSubtractionDetector`; sizes are in pixels of the video."""

    history_frames: int = 30
    """Frames of MOG2's background memory (3 s at 10 fps). Raising it makes a car that stops
    take longer to fade into the background, and a departed one leave a longer ghost."""
    var_threshold: float = 16.0
    """Squared Mahalanobis distance from the background model beyond which a pixel is
    foreground (MOG2's varThreshold; 16 = 4 standard deviations). Raising it suppresses
    noise and compression artefacts and loses low-contrast vehicles."""
    background_ratio: float = 0.5
    """Share of the background memory a colour must fill at a pixel to count as background
    (MOG2's backgroundRatio). At OpenCV's 0.9 a uniformly coloured car is absorbed once it
    has covered a pixel for a tenth of the memory, i.e. a few frames, and only its front and
    back edges are detected; at 0.5 it must stand still about half the memory. Raising it
    fades slow and stopping vehicles faster."""
    min_area_px: int = 12
    """Smallest blob reported, px^2 (the smallest vehicle, 4x6 px, is 24). Raising it removes
    noise blobs and misses vehicles that are only partly foreground."""
    max_area_px: int = 400
    """Largest blob reported, px^2 (a 12x12 px vehicle is 144). Raising it admits merged
    vehicle pairs, moving ships and cloud-shadow fragments."""
    closing_px: int = 3
    """Square kernel that first joins a vehicle's foreground fragments into one blob. Raising
    it merges vehicles driving close together."""
    opening_px: int = 3
    """Square kernel that then removes specks thinner than itself. Raising it removes more
    noise and erodes away thin (4 px wide) vehicles."""
    max_jitter_px: float = 3.0
    """Largest platform shift between a frame and the background that registration accepts
    (Jilin-1 class jitter is a pixel or two); a larger measured shift is taken as a moving
    object dominating the phase correlation and ignored. Raising it follows bigger jitter
    and risks locking onto traffic."""
    full_score_contrast: float = 30.0
    """Mean grey-level difference from the background at which a blob scores 1; fainter blobs
    score proportionally less. Raising it lowers every score."""

    def __post_init__(self) -> None:
        for name in ("history_frames", "min_area_px", "closing_px", "opening_px"):
            if getattr(self, name) < 1:
                raise ValueError(f"classical.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("var_threshold", "max_jitter_px", "full_score_contrast"):
            if not getattr(self, name) > 0:
                raise ValueError(f"classical.{name} must be > 0, got {getattr(self, name)}")
        if not 0 < self.background_ratio <= 1:
            raise ValueError(
                f"classical.background_ratio must be in (0, 1], got {self.background_ratio}"
            )
        if self.max_area_px < self.min_area_px:
            raise ValueError(
                f"classical.max_area_px ({self.max_area_px}) must be >= "
                f"classical.min_area_px ({self.min_area_px})"
            )


class BackgroundSubtractionDetector:
    """Detects moving objects in one video, frame by frame in order; `reset()` between videos.

    Returns `Detections` as the learnt detector does, with an empty embedding per box
    (shape [N, 0]): there is no appearance model, so a tracker can only use motion and overlap.
    """

    def __init__(self, config: BackgroundSubtractionConfig | None = None) -> None:
        self.config = config or BackgroundSubtractionConfig()
        self._closing = np.ones((self.config.closing_px,) * 2, np.uint8)
        self._opening = np.ones((self.config.opening_px,) * 2, np.uint8)
        self.reset()

    def reset(self) -> None:
        """Forget the background, for the next video."""
        self._subtractor = cv2.createBackgroundSubtractorMOG2(
            history=self.config.history_frames,
            varThreshold=self.config.var_threshold,
            detectShadows=False,
        )
        self._subtractor.setBackgroundRatio(self.config.background_ratio)
        self._window: np.ndarray | None = None

    def __call__(self, frame: np.ndarray) -> Detections:
        """Moving objects in `frame` (RGB uint8 [H, W, 3]), boxes in its own pixels."""
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(
                f"BackgroundSubtractionDetector: expected an RGB uint8 [H, W, 3] frame, "
                f"got {frame.dtype} {frame.shape}"
            )
        shift = self._jitter(frame)
        registered = _translate(frame, -shift)
        mask = self._subtractor.apply(registered)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, self._closing)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, self._opening)
        boxes, labels, keep = self._blobs(mask)
        scores = self._scores(registered, labels, keep)
        boxes[:, [0, 2]] += shift[0]
        boxes[:, [1, 3]] += shift[1]
        height, width = frame.shape[:2]
        return Detections(
            boxes=boxes,
            scores=scores,
            classes=np.full(len(boxes), DETECTED_CLASS, np.int64),
            embeddings=np.zeros((len(boxes), 0), np.float32),
        ).clip(width=width, height=height)

    def _jitter(self, frame: np.ndarray) -> np.ndarray:
        """(dx, dy) by which the scene in `frame` is displaced from the background, subpixel.

        Measured against the background image rather than the previous frame, so errors do
        not accumulate over the video; the first frame defines the reference.
        """
        background = self._subtractor.getBackgroundImage()
        if background is None or background.shape != frame.shape:
            return np.zeros(2, np.float32)
        if self._window is None:
            self._window = cv2.createHanningWindow(frame.shape[1::-1], cv2.CV_32F)
        (dx, dy), _ = cv2.phaseCorrelate(_grey(background), _grey(frame), self._window)
        if max(abs(dx), abs(dy)) > self.config.max_jitter_px:
            return np.zeros(2, np.float32)
        return np.array([dx, dy], np.float32)

    def _blobs(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """xyxy boxes of the size-filtered components, the label image and their labels."""
        _, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        area = stats[1:, cv2.CC_STAT_AREA]  # label 0 is the background
        keep = 1 + np.flatnonzero(
            (area >= self.config.min_area_px) & (area <= self.config.max_area_px)
        )
        # Boxes on pixel edges: a blob on columns 3..6 spans x in [3, 7).
        left, top = stats[keep, cv2.CC_STAT_LEFT], stats[keep, cv2.CC_STAT_TOP]
        right = left + stats[keep, cv2.CC_STAT_WIDTH]
        bottom = top + stats[keep, cv2.CC_STAT_HEIGHT]
        return np.stack([left, top, right, bottom], axis=1).astype(np.float32), labels, keep

    def _scores(self, registered: np.ndarray, labels: np.ndarray, keep: np.ndarray) -> np.ndarray:
        """Mean contrast of each kept blob against the background, scaled to [0, 1]."""
        if len(keep) == 0:
            return np.zeros(0, np.float32)
        background = self._subtractor.getBackgroundImage()
        difference = np.abs(_grey(registered) - _grey(background)).ravel()
        flat_labels = labels.ravel()
        count = int(keep.max()) + 1
        total = np.bincount(flat_labels, weights=difference, minlength=count)[keep]
        pixels = np.bincount(flat_labels, minlength=count)[keep]
        contrast = total / pixels
        return np.clip(contrast / self.config.full_score_contrast, 0.0, 1.0).astype(np.float32)


def _grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)


def _translate(image: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """`image` moved by `shift` (dx, dy) px, bilinear; the uncovered border repeats the edge."""
    if not shift.any():
        return image
    matrix = np.array([[1, 0, shift[0]], [0, 1, shift[1]]], np.float32)
    height, width = image.shape[:2]
    return cv2.warpAffine(
        image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
