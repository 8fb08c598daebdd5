"""The airport apron: terminal, nose-in stands, a taxilane and a taxiway, and the taxi routes."""

from __future__ import annotations

import numpy as np

from tgram.synth.painter import Painter, rounded_polyline
from tgram.synth.world import Band, Pose, Scene, Stand


def paint_airport(p: Painter, scene: Scene, band: Band) -> None:
    """Apron with terminal, nose-in stands, a taxilane (departures) and a taxiway (arrivals)."""
    rng, k = p.rng, p.k
    u0, u1 = band.u_range
    lm = (band.depth - 16 * k) / 3.73
    scene.plane_length = (0.57 * lm, lm)
    terminal = 0.38 * lm
    nose = terminal + 4 * k
    v_tl = nose + 1.6 * lm
    v_tw = v_tl + 1.15 * lm
    apron_end = v_tw + 0.6 * lm
    p.fill(band.rect(u0, 0, u1, apron_end), p.pal.concrete, grain=3.0, blotch=3.0)
    p.fill(band.rect(u0, apron_end, u1, band.depth), p.pal.grass, grain=5.0, blotch=7.0)
    for t in np.arange(u0, u1, 16.0 * k):
        p.mark(p.joints, tuple(band.point(t, 0.0)), tuple(band.point(t, apron_end)))
    for t in np.arange(0.0, apron_end, 16.0 * k):
        p.mark(p.joints, tuple(band.point(u0, t)), tuple(band.point(u1, t)))
    p.buildings.append(
        (
            band.polygon(
                np.array([u0 + 8 * k, u1 - 8 * k, u1 - 8 * k, u0 + 8 * k]),
                np.array([-scene.margin, -scene.margin, terminal, terminal]),
            ),
            14.0 * k,
            p.pal.terminal,
            True,
        )
    )
    for v in (v_tl, v_tw):
        p.mark(p.yellow_marks, tuple(band.point(u0, v)), tuple(band.point(u1, v)))
    lo_open, hi_open = u0 <= 0.5, u1 >= band.length - 0.5
    inbound = 1.0 if (lo_open and (not hi_open or rng.random() < 0.5)) else -1.0
    outbound = 1.0 if (hi_open and (not lo_open or rng.random() < 0.5)) else -1.0
    enter_u = u0 - lm if inbound > 0 else u1 + lm
    leave_u = u1 + lm if outbound > 0 else u0 - lm
    pitch = 1.05 * lm + 8 * k
    us = u0 + 0.6 * lm + 4 * k
    while us + 0.6 * lm < u1 - 4 * k:
        centre_v = nose + lm / 2
        p.mark(p.yellow_marks, tuple(band.point(us, v_tl)), tuple(band.point(us, nose + 0.3 * lm)))
        bridge = band.polygon(
            np.array(
                [us + 0.18 * lm, us + 0.18 * lm + 2.5 * k, us + 0.18 * lm + 2.5 * k, us + 0.18 * lm]
            ),
            np.array([terminal, terminal, nose + 0.3 * lm, nose + 0.3 * lm]),
        )
        p.buildings.append((bridge, 5.0 * k, p.pal.bridge, False))
        x, y = band.point(us, centre_v)
        back_u = us - outbound * 0.7 * lm

        def world(points: list[tuple[float, float]], radius: float) -> np.ndarray:
            route = rounded_polyline(points, radius)
            return band.polygon(route[:, 0], route[:, 1])

        scene.stands.append(
            Stand(
                Pose(float(x), float(y), band.heading(0.0, -1.0), lm),
                arrival=world([(enter_u, v_tw), (us, v_tw), (us, centre_v)], 0.5 * lm),
                pushback=world([(us, centre_v), (us, v_tl), (back_u, v_tl)], 0.45 * lm),
                departure=world([(back_u, v_tl), (leave_u, v_tl)], 0.0),
            )
        )
        us += pitch
    if lo_open and hi_open:
        scene.taxi_routes.append(
            band.polygon(
                np.array([enter_u, u1 + lm if inbound > 0 else u0 - lm]),
                np.array([v_tw, v_tw]),
            )
        )
