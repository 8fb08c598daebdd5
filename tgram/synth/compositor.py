"""Draws a video's objects into the world canvas in one vectorised pass per frame.

Every object is drawn from a cached look: its sprite rendered at a quantised heading and
sub-pixel phase, optics blur included, as the flat world offsets of the pixels it touches.
Objects registered with the same Sprite object share their looks (the randomised style's
vehicles wear a catalogue of looks), and with `shadows` a look carries the object's cast
shadow too: darkening only, never part of its silhouette.
Where objects overlap, the one drawn last owns the pixel: it alone shows there, and the
owner map (object index + 1 per world pixel, 0 for none) records it, so the image and
the visibility in the gt always agree.

Per frame this is ~500 objects and ~45,000 pixels, so the pass is built from whole-array
steps only: looks are found by a binary search over their keys (not a dict per object),
and pixels move with `np.take`/`np.put` on 3-byte items, which cost a third of what
fancy indexing does for the same copies.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from tgram.synth.palette import SHADOW_DARKNESS
from tgram.synth.sensor import optics_blur
from tgram.synth.sprites import SILHOUETTE_ALPHA, Sprite, Stamp, stamp
from tgram.synth.world import Scene

FAINT = 1 / 32
"""Coverage below which a sprite pixel is not drawn at all (it would change < 4 grey levels)."""
POSITION_STEPS = 4
"""Objects are drawn at quarter-pixel positions (motion stays smooth, looks are reused)."""
HEADING_STEPS = 720
"""Headings are quantised to 1/720 of a turn (0.5 degrees)."""
HEADING_STEP = 2 * math.pi / HEADING_STEPS
LOOKS_PER_OBJECT = HEADING_STEPS * POSITION_STEPS**2
"""Distinct looks a sprite can have: a look's cache key is sprite * this + look number."""
NO_KEY = np.iinfo(np.int64).max

PIXEL = np.dtype((np.void, 3))
"""One RGB uint8 pixel as a single item."""


class Poses(NamedTuple):
    """Where objects are drawn, one entry per object; later entries are drawn on top."""

    index: np.ndarray
    """int64 object index."""
    x: np.ndarray
    y: np.ndarray
    """World position of the object's centre."""
    heading: np.ndarray
    """Radians."""

    @staticmethod
    def of(rows: Sequence[tuple[int, float, float, float]]) -> Poses:
        """Poses from (index, x, y, heading) rows."""
        index, x, y, heading = np.array(rows, np.float64).reshape(-1, 4).T
        return Poses(index.astype(np.int64), x, y, heading)

    @staticmethod
    def join(parts: Sequence[Poses]) -> Poses:
        return Poses(*(np.concatenate(field) for field in zip(*parts, strict=True)))


