"""Objects of the held-out family seen from above: vehicles, boats/ships, airplanes.

A `Shape` is a list of coloured polygons in local pixels (x forward, y to the right, centred
on the object). `stamp` poses it in the world and renders it 4x supersampled into a small
patch (fillPoly), with its cast shadow and, for moving ships, a wake; the patch is
area-averaged down, and composited premultiplied. The gt box is the tight box of the posed
polygons, i.e. of the drawn footprint; the shadow and wake are not part of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from tgram.heldout.geometry import SS, ellipse, fill, place, rect

RGB = tuple[float, float, float]


@dataclass(frozen=True)
class Shape:
    cls: str
    """airplane, ship or vehicle."""
    parts: tuple[tuple[np.ndarray, RGB], ...]
    """(local polygon, colour) painted in order; their union is the footprint."""
    length: float
    width: float
    height: float
    """Height above ground in px: the length of its shadow at a 45 degree sun."""


@dataclass
class Stamp:
    """One object rendered at one pose."""

    x0: int
    y0: int
    rgba: np.ndarray
    """float32 [h, w, 4]: premultiplied colour and alpha (shadow and wake included)."""
    body: np.ndarray
    """float32 [h, w]: coverage of the object itself (for visibility)."""
    box: tuple[float, float, float, float]
    """Tight world box x1, y1, x2, y2 of the drawn footprint."""


def stamp(
    shape: Shape,
    x: float,
    y: float,
    heading: float,
    shadow: tuple[float, float, float],
    wake: float = 0.0,
    wake_mask: np.ndarray | None = None,
) -> Stamp:
    """Render `shape` centred at world (x, y), facing `heading`.

    `shadow` is (dx, dy, darkness) per px of object height; `wake` > 0 draws a V wake of that
    relative length behind the stern, shown only where the world map `wake_mask` (coverage of
    open water) allows.
    """
    polys = [place(p, x, y, heading) for p, _ in shape.parts]
    pts = np.concatenate(polys)
    box = (
        float(pts[:, 0].min()),
        float(pts[:, 1].min()),
        float(pts[:, 0].max()),
        float(pts[:, 1].max()),
    )
    sdx, sdy, dark = shadow
    offset = np.array([sdx, sdy]) * shape.height
    wake_parts = _wake(shape, wake, x, y, heading) if wake > 0 else []
    extra = [p for p, _ in wake_parts]
    shadow_polys = [p + offset for p in polys] if shape.height > 0 and dark > 0 else []
    every = np.concatenate([pts, *extra, *shadow_polys]) if (extra or shadow_polys) else pts
    x0 = int(math.floor(every[:, 0].min())) - 1
    y0 = int(math.floor(every[:, 1].min())) - 1
    x1 = int(math.ceil(every[:, 0].max())) + 1
    y1 = int(math.ceil(every[:, 1].max())) + 1
    w, h = x1 - x0, y1 - y0
    fine = np.zeros((h * SS, w * SS, 4), np.uint8)
    body = np.zeros((h * SS, w * SS), np.uint8)
    if shadow_polys:
        fill(fine, shadow_polys, (x0, y0), (0, 0, 0, 255 * dark))
    for poly, (_, colour) in zip(polys, shape.parts, strict=True):
        fill(fine, [poly], (x0, y0), (*colour, 255))
        fill(body, [poly], (x0, y0), 255)
    small = cv2.resize(fine, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)
    small[..., 3] *= 1.0 / 255.0
    if wake_parts:
        trail = np.zeros((h * SS, w * SS, 4), np.uint8)
        for poly, a in wake_parts:
            fill(trail, [poly], (x0, y0), (236 * a, 240 * a, 240 * a, 255 * a))
        under = cv2.resize(trail, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)
        under[..., 3] *= 1.0 / 255.0
        if wake_mask is not None:
            under *= window(wake_mask, x0, y0, w, h)[..., None]
        small += under * (1.0 - small[..., 3:4])  # the ship, its shadow, then its wake below
    cover = cv2.resize(body, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) * (
        1.0 / 255.0
    )
    return Stamp(x0, y0, small, cover, box)


KELVIN = math.tan(math.radians(19.5))
"""Half-angle of a ship's wake (the Kelvin wedge)."""


