"""Platform and sensor of the held-out family: drift and jitter, PSF, haze, noise, tone.

Per frame, in this order: the world canvas is resampled at the platform's sub-pixel offset
(bilinear), blurred by the video's point spread function (a defocus disk convolved with an
anisotropic Gaussian, one 2-D kernel), veiled by a thin haze if the video has one and by a
mild vignette, given signal-dependent noise (variance = read^2 + gain * signal, luminance)
with fixed-pattern row/column banding and temporal row flicker, then mapped through the
video's tone curve and white balance (one 256-entry LUT per channel).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from tgram.heldout.config import HeldoutConfig
from tgram.heldout.style import Style
from tgram.heldout.terrain import fbm


def platform_offsets(cfg: HeldoutConfig, rng: np.random.Generator) -> np.ndarray:
    """(frames, 2) world position of each frame's top-left corner: margin + drift + jitter."""
    n = cfg.frames
    t = np.arange(n) / max(1, n - 1)
    direction = rng.uniform(0, 2 * math.pi)
    d = np.array([math.cos(direction), math.sin(direction)])
    perp = np.array([-d[1], d[0]])
    total = rng.uniform(0.3, 1.0) * cfg.drift_px
    bow = rng.uniform(-0.3, 0.3) * total
    drift = (t - 0.5)[:, None] * total * d + (bow * (t * (1 - t) - 1 / 6))[:, None] * perp
    jitter = np.zeros((n, 2))
    if cfg.jitter_px > 0:
        rho = rng.uniform(0.3, 0.85)
        sigma = cfg.jitter_px * rng.uniform(0.3, 0.6)
        jitter[0] = rng.normal(0, sigma, 2)
        for k in range(1, n):
            jitter[k] = rho * jitter[k - 1] + math.sqrt(1 - rho**2) * rng.normal(0, sigma, 2)
        np.clip(jitter, -cfg.jitter_px, cfg.jitter_px, out=jitter)
    return cfg.margin + drift + jitter


