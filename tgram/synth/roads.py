"""The urban road grid: its layout, its lanes and crossings for traffic, and its paint."""

from __future__ import annotations

import numpy as np

from tgram.synth.painter import Painter
from tgram.synth.world import (
    CROSSWALK_DEPTH,
    LANE_WIDTH,
    SIDEWALK_WIDTH,
    Crossing,
    Lane,
    Road,
    Scene,
    Side,
    Turn,
)

ROAD_SPACING = (110.0, 200.0)
"""Distance between parallel roads of the urban grid (a city block plus its roads)."""


def _road_positions(
    rng: np.random.Generator,
    lo: float,
    hi: float,
    lo_internal: bool,
    hi_internal: bool,
    k: float = 1.0,
    road_spacing: tuple[float, float] = ROAD_SPACING,
) -> list[tuple[float, int]]:
    """Centres and lanes-per-direction of parallel roads between `lo` and `hi`.

    An internal side (facing water or the apron) gets a boundary road, so no road dead-ends.
    Sizes are legacy pixels times `k`.
    """
    spacing = (road_spacing[0] * k, road_spacing[1] * k)

    def lanes() -> int:
        return 2 if rng.random() < 0.4 else 1

    def half(n: int) -> float:
        return (n * LANE_WIDTH + SIDEWALK_WIDTH) * k

    roads: list[tuple[float, int]] = []
    if lo_internal:
        n = lanes()
        roads.append((lo + half(n) + 2 * k, n))
    position = roads[-1][0] if roads else lo - rng.uniform(0.2, 0.8) * spacing[0]
    last_lanes = lanes()
    last = hi - half(last_lanes) - 2 * k
    while True:
        position += rng.uniform(*spacing)
        if position > (last - spacing[0] / 2 if hi_internal else hi):
            break
        roads.append((position, lanes()))
    if hi_internal:
        roads.append((last, last_lanes))
    return roads


def layout_roads(
    rng: np.random.Generator,
    scene: Scene,
    urban: tuple[float, float, float, float],
    internal: set[Side],
    world: tuple[int, int],
    road_spacing: tuple[float, float] = ROAD_SPACING,
) -> None:
    """The urban grid: roads reaching a frame edge run past it; others end at a boundary road."""
    x0, y0, x1, y1 = urban
    overhang = 30.0
    k = scene.scale
    lane_width = LANE_WIDTH * k
    verticals = _road_positions(
        rng, x0, x1, "left" in internal, "right" in internal, k, road_spacing
    )
    horizontals = _road_positions(
        rng, y0, y1, "top" in internal, "bottom" in internal, k, road_spacing
    )

    def span(
        world_size: int, cross: list[tuple[float, int]], lo_side: Side, hi_side: Side
    ) -> tuple[float, float]:
        start = (
            cross[0][0] - cross[0][1] * lane_width if lo_side in internal and cross else -overhang
        )
        end = (
            cross[-1][0] + cross[-1][1] * lane_width
            if hi_side in internal and cross
            else world_size + overhang
        )
        return start, end

    v_span = span(world[1], horizontals, "top", "bottom")
    h_span = span(world[0], verticals, "left", "right")
    scene.roads = [Road(1, c, *v_span, n, lane_width) for c, n in verticals] + [
        Road(0, c, *h_span, n, lane_width) for c, n in horizontals
    ]
    _build_lanes(scene, world)


def _build_lanes(scene: Scene, world: tuple[int, int]) -> None:
    """Lanes of every road (right-hand traffic), and for each lane its crossings."""
    g = scene.scale
    lanes: list[Lane] = []
    for index, road in enumerate(scene.roads):
        limit = world[road.axis]
        for sign in (1, -1):
            d = (float(sign), 0.0) if road.axis == 0 else (0.0, float(sign))
            right = (-d[1], d[0])
            along = road.start if sign == 1 else road.end
            base = (along, road.centre) if road.axis == 0 else (road.centre, along)
            for k in range(road.lanes):
                offset = (k + 0.5) * road.lane_width
                lanes.append(
                    Lane(
                        index,
                        (base[0] + right[0] * offset, base[1] + right[1] * offset),
                        d,
                        road.end - road.start,
                        rank=k,
                        curb=k == road.lanes - 1,
                        enters=road.start < 0 if sign == 1 else road.end > limit,
                        exits=road.end > limit if sign == 1 else road.start < 0,
                    )
                )
    scene.lanes = lanes
    light_ids: dict[tuple[int, int], int] = {}
    for lane in lanes:
        road = scene.roads[lane.road]
        axis = road.axis
        found = []
        for other_index, other in enumerate(scene.roads):
            if other.axis == axis or not other.start <= road.centre <= other.end:
                continue
            s_centre = lane.direction[axis] * (other.centre - lane.origin[axis])
            if not 0 < s_centre < lane.length:
                continue
            right_dir = (-lane.direction[1], lane.direction[0])
            found.append(
                Crossing(
                    road=other_index,
                    light=light_ids.setdefault(
                        (min(lane.road, other_index), max(lane.road, other_index)), len(light_ids)
                    ),
                    s_stop=s_centre - other.half_width - CROSSWALK_DEPTH * g - 1 * g,
                    s_exit=s_centre + other.half_width,
                    straight=lane.length - s_centre > other.half_width + 10 * g,
                    right=_turn(lanes, lane, other_index, right_dir, curb=True, k=g)
                    if lane.curb
                    else None,
                    left=_turn(
                        lanes, lane, other_index, (-right_dir[0], -right_dir[1]), curb=False, k=g
                    )
                    if lane.rank == 0
                    else None,
                )
            )
        scene.crossings.append(sorted(found, key=lambda c: c.s_stop))
    scene.lights = len(light_ids)


