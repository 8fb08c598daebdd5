"""Colours and light of the synthetic world: ground materials, haze and the sensor's muted colour.

The module constants are the fixed style's palette and grading. The randomised style draws
a `Palette` per video from one of the `BIOMES` (jittered by `Palette.jittered`) and a
`Grading` (haze, white balance, desaturation, contrast, gamma) from the style ranges.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from functools import cached_property

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


# --- per-video styles ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Grading:
    """Atmosphere and sensor colour response of one video: per-channel white balance, the
    pull towards grey, haze, contrast around mid-grey (one affine map), then a gamma curve.

    The fixed style's grading (`LEGACY_GRADING`) is `grade` exactly.
    """

    haze: float = HAZE_AMOUNT
    desaturation: float = DESATURATION
    haze_rgb: RGB = HAZE
    white_balance: float = 0.0
    tint: float = 0.0
    contrast: float = 1.0
    gamma: float = 1.0
    legacy: bool = False
    """Use `grade` itself (bit for bit the fixed style's look)."""

    PIVOT = 118.0
    """Grey level that contrast changes leave where it is."""

    @cached_property
    def affine(self) -> np.ndarray:
        """3x4 [matrix | offset] of everything but the gamma curve."""
        d, h, c = self.desaturation, self.haze, self.contrast
        balance = np.diag([1 + self.white_balance, 1 + self.tint, 1 - self.white_balance])
        matrix = c * (1 - h) * ((1 - d) * np.eye(3) + d / 3) @ balance
        offset = c * h * np.asarray(self.haze_rgb, np.float64) + (1 - c) * self.PIVOT
        return np.c_[matrix, offset]

    @cached_property
    def lut(self) -> np.ndarray | None:
        """uint8 lookup table of the gamma curve (None: identity)."""
        if self.gamma == 1.0:
            return None
        levels = np.arange(256, dtype=np.float64) / 255
        return np.clip(np.rint(255 * levels**self.gamma), 0, 255).astype(np.uint8)

    def apply(self, rgb: np.ndarray, coverage: np.ndarray | float) -> np.ndarray:
        """Like `grade`: premultiplied float32 colour [..., 3] with `coverage` (array or 1.0)."""
        if self.legacy:
            return grade(rgb, coverage)
        affine = self.affine
        rgb = np.ascontiguousarray(rgb, np.float32)
        if np.isscalar(coverage):
            out = cv2.transform(rgb, np.c_[affine[:, :3], affine[:, 3] * float(coverage)])  # type: ignore[arg-type]
        else:
            out = cv2.transform(rgb, affine[:, :3]) + affine[:, 3].astype(np.float32) * coverage
        if self.gamma == 1.0:
            return out
        cover = np.float32(coverage) if np.isscalar(coverage) else coverage
        straight = np.clip(out / np.maximum(cover, 1e-6), 0, 255)
        return (255 * (straight / 255) ** np.float32(self.gamma) * cover).astype(np.float32)

    def image(self, rgb: np.ndarray) -> np.ndarray:
        """An opaque float image graded to uint8 (the gamma curve as a lookup table)."""
        if self.legacy:
            graded = grade(rgb, 1.0)
        else:
            graded = cv2.transform(np.ascontiguousarray(rgb, np.float32), self.affine)
        out = np.clip(graded, 0, 255, out=graded).astype(np.uint8)
        return out if self.lut is None else cv2.LUT(out, self.lut)

    def colour(self, rgb: RGB) -> RGB:
        """One opaque colour as the sensor shows it."""
        out = self.apply(np.asarray([[rgb]], np.float32), 1.0)[0, 0]
        return tuple(float(v) for v in np.clip(out, 0, 255))  # type: ignore[return-value]


LEGACY_GRADING = Grading(legacy=True)
"""The fixed style's grading: `grade`."""


@dataclass(frozen=True)
class Palette:
    """Ground materials of one video's world, and how green it is."""

    land: RGB = LAND
    asphalt: RGB = ASPHALT
    pavement: RGB = PAVEMENT
    lot_asphalt: RGB = LOT_ASPHALT
    concrete: RGB = CONCRETE
    grass: RGB = GRASS
    tree: RGB = TREE
    sand: RGB = SAND
    marking: RGB = MARKING
    taxi_yellow: RGB = TAXI_YELLOW
    quay_edge: RGB = (192.0, 192.0, 186.0)
    terminal: RGB = (206.0, 206.0, 200.0)
    bridge: RGB = (150.0, 150.0, 150.0)
    water: tuple[RGB, ...] = WATER_COLOURS
    roofs: tuple[RGB, ...] = ROOF_COLOURS
    containers: tuple[RGB, ...] = CONTAINER_COLOURS
    trees: float = 1.0
    """Tree density factor (parks, gardens, street trees)."""
    blocks: tuple[float, float, float, float] = (0.55, 0.1, 0.1, 0.25)
    """Chances of a city block being buildings, a parking lot, a park, or a mix."""

    def jittered(self, rng: np.random.Generator, amount: float = 0.025) -> Palette:
        """This palette with every ground colour nudged (per channel, `amount` relative sigma)
        and the whole brightened or darkened a little: no two videos of a biome alike."""
        brightness = rng.uniform(0.9, 1.1)

        def nudge(rgb: RGB) -> RGB:
            factor = brightness * (1 + amount * rng.standard_normal(3))
            return tuple(float(v) for v in np.clip(np.asarray(rgb) * factor, 0, 250))  # type: ignore[return-value]

        changes: dict[str, object] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("trees", "blocks", "containers", "marking", "taxi_yellow"):
                continue
            if f.name in ("water", "roofs"):
                changes[f.name] = tuple(nudge(c) for c in value)
            else:
                changes[f.name] = nudge(value)
        changes["trees"] = self.trees * rng.uniform(0.7, 1.3)
        return replace(self, **changes)  # type: ignore[arg-type]


LEGACY_PALETTE = Palette()
"""The fixed style's ground materials (the module constants)."""

BIOME_PALETTES: dict[str, Palette] = {
    "temperate": Palette(),
    "arid": Palette(
        land=(178.0, 158.0, 122.0),
        asphalt=(96.0, 92.0, 88.0),
        pavement=(180.0, 168.0, 148.0),
        lot_asphalt=(118.0, 112.0, 104.0),
        concrete=(196.0, 188.0, 170.0),
        grass=(146.0, 138.0, 96.0),
        tree=(86.0, 92.0, 58.0),
        sand=(214.0, 194.0, 152.0),
        water=((38.0, 76.0, 92.0), (46.0, 88.0, 98.0), (34.0, 66.0, 84.0)),
        roofs=(
            (216.0, 206.0, 186.0),
            (198.0, 178.0, 150.0),
            (232.0, 228.0, 216.0),
            (176.0, 122.0, 92.0),
            (156.0, 146.0, 130.0),
            (188.0, 170.0, 140.0),
        ),
        trees=0.3,
        blocks=(0.68, 0.14, 0.03, 0.15),
    ),
    "urban": Palette(
        land=(120.0, 120.0, 118.0),
        asphalt=(66.0, 68.0, 72.0),
        pavement=(142.0, 142.0, 140.0),
        lot_asphalt=(88.0, 90.0, 93.0),
        concrete=(162.0, 162.0, 160.0),
        grass=(92.0, 102.0, 76.0),
        tree=(50.0, 66.0, 46.0),
        water=((38.0, 54.0, 62.0), (44.0, 60.0, 64.0)),
        roofs=(
            (92.0, 94.0, 98.0),
            (132.0, 132.0, 134.0),
            (172.0, 172.0, 174.0),
            (204.0, 204.0, 204.0),
            (64.0, 68.0, 74.0),
            (122.0, 106.0, 98.0),
            (150.0, 156.0, 162.0),
        ),
        trees=0.5,
        blocks=(0.7, 0.14, 0.04, 0.12),
    ),
    "winter": Palette(
        land=(208.0, 212.0, 218.0),
        asphalt=(84.0, 86.0, 90.0),
        pavement=(176.0, 178.0, 184.0),
        lot_asphalt=(146.0, 148.0, 154.0),
        concrete=(196.0, 198.0, 204.0),
        grass=(222.0, 225.0, 230.0),
        tree=(40.0, 54.0, 48.0),
        sand=(200.0, 200.0, 200.0),
        water=((30.0, 42.0, 54.0), (36.0, 48.0, 58.0)),
        roofs=(
            (230.0, 232.0, 236.0),
            (214.0, 216.0, 222.0),
            (196.0, 198.0, 204.0),
            (122.0, 112.0, 106.0),
            (236.0, 238.0, 240.0),
            (100.0, 104.0, 110.0),
        ),
        trees=0.8,
    ),
    "tropical": Palette(
        land=(116.0, 118.0, 82.0),
        asphalt=(76.0, 78.0, 80.0),
        grass=(62.0, 110.0, 48.0),
        tree=(30.0, 78.0, 36.0),
        sand=(216.0, 202.0, 162.0),
        water=((36.0, 96.0, 102.0), (30.0, 84.0, 98.0), (44.0, 110.0, 112.0)),
        roofs=(
            (178.0, 92.0, 64.0),
            (198.0, 112.0, 72.0),
            (222.0, 220.0, 212.0),
            (122.0, 132.0, 142.0),
            (92.0, 122.0, 102.0),
            (160.0, 84.0, 60.0),
        ),
        trees=1.6,
        blocks=(0.5, 0.08, 0.16, 0.26),
    ),
}
"""Base ground palettes of the randomised style, by biome."""
