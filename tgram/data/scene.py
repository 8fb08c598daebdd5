"""Static scene painting for the synthetic archive: the world a satellite video looks at.

One scene per video, painted once: an urban road grid with blocks of buildings, parking
lots and parks, and, in bands along two sides of the frame, a port (water with a
shoreline, quays, piers, a container yard) and an airport apron (terminal, stands,
taxilanes). One sun lights it all, so every cast shadow points the same way.
"""

from __future__ import annotations

import math

import numpy as np

from tgram.data.airport import paint_airport
from tgram.data.painter import Painter, paint_tall_things, smooth_noise
from tgram.data.palette import LAND, SHADOW_DARKNESS, grade
from tgram.data.roads import layout_roads, paint_roads
from tgram.data.urban import paint_blocks
from tgram.data.waterfront import paint_port
from tgram.data.world import MARGIN, MAX_PLANE_LENGTH, Band, Scene, Side


def build_scene(
    rng: np.random.Generator, width: int, height: int, classes: tuple[str, ...]
) -> Scene:
    """Lay out and paint the world of one `width` x `height` video showing `classes`."""
    world_w, world_h = width + 2 * MARGIN, height + 2 * MARGIN
    angle = rng.uniform(-math.pi * 0.9, -math.pi * 0.1)
    painter = Painter(
        rng, world_w, world_h, (math.cos(angle), math.sin(angle)), rng.uniform(0.35, 0.65)
    )
    scene = Scene(
        np.empty(0, np.uint8),
        painter.occluder,
        np.empty(0, np.float32),
        painter.shadow_dir,
        painter.shadow_ratio,
    )
    painter.fill((0, 0, world_w, world_h), LAND, grain=4.0, blotch=6.0)
    water, airport = _choose_bands(rng, world_w, world_h, classes)
    urban = [0.0, 0.0, float(world_w), float(world_h)]
    for band in (water, airport):
        if band is not None:
            index, sign = {"left": (0, 1), "top": (1, 1), "right": (2, -1), "bottom": (3, -1)}[
                band.side
            ]
            urban[index] += sign * band.depth
    internal = {band.side for band in (water, airport) if band is not None}
    layout_roads(rng, scene, (urban[0], urban[1], urban[2], urban[3]), internal, (world_w, world_h))
    paint_roads(painter, scene)
    paint_blocks(painter, scene, (urban[0], urban[1], urban[2], urban[3]))
    if water is not None:
        paint_port(painter, scene, water)
    if airport is not None:
        paint_airport(painter, scene, airport)
    paint_tall_things(painter)
    lighting = 1 + 0.05 * smooth_noise(rng, world_h, world_w, 240)
    painter.img *= lighting[..., None]
    graded = grade(painter.img, 1.0)
    scene.background = np.clip(graded, 0, 255, out=graded).astype(np.uint8)
    scene.shade = 1 - SHADOW_DARKNESS * painter.shadow.astype(np.float32)
    return scene


def _choose_bands(
    rng: np.random.Generator, world_w: int, world_h: int, classes: tuple[str, ...]
) -> tuple[Band | None, Band | None]:
    """Water along one side (if ships are shown), the apron along a perpendicular side (airplanes)."""
    sides: tuple[Side, ...] = ("left", "right", "top", "bottom")
    water: Band | None = None
    airport: Band | None = None

    def extent(side: Side) -> tuple[float, float]:
        """(depth dimension, length) of a band on `side`."""
        return (world_w, world_h) if side in ("left", "right") else (world_h, world_w)

    if "ship" in classes:
        side = sides[rng.integers(4)]
        dim, length = extent(side)
        water = Band(side, dim * rng.uniform(0.24, 0.32), (0.0, length), (world_w, world_h))
    if "airplane" in classes:
        choices = [
            s
            for s in sides
            if water is None or (s in ("left", "right")) != (water.side in ("left", "right"))
        ]
        side = choices[rng.integers(len(choices))]
        dim, length = extent(side)
        plane_length = min(MAX_PLANE_LENGTH, (0.4 * dim - 16) / 3.73)
        if plane_length >= 20:
            u_range = (0.0, length)
            if water is not None:
                u_range = (
                    (water.depth, length)
                    if water.side in ("left", "top")
                    else (0.0, length - water.depth)
                )
            airport = Band(side, 3.73 * plane_length + 16, u_range, (world_w, world_h))
    return water, airport
