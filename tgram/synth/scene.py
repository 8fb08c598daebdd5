"""Static scene painting for the synthetic archive: the world a satellite video looks at.

One scene per video, painted once: an urban road grid with blocks of buildings, parking
lots and parks, and, in bands along two sides of the frame, a port (water with a
shoreline, quays, piers, a container yard) and an airport apron (terminal, stands,
taxilanes). One sun lights it all, so every cast shadow points the same way.

The video's style (tgram.synth.style) sets the palette, the sun, the grading and the scale
of the geometry; without one the scene is painted in the fixed style.
"""

from __future__ import annotations

import math

import numpy as np

from tgram.synth.airport import paint_airport
from tgram.synth.movers import FOAM
from tgram.synth.painter import Painter, paint_tall_things, smooth_noise
from tgram.synth.palette import SHADOW_DARKNESS
from tgram.synth.roads import layout_roads, paint_roads
from tgram.synth.style import FIXED_SCENE_STYLE, Style
from tgram.synth.urban import paint_blocks
from tgram.synth.waterfront import paint_port
from tgram.synth.world import Band, Scene, Side, Sizes


def build_scene(
    rng: np.random.Generator,
    width: int,
    height: int,
    classes: tuple[str, ...],
    style: Style = FIXED_SCENE_STYLE,
) -> Scene:
    """Lay out and paint the world of one `width` x `height` video showing `classes`."""
    margin = style.margin
    world_w, world_h = width + 2 * margin, height + 2 * margin
    if style.sun_azimuth is None or style.shadow_ratio is None:
        angle = rng.uniform(-math.pi * 0.9, -math.pi * 0.1)
        shadow_ratio = rng.uniform(0.35, 0.65)
    else:
        angle, shadow_ratio = style.sun_azimuth, style.shadow_ratio
    painter = Painter(
        rng,
        world_w,
        world_h,
        (math.cos(angle), math.sin(angle)),
        shadow_ratio,
        style.palette,
        style.scale,
    )
    painter.sizes = style.sizes
    scene = Scene(
        np.empty(0, np.uint8),
        painter.occluder,
        np.empty(0, np.float32),
        painter.shadow_dir,
        painter.shadow_ratio,
        margin=margin,
        scale=style.scale,
        speed=style.speed,
    )
    painter.fill((0, 0, world_w, world_h), style.palette.land, grain=4.0, blotch=6.0)
    water, airport = _choose_bands(rng, world_w, world_h, classes, style.scale, style.sizes)
    urban = [0.0, 0.0, float(world_w), float(world_h)]
    for band in (water, airport):
        if band is not None:
            index, sign = {"left": (0, 1), "top": (1, 1), "right": (2, -1), "bottom": (3, -1)}[
                band.side
            ]
            urban[index] += sign * band.depth
    internal = {band.side for band in (water, airport) if band is not None}
    layout_roads(
        rng,
        scene,
        (urban[0], urban[1], urban[2], urban[3]),
        internal,
        (world_w, world_h),
        style.sizes.road_spacing,
    )
    paint_roads(painter, scene)
    paint_blocks(painter, scene, (urban[0], urban[1], urban[2], urban[3]))
    if water is not None:
        paint_port(painter, scene, water)
    if airport is not None:
        paint_airport(painter, scene, airport)
    paint_tall_things(painter)
    lighting = 1 + 0.05 * smooth_noise(rng, world_h, world_w, 240)
    painter.img *= lighting[..., None]
    scene.background = style.grading.image(painter.img)
    scene.shade = 1 - SHADOW_DARKNESS * painter.shadow.astype(np.float32)
    if style.randomised:  # wakes are drawn onto the graded frame: grade their colours too
        scene.water_rgb = style.grading.colour(scene.water_rgb)
        scene.foam_rgb = style.grading.colour(FOAM)
    return scene


FIXED_SIZES = Sizes()


def _choose_bands(
    rng: np.random.Generator,
    world_w: int,
    world_h: int,
    classes: tuple[str, ...],
    k: float = 1.0,
    sizes: Sizes = FIXED_SIZES,
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
        plane_length = min(sizes.max_plane, (0.4 * dim - 16 * k) / 3.73)
        if plane_length >= 20 * k:
            u_range = (0.0, length)
            if water is not None:
                u_range = (
                    (water.depth, length)
                    if water.side in ("left", "top")
                    else (0.0, length - water.depth)
                )
            airport = Band(side, 3.73 * plane_length + 16 * k, u_range, (world_w, world_h))
    return water, airport