def _turn(
    lanes: list[Lane],
    lane: Lane,
    road: int,
    direction: tuple[float, float],
    curb: bool,
    k: float = 1.0,
) -> Turn | None:
    """The turn from `lane` onto `road` heading `direction`, into its curb lane (a right turn)
    or its inner lane (a left turn), if that lane goes on long enough after the turn."""
    axis = 0 if lane.direction[1] == 0 else 1
    for index, target in enumerate(lanes):
        wanted = target.curb if curb else target.rank == 0
        if target.road != road or target.direction != direction or not wanted:
            continue
        s_from = (target.origin[axis] - lane.origin[axis]) * lane.direction[axis]
        s_to = (lane.origin[1 - axis] - target.origin[1 - axis]) * target.direction[1 - axis]
        if 0 <= s_to <= target.length - 15 * k and 0 < s_from < lane.length:
            return Turn(index, s_from, s_to)
    return None


# --- painting: roads and blocks --------------------------------------------------------------


def _road_rect(road: Road, half: float) -> tuple[float, float, float, float]:
    if road.axis == 0:
        return road.start, road.centre - half, road.end, road.centre + half
    return road.centre - half, road.start, road.centre + half, road.end


def paint_roads(p: Painter, scene: Scene) -> None:
    sidewalk = SIDEWALK_WIDTH * p.k
    for road in scene.roads:
        p.fill(_road_rect(road, road.half_width + sidewalk), p.pal.pavement, grain=4.0, blotch=5.0)
    for road in scene.roads:
        p.fill(_road_rect(road, road.half_width), p.pal.asphalt, grain=3.0, blotch=3.0)
    for road in scene.roads:
        _mark_road(p, road)
    for h in scene.roads:
        for v in scene.roads:
            if (
                h.axis == 0
                and v.axis == 1
                and v.start <= h.centre <= v.end
                and h.start <= v.centre <= h.end
            ):
                _paint_intersection(p, h, v)


def along(road: Road, t: float, offset: float) -> tuple[float, float]:
    """World point `t` along a road, `offset` across it."""
    return (t, road.centre + offset) if road.axis == 0 else (road.centre + offset, t)


def _mark_road(p: Painter, road: Road) -> None:
    """Centre line and dashed lane dividers (faint at 1 m/px, as in real imagery)."""
    p.mark(p.yellow_marks, along(road, road.start, 0.0), along(road, road.end, 0.0))
    for k in range(1, road.lanes):
        for offset in (-k * road.lane_width, k * road.lane_width):
            for t in np.arange(road.start, road.end, 8.0 * p.k):
                p.mark(p.white_marks, along(road, t, offset), along(road, t + 3.0 * p.k, offset))


def _paint_intersection(p: Painter, h: Road, v: Road) -> None:
    """Clear the box of lane marks; zebra crossings and stop lines on every approach."""
    box = p.clip(
        (
            v.centre - v.half_width,
            h.centre - h.half_width,
            v.centre + v.half_width,
            h.centre + h.half_width,
        )
    )
    if box is None:
        return
    x0, y0, x1, y1 = box
    k = p.k
    p.fill(box, p.pal.asphalt, grain=3.0, blotch=3.0)
    p.white_marks[y0:y1, x0:x1] = 0
    p.yellow_marks[y0:y1, x0:x1] = 0
    for road, cross in ((h, v), (v, h)):
        for sign in (-1, 1):
            edge = cross.centre + sign * cross.half_width
            if not road.start < edge + sign * 2 * k < road.end:
                continue
            near, far = edge + sign * k, edge + sign * CROSSWALK_DEPTH * k
            zone = p.clip(
                (
                    *along(road, min(near, far), -road.half_width),
                    *along(road, max(near, far) + 1 * k, road.half_width),
                )
            )
            if zone is not None:
                p.yellow_marks[zone[1] : zone[3], zone[0] : zone[2]] = 0
            # zebra stripes: finer than a pixel apart they would only repaint the same pixels
            stripes = max(2.0 * k, 1.0)
            for t in np.arange(-road.half_width + 1.5 * k, road.half_width - 1 * k, stripes):
                p.mark(p.white_marks, along(road, near, t), along(road, far, t))
            stop = far + sign * 1.5 * k
            # approaching traffic drives on its right: for sign -1 (coming from lower t) the +offset side
            approach = (
                (0.0, road.half_width)
                if (sign < 0) == (road.axis == 0)
                else (-road.half_width, 0.0)
            )
            p.mark(p.white_marks, along(road, stop, approach[0]), along(road, stop, approach[1]))
