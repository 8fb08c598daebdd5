"""The float canvas the static scene is painted on, and the raster helpers its painters share."""

from __future__ import annotations

import cv2
import numpy as np

from tgram.data.palette import MARKING, RGB, SHADOW_DARKNESS, TAXI_YELLOW, TREE, shade


class Painter:
    """Float canvas plus what painting steps share: textures, marking masks, tall things.

    Ground-level paint goes straight onto the canvas; road markings collect in masks that
    are blended once; buildings and trees are collected and drawn last, after every cast
    shadow has darkened the ground, because they stand above it.
    """

    def __init__(
        self,
        rng: np.random.Generator,
        width: int,
        height: int,
        shadow_dir: tuple[float, float],
        shadow_ratio: float,
    ) -> None:
        self.rng = rng
        self.width, self.height = width, height
        self.shadow_dir, self.shadow_ratio = shadow_dir, shadow_ratio
        self.img = np.empty((height, width, 3), np.float32)
        self.grain = rng.standard_normal((height, width), dtype=np.float32)
        self.blotch = smooth_noise(rng, height, width, 4)
        self.white_marks = np.zeros((height, width), np.uint8)
        self.yellow_marks = np.zeros((height, width), np.uint8)
        self.joints = np.zeros((height, width), np.uint8)
        self.shadow = np.zeros((height, width), np.uint8)
        self.occluder = np.zeros((height, width), np.uint8)
        self.buildings: list[tuple[np.ndarray, float, RGB, bool]] = []
        """(footprint polygon, height, roof colour, whether the roof gets edges and units)."""
        self.trees: list[tuple[float, float, float]] = []

    def fill(
        self,
        rect: tuple[float, float, float, float],
        rgb: RGB,
        grain: float = 3.0,
        blotch: float = 4.0,
    ) -> None:
        box = self.clip(rect)
        if box is not None:
            x0, y0, x1, y1 = box
            noise = self.grain[y0:y1, x0:x1] * grain + self.blotch[y0:y1, x0:x1] * blotch
            self.img[y0:y1, x0:x1] = np.asarray(rgb, np.float32) + noise[..., None]

    def fill_poly(
        self, points: np.ndarray, rgb: RGB, grain: float = 3.0, blotch: float = 4.0
    ) -> None:
        mask = np.zeros((self.height, self.width), np.uint8)
        cv2.fillPoly(mask, [np.round(points * 16).astype(np.int32)], 1, shift=4)
        ys, xs = np.nonzero(mask)
        noise = self.grain[ys, xs] * grain + self.blotch[ys, xs] * blotch
        self.img[ys, xs] = np.asarray(rgb, np.float32) + noise[:, None]

    def clip(self, rect: tuple[float, float, float, float]) -> tuple[int, int, int, int] | None:
        x0, y0 = max(0, round(rect[0])), max(0, round(rect[1]))
        x1, y1 = min(self.width, round(rect[2])), min(self.height, round(rect[3]))
        return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None

    def mark(self, mask: np.ndarray, p0: tuple[float, float], p1: tuple[float, float]) -> None:
        cv2.line(mask, pixel(p0), pixel(p1), 255, 1)

    def cast_shadow(self, footprint: np.ndarray, height: float) -> None:
        """Mark the ground shadowed by a prism with base `footprint` (polygon) and `height`."""
        shifted = footprint + np.array(self.shadow_dir) * height * self.shadow_ratio
        hull = cv2.convexHull(np.round(np.vstack([footprint, shifted]) * 16).astype(np.int32))
        cv2.fillConvexPoly(self.shadow, hull, 1, shift=4)


def _blend(img: np.ndarray, mask: np.ndarray, rgb: RGB, opacity: float) -> None:
    ys, xs = np.nonzero(mask)
    img[ys, xs] = img[ys, xs] * (1 - opacity) + np.asarray(rgb, np.float32) * opacity


def pixel(p: tuple[float, float]) -> tuple[int, int]:
    """Nearest integer point, for OpenCV drawing calls."""
    return round(float(p[0])), round(float(p[1]))


def smooth_noise(rng: np.random.Generator, height: int, width: int, cell: float) -> np.ndarray:
    """Noise of roughly unit amplitude varying over `cell` pixels."""
    small = rng.standard_normal((int(height / cell) + 2, int(width / cell) + 2)).astype(np.float32)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)


def rect_poly(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], np.float64)


