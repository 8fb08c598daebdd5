"""Ground texture of the held-out family: bicubic value-noise fBm mapped through a palette ramp,
with per-family features (dry wadis and ripples, ploughed fields, snow patches, ridged lava).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from tgram.heldout.geometry import crossing_path, wiggle, world_coverage
from tgram.heldout.style import Style


def fbm(
    rng: np.random.Generator, h: int, w: int, cell: float, octaves: int, persistence: float = 0.5
) -> np.ndarray:
    """Fractal value noise in [0, 1]: random lattices upsampled bicubically, summed by octave."""
    out = np.zeros((h, w), np.float32)
    amp = 1.0
    for o in range(octaves):
        c = max(2.0, cell / 2**o)
        gh, gw = int(math.ceil(h / c)) + 3, int(math.ceil(w / c)) + 3
        lattice = rng.random((gh, gw), dtype=np.float32)
        big = cv2.resize(lattice, (int(gw * c), int(gh * c)), interpolation=cv2.INTER_CUBIC)
        oy = int(rng.integers(0, max(1, big.shape[0] - h)))
        ox = int(rng.integers(0, max(1, big.shape[1] - w)))
        out += amp * big[oy : oy + h, ox : ox + w]
        amp *= persistence
    lo, hi = float(out.min()), float(out.max())
    return (out - lo) / max(hi - lo, 1e-6)


def ramp(values: np.ndarray, stops: tuple[tuple[float, float, float], ...]) -> np.ndarray:
    """Map values in [0, 1] to RGB by linear interpolation between equally spaced colour stops."""
    xs = np.linspace(0, 1, len(stops))
    lut = np.stack(
        [np.interp(np.linspace(0, 1, 256), xs, [c[k] for c in stops]) for k in range(3)], 1
    )
    idx = np.clip(values * 255 + 0.5, 0, 255).astype(np.uint8)
    return lut.astype(np.float32)[idx]


def paint_terrain(style: Style, rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """float32 RGB ground of the palette's family."""
    name = style.palette.name
    base = fbm(rng, h, w, cell=max(h, w) / 3, octaves=6, persistence=0.55)
    if name == "winter":
        # snow/soil boundaries broken up by fine noise: patchy melt, not smooth blotches
        rough = fbm(rng, h, w, cell=10, octaves=3) - 0.5
        base = np.clip((base + 0.35 * rough - 0.35) * 3.0 + 0.5, 0, 1)
    elif name == "basalt":
        base = 1 - np.abs(2 * base - 1)  # ridged lava
    img = ramp(base, tuple(style.saturate(c) for c in style.palette.terrain))
    detail = fbm(rng, h, w, cell=24, octaves=3) - 0.5
    grain = rng.normal(0, 1, (h, w)).astype(np.float32)
    grain = cv2.GaussianBlur(grain, (0, 0), 0.7)
    amp = {"arid": 0.1, "winter": 0.05, "steppe": 0.12, "basalt": 0.14}[name]
    img *= (1 + amp * detail + 0.025 * grain)[..., None]
    if name == "arid":
        _ripples(img, rng, h, w, 0.05)
        for _ in range(int(rng.integers(1, 3))):
            _wadi(img, style, rng, h, w)
    elif name == "steppe":
        for _ in range(int(rng.integers(4, 10) * h * w / 6e5) + 1):
            _field(img, style, rng, h, w)
    elif name == "basalt":
        _ripples(img, rng, h, w, 0.03)
    return img


def _ripples(img: np.ndarray, rng: np.random.Generator, h: int, w: int, amp: float) -> None:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    a = rng.uniform(0, math.pi)
    warp = fbm(rng, h, w, cell=90, octaves=2) * 14
    wave = np.sin((xx * math.cos(a) + yy * math.sin(a) + warp) * (2 * math.pi / rng.uniform(5, 9)))
    img *= (1 + amp * wave)[..., None]


def _wadi(img: np.ndarray, style: Style, rng: np.random.Generator, h: int, w: int) -> None:
    path = crossing_path(
        (rng.uniform(0, w), rng.uniform(0, h)),
        rng.uniform(0, math.pi),
        rng.uniform(-0.2, 0.2),
        (w, h),
        20,
    )
    path = wiggle(path, rng, rng.uniform(8, 25), (260, 110, 47))
    cov = world_coverage([path.band(-rng.uniform(3, 8), rng.uniform(3, 8))], (h, w))
    cov = cv2.GaussianBlur(cov, (0, 0), 2.0) * 0.6
    light = np.array(style.saturate((226, 212, 182)), np.float32)
    img *= 1 - cov[..., None]
    img += cov[..., None] * light


def _field(img: np.ndarray, style: Style, rng: np.random.Generator, h: int, w: int) -> None:
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    a = rng.uniform(0, math.pi)
    fw, fh = rng.uniform(60, 180), rng.uniform(40, 140)
    c, s = math.cos(a), math.sin(a)
    corners = np.array([(-fw / 2, -fh / 2), (fw / 2, -fh / 2), (fw / 2, fh / 2), (-fw / 2, fh / 2)])
    poly = corners @ np.array([[c, s], [-s, c]]) + (cx, cy)
    cov = world_coverage([poly], (h, w))
    ys, xs = np.nonzero(cov)
    if len(ys) == 0:
        return
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    period = rng.uniform(3, 7)
    stripes = 0.5 + 0.5 * np.sin((xx * c + yy * s) * 2 * math.pi / period)
    tone = np.array(
        style.saturate(
            ((136, 108, 76), (150, 140, 96), (110, 96, 70), (120, 124, 80))[int(rng.integers(4))]
        ),
        np.float32,
    )
    colour = tone * (0.9 + 0.16 * stripes)[..., None]
    m = cov[y0:y1, x0:x1, None] * 0.85
    img[y0:y1, x0:x1] = img[y0:y1, x0:x1] * (1 - m) + colour * m


def blend(
    img: np.ndarray, cov: np.ndarray, colour: np.ndarray | tuple[float, float, float]
) -> None:
    """img = img * (1 - cov) + colour * cov, in place (colour: RGB or an image like img)."""
    if cov.size == 0:
        return
    m = cov[..., None]
    img *= 1 - m
    img += m * np.asarray(colour, np.float32)


def blend_box(
    img: np.ndarray, cov: np.ndarray, box: tuple[int, int, int, int], colour: object
) -> None:
    """blend() limited to a world box (cov is the box's mask)."""
    x0, y0, x1, y1 = box
    if x1 <= x0 or y1 <= y0:
        return
    sub = img[y0:y1, x0:x1]
    if isinstance(colour, np.ndarray) and colour.ndim == 3 and colour.shape[:2] == img.shape[:2]:
        colour = colour[y0:y1, x0:x1]
    blend(sub, cov, colour)