def _wake(
    shape: Shape, strength: float, x: float, y: float, heading: float
) -> list[tuple[np.ndarray, float]]:
    """(world polygon, opacity) of a V wake: two thin arms along the Kelvin wedge and a
    turbulent strip behind the stern, each fading in steps with distance."""
    hl, hw = shape.length / 2, shape.width / 2
    arm = shape.length * 1.2 * strength
    parts = []
    steps = 4
    for j in range(steps):
        t0, t1 = j / steps, (j + 1) / steps
        fade = 1 - t0
        for side in (-1, 1):
            xa, xb = -hl * 0.6 - t0 * arm, -hl * 0.6 - t1 * arm
            ya, yb = side * (hw * 0.8 + t0 * arm * KELVIN), side * (hw * 0.8 + t1 * arm * KELVIN)
            wa, wb = 0.5 + 1.2 * t0, 0.5 + 1.2 * t1
            quad = np.array(
                [
                    (xa, ya - side * wa / 2),
                    (xb, yb - side * wb / 2),
                    (xb, yb + side * wb / 2),
                    (xa, ya + side * wa / 2),
                ]
            )
            parts.append((place(quad, x, y, heading), 0.32 * fade))
        strip = rect(
            -hl - t1 * arm * 0.6,
            -hl + 0.5 - t0 * arm * 0.6,
            -hw * (0.55 + 0.3 * t0),
            hw * (0.55 + 0.3 * t0),
        )
        parts.append((place(strip, x, y, heading), 0.22 * fade))
    return parts


def window(img: np.ndarray, x0: int, y0: int, w: int, h: int) -> np.ndarray:
    """img[y0:y0+h, x0:x0+w] with zeros where the window leaves the image."""
    out = np.zeros((h, w), img.dtype)
    height, width = img.shape[:2]
    ax0, ay0, ax1, ay1 = max(0, x0), max(0, y0), min(width, x0 + w), min(height, y0 + h)
    if ax1 > ax0 and ay1 > ay0:
        out[ay0 - y0 : ay1 - y0, ax0 - x0 : ax1 - x0] = img[ay0:ay1, ax0:ax1]
    return out


def composite(canvas: np.ndarray, st: Stamp) -> tuple[int, int, int, int] | None:
    """Blend a stamp onto a uint8 RGB canvas; returns the canvas box it touched (or None)."""
    h, w = canvas.shape[:2]
    ph, pw = st.rgba.shape[:2]
    cx0, cy0 = max(0, st.x0), max(0, st.y0)
    cx1, cy1 = min(w, st.x0 + pw), min(h, st.y0 + ph)
    if cx1 <= cx0 or cy1 <= cy0:
        return None
    patch = st.rgba[cy0 - st.y0 : cy1 - st.y0, cx0 - st.x0 : cx1 - st.x0]
    region = canvas[cy0:cy1, cx0:cx1]
    out = region.astype(np.float32) * (1.0 - patch[..., 3:4]) + patch[..., :3]
    np.clip(out + 0.5, 0, 255, out=out)
    region[...] = out.astype(np.uint8)
    return cx0, cy0, cx1, cy1


# --- colours ----------------------------------------------------------------------------------

_CAR_COLOURS: tuple[tuple[RGB, float], ...] = (
    ((236, 236, 232), 0.26),  # white
    ((186, 188, 192), 0.17),  # silver
    ((128, 130, 134), 0.10),  # grey
    ((30, 30, 34), 0.19),  # black
    ((38, 46, 72), 0.05),  # navy
    ((168, 36, 32), 0.07),  # red
    ((44, 78, 156), 0.05),  # blue
    ((212, 182, 48), 0.03),  # yellow
    ((46, 84, 56), 0.03),  # green
    ((182, 164, 128), 0.05),  # beige
)
_GLASS: RGB = (34, 40, 50)


