"""The port: water with a shoreline, quays, piers with berthed ships, a container yard.

Sizes are legacy pixels times the painter's scale `k` (see tgram.synth.style).
"""

from __future__ import annotations

import numpy as np

from tgram.synth.painter import Painter, free_intervals, rounded_polyline, smooth_noise
from tgram.synth.palette import shade
from tgram.synth.urban import lots, plant
from tgram.synth.world import Band, Pose, Scene


def paint_port(p: Painter, scene: Scene, band: Band) -> None:
    """Water with a shoreline: a straight quay with piers and a container yard along part of
    it, a sandy natural coast elsewhere; moorings at the piers and quay; shipping routes."""
    rng, k, pal = p.rng, p.k, p.pal
    u_lo, u_hi = band.u_range
    quay_v = band.depth * rng.uniform(0.62, 0.72)
    port_len = (u_hi - u_lo) * rng.uniform(0.45, 0.7)
    ua = u_lo + rng.uniform(0, u_hi - u_lo - port_len)
    ub = ua + port_len
    u = np.arange(u_lo - 20, u_hi + 21, 2.0)
    natural = 1 - np.clip(np.minimum(u - ua, ub - u) / (25 * k), 0, 1)
    wiggle = smooth_noise(rng, 1, len(u), 20)[0] * 7 + smooth_noise(rng, 1, len(u), 4)[0] * 1.5
    shore = quay_v + natural * (wiggle * k - 6 * k)
    sand = shore + natural * rng.uniform(4, 8) * k
    p.fill(
        band.rect(ua, quay_v - 2 * k, ub, band.depth),
        shade(pal.concrete, 0.9),
        grain=3.0,
        blotch=4.0,
    )
    p.fill_poly(
        band.polygon(np.r_[u, u[::-1]], np.r_[shore, (sand + natural * 10 * k)[::-1]]),
        pal.grass,
        grain=5.0,
        blotch=7.0,
    )
    p.fill_poly(
        band.polygon(np.r_[u, u[::-1]], np.r_[shore, sand[::-1]]), pal.sand, grain=4.0, blotch=4.0
    )
    water = pal.water[rng.integers(len(pal.water))]
    scene.water_rgb = water
    p.fill_poly(
        band.polygon(np.r_[u, u[::-1]], np.r_[np.full_like(u, -10.0), shore[::-1]]),
        water,
        grain=1.5,
        blotch=2.5,
    )
    p.fill(band.rect(ua, quay_v - 1 * k, ub, quay_v), pal.quay_edge, grain=2.0, blotch=0.0)
    max_ship = max(12.0 * k, min(p.sizes.max_ship, 0.5 * quay_v))
    scene.ship_length = (min(p.sizes.min_ship, 0.6 * max_ship), max_ship)
    pier_reach = _piers_and_moorings(p, scene, band, ua, ub, quay_v, max_ship)
    _container_yard(p, band, ua + 8 * k, quay_v + 8 * k, ub - 8 * k, band.depth - 4 * k)
    for a, b in free_intervals(u_lo, u_hi, [(ua - 10 * k, ub + 10 * k)], min_size=30 * k):
        _coastal_land(p, band, a, b, quay_v + 16 * k, band.depth - 2 * k)
    bottom, top = 12.0 * k, quay_v - pier_reach - 18 * k
    count = max(1, min(3, int((top - bottom) / (45 * k))))
    # routes run on past the world's ends by at least a ship's length: ships appear whole
    reach = 80.0 * max(1, int(np.ceil(max_ship / 80)))
    for v_lane in (
        np.linspace(bottom, max(bottom, top), count + 2)[1:-1] if top > bottom else [quay_v * 0.35]
    ):
        us = np.arange(u_lo - reach, u_hi + (reach + 1), 80.0)
        vs = v_lane + rng.normal(0, 5, len(us)) * k
        route = rounded_polyline(list(zip(us, vs, strict=True)), 30.0)
        route = route[::-1] if rng.random() < 0.5 else route
        scene.ship_routes.append(band.polygon(route[:, 0], route[:, 1]))


