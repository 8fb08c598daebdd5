"""Cloud puffs drifting over a video with their shadows; dense cloud hides the objects below."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from tgram.synth.compositor import clip
from tgram.synth.config import SynthConfig
from tgram.synth.painter import smooth_noise
from tgram.synth.palette import LEGACY_GRADING, Grading
from tgram.synth.world import Scene

CLOUD_HIDES = 0.5
"""Cloud opacity from which the ground below counts as hidden (visibility)."""
CLOUD_SHADOW = 0.35
"""Share of sunlight a puff at full opacity takes from the ground below its shadow."""


@dataclass(frozen=True)
class Puff:
    colour: np.ndarray
    """uint8 [n, n, 3] straight colour."""
    alpha: np.ndarray
    """float32 [n, n] opacity."""
    shadow: np.ndarray
    """uint8 [n, n, 3] light left below the puff's shadow, 255 = all."""
    centre: tuple[float, float]
    """World position at frame `t_centre`."""
    t_centre: float
    lift: float
    """Shadow offset, px: how high the puff floats."""


class Clouds:
    """Puffs drifting with one wind, each crossing the frame once; they hide what is below."""

    def __init__(
        self,
        cfg: SynthConfig,
        scene: Scene,
        rng: np.random.Generator,
        grading: Grading = LEGACY_GRADING,
    ) -> None:
        angle, speed = rng.uniform(0, 2 * math.pi), rng.uniform(0.5, 1.5)
        self.wind = (math.cos(angle) * speed, math.sin(angle) * speed)
        self.shadow_dir = scene.shadow_dir
        self.puffs = []
        for _ in range(rng.poisson(cfg.cloud_puffs)):
            n = int(rng.uniform(0.25, 0.6) * min(cfg.width, cfg.height, 400))
            colour, alpha = _cloud_sprite(rng, n, grading)
            shadow = np.repeat(255 * (1 - CLOUD_SHADOW * alpha[..., None]), 3, axis=2).astype(
                np.uint8
            )
            # over the frame's footprint (the frame itself unless the view is turned)
            margin = scene.margin
            world_h, world_w = scene.occluder.shape
            centre = (
                rng.uniform(0, world_w - 2 * margin) + margin,
                rng.uniform(0, world_h - 2 * margin) + margin,
            )
            self.puffs.append(
                Puff(colour, alpha, shadow, centre, rng.uniform(0, cfg.frames), rng.uniform(20, 60))
            )

    def draw(self, canvas: np.ndarray, owner: np.ndarray, t: int) -> list[tuple[slice, slice]]:
        """Draw the puffs and their shadows; pixels under dense cloud lose their owner.

        Returns the regions of `owner` that may have changed.
        """
        hiding = []
        for puff in self.puffs:
            n = puff.alpha.shape[0]
            x0 = round(puff.centre[0] + self.wind[0] * (t - puff.t_centre) - n / 2)
            y0 = round(puff.centre[1] + self.wind[1] * (t - puff.t_centre) - n / 2)
            sx, sy = (
                x0 + round(self.shadow_dir[0] * puff.lift),
                y0 + round(self.shadow_dir[1] * puff.lift),
            )
            region, (shadow,) = clip(canvas.shape, sx, sy, puff.shadow)
            if region is not None:
                canvas[region] = cv2.multiply(canvas[region], shadow, scale=1 / 255)
            region, (colour, alpha) = clip(canvas.shape, x0, y0, puff.colour, puff.alpha)
            if region is not None:
                canvas[region] = cv2.blendLinear(canvas[region], colour, 1 - alpha, alpha)
                owner[region][alpha >= CLOUD_HIDES] = 0
                hiding.append(region)
        return hiding


def _cloud_sprite(
    rng: np.random.Generator, n: int, grading: Grading = LEGACY_GRADING
) -> tuple[np.ndarray, np.ndarray]:
    """A soft, lumpy puff of n x n pixels: straight colour (uint8) and opacity (at most ~0.9)."""
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32) / n - 0.5
    falloff = np.exp(-(xx**2 + yy**2) / 0.05)
    lumps = 0.55 + 0.45 * smooth_noise(rng, n, n, max(4, n / 8))
    alpha = np.clip((falloff * lumps - 0.25) * 2.2, 0, 0.92).astype(np.float32)
    alpha = cv2.GaussianBlur(alpha, (0, 0), max(1.0, n / 40))
    shading = np.repeat((232 - 18 * np.clip(yy + xx, -0.5, 0.5))[..., None], 3, axis=2)
    colour = grading.apply(shading.astype(np.float32), 1.0)
    return np.clip(colour, 0, 255).astype(np.uint8), alpha
