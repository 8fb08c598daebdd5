"""City blocks between the roads: buildings on lots, parking lots, parks and street trees."""

from __future__ import annotations

import math

import numpy as np

from tgram.synth.painter import Painter, free_intervals, rect_poly
from tgram.synth.palette import shade
from tgram.synth.roads import along
from tgram.synth.world import SIDEWALK_WIDTH, Pose, Scene


def paint_blocks(p: Painter, scene: Scene, urban: tuple[float, float, float, float]) -> None:
    """Fill the land between roads: buildings, parking lots, parks, or a mix; street trees."""
    x0, y0, x1, y1 = urban
    sidewalk = SIDEWALK_WIDTH * p.k

    def occupied(axis: int) -> list[tuple[float, float]]:
        half = [(r.centre, r.half_width + sidewalk) for r in scene.roads if r.axis == axis]
        return [(c - w, c + w) for c, w in half]

    for by0, by1 in free_intervals(y0, y1, occupied(0)):
        for bx0, bx1 in free_intervals(x0, x1, occupied(1)):
            rect = (bx0, by0, bx1, by1)
            kind = p.rng.choice(4, p=list(p.pal.blocks))
            if kind == 0:
                lots(p, rect)
            elif kind == 1:
                _paint_parking(p, scene, rect)
            elif kind == 2:
                _paint_park(p, rect)
            else:
                first, second = _split(p.rng, rect)
                lots(p, first)
                if p.rng.random() < 0.6:
                    _paint_parking(p, scene, second)
                else:
                    _paint_park(p, second)
    _plant_street_trees(p, scene)


def _split(
    rng: np.random.Generator, rect: tuple[float, float, float, float]
) -> tuple[tuple[float, float, float, float], tuple[float, float, float, float]]:
    x0, y0, x1, y1 = rect
    t = rng.uniform(0.35, 0.65)
    if x1 - x0 > y1 - y0:
        m = x0 + (x1 - x0) * t
        return (x0, y0, m, y1), (m, y0, x1, y1)
    m = y0 + (y1 - y0) * t
    return (x0, y0, x1, m), (x0, m, x1, y1)


def lots(p: Painter, rect: tuple[float, float, float, float], min_side: float = 22.0) -> None:
    """Recursively cut a block into lots, each holding one building (or a small garden);
    `min_side` in legacy pixels."""
    _lots(p, rect, min_side * p.k)


def _lots(p: Painter, rect: tuple[float, float, float, float], min_side: float) -> None:
    x0, y0, x1, y1 = rect
    k = p.k
    if max(x1 - x0, y1 - y0) > 2.2 * min_side and p.rng.random() < 0.85:
        for half in _split(p.rng, rect):
            _lots(p, half, min_side)
        return
    inset = p.rng.uniform(1.5, 4.0) * k
    if min(x1 - x0, y1 - y0) < 2 * inset + 4 * k:
        return
    if p.rng.random() < 0.1:
        _paint_park(p, rect)
        return
    height = (p.rng.uniform(3, 30) if p.rng.random() > 0.1 else p.rng.uniform(40, 80)) * k
    roofs = p.pal.roofs
    roof = shade(roofs[p.rng.integers(len(roofs))], p.rng.uniform(0.9, 1.1))
    p.buildings.append(
        (rect_poly(x0 + inset, y0 + inset, x1 - inset, y1 - inset), height, roof, True)
    )


def _paint_parking(p: Painter, scene: Scene, rect: tuple[float, float, float, float]) -> None:
    """An asphalt lot with rows of slots either side of aisles; each slot is a parking pose."""
    k = p.k
    x0, y0, x1, y1 = rect[0] + 2 * k, rect[1] + 2 * k, rect[2] - 2 * k, rect[3] - 2 * k
    if min(x1 - x0, y1 - y0) < 14 * k:
        return
    p.fill((x0, y0, x1, y1), p.pal.lot_asphalt, grain=3.0, blotch=3.0)
    along_x = x1 - x0 >= y1 - y0
    slot_w, slot_d, aisle = (size * k for size in p.sizes.parking_slot)
    lo, hi = (y0, y1) if along_x else (x0, x1)
    a0, a1 = (x0, x1) if along_x else (y0, y1)
    row, index = lo + 1 * k, 0
    while row + slot_d <= hi - 1 * k:
        facing = math.pi / 2 if along_x else 0.0
        for t in np.arange(a0 + 1 * k, a1 - slot_w, slot_w):
            centre = (
                (t + slot_w / 2, row + slot_d / 2)
                if along_x
                else (row + slot_d / 2, t + slot_w / 2)
            )
            heading = facing + (math.pi if p.rng.random() < 0.5 else 0.0) + p.rng.normal(0, 0.04)
            scene.parking.append(
                Pose(
                    centre[0] + p.rng.normal(0, 0.3) * k,
                    centre[1] + p.rng.normal(0, 0.3) * k,
                    heading,
                    slot_d,
                )
            )
            a, b = ((t, row), (t, row + slot_d)) if along_x else ((row, t), (row + slot_d, t))
            p.mark(p.white_marks, a, b)
        row += slot_d + (aisle if index % 2 == 0 else 0.0)
        index += 1


def _paint_park(p: Painter, rect: tuple[float, float, float, float]) -> None:
    p.fill(rect, p.pal.grass, grain=5.0, blotch=7.0)
    plant(p, rect)


def plant(p: Painter, rect: tuple[float, float, float, float]) -> None:
    """Trees scattered over a rectangle, about one per 260 square legacy pixels (times the
    palette's tree density)."""
    x0, y0, x1, y1 = rect
    k = p.k
    for _ in range(int((x1 - x0) * (y1 - y0) / (260 * k * k) * p.pal.trees)):
        p.trees.append(
            (
                p.rng.uniform(x0 + 2 * k, x1 - 2 * k),
                p.rng.uniform(y0 + 2 * k, y1 - 2 * k),
                p.rng.uniform(2.5, 6.0) * k,
            )
        )


def _plant_street_trees(p: Painter, scene: Scene) -> None:
    """Rows of trees on the sidewalk edge; their canopies overhang the curb lane a little,
    so vehicles there are briefly, partly hidden."""
    k = p.k
    for road in scene.roads:
        if p.rng.random() > min(1.0, 0.5 * p.pal.trees):
            continue
        crossings = [
            (r.centre, r.half_width + SIDEWALK_WIDTH * k + 5 * k)
            for r in scene.roads
            if r.axis != road.axis
        ]
        for side in (-1, 1):
            t = road.start + p.rng.uniform(0, 10) * k
            while t < road.end:
                if all(abs(t - c) > reach for c, reach in crossings):
                    x, y = along(road, t, side * (road.half_width + 1.0 * k))
                    p.trees.append((x, y, p.rng.uniform(2.5, 4.0) * k))
                t += p.rng.uniform(9, 14) * k
