"""Draws a video's objects into the world canvas in one vectorised pass per frame.

Every object is drawn from a cached look: its sprite rendered at a quantised heading and
sub-pixel phase, optics blur included, as the flat world offsets of the pixels it touches.
Where objects overlap, the one drawn last owns the pixel: it alone is blended there, and
the owner map (object index + 1 per world pixel, 0 for none) records it, so the image and
the visibility in the gt always agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tgram.data.sensor import optics_blur
from tgram.data.sprites import SILHOUETTE_ALPHA, Sprite, stamp
from tgram.data.world import Scene

FAINT = 1 / 32
"""Coverage below which a sprite pixel is not drawn at all (it would change < 4 grey levels)."""
POSITION_STEPS = 4
"""Objects are drawn at quarter-pixel positions (motion stays smooth, looks are reused)."""
HEADING_STEP = math.radians(0.5)

PIXEL = np.dtype((np.void, 3))
"""One RGB uint8 pixel as a single item."""

Pose = tuple[int, float, float, float]
"""(object index, world x, world y, heading in radians) of an object's centre."""


@dataclass(frozen=True)
class Look:
    """An object's sprite at one quantised heading and sub-pixel phase, relative to the floor
    of the drawn position."""

    offsets: np.ndarray
    """int64 flat world offset of each drawn pixel."""
    values: np.ndarray
    """float32 [n, 5]: premultiplied colour (3), blurred coverage, silhouette coverage."""
    xs: np.ndarray
    ys: np.ndarray
    """Pixel positions, for objects partly outside the world."""
    geometry: tuple[int, ...]
    """Silhouette (coverage >= SILHOUETTE_ALPHA) box x0, x1, y0, y1 (exclusive ends); x0,
    x1, y0, y1 (inclusive) of all drawn pixels; silhouette area; number of drawn pixels."""


@dataclass(frozen=True)
class Layer:
    """Objects composited in one pass: where their silhouettes are and which pixels they own."""

    index: np.ndarray
    """Object index of each drawn object."""
    box: np.ndarray
    """[n, 4] silhouette x0, x1, y0, y1 (exclusive ends) in world pixels."""
    area: np.ndarray
    """Silhouette pixels of each object, hidden or not."""
    pixels: np.ndarray
    """Flat world index of every silhouette pixel this layer set in the owner map."""
    owners: np.ndarray
    """Owner value (object index + 1) written at each of `pixels`."""

    @staticmethod
    def join(layers: list[Layer]) -> Layer:
        return Layer(
            *(
                np.concatenate([getattr(x, f) for x in layers])
                for f in ("index", "box", "area", "pixels", "owners")
            )
        )