def _piers_and_moorings(
    p: Painter, scene: Scene, band: Band, ua: float, ub: float, quay_v: float, max_ship: float
) -> float:
    """Piers out from the quay, ships berthed along them and along the quay; returns the pier reach."""
    rng, k = p.rng, p.k
    reach = 0.0
    spans: list[tuple[float, float]] = []
    u = ua + rng.uniform(20, 60) * k
    while u < ub - 30 * k:
        width, length = rng.uniform(8, 12) * k, min(rng.uniform(40, 80) * k, 0.4 * quay_v)
        reach = max(reach, length)
        footprint = band.polygon(
            np.array([u, u + width, u + width, u]),
            np.array([quay_v - length, quay_v - length, quay_v, quay_v]),
        )
        p.buildings.append((footprint, 1.5 * k, p.pal.concrete, False))
        ship = min(max_ship, length - 6 * k)
        nose_v = quay_v - length + 3 * k
        for side in (-1, 1):
            uc = u + width / 2 + side * (width / 2 + 1.5 * k + 0.11 * ship)
            x, y = band.point(uc, nose_v + ship / 2)
            scene.moorings.append(Pose(float(x), float(y), band.heading(0.0, -1.0), ship))
        spans.append((u - 0.3 * ship - 4 * k, u + width + 0.3 * ship + 4 * k))
        u += width + rng.uniform(70, 150) * k
    for a, b in free_intervals(ua, ub, spans, min_size=40 * k):
        ship = min(max_ship, b - a - 10 * k)
        x, y = band.point((a + b) / 2, quay_v - 0.11 * ship - 1.5 * k)
        scene.moorings.append(
            Pose(float(x), float(y), band.heading(1.0 if rng.random() < 0.5 else -1.0, 0.0), ship)
        )
    return reach


def _coastal_land(p: Painter, band: Band, u0: float, u1: float, v0: float, v1: float) -> None:
    """Behind a natural shore: gardens with trees and scattered low buildings."""
    k = p.k
    if v1 - v0 < 12 * k:
        return
    p.fill(band.rect(u0, v0, u1, v1), p.pal.grass, grain=5.0, blotch=7.0)
    u = u0
    while u < u1 - 20 * k:
        width = p.rng.uniform(25, 60) * k
        rect = band.rect(u, v0 + 2 * k, min(u + width, u1) - 3 * k, v1 - 2 * k)
        if p.rng.random() < 0.5:
            lots(p, rect, min_side=14.0)
        else:
            plant(p, rect)
        u += width


def _container_yard(p: Painter, band: Band, u0: float, v0: float, u1: float, v1: float) -> None:
    """Rows of stacked containers (3 px wide, 6 or 12 px long; in the randomised style 2.6 x
    6.1 or 12.2 m) with driving lanes between blocks."""
    rng, k = p.rng, p.k * p.sizes.container
    colours = p.pal.containers
    v, row = v0, 0
    while v + 3 * k <= v1:
        u = u0 + rng.uniform(0, 4) * k
        while u < u1 - 12 * k:
            if rng.random() < 0.1:
                u += rng.uniform(6, 20) * k
                continue
            length = (6.0 if rng.random() < 0.4 else 12.0) * k
            colour = shade(colours[rng.integers(len(colours))], rng.uniform(0.85, 1.1))
            footprint = band.polygon(
                np.array([u, u + length - 0.6 * k, u + length - 0.6 * k, u]),
                np.array([v, v, v + 2.6 * k, v + 2.6 * k]),
            )
            p.buildings.append((footprint, 2.6 * k * rng.integers(1, 4), colour, False))
            u += length
        row += 1
        v += 3.0 * k + (7.0 * k if row % 4 == 0 else 0.0)
