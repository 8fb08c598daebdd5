"""One held-out video (`HeldoutVideo`) and the archive writer (`generate_heldout_archive`).

A video's scene and background are built once; its movers' trajectories are simulated once
(car-following on lanes, ships on channels, airplanes taxiing on the apron), so any frame can
be rendered on its own: the base canvas, the movers level by level with the decks repasted
over those they pass under, then the platform window and the sensor (tgram.heldout.camera).

Ground truth per frame: every object (static or moving) whose drawn footprint reaches into
the frame; the box is the tight box of its posed polygons shifted by the platform offset and
clipped to the frame (amodal under decks, as MOTChallenge); visibility is the share of its
drawn coverage inside the frame and not under a deck. Objects with nothing visible get no
row. Ids are 1-based: static objects first, then movers in order of first entering the world;
a mover that leaves and comes back is a new object with a new id.

Motion truth: the meta's "platform_shift_px" is the platform offsets as an image shift since
frame 0, and `speed_truth` gives each gt row's ground speed from the movers' simulated world
positions (static objects: 0), written to speeds/<id>.csv (tgram.data.formats).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path as FilePath

import numpy as np

from tgram.classes import gt_class_id
from tgram.data.formats import GT_DTYPE, POSITION_DTYPE, speed_truth
from tgram.data.rendered import Progress, imaginary_meta, write_rendered_archive
from tgram.heldout.camera import Sensor
from tgram.heldout.config import HeldoutConfig
from tgram.heldout.objects import Shape, Stamp, composite, stamp, window
from tgram.heldout.scene import Lane, Scene, build_scene
from tgram.heldout.style import Style, draw_style

_SALT = 0x4E1D0
"""Mixed into every seed, so a held-out seed never replays another generator's stream."""
CRS = "EPSG:32633"
"""A fixed, fake UTM zone: the scenes are imaginary places."""

Track = tuple[int, int, Shape, float, float]
"""(lane index, gt id, shape, arc length, speed) of one mover in one frame."""


