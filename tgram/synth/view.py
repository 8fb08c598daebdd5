"""How the sensor's frame lies on the painted world: upright, or turned around its centre.

The renderer lays roads, parking rows, aprons and piers along the world's axes. Real
imagery shows them at every angle, and turning training crops after rendering resamples
already blurred, noisy, compressed 4 px cars. A turned view instead samples the sharp
world once, before the sensor's noise and the encoder, so a turned video is rendered as
cleanly as an upright one. Its gt boxes are the tight boxes of the turned silhouettes.

Conventions: world pixel i covers [i, i+1) and so does frame pixel u; upright, frame pixel u
shows world pixel u + ox (the footprint's top-left offset, jitter and drift included).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class View:
    """A `width` x `height` frame turned by `angle_deg` (counter-clockwise in image axes,
    y down: the frame's x axis points along world (cos, sin)) around its centre."""

    width: int
    height: int
    angle_deg: float = 0.0

    @property
    def turned(self) -> bool:
        return self.angle_deg % 360.0 != 0.0

    @property
    def rotation(self) -> np.ndarray:
        """[2, 2] matrix taking frame directions to world directions."""
        a = math.radians(self.angle_deg)
        c, s = math.cos(a), math.sin(a)
        return np.array([[c, -s], [s, c]])

    @property
    def footprint(self) -> tuple[int, int]:
        """(width, height) of the upright world rectangle the turned frame fits in; the scene
        is painted for it (plus the jitter margin)."""
        if not self.turned:
            return self.width, self.height
        c, s = np.abs(self.rotation[:, 0])
        return (
            math.ceil(self.width * c + self.height * s - 1e-9),
            math.ceil(self.width * s + self.height * c - 1e-9),
        )

    def centre(self, offset: tuple[float, float]) -> np.ndarray:
        """World point (continuous) under the frame's centre, the footprint's top-left at `offset`."""
        fw, fh = self.footprint
        return np.array([offset[0] + fw / 2, offset[1] + fh / 2])

    def sample(self, canvas: np.ndarray, offset: tuple[float, float], gain: float) -> np.ndarray:
        """The turned frame of `canvas` (bilinear, one pass), brightness times `gain`."""
        r = self.rotation
        # frame pixel index u -> world pixel index: R (u + 0.5 - size / 2) + centre - 0.5
        half = np.array([self.width / 2, self.height / 2])
        shift = r @ (0.5 - half) + self.centre(offset) - 0.5
        warp = np.hstack([r, shift[:, None]])
        frame = cv2.warpAffine(
            canvas,
            warp,
            (self.width, self.height),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )
        return cv2.convertScaleAbs(frame, alpha=gain) if gain != 1.0 else frame

    def to_frame(self, xy: np.ndarray, offset: tuple[float, float]) -> np.ndarray:
        """[n, 2] continuous world points -> continuous frame points."""
        half = np.array([self.width / 2, self.height / 2])
        return (xy - self.centre(offset)) @ self.rotation + half

    def frame_shift(self, world_shift: np.ndarray) -> np.ndarray:
        """[n, 2] displacements of the footprint in the world -> the same in frame axes."""
        return np.asarray(world_shift, np.float64) @ self.rotation

    def silhouettes(
        self,
        pixels: np.ndarray,
        owners: np.ndarray,
        shown: np.ndarray,
        world_width: int,
        offset: tuple[float, float],
        n_owners: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per owner value: the frame box [x0, x1, y0, y1] of its silhouette pixels (turned
        unit squares, so exact to the pixel) and its count of shown pixels inside the frame.

        Owners without pixels get an empty box (inf, -inf).
        """
        ys, xs = np.divmod(pixels, world_width)
        uv = self.to_frame(np.stack([xs + 0.5, ys + 0.5], axis=1), offset)
        u, v = uv[:, 0], uv[:, 1]
        lo = np.full((2, n_owners), np.inf)
        hi = np.full((2, n_owners), -np.inf)
        for k, coord in enumerate((u, v)):
            np.minimum.at(lo[k], owners, coord)
            np.maximum.at(hi[k], owners, coord)
        reach = 0.5 * float(np.abs(self.rotation[:, 0]).sum())  # half a turned pixel's extent
        box = np.stack([lo[0] - reach, hi[0] + reach, lo[1] - reach, hi[1] + reach], axis=1)
        inside = (u >= 0) & (u < self.width) & (v >= 0) & (v < self.height)
        return box, np.bincount(owners[shown & inside], minlength=n_owners)