def _pick(rng: np.random.Generator, table: tuple[tuple[RGB, float], ...]) -> RGB:
    p = np.array([w for _, w in table])
    c = table[rng.choice(len(table), p=p / p.sum())][0]
    k = rng.uniform(0.92, 1.06)
    return tuple(float(min(255, v * k)) for v in c)  # type: ignore[return-value]


def _scale(c: RGB, k: float) -> RGB:
    return tuple(float(min(255.0, max(0.0, v * k))) for v in c)  # type: ignore[return-value]


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return tuple(float(x * (1 - t) + y * t) for x, y in zip(a, b, strict=True))  # type: ignore[return-value]


# --- vehicles -----------------------------------------------------------------------------------


def _chamfered(hl: float, hw: float, front: float, rear: float) -> np.ndarray:
    return np.array(
        [
            (hl, -hw + front),
            (hl, hw - front),
            (hl - front, hw),
            (-hl + rear, hw),
            (-hl, hw - rear),
            (-hl, -hw + rear),
            (-hl + rear, -hw),
            (hl - front, -hw),
        ]
    )


def vehicle(
    rng: np.random.Generator, px_per_m: float, kind: str | None = None, saturate=None
) -> Shape:
    """A car, van, truck or bus; `px_per_m` turns its size in metres into pixels."""
    if kind is None:
        kind = str(rng.choice(["car", "van", "truck", "bus"], p=[0.82, 0.1, 0.06, 0.02]))
    sat = saturate or (lambda c: c)
    if kind == "car":
        length, width = rng.uniform(4.0, 5.0) * px_per_m, rng.uniform(1.8, 2.2) * px_per_m
        paint = sat(_pick(rng, _CAR_COLOURS))
        hl, hw = length / 2, width / 2
        roof = _scale(paint, rng.uniform(0.88, 1.08))
        glass = sat(_mix(_GLASS, paint, 0.15))
        parts = [
            (_chamfered(hl, hw, min(0.26 * width, 0.13 * length), 0.16 * width), paint),
            (
                np.array(
                    [
                        (0.22 * hl, -0.8 * hw),
                        (0.52 * hl, -0.66 * hw),
                        (0.52 * hl, 0.66 * hw),
                        (0.22 * hl, 0.8 * hw),
                    ]
                ),
                glass,
            ),
            (rect(-0.46 * hl, 0.22 * hl, -0.76 * hw, 0.76 * hw), roof),
            (rect(-0.7 * hl, -0.46 * hl, -0.7 * hw, 0.7 * hw), glass),
        ]
        return Shape("vehicle", tuple(parts), length, width, 1.4 * px_per_m)
    if kind == "van":
        length, width = rng.uniform(5.0, 6.2) * px_per_m, rng.uniform(2.0, 2.3) * px_per_m
        paint = sat(_pick(rng, _CAR_COLOURS[:4] + _CAR_COLOURS[5:7]))
        hl, hw = length / 2, width / 2
        parts = [
            (_chamfered(hl, hw, 0.2 * width, 0.08 * width), paint),
            (
                np.array(
                    [
                        (0.6 * hl, -0.82 * hw),
                        (0.78 * hl, -0.7 * hw),
                        (0.78 * hl, 0.7 * hw),
                        (0.6 * hl, 0.82 * hw),
                    ]
                ),
                sat(_GLASS),
            ),
            (rect(-0.9 * hl, 0.58 * hl, -0.82 * hw, 0.82 * hw), _scale(paint, 1.05)),
        ]
        return Shape("vehicle", tuple(parts), length, width, 2.2 * px_per_m)
    if kind == "bus":
        length, width = rng.uniform(10.5, 13.0) * px_per_m, 2.5 * px_per_m
        paint = sat(
            _pick(rng, (((238, 238, 234), 0.6), ((214, 180, 40), 0.2), ((170, 40, 36), 0.2)))
        )
        hl, hw = length / 2, width / 2
        parts = [
            (_chamfered(hl, hw, 0.12 * width, 0.08 * width), paint),
            (rect(0.1 * hl, 0.3 * hl, -0.45 * hw, 0.45 * hw), (150, 152, 156)),
            (rect(-0.6 * hl, -0.4 * hl, -0.45 * hw, 0.45 * hw), (150, 152, 156)),
            (rect(0.86 * hl, 0.97 * hl, -0.8 * hw, 0.8 * hw), sat(_GLASS)),
        ]
        return Shape("vehicle", tuple(parts), length, width, 3.0 * px_per_m)
    # truck: cab and a box or container trailer, with a gap between them
    length, width = rng.uniform(9.0, 16.0) * px_per_m, rng.uniform(2.4, 2.6) * px_per_m
    hl, hw = length / 2, width / 2
    cab_len = min(2.4 * px_per_m, 0.3 * length)
    cab = sat(_pick(rng, _CAR_COLOURS))
    cargo = sat(
        _pick(
            rng,
            (
                ((226, 226, 222), 0.4),
                ((150, 64, 44), 0.15),
                ((44, 88, 140), 0.15),
                ((70, 118, 74), 0.1),
                ((190, 170, 120), 0.2),
            ),
        )
    )
    gap = 0.35 * px_per_m
    cw = hw * 0.94
    parts = [
        (np.array([(hl, -cw + 0.3), (hl, cw - 0.3), (hl - cab_len, cw), (hl - cab_len, -cw)]), cab),
        (rect(hl - 0.8 * cab_len, hl - 0.15 * cab_len, -cw * 0.85, cw * 0.85), _scale(cab, 1.08)),
        (rect(-hl, hl - cab_len - gap, -hw, hw), cargo),
    ]
    return Shape("vehicle", tuple(parts), length, width, 3.5 * px_per_m)


