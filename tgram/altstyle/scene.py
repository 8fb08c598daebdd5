"""A video's world: a street grid at the video's angle, its blocks, a waterfront and an apron.

Built once per video at world size (frame plus margin). Everything that does not move is
painted into the world image here, parked vehicles, moored ships and parked airplanes
included, so each frame is a sub-pixel window of it; movers are paths (`Path`) that the
video draws per frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import pairwise

import cv2
import numpy as np

from tgram.altstyle.look import Look
from tgram.altstyle.shapes import Design, airplane, draw, paint, shadow, ship, vehicle

LANE_M = 3.5
SIDEWALK_M = 1.5
SLOT_W_M, SLOT_D_M, AISLE_M = 2.6, 5.4, 6.5


@dataclass(frozen=True)
class Placed:
    """A static object: design and pose in world px."""

    design: Design
    x: float
    y: float
    heading: float


@dataclass
class Path:
    """Straight-line movers: a start, a unit direction, the usable length (world px) and the
    speed (px/frame); every mover is at `s0 + speed * t` modulo the length, and each wrap
    makes it a new object."""

    start: np.ndarray
    direction: np.ndarray
    length: float
    speed: float
    movers: list[tuple[Design, float]] = field(default_factory=list)
    """(design, arc position at frame 0)."""


@dataclass(frozen=True)
class Shore:
    """A straight shore: water where a point's projection on `normal` exceeds `level`."""

    normal: np.ndarray
    level: float

    def is_water(self, p: np.ndarray) -> bool:
        return float(np.asarray(p) @ self.normal) > self.level

    @property
    def tangent(self) -> np.ndarray:
        """Unit direction along the shore."""
        return np.array([-self.normal[1], self.normal[0]])


@dataclass
class World:
    image: np.ndarray
    """float32 [H, W, 3] RGB, the static scene."""
    statics: list[Placed]
    paths: list[Path]


