"""Plane geometry of the held-out renderer: arc-length paths, rotated polygons, coverage.

Coordinates are continuous world pixels: pixel (i, j) covers [i, i+1) x [j, j+1). Polygons
are rasterised 4x finer with cv2.fillPoly (fixed point) and area-averaged, so every mask is a
coverage fraction in [0, 1] and every edge is anti-aliased the same way.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

SS = 4
"""Supersampling factor of every rasterisation."""
_FIX = 3
"""fillPoly fixed-point bits on the supersampled grid (1/32 of a fine pixel)."""


class Path:
    """A polyline resampled at ~1 px with its arc length; positions interpolate along it."""

    def __init__(self, points: np.ndarray, step: float = 1.0) -> None:
        points = np.asarray(points, np.float64).reshape(-1, 2)
        d = np.hypot(*np.diff(points, axis=0).T)
        keep = np.concatenate([[True], d > 1e-9])
        points = points[keep]
        s = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(points, axis=0).T))])
        n = max(2, int(math.ceil(s[-1] / step)) + 1)
        grid = np.linspace(0.0, s[-1], n)
        self.points = np.stack(
            [np.interp(grid, s, points[:, 0]), np.interp(grid, s, points[:, 1])], 1
        )
        self.s = grid
        self.length = float(grid[-1])
        tangent = np.gradient(self.points, axis=0)
        tangent /= np.maximum(np.hypot(*tangent.T), 1e-12)[:, None]
        self.tangent = tangent

    def at(self, s: float) -> tuple[float, float, float]:
        """(x, y, heading in radians) at arc length s (clamped to the path)."""
        x = float(np.interp(s, self.s, self.points[:, 0]))
        y = float(np.interp(s, self.s, self.points[:, 1]))
        tx = float(np.interp(s, self.s, self.tangent[:, 0]))
        ty = float(np.interp(s, self.s, self.tangent[:, 1]))
        return x, y, math.atan2(ty, tx)

    def offset(self, d: float) -> Path:
        """The parallel path at signed distance d (positive: to the right of travel, y down)."""
        normal = np.stack([-self.tangent[:, 1], self.tangent[:, 0]], 1)
        return Path(self.points + d * normal)

    def reversed(self) -> Path:
        return Path(self.points[::-1])

    def band(self, left: float, right: float) -> np.ndarray:
        """Polygon of the strip between signed offsets `left` < `right`."""
        a = self.offset(left).points
        b = self.offset(right).points
        return np.concatenate([a, b[::-1]])

    def mean_angle(self) -> float:
        d = self.points[-1] - self.points[0]
        return math.atan2(d[1], d[0])


def bezier(p0: np.ndarray, p1: np.ndarray, p2: np.ndarray, n: int = 400) -> np.ndarray:
    t = np.linspace(0.0, 1.0, n)[:, None]
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2


def crossing_path(
    centre: tuple[float, float], angle: float, bend: float, world: tuple[int, int], extend: float
) -> Path:
    """A gently curved path through `centre` at `angle` that crosses the whole world.

    `bend` is the control point's lateral offset as a share of the half length (a quadratic
    Bezier); the path is cut to the world grown by `extend` on every side.
    """
    w, h = world
    r = math.hypot(w, h) + extend
    d = np.array([math.cos(angle), math.sin(angle)])
    n = np.array([-d[1], d[0]])
    c = np.asarray(centre, np.float64)
    pts = bezier(c - d * r, c + n * bend * r, c + d * r, n=800)
    inside = (
        (pts[:, 0] >= -extend)
        & (pts[:, 0] <= w + extend)
        & (pts[:, 1] >= -extend)
        & (pts[:, 1] <= h + extend)
    )
    idx = np.flatnonzero(inside)
    if len(idx) < 2:
        idx = np.arange(len(pts))
    return Path(pts[idx[0] : idx[-1] + 1])


def wiggle(
    path: Path, rng: np.random.Generator, amplitude: float, wavelengths: tuple[float, ...]
) -> Path:
    """The path displaced sideways by a sum of sines (a natural shoreline or channel)."""
    profile = np.zeros(len(path.s))
    for wl in wavelengths:
        profile += rng.uniform(0.4, 1.0) * np.sin(
            2 * math.pi * path.s / wl + rng.uniform(0, 2 * math.pi)
        )
    profile *= amplitude / max(1e-9, np.abs(profile).max())
    normal = np.stack([-path.tangent[:, 1], path.tangent[:, 0]], 1)
    return Path(path.points + profile[:, None] * normal)


def rotate(poly: np.ndarray, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.asarray(poly, np.float64) @ np.array([[c, s], [-s, c]])


def place(poly: np.ndarray, x: float, y: float, angle: float) -> np.ndarray:
    """Local polygon (x forward, y right) rotated by `angle` and moved to (x, y)."""
    return rotate(poly, angle) + (x, y)


def rect(x0: float, x1: float, y0: float, y1: float) -> np.ndarray:
    return np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], np.float64)


def ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 12) -> np.ndarray:
    t = np.linspace(0, 2 * math.pi, n, endpoint=False)
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], 1)


def fine_points(polys: list[np.ndarray], origin: tuple[float, float]) -> list[np.ndarray]:
    """Polygons in fixed-point coordinates of the supersampled grid whose (0, 0) is `origin`.

    A fine pixel's centre is at fine coordinate k + 0.5 = SS * (x - origin), hence the -0.5.
    """
    ox, oy = origin
    out = []
    for p in polys:
        q = (np.asarray(p, np.float64) - (ox, oy)) * SS - 0.5
        out.append(np.rint(q * (1 << _FIX)).astype(np.int32).reshape(-1, 1, 2))
    return out


def fill(
    img: np.ndarray, polys: list[np.ndarray], origin: tuple[float, float], value: object
) -> None:
    """Fill world polygons into a supersampled image whose (0, 0) is world point `origin`."""
    cv2.fillPoly(img, fine_points(polys, origin), value, lineType=cv2.LINE_8, shift=_FIX)


def coverage(
    polys: list[np.ndarray], shape: tuple[int, int], box: tuple[int, int, int, int] | None = None
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Area coverage in [0, 1] of the union of world polygons, inside a world box.

    Returns (float32 mask, (x0, y0, x1, y1)) for the bounding box of the polygons clipped to
    `shape` (h, w) (or for `box`); the mask is empty when nothing lies inside.
    """
    h, w = shape
    if box is None:
        pts = np.concatenate([np.asarray(p).reshape(-1, 2) for p in polys])
        x0 = max(0, int(math.floor(pts[:, 0].min())) - 1)
        y0 = max(0, int(math.floor(pts[:, 1].min())) - 1)
        x1 = min(w, int(math.ceil(pts[:, 0].max())) + 1)
        y1 = min(h, int(math.ceil(pts[:, 1].max())) + 1)
    else:
        x0, y0, x1, y1 = box
    if x1 <= x0 or y1 <= y0:
        return np.zeros((0, 0), np.float32), (x0, y0, x0, y0)
    fine = np.zeros(((y1 - y0) * SS, (x1 - x0) * SS), np.uint8)
    fill(fine, polys, (x0, y0), 255)
    small = cv2.resize(fine, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
    return small.astype(np.float32) / 255.0, (x0, y0, x1, y1)


def world_coverage(polys: list[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """coverage() pasted into a full world-sized float32 mask."""
    out = np.zeros(shape, np.float32)
    if not polys:
        return out
    m, (x0, y0, x1, y1) = coverage(polys, shape)
    if m.size:
        out[y0:y1, x0:x1] = m
    return out