class HeldoutVideo:
    def __init__(self, cfg: HeldoutConfig, index: int) -> None:
        self.cfg, self.index = cfg, index
        self.video_id = f"heldout_{index:04d}"
        root = np.random.SeedSequence([cfg.seed, index, _SALT])
        s_style, s_scene, s_camera, s_meta = root.spawn(4)
        self.style: Style = draw_style(cfg, np.random.default_rng(s_style))
        self.scene: Scene = build_scene(cfg, self.style, np.random.default_rng(s_scene))
        self.sensor = Sensor(cfg, self.style, np.random.default_rng(s_camera))
        self.meta = heldout_meta(
            cfg, self.video_id, self.style, np.random.default_rng(s_meta), self.sensor.offsets
        )
        self.static_ids = list(range(1, len(self.scene.static) + 1))
        # each frame's movers, and every object's world position in every frame it is in the
        # world (POSITION_DTYPE rows, for the speed truth)
        self.tracks, self.positions = self._simulate()
        self._plain: np.ndarray | None = None

    def speed_truth(self, gt: np.ndarray) -> np.ndarray:
        """SPEED_DTYPE rows of `gt` (rows this video rendered): true ground speeds, m/s."""
        return speed_truth(gt, self.positions, self.style.gsd_m, self.cfg.fps)

    # --- motion ------------------------------------------------------------------------------

    def _simulate(self) -> tuple[list[list[Track]], np.ndarray]:
        """Each frame's movers in the world, and the objects' world positions."""
        sc = self.scene
        h, w = sc.ground.shape[:2]
        ids: dict[tuple[int, int], int] = {}
        next_id = len(sc.static) + 1
        out: list[list[Track]] = []
        # (frame, mover, x, y) wherever a mover is on its path, also just outside the world,
        # so the central differences at the world's edge see both neighbours
        where: list[tuple[int, tuple[int, int], float, float]] = []
        for t in range(self.cfg.frames):
            frame: list[Track] = []
            for li, lane in enumerate(sc.lanes):
                for m in lane.movers:
                    if m.s > lane.path.length:
                        continue
                    x, y, _ = lane.path.at(m.s)
                    where.append((t, (m.uid, m.generation), x, y))
                    r = m.shape.length / 2 + 2
                    if not (-r <= x <= w + r and -r <= y <= h + r):
                        continue
                    key = (m.uid, m.generation)
                    if key not in ids:
                        ids[key] = next_id
                        next_id += 1
                    frame.append((li, ids[key], m.shape, m.s, m.v))
            out.append(frame)
            for lane in sc.lanes:
                _step(lane)
        return out, self._positions(where, ids)

    def _positions(
        self,
        where: list[tuple[int, tuple[int, int], float, float]],
        ids: dict[tuple[int, int], int],
    ) -> np.ndarray:
        """POSITION_DTYPE rows: static objects in every frame, movers wherever they got an id."""
        frames = self.cfg.frames
        static = [
            (t, gid, p.x, p.y)
            for gid, p in zip(self.static_ids, self.scene.static, strict=True)
            for t in range(frames)
        ]
        moving = [(t, ids[key], x, y) for t, key, x, y in where if key in ids]
        return np.array(static + moving, POSITION_DTYPE)

    # --- frames ------------------------------------------------------------------------------

    def frames(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(RGB uint8 frame, GT_DTYPE rows) for every frame in order."""
        for t in range(self.cfg.frames):
            yield self.render(t)

    def _plain_base(self) -> np.ndarray:
        """The ground with the static objects drawn without shadows (for checks)."""
        if self._plain is None:
            self._plain = self.scene.ground.copy()
            for p in self.scene.static:
                composite(self._plain, stamp(p.shape, p.x, p.y, p.heading, (0.0, 0.0, 0.0)))
        return self._plain

    def render(
        self, t: int, *, objects: bool = True, effects: bool = True, sensor: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Frame t and its gt rows. `objects=False`: the background only (no rows);
        `effects=False`: no shadows or wakes; `sensor=False`: the platform window only
        (no blur, haze, noise or tone curve)."""
        if not 0 <= t < self.cfg.frames:
            raise ValueError(f"{self.video_id}: frame {t} out of range [0, {self.cfg.frames})")
        sc = self.scene
        source = sc.ground if not objects else (sc.base if effects else self._plain_base())
        canvas = source.copy()
        ox, oy = (float(v) for v in self.sensor.offsets[t])
        rows: list[tuple[object, ...]] = []
        if objects:
            for gid, p in zip(self.static_ids, sc.static, strict=True):
                row = self._row(t, gid, p.shape.cls, p.stamp, None, ox, oy)
                if row is not None:
                    rows.append(row)
            shadow = sc.shadow if effects else (0.0, 0.0, 0.0)
            by_level: dict[int, list[Track]] = {}
            for track in self.tracks[t]:
                by_level.setdefault(sc.lanes[track[0]].level, []).append(track)
            for level in sorted(by_level):
                drawn: list[tuple[int, Shape, Stamp]] = []
                for li, gid, shape, s, v in by_level[level]:
                    lane = sc.lanes[li]
                    x, y, heading = lane.path.at(s)
                    wake = lane.wake * min(1.0, 0.3 + v) if effects else 0.0
                    st = stamp(shape, x, y, heading, shadow, wake, sc.wake_mask)
                    if composite(canvas, st) is not None:
                        drawn.append((gid, shape, st))
                deck = sc.above.get(level)
                if deck is not None:
                    for _, _, st in drawn:
                        _repaste(canvas, source, deck, st)
                for gid, shape, st in drawn:
                    row = self._row(t, gid, shape.cls, st, level, ox, oy)
                    if row is not None:
                        rows.append(row)
        if sensor:
            image = self.sensor.develop(
                canvas, t, np.random.default_rng([self.cfg.seed, self.index, _SALT, 1, t])
            )
        else:
            image = self.sensor.view(canvas, t)
        gt = np.array(sorted(rows, key=lambda r: r[1]), GT_DTYPE) if rows else np.zeros(0, GT_DTYPE)
        return image, gt

    def _row(
        self, t: int, gid: int, cls: str, st: Stamp, level: int | None, ox: float, oy: float
    ) -> tuple[object, ...] | None:
        width, height = self.cfg.width, self.cfg.height
        x1, y1, x2, y2 = st.box
        fx1, fy1, fx2, fy2 = x1 - ox, y1 - oy, x2 - ox, y2 - oy
        cx1, cy1, cx2, cy2 = max(fx1, 0.0), max(fy1, 0.0), min(fx2, width), min(fy2, height)
        if cx2 <= cx1 or cy2 <= cy1:
            return None
        inside = fx1 >= 0 and fy1 >= 0 and fx2 <= width and fy2 <= height
        deck = self.scene.above.get(level) if level is not None else None
        ph, pw = st.body.shape
        under = None
        if deck is not None:
            under = window(deck, st.x0, st.y0, pw, ph)
            if not under.any():
                under = None
        if inside and under is None:
            vis = 1.0
        else:
            weight = st.body.copy()
            if under is not None:
                weight *= 1.0 - under
            if not inside:
                wx = np.clip(
                    np.minimum(np.arange(pw) + st.x0 + 1, ox + width)
                    - np.maximum(np.arange(pw) + st.x0, ox),
                    0,
                    1,
                )
                wy = np.clip(
                    np.minimum(np.arange(ph) + st.y0 + 1, oy + height)
                    - np.maximum(np.arange(ph) + st.y0, oy),
                    0,
                    1,
                )
                weight *= wy[:, None] * wx[None, :]
            vis = float(weight.sum() / max(st.body.sum(), 1e-9))
        if vis <= 1e-3:
            return None
        return (t, gid, cx1, cy1, cx2 - cx1, cy2 - cy1, 1, gt_class_id(cls), min(1.0, vis))


def _repaste(canvas: np.ndarray, source: np.ndarray, deck: np.ndarray, st: Stamp) -> None:
    """Draw the decks back over a mover that passes under them."""
    h, w = canvas.shape[:2]
    ph, pw = st.body.shape
    x0, y0, x1, y1 = max(0, st.x0), max(0, st.y0), min(w, st.x0 + pw), min(h, st.y0 + ph)
    if x1 <= x0 or y1 <= y0:
        return
    a = deck[y0:y1, x0:x1]
    if not a.any():
        return
    a = a[..., None]
    mixed = canvas[y0:y1, x0:x1] * (1.0 - a) + source[y0:y1, x0:x1] * a
    canvas[y0:y1, x0:x1] = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)