# --- ships ---------------------------------------------------------------------------------------


def _hull(hl: float, hb: float, bow: float, stern_round: float) -> np.ndarray:
    """Hull outline: transom stern, parallel sides, a bow that narrows to a point."""
    xb = hl - bow
    pts = [(-hl, -hb + stern_round), (-hl + stern_round, -hb), (xb, -hb)]
    for t in (0.35, 0.65, 0.88):
        pts.append((xb + bow * t, -hb * (1 - t**1.6)))
    pts.append((hl, 0.0))
    for t in (0.88, 0.65, 0.35):
        pts.append((xb + bow * t, hb * (1 - t**1.6)))
    pts += [(xb, hb), (-hl + stern_round, hb), (-hl, hb - stern_round)]
    return np.array(pts)


def ship(rng: np.random.Generator, length: float, kind: str | None = None, saturate=None) -> Shape:
    """A boat or ship of `length` px: yacht, fishing boat, tug, barge, container ship, tanker."""
    sat = saturate or (lambda c: c)
    if kind is None:
        if length < 20:
            kind = str(rng.choice(["yacht", "fishing", "tug"], p=[0.55, 0.3, 0.15]))
        elif length < 34:
            kind = str(rng.choice(["fishing", "tug", "barge", "cargo"], p=[0.35, 0.15, 0.3, 0.2]))
        else:
            kind = str(rng.choice(["barge", "cargo", "tanker"], p=[0.25, 0.45, 0.3]))
    hl = length / 2
    white: RGB = (238, 238, 236)
    if kind == "yacht":
        hb = length * rng.uniform(0.16, 0.2)
        hull = _hull(hl, hb, length * 0.38, hb * 0.4)
        parts = [
            (hull, sat(_scale(white, rng.uniform(0.95, 1.02)))),
            (rect(-0.35 * hl, 0.25 * hl, -0.6 * hb, 0.6 * hb), sat((150, 172, 190))),
            (rect(-0.8 * hl, -0.45 * hl, -0.6 * hb, 0.6 * hb), sat((150, 120, 90))),
        ]
        return Shape("ship", tuple(parts), length, 2 * hb, 1.5)
    if kind == "fishing":
        hb = length * rng.uniform(0.17, 0.22)
        paint = sat(
            _pick(
                rng,
                (
                    ((40, 70, 140), 0.3),
                    ((160, 40, 36), 0.3),
                    ((40, 110, 80), 0.2),
                    ((220, 220, 214), 0.2),
                ),
            )
        )
        hull = _hull(hl, hb, length * 0.3, hb * 0.35)
        parts = [
            (hull, paint),
            (rect(-0.75 * hl, 0.55 * hl, -0.7 * hb, 0.7 * hb), sat((120, 110, 96))),
            (rect(-0.55 * hl, -0.1 * hl, -0.62 * hb, 0.62 * hb), white),
        ]
        return Shape("ship", tuple(parts), length, 2 * hb, 2.0)
    if kind == "tug":
        hb = length * rng.uniform(0.22, 0.27)
        hull = _hull(hl, hb, length * 0.3, hb * 0.6)
        parts = [
            (hull, sat(_pick(rng, (((30, 30, 34), 0.5), ((150, 36, 32), 0.5))))),
            (rect(-0.3 * hl, 0.4 * hl, -0.62 * hb, 0.62 * hb), white),
            (rect(-0.1 * hl, 0.15 * hl, -0.25 * hb, 0.25 * hb), sat((200, 150, 40))),
        ]
        return Shape("ship", tuple(parts), length, 2 * hb, 2.5)
    if kind == "barge":
        hb = length * rng.uniform(0.12, 0.16)
        hull = _hull(hl, hb, length * 0.08, hb * 0.2)
        rust = sat(_pick(rng, (((92, 62, 46), 0.5), ((70, 70, 74), 0.5))))
        parts = [
            (hull, rust),
            (
                rect(-0.88 * hl, 0.8 * hl, -0.7 * hb, 0.7 * hb),
                sat(_pick(rng, (((176, 150, 110), 0.5), ((60, 56, 52), 0.5)))),
            ),
        ]
        return Shape("ship", tuple(parts), length, 2 * hb, 1.5)
    if kind == "tanker":
        hb = length * rng.uniform(0.13, 0.16)
        hull = _hull(hl, hb, length * 0.2, hb * 0.3)
        deck = sat(_pick(rng, (((140, 58, 46), 0.5), ((70, 110, 78), 0.3), ((150, 150, 146), 0.2))))
        parts = [
            (hull, sat((34, 34, 40))),
            (_hull(hl * 0.94, hb * 0.82, length * 0.18, hb * 0.25), deck),
            (rect(-0.6 * hl, 0.7 * hl, -0.08 * hb, 0.08 * hb), (210, 210, 206)),
            (rect(-0.92 * hl, -0.7 * hl, -0.75 * hb, 0.75 * hb), white),
        ]
        return Shape("ship", tuple(parts), length, 2 * hb, 4.0)
    # container/general cargo
    hb = length * rng.uniform(0.12, 0.15)
    hull = _hull(hl, hb, length * 0.2, hb * 0.3)
    parts = [
        (hull, sat(_pick(rng, (((30, 32, 40), 0.4), ((110, 34, 34), 0.3), ((34, 58, 100), 0.3)))))
    ]
    x = -0.66 * hl
    bay = max(1.6, length * 0.06)
    while x + bay < 0.62 * hl:
        if rng.random() < 0.85:
            c = sat(
                _pick(
                    rng,
                    (
                        ((170, 60, 44), 1),
                        ((60, 100, 150), 1),
                        ((210, 210, 204), 1),
                        ((70, 120, 70), 1),
                        ((200, 150, 50), 1),
                        ((110, 110, 116), 1),
                    ),
                )
            )
            parts.append((rect(x, x + bay - 0.3, -0.78 * hb, 0.78 * hb), c))
        x += bay
    parts.append((rect(-0.94 * hl, -0.72 * hl, -0.8 * hb, 0.8 * hb), white))
    return Shape("ship", tuple(parts), length, 2 * hb, 4.0)


