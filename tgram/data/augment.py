"""Augmentation applied identically to all T frames of a sample, exact for tiny objects.

Vehicles are 4x8 px: a sub-pixel bilinear warp resamples them into blurred blobs. So
geometry is exact by default: an integer-pixel crop, a multiple of 90 degrees, a flip, and
zoom only in discrete steps, downscaling with area averaging (what a coarser sensor sees).
The one exception is `rotate`: the training renderer lays its roads out on a grid, so
without it the network only ever sees vehicles heading along the image axes, while real
roads (and other renderers') run at every angle; a share of samples is therefore turned by a
random angle (bilinear, so those crops are slightly softer; boxes become the axis-aligned
box of the turned box, exact for the rectangular silhouette of a vehicle, loose for an
airplane's cross). The style of the imagery (brightness, contrast, gamma, white balance,
saturation, blur, noise, compression) varies too: that is where one renderer differs from
another, and from real sensors.

The past frames move with the current one (the graph learns motion between them), so every
geometric and photometric draw is shared by the T frames; only sensor noise is per frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

AIRLIGHT = np.array([0.69, 0.73, 0.78], np.float32)
"""Haze colour (RGB, 0-1): scattered daylight, a little blue."""


@dataclass(frozen=True)
class AugmentConfig:
    """Random augmentation ranges; zero (or an empty tuple, or False) disables each part."""

    scales: tuple[float, ...] = (0.75, 1.0, 1.25, 1.5)
    """Zoom steps, drawn uniformly (repeat a step to weight it): 0.75 is what a sensor of 4/3
    the ground sample distance records. Upscaling steps dominate because a domain-randomised
    archive's objects skew small: objects per frame grow as 1/gsd^2, so most of its cars are
    drawn at the coarse end of its 0.5-1.5 m/px range (3 px long)."""
    rot90: bool = True
    """Rotate by a random multiple of 90 degrees: overhead imagery has no up direction."""
    rotate: float = 0.0
    """Share of samples also turned by an angle drawn uniformly in [0, 90) degrees (with the
    quarter turns and flips: any heading); 0 keeps every geometric step exact."""
    flip: bool = True
    translate: float = 0.25
    """Crop-centre jitter as a fraction of the crop size (rounded to whole source pixels)."""
    object_centred: float = 0.8
    """Probability of centring the crop near an annotated object; satellite frames are mostly
    background, so uniform crops would starve the heatmap loss of positives."""
    class_balanced: bool = True
    """Pick the class of the centre object uniformly among the classes in the frame, then an
    object of it: otherwise ~95 % of crops centre on a vehicle and ships never learn boxes."""
    moving_centred: float = 0.0
    """Share of object-centred crops centred on a moving object (>= MOVING_PX_PER_FRAME over
    the sample's frames) when the frame has one. Parked rows outnumber moving cars about four
    to one, and the shipped weights found 27 % of moving validation cars at their threshold
    against 81 % of parked ones."""
    brightness: float = 0.25
    """Gain range (+-) of the pixel values."""
    contrast: float = 0.35
    """Range (+-) of the contrast factor around the crop mean."""
    gamma: tuple[float, float] = (0.7, 1.4)
    white_balance: float = 0.08
    """Per-channel gain range (+-): colour temperature and sensor calibration."""
    saturation: tuple[float, float] = (0.3, 1.3)
    """Factor on the distance of each pixel from its grey value."""
    blur_sigma: tuple[float, float] = (0.0, 1.2)
    """Optics blur sigma (px), drawn uniformly; applied to `blur_probability` of the samples."""
    blur_probability: float = 0.5
    haze: float = 0.0
    """Largest share of airlight (a light, slightly blue grey) mixed into every pixel, drawn
    uniformly in [0, haze] per sample: the contrast an atmosphere takes away; 0 disables."""
    noise_sigma: tuple[float, float] = (0.0, 6.0)
    """Sensor noise standard deviation (grey levels), drawn uniformly, fresh noise per frame."""
    jpeg_quality: tuple[int, int] = (30, 90)
    """Compression of a third of the samples, as a stand-in for H.264 blocking."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.moving_centred <= 1.0:
            raise ValueError(f"augment.moving_centred must be in [0, 1], got {self.moving_centred}")
        if not self.scales or any(not 0.25 <= s <= 4 for s in self.scales):
            raise ValueError(
                f"augment.scales must be a non-empty list of factors in [0.25, 4], got {self.scales}"
            )
        if not 0 <= self.rotate <= 1:
            raise ValueError(f"augment.rotate must be in [0, 1], got {self.rotate}")
        for name in ("blur_probability", "haze"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"augment.{name} must be in [0, 1], got {getattr(self, name)}")
        if not 0 <= self.object_centred <= 1:
            raise ValueError(f"augment.object_centred must be in [0, 1], got {self.object_centred}")
        for name in ("gamma", "saturation", "blur_sigma", "noise_sigma", "jpeg_quality"):
            lo, hi = getattr(self, name)
            if not 0 <= lo <= hi:
                raise ValueError(
                    f"augment.{name} must be [low, high] with 0 <= low <= high, got {[lo, hi]}"
                )

    @staticmethod
    def none() -> AugmentConfig:
        """No augmentation at all: validation crops, plain object-centred cuts."""
        return AugmentConfig(
            scales=(1.0,),
            rot90=False,
            flip=False,
            translate=0.0,
            brightness=0.0,
            contrast=0.0,
            gamma=(1.0, 1.0),
            white_balance=0.0,
            saturation=(1.0, 1.0),
            blur_sigma=(0.0, 0.0),
            noise_sigma=(0.0, 0.0),
            jpeg_quality=(100, 100),
        )


@dataclass(frozen=True)
class CropGeometry:
    """Which source window a sample cuts, and how it is turned into the crop.

    The window is `window_hw` source pixels with its top-left at integer `origin_xy`;
    it is resized by `scale` (crop px per source px), rotated by `rot90` quarter turns
    counter-clockwise (np.rot90), mirrored left-right if `flip`, and, with an `angle`
    (degrees, counter-clockwise), turned about its centre and cut to `out_hw` (the window
    then covers the turned crop's corners).
    """

    origin_xy: tuple[int, int]
    window_hw: tuple[int, int]
    out_hw: tuple[int, int]
    scale: float
    rot90: int
    flip: bool
    angle: float = 0.0

    @property
    def turned_hw(self) -> tuple[int, int]:
        """The size before the turn by `angle`: big enough to hold the turned crop."""
        if not self.angle:
            return self.out_hw
        c, s = abs(math.cos(math.radians(self.angle))), abs(math.sin(math.radians(self.angle)))
        h, w = self.out_hw
        return (math.ceil(h * c + w * s), math.ceil(w * c + h * s))

    @property
    def resized_hw(self) -> tuple[int, int]:
        """The size before the quarter turns (a quarter turn swaps height and width)."""
        h, w = self.turned_hw
        return (h, w) if self.rot90 % 2 == 0 else (w, h)

    def turn(self) -> np.ndarray:
        """2x3 affine (OpenCV pixel-centre coordinates) of the turn by `angle`: from the
        turned_hw image to the out_hw crop, centre to centre."""
        (th, tw), (oh, ow) = self.turned_hw, self.out_hw
        m = cv2.getRotationMatrix2D(((tw - 1) / 2, (th - 1) / 2), self.angle, 1.0)
        m[:, 2] += [(ow - tw) / 2, (oh - th) / 2]
        return m


def draw_geometry(
    rng: np.random.Generator,
    frame_hw: tuple[int, int],
    out_hw: tuple[int, int],
    boxes_xyxy: np.ndarray,
    classes: np.ndarray,
    cfg: AugmentConfig,
    moving: np.ndarray | None = None,
) -> CropGeometry:
    """Draw the crop of one sample: near an object with probability `object_centred` (a
    moving one, per `moving` [n] bool, with probability `moving_centred`)."""
    h, w = frame_hw
    scale = float(cfg.scales[rng.integers(len(cfg.scales))])
    quarter_turns = int(rng.integers(4)) if cfg.rot90 else 0
    flip = bool(cfg.flip and rng.random() < 0.5)
    angle = float(rng.uniform(0.0, 90.0)) if cfg.rotate and rng.random() < cfg.rotate else 0.0
    resized_hw = CropGeometry((0, 0), (0, 0), out_hw, scale, quarter_turns, flip, angle).resized_hw
    window_hw = (round(resized_hw[0] / scale), round(resized_hw[1] / scale))
    if len(boxes_xyxy) and rng.random() < cfg.object_centred:
        candidates = np.arange(len(boxes_xyxy))
        if (
            cfg.moving_centred
            and moving is not None
            and moving.any()
            and rng.random() < cfg.moving_centred
        ):
            candidates = candidates[moving]
        elif cfg.class_balanced:
            present = np.unique(classes)
            candidates = candidates[classes == present[rng.integers(len(present))]]
        box = boxes_xyxy[candidates[rng.integers(len(candidates))]]
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    else:
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    cx += rng.uniform(-cfg.translate, cfg.translate) * window_hw[1]
    cy += rng.uniform(-cfg.translate, cfg.translate) * window_hw[0]
    origin = (int(round(cx - window_hw[1] / 2)), int(round(cy - window_hw[0] / 2)))
    return CropGeometry(origin, window_hw, out_hw, scale, quarter_turns, flip, angle)


def crop_frames(frames: list[np.ndarray], geometry: CropGeometry) -> np.ndarray:
    """Cut every frame with the same geometry -> uint8 [T, H, W, 3]; outside the frame is black."""
    return np.stack([_crop_one(f, geometry) for f in frames])


def _crop_one(frame: np.ndarray, g: CropGeometry) -> np.ndarray:
    (x0, y0), (wh, ww) = g.origin_xy, g.window_hw
    window = np.zeros((wh, ww, frame.shape[2]), frame.dtype)
    fx0, fy0 = max(x0, 0), max(y0, 0)
    fx1, fy1 = min(x0 + ww, frame.shape[1]), min(y0 + wh, frame.shape[0])
    if fx1 > fx0 and fy1 > fy0:
        window[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0] = frame[fy0:fy1, fx0:fx1]
    out_h, out_w = g.resized_hw
    if (wh, ww) != (out_h, out_w):
        interpolation = cv2.INTER_AREA if g.scale < 1 else cv2.INTER_LINEAR
        window = cv2.resize(window, (out_w, out_h), interpolation=interpolation)
    window = np.rot90(window, g.rot90)
    if g.flip:
        window = window[:, ::-1]
    if g.angle:
        out_h, out_w = g.out_hw
        window = cv2.warpAffine(
            np.ascontiguousarray(window), g.turn(), (out_w, out_h), flags=cv2.INTER_LINEAR
        )
    return np.ascontiguousarray(window)


def crop_boxes(boxes_xyxy: np.ndarray, g: CropGeometry) -> tuple[np.ndarray, np.ndarray]:
    """Boxes in crop pixels, clipped to it, and the share of each box inside the crop.

    The share lets the caller ignore, rather than punish, what the cut left of an object.
    """
    if len(boxes_xyxy) == 0:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
    (x0, y0), (wh, ww) = g.origin_xy, g.window_hw
    b = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4) - [x0, y0, x0, y0]
    rh, rw = g.resized_hw
    b = b * [rw / ww, rh / wh, rw / ww, rh / wh]
    # np.rot90 by k counter-clockwise: (x, y) in an h x w image -> (y, w - x) per quarter turn
    for _ in range(g.rot90 % 4):
        x1, y1, x2, y2 = b.T
        b = np.stack([y1, rw - x2, y2, rw - x1], axis=1)
        rh, rw = rw, rh
    if g.flip:
        x1, y1, x2, y2 = b.T
        b = np.stack([rw - x2, y1, rw - x1, y2], axis=1)
    if g.angle:  # the axis-aligned box of the turned box (edges -> pixel centres and back)
        corners = b[:, [0, 1, 2, 1, 2, 3, 0, 3]].reshape(-1, 4, 2) - 0.5
        turned = corners @ g.turn()[:, :2].T + g.turn()[:, 2] + 0.5
        b = np.concatenate([turned.min(axis=1), turned.max(axis=1)], axis=1)
    out_h, out_w = g.out_hw
    clipped = b.copy()
    clipped[:, [0, 2]] = clipped[:, [0, 2]].clip(0, out_w)
    clipped[:, [1, 3]] = clipped[:, [1, 3]].clip(0, out_h)
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    inside = (clipped[:, 2] - clipped[:, 0]) * (clipped[:, 3] - clipped[:, 1])
    share = np.where(area > 0, inside / np.maximum(area, 1e-6), 0.0)
    return clipped.astype(np.float32), share.astype(np.float32)