def _step(lane: Lane) -> None:
    """One frame of car-following: no mover gets closer than min_gap to the one ahead."""
    movers = sorted(lane.movers, key=lambda m: -m.s)
    n = len(movers)
    for i, m in enumerate(movers):
        target = m.s + min(m.v_des, m.v + lane.accel)
        limit = math.inf
        if i > 0:
            lead = movers[i - 1]
            limit = lead.s - (lead.shape.length + m.shape.length) / 2 - lane.min_gap
        elif n > 1 and math.isfinite(lane.loop):
            lead = movers[-1]
            limit = lead.s + lane.loop - (lead.shape.length + m.shape.length) / 2 - lane.min_gap
        if lane.hold is not None and i == 0:
            limit = min(limit, lane.hold)
        new = max(m.s, min(target, limit))
        m.v, m.s = new - m.s, new
    for m in movers:
        if m.s >= lane.loop:
            m.s -= lane.loop
            m.generation += 1
            m.shape, m.v_des = lane.spawn()
            m.v = m.v_des


def heldout_meta(
    cfg: HeldoutConfig,
    video_id: str,
    style: Style,
    rng: np.random.Generator,
    offsets: np.ndarray,
) -> dict[str, object]:
    """Timing and a north-up geotransform at the video's GSD in a fixed fake UTM zone, and
    the platform motion of its `offsets` (camera.platform_offsets)."""
    meta = imaginary_meta(
        video_id,
        rng,
        cfg,
        crs=CRS,
        year=2024,
        hours=(8.5, 11.0),
        gsd_m=style.gsd_m,
        place=style.palette.place,
        offsets=offsets,
    )
    return {**meta, "style": style.meta}


def generate_heldout_archive(
    out: str | FilePath, cfg: HeldoutConfig, progress: Progress | None = None
) -> list[str]:
    """Write `cfg.videos` held-out videos under `out` (local or s3://); returns their ids.

    Layout as `tgram synth`: videos/<id>.mp4, gt/<id>.txt (MOTChallenge), meta/<id>.json,
    speeds/<id>.csv (formats.write_speed_truth).
    `progress(n)` is called as n more frames are done.
    """
    return write_rendered_archive(str(out), cfg, lambda index: HeldoutVideo(cfg, index), progress)