def rounded_polyline(points: list[tuple[float, float]], radius: float) -> np.ndarray:
    """A polyline with its corners rounded over about `radius` pixels (Chaikin corner cutting)."""
    pts = np.asarray(points, np.float64)
    dense = [pts[0]]
    for prev, corner, nxt in zip(pts[:-2], pts[1:-1], pts[2:], strict=True):
        into, out = corner - prev, nxt - corner
        r = min(radius, np.linalg.norm(into) / 2, np.linalg.norm(out) / 2)
        dense += [
            corner - into / np.linalg.norm(into) * r,
            corner,
            corner + out / np.linalg.norm(out) * r,
        ]
    dense.append(pts[-1])
    curve = np.asarray(dense)
    for _ in range(3):
        a, b = curve[:-1], curve[1:]
        cut = np.empty((2 * len(a), 2))
        cut[0::2] = 0.75 * a + 0.25 * b
        cut[1::2] = 0.25 * a + 0.75 * b
        curve = np.vstack([curve[:1], cut, curve[-1:]])
    return curve


def free_intervals(
    lo: float, hi: float, occupied: list[tuple[float, float]], min_size: float = 12.0
) -> list[tuple[float, float]]:
    out, cursor = [], lo
    for a, b in sorted(occupied):
        if a > cursor:
            out.append((cursor, min(a, hi)))
        cursor = max(cursor, b)
    if cursor < hi:
        out.append((cursor, hi))
    return [(a, b) for a, b in out if b - a > min_size]


# --- painting: what stands above the ground ---------------------------------------------------


def paint_tall_things(p: Painter) -> None:
    """Marks, then every cast shadow at once, then roofs, containers, piers and tree canopies."""
    _blend(p.img, p.white_marks, MARKING, 0.42)
    _blend(p.img, p.yellow_marks, TAXI_YELLOW, 0.55)
    ys, xs = np.nonzero(p.joints)
    p.img[ys, xs] *= 0.93
    for footprint, height, _, _ in p.buildings:
        p.cast_shadow(footprint, height)
    for x, y, r in p.trees:
        t = np.linspace(0, 2 * np.pi, 12, endpoint=False)
        p.cast_shadow(np.stack([x + r * np.cos(t), y + r * np.sin(t)], axis=1), 2.2 * r)
    ys, xs = np.nonzero(p.shadow)
    p.img[ys, xs] *= 1 - SHADOW_DARKNESS
    for footprint, _, rgb, detailed in p.buildings:
        _paint_roof(p, footprint, rgb, detailed)
    for x, y, r in p.trees:
        _paint_canopy(p, x, y, r)


def _paint_roof(p: Painter, footprint: np.ndarray, rgb: RGB, detailed: bool) -> None:
    x0, y0 = footprint.min(axis=0)
    x1, y1 = footprint.max(axis=0)
    p.fill((x0, y0, x1, y1), rgb, grain=2.5, blotch=2.0)
    box = p.clip((x0, y0, x1, y1))
    if not detailed or box is None:
        return
    if p.rng.random() < 0.3 and min(x1 - x0, y1 - y0) < 40:
        half = (x0, y0, (x0 + x1) / 2, y1) if x1 - x0 < y1 - y0 else (x0, y0, x1, (y0 + y1) / 2)
        p.fill(half, shade(rgb, 1.12), grain=2.5, blotch=2.0)
        return
    cv2.rectangle(p.img, (box[0], box[1]), (box[2] - 1, box[3] - 1), shade(rgb, 0.8), 1)
    sx, sy = p.shadow_dir
    for _ in range(int(p.rng.integers(0, 5))):
        if x1 - x0 < 10 or y1 - y0 < 10:
            break
        ux, uy = p.rng.uniform(x0 + 2, x1 - 6), p.rng.uniform(y0 + 2, y1 - 6)
        size = p.rng.uniform(2, 4)
        p.fill(
            (ux + sx * 1.5, uy + sy * 1.5, ux + size + sx * 1.5, uy + size + sy * 1.5),
            shade(rgb, 0.7),
            grain=1.0,
            blotch=0.0,
        )
        p.fill((ux, uy, ux + size, uy + size), shade(rgb, 1.2), grain=1.5, blotch=0.0)


def _paint_canopy(p: Painter, x: float, y: float, r: float) -> None:
    """A textured crown, lit on the sun side; it goes into the occluder mask."""
    box = p.clip((x - r - 1, y - r - 1, x + r + 2, y + r + 2))
    if box is None:
        return
    x0, y0, x1, y1 = box
    local = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.circle(local, (round((x - x0) * 16), round((y - y0) * 16)), round(r * 16), 1, -1, shift=4)
    lit = np.zeros_like(local)
    sx, sy = p.shadow_dir
    cv2.circle(
        lit,
        (round((x - x0 - sx * r * 0.35) * 16), round((y - y0 - sy * r * 0.35) * 16)),
        round(r * 0.55 * 16),
        1,
        -1,
        shift=4,
    )
    colour = np.asarray(shade(TREE, p.rng.uniform(0.8, 1.2)), np.float32)
    texture = colour * (1 + 0.3 * lit[..., None]) + p.grain[y0:y1, x0:x1, None] * 7
    region = p.img[y0:y1, x0:x1]
    region[local > 0] = texture[local > 0]
    p.occluder[y0:y1, x0:x1][local > 0] = 255
