"""The satellite's sensor model: platform jitter and drift, optics blur, brightness drift, noise.

Costs are kept per frame to three uint8 passes over the frame: an x and a y sub-pixel
shift, the second with the gain folded in, then the noise, as one saturating add and one
saturating subtract (integer operations, together half the cost of a weighted add). The
x pass writes into a buffer kept across frames, so no fresh 6 MB is paged in for it.

The optics blur is not one of them: `optics_blur` is applied where the layers are made
(once to the static world, once to each cached sprite look, to each small shadow patch),
which gives the same picture as blurring every composited frame, up to the soft edges of
clouds and wakes.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from tgram.synth.config import SynthConfig
from tgram.synth.style import Style, fixed_style
from tgram.synth.view import View

NOISE_PAD = 16
"""The noise tile is this much larger than a frame; each frame reads it at a random offset."""


def blur_kernel(sigma: float) -> tuple[int, int]:
    """Optics blur support for `sigma`: 3x3 up to sigma 0.6 (much cheaper than the 5x5 OpenCV
    picks there), then wide enough to reach ~2.5 sigma (9x9 at sigma 1.5)."""
    half = max(1, math.ceil(2.5 * sigma - 0.5 - 1e-9))
    return 2 * half + 1, 2 * half + 1


def optics_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """The optics' Gaussian blur of `image` (uint8 or float32, any channels); sigma 0: unchanged."""
    return cv2.GaussianBlur(image, blur_kernel(sigma), sigma) if sigma > 0 else image


class Sensor:
    """Whole-frame effects of one video, drawn from one random stream at construction.

    `style` is the video's style (tgram.synth.style); None: the fixed style of `cfg`.
    """

    def __init__(
        self,
        cfg: SynthConfig,
        rng: np.random.Generator,
        style: Style | None = None,
        view: View | None = None,
    ) -> None:
        style = fixed_style(cfg) if style is None else style
        self.view = View(cfg.width, cfg.height) if view is None else view
        self.cfg, self.margin, self.noise_sigma = cfg, style.margin, style.noise_sigma
        t = np.arange(cfg.frames)
        self.jitter = np.stack([self._wobble(rng, t) for _ in range(2)], axis=1) * style.jitter_px
        period = cfg.frames * rng.uniform(1, 3)
        self.gain = 1 + style.brightness_drift * np.sin(
            2 * math.pi * t / period + rng.uniform(0, 2 * math.pi)
        )
        self.noise_offsets = rng.integers(0, NOISE_PAD, (cfg.frames, 2))
        shape = (cfg.height + NOISE_PAD, cfg.width + NOISE_PAD, 3)
        # one Gaussian tile read at a fresh offset per frame: drawing 6 MP of normals per
        # frame would cost more than everything else the sensor does
        noise = np.rint(rng.standard_normal(shape, dtype=np.float32) * style.noise_sigma)
        # split by sign: adding the bright part and subtracting the dark part, both with
        # uint8 saturation, clips exactly as adding the signed noise would
        self.brighten = np.clip(noise, 0, 255).astype(np.uint8)
        self.darken = np.clip(-noise, 0, 255).astype(np.uint8)
        self._rows = np.empty((cfg.height + 1, cfg.width, 3), np.uint8)
        """The x-shifted frame plus one row, reused every frame."""
        if style.drift_px > 0:
            self.jitter += self._drift(rng, t, style.drift_px)

    @staticmethod
    def _drift(rng: np.random.Generator, t: np.ndarray, travel: float) -> np.ndarray:
        """A slow drift of `travel` px over the video along a random direction, gently curved;
        centred on the frame (at most ~0.52 `travel` from it)."""
        angle = rng.uniform(0, 2 * math.pi)
        direction = np.array([math.cos(angle), math.sin(angle)])
        normal = np.array([-direction[1], direction[0]])
        u = t / max(1, len(t) - 1)
        along = travel * (u - 0.5)
        across = 0.15 * travel * rng.choice([-1.0, 1.0]) * (np.sin(math.pi * u) - 0.5)
        return along[:, None] * direction + across[:, None] * normal

    @staticmethod
    def _wobble(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
        """A smooth oscillation in [-1, 1]: slow drift plus faster vibration."""
        slow = np.sin(2 * math.pi * t / rng.uniform(20, 60) + rng.uniform(0, 2 * math.pi))
        fast = np.sin(2 * math.pi * t / rng.uniform(5, 12) + rng.uniform(0, 2 * math.pi))
        return 0.65 * slow + 0.35 * fast

    def offset(self, t: int) -> tuple[float, float]:
        """World position of the top-left corner of the frame's footprint at frame t (the
        frame's own corner when the view is upright)."""
        return self.margin + float(self.jitter[t, 0]), self.margin + float(self.jitter[t, 1])

    def expose(self, canvas: np.ndarray, t: int) -> np.ndarray:
        """Frame t (RGB uint8) of the composited world `canvas`, already optics-blurred."""
        width, height = self.cfg.width, self.cfg.height
        ox, oy = self.offset(t)
        gain = float(self.gain[t])
        if self.view.turned:
            frame = self.view.sample(canvas, (ox, oy), gain)
        else:
            ix, iy = math.floor(ox), math.floor(oy)
            fx, fy = ox - ix, oy - iy
            region = canvas[iy : iy + height + 1, ix : ix + width + 1]
            rows = self._rows
            cv2.addWeighted(region[:, :width], 1 - fx, region[:, 1:], fx, 0, dst=rows)
            frame = cv2.addWeighted(rows[:height], (1 - fy) * gain, rows[1:], fy * gain, 0)
        if self.noise_sigma > 0:
            dy, dx = self.noise_offsets[t]
            window = (slice(dy, dy + height), slice(dx, dx + width))
            cv2.add(frame, self.brighten[window], dst=frame)
            cv2.subtract(frame, self.darken[window], dst=frame)
        return frame