class Compositor:
    """The sprites of a video's objects, their cached looks, and the canvas pass that draws them."""

    def __init__(self, scene: Scene, blur_sigma: float) -> None:
        self.height, self.width = scene.occluder.shape
        self.blur_sigma = blur_sigma
        self.uncovered = 1 - scene.occluder.ravel().astype(np.float32) / 255
        """Share of each world pixel not hidden by a tree canopy."""
        self.light = self.uncovered * scene.shade.ravel()
        """What reaches the sensor from an object at each world pixel: canopy and cast shadow."""
        self.scratch = np.zeros(self.height * self.width, np.int32)
        self.sprites: list[Sprite] = []
        self.looks: list[dict[tuple[int, int, int], Look]] = []
        """Per object, its rendered looks by (heading step, x phase, y phase)."""

    def add(self, sprite: Sprite) -> None:
        """Register the next object's sprite (object indices count up from 0)."""
        self.sprites.append(sprite)
        self.looks.append({})

    def forget(self, index: int) -> None:
        """Free the cached looks of an object that has left for good."""
        self.looks[index].clear()

    def draw(self, canvas: np.ndarray, owner: np.ndarray, poses: list[Pose]) -> Layer:
        """Blend the objects at `poses` into `canvas` (later ones on top) and own their pixels."""
        placed = self._place(poses)
        geometry = np.array([look.geometry for *_, look in placed], np.int64).reshape(-1, 10)
        index, x0, y0 = np.array([p[:3] for p in placed], np.int64).reshape(-1, 3).T
        shift = np.stack([x0, x0, y0, y0], axis=1)
        box, extent = geometry[:, 0:4] + shift, geometry[:, 4:8] + shift
        shown = (
            (geometry[:, 8] > 0)
            & (extent[:, 1] >= 0)
            & (extent[:, 0] < self.width)
            & (extent[:, 3] >= 0)
            & (extent[:, 2] < self.height)
        )
        kept = np.flatnonzero(shown)
        looks = [placed[k][3] for k in kept.tolist()]
        index, x0, y0, box, extent, area, counts = (
            a[kept] for a in (index, x0, y0, box, extent, geometry[:, 8], geometry[:, 9])
        )
        if not looks:
            nothing = np.zeros(0, np.int64)
            return Layer(index, box, area, nothing, nothing)
        flat = np.concatenate([look.offsets for look in looks]) + np.repeat(
            y0 * self.width + x0, counts
        )
        ids = np.repeat(index + 1, counts)
        values = np.concatenate([look.values for look in looks])
        partial = (
            (extent[:, 0] < 0)
            | (extent[:, 1] >= self.width)
            | (extent[:, 2] < 0)
            | (extent[:, 3] >= self.height)
        )
        if partial.any():
            keep = self._in_world(looks, x0, y0, counts, np.flatnonzero(partial))
            flat, ids, values = _select(keep, flat, ids, values)
        self.scratch[flat] = ids  # the last write wins: later objects are on top
        on_top = self.scratch[flat] == ids
        self.scratch[flat] = 0
        flat, ids, values = _select(on_top, flat, ids, values)
        uncovered = self.uncovered[flat]
        # void views: a pixel's 3 bytes move as one item (much faster than [n, 3] indexing)
        pixels = canvas.reshape(-1).view(PIXEL)
        blended = pixels[flat].view(np.uint8).reshape(-1, 3).astype(np.float32)
        blended *= (1 - values[:, 3] * uncovered)[:, None]
        blended += values[:, :3] * self.light[flat, None]
        blended += 0.5
        pixels[flat] = blended.astype(np.uint8).reshape(-1).view(PIXEL)
        solid = values[:, 4] * uncovered >= SILHOUETTE_ALPHA
        owner.reshape(-1)[flat[solid]] = ids[solid]
        return Layer(index, box, area, flat[solid], ids[solid])

    def _place(self, poses: list[Pose]) -> list[tuple[int, int, int, Look]]:
        """Each object's look at its quantised pose, and the world pixel the look is relative to."""
        if not poses:
            return []
        index, x, y, heading = np.array(poses, np.float64).T
        # positions in quarter pixels: the floor pixel and the phase within it
        x0, phase_x = np.divmod(np.round(x * POSITION_STEPS).astype(np.int64), POSITION_STEPS)
        y0, phase_y = np.divmod(np.round(y * POSITION_STEPS).astype(np.int64), POSITION_STEPS)
        step = np.round(heading / HEADING_STEP).astype(np.int64)
        placed = []
        for i, px, py, key in zip(
            index.astype(np.int64).tolist(),
            x0.tolist(),
            y0.tolist(),
            zip(step.tolist(), phase_x.tolist(), phase_y.tolist(), strict=True),
            strict=True,
        ):
            look = self.looks[i].get(key)
            if look is None:
                look = self.looks[i][key] = self._render(
                    self.sprites[i],
                    key[1] / POSITION_STEPS,
                    key[2] / POSITION_STEPS,
                    key[0] * HEADING_STEP,
                )
            placed.append((i, px, py, look))
        return placed

    def _render(self, sprite: Sprite, x: float, y: float, heading: float) -> Look:
        """The look of `sprite` centred at (x, y) in [0, 1) and turned by `heading`, blurred
        by the optics; its silhouette is that of the sharp sprite, as the gt defines it."""
        st = stamp(sprite, x, y, heading)
        coverage = st.rgba[..., 3]
        rgba = optics_blur(st.rgba, self.blur_sigma)
        ys, xs = np.nonzero(rgba[..., 3] >= FAINT)
        solid_ys, solid_xs = np.nonzero(st.silhouette)
        values = np.concatenate([rgba[ys, xs], coverage[ys, xs, None]], axis=1)
        ys, xs = ys + st.y0, xs + st.x0
        if len(xs):
            extent = (int(xs.min()), int(xs.max()), int(ys.min()), int(ys.max()))
        else:
            extent = (0, 0, 0, 0)
        if len(solid_xs):
            box = (
                st.x0 + int(solid_xs.min()),
                st.x0 + int(solid_xs.max()) + 1,
                st.y0 + int(solid_ys.min()),
                st.y0 + int(solid_ys.max()) + 1,
            )
        else:
            box = (0, 0, 0, 0)
        return Look(ys * self.width + xs, values, xs, ys, (*box, *extent, len(solid_xs), len(xs)))

    def _in_world(
        self,
        looks: list[Look],
        x0: np.ndarray,
        y0: np.ndarray,
        counts: np.ndarray,
        partial: np.ndarray,
    ) -> np.ndarray:
        """Mask of the drawn pixels that lie in the world, checked pixel by pixel only for
        the `partial` objects (those not wholly inside it)."""
        keep = np.ones(int(counts.sum()), bool)
        starts = np.r_[0, np.cumsum(counts)[:-1]]
        for j in partial.tolist():
            xs, ys = looks[j].xs + x0[j], looks[j].ys + y0[j]
            keep[starts[j] : starts[j] + counts[j]] = (
                (xs >= 0) & (xs < self.width) & (ys >= 0) & (ys < self.height)
            )
        return keep

    def visible(
        self, owner: np.ndarray, layer: Layer, offset: tuple[float, float], size: tuple[int, int]
    ) -> np.ndarray:
        """Visible silhouette pixels per owner value, inside the frame whose top-left is at `offset`.

        Output pixel u samples world x = u + ox, so world pixels from ceil(ox - 0.5) on are in view.
        """
        wx0, wy0 = math.ceil(offset[0] - 0.5), math.ceil(offset[1] - 0.5)
        ys, xs = np.divmod(layer.pixels, self.width)
        shown = (
            (owner.reshape(-1)[layer.pixels] == layer.owners)
            & (xs >= wx0)
            & (xs < wx0 + size[0])
            & (ys >= wy0)
            & (ys < wy0 + size[1])
        )
        return np.bincount(layer.owners[shown], minlength=int(layer.index.max(initial=-1)) + 2)


def _select(mask: np.ndarray, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """The rows of each array where `mask` holds (the arrays themselves when it holds everywhere)."""
    if mask.all():
        return arrays
    kept = np.flatnonzero(mask)
    return tuple(np.take(a, kept, axis=0) for a in arrays)


def clip(
    shape: tuple[int, ...], x0: int, y0: int, *patches: np.ndarray
) -> tuple[tuple[slice, slice] | None, list[np.ndarray]]:
    """The canvas region that patches placed at (x0, y0) cover, and the matching part of each."""
    h, w = patches[0].shape[:2]
    cx0, cy0 = max(x0, 0), max(y0, 0)
    cx1, cy1 = min(x0 + w, shape[1]), min(y0 + h, shape[0])
    if cx1 <= cx0 or cy1 <= cy0:
        return None, [p[:0, :0] for p in patches]
    return (slice(cy0, cy1), slice(cx0, cx1)), [
        p[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0] for p in patches
    ]