def jitter_style(frames: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """One random imaging style for all frames (RGB uint8 [T, H, W, 3]); noise per frame."""
    x = frames.astype(np.float32) / 255.0
    gain = 1.0 + rng.uniform(-cfg.brightness, cfg.brightness)
    gain = gain * (1.0 + rng.uniform(-cfg.white_balance, cfg.white_balance, 3))
    x = x * gain.astype(np.float32)
    if cfg.contrast:
        mean = x.mean(axis=(1, 2, 3), keepdims=True)
        x = mean + (x - mean) * (1.0 + rng.uniform(-cfg.contrast, cfg.contrast))
    grey = x.mean(axis=3, keepdims=True)
    x = grey + (x - grey) * rng.uniform(*cfg.saturation)
    x = np.clip(x, 0.0, 1.0) ** rng.uniform(*cfg.gamma)
    if cfg.haze > 0:
        h = rng.uniform(0.0, cfg.haze)
        x = x * (1.0 - h) + h * AIRLIGHT
    out = (x * 255.0 + 0.5).astype(np.uint8)
    if cfg.blur_sigma[1] > 0 and rng.random() < cfg.blur_probability:
        sigma = rng.uniform(*cfg.blur_sigma)
        if sigma > 0.1:
            out = np.stack([cv2.GaussianBlur(f, (0, 0), sigma) for f in out])
    if cfg.noise_sigma[1] > 0:
        sigma = rng.uniform(*cfg.noise_sigma)
        noise = rng.standard_normal(out.shape, dtype=np.float32) * sigma
        out = np.clip(out + noise, 0, 255).astype(np.uint8)
    if cfg.jpeg_quality[0] < 100 and rng.random() < 1 / 3:
        quality = int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1))
        out = np.stack([_jpeg(f, quality) for f in out])
    return out


def _jpeg(frame: np.ndarray, quality: int) -> np.ndarray:
    ok, data = cv2.imencode(
        ".jpg", frame[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality]
    )  # OpenCV is BGR
    if not ok:
        raise RuntimeError("JPEG encoding of an augmented crop failed")
    return np.ascontiguousarray(cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1])
