"""The port: water with a shoreline, quays, piers with berthed ships, a container yard."""

from __future__ import annotations

import numpy as np

from tgram.data.painter import Painter, free_intervals, rounded_polyline, smooth_noise
from tgram.data.palette import CONCRETE, CONTAINER_COLOURS, GRASS, SAND, WATER_COLOURS, shade
from tgram.data.urban import lots, plant
from tgram.data.world import MAX_SHIP_LENGTH, Band, Pose, Scene


def paint_port(p: Painter, scene: Scene, band: Band) -> None:
    """Water with a shoreline: a straight quay with piers and a container yard along part of
    it, a sandy natural coast elsewhere; moorings at the piers and quay; shipping routes."""
    rng = p.rng
    u_lo, u_hi = band.u_range
    quay_v = band.depth * rng.uniform(0.62, 0.72)
    port_len = (u_hi - u_lo) * rng.uniform(0.45, 0.7)
    ua = u_lo + rng.uniform(0, u_hi - u_lo - port_len)
    ub = ua + port_len
    u = np.arange(u_lo - 20, u_hi + 21, 2.0)
    natural = 1 - np.clip(np.minimum(u - ua, ub - u) / 25, 0, 1)
    wiggle = smooth_noise(rng, 1, len(u), 20)[0] * 7 + smooth_noise(rng, 1, len(u), 4)[0] * 1.5
    shore = quay_v + natural * (wiggle - 6)
    sand = shore + natural * rng.uniform(4, 8)
    p.fill(band.rect(ua, quay_v - 2, ub, band.depth), shade(CONCRETE, 0.9), grain=3.0, blotch=4.0)
    p.fill_poly(
        band.polygon(np.r_[u, u[::-1]], np.r_[shore, (sand + natural * 10)[::-1]]),
        GRASS,
        grain=5.0,
        blotch=7.0,
    )
    p.fill_poly(
        band.polygon(np.r_[u, u[::-1]], np.r_[shore, sand[::-1]]), SAND, grain=4.0, blotch=4.0
    )
    scene.water_rgb = WATER_COLOURS[rng.integers(len(WATER_COLOURS))]
    p.fill_poly(
        band.polygon(np.r_[u, u[::-1]], np.r_[np.full_like(u, -10.0), shore[::-1]]),
        scene.water_rgb,
        grain=1.5,
        blotch=2.5,
    )
    p.fill(band.rect(ua, quay_v - 1, ub, quay_v), (192.0, 192.0, 186.0), grain=2.0, blotch=0.0)
    max_ship = max(12.0, min(MAX_SHIP_LENGTH, 0.5 * quay_v))
    scene.ship_length = (min(15.0, 0.6 * max_ship), max_ship)
    pier_reach = _piers_and_moorings(p, scene, band, ua, ub, quay_v, max_ship)
    _container_yard(p, band, ua + 8, quay_v + 8, ub - 8, band.depth - 4)
    for a, b in free_intervals(u_lo, u_hi, [(ua - 10, ub + 10)], min_size=30):
        _coastal_land(p, band, a, b, quay_v + 16, band.depth - 2)
    bottom, top = 12.0, quay_v - pier_reach - 18
    count = max(1, min(3, int((top - bottom) / 45)))
    for v_lane in (
        np.linspace(bottom, max(bottom, top), count + 2)[1:-1] if top > bottom else [quay_v * 0.35]
    ):
        us = np.arange(u_lo - 80, u_hi + 81, 80.0)
        vs = v_lane + rng.normal(0, 5, len(us))
        route = rounded_polyline(list(zip(us, vs, strict=True)), 30.0)
        route = route[::-1] if rng.random() < 0.5 else route
        scene.ship_routes.append(band.polygon(route[:, 0], route[:, 1]))


def _piers_and_moorings(
    p: Painter, scene: Scene, band: Band, ua: float, ub: float, quay_v: float, max_ship: float
) -> float:
    """Piers out from the quay, ships berthed along them and along the quay; returns the pier reach."""
    rng = p.rng
    reach = 0.0
    spans: list[tuple[float, float]] = []
    u = ua + rng.uniform(20, 60)
    while u < ub - 30:
        width, length = rng.uniform(8, 12), min(rng.uniform(40, 80), 0.4 * quay_v)
        reach = max(reach, length)
        footprint = band.polygon(
            np.array([u, u + width, u + width, u]),
            np.array([quay_v - length, quay_v - length, quay_v, quay_v]),
        )
        p.buildings.append((footprint, 1.5, CONCRETE, False))
        ship = min(max_ship, length - 6)
        nose_v = quay_v - length + 3
        for side in (-1, 1):
            uc = u + width / 2 + side * (width / 2 + 1.5 + 0.11 * ship)
            x, y = band.point(uc, nose_v + ship / 2)
            scene.moorings.append(Pose(float(x), float(y), band.heading(0.0, -1.0), ship))
        spans.append((u - 0.3 * ship - 4, u + width + 0.3 * ship + 4))
        u += width + rng.uniform(70, 150)
    for a, b in free_intervals(ua, ub, spans, min_size=40):
        ship = min(max_ship, b - a - 10)
        x, y = band.point((a + b) / 2, quay_v - 0.11 * ship - 1.5)
        scene.moorings.append(
            Pose(float(x), float(y), band.heading(1.0 if rng.random() < 0.5 else -1.0, 0.0), ship)
        )
    return reach


def _coastal_land(p: Painter, band: Band, u0: float, u1: float, v0: float, v1: float) -> None:
    """Behind a natural shore: gardens with trees and scattered low buildings."""
    if v1 - v0 < 12:
        return
    p.fill(band.rect(u0, v0, u1, v1), GRASS, grain=5.0, blotch=7.0)
    u = u0
    while u < u1 - 20:
        width = p.rng.uniform(25, 60)
        rect = band.rect(u, v0 + 2, min(u + width, u1) - 3, v1 - 2)
        if p.rng.random() < 0.5:
            lots(p, rect, min_side=14.0)
        else:
            plant(p, rect)
        u += width


def _container_yard(p: Painter, band: Band, u0: float, v0: float, u1: float, v1: float) -> None:
    """Rows of stacked containers (3 px wide, 6 or 12 px long) with driving lanes between blocks."""
    rng = p.rng
    v, row = v0, 0
    while v + 3 <= v1:
        u = u0 + rng.uniform(0, 4)
        while u < u1 - 12:
            if rng.random() < 0.1:
                u += rng.uniform(6, 20)
                continue
            length = 6.0 if rng.random() < 0.4 else 12.0
            colour = shade(
                CONTAINER_COLOURS[rng.integers(len(CONTAINER_COLOURS))], rng.uniform(0.85, 1.1)
            )
            footprint = band.polygon(
                np.array([u, u + length - 0.6, u + length - 0.6, u]),
                np.array([v, v, v + 2.6, v + 2.6]),
            )
            p.buildings.append((footprint, 2.6 * rng.integers(1, 4), colour, False))
            u += length
        row += 1
        v += 3.0 + (7.0 if row % 4 == 0 else 0.0)