# --- airplanes ------------------------------------------------------------------------------------


def airplane(rng: np.random.Generator, length: float, saturate=None) -> Shape:
    """An airliner of `length` px: swept wings, tailplane, nacelles, a livery tail fin."""
    sat = saturate or (lambda c: c)
    hl = length / 2
    span = length * rng.uniform(0.88, 1.08)
    hs = span / 2
    fw = length * rng.uniform(0.05, 0.06)  # half fuselage width
    sweep = math.radians(rng.uniform(22, 32))
    body = sat(_pick(rng, (((240, 240, 238), 0.7), ((214, 216, 220), 0.2), ((200, 206, 214), 0.1))))
    wing = sat(_scale((196, 198, 202), rng.uniform(0.92, 1.04)))
    livery = sat(
        _pick(
            rng,
            (
                ((170, 30, 36), 1),
                ((30, 60, 140), 1),
                ((30, 110, 90), 1),
                ((220, 120, 30), 1),
                ((90, 40, 110), 1),
                ((230, 230, 228), 0.7),
            ),
        )
    )
    # fuselage: a rounded nose, a parallel body, a tapering tail cone
    xs = np.array(
        [
            hl,
            hl - 0.25 * fw,
            hl - 0.8 * fw,
            hl - 1.8 * fw,
            hl - 3.2 * fw,
            -0.2 * hl,
            -0.72 * hl,
            -hl,
        ]
    )
    ws = np.array([0.0, 0.45, 0.78, 0.95, 1.0, 1.0, 0.62, 0.22]) * fw
    fuselage = np.concatenate([np.stack([xs, -ws], 1), np.stack([xs[::-1], ws[::-1]], 1)])
    root_le = 0.16 * length
    root_c = 0.22 * length
    tip_c = 0.06 * length
    tip_le = root_le - (hs - fw) * math.tan(sweep)
    wings = [
        np.array(
            [
                (root_le, side * fw),
                (tip_le, side * hs),
                (tip_le - tip_c, side * hs),
                (root_le - root_c, side * fw),
            ]
        )
        for side in (-1, 1)
    ]
    ths = 0.18 * length
    t_le = -0.62 * hl
    tails = [
        np.array(
            [
                (t_le, side * fw * 0.7),
                (t_le - ths * math.tan(sweep) * 1.1, side * ths),
                (t_le - ths * math.tan(sweep) * 1.1 - 0.045 * length, side * ths),
                (t_le - 0.12 * length, side * fw * 0.5),
            ]
        )
        for side in (-1, 1)
    ]
    engines = []
    n_eng = 4 if length > 48 and rng.random() < 0.3 else 2
    ys = (0.36,) if n_eng == 2 else (0.3, 0.62)
    for f in ys:
        for side in (-1, 1):
            y = side * (fw + (hs - fw) * f)
            x_le = root_le - (abs(y) - fw) * math.tan(sweep)
            engines.append(ellipse(x_le + 0.02 * length, y, 0.06 * length, 0.028 * length, 10))
    fin = rect(-hl + 0.01 * length, -0.6 * hl, -0.35 * fw, 0.35 * fw)
    parts = [(w, wing) for w in wings] + [(t, wing) for t in tails]
    parts += [(e, (120, 122, 128)) for e in engines]
    parts += [(fuselage, body), (fin, livery)]
    return Shape("airplane", tuple(parts), length, span, 4.0 + 0.06 * length)
