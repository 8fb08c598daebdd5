"""The float canvas the static scene is painted on, and the raster helpers its painters share."""

from __future__ import annotations

import cv2
import numpy as np

from tgram.synth.palette import LEGACY_PALETTE, RGB, SHADOW_DARKNESS, Palette, shade
from tgram.synth.world import Sizes


class Painter:
    """Float canvas plus what painting steps share: textures, marking masks, tall things.

    Ground-level paint goes straight onto the canvas; road markings collect in masks that
    are blended once; buildings and trees are collected and drawn last, after every cast
    shadow has darkened the ground, because they stand above it.

    `palette` holds the ground materials; `k` is the scale, pixels per legacy pixel (see
    tgram.synth.style): painting steps give their sizes in legacy pixels and multiply by it.
    """

    def __init__(
        self,
        rng: np.random.Generator,
        width: int,
        height: int,
        shadow_dir: tuple[float, float],
        shadow_ratio: float,
        palette: Palette = LEGACY_PALETTE,
        k: float = 1.0,
    ) -> None:
        self.rng = rng
        self.pal, self.k = palette, k
        self.width, self.height = width, height
        self.shadow_dir, self.shadow_ratio = shadow_dir, shadow_ratio
        self.img = np.empty((height, width, 3), np.float32)
        self.grain = rng.standard_normal((height, width), dtype=np.float32)
        self.blotch = smooth_noise(rng, height, width, max(2.0, 4 * k))
        self.white_marks = np.zeros((height, width), np.uint8)
        self.yellow_marks = np.zeros((height, width), np.uint8)
        self.joints = np.zeros((height, width), np.uint8)
        self.shadow = np.zeros((height, width), np.uint8)
        self.occluder = np.zeros((height, width), np.uint8)
        self.buildings: list[tuple[np.ndarray, float, RGB, bool]] = []
        """(footprint polygon, height, roof colour, whether the roof gets edges and units)."""
        self.trees: list[tuple[float, float, float]] = []
        self.sizes = Sizes()

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
    # a marking is ~0.15 m wide: the finer the ground sampling, the more of a pixel it fills
    _blend(p.img, p.white_marks, p.pal.marking, 0.42 * min(1.0, p.k))
    _blend(p.img, p.yellow_marks, p.pal.taxi_yellow, 0.55 * min(1.0, p.k))
    ys, xs = np.nonzero(p.joints)
    p.img[ys, xs] *= 0.93
    for footprint, height, _, _ in p.buildings:
        p.cast_shadow(footprint, height)
    trees = np.array(p.trees, np.float64).reshape(-1, 3)
    _cast_tree_shadows(p, trees)
    ys, xs = np.nonzero(p.shadow)
    p.img[ys, xs] *= 1 - SHADOW_DARKNESS
    for footprint, _, rgb, detailed in p.buildings:
        _paint_roof(p, footprint, rgb, detailed)
    _paint_canopies(p, trees)


def _paint_roof(p: Painter, footprint: np.ndarray, rgb: RGB, detailed: bool) -> None:
    x0, y0 = footprint.min(axis=0)
    x1, y1 = footprint.max(axis=0)
    p.fill((x0, y0, x1, y1), rgb, grain=2.5, blotch=2.0)
    box = p.clip((x0, y0, x1, y1))
    if not detailed or box is None:
        return
    k = p.k
    if p.rng.random() < 0.3 and min(x1 - x0, y1 - y0) < 40 * k:
        half = (x0, y0, (x0 + x1) / 2, y1) if x1 - x0 < y1 - y0 else (x0, y0, x1, (y0 + y1) / 2)
        p.fill(half, shade(rgb, 1.12), grain=2.5, blotch=2.0)
        return
    cv2.rectangle(p.img, (box[0], box[1]), (box[2] - 1, box[3] - 1), shade(rgb, 0.8), 1)
    sx, sy = p.shadow_dir
    for _ in range(int(p.rng.integers(0, 5))):
        if x1 - x0 < 10 * k or y1 - y0 < 10 * k:
            break
        ux, uy = p.rng.uniform(x0 + 2 * k, x1 - 6 * k), p.rng.uniform(y0 + 2 * k, y1 - 6 * k)
        size = p.rng.uniform(2, 4) * k
        dx, dy = sx * 1.5 * k, sy * 1.5 * k
        p.fill(
            (ux + dx, uy + dy, ux + size + dx, uy + size + dy),
            shade(rgb, 0.7),
            grain=1.0,
            blotch=0.0,
        )
        p.fill((ux, uy, ux + size, uy + size), shade(rgb, 1.2), grain=1.5, blotch=0.0)


TREE_CROWN_SIDES = 12
"""A crown's shadow is cast by a prism on a polygon of this many sides."""


def _cast_tree_shadows(p: Painter, trees: np.ndarray) -> None:
    """Each tree's shadow: a crown-sized polygon and its copy moved along the sun, joined.

    The polygons of all trees are built in one array (a per-tree Python loop of small numpy
    calls cost more than the drawing itself); OpenCV then hulls and fills each.
    """
    if not len(trees):
        return
    x, y, r = trees.T
    t = np.linspace(0, 2 * np.pi, TREE_CROWN_SIDES, endpoint=False)
    crowns = np.stack(
        [x[:, None] + r[:, None] * np.cos(t), y[:, None] + r[:, None] * np.sin(t)], axis=2
    )
    shift = np.asarray(p.shadow_dir) * (2.2 * r * p.shadow_ratio)[:, None]
    prisms = np.round(np.concatenate([crowns, crowns + shift[:, None]], axis=1) * 16).astype(
        np.int32
    )
    for prism in prisms:
        cv2.fillConvexPoly(p.shadow, cv2.convexHull(prism), 1, shift=4)


def _paint_canopies(p: Painter, trees: np.ndarray) -> None:
    """Textured crowns, lit on the sun side, later trees over earlier ones; they go into the
    occluder mask.

    Every crown and its lit part is drawn as its tree's number into two label maps, and the
    texture of all crown pixels is then made in one pass (per tree, small patches cost far
    more in numpy calls than in pixels). A pixel is lit where the lit part of the tree that
    owns it lies: a tree's lit part lies inside its crown, so a later crown covers it too.
    """
    if not len(trees):
        return
    crown = np.zeros((p.height, p.width), np.int32)
    lit = np.zeros_like(crown)
    sx, sy = p.shadow_dir
    for number, (x, y, r) in enumerate(trees.tolist(), start=1):
        cv2.circle(crown, (round(x * 16), round(y * 16)), round(r * 16), number, -1, shift=4)
        lit_x, lit_y = x - sx * r * 0.35, y - sy * r * 0.35
        cv2.circle(
            lit, (round(lit_x * 16), round(lit_y * 16)), round(r * 0.55 * 16), number, -1, shift=4
        )
    ys, xs = np.nonzero(crown)
    tree = crown[ys, xs]
    colours = np.asarray(p.pal.tree, np.float32) * p.rng.uniform(0.8, 1.2, (len(trees), 1)).astype(
        np.float32
    )
    brightness = 1 + 0.3 * (lit[ys, xs] == tree).astype(np.float32)
    p.img[ys, xs] = (
        np.minimum(colours[tree - 1], 255) * brightness[:, None] + p.grain[ys, xs, None] * 7
    )
    p.occluder[ys, xs] = 255
