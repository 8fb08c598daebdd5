"""Geometric and photometric augmentation applied identically to all T frames of a sample.

The past frames must move with the current one: the graph module learns motion between them,
so a per-frame random warp would teach it fake motion.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class AugmentConfig:
    """Random augmentation ranges; zero disables each part."""

    scale: float = 0.15
    """Relative zoom range (+-). Raising it teaches more object-size invariance, at the cost of
    shrinking 4x8 px vehicles below the heatmap resolution."""
    rotate_deg: float = 180.0
    """Rotation range (+-) in degrees. Overhead imagery has no up direction, so full rotation
    is a safe default."""
    translate: float = 0.25
    """Crop-centre jitter as a fraction of the crop size."""
    flip: bool = True
    hsv_gain: tuple[float, float, float] = (0.02, 0.4, 0.3)
    """Hue, saturation, value gain ranges (+-), one draw per sample."""
    object_centred: float = 0.8
    """Probability of centring the crop near an annotated object; satellite frames are mostly
    background, so uniform crops would starve the heatmap loss of positives."""

    def __post_init__(self) -> None:
        if not 0 <= self.scale < 1:
            raise ValueError(f"augment.scale must be in [0, 1), got {self.scale}")
        if not 0 <= self.object_centred <= 1:
            raise ValueError(f"augment.object_centred must be in [0, 1], got {self.object_centred}")


def crop_affine(
    centre_xy: tuple[float, float],
    out_hw: tuple[int, int],
    *,
    scale: float = 1.0,
    angle_deg: float = 0.0,
    flip: bool = False,
) -> np.ndarray:
    """2x3 matrix mapping source pixels to an `out_hw` crop centred on `centre_xy`."""
    out_h, out_w = out_hw
    m = cv2.getRotationMatrix2D((float(centre_xy[0]), float(centre_xy[1])), angle_deg, scale)
    m[0, 2] += out_w / 2 - centre_xy[0]
    m[1, 2] += out_h / 2 - centre_xy[1]
    if flip:
        m = np.array([[-1, 0, out_w], [0, 1, 0]], np.float64) @ np.vstack([m, [0, 0, 1]])
    return m


def random_affine(
    rng: np.random.Generator,
    frame_hw: tuple[int, int],
    out_hw: tuple[int, int],
    boxes_xyxy: np.ndarray,
    cfg: AugmentConfig,
) -> np.ndarray:
    """Draw the crop/warp for one sample: near an object with prob `object_centred`."""
    h, w = frame_hw
    if len(boxes_xyxy) and rng.random() < cfg.object_centred:
        box = boxes_xyxy[rng.integers(len(boxes_xyxy))]
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    else:
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    cx += rng.uniform(-cfg.translate, cfg.translate) * out_hw[1]
    cy += rng.uniform(-cfg.translate, cfg.translate) * out_hw[0]
    return crop_affine(
        (cx, cy),
        out_hw,
        scale=1.0 + rng.uniform(-cfg.scale, cfg.scale),
        angle_deg=rng.uniform(-cfg.rotate_deg, cfg.rotate_deg),
        flip=bool(cfg.flip and rng.random() < 0.5),
    )


def warp_frames(frames: list[np.ndarray], matrix: np.ndarray, out_hw: tuple[int, int]) -> np.ndarray:
    """Warp every frame with the same matrix -> uint8 [T, H, W, 3]; outside is black."""
    size = (out_hw[1], out_hw[0])
    return np.stack(
        [cv2.warpAffine(f, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT) for f in frames]
    )


def warp_boxes(
    boxes_xyxy: np.ndarray, matrix: np.ndarray, out_hw: tuple[int, int], min_visible: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Transform boxes; return (clipped boxes, keep mask) dropping mostly-outside boxes.

    A rotated box becomes the axis-aligned box of its transformed corners: exact for the
    near-rectangular footprints of vehicles, ships and aircraft seen from above.
    """
    if len(boxes_xyxy) == 0:
        return boxes_xyxy.reshape(0, 4).astype(np.float32), np.zeros(0, bool)
    x1, y1, x2, y2 = boxes_xyxy.T
    corners = np.stack([np.stack([x1, y1]), np.stack([x2, y1]), np.stack([x1, y2]), np.stack([x2, y2])])
    corners = corners.transpose(2, 0, 1)  # [N, 4, 2]
    pts = corners @ matrix[:, :2].T + matrix[:, 2]
    boxes = np.concatenate([pts.min(axis=1), pts.max(axis=1)], axis=1)
    out_h, out_w = out_hw
    clipped = boxes.copy()
    clipped[:, [0, 2]] = clipped[:, [0, 2]].clip(0, out_w)
    clipped[:, [1, 3]] = clipped[:, [1, 3]].clip(0, out_h)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    visible = (clipped[:, 2] - clipped[:, 0]) * (clipped[:, 3] - clipped[:, 1])
    keep = (area > 0) & (visible >= min_visible * np.maximum(area, 1e-6))
    return clipped.astype(np.float32), keep


def jitter_hsv(frames: np.ndarray, rng: np.random.Generator, gains: tuple[float, float, float]) -> np.ndarray:
    """Apply one random hue/saturation/value gain to all frames (RGB uint8 [T, H, W, 3])."""
    if not any(gains):
        return frames
    gain = 1.0 + rng.uniform(-1, 1, 3) * np.asarray(gains)
    out = np.empty_like(frames)
    lut_x = np.arange(256, dtype=np.float32)
    lut_h = ((lut_x * gain[0]) % 180).astype(np.uint8)
    lut_s = np.clip(lut_x * gain[1], 0, 255).astype(np.uint8)
    lut_v = np.clip(lut_x * gain[2], 0, 255).astype(np.uint8)
    for i, frame in enumerate(frames):
        h, s, v = cv2.split(cv2.cvtColor(frame, cv2.COLOR_RGB2HSV))
        hsv = cv2.merge((cv2.LUT(h, lut_h), cv2.LUT(s, lut_s), cv2.LUT(v, lut_v)))
        out[i] = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    return out