@dataclass(frozen=True)
class Look:
    """An object's sprite at one quantised heading and sub-pixel phase, relative to the floor
    of the drawn position."""

    offsets: np.ndarray
    """int64 flat world offset of each drawn pixel."""
    colour: np.ndarray
    """float32 [n, 3] premultiplied colour."""
    cover: np.ndarray
    """float32 [n, 2]: blurred coverage (how much of the ground it hides), silhouette coverage."""
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
    """Flat world index of every silhouette pixel of the layer's objects (those an object
    drawn later covers too: the owner map holds that object there)."""
    owners: np.ndarray
    """Owner value (object index + 1) of the object each of `pixels` belongs to."""

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

    def __init__(self, scene: Scene, blur_sigma: float, shadows: bool = False) -> None:
        self.height, self.width = scene.occluder.shape
        self.blur_sigma = blur_sigma
        self.shadow = (scene.shadow_dir[0], scene.shadow_dir[1]) if shadows else None
        """Direction cast shadows fall in (each object's look carries its own), or None."""
        uncovered = 1 - scene.occluder.ravel().astype(np.float32) / 255
        light = uncovered * scene.shade.ravel()
        self.ground = np.stack([uncovered, light], axis=1).view(np.uint64).ravel()
        """Per world pixel, two float32 as one item (one gather fetches both): the share not
        hidden by a tree canopy, and what reaches the sensor from an object there (canopy
        and cast shadow)."""
        self.sprites: list[Sprite] = []
        """Distinct sprites, by sprite number."""
        self._sprite_number: dict[int, int] = {}
        """Sprite number by id() of the sprite (the list above keeps the sprites alive)."""
        self._users: list[int] = []
        """Objects wearing each sprite that have not been forgotten."""
        self._number_of = np.zeros(64, np.int64)
        """Sprite number of each object index (the first `self.objects` entries)."""
        self.objects = 0
        self.looks: list[Look | None] = []
        """Rendered looks by look id (None once their object is forgotten)."""
        self.geometry = np.zeros((0, 10), np.int64)
        """Look.geometry of each look id, as rows to gather per frame."""
        self.keys = np.array([NO_KEY], np.int64)
        """Sorted cache keys (sprite * LOOKS_PER_OBJECT + look number) of the cached looks,
        ending with NO_KEY, so that a binary search always lands on an entry ..."""
        self.ids = np.array([-1], np.int64)
        """... and their look ids."""

    def add(self, sprite: Sprite) -> None:
        """Register the next object's sprite (object indices count up from 0)."""
        number = self._sprite_number.get(id(sprite))
        if number is None:
            number = self._sprite_number[id(sprite)] = len(self.sprites)
            self.sprites.append(sprite)
            self._users.append(0)
        self._users[number] += 1
        if self.objects == len(self._number_of):
            self._number_of = np.concatenate([self._number_of, np.zeros_like(self._number_of)])
        self._number_of[self.objects] = number
        self.objects += 1

    def forget(self, index: int) -> None:
        """An object has left for good: free its cached looks unless another object wears them."""
        number = int(self._number_of[index])
        self._users[number] -= 1
        if self._users[number] > 0:
            return
        lo, hi = np.searchsorted(
            self.keys, [number * LOOKS_PER_OBJECT, (number + 1) * LOOKS_PER_OBJECT]
        )
        for look in self.ids[lo:hi].tolist():
            self.looks[look] = None
        self.keys = np.delete(self.keys, np.s_[lo:hi])
        self.ids = np.delete(self.ids, np.s_[lo:hi])

    def cached(self, index: int) -> int:
        """How many looks of object `index` are cached (each was rendered once)."""
        number = int(self._number_of[index])
        return int(np.count_nonzero(self.keys // LOOKS_PER_OBJECT == number))

    def draw(self, canvas: np.ndarray, owner: np.ndarray, poses: Poses) -> Layer:
        """Blend the objects at `poses` into `canvas` (later ones on top) and own their pixels."""
        ids, x0, y0 = self._place(poses)
        geometry = self.geometry[ids]
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
        index, x0, y0, box, extent, area, counts = (
            a[kept] for a in (poses.index, x0, y0, box, extent, geometry[:, 8], geometry[:, 9])
        )
        if not len(kept):
            nothing = np.zeros(0, np.int64)
            return Layer(index, box, area, nothing, nothing)
        looks = [self.looks[i] for i in ids[kept].tolist()]
        offsets = [look.offsets for look in looks]  # type: ignore[union-attr]
        colour = [look.colour for look in looks]  # type: ignore[union-attr]
        cover = [look.cover for look in looks]  # type: ignore[union-attr]
        partial = (
            (extent[:, 0] < 0)
            | (extent[:, 1] >= self.width)
            | (extent[:, 2] < 0)
            | (extent[:, 3] >= self.height)
        )
        for j in np.flatnonzero(partial).tolist():  # only the pixels inside the world
            look = looks[j]
            xs, ys = look.xs + x0[j], look.ys + y0[j]  # type: ignore[union-attr]
            inside = (xs >= 0) & (xs < self.width) & (ys >= 0) & (ys < self.height)
            offsets[j], colour[j], cover[j] = (
                offsets[j][inside],
                colour[j][inside],
                cover[j][inside],
            )
            counts[j] = len(offsets[j])
        flat = np.concatenate(offsets) + np.repeat(y0 * self.width + x0, counts)
        ids = np.repeat((index + 1).astype(np.int32), counts)
        # every object is blended over the canvas as it was; put() writes in order, so where
        # objects overlap the last one drawn is what the pixel shows
        pixels = canvas.reshape(-1).view(PIXEL)
        blended = np.take(pixels, flat).view(np.uint8).reshape(-1, 3).astype(np.float32)
        alpha, silhouette = np.concatenate(cover).T
        uncovered, light = np.take(self.ground, flat).view(np.float32).reshape(-1, 2).T
        blended *= (1 - alpha * uncovered)[:, None]
        blended += np.concatenate(colour) * light[:, None]
        blended += 0.5
        np.put(pixels, flat, blended.astype(np.uint8).view(PIXEL).reshape(-1))
        # likewise the owner map: the top object where its silhouette is, else what was there
        solid = silhouette * uncovered >= SILHOUETTE_ALPHA
        flat_owner = owner.reshape(-1)
        if self.shadow is None:
            # (the fixed style's way: an object's faint fringe drawn over an earlier object's
            # silhouette in the same pass gives the pixel back to what was there before)
            np.put(flat_owner, flat, np.where(solid, ids, np.take(flat_owner, flat)))
        else:
            # a shadow reaches well past its object: only silhouettes take pixels
            np.put(flat_owner, flat[solid], ids[solid])
        return Layer(index, box, area, flat[solid], ids[solid])

    def _place(self, poses: Poses) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each object's look id at its quantised pose, and the world pixel the look is relative to."""
        # positions in quarter pixels: the floor pixel and the phase within it
        x0, phase_x = np.divmod(np.round(poses.x * POSITION_STEPS).astype(np.int64), POSITION_STEPS)
        y0, phase_y = np.divmod(np.round(poses.y * POSITION_STEPS).astype(np.int64), POSITION_STEPS)
        step = np.round(poses.heading / HEADING_STEP).astype(np.int64) % HEADING_STEPS
        numbers = self._number_of[poses.index]
        keys = (
            numbers * LOOKS_PER_OBJECT
            + (step * POSITION_STEPS + phase_x) * POSITION_STEPS
            + phase_y
        )
        at = np.searchsorted(self.keys, keys)
        ids = np.where(self.keys[at] == keys, self.ids[at], -1)
        missing = np.flatnonzero(ids < 0)
        if len(missing):
            # objects wearing the same sprite may miss the same look: render it once
            unique, first, inverse = np.unique(
                keys[missing], return_index=True, return_inverse=True
            )
            j = missing[first]
            ids[missing] = self._cache(unique, numbers[j], step[j], phase_x[j], phase_y[j])[
                inverse.reshape(-1)
            ]
        return ids, x0, y0

    def _cache(
        self,
        keys: np.ndarray,
        numbers: np.ndarray,
        step: np.ndarray,
        phase_x: np.ndarray,
        phase_y: np.ndarray,
    ) -> np.ndarray:
        """Render the looks of `keys` (sorted, distinct) and add them to the cache; returns
        their look ids."""
        first = len(self.looks)
        for i, k, px, py in zip(
            numbers.tolist(), step.tolist(), phase_x.tolist(), phase_y.tolist(), strict=True
        ):
            self.looks.append(
                self._render(
                    self.sprites[i], px / POSITION_STEPS, py / POSITION_STEPS, k * HEADING_STEP
                )
            )
        new = np.arange(first, len(self.looks))
        self.geometry = np.concatenate(
            [self.geometry, np.array([look.geometry for look in self.looks[first:]], np.int64)]  # type: ignore[union-attr]
        )
        at = np.searchsorted(self.keys, keys)
        self.keys = np.insert(self.keys, at, keys)
        self.ids = np.insert(self.ids, at, new)
        return new

    def _render(self, sprite: Sprite, x: float, y: float, heading: float) -> Look:
        """The look of `sprite` centred at (x, y) in [0, 1) and turned by `heading`, blurred
        by the optics; its silhouette is that of the sharp sprite, as the gt defines it."""
        st = stamp(sprite, x, y, heading)
        x0, y0, coverage, rgba = st.x0, st.y0, st.rgba[..., 3], st.rgba
        if self.shadow is not None and sprite.shadow_px > 0:
            x0, y0, coverage, rgba = self._with_shadow(sprite, st)
        rgba = optics_blur(rgba, self.blur_sigma)
        ys, xs = np.nonzero(rgba[..., 3] >= FAINT)
        solid_ys, solid_xs = np.nonzero(coverage >= SILHOUETTE_ALPHA)
        drawn = rgba[ys, xs]
        cover = np.empty((len(ys), 2), np.float32)
        cover[:, 0] = drawn[:, 3]
        cover[:, 1] = coverage[ys, xs]
        ys, xs = ys + y0, xs + x0
        # nonzero() lists pixels row by row: the rows' extremes are the first and last
        if len(xs):
            extent = (int(xs.min()), int(xs.max()), int(ys[0]), int(ys[-1]))
        else:
            extent = (0, 0, 0, 0)
        if len(solid_xs):
            box = (
                x0 + int(solid_xs.min()),
                x0 + int(solid_xs.max()) + 1,
                y0 + int(solid_ys[0]),
                y0 + int(solid_ys[-1]) + 1,
            )
        else:
            box = (0, 0, 0, 0)
        geometry = (*box, *extent, len(solid_xs), len(xs))
        return Look(ys * self.width + xs, drawn[:, :3].copy(), cover, xs, ys, geometry)

    def _with_shadow(self, sprite: Sprite, st: Stamp) -> tuple[int, int, np.ndarray, np.ndarray]:
        """The stamp `st` over its own cast shadow: top-left, sharp silhouette coverage and
        RGBA of a patch holding both. The shadow is the silhouette moved along the sun by
        whole pixels, black at SHADOW_DARKNESS opacity where the object does not cover it."""
        assert self.shadow is not None
        dx = round(self.shadow[0] * sprite.shadow_px)
        dy = round(self.shadow[1] * sprite.shadow_px)
        h, w = st.rgba.shape[:2]
        ox, oy = max(0, -dx), max(0, -dy)
        rgba = np.zeros((h + abs(dy), w + abs(dx), 4), np.float32)
        coverage = np.zeros(rgba.shape[:2], np.float32)
        coverage[oy + dy : oy + dy + h, ox + dx : ox + dx + w] = st.rgba[..., 3]
        coverage *= SHADOW_DARKNESS
        rgba[..., 3] = coverage
        own = (slice(oy, oy + h), slice(ox, ox + w))
        rgba[own] = st.rgba
        rgba[own][..., 3] += (1 - st.rgba[..., 3]) * coverage[own]
        coverage[...] = 0
        coverage[own] = st.rgba[..., 3]
        return st.x0 - ox, st.y0 - oy, coverage, rgba

    def visible(
        self, owner: np.ndarray, layer: Layer, offset: tuple[float, float], size: tuple[int, int]
    ) -> np.ndarray:
        """Visible silhouette pixels per owner value, inside the frame whose top-left is at `offset`.

        Output pixel u samples world x = u + ox, so world pixels from ceil(ox - 0.5) on are in view.
        """
        wx0, wy0 = math.ceil(offset[0] - 0.5), math.ceil(offset[1] - 0.5)
        shown = np.take(owner.reshape(-1), layer.pixels) == layer.owners
        # only objects whose box reaches past the frame edge have pixels outside it
        box = layer.box
        edge = (
            (box[:, 0] < wx0)
            | (box[:, 1] > wx0 + size[0])
            | (box[:, 2] < wy0)
            | (box[:, 3] > wy0 + size[1])
        )
        size_by_owner = int(layer.index.max(initial=-1)) + 2
        if edge.any():
            at_edge = np.zeros(size_by_owner, bool)
            at_edge[layer.index[edge] + 1] = True
            near = np.flatnonzero(at_edge[layer.owners])
            ys, xs = np.divmod(layer.pixels[near], self.width)
            shown[near] &= (xs >= wx0) & (xs < wx0 + size[0]) & (ys >= wy0) & (ys < wy0 + size[1])
        return np.bincount(layer.owners[shown], minlength=size_by_owner)


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