def _noise(rng: np.random.Generator, h: int, w: int, scales: tuple[int, ...]) -> np.ndarray:
    """Fractal value noise in about [-1, 1]: random grids at several scales, bicubic-upsampled."""
    out = np.zeros((h, w), np.float32)
    total = 0.0
    for i, cell in enumerate(scales):
        grid = rng.standard_normal((h // cell + 3, w // cell + 3)).astype(np.float32)
        up = cv2.resize(
            grid, ((w // cell + 3) * cell, (h // cell + 3) * cell), interpolation=cv2.INTER_CUBIC
        )
        amp = 0.6**i
        out += amp * up[cell : cell + h, cell : cell + w]
        total += amp
    return out / (total * 1.2)


class _Grid:
    """Map grid coordinates (u along the streets of one family, v across) to world px."""

    def __init__(self, centre: tuple[float, float], angle: float) -> None:
        self.c = np.asarray(centre, float)
        self.u = np.array([math.cos(angle), math.sin(angle)])
        self.v = np.array([-math.sin(angle), math.cos(angle)])

    def to_world(self, uv: np.ndarray) -> np.ndarray:
        uv = np.asarray(uv, float).reshape(-1, 2)
        return self.c + uv[:, :1] * self.u + uv[:, 1:] * self.v

    def rect(self, u0: float, u1: float, v0: float, v1: float) -> np.ndarray:
        return self.to_world([[u0, v0], [u1, v0], [u1, v1], [u0, v1]])


def _clip_line(p: np.ndarray, d: np.ndarray, w: float, h: float) -> tuple[float, float] | None:
    """Parameter interval of the line p + s d inside the box [0, w] x [0, h]."""
    lo, hi = -math.inf, math.inf
    for k, size in ((0, w), (1, h)):
        if abs(d[k]) < 1e-9:
            if not 0 <= p[k] <= size:
                return None
            continue
        a, b = (0 - p[k]) / d[k], (size - p[k]) / d[k]
        lo, hi = max(lo, min(a, b)), min(hi, max(a, b))
    return (lo, hi) if hi > lo else None


def build_world(width: int, height: int, look: Look, rng: np.random.Generator) -> World:
    gsd = look.gsd_m
    px = 1.0 / gsd
    image = np.empty((height, width, 3), np.float32)
    image[:] = look.ground[0]
    grid = _Grid((width / 2, height / 2), look.grid_angle)
    reach = math.hypot(width, height) / 2 + 40 * px

    def streets() -> list[tuple[float, int]]:
        """(centre line, lanes) of one street family across the world."""
        spacing = float(rng.uniform(55, 115)) * px
        first = -reach + float(rng.uniform(0, spacing))
        out = []
        for i in range(int(2 * reach / spacing) + 1):
            out.append((first + i * spacing, 4 if rng.random() < 0.25 else 2))
        return out

    along_u, along_v = streets(), streets()  # along_u: streets running along u, placed in v

    def half_width(lanes: int) -> float:
        return (lanes * LANE_M / 2 + SIDEWALK_M) * px

    # blocks between the streets
    statics: list[Placed] = []
    apron: tuple[float, float, float, float] | None = None
    blocks = []
    for (va, la), (vb, lb) in pairwise(along_u):
        for (ua, ka), (ub, kb) in pairwise(along_v):
            blocks.append(
                (ua + half_width(ka), ub - half_width(kb), va + half_width(la), vb - half_width(lb))
            )
    centre_blocks = [
        b
        for b in blocks
        if _inside(grid.to_world([[(b[0] + b[1]) / 2, (b[2] + b[3]) / 2]])[0], width, height)
    ]
    if centre_blocks and rng.random() < 0.35:
        apron = centre_blocks[int(rng.integers(len(centre_blocks)))]
    for block in blocks:
        corners = grid.rect(*block)
        if not _overlaps(corners, width, height):
            continue
        if block == apron:
            paint(image, corners, (float(rng.uniform(165, 200)),) * 3)
            statics += _apron(image, grid, block, look, rng)
            continue
        kind = rng.choice(4, p=[0.15, 0.45, 0.24, 0.16])
        if kind == 0:
            statics += _parking(image, grid, block, look, rng)
        elif kind == 1:
            _buildings(image, grid, block, look, rng)
        elif kind == 2:
            paint(image, corners, look.ground[0])
            _trees(image, grid, block, look, rng)
        else:
            paint(image, corners, look.ground[int(rng.choice([1, 3]))])

    # streets over the block edges, with faint lane marks
    paths: list[Path] = []
    for family, axis in ((along_u, 0), (along_v, 1)):
        for pos, lanes in family:
            hw = half_width(lanes)
            if axis == 0:
                road, dirv = (
                    grid.rect(
                        -reach, reach, pos - hw + SIDEWALK_M * px, pos + hw - SIDEWALK_M * px
                    ),
                    grid.u,
                )
            else:
                road, dirv = (
                    grid.rect(
                        pos - hw + SIDEWALK_M * px, pos + hw - SIDEWALK_M * px, -reach, reach
                    ),
                    grid.v,
                )
            kerb = (
                grid.rect(-reach, reach, pos - hw, pos + hw)
                if axis == 0
                else grid.rect(pos - hw, pos + hw, -reach, reach)
            )
            paint(image, kerb, look.ground[2])
            paint(image, road, look.asphalt)
            for k in range(lanes):
                offset = (k - lanes / 2 + 0.5) * LANE_M * px
                centre = grid.to_world(
                    [[0.0, pos + offset]] if axis == 0 else [[pos + offset, 0.0]]
                )[0]
                forward = 1.0 if k >= lanes / 2 else -1.0  # right-hand traffic
                paths.append(_lane(centre, dirv * forward, width, height, look, rng))
            mark = (235.0, 235.0, 228.0)
            for k in range(1, lanes):
                offset = (k - lanes / 2) * LANE_M * px
                a = grid.to_world(
                    [[-reach, pos + offset], [reach, pos + offset]]
                    if axis == 0
                    else [[pos + offset, -reach], [pos + offset, reach]]
                )
                n = np.array([-dirv[1], dirv[0]]) * 0.075 * px
                paint(image, np.array([a[0] - n, a[1] - n, a[1] + n, a[0] + n]), mark, 0.35)

    water = _water(image, width, height, look, rng)
    statics = [s for s in statics if water is None or not water.is_water(np.array([s.x, s.y]))]
    paths = [p for p in (_cut(p, water) for p in paths) if p is not None]
    texture = _noise(rng, height, width, (64, 16, 4))
    image *= 1.0 + 0.06 * texture[..., None]
    if water is not None:
        statics += _moored(water, width, height, look, rng)
        paths += _sailing(water, width, height, look, rng)
    for s in statics:
        draw(image, s.design, s.x, s.y, s.heading, gsd, look.sun, look.shadow_per_m)
    return World(image, statics, paths)


def _inside(p: np.ndarray, w: float, h: float) -> bool:
    return 0 <= p[0] <= w and 0 <= p[1] <= h


def _overlaps(corners: np.ndarray, w: float, h: float) -> bool:
    return (
        corners[:, 0].max() > 0
        and corners[:, 1].max() > 0
        and corners[:, 0].min() < w
        and corners[:, 1].min() < h
    )


def _lane(
    centre: np.ndarray, d: np.ndarray, w: int, h: int, look: Look, rng: np.random.Generator
) -> Path:
    """A lane's path clipped to the world, with traffic at a per-lane speed and exponential
    gaps; a fifth of the lanes hold a queue standing at a light instead."""
    span = _clip_line(centre, d, w, h)
    if span is None:
        return Path(centre, d, 0.0, 0.0)
    start = centre + d * span[0]
    length = span[1] - span[0]
    px = 1.0 / look.gsd_m
    queue = rng.random() < 0.2
    speed = 0.0 if queue else float(rng.uniform(5, 16)) * px / 10.0
    path = Path(start, d, length, speed)
    mean_gap = (1.5 if queue else 45.0) / look.traffic
    s = float(rng.uniform(0, length)) if queue else float(rng.uniform(0, mean_gap)) * px
    end = min(length, s + float(rng.uniform(15, 70)) * px) if queue else length
    while s < end:
        design = vehicle(rng)
        path.movers.append((design, s))
        s += (design.length_m + 1.5 + float(rng.exponential(mean_gap))) * px
    return path


def _cut(path: Path, water: Shore | None) -> Path | None:
    """The land part of a lane before the shore (lanes are straight, the shore is a line)."""
    if path.length <= 0:
        return None
    if water is None:
        return path
    ss = np.linspace(0, path.length, 64)
    dry = np.array([not water.is_water(path.start + path.direction * s) for s in ss])
    if not dry.any():
        return None
    first, last = ss[np.argmax(dry)], ss[len(dry) - 1 - np.argmax(dry[::-1])]
    path.start = path.start + path.direction * first
    path.length = float(last - first)
    path.movers = [(d, s - first) for d, s in path.movers if first <= s <= last]
    return path


def _parking(image, grid: _Grid, block, look: Look, rng) -> list[Placed]:
    """A paved lot in part of the block: one or two pairs of slot rows facing an aisle,
    filled at a per-lot occupancy."""
    u0, u1, v0, v1 = block
    px = 1.0 / look.gsd_m
    paint(image, grid.rect(u0, u1, v0, v1), look.ground[2])
    u1 = u0 + (u1 - u0) * float(rng.uniform(0.4, 1.0))
    v1 = min(v1, v0 + (2.0 + (2 * SLOT_D_M + AISLE_M) * int(rng.integers(1, 3))) * px)
    pave = tuple(min(255.0, c * float(rng.uniform(1.0, 1.25))) for c in look.asphalt)
    paint(image, grid.rect(u0, u1, v0, v1), pave)
    fill = min(1.0, float(rng.uniform(0.25, 0.85)) * look.traffic)
    out: list[Placed] = []
    line = (225.0, 225.0, 220.0)
    v = v0 + 1.0 * px
    row = 0
    while v + SLOT_D_M * px <= v1 - 1.0 * px:
        u = u0 + 1.5 * px
        while u + SLOT_W_M * px <= u1 - 1.5 * px:
            edge = grid.rect(u - 0.06 * px, u + 0.06 * px, v, v + SLOT_D_M * px)
            paint(image, edge, line, 0.3)
            if rng.random() < fill:
                design = vehicle(rng)
                if design.length_m < SLOT_D_M + 0.5:
                    cu = u + SLOT_W_M * px / 2 + float(rng.normal(0, 0.12)) * px
                    cv = v + SLOT_D_M * px / 2 + float(rng.normal(0, 0.2)) * px
                    x, y = grid.to_world([[cu, cv]])[0]
                    base = math.atan2(grid.v[1], grid.v[0]) + (
                        math.pi if rng.random() < 0.5 else 0.0
                    )
                    out.append(Placed(design, x, y, base + float(rng.normal(0, 0.04))))
            u += SLOT_W_M * px
        v += SLOT_D_M * px + (AISLE_M * px if row % 2 else 0.0)
        row += 1
    return out


def _buildings(image, grid: _Grid, block, look: Look, rng) -> None:
    """One to four buildings per block, with cast shadows and rooftop plant (which, like real
    air-conditioning units, looks like small vehicles)."""
    u0, u1, v0, v1 = block
    px = 1.0 / look.gsd_m
    paint(image, grid.rect(u0, u1, v0, v1), look.ground[2])
    n = int(rng.integers(1, 5))
    cuts = np.sort(rng.uniform(u0, u1, n - 1)) if n > 1 else np.array([])
    edges = [u0, *cuts.tolist(), u1]
    for a, b in pairwise(edges):
        sa, sb = a + 3 * px, b - 3 * px
        ta, tb = v0 + float(rng.uniform(2, 6)) * px, v1 - float(rng.uniform(2, 6)) * px
        if sb - sa < 6 * px or tb - ta < 6 * px:
            continue
        roof = grid.rect(sa, sb, ta, tb)
        height = float(rng.uniform(4, 30))
        shadow(image, roof, np.asarray(look.sun) * height * look.shadow_per_m, 0.5)
        colour = look.roofs[int(rng.integers(len(look.roofs)))]
        paint(image, roof, colour)
        for _ in range(int(rng.integers(0, 5))):
            su, sv = float(rng.uniform(1.2, 3.0)), float(rng.uniform(1.2, 2.4))
            cu, cv = (
                float(rng.uniform(sa + su * px, sb - su * px)),
                float(rng.uniform(ta + sv * px, tb - sv * px)),
            )
            paint(
                image,
                grid.rect(cu - su * px / 2, cu + su * px / 2, cv - sv * px / 2, cv + sv * px / 2),
                (float(rng.uniform(150, 230)),) * 3,
            )


def _trees(image, grid: _Grid, block, look: Look, rng) -> None:
    u0, u1, v0, v1 = block
    px = 1.0 / look.gsd_m
    area = (u1 - u0) * (v1 - v0) / (px * px)
    crown = tuple(c * 0.55 for c in look.ground[0])
    for _ in range(int(area / 80)):
        x, y = grid.to_world([[rng.uniform(u0, u1), rng.uniform(v0, v1)]])[0]
        r = float(rng.uniform(1.5, 4.5)) * px
        ang = np.linspace(0, 2 * math.pi, 12, endpoint=False)
        circle = np.stack([x + r * np.cos(ang), y + r * np.sin(ang)], 1)
        paint(image, circle + np.asarray(look.sun) * r, (0.0, 0.0, 0.0), 0.35)
        paint(image, circle, crown)


def _water(image, w: int, h: int, look: Look, rng) -> Shore | None:
    """With probability 0.45 a straight shore with a quay; water covers 20-40 % of the world."""
    if rng.random() >= 0.45:
        return None
    theta = float(rng.uniform(0, 2 * math.pi))
    n = np.array([math.cos(theta), math.sin(theta)])
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], float)
    proj = corners @ n
    level = float(np.quantile(np.linspace(proj.min(), proj.max(), 101), 1 - rng.uniform(0.2, 0.4)))
    shore = Shore(n, level)
    t = shore.tangent
    far = math.hypot(w, h)
    base = n * level
    poly = np.array(
        [base - t * far, base + t * far, base + t * far + n * far, base - t * far + n * far]
    )
    quay = 5.0 / look.gsd_m
    paint(
        image,
        np.array(
            [base - t * far - n * quay, base + t * far - n * quay, base + t * far, base - t * far]
        ),
        (float(rng.uniform(150, 190)),) * 3,
    )
    paint(image, poly, look.water)
    return shore


def _moored(water: Shore, w: int, h: int, look: Look, rng) -> list[Placed]:
    """Ships side by side along the quay, bows all one way."""
    n, level, t = water.normal, water.level, water.tangent
    px = 1.0 / look.gsd_m
    out: list[Placed] = []
    span = _clip_line(n * level, t, w, h)
    if span is None:
        return out
    s = span[0] + float(rng.uniform(0, 20)) * px
    heading = math.atan2(t[1], t[0]) + (math.pi if rng.random() < 0.5 else 0.0)
    while s < span[1]:
        design = ship(rng)
        beam = design.length_m * 0.12
        if rng.random() < 0.7:
            p = n * level + t * (s + design.length_m * px / 2) + n * (beam + 0.8) * px
            out.append(Placed(design, float(p[0]), float(p[1]), heading))
        s += (design.length_m + float(rng.uniform(4, 40))) * px
    return out


def _sailing(water: Shore, w: int, h: int, look: Look, rng) -> list[Path]:
    """One to four ships under way, parallel to the shore give or take 15 degrees."""
    n, level, t = water.normal, water.level, water.tangent
    px = 1.0 / look.gsd_m
    out: list[Path] = []
    for _ in range(int(rng.integers(1, 5))):
        design = ship(rng)
        depth = (design.length_m * 0.5 + float(rng.uniform(15, 90))) * px
        a = float(rng.normal(0, 0.25))
        d = t * math.cos(a) + n * math.sin(a) * 0.3
        d /= np.linalg.norm(d)
        if rng.random() < 0.5:
            d = -d
        origin = n * (level + depth)
        span = _clip_line(origin, d, w, h)
        if span is None:
            continue
        speed = float(rng.uniform(2, 7)) * px / 10.0
        path = Path(origin + d * span[0], d, span[1] - span[0], speed)
        path.movers.append((design, float(rng.uniform(0, span[1] - span[0]))))
        out.append(path)
    return out


def _apron(image, grid: _Grid, block, look: Look, rng) -> list[Placed]:
    """Airplanes parked nose-in along one edge of the apron."""
    u0, u1, v0, v1 = block
    px = 1.0 / look.gsd_m
    out: list[Placed] = []
    u = u0 + float(rng.uniform(2, 10)) * px
    while True:
        design = airplane(rng)
        half = design.length_m * 0.55 * px
        if u + 2 * half > u1 or v0 + 2 * half > v1:
            break
        x, y = grid.to_world([[u + half, v0 + half + 2 * px]])[0]
        heading = math.atan2(-grid.v[1], -grid.v[0])
        out.append(Placed(design, float(x), float(y), heading + float(rng.normal(0, 0.02))))
        u += 2 * half + float(rng.uniform(3, 15)) * px
    return out
