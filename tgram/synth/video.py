"""One synthetic video: its scene, its objects' motion, and its frames with exact gt.

Each video is a static scene painted once (tgram.synth.scene) plus objects that move on it:
vehicles driving a road grid with traffic lights (car-following, turns, kerbside stops),
parked cars, ships with wakes along shipping routes and berthed at piers, airplanes taxiing
to and pushed back from apron stands. Per frame the objects are composited, cloud puffs
drift over, and a sensor model applies platform jitter, blur, brightness drift and noise.
How all of it looks (ground sample distance, palette, sun, objects' sizes and colours,
sensor, compression) is the video's style (tgram.synth.style), drawn per video from its own
random stream in the randomised style, recorded in the meta under "style".

Ground truth is exact by construction: each object's box is the tight box of its drawn
silhouette (sprite coverage >= 0.5; anti-aliased edges and the optics blur spill beyond it
at lower coverage, up to ~2.5 blur sigmas plus 1 px; in the randomised style each object's
cast shadow is drawn with it but is never part of its silhouette), shifted by the frame's
jitter and drift and clipped to the frame (amodal under occlusion,
as in MOTChallenge); visibility is the share of the silhouette left visible after trees,
clouds, other objects and the frame edge. Objects with nothing visible in a frame get no
row there (no visibility-0 rows). Every visible object of a selected class is annotated,
moving or parked; classes not selected are not drawn. gt ids are 1-based creation order,
so they do not depend on jitter or clouds (ids of never-visible objects are skipped).

Motion truth is exact too: the meta's "platform_shift_px" is the sensor's jitter and drift
as an image shift since frame 0, and each frame carries every object's world position
(no platform motion in it), from which tgram.data.formats.speed_truth takes the ground
speeds: the boxes alone would give them only to within their pixel quantisation.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from tgram.classes import gt_class_id
from tgram.data.formats import GT_DTYPE, POSITION_DTYPE
from tgram.data.meta import platform_shift
from tgram.synth.clouds import Clouds
from tgram.synth.compositor import Compositor, Layer, Poses, clip
from tgram.synth.config import SynthConfig
from tgram.synth.meta import video_meta
from tgram.synth.movers import (
    PUSHBACK_SPEED,
    ROUTE_ACCEL,
    SHIP_ARRIVALS,
    SHIP_SPACING,
    SHIP_SPEED,
    TAXI_SPEED,
    Leg,
    Mover,
    Path,
    draw_wake,
    spaced,
)
from tgram.synth.palette import SHADOW_DARKNESS
from tgram.synth.scene import build_scene
from tgram.synth.sensor import Sensor, optics_blur
from tgram.synth.sprites import LegacyFleet, Sprite, StyledFleet, stamp
from tgram.synth.style import Style, draw_style
from tgram.synth.traffic import Traffic
from tgram.synth.view import View
from tgram.synth.world import Pose as ParkingPose
from tgram.synth.world import Stand


@dataclass(frozen=True)
class SynthFrame:
    image: np.ndarray
    """RGB uint8 [H, W, 3]."""
    gt: np.ndarray
    """GT_DTYPE rows of this frame (0-based frame)."""
    world: np.ndarray
    """POSITION_DTYPE rows: where every object in the world is drawn this frame, seen or not
    (its centre in world pixels, gt id), for the speed truth (formats.speed_truth)."""


class SyntheticVideo:
    """One video of a synthetic archive: scene, object motion, frames and gt, all from one seed."""

    def __init__(self, cfg: SynthConfig, index: int) -> None:
        self.cfg = cfg
        self.video_id = f"synth_{index:04d}"
        # independent streams: e.g. more clouds must not change where the cars drive (the
        # sixth, the style's, is new: the first five are what they were before it)
        # (and the seventh, the view's)
        streams = np.random.SeedSequence([cfg.seed, index]).spawn(7)
        scene_seq, object_seq, sensor_seq, meta_seq, cloud_seq, style_seq, view_seq = streams
        self.style = style = draw_style(cfg, np.random.default_rng(style_seq))
        self.view = draw_view(cfg, style, np.random.default_rng(view_seq))
        self.scene = build_scene(
            np.random.default_rng(scene_seq), *self.view.footprint, cfg.classes, style
        )
        self._sensor = Sensor(cfg, np.random.default_rng(sensor_seq), style, self.view)
        offsets = np.array([self._sensor.offset(t) for t in range(cfg.frames)])
        self.meta = video_meta(
            cfg,
            self.video_id,
            np.random.default_rng(meta_seq),
            style.gsd_m,
            platform_shift(self.view.frame_shift(offsets)),
            self.view.angle_deg,
        )
        self.meta["style"] = style.meta(self.scene.shadow_dir, self.scene.shadow_ratio)
        if self.view.turned:
            self.meta["style"]["view_angle_deg"] = round(self.view.angle_deg, 3)
        self.crf = style.crf
        """H.264 quality of the video's mp4."""
        self._rng = np.random.default_rng(object_seq)
        self._compositor = Compositor(self.scene, style.blur_sigma, shadows=style.randomised)
        self._density = cfg.density * style.density
        self._fleet: LegacyFleet | StyledFleet = (
            StyledFleet(self._rng, style.gsd_m, self.scene.shadow_ratio, style.grading)
            if style.randomised
            else LegacyFleet(self.scene.shadow_ratio)
        )
        self._class_ids: list[int] = []
        """gt class id of each object, by object index."""
        self._static_owner = np.zeros(self.scene.occluder.shape, np.int32)
        # the optics blur is folded into the layers: the static world is blurred once here
        self._static_canvas = optics_blur(self.scene.background, style.blur_sigma).copy()
        self._static = self._park_objects()
        self._traffic = (
            Traffic(
                self.scene,
                self._rng,
                self._density,
                self._new_vehicle,
                self._compositor.forget,
                self._fleet.vehicle,
            )
            if "vehicle" in cfg.classes
            else None
        )
        self._movers = self._ships() + self._planes()
        self._clouds = Clouds(cfg, self.scene, np.random.default_rng(cloud_seq), style.grading)
        self._played = False

    def _new_object(self, cls: str, sprite: Sprite) -> int:
        """Register an object; its gt id is its index + 1 (creation order, whatever the camera sees)."""
        self._class_ids.append(gt_class_id(cls))
        self._compositor.add(sprite)
        return len(self._class_ids) - 1

    def _new_vehicle(self, sprite: Sprite) -> int:
        return self._new_object("vehicle", sprite)

    def frames(self) -> Iterator[SynthFrame]:
        """The video's frames with their gt, in order; the simulation runs once, so only once."""
        if self._played:
            raise RuntimeError(f"{self.video_id}: frames() can be iterated only once")
        self._played = True
        # one canvas and owner map, reset each frame: no fresh 14 MB to page in per frame
        canvas = np.empty_like(self._static_canvas)
        owner = self._static_owner.copy()
        for t in range(self.cfg.frames):
            np.copyto(canvas, self._static_canvas)
            moving, poses = self._draw_movers(canvas, owner, t)
            hidden = self._clouds.draw(canvas, owner, t)
            layer = Layer.join([self._static, moving])
            boxes, visible = self._silhouettes(owner, layer, self._sensor.offset(t))
            yield SynthFrame(
                self._sensor.expose(canvas, t),
                self._ground_truth(t, layer, visible, boxes),
                _positions(t, Poses.join([self._parked, poses])),
            )
            # undo this frame's changes to the owner map (far fewer pixels than a full copy;
            # take/put on flat indices, several times cheaper than fancy indexing)
            np.put(owner, moving.pixels, np.take(self._static_owner, moving.pixels))
            for region in hidden:
                owner[region] = self._static_owner[region]

    # --- objects ---

    def _park_objects(self) -> Layer:
        """Parked cars, berthed ships and airplanes at stands, drawn once into the static canvas."""
        s, rng, density, fleet = self.scene, self._rng, self._density, self._fleet
        parked: list[tuple[str, Sprite, ParkingPose]] = []
        if "vehicle" in self.cfg.classes:
            fill = min(0.95, 0.6 * density)
            cars = [
                ("vehicle", fleet.parked_vehicle(rng, pose.max_length), pose)
                for pose in s.parking
                if rng.random() < fill
            ]
            parked += [car for car in cars if car[1] is not None]  # type: ignore[misc]
        if "ship" in self.cfg.classes:
            for pose in s.moorings:
                if pose.max_length >= fleet.min_moored and rng.random() < min(0.95, 0.7 * density):
                    parked.append(("ship", fleet.moored_ship(rng, pose.max_length), pose))
        self._free_stands: list[Stand] = []
        if "airplane" in self.cfg.classes:
            for stand in s.stands:
                if rng.random() < min(0.9, 0.6 * density):
                    parked.append(("airplane", fleet.airplane(rng, s.plane_length), stand.pose))
                else:
                    self._free_stands.append(stand)
        poses = []
        for cls, sprite, pose in parked:
            index = self._new_object(cls, sprite)
            poses.append((index, *pose.centre_for(sprite.length), pose.heading))
            if cls != "vehicle" and not self.style.randomised:
                self._shadow(self._static_canvas, sprite, *poses[-1][1:])
        self._parked = Poses.of(poses)
        """Where the parked objects are, for their (zero) speed truth."""
        layer = self._compositor.draw(self._static_canvas, self._static_owner, self._parked)
        for index, *_ in poses:
            self._compositor.forget(index)
        return layer

    def _ships(self) -> list[Mover]:
        if "ship" not in self.cfg.classes:
            return []
        movers, rng, s = [], self._rng, self.scene
        density = self._density
        for route in s.ship_routes:
            path = Path(route)
            speed = rng.uniform(*SHIP_SPEED) * s.speed
            spacing = 3 * s.ship_length[1]
            gap = SHIP_SPACING * s.scale / density
            starts = [(-1, s0) for s0 in spaced(rng, path.length, spacing, gap)]
            arrivals = rng.poisson(self.cfg.frames * SHIP_ARRIVALS * density)
            starts += [(int(t), 0.0) for t in rng.uniform(0, self.cfg.frames, arrivals)]
            for start, s0 in starts:
                sprite = self._fleet.ship(rng, s.ship_length)
                leg = Leg(path, speed * rng.uniform(0.93, 1.07))
                index = self._new_object("ship", sprite)
                movers.append(
                    Mover(index, sprite, [leg], rng, start, s0, wake=True, accel=self._accel)
                )
        return movers

    @property
    def _accel(self) -> float:
        """Acceleration of ships and airplanes, px/frame^2."""
        return ROUTE_ACCEL * self.scene.speed

    def _planes(self) -> list[Mover]:
        """One arrival into a free stand, one pushback and departure, one taxiing through."""
        if "airplane" not in self.cfg.classes or not self.scene.stands:
            return []
        rng, s, frames = self._rng, self.scene, self.cfg.frames
        movers: list[Mover] = []
        accel = self._accel

        def plane() -> tuple[int, Sprite]:
            sprite = self._fleet.airplane(rng, s.plane_length)
            return self._new_object("airplane", sprite), sprite

        def taxi_speed() -> float:
            return rng.uniform(*TAXI_SPEED) * s.speed

        order = rng.permutation(len(self._free_stands))
        if len(order):
            stand = self._free_stands[order[0]]
            index, sprite = plane()
            leg = Leg(Path(stand.arrival), taxi_speed(), stop=True)
            s0 = max(0.0, leg.path.length - leg.speed * frames * rng.uniform(0.5, 1.0))
            movers.append(Mover(index, sprite, [leg], rng, -1, s0, accel=accel))
        if len(order) > 1:
            stand = self._free_stands[order[1]]
            index, sprite = plane()
            legs = [
                Leg(Path(stand.pushback), PUSHBACK_SPEED * s.speed, stop=True, reverse=True),
                Leg(Path(stand.departure), taxi_speed()),
            ]
            start = int(rng.uniform(0, 0.4) * frames)
            movers.append(Mover(index, sprite, legs, rng, start, 0.0, accel=accel))
        for route in s.taxi_routes:
            index, sprite = plane()
            leg = Leg(Path(route), taxi_speed())
            s0 = rng.uniform(0, max(1.0, leg.path.length - leg.speed * frames))
            movers.append(Mover(index, sprite, [leg], rng, -1, s0, accel=accel))
        return movers

    # --- drawing ---

    def _draw_movers(self, canvas: np.ndarray, owner: np.ndarray, t: int) -> tuple[Layer, Poses]:
        """Move the ships, airplanes and cars to frame t and draw them; returns what was drawn
        and where they all are (those outside the world too)."""
        for mover in self._movers:
            mover.step(t)
        if self._traffic is not None:
            self._traffic.step(t)
        active = [m for m in self._movers if m.active]
        for mover in active:
            if mover.wake:
                draw_wake(canvas, mover, self.scene.water_rgb, self.scene.foam_rgb)
        rows = [m.pose() for m in active]
        if not self.style.randomised:  # the randomised style's looks carry their shadows
            for mover, (_, x, y, heading) in zip(active, rows, strict=True):
                self._shadow(canvas, mover.sprite, x, y, heading)
        poses = Poses.of(rows)
        if self._traffic is not None:
            poses = Poses.join([poses, self._traffic.poses()])
        return self._compositor.draw(canvas, owner, poses), poses

    def _shadow(
        self, canvas: np.ndarray, sprite: Sprite, x: float, y: float, heading: float
    ) -> None:
        dx, dy = self.scene.shadow_dir
        st = stamp(sprite, x + dx * sprite.shadow_px, y + dy * sprite.shadow_px, heading)
        coverage = optics_blur(np.ascontiguousarray(st.rgba[..., 3]), self.style.blur_sigma)
        region, (patch,) = clip(canvas.shape, st.x0, st.y0, coverage)
        if region is not None:
            canvas[region] = canvas[region] * (1 - patch[..., None] * SHADOW_DARKNESS)

    def _silhouettes(
        self, owner: np.ndarray, layer: Layer, offset: tuple[float, float]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each layer object's silhouette box in frame coordinates ([n, 4] x0, x1, y0, y1,
        unclipped) and the visible silhouette pixels per owner value inside the frame."""
        size = (self.cfg.width, self.cfg.height)
        if not self.view.turned:
            visible = self._compositor.visible(owner, layer, offset, size)
            ox, oy = offset
            return layer.box.astype(np.float64) - np.array([ox, ox, oy, oy]), visible
        shown = np.take(owner.reshape(-1), layer.pixels) == layer.owners
        box, visible = self.view.silhouettes(
            layer.pixels,
            layer.owners,
            shown,
            owner.shape[1],
            offset,
            int(layer.index.max(initial=-1)) + 2,
        )
        return box[layer.index + 1], visible

    def _ground_truth(
        self, t: int, layer: Layer, visible: np.ndarray, boxes: np.ndarray
    ) -> np.ndarray:
        """gt rows of the objects with visible pixels, `boxes` in frame coordinates."""
        shown = visible[layer.index + 1] > 0
        index, box, area = layer.index[shown], boxes[shown], layer.area[shown]
        x0, x1 = (np.clip(box[:, k], 0, self.cfg.width) for k in (0, 1))
        y0, y1 = (np.clip(box[:, k], 0, self.cfg.height) for k in (2, 3))
        gt = np.zeros(len(index), GT_DTYPE)
        gt["frame"] = t
        gt["id"] = index + 1
        gt["x"], gt["y"], gt["w"], gt["h"] = x0, y0, x1 - x0, y1 - y0
        gt["mark"] = 1
        gt["cls"] = np.asarray(self._class_ids)[index]
        # ceil to 3 decimals so that a visible sliver never reads as visibility 0
        gt["visibility"] = np.ceil(visible[index + 1] / area * 1000) / 1000
        return gt[np.argsort(gt["id"], kind="stable")]


def _positions(t: int, poses: Poses) -> np.ndarray:
    """POSITION_DTYPE rows of frame t for the objects at `poses` (gt id = index + 1)."""
    rows = np.zeros(len(poses.index), POSITION_DTYPE)
    rows["frame"], rows["id"], rows["x"], rows["y"] = t, poses.index + 1, poses.x, poses.y
    return rows


def draw_view(cfg: SynthConfig, style: Style, rng: np.random.Generator) -> View:
    """The video's view: upright unless the randomised style's view_angle_deg range is set."""
    lo, hi = cfg.style_ranges.view_angle_deg
    if not style.randomised or (lo, hi) == (0.0, 0.0):
        return View(cfg.width, cfg.height)
    return View(cfg.width, cfg.height, float(rng.uniform(lo, hi)))