def psf_kernel(radius: float, sigmas: tuple[float, float], angle: float) -> np.ndarray:
    """Defocus disk of `radius` px convolved with a rotated Gaussian, integrated over pixels."""
    fine = 8
    half = int(min(3, max(1, math.ceil(radius + 2.2 * max(sigmas)))))
    n = (2 * half + 1) * fine
    c = (np.arange(n) + 0.5) / fine - (half + 0.5)
    x, y = np.meshgrid(c, c)
    disk = (
        (x * x + y * y <= radius * radius).astype(np.float32)
        if radius > 0
        else np.zeros_like(x, np.float32)
    )
    if radius <= 0 or disk.sum() == 0:
        disk[n // 2, n // 2] = 1.0
    ca, sa = math.cos(angle), math.sin(angle)
    u, v = x * ca + y * sa, -x * sa + y * ca
    gauss = np.exp(-0.5 * ((u / sigmas[0]) ** 2 + (v / sigmas[1]) ** 2)).astype(np.float32)
    blurred = cv2.filter2D(disk, -1, gauss / gauss.sum(), borderType=cv2.BORDER_CONSTANT)
    k = blurred.reshape(2 * half + 1, fine, 2 * half + 1, fine).sum(axis=(1, 3))
    return (k / k.sum()).astype(np.float32)


def tone_lut(style: Style) -> np.ndarray:
    """uint8 [256, 1, 3]: white balance, gamma, an S-curve of `contrast`, a black lift."""
    v = np.arange(256, dtype=np.float64) / 255.0
    k = 8.0
    lo, hi = 1 / (1 + math.exp(k * 0.5)), 1 / (1 + math.exp(-k * 0.5))
    out = np.empty((256, 1, 3), np.uint8)
    for ch in range(3):
        x = np.clip(v * style.wb[ch], 0, 1) ** style.gamma
        s = (1 / (1 + np.exp(-k * (x - 0.5))) - lo) / (hi - lo)
        x = (1 - style.contrast) * x + style.contrast * s
        x = style.lift + (1 - style.lift) * x
        out[:, 0, ch] = np.clip(np.rint(x * 255), 0, 255).astype(np.uint8)
    return out


class Sensor:
    """Turns the world canvas into the frames a satellite of this video's style records."""

    def __init__(self, cfg: HeldoutConfig, style: Style, rng: np.random.Generator) -> None:
        self.width, self.height, self.frames = cfg.width, cfg.height, cfg.frames
        self.offsets = platform_offsets(cfg, rng)
        self.psf = psf_kernel(style.psf_radius, style.psf_sigma, style.psf_angle)
        self.lut = tone_lut(style)
        h, w = cfg.height, cfg.width
        self.std_lut = np.sqrt(style.read_noise**2 + style.shot_gain * np.arange(256)).astype(
            np.float32
        )
        segments = np.repeat(rng.normal(0, style.col_band, w // 64 + 2), 64)
        start = int(rng.integers(0, 64))
        self.col_fixed = (
            rng.normal(0, style.col_band * 0.6, w) + segments[start : start + w]
        ).astype(np.float32)
        self.row_fixed = rng.normal(0, style.row_band, h).astype(np.float32)
        self.row_flicker = style.row_band * 0.5
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        r2 = ((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2
        self.vignette = (1.0 - style.vignette * r2 / 2).astype(np.float32)
        self.haze = None
        if style.haze > 0:
            vx, vy = style.haze_velocity
            self.haze_pad = int(min(160, math.ceil(max(abs(vx), abs(vy)) * cfg.frames))) + 1
            field = fbm(
                rng, h + 2 * self.haze_pad, w + 2 * self.haze_pad, cell=max(h, w) / 2.5, octaves=4
            )
            alpha = np.clip((field - 0.3) / 0.5, 0, 1)
            alpha = alpha * alpha * (3 - 2 * alpha) * style.haze
            self.haze = alpha.astype(np.float32)
            self.haze_velocity = (vx, vy)
            self.haze_rgb = (
                np.array([232, 236, 242], np.float32) * np.array(style.wb, np.float32) ** -0.5
            )

    def _haze_alpha(self, t: int) -> np.ndarray:
        assert self.haze is not None
        span = 2 * self.haze_pad
        shift = []
        for v in self.haze_velocity:
            p = (self.haze_pad + int(round(v * t))) % (2 * span)
            shift.append(p if p <= span else 2 * span - p)  # ping-pong inside the padded field
        sx, sy = shift
        return self.haze[sy : sy + self.height, sx : sx + self.width]

    def view(self, canvas: np.ndarray, t: int) -> np.ndarray:
        """The frame's window of the world canvas at its platform offset (no sensor effects)."""
        ox, oy = self.offsets[t]
        m = np.array([[1, 0, ox], [0, 1, oy]], np.float64)
        return cv2.warpAffine(
            canvas,
            m,
            (self.width, self.height),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REFLECT,
        )

    def develop(self, canvas: np.ndarray, t: int, rng: np.random.Generator) -> np.ndarray:
        """The recorded frame t; `rng` draws its temporal noise."""
        frame = cv2.filter2D(self.view(canvas, t), -1, self.psf, borderType=cv2.BORDER_REFLECT)
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        noise = rng.standard_normal((self.height, self.width), dtype=np.float32)
        noise *= np.take(self.std_lut, grey)
        noise += self.col_fixed[None, :]
        noise += (self.row_fixed + rng.normal(0, self.row_flicker, self.height).astype(np.float32))[
            :, None
        ]
        noise += 0.5  # rounding of the cast below
        f = frame.astype(np.float32)
        if self.haze is not None:
            a = self._haze_alpha(t)
            gain = self.vignette * (1.0 - a)
            f *= gain[..., None]
            f += a[..., None] * self.haze_rgb
        else:
            f *= self.vignette[..., None]
        f += noise[..., None]
        np.clip(f, 0, 255, out=f)
        return cv2.LUT(f.astype(np.uint8), self.lut)
