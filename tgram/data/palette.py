"""Colours and light of the synthetic world: ground materials, haze and the sensor's muted colour."""

from __future__ import annotations

import cv2
import numpy as np

RGB = tuple[float, float, float]

SHADOW_DARKNESS = 0.45
"""Fraction of light a cast shadow removes."""

LAND = (128.0, 124.0, 112.0)
ASPHALT = (74.0, 76.0, 79.0)
PAVEMENT = (150.0, 148.0, 140.0)
LOT_ASPHALT = (96.0, 98.0, 99.0)
CONCRETE = (170.0, 170.0, 163.0)
GRASS = (84.0, 102.0, 60.0)
TREE = (46.0, 70.0, 40.0)
SAND = (188.0, 174.0, 142.0)
MARKING = (215.0, 215.0, 205.0)
TAXI_YELLOW = (205.0, 172.0, 64.0)
WATER_COLOURS: tuple[RGB, ...] = ((34.0, 62.0, 76.0), (40.0, 70.0, 70.0), (30.0, 52.0, 70.0))
ROOF_COLOURS: tuple[RGB, ...] = (
    (196.0, 194.0, 188.0),
    (150.0, 150.0, 148.0),
    (112.0, 112.0, 116.0),
    (222.0, 220.0, 213.0),
    (160.0, 94.0, 72.0),
    (98.0, 122.0, 142.0),
    (132.0, 142.0, 122.0),
)
CONTAINER_COLOURS: tuple[RGB, ...] = (
    (170.0, 52.0, 40.0),
    (40.0, 78.0, 140.0),
    (60.0, 120.0, 70.0),
    (210.0, 210.0, 205.0),
    (200.0, 120.0, 40.0),
    (120.0, 120.0, 118.0),
    (110.0, 70.0, 50.0),
)


def shade(rgb: RGB, factor: float) -> RGB:
    return tuple(float(min(255.0, c * factor)) for c in rgb)  # type: ignore[return-value]


HAZE = (150.0, 156.0, 162.0)
HAZE_AMOUNT = 0.12
"""Share of the signal replaced by atmospheric haze: lowers contrast as in real imagery."""
DESATURATION = 0.3
"""How far colours are pulled towards grey: satellite video colour is muted."""


GRADING = (1 - HAZE_AMOUNT) * ((1 - DESATURATION) * np.eye(3) + DESATURATION / 3)
"""The colour part of `grade` as a matrix: pull towards the grey mean, then fade under haze."""


def grade(rgb: np.ndarray, coverage: np.ndarray | float) -> np.ndarray:
    """The atmosphere and sensor colour response, for premultiplied float32 colour [..., 3]
    with `coverage` (an array that broadcasts against it, or 1.0 for opaque ground).

    One cv2.transform pass: for a whole world image that is several times cheaper than
    the same arithmetic in numpy (a mean over a 3-wide axis, then three full-size passes).
    """
    haze = np.asarray(HAZE, np.float64) * HAZE_AMOUNT
    if np.isscalar(coverage):
        offset = haze * float(coverage)  # type: ignore[arg-type]
        return cv2.transform(np.ascontiguousarray(rgb), np.c_[GRADING, offset])
    return cv2.transform(np.ascontiguousarray(rgb), GRADING) + haze.astype(np.float32) * coverage
