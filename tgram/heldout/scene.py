"""Layout and static background of one held-out scene.

Planned first, painted after, in depth order: the ground (terrain, vegetation), water and
shore, parking lots, an apron with its terminal, roof blocks, secondary roads (bridges where
they cross water) and, on top, an elevated curved highway with its shadow. Roads run at any
angle and bend gently. Static objects (parked cars in dense rows, moored boats, parked
airplanes) are drawn onto a copy of the ground; moving ones follow lanes (`Lane`) and are
drawn per frame. Three levels order the movers under the decks: 0 ships and taxiing planes,
1 cars of the secondary roads, 2 highway cars; `above[level]` is the deck coverage that
hides a mover of that level.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from tgram.heldout.config import HeldoutConfig
from tgram.heldout.geometry import (
    Path,
    coverage,
    crossing_path,
    place,
    rect,
    wiggle,
    world_coverage,
)
from tgram.heldout.objects import Shape, Stamp, airplane, composite, ship, stamp, vehicle
from tgram.heldout.style import Style
from tgram.heldout.terrain import blend, blend_box, fbm, paint_terrain

EXTEND = 90.0
"""Lanes run this far beyond the world, so objects enter and leave the frame whole."""


@dataclass
class Mover:
    uid: int
    shape: Shape
    s: float
    v_des: float
    v: float = 0.0
    generation: int = 0
    """Bumped when the mover re-enters as a new object (a new gt identity)."""


@dataclass
class Lane:
    path: Path
    level: int
    loop: float
    """Arc length after which a mover starts over (hidden beyond the path's end)."""
    spawn: Callable[[], tuple[Shape, float]]
    """A new (shape, desired speed) for a mover that starts over."""
    min_gap: float
    accel: float
    wake: float = 0.0
    hold: float | None = None
    """Lanes that end (taxiing): movers stop here instead of starting over."""
    movers: list[Mover] = field(default_factory=list)


@dataclass
class Placed:
    """A static object, drawn once into the background."""

    uid: int
    shape: Shape
    x: float
    y: float
    heading: float
    stamp: Stamp


@dataclass
class Scene:
    ground: np.ndarray
    """uint8 RGB world without objects."""
    base: np.ndarray
    """ground with the static objects."""
    static: list[Placed]
    lanes: list[Lane]
    above: dict[int, np.ndarray]
    """Level -> float32 coverage of the decks drawn above movers of that level."""
    shadow: tuple[float, float, float]
    water: np.ndarray
    wake_mask: np.ndarray
    """Where wakes show: open water, not the moored boats."""


def _rot_rect(cx: float, cy: float, lu: float, lv: float, angle: float) -> np.ndarray:
    return place(rect(-lu / 2, lu / 2, -lv / 2, lv / 2), cx, cy, angle)


def _angle_gap(a: float, b: float) -> float:
    d = abs(a - b) % math.pi
    return min(d, math.pi - d)


class _Builder:
    def __init__(self, cfg: HeldoutConfig, style: Style, rng: np.random.Generator) -> None:
        self.cfg, self.style, self.rng = cfg, style, rng
        m = cfg.margin
        self.w, self.h = cfg.width + 2 * m, cfg.height + 2 * m
        self.shape = (self.h, self.w)
        self.frame = (m, m, m + cfg.width, m + cfg.height)
        self.area = cfg.width * cfg.height / (1024 * 576)
        self.small = min(cfg.width, cfg.height)
        self.ppm = style.px_per_m
        self.lw = 3.5 * self.ppm
        self.occ = np.zeros(self.shape, bool)
        self.uids = itertools.count(1)
        self.static: list[Placed] = []
        self.lanes: list[Lane] = []
        self.road_angles: list[float] = []
        self.shadow = (style.sun_dx, style.sun_dy, style.shadow_dark)
        self.sat = style.saturate
        # plans, painted later
        self.water_polys: list[np.ndarray] = []
        self.shore_polys: list[np.ndarray] = []
        self.water_lanes: list[tuple[Path, float]] = []
        self.highway: tuple[Path, float, float] | None = None
        self.secondary: list[tuple[Path, float]] = []
        self.apron: dict[str, object] | None = None
        self.lots: list[dict[str, object]] = []
        self.buildings: list[tuple[np.ndarray, float, str, tuple[float, float, float]]] = []
        self.piers: list[np.ndarray] = []

    # --- occupancy ----------------------------------------------------------------------------

    def _cov(self, polys: list[np.ndarray]) -> tuple[np.ndarray, tuple[int, int, int, int]]:
        return coverage(polys, self.shape)

    def free(self, polys: list[np.ndarray], mask: np.ndarray | None = None) -> bool:
        cov, (x0, y0, x1, y1) = self._cov(polys)
        if cov.size == 0:
            return False
        occ = self.occ if mask is None else mask
        return not occ[y0:y1, x0:x1][cov > 0.01].any()

    def take(self, polys: list[np.ndarray], mask: np.ndarray | None = None) -> None:
        cov, (x0, y0, x1, y1) = self._cov(polys)
        if cov.size:
            (self.occ if mask is None else mask)[y0:y1, x0:x1] |= cov > 0.01

    def wet(self, path: Path) -> float:
        """Share of the path's in-frame centreline that lies over water."""
        fx0, fy0, fx1, fy1 = self.frame
        p = path.points
        inside = (p[:, 0] >= fx0) & (p[:, 0] < fx1) & (p[:, 1] >= fy0) & (p[:, 1] < fy1)
        if not inside.any():
            return 1.0
        q = p[inside].astype(int)
        return float((self.water[q[:, 1], q[:, 0]] > 0.5).mean())

    def in_frame(self, x: float, y: float, inset: float = 0.0) -> bool:
        fx0, fy0, fx1, fy1 = self.frame
        return fx0 + inset <= x <= fx1 - inset and fy0 + inset <= y <= fy1 - inset

    def inside_world(self, poly: np.ndarray) -> bool:
        return bool(
            (poly[:, 0] >= 0).all()
            and (poly[:, 0] <= self.w).all()
            and (poly[:, 1] >= 0).all()
            and (poly[:, 1] <= self.h).all()
        )

    def random_point(self, inset: float = 0.0) -> tuple[float, float]:
        fx0, fy0, fx1, fy1 = self.frame
        return (
            float(self.rng.uniform(fx0 + inset, max(fx0 + inset + 1, fx1 - inset))),
            float(self.rng.uniform(fy0 + inset, max(fy0 + inset + 1, fy1 - inset))),
        )

    # --- plan ------------------------------------------------------------------------------------

    def plan_water(self) -> None:
        rng, h, w = self.rng, self.h, self.w
        if self.style.water == "coast":
            side = int(rng.integers(4))
            n_w = np.array([(0, -1), (1, 0), (0, 1), (-1, 0)][side], np.float64)
            dim = h if side in (0, 2) else w
            depth = max(48.0, rng.uniform(0.2, 0.3) * dim)
            centre = np.array([w / 2, h / 2]) + n_w * (dim / 2 - depth)
            angle = math.atan2(n_w[1], n_w[0]) + math.pi / 2 + rng.uniform(-0.2, 0.2)
            base = crossing_path(tuple(centre), angle, rng.uniform(-0.06, 0.06), (w, h), EXTEND)
            amp = rng.uniform(3, 8)
            shore = wiggle(base, rng, amp, (230, 90, 37))
            mid = base.tangent[len(base.s) // 2]
            sign = 1.0 if float(np.dot((-mid[1], mid[0]), n_w)) > 0 else -1.0
            big = 2.0 * max(w, h)
            poly = np.concatenate(
                [shore.points, [shore.points[-1] + n_w * big, shore.points[0] + n_w * big]]
            )
            self.water_polys.append(poly)
            self.shore_polys.append(shore.band(0, -sign * rng.uniform(3, 7)))
            self.coast = (base, sign, depth, amp)
            n_lanes = int(np.clip((depth - 30) // 30, 1, 3))
            for k in range(n_lanes):
                d = depth * (0.5 + 0.4 * (k + 0.5) / n_lanes)
                lane = base.offset(sign * d)
                self.water_lanes.append(
                    (lane if k % 2 == 0 else lane.reversed(), min(60.0, 0.9 * depth))
                )
        else:
            width = float(np.clip(rng.uniform(0.12, 0.18) * self.small, 30, 110))
            angle = rng.uniform(0, math.pi)
            cx, cy = self.random_point(0.3 * self.small)
            centre = crossing_path((cx, cy), angle, rng.uniform(-0.15, 0.15), (w, h), EXTEND)
            amp = rng.uniform(1.5, 3.5)
            left = wiggle(centre.offset(-width / 2), rng, amp, (170, 61))
            right = wiggle(centre.offset(width / 2), rng, amp, (190, 53))
            self.water_polys.append(np.concatenate([left.points, right.points[::-1]]))
            bank = rng.uniform(2.5, 5)
            self.shore_polys += [left.band(0, -bank), right.band(0, bank)]
            self.river = (centre, width, amp)
            self.road_angles.append(centre.mean_angle())
            max_len = float(min(44.0, 0.6 * width))
            self.water_lanes.append((centre.offset(width / 6), max_len))
            self.water_lanes.append((centre.offset(-width / 6).reversed(), max_len))
        self.water = world_coverage(self.water_polys, self.shape)
        self.occ |= self.water > 0.01
        self.take(self.shore_polys)

    def plan_highway(self) -> None:
        rng = self.rng
        best: tuple[float, Path] | None = None
        for _ in range(30):
            angle = rng.uniform(math.radians(18), math.radians(72))
            if rng.random() < 0.5:
                angle = math.pi - angle
            if hasattr(self, "river") and _angle_gap(
                angle, self.river[0].mean_angle()
            ) < math.radians(30):
                continue
            cx, cy = self.random_point(0.25 * self.small)
            path = crossing_path(
                (cx, cy), angle, rng.uniform(-0.08, 0.08), (self.w, self.h), EXTEND
            )
            wet = self.wet(path) if hasattr(self, "coast") else 0.0
            if best is None or wet < best[0]:
                best = (wet, path)
            if wet <= 0.1:
                break
        assert best is not None
        path = best[1]
        median = rng.uniform(2.5, 5.0)
        half = median / 2 + 2 * self.lw + 1.5
        deck_px = rng.uniform(6, 9) / self.style.gsd_m
        self.highway = (path, median, half)
        self.highway_deck = deck_px
        self.road_angles.append(path.mean_angle())
        sdx, sdy, _ = self.shadow
        band = path.band(-half, half)
        self.take([path.band(-half - 4, half + 4), band + (sdx * deck_px, sdy * deck_px)])

    def plan_apron(self) -> None:
        rng, st = self.rng, self.style
        cap = float(max(25.0, min(60.0, 0.3 * self.small)))

        def length() -> float:
            return float(np.clip(rng.uniform(28, 55) / st.gsd_m, 25.0, cap))

        n_st = int(rng.integers(2, 6))
        n_taxi = 1 + int(rng.random() < 0.4)
        options = [(n_st, n_taxi), (max(1, n_st - 2), 1), (2, 1), (1, 1), (1, 0), (2, 0)]
        for ns, nt in options:
            stands = [airplane(rng, length(), self.sat) for _ in range(ns)]
            taxi = [airplane(rng, length(), self.sat) for _ in range(nt)]
            pitch = max(p.width for p in stands) + rng.uniform(5, 10)
            lmax = max(p.length for p in stands)
            terminal = rng.uniform(9, 15)
            taxi_band = max((p.width for p in taxi), default=0.0) + 10 if taxi else 0.0
            depth = terminal + 3 + lmax + 4 + taxi_band + 4
            speed = rng.uniform(0.2, 0.6)
            run = min(speed * self.cfg.frames, 160.0)
            taxi_need = sum(p.length + 14 for p in taxi) + run + 8
            lu = max(ns * pitch + 12, taxi_need)
            for _ in range(40):
                angle = rng.uniform(0, math.pi)
                cx, cy = self.random_point(min(lu, depth) / 2)
                poly = _rot_rect(cx, cy, lu + 6, depth + 6, angle)
                if not self.inside_world(poly) or not self.free([poly]):
                    continue
                self.take([poly])
                self.apron = dict(
                    centre=(cx, cy),
                    angle=angle,
                    lu=lu,
                    depth=depth,
                    terminal=terminal,
                    stands=stands,
                    taxi=taxi,
                    pitch=pitch,
                    lmax=lmax,
                    taxi_band=taxi_band,
                    speed=speed,
                    poly=_rot_rect(cx, cy, lu, depth, angle),
                )
                return

    def plan_secondary(self) -> None:
        rng = self.rng
        n = 1 + int(rng.random() < (0.6 if self.area > 0.5 else 0.2))
        half = self.lw + 1.2
        roads = np.zeros(self.shape, bool)
        forbid = np.zeros(self.shape, bool)
        if self.apron is not None:
            self.take([self.apron["poly"]], forbid)  # type: ignore[list-item]
        first_angle = None
        for _ in range(n):
            for _ in range(40):
                if first_angle is None:
                    angle = rng.uniform(0, math.pi)
                    if _angle_gap(angle, self.road_angles[-1]) < math.radians(35):
                        continue
                else:
                    angle = first_angle + rng.uniform(-0.15, 0.15)
                cx, cy = self.random_point(0.1 * self.small)
                path = crossing_path(
                    (cx, cy), angle, rng.uniform(-0.15, 0.15), (self.w, self.h), EXTEND
                )
                if hasattr(self, "coast") and self.wet(path) > 0.15:
                    continue
                band = path.band(-half - 6, half + 6)
                if not self.free([band], forbid) or not self.free([band], roads):
                    continue
                self.take([band], roads)
                self.secondary.append((path, half))
                self.road_angles.append(path.mean_angle())
                first_angle = angle
                break
            if first_angle is None:
                break
        self.occ |= roads

    def plan_lots(self) -> None:
        rng = self.rng
        target = 95 * self.style.density * self.area
        placed = 0
        for _ in range(120):
            if placed >= target:
                break
            pitch = float(np.clip(2.0 * self.ppm + rng.uniform(2.2, 3.2), 6.0, 8.0))
            row = 5.7 * self.ppm
            aisle = max(6.5, 5.0 * self.ppm)
            n_slots = int(rng.integers(8, 24))
            n_double = int(rng.integers(1, 4))
            lu = n_slots * pitch + 4
            lv = aisle + n_double * (2 * row + aisle)
            if lu > 0.9 * self.cfg.width or lv > 0.9 * self.cfg.height:
                continue
            if self.road_angles and rng.random() < 0.65:
                angle = self.road_angles[int(rng.integers(len(self.road_angles)))] + (
                    math.pi / 2 if rng.random() < 0.3 else 0
                )
            else:
                angle = rng.uniform(0, math.pi)
            cx, cy = self.random_point(min(lu, lv) / 3)
            outer = _rot_rect(cx, cy, lu + 6, lv + 6, angle)
            if not self.inside_world(outer) or not self.free([outer]):
                continue
            self.take([outer])
            lot = dict(
                centre=(cx, cy),
                angle=angle,
                lu=lu,
                lv=lv,
                pitch=pitch,
                row=row,
                aisle=aisle,
                rows=[],
            )
            fill = rng.uniform(0.65, 0.95)
            for k in range(n_double):
                v0 = -lv / 2 + aisle + k * (2 * row + aisle)
                for r, facing in ((0, 1.0), (1, -1.0)):
                    vc = v0 + row * (r + 0.5)
                    lot["rows"].append((v0 + row * r, row))  # type: ignore[attr-defined]
                    for j in range(n_slots):
                        if rng.random() > fill:
                            continue
                        u = -lu / 2 + 2 + pitch * (j + 0.5) + rng.uniform(-0.35, 0.35)
                        shape = vehicle(
                            rng, self.ppm, "van" if rng.random() < 0.1 else "car", self.sat
                        )
                        nose = facing if rng.random() < 0.8 else -facing
                        heading = angle + nose * math.pi / 2 + rng.normal(0, 0.035)
                        c, s = math.cos(angle), math.sin(angle)
                        v = vc + rng.uniform(-0.4, 0.4)
                        self.add_static(shape, cx + u * c - v * s, cy + u * s + v * c, heading)
                        placed += 1
            self.lots.append(lot)

    def plan_buildings(self) -> None:
        rng = self.rng
        target = rng.uniform(0.08, 0.18) * self.cfg.width * self.cfg.height
        covered = 0.0
        kinds = ("flat", "gable")
        for _ in range(160):
            if covered >= target:
                break
            bw, bh = rng.uniform(40, 130), rng.uniform(30, 100)
            if self.road_angles and rng.random() < 0.5:
                angle = self.road_angles[int(rng.integers(len(self.road_angles)))]
            else:
                angle = rng.uniform(0, math.pi)
            cx, cy = self.random_point(0)
            heights = 3.0 / self.style.gsd_m, 11.0 / self.style.gsd_m
            grow = 2 * heights[1] * math.hypot(self.shadow[0], self.shadow[1]) + 4
            outer = _rot_rect(cx, cy, bw + grow, bh + grow, angle)
            if not self.free([outer]):
                continue
            self.take([_rot_rect(cx, cy, bw + 6, bh + 6, angle)])
            cell = rng.uniform(17, 32)
            nx, ny = max(1, round(bw / cell)), max(1, round(bh / cell))
            alley = rng.uniform(2.5, 5)
            cw, ch = bw / nx, bh / ny
            for i in range(nx):
                for j in range(ny):
                    if rng.random() < 0.12:
                        continue
                    u = -bw / 2 + cw * (i + 0.5)
                    v = -bh / 2 + ch * (j + 0.5)
                    fw = cw - alley - rng.uniform(0, 3)
                    fh = ch - alley - rng.uniform(0, 3)
                    if min(fw, fh) < 9 or fw * fh < 120:  # no car-sized roofs
                        continue
                    c, s = math.cos(angle), math.sin(angle)
                    poly = _rot_rect(cx + u * c - v * s, cy + u * s + v * c, fw, fh, angle)
                    colour = self.sat(
                        self.style.palette.roofs[int(rng.integers(len(self.style.palette.roofs)))]
                    )
                    kind = kinds[
                        int(
                            rng.random()
                            < (0.6 if self.style.palette.name in ("steppe", "winter") else 0.15)
                        )
                    ]
                    self.buildings.append((poly, float(rng.uniform(*heights)), kind, colour))
                    covered += fw * fh

    def plan_boats(self) -> None:
        rng = self.rng
        ok = (self.water > 0.999).astype(np.uint8)
        ok = cv2.erode(ok, np.ones((3, 3), np.uint8)).astype(bool)
        decks = [p.band(-hf - 4, hf + 4) for p, hf in self.secondary]
        if self.highway is not None:
            path, _, half = self.highway
            decks.append(path.band(-half - 5, half + 5))
            sdx, sdy, _ = self.shadow
            decks.append(
                path.band(-half - 2, half + 2) + (sdx * self.highway_deck, sdy * self.highway_deck)
            )
        blocked = np.zeros(self.shape, bool)
        for d in decks:
            self.take([d], blocked)
        for lane, max_len in self.water_lanes:
            # a moving ship's hull and shadow keep clear of moored boats (wakes may pass)
            corridor = 0.16 * max_len + 7
            self.take([lane.band(-corridor, corridor)], blocked)
        self.boat_ok = ok & ~blocked
        count = 0
        target = 16 * self.style.density * self.area

        def try_boat(length: float, x: float, y: float, heading: float) -> bool:
            shape = ship(rng, length, None, self.sat)
            polys = [place(p, x, y, heading) for p, _ in shape.parts[:1]]
            hl, hw = length / 2 + 1.5, shape.width / 2 + 1.5
            grown = [place(rect(-hl, hl, -hw, hw), x, y, heading)]
            if not self.in_frame(x, y, -10) or not self.free(polys, ~self.boat_ok):
                return False
            cov, (x0, y0, x1, y1) = self._cov(grown)
            self.boat_ok[y0:y1, x0:x1] &= ~(cov > 0.01)
            self.add_static(shape, x, y, heading)
            return True

        if hasattr(self, "coast"):
            base, sign, depth, amp = self.coast
            for _ in range(int(rng.integers(1, 3))):
                s = rng.uniform(0.2, 0.8) * base.length
                x, y, ang = base.at(s)
                nrm = np.array([-math.sin(ang), math.cos(ang)]) * sign
                pier_len = float(min(0.42 * depth, rng.uniform(35, 60)))
                start = np.array([x, y]) - nrm * (amp + 4)  # from a little inland
                end = start + nrm * (pier_len + amp + 4)
                along = np.array([-nrm[1], nrm[0]])  # across the pier
                pier = np.array(
                    [start + along * 1.3, end + along * 1.3, end - along * 1.3, start - along * 1.3]
                )
                if not self.free([pier], blocked):
                    continue
                self.piers.append(pier)
                cov, (x0, y0, x1, y1) = self._cov([pier])
                self.boat_ok[y0:y1, x0:x1] &= ~(cov > 0.01)
                d = amp + 10.0
                while d < pier_len + amp:
                    length = rng.uniform(10, 18)
                    for side in (-1, 1):
                        if rng.random() < 0.85:
                            p = start + nrm * d + along * side * (1.3 + 0.7 + length / 2)
                            heading = math.atan2(-side * along[1], -side * along[0])
                            count += try_boat(length, float(p[0]), float(p[1]), heading)
                    d += rng.uniform(5.5, 7.5)
            for _ in range(400):
                if count >= target:
                    break
                s = rng.uniform(0, base.length)
                x, y, ang = base.at(s)
                length = rng.uniform(10, 20) if rng.random() < 0.85 else rng.uniform(28, 55)
                dist = amp + 3 + rng.uniform(0, 0.2 * depth) + 0.15 * length
                nrm = np.array([-math.sin(ang), math.cos(ang)]) * sign
                heading = ang + (math.pi if rng.random() < 0.5 else 0)
                count += try_boat(length, x + nrm[0] * dist, y + nrm[1] * dist, heading)
        else:
            centre, width, amp = self.river
            if width >= 40:
                for _ in range(300):
                    if count >= target:
                        break
                    length = rng.uniform(10, 18)
                    side = 1 if rng.random() < 0.5 else -1
                    off = side * (width / 2 - amp - 2.5 - 0.12 * length)
                    x, y, ang = centre.at(rng.uniform(0, centre.length))
                    x, y = x - math.sin(ang) * off, y + math.cos(ang) * off
                    count += try_boat(length, x, y, ang + (math.pi if rng.random() < 0.5 else 0))

    # --- lanes -----------------------------------------------------------------------------------

    def add_lane(
        self,
        path: Path,
        level: int,
        spawn: Callable[[], tuple[Shape, float]],
        spacing: float,
        min_gap: float,
        accel: float,
        wake: float = 0.0,
    ) -> None:
        rng = self.rng
        loop = path.length * 1.3 + 60
        lane = Lane(path, level, loop, spawn, min_gap, accel, wake)
        s = rng.uniform(0, spacing)
        prev: Shape | None = None
        prev_s = 0.0
        while True:
            shape, v = spawn()
            if prev is not None:
                gap = rng.uniform(1, 14) if rng.random() < 0.4 else rng.exponential(spacing)
                s = prev_s + prev.length / 2 + min_gap + gap + shape.length / 2
            if s > loop - shape.length:
                break
            lane.movers.append(Mover(next(self.uids), shape, s, v, v))
            prev, prev_s = shape, s
        self.lanes.append(lane)

    def plan_traffic(self) -> None:
        rng, ppm, sat = self.rng, self.ppm, self.sat
        dens = self.style.density

        def spawner(lo: float, hi: float) -> Callable[[], tuple[Shape, float]]:
            base = rng.uniform(lo, hi)

            def spawn() -> tuple[Shape, float]:
                return vehicle(rng, ppm, None, sat), float(
                    np.clip(base * rng.uniform(0.85, 1.12), 0.5, 2.0)
                )

            return spawn

        if self.highway is not None:
            path, median, _ = self.highway
            for k in range(2):
                off = median / 2 + self.lw * (k + 0.5)
                for lane_path in (path.offset(off), path.offset(-off).reversed()):
                    self.add_lane(lane_path, 2, spawner(1.25, 1.9), 150 / dens, 2.5, 0.05)
        for path, _ in self.secondary:
            off = self.lw / 2
            for lane_path in (path.offset(off), path.offset(-off).reversed()):
                self.add_lane(lane_path, 1, spawner(0.55, 1.2), 120 / dens, 2.0, 0.04)
        for lane_path, max_len in self.water_lanes:

            def spawn_ship(max_len: float = max_len) -> tuple[Shape, float]:
                length = float(np.clip(rng.uniform(12, 60), 10, max_len))
                return ship(rng, length, None, sat), float(rng.uniform(0.3, 1.2))

            self.add_lane(lane_path, 0, spawn_ship, 260 / dens, 30.0, 0.02, wake=1.0)
        if self.apron is not None and self.apron["taxi"]:
            a = self.apron
            cx, cy = a["centre"]  # type: ignore[misc]
            ang, lu, depth, band = a["angle"], a["lu"], a["depth"], a["taxi_band"]  # type: ignore[misc]
            v = depth / 2 - 4 - band / 2  # type: ignore[operator]
            c, s = math.cos(ang), math.sin(ang)  # type: ignore[arg-type]
            ends = [
                np.array([cx + u * c - v * s, cy + u * s + v * c])
                for u in (-lu / 2 + 4, lu / 2 - 4)
            ]  # type: ignore[operator]
            if rng.random() < 0.5:
                ends = ends[::-1]
            taxi: list[Shape] = a["taxi"]  # type: ignore[assignment]
            lane = Lane(Path(np.stack(ends)), 0, math.inf, lambda: (taxi[0], 0.0), 14.0, 0.01)
            lane.hold = lane.path.length - taxi[0].length / 2
            lo = sum(p.length for p in taxi) + 14 * (len(taxi) - 1) - taxi[0].length / 2
            run = float(a["speed"]) * self.cfg.frames  # type: ignore[arg-type]
            pos = float(rng.uniform(lo, max(lo, lane.hold - run) + 1e-9))
            for k, p in enumerate(taxi):
                if k:
                    pos -= taxi[k - 1].length / 2 + 14 + p.length / 2
                lane.movers.append(
                    Mover(next(self.uids), p, pos, float(a["speed"]), float(a["speed"]))
                )  # type: ignore[arg-type]
            self.lanes.append(lane)

    def add_static(self, shape: Shape, x: float, y: float, heading: float) -> None:
        st = stamp(shape, x, y, heading, self.shadow)
        self.static.append(Placed(next(self.uids), shape, x, y, heading, st))

    def place_planes(self) -> None:
        if self.apron is None:
            return
        a = self.apron
        cx, cy = a["centre"]  # type: ignore[misc]
        ang, depth, terminal = a["angle"], a["depth"], a["terminal"]  # type: ignore[misc]
        stands: list[Shape] = a["stands"]  # type: ignore[assignment]
        c, s = math.cos(ang), math.sin(ang)  # type: ignore[arg-type]
        nose = -depth / 2 + terminal + 3  # type: ignore[operator]
        n = len(stands)
        a["stand_u"] = []
        for i, p in enumerate(stands):
            u = (i - (n - 1) / 2) * a["pitch"]  # type: ignore[operator]
            v = nose + p.length / 2
            a["stand_u"].append(u)  # type: ignore[attr-defined]
            self.add_static(p, cx + u * c - v * s, cy + u * s + v * c, ang - math.pi / 2)  # type: ignore[operator]

    # --- paint ------------------------------------------------------------------------------------

    def paint(self) -> tuple[np.ndarray, dict[int, np.ndarray]]:
        st, rng, pal = self.style, self.rng, self.style.palette
        img = paint_terrain(st, rng, self.h, self.w)
        self.paint_vegetation(img)
        # water: colour varies with a soft depth/turbidity field and faint wind streaks
        tint = fbm(rng, self.h, self.w, cell=160, octaves=3)
        water_rgb = np.array(self.sat(pal.water), np.float32) * (
            1 - tint[..., None] * 0.5
        ) + np.array(self.sat(pal.deep), np.float32) * (tint[..., None] * 0.5)
        streak = fbm(rng, self.h, self.w, cell=12, octaves=2)
        water_rgb *= (0.97 + 0.05 * streak)[..., None]
        blend(img, self.water, water_rgb)
        if self.shore_polys:
            cov = world_coverage(self.shore_polys, self.shape)
            blend(img, cov, self.sat(pal.shore))
        for pier in self.piers:
            m, box = self._cov([pier])
            blend_box(img, m, box, self.sat((150, 140, 124)))
        for lot in self.lots:
            self.paint_lot(img, lot)
        if self.apron is not None:
            self.paint_apron(img)
        self.paint_buildings(img)
        sdx, sdy, dark = self.shadow
        sec_cov = np.zeros(self.shape, np.float32)
        for path, half in self.secondary:
            band = path.band(-half, half)
            # bridge shadow on the water only
            m, box = self._cov([band + (sdx * 4 / st.gsd_m, sdy * 4 / st.gsd_m)])
            if m.size:
                x0, y0, x1, y1 = box
                m = m * self.water[y0:y1, x0:x1] * dark
                img[y0:y1, x0:x1] *= 1 - m[..., None]
            m, box = self._cov([band])
            if m.size:
                x0, y0, x1, y1 = box
                sec_cov[y0:y1, x0:x1] = np.maximum(sec_cov[y0:y1, x0:x1], m)
            if pal.name == "winter":
                m2, box2 = self._cov([path.band(-half - 2.2, -half), path.band(half, half + 2.2)])
                blend_box(img, m2 * 0.8, box2, (236, 238, 240))
            blend_box(img, m, box, self.sat(pal.road))
            self.paint_lines(img, path, [(-half + 0.6, None), (half - 0.6, None), (0.0, 7.0)], 0.35)
        hw_cov = np.zeros(self.shape, np.float32)
        if self.highway is not None:
            path, median, half = self.highway
            band = path.band(-half, half)
            m, box = self._cov([band + (sdx * self.highway_deck, sdy * self.highway_deck)])
            if m.size:
                x0, y0, x1, y1 = box
                img[y0:y1, x0:x1] *= 1 - (m * dark)[..., None]
            m, box = self._cov([band])
            x0, y0, x1, y1 = box
            hw_cov[y0:y1, x0:x1] = m
            blend_box(img, m, box, self.sat(pal.highway))
            mb, boxb = self._cov([path.band(-median / 2 + 0.4, median / 2 - 0.4)])
            blend_box(img, mb * 0.7, boxb, self.sat((178, 176, 170)))
            lines: list[tuple[float, float | None]] = []
            for sign in (-1, 1):
                lines += [
                    (sign * (median / 2 + 0.5), None),
                    (sign * (median / 2 + self.lw), 9.0),
                    (sign * (median / 2 + 2 * self.lw + 0.4), None),
                ]
            self.paint_lines(img, path, lines, 0.4)
            parapet, boxp = self._cov([path.band(-half, -half + 0.8), path.band(half - 0.8, half)])
            blend_box(img, parapet * 0.8, boxp, self.sat((196, 194, 188)))
        above = {0: np.maximum(sec_cov, hw_cov), 1: hw_cov}
        ground = np.clip(img + 0.5, 0, 255).astype(np.uint8)
        return ground, above

    def paint_lines(
        self, img: np.ndarray, path: Path, lines: list[tuple[float, float | None]], alpha: float
    ) -> None:
        """Thin markings at signed offsets; a number as second item makes them dashed."""
        polys = []
        for off, dash in lines:
            p = path.offset(off)
            if dash is None:
                polys.append(p.band(-0.22, 0.22))
                continue
            s = 0.0
            while s < p.length - dash:
                a, b = int(s), int(min(s + dash * 0.45, p.length - 1))
                seg = Path(p.points[a : b + 1]) if b > a else None
                if seg is not None and seg.length > 0.5:
                    polys.append(seg.band(-0.25, 0.25))
                s += dash
        if polys:
            m, box = self._cov(polys)
            blend_box(img, m * alpha, box, self.sat(self.style.palette.line))

    def paint_lot(self, img: np.ndarray, lot: dict[str, object]) -> None:
        cx, cy = lot["centre"]  # type: ignore[misc]
        ang, lu, lv, pitch = lot["angle"], lot["lu"], lot["lv"], lot["pitch"]  # type: ignore[misc]
        m, box = self._cov([_rot_rect(cx, cy, lu, lv, ang)])  # type: ignore[arg-type]
        colour = np.array(self.sat(self.style.palette.lot), np.float32) * self.rng.uniform(0.9, 1.1)
        blend_box(img, m, box, colour)
        c, s = math.cos(ang), math.sin(ang)  # type: ignore[arg-type]
        polys = []
        n_slots = int(round((lu - 4) / pitch))  # type: ignore[operator]
        for v0, row in lot["rows"]:  # type: ignore[attr-defined]
            for j in range(n_slots + 1):
                u = -lu / 2 + 2 + pitch * j  # type: ignore[operator]
                local = rect(u - 0.2, u + 0.2, v0 + 0.5, v0 + row - 0.5)
                polys.append(local @ np.array([[c, s], [-s, c]]) + (cx, cy))
        if polys:
            m, box = self._cov(polys)
            blend_box(img, m * 0.45, box, self.sat(self.style.palette.line))

    def paint_apron(self, img: np.ndarray) -> None:
        a = self.apron
        assert a is not None
        cx, cy = a["centre"]  # type: ignore[misc]
        ang, lu, depth, terminal = a["angle"], a["lu"], a["depth"], a["terminal"]  # type: ignore[misc]
        c, s = math.cos(ang), math.sin(ang)  # type: ignore[arg-type]
        rot = np.array([[c, s], [-s, c]])

        def world(local: np.ndarray) -> np.ndarray:
            return local @ rot + (cx, cy)

        concrete = world(rect(-lu / 2, lu / 2, -depth / 2 + terminal, depth / 2))  # type: ignore[operator]
        m, box = self._cov([concrete])
        apron_rgb = np.array(self.sat(self.style.palette.apron), np.float32)
        x0, y0, x1, y1 = box
        slabs = fbm(self.rng, y1 - y0, x1 - x0, cell=14, octaves=2)
        blend_box(
            img,
            m,
            box,
            np.broadcast_to(apron_rgb, (y1 - y0, x1 - x0, 3)) * (0.95 + 0.08 * slabs)[..., None],
        )
        yellow = self.sat((214, 176, 52))
        marks = []
        band = a["taxi_band"]
        if band:
            v = depth / 2 - 4 - band / 2  # type: ignore[operator]
            marks.append(world(rect(-lu / 2 + 2, lu / 2 - 2, v - 0.25, v + 0.25)))  # type: ignore[operator]
        nose = -depth / 2 + terminal + 3  # type: ignore[operator]
        for u in [(i - (len(a["stands"]) - 1) / 2) * a["pitch"] for i in range(len(a["stands"]))]:  # type: ignore[arg-type, operator]
            marks.append(world(rect(u - 0.25, u + 0.25, nose - 1, nose + a["lmax"] + 4)))  # type: ignore[operator]
        m, box = self._cov(marks)
        blend_box(img, m * 0.6, box, yellow)
        # terminal building along the apron's near edge, with its shadow and skylights
        term = world(rect(-0.45 * lu, 0.45 * lu, -depth / 2, -depth / 2 + terminal))  # type: ignore[operator]
        sdx, sdy, dark = self.shadow
        hpx = 10 / self.style.gsd_m
        m, box = self._cov([term + (sdx * hpx, sdy * hpx)])
        if m.size:
            x0, y0, x1, y1 = box
            img[y0:y1, x0:x1] *= 1 - (m * dark * 0.8)[..., None]
        m, box = self._cov([term])
        blend_box(img, m, box, self.sat((196, 198, 202)))
        lights = [
            world(rect(u - 1, u + 1, -depth / 2 + 2, -depth / 2 + terminal - 2))
            for u in np.arange(-0.42 * lu, 0.42 * lu, 7)
        ]  # type: ignore[operator]
        if lights:
            m, box = self._cov(lights)
            blend_box(img, m * 0.5, box, (120, 132, 146))

    def paint_buildings(self, img: np.ndarray) -> None:
        if not self.buildings:
            return
        sdx, sdy, dark = self.shadow
        shadows = []
        for poly, height, _, _ in self.buildings:
            # the cast shadow: the footprint swept along the sun direction
            off = np.array([sdx, sdy]) * height
            shadows.append(
                cv2.convexHull(np.concatenate([poly, poly + off]).astype(np.float32))
                .reshape(-1, 2)
                .astype(np.float64)
            )
        m, box = self._cov(shadows)
        x0, y0, x1, y1 = box
        img[y0:y1, x0:x1] *= 1 - (m * dark)[..., None]
        rng = self.rng
        for poly, _, kind, colour in self.buildings:
            m, box = self._cov([poly])
            blend_box(img, m, box, colour)
            centre = poly.mean(axis=0)
            if kind == "gable":
                e0, e1 = poly[1] - poly[0], poly[2] - poly[1]
                long_axis = e0 if np.hypot(*e0) >= np.hypot(*e1) else e1
                n = np.array([-long_axis[1], long_axis[0]]) / max(1e-9, np.hypot(*long_axis))
                lit = 1.0 + 0.14 * np.sign(-(n[0] * sdx + n[1] * sdy))
                half = np.array([p for p in poly if np.dot(p - centre, n) >= -1e-6])
                if len(half) >= 2:
                    ridge = [centre - long_axis / 2, centre + long_axis / 2]
                    quad = (
                        cv2.convexHull(np.concatenate([half, ridge]).astype(np.float32))
                        .reshape(-1, 2)
                        .astype(np.float64)
                    )
                    m2, box2 = self._cov([quad])
                    blend_box(img, m2, box2, tuple(min(255.0, c * lit) for c in colour))
                    other = (
                        cv2.convexHull(
                            np.concatenate(
                                [[p for p in poly if np.dot(p - centre, n) <= 1e-6], ridge]
                            ).astype(np.float32)
                        )
                        .reshape(-1, 2)
                        .astype(np.float64)
                    )
                    m3, box3 = self._cov([other])
                    blend_box(img, m3, box3, tuple(min(255.0, c * (2 - lit)) for c in colour))
            else:
                inner = centre + (poly - centre) * 0.86
                m2, box2 = self._cov([inner])
                blend_box(img, m2 * 0.5, box2, tuple(c * 0.9 for c in colour))
                for _ in range(int(rng.integers(0, 4))):
                    t = rng.uniform(0.2, 0.8, 2)
                    p = poly[0] + (poly[1] - poly[0]) * t[0] + (poly[3] - poly[0]) * t[1]
                    size = rng.uniform(1.2, 2.8)
                    unit = rect(-size / 2, size / 2, -size / 2, size / 2) + p
                    m3, box3 = self._cov([unit])
                    blend_box(
                        img, m3, box3, (232, 232, 230) if rng.random() < 0.5 else (70, 72, 76)
                    )

    def paint_vegetation(self, img: np.ndarray) -> None:
        rng, st = self.rng, self.style
        name = st.palette.name
        rate = {"arid": 1.2e-3, "winter": 1.0e-3, "steppe": 1.0e-3, "basalt": 0.6e-3}[name]
        n = int(rate * self.h * self.w)
        if name == "arid":
            pts = np.stack([rng.uniform(0, self.w, n), rng.uniform(0, self.h, n)], 1)
            radii = rng.uniform(0.6, 1.3, n)
        else:
            k = max(1, n // 40)
            centres = np.stack([rng.uniform(0, self.w, k), rng.uniform(0, self.h, k)], 1)
            pts = centres[rng.integers(0, k, n)] + rng.normal(0, 1, (n, 2)) * rng.uniform(
                5, 22, (n, 1)
            )
            radii = rng.uniform(0.9, 2.3, n)
        keep = (pts[:, 0] >= 0) & (pts[:, 0] < self.w) & (pts[:, 1] >= 0) & (pts[:, 1] < self.h)
        pts, radii = pts[keep], radii[keep]
        yi, xi = pts[:, 1].astype(int), pts[:, 0].astype(int)
        free = ~self.occ[yi, xi] & (self.water[yi, xi] < 0.01)
        pts, radii = pts[free], radii[free]
        crown = np.zeros(self.shape, np.uint8)
        shade = np.zeros(self.shape, np.uint8)
        sdx, sdy, dark = self.shadow
        for (x, y), r in zip(pts, radii, strict=True):
            hgt = r * 1.6
            cv2.circle(
                shade,
                (int((x + sdx * hgt) * 16), int((y + sdy * hgt) * 16)),
                int(r * 16),
                255,
                -1,
                cv2.LINE_AA,
                4,
            )
            cv2.circle(crown, (int(x * 16), int(y * 16)), int(r * 16), 255, -1, cv2.LINE_AA, 4)
        # no vegetation may reach into the land uses planned so far (lots, apron, roads)
        crown[self.occ] = 0
        shade[self.occ] = 0
        img *= (1 - shade.astype(np.float32) / 255 * dark * 0.9)[..., None]
        tone = 0.85 + 0.3 * fbm(rng, self.h, self.w, cell=30, octaves=2)
        colour = np.array(self.sat(st.palette.vegetation), np.float32) * tone[..., None]
        blend(img, crown.astype(np.float32) / 255, colour)


def build_scene(cfg: HeldoutConfig, style: Style, rng: np.random.Generator) -> Scene:
    b = _Builder(cfg, style, rng)
    b.plan_water()
    b.plan_highway()
    b.plan_apron()
    b.plan_secondary()
    b.place_planes()
    b.plan_lots()
    b.plan_buildings()
    b.plan_boats()
    b.plan_traffic()
    ground, above = b.paint()
    base = ground.copy()
    for p in b.static:
        composite(base, p.stamp)
    moored = [
        place(p.shape.parts[0][0], p.x, p.y, p.heading) for p in b.static if p.shape.cls == "ship"
    ]
    boats = cv2.dilate(world_coverage(moored, b.shape), np.ones((3, 3), np.uint8))
    wake_mask = b.water * (1.0 - boats)
    return Scene(ground, base, b.static, b.lanes, above, b.shadow, b.water, wake_mask)
