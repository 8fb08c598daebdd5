"""Synthetic Jilin-1-like satellite video with exact ground truth (`tgram synth`).

Each video is a static scene painted once (tgram.data.scene) plus objects that move on it:
vehicles driving a road grid with traffic lights (car-following, turns, kerbside stops),
parked cars, ships with wakes along shipping routes and berthed at piers, airplanes taxiing
to and pushed back from apron stands. Per frame the objects are composited, cloud puffs
drift over, and a sensor model applies platform jitter, blur, brightness drift and noise;
H.264 or JPEG compression follows.

Ground truth is exact by construction: each object's box is the tight box of its drawn
silhouette (sprite coverage >= 0.5; anti-aliased edges spill at most 2 px beyond it at lower
coverage), shifted by the frame's jitter and clipped to the frame (amodal under occlusion,
as in MOTChallenge); visibility is the share of the silhouette left visible after trees,
clouds, other objects and the frame edge. Objects with nothing visible in a frame get no
row there (no visibility-0 rows). Every visible object of a selected class is annotated,
moving or parked; classes not selected are not drawn. gt ids are 1-based creation order,
so they do not depend on jitter or clouds (ids of never-visible objects are skipped).
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from pyproj import Transformer

from tgram import storage
from tgram.data import scene as sc
from tgram.data.classes import CLASS_NAMES, check_class_names, gt_class_id
from tgram.data.formats import GT_DTYPE, write_gt
from tgram.data.video import VideoWriter

Progress = Callable[[int], object]


@dataclass(frozen=True)
class SynthConfig:
    """A synthetic archive: by default 4 videos of 30 s at 1920x1080 and 10 fps, ~1 m/px."""

    width: int = 1920
    height: int = 1080
    frames: int = 300
    fps: float = 10.0
    videos: int = 4
    density: float = 1.0
    """Scales the number of objects (traffic, parked cars, ships, airplanes)."""
    classes: tuple[str, ...] = CLASS_NAMES
    """Object classes to draw and annotate."""
    seed: int = 0
    layout: Literal["mp4", "airmot"] = "mp4"
    """mp4: videos/, gt/, meta/; airmot: the AIR-MOT image tree images/{train,test}/<seq>/."""
    test_fraction: float = 0.25
    """Share of videos (the last ones) put in the airmot layout's test split."""
    jitter_px: float = 1.5
    """Largest platform jitter: a whole-frame shift that the gt boxes follow exactly."""
    brightness_drift: float = 0.04
    """Largest relative change of frame brightness over a video."""
    noise_sigma: float = 2.0
    """Sensor noise standard deviation in grey levels."""
    blur_sigma: float = 0.6
    """Optics blur, Gaussian sigma in pixels; 0 switches it off."""
    cloud_puffs: float = 1.5
    """Mean number of cloud puffs drifting over each video (they briefly hide objects)."""
    crf: int = 26
    """H.264 quality of the mp4 layout (lower: better, bigger); Jilin-1 products show visible
    compression, and fewer bits also encode faster."""
    jpeg_quality: int = 90
    """JPEG quality of the airmot layout's frames."""
    gsd_m: float = 1.0
    """Ground sampling distance written to the meta geotransform."""

    def __post_init__(self) -> None:
        if self.width < 64 or self.height < 64:
            raise ValueError(f"width and height must be >= 64 px, got {self.width}x{self.height}")
        if self.layout == "mp4" and (self.width % 2 or self.height % 2):
            raise ValueError(
                f"layout mp4 (H.264) needs even width and height, got {self.width}x{self.height}"
            )
        if self.layout not in ("mp4", "airmot"):
            raise ValueError(f"layout must be 'mp4' or 'airmot', got {self.layout!r}")
        for name in ("frames", "videos"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("fps", "density", "gsd_m"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        check_class_names(self.classes)
        if not 0 <= self.test_fraction < 1:
            raise ValueError(f"test_fraction must be in [0, 1), got {self.test_fraction}")
        if not 0 <= self.jitter_px <= sc.MARGIN - 1.5:
            raise ValueError(f"jitter_px must be in [0, {sc.MARGIN - 1.5}], got {self.jitter_px}")
        if not 0 <= self.brightness_drift < 0.5:
            raise ValueError(f"brightness_drift must be in [0, 0.5), got {self.brightness_drift}")
        for name in ("noise_sigma", "blur_sigma", "cloud_puffs"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0 <= self.crf <= 51:
            raise ValueError(f"crf must be in [0, 51], got {self.crf}")
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be in [1, 100], got {self.jpeg_quality}")


def generate_archive(
    out: str | Path, cfg: SynthConfig, progress: Progress | None = None, workers: int | None = None
) -> list[str]:
    """Write `cfg.videos` synthetic videos with gt under `out` (local or s3://); returns their ids.

    The same config (seed included) always writes the same gt and the same frames, whatever
    the number of `workers` (processes rendering videos side by side; None: one per CPU core).
    `progress(n)` is called as n more frames are done: per frame with one worker, per video
    with several.
    """
    n_test = round(cfg.videos * cfg.test_fraction)
    splits = ["test" if index >= cfg.videos - n_test else "train" for index in range(cfg.videos)]
    workers = min(cfg.videos, workers or os.cpu_count() or 1)
    if workers == 1:
        return [
            _write_video(str(out), cfg, index, split, progress)
            for index, split in enumerate(splits)
        ]
    # spawn, not fork: the caller may hold threads (Ray, torch) that fork would copy broken
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_single_threaded_opencv
    ) as pool:
        futures = [
            pool.submit(_write_video, str(out), cfg, index, split)
            for index, split in enumerate(splits)
        ]
        for future in as_completed(futures):
            future.result()
            if progress:
                progress(cfg.frames)
        return [future.result() for future in futures]


def _single_threaded_opencv() -> None:
    """Worker processes already fill the cores; OpenCV's own threads would only contend."""
    cv2.setNumThreads(1)


def _write_video(
    out: str, cfg: SynthConfig, index: int, split: str, progress: Progress | None = None
) -> str:
    video = SyntheticVideo(cfg, index)
    if cfg.layout == "mp4":
        _write_mp4(out, video, progress)
    else:
        _write_airmot(out, video, split, progress)
    return video.video_id


def _write_mp4(out: str, video: SyntheticVideo, progress: Progress | None) -> None:
    cfg = video.cfg
    rows = []
    uri = storage.join(out, "videos", f"{video.video_id}.mp4")
    with VideoWriter(uri, fps=cfg.fps, width=cfg.width, height=cfg.height, crf=cfg.crf) as writer:
        for frame in video.frames():
            writer.write(frame.image)
            rows.append(frame.gt)
            if progress:
                progress(1)
    write_gt(storage.join(out, "gt", f"{video.video_id}.txt"), np.concatenate(rows))
    storage.write_bytes(storage.join(out, "meta", f"{video.video_id}.json"), _json(video.meta))


def _write_airmot(out: str, video: SyntheticVideo, split: str, progress: Progress | None) -> None:
    seq = storage.join(out, "images", split, video.video_id)
    rows = []
    for t, frame in enumerate(video.frames()):
        ok, jpeg = cv2.imencode(
            ".jpg",
            cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR),
            [cv2.IMWRITE_JPEG_QUALITY, video.cfg.jpeg_quality],
        )
        if not ok:
            raise RuntimeError(f"{seq}: JPEG encoding of frame {t} failed")
        storage.write_bytes(storage.join(seq, "img", f"{t + 1:06d}.jpg"), jpeg.tobytes())
        rows.append(frame.gt)
        if progress:
            progress(1)
    write_gt(storage.join(seq, "gt", "gt.txt"), np.concatenate(rows))
    storage.write_bytes(storage.join(seq, "meta.json"), _json(video.meta))


def _json(data: dict[str, object]) -> bytes:
    return (json.dumps(data, indent=2) + "\n").encode()


# --- one video ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SynthFrame:
    image: np.ndarray
    """RGB uint8 [H, W, 3]."""
    gt: np.ndarray
    """GT_DTYPE rows of this frame (0-based frame)."""


@dataclass(frozen=True)
class _Look:
    """An object's sprite rendered at one quantised heading and sub-pixel phase, as the list
    of pixels it touches (relative to the floor of the drawn position)."""

    ys: np.ndarray
    xs: np.ndarray
    alpha: np.ndarray
    """float32 coverage of each pixel."""
    colour: np.ndarray
    """float32 [n, 3] straight (not premultiplied) colour of each pixel."""
    box: tuple[int, int, int, int]
    """Silhouette (coverage >= SILHOUETTE_ALPHA) [x0, x1) x [y0, y1), relative."""
    area: int


@dataclass
class _Object:
    cls: str
    sprite: sc.Sprite
    looks: dict[tuple[int, int, int], _Look] = field(default_factory=dict)
    """Rendered looks by (heading step, x phase, y phase): straight driving reuses a few."""


@dataclass(frozen=True)
class _Layer:
    """Objects composited in one pass: where their silhouettes are and which pixels they own."""

    index: np.ndarray
    """Object index of each drawn object."""
    box: np.ndarray
    """[n, 4] silhouette x0, x1, y0, y1 (exclusive ends) in world pixels."""
    area: np.ndarray
    """Silhouette pixels of each object, hidden or not."""
    pixels: np.ndarray
    """Flat world index of every silhouette pixel this layer set in the owner map."""
    owners: np.ndarray
    """Owner value (object index + 1) written at each of `pixels`."""

    @staticmethod
    def join(layers: list[_Layer]) -> _Layer:
        return _Layer(
            *(
                np.concatenate([getattr(x, f) for x in layers])
                for f in ("index", "box", "area", "pixels", "owners")
            )
        )


FAINT = 1 / 32
"""Coverage below which a sprite pixel is not drawn at all (it would change < 4 grey levels)."""
POSITION_STEPS = 4
"""Objects are drawn at quarter-pixel positions (motion stays smooth, looks are reused)."""
HEADING_STEP = math.radians(0.5)


class SyntheticVideo:
    """One video of a synthetic archive: scene, object motion, frames and gt, all from one seed."""

    def __init__(self, cfg: SynthConfig, index: int) -> None:
        self.cfg = cfg
        self.video_id = f"synth_{index:04d}"
        # independent streams: e.g. more clouds must not change where the cars drive
        streams = np.random.SeedSequence([cfg.seed, index]).spawn(5)
        scene_seq, object_seq, sensor_seq, meta_seq, cloud_seq = streams
        self.scene = sc.build_scene(
            np.random.default_rng(scene_seq), cfg.width, cfg.height, cfg.classes
        )
        self.meta = _video_meta(cfg, self.video_id, np.random.default_rng(meta_seq))
        self._rng = np.random.default_rng(object_seq)
        self._sensor = _Sensor(cfg, np.random.default_rng(sensor_seq))
        self._compositor = _Compositor(self.scene)
        self.objects: list[_Object] = []
        self._static_owner = np.zeros(self.scene.occluder.shape, np.int32)
        self._static_canvas = self.scene.background.copy()
        self._static = self._park_objects()
        self._traffic = _Traffic(self, self._rng) if "vehicle" in cfg.classes else None
        self._movers = self._ships() + self._planes()
        self._clouds = _Clouds(cfg, self.scene, np.random.default_rng(cloud_seq))
        self._played = False

    def new_object(self, cls: str, sprite: sc.Sprite) -> int:
        """Register an object; its gt id is its index + 1 (creation order, whatever the camera sees)."""
        self.objects.append(_Object(cls, sprite))
        return len(self.objects) - 1

    def forget_looks(self, index: int) -> None:
        """Free the cached looks of an object that has left for good."""
        self.objects[index].looks.clear()

    def frames(self) -> Iterator[SynthFrame]:
        """The video's frames with their gt, in order; the simulation runs once, so only once."""
        if self._played:
            raise RuntimeError(f"{self.video_id}: frames() can be iterated only once")
        self._played = True
        for t in range(self.cfg.frames):
            canvas = self._static_canvas.copy()
            owner = self._static_owner.copy()
            moving = self._draw_movers(canvas, owner, t)
            self._clouds.draw(canvas, owner, t)
            ox, oy = self._sensor.offset(t)
            layer = _Layer.join([self._static, moving])
            visible = self._compositor.visible(
                owner, layer, (ox, oy), (self.cfg.width, self.cfg.height)
            )
            yield SynthFrame(
                self._sensor.expose(canvas, t), self._ground_truth(t, layer, visible, ox, oy)
            )

    # --- objects ---

    def _park_objects(self) -> _Layer:
        """Parked cars, berthed ships and airplanes at stands, drawn once into the static canvas."""
        s, rng, density = self.scene, self._rng, self.cfg.density
        parked: list[tuple[str, sc.Sprite, sc.Pose]] = []
        if "vehicle" in self.cfg.classes:
            fill = min(0.95, 0.6 * density)
            parked += [
                ("vehicle", sc.vehicle_sprite(rng, s.shadow_ratio), pose)
                for pose in s.parking
                if rng.random() < fill
            ]
        if "ship" in self.cfg.classes:
            for pose in s.moorings:
                if pose.max_length >= 10 and rng.random() < min(0.95, 0.7 * density):
                    length = rng.uniform(max(10.0, 0.6 * pose.max_length), pose.max_length)
                    parked.append(("ship", sc.ship_sprite(rng, length, s.shadow_ratio), pose))
        self._free_stands: list[sc.Stand] = []
        if "airplane" in self.cfg.classes:
            for stand in s.stands:
                if rng.random() < min(0.9, 0.6 * density):
                    length = rng.uniform(*s.plane_length)
                    parked.append(
                        ("airplane", sc.airplane_sprite(rng, length, s.shadow_ratio), stand.pose)
                    )
                else:
                    self._free_stands.append(stand)
        poses = []
        for cls, sprite, pose in parked:
            index = self.new_object(cls, sprite)
            poses.append((index, *pose.centre_for(sprite.length), pose.heading))
            if cls != "vehicle":
                self._shadow(self._static_canvas, sprite, *poses[-1][1:])
        layer = self._draw(self._static_canvas, self._static_owner, poses)
        for index, *_ in poses:
            self.forget_looks(index)
        return layer

    def _ships(self) -> list[_Mover]:
        if "ship" not in self.cfg.classes:
            return []
        movers, rng, s = [], self._rng, self.scene
        density = self.cfg.density
        for route in s.ship_routes:
            path = _Path(route)
            speed = rng.uniform(*SHIP_SPEED)
            spacing = 3 * s.ship_length[1]
            starts = [(-1, s0) for s0 in _spaced(rng, path.length, spacing, SHIP_SPACING / density)]
            arrivals = rng.poisson(self.cfg.frames * SHIP_ARRIVALS * density)
            starts += [(int(t), 0.0) for t in rng.uniform(0, self.cfg.frames, arrivals)]
            for start, s0 in starts:
                sprite = sc.ship_sprite(rng, rng.uniform(*s.ship_length), s.shadow_ratio)
                leg = _Leg(path, speed * rng.uniform(0.93, 1.07))
                movers.append(
                    _Mover(
                        self.new_object("ship", sprite), sprite, [leg], rng, start, s0, wake=True
                    )
                )
        return movers

    def _planes(self) -> list[_Mover]:
        """One arrival into a free stand, one pushback and departure, one taxiing through."""
        if "airplane" not in self.cfg.classes or not self.scene.stands:
            return []
        rng, s, frames = self._rng, self.scene, self.cfg.frames
        movers: list[_Mover] = []

        def plane() -> tuple[int, sc.Sprite]:
            sprite = sc.airplane_sprite(rng, rng.uniform(*s.plane_length), s.shadow_ratio)
            return self.new_object("airplane", sprite), sprite

        order = rng.permutation(len(self._free_stands))
        if len(order):
            stand = self._free_stands[order[0]]
            index, sprite = plane()
            leg = _Leg(_Path(stand.arrival), rng.uniform(*TAXI_SPEED), stop=True)
            s0 = max(0.0, leg.path.length - leg.speed * frames * rng.uniform(0.5, 1.0))
            movers.append(_Mover(index, sprite, [leg], rng, -1, s0))
        if len(order) > 1:
            stand = self._free_stands[order[1]]
            index, sprite = plane()
            legs = [
                _Leg(_Path(stand.pushback), PUSHBACK_SPEED, stop=True, reverse=True),
                _Leg(_Path(stand.departure), rng.uniform(*TAXI_SPEED)),
            ]
            movers.append(_Mover(index, sprite, legs, rng, int(rng.uniform(0, 0.4) * frames), 0.0))
        for route in s.taxi_routes:
            index, sprite = plane()
            leg = _Leg(_Path(route), rng.uniform(*TAXI_SPEED))
            s0 = rng.uniform(0, max(1.0, leg.path.length - leg.speed * frames))
            movers.append(_Mover(index, sprite, [leg], rng, -1, s0))
        return movers

    # --- drawing ---

    def _draw_movers(self, canvas: np.ndarray, owner: np.ndarray, t: int) -> _Layer:
        for mover in self._movers:
            mover.step(t)
        if self._traffic is not None:
            self._traffic.step(t)
        active = [m for m in self._movers if m.active]
        for mover in active:
            if mover.wake:
                _draw_wake(canvas, mover, self.scene.water_rgb)
        poses = [m.pose() for m in active]
        for index, x, y, heading in poses:
            self._shadow(canvas, self.objects[index].sprite, x, y, heading)
        if self._traffic is not None:
            poses += self._traffic.poses()
        return self._draw(canvas, owner, poses)

    def _shadow(
        self, canvas: np.ndarray, sprite: sc.Sprite, x: float, y: float, heading: float
    ) -> None:
        dx, dy = self.scene.shadow_dir
        st = sc.stamp(sprite, x + dx * sprite.shadow_px, y + dy * sprite.shadow_px, heading)
        region, (patch,) = _clip(canvas.shape, st.x0, st.y0, st.rgba)
        if region is not None:
            canvas[region] = canvas[region] * (1 - patch[..., 3:] * sc.SHADOW_DARKNESS)

    def _draw(
        self, canvas: np.ndarray, owner: np.ndarray, poses: list[tuple[int, float, float, float]]
    ) -> _Layer:
        placed = []
        for index, x, y, heading in poses:
            x0, y0, look = self._look(self.objects[index], x, y, heading)
            if look.area:
                placed.append((index, x0, y0, look))
        return self._compositor.draw(canvas, owner, placed)

    def _look(self, obj: _Object, x: float, y: float, heading: float) -> tuple[int, int, _Look]:
        """The object's look at a quantised pose, and the world pixel its look is relative to."""
        qx, qy = (
            round(x * POSITION_STEPS) / POSITION_STEPS,
            round(y * POSITION_STEPS) / POSITION_STEPS,
        )
        bx, by = math.floor(qx), math.floor(qy)
        key = (
            round(heading / HEADING_STEP),
            round((qx - bx) * POSITION_STEPS),
            round((qy - by) * POSITION_STEPS),
        )
        look = obj.looks.get(key)
        if look is None:
            look = obj.looks[key] = _render_look(
                obj.sprite, qx - bx, qy - by, key[0] * HEADING_STEP
            )
        return bx, by, look

    def _ground_truth(
        self, t: int, layer: _Layer, visible: np.ndarray, ox: float, oy: float
    ) -> np.ndarray:
        """gt rows of the objects with visible pixels, boxes in frame coordinates."""
        shown = visible[layer.index + 1] > 0
        index, box, area = (
            layer.index[shown],
            layer.box[shown].astype(np.float64),
            layer.area[shown],
        )
        x0, x1 = (np.clip(box[:, k] - ox, 0, self.cfg.width) for k in (0, 1))
        y0, y1 = (np.clip(box[:, k] - oy, 0, self.cfg.height) for k in (2, 3))
        gt = np.zeros(len(index), GT_DTYPE)
        gt["frame"] = t
        gt["id"] = index + 1
        gt["x"], gt["y"], gt["w"], gt["h"] = x0, y0, x1 - x0, y1 - y0
        gt["mark"] = 1
        gt["cls"] = [gt_class_id(self.objects[i].cls) for i in index.tolist()]
        # ceil to 3 decimals so that a visible sliver never reads as visibility 0
        gt["visibility"] = np.ceil(visible[index + 1] / area * 1000) / 1000
        return gt[np.argsort(gt["id"], kind="stable")]


def _render_look(sprite: sc.Sprite, x: float, y: float, heading: float) -> _Look:
    st = sc.stamp(sprite, x, y, heading)
    alpha = st.rgba[..., 3]
    ys, xs = np.nonzero(alpha >= FAINT)
    solid_ys, solid_xs = np.nonzero(st.silhouette)
    if not len(solid_xs):
        return _Look(ys, xs, alpha[ys, xs], st.rgba[ys, xs, :3], (0, 0, 0, 0), 0)
    colour = st.rgba[ys, xs, :3] / alpha[ys, xs, None]
    box = (
        st.x0 + int(solid_xs.min()),
        st.x0 + int(solid_xs.max()) + 1,
        st.y0 + int(solid_ys.min()),
        st.y0 + int(solid_ys.max()) + 1,
    )
    return _Look(ys + st.y0, xs + st.x0, alpha[ys, xs], colour, box, len(solid_xs))


class _Compositor:
    """Draws many objects in one vectorised pass and counts what stays visible of each.

    Where objects overlap, the one drawn last owns the pixel: it alone is blended there, and
    the owner map (object index + 1 per world pixel, 0 for none) records it, so the image and
    the visibility in the gt always agree.
    """

    def __init__(self, scene: sc.Scene) -> None:
        self.height, self.width = scene.occluder.shape
        self.uncovered = 1 - scene.occluder.ravel().astype(np.float32) / 255
        self.shade = scene.shade.ravel()
        self.scratch = np.zeros(self.height * self.width, np.int32)

    def draw(
        self, canvas: np.ndarray, owner: np.ndarray, placed: list[tuple[int, int, int, _Look]]
    ) -> _Layer:
        if not placed:
            empty = np.zeros(0, np.int64)
            return _Layer(empty, np.zeros((0, 4), np.int64), empty, empty, empty)
        looks = [look for *_, look in placed]
        counts = np.array([len(look.xs) for look in looks])
        index = np.array([i for i, *_ in placed], np.int64)
        x0 = np.array([x for _, x, _, _ in placed], np.int64)
        y0 = np.array([y for _, _, y, _ in placed], np.int64)
        xs = np.concatenate([look.xs for look in looks]) + np.repeat(x0, counts)
        ys = np.concatenate([look.ys for look in looks]) + np.repeat(y0, counts)
        ids = np.repeat(index + 1, counts)
        inside = (xs >= 0) & (xs < self.width) & (ys >= 0) & (ys < self.height)
        flat = (ys * self.width + xs)[inside]
        ids = ids[inside]
        self.scratch[flat] = ids  # the last write wins: later objects are on top
        top = self.scratch[flat] == ids
        self.scratch[flat] = 0
        flat, ids = flat[top], ids[top]
        alpha = np.concatenate([look.alpha for look in looks])[inside][top] * self.uncovered[flat]
        colour = (
            np.concatenate([look.colour for look in looks])[inside][top] * self.shade[flat, None]
        )
        pixels = canvas.reshape(-1, 3)
        pixels[flat] = pixels[flat] * (1 - alpha[:, None]) + colour * alpha[:, None] + 0.5
        solid = alpha >= sc.SILHOUETTE_ALPHA
        owner.reshape(-1)[flat[solid]] = ids[solid]
        boxes = np.array([look.box for look in looks], np.int64).reshape(-1, 4) + np.stack(
            [x0, x0, y0, y0], axis=1
        )
        return _Layer(
            index, boxes, np.array([look.area for look in looks]), flat[solid], ids[solid]
        )

    def visible(
        self, owner: np.ndarray, layer: _Layer, offset: tuple[float, float], size: tuple[int, int]
    ) -> np.ndarray:
        """Visible silhouette pixels per owner value, inside the frame whose top-left is at `offset`.

        Output pixel u samples world x = u + ox, so world pixels from ceil(ox - 0.5) on are in view.
        """
        wx0, wy0 = math.ceil(offset[0] - 0.5), math.ceil(offset[1] - 0.5)
        ys, xs = np.divmod(layer.pixels, self.width)
        shown = (
            (owner.reshape(-1)[layer.pixels] == layer.owners)
            & (xs >= wx0)
            & (xs < wx0 + size[0])
            & (ys >= wy0)
            & (ys < wy0 + size[1])
        )
        return np.bincount(layer.owners[shown], minlength=int(layer.index.max(initial=-1)) + 2)


def _clip(
    shape: tuple[int, ...], x0: int, y0: int, *patches: np.ndarray
) -> tuple[tuple[slice, slice] | None, list[np.ndarray]]:
    """The canvas region that patches placed at (x0, y0) cover, and the matching part of each."""
    h, w = patches[0].shape[:2]
    cx0, cy0 = max(x0, 0), max(y0, 0)
    cx1, cy1 = min(x0 + w, shape[1]), min(y0 + h, shape[0])
    if cx1 <= cx0 or cy1 <= cy0:
        return None, [p[:0, :0] for p in patches]
    return (slice(cy0, cy1), slice(cx0, cx1)), [
        p[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0] for p in patches
    ]


def _spaced(
    rng: np.random.Generator, length: float, spacing: float, mean_gap: float
) -> list[float]:
    """Random positions along `length`, at least `spacing` apart plus a random gap."""
    positions, s = [], float(rng.exponential(mean_gap))
    while s < length:
        positions.append(s)
        s += spacing + float(rng.exponential(mean_gap))
    return positions


# --- motion along routes (ships, airplanes) ------------------------------------------------------

SHIP_SPEED = (0.25, 0.7)
"""Ship cruise speeds, px/frame (2.5-7 m/s at 1 m/px and 10 fps); one per route, so ships on
a route keep their distance."""
SHIP_SPACING = 700.0
"""Mean extra gap between ships on a route at the start, px, at density 1."""
SHIP_ARRIVALS = 1 / 500
"""Ships entering per route per frame, at density 1."""
TAXI_SPEED = (0.6, 0.9)
"""Airplane taxi speeds, px/frame."""
PUSHBACK_SPEED = 0.3
ROUTE_ACCEL = 0.01
"""Acceleration of ships and airplanes, px/frame^2 (heavy: they take seconds to get going)."""
SPEED_WOBBLE = 0.12
"""Relative amplitude of the slow speed variation every mover and car has."""


class _Path:
    """A polyline parametrised by arc length."""

    def __init__(self, points: np.ndarray) -> None:
        self.points = np.asarray(points, np.float64)
        steps = np.linalg.norm(np.diff(self.points, axis=0), axis=1)
        self.cum = np.r_[0.0, np.cumsum(steps)]
        self.length = float(self.cum[-1])

    def at(self, s: float) -> tuple[float, float, float]:
        """(x, y, heading of travel) at arc length `s`."""
        x = float(np.interp(s, self.cum, self.points[:, 0]))
        y = float(np.interp(s, self.cum, self.points[:, 1]))
        a, b = max(0.0, s - 1.5), min(self.length, s + 1.5)
        dx = np.interp(b, self.cum, self.points[:, 0]) - np.interp(a, self.cum, self.points[:, 0])
        dy = np.interp(b, self.cum, self.points[:, 1]) - np.interp(a, self.cum, self.points[:, 1])
        return x, y, math.atan2(dy, dx)


@dataclass
class _Leg:
    path: _Path
    speed: float
    """Cruise speed, px/frame."""
    stop: bool = False
    """Come to rest at the end (then the next leg starts after a pause)."""
    reverse: bool = False
    """Driven backwards (a pushback): the object faces against the direction of travel."""


@dataclass
class _Mover:
    """An object following legs of routes with smooth acceleration and a slowly varying speed."""

    index: int
    sprite: sc.Sprite
    legs: list[_Leg]
    rng: np.random.Generator
    start: int
    """Frame at which it starts moving (-1: already moving); before that it waits at s."""
    s: float
    wake: bool = False
    leg: int = 0
    v: float = 0.0
    pause: int = 0
    active: bool = True
    """False once it has left the world for good."""
    phase: float = field(init=False)
    history: list[tuple[float, float, float]] = field(init=False, default_factory=list)
    """Recent (x, y, heading), newest last: the wake follows it."""

    def __post_init__(self) -> None:
        self.phase = float(self.rng.uniform(0, 2 * math.pi))
        self.v = self.legs[0].speed if self.start < 0 else 0.0

    def step(self, t: int) -> None:
        if t < self.start or not self.active:
            return
        leg = self.legs[self.leg]
        if self.pause > 0:
            self.pause -= 1
            return
        target = leg.speed * (1 + SPEED_WOBBLE * math.sin(t / 40 + self.phase))
        remaining = leg.path.length - self.s
        if leg.stop:
            target = min(target, math.sqrt(2 * ROUTE_ACCEL * max(remaining, 0.0)))
        self.v = max(0.0, self.v + min(max(target - self.v, -2 * ROUTE_ACCEL), ROUTE_ACCEL))
        self.s += self.v
        if self.s >= leg.path.length:
            if self.leg + 1 < len(self.legs):
                self.leg, self.s, self.v, self.pause = (
                    self.leg + 1,
                    0.0,
                    0.0,
                    int(self.rng.integers(10, 40)),
                )
            elif leg.stop:
                self.s = leg.path.length
            elif self.s > leg.path.length + 2 * self.sprite.length:
                self.active = False
        if self.wake:
            self.history.append(self.pose()[1:])
            del self.history[:-WAKE_FRAMES]

    def pose(self) -> tuple[int, float, float, float]:
        leg = self.legs[self.leg]
        x, y, heading = leg.path.at(min(self.s, leg.path.length))
        if self.s > leg.path.length:  # beyond the route's end: carry on straight
            x += math.cos(heading) * (self.s - leg.path.length)
            y += math.sin(heading) * (self.s - leg.path.length)
        return self.index, x, y, heading + (math.pi if leg.reverse else 0.0)


WAKE_FRAMES = 120
"""How many past positions a ship's wake trails behind it (12 s at 10 fps)."""
WAKE_STRIDE = 3
"""Wake segments span this many frames of the track (it is smooth; fewer lines to draw)."""
FOAM = (214.0, 220.0, 220.0)


def _draw_wake(canvas: np.ndarray, ship: _Mover, water: sc.RGB) -> None:
    """Turbulent wake along the ship's past track and the two Kelvin arms, fading with age."""
    track = ship.history
    if len(track) < 2 or ship.v < 0.05:
        return
    beam = ship.sprite.rgba.shape[0] - 2
    recent = track[::-WAKE_STRIDE]
    for step, (b, a) in enumerate(zip(recent, recent[1:], strict=False)):
        age = step * WAKE_STRIDE
        fade = 0.5 * (1 - age / WAKE_FRAMES) ** 1.5
        stern_a = (
            a[0] - math.cos(a[2]) * ship.sprite.length / 2,
            a[1] - math.sin(a[2]) * ship.sprite.length / 2,
        )
        stern_b = (
            b[0] - math.cos(b[2]) * ship.sprite.length / 2,
            b[1] - math.sin(b[2]) * ship.sprite.length / 2,
        )
        colour = tuple(w + (f - w) * fade for w, f in zip(water, FOAM, strict=True))
        cv2.line(
            canvas,
            sc.pixel(stern_a),
            sc.pixel(stern_b),
            colour,
            max(1, round(beam * 0.5 + age / 25)),
            cv2.LINE_AA,
        )
    x, y, heading = track[-1]
    stern = (
        x - math.cos(heading) * ship.sprite.length / 2,
        y - math.sin(heading) * ship.sprite.length / 2,
    )
    arm = ship.v * WAKE_FRAMES * 0.5
    colour = tuple(w + (f - w) * 0.25 for w, f in zip(water, FOAM, strict=True))
    for side in (-1, 1):
        angle = heading + math.pi + side * math.radians(19.5)
        cv2.line(
            canvas,
            sc.pixel(stern),
            sc.pixel((stern[0] + math.cos(angle) * arm, stern[1] + math.sin(angle) * arm)),
            colour,
            1,
            cv2.LINE_AA,
        )


# --- road traffic --------------------------------------------------------------------------------

ACCEL = 0.04
"""Car acceleration, px/frame^2 (4 m/s^2 at 1 m/px and 10 fps)."""
COMFORT_DECEL = 0.05
MAX_DECEL = 0.12
MIN_GAP = 2.0
"""Bumper-to-bumper distance kept when queued, px."""
HEADWAY = 10.0
"""Time gap kept to the car ahead, frames (1 s)."""
LIGHT_CYCLE = 360
"""Traffic light cycle, frames: each axis has green for 45% of it, with all-red between."""
SPAWN_RATE = 0.03
"""Cars entering per entry lane per frame, at density 1."""
LINE_DENSITY = 0.01
"""Cars per lane pixel at the start, at density 1."""
TURN_RIGHT, TURN_LEFT = 0.2, 0.08
"""Chance of turning at an intersection where going straight is possible."""
HALT_RATE = 0.0005
"""Chance per frame that a car in the curb lane stops at the kerb for a while."""
TURN_LOOKAHEAD = 30.0
"""Distance (px) before a turn from which a car checks that the target lane has room."""
TURN_RATE = 0.35
"""Largest heading change per frame, radians: cars swing round corners over a few frames."""
WARMUP = 120
"""Frames simulated before the video starts, so traffic begins queued and flowing."""


@dataclass
class _Car:
    index: int
    length: float
    lane: int
    s: float
    v: float
    v0: float
    heading: float
    phase: float
    halt_at: int
    """Next frame at which the car stops at the kerb, if it is then in the curb lane."""
    halt_until: int = -1
    crossing: int = 0
    """Index of the next crossing on the current lane."""
    came_from: int = -1
    """Road just turned off: its crossing on the new lane is already behind the car."""
    decided: bool = False
    """Whether `turn` holds the choice for the next crossing yet."""
    turn: sc.Turn | None = None
    """The turn to take at the next crossing; None: straight on."""


class _Traffic:
    """Intelligent-driver-model car following on the scene's lanes, with lights and turns."""

    def __init__(self, video: SyntheticVideo, rng: np.random.Generator) -> None:
        self.video, self.rng, self.scene = video, rng, video.scene
        self.density = video.cfg.density
        self.light_offset = rng.integers(0, LIGHT_CYCLE, max(1, self.scene.lights))
        self.cars: list[_Car] = []
        for lane_index, lane in enumerate(self.scene.lanes):
            s = rng.exponential(1 / (LINE_DENSITY * self.density))
            while s < lane.length:
                car = self._new_car(lane_index, s, -WARMUP)
                self.cars.append(car)
                s += car.length + MIN_GAP + 2 + rng.exponential(1 / (LINE_DENSITY * self.density))
        for t in range(-WARMUP, 0):
            self.step(t)

    def _new_car(self, lane: int, s: float, t: int) -> _Car:
        sprite = sc.vehicle_sprite(self.rng, self.scene.shadow_ratio)
        v0 = self.rng.uniform(0.7, 1.6)
        return _Car(
            self.video.new_object("vehicle", sprite),
            sprite.length,
            lane,
            s,
            v0 * self.rng.uniform(0.5, 1.0),
            v0,
            self.scene.lanes[lane].heading,
            float(self.rng.uniform(0, 2 * math.pi)),
            halt_at=t + int(self.rng.geometric(HALT_RATE)),
        )

    def poses(self) -> list[tuple[int, float, float, float]]:
        return [
            (car.index, *self.scene.lanes[car.lane].point(car.s), car.heading) for car in self.cars
        ]

    def step(self, t: int) -> None:
        by_lane: dict[int, list[_Car]] = {}
        for car in self.cars:
            by_lane.setdefault(car.lane, []).append(car)
        for cars in by_lane.values():
            cars.sort(key=lambda c: -c.s)
        for cars in list(by_lane.values()):
            leader: _Car | None = None
            for car in cars:
                self._drive(car, leader, by_lane, t)
                leader = car
        self._spawn(by_lane, t)
        gone = [
            car for car in self.cars if car.s - car.length / 2 > self.scene.lanes[car.lane].length
        ]
        for car in gone:
            self.video.forget_looks(car.index)
        self.cars = [
            car for car in self.cars if car.s - car.length / 2 <= self.scene.lanes[car.lane].length
        ]

    def _drive(
        self, car: _Car, leader: _Car | None, by_lane: dict[int, list[_Car]], t: int
    ) -> None:
        lane = self.scene.lanes[car.lane]
        obstacles = []
        if leader is not None:
            obstacles.append(
                (leader.s - leader.length / 2 - car.s - car.length / 2, car.v - leader.v)
            )
        crossing = self._next_crossing(car)
        front = car.s + car.length / 2
        if crossing is not None:
            if not self._green(crossing.light, lane, t) and front <= crossing.s_stop + 0.5:
                distance = crossing.s_stop - front
                if car.v**2 / (2 * max(distance, 0.1)) <= MAX_DECEL:
                    obstacles.append((distance, car.v))
            turn = car.turn
            if (
                turn is not None
                and turn.s_from - car.s < TURN_LOOKAHEAD
                and self._blocked(car, turn, by_lane)
            ):
                obstacles.append((turn.s_from - car.s - 1, car.v))
        if t >= car.halt_at:
            if lane.curb:
                car.halt_until = t + int(self.rng.integers(30, 150))
            car.halt_at = max(t, car.halt_until) + int(self.rng.geometric(HALT_RATE))
        if car.halt_until >= t:
            accel = -min(COMFORT_DECEL, car.v)
        else:
            v0 = car.v0 * (1 + SPEED_WOBBLE * math.sin(t / 50 + car.phase))
            accel = (
                min(_idm(car.v, v0, gap, dv) for gap, dv in obstacles)
                if obstacles
                else _idm(car.v, v0, math.inf, 0.0)
            )
        car.v = max(0.0, car.v + min(max(accel, -MAX_DECEL), ACCEL))
        car.s += car.v
        if car.turn is not None and car.s >= car.turn.s_from:
            car.came_from, car.lane = lane.road, car.turn.lane
            car.s = car.turn.s_to + car.s - car.turn.s_from
            car.crossing, car.turn, car.decided = 0, None, False
        target = self.scene.lanes[car.lane].heading
        if car.heading != target:
            turn = (target - car.heading + math.pi) % (2 * math.pi) - math.pi
            car.heading += min(max(turn, -TURN_RATE), TURN_RATE)

    def _next_crossing(self, car: _Car) -> sc.Crossing | None:
        crossings = self.scene.crossings[car.lane]
        while car.crossing < len(crossings) and (
            crossings[car.crossing].s_exit < car.s or crossings[car.crossing].road == car.came_from
        ):
            car.crossing, car.decided = car.crossing + 1, False
        if car.crossing == len(crossings):
            return None
        crossing = crossings[car.crossing]
        if not car.decided:
            car.turn, car.decided = self._decide(crossing), True
        return crossing

    def _decide(self, c: sc.Crossing) -> sc.Turn | None:
        if c.straight:
            if c.right is not None and self.rng.random() < TURN_RIGHT:
                return c.right
            if c.left is not None and self.rng.random() < TURN_LEFT:
                return c.left
            return None
        options = [turn for turn in (c.right, c.left) if turn is not None]
        return options[self.rng.integers(len(options))] if options else None

    def _green(self, light: int, lane: sc.Lane, t: int) -> bool:
        phase = ((t + self.light_offset[light]) % LIGHT_CYCLE) / LIGHT_CYCLE
        return phase < 0.45 if lane.direction[1] == 0 else 0.5 <= phase < 0.95

    def _blocked(self, car: _Car, turn: sc.Turn, by_lane: dict[int, list[_Car]]) -> bool:
        return any(
            abs(other.s - turn.s_to) < (other.length + car.length) / 2 + MIN_GAP
            for other in by_lane.get(turn.lane, [])
        )

    def _spawn(self, by_lane: dict[int, list[_Car]], t: int) -> None:
        for index, lane in enumerate(self.scene.lanes):
            if not lane.enters or self.rng.random() >= SPAWN_RATE * self.density:
                continue
            cars = by_lane.get(index, [])
            if cars and min(c.s - c.length / 2 for c in cars) < 12 + 2 * MIN_GAP:
                continue
            self.cars.append(self._new_car(index, 0.0, t))


def _idm(v: float, v0: float, gap: float, dv: float) -> float:
    """Intelligent driver model acceleration for speed v, desired v0, gap and closing speed dv."""
    desired_gap = MIN_GAP + v * HEADWAY + v * dv / (2 * math.sqrt(ACCEL * COMFORT_DECEL))
    return ACCEL * (1 - (v / max(v0, 1e-3)) ** 4 - (max(desired_gap, 0.0) / max(gap, 0.01)) ** 2)


# --- clouds ---------------------------------------------------------------------------------------


CLOUD_HIDES = 0.5
"""Cloud opacity from which the ground below counts as hidden (visibility)."""
CLOUD_SHADOW = 0.35
"""Share of sunlight a puff at full opacity takes from the ground below its shadow."""


@dataclass(frozen=True)
class _Puff:
    colour: np.ndarray
    """uint8 [n, n, 3] straight colour."""
    alpha: np.ndarray
    """float32 [n, n] opacity."""
    shadow: np.ndarray
    """uint8 [n, n, 3] light left below the puff's shadow, 255 = all."""
    centre: tuple[float, float]
    """World position at frame `t_centre`."""
    t_centre: float
    lift: float
    """Shadow offset, px: how high the puff floats."""


class _Clouds:
    """Puffs drifting with one wind, each crossing the frame once; they hide what is below."""

    def __init__(self, cfg: SynthConfig, scene: sc.Scene, rng: np.random.Generator) -> None:
        angle, speed = rng.uniform(0, 2 * math.pi), rng.uniform(0.5, 1.5)
        self.wind = (math.cos(angle) * speed, math.sin(angle) * speed)
        self.shadow_dir = scene.shadow_dir
        self.puffs = []
        for _ in range(rng.poisson(cfg.cloud_puffs)):
            n = int(rng.uniform(0.25, 0.6) * min(cfg.width, cfg.height, 400))
            colour, alpha = _cloud_sprite(rng, n)
            shadow = np.repeat(255 * (1 - CLOUD_SHADOW * alpha[..., None]), 3, axis=2).astype(
                np.uint8
            )
            centre = (rng.uniform(0, cfg.width) + sc.MARGIN, rng.uniform(0, cfg.height) + sc.MARGIN)
            self.puffs.append(
                _Puff(
                    colour, alpha, shadow, centre, rng.uniform(0, cfg.frames), rng.uniform(20, 60)
                )
            )

    def draw(self, canvas: np.ndarray, owner: np.ndarray, t: int) -> None:
        """Draw the puffs and their shadows; pixels under dense cloud lose their owner."""
        for puff in self.puffs:
            n = puff.alpha.shape[0]
            x0 = round(puff.centre[0] + self.wind[0] * (t - puff.t_centre) - n / 2)
            y0 = round(puff.centre[1] + self.wind[1] * (t - puff.t_centre) - n / 2)
            sx, sy = (
                x0 + round(self.shadow_dir[0] * puff.lift),
                y0 + round(self.shadow_dir[1] * puff.lift),
            )
            region, (shadow,) = _clip(canvas.shape, sx, sy, puff.shadow)
            if region is not None:
                canvas[region] = cv2.multiply(canvas[region], shadow, scale=1 / 255)
            region, (colour, alpha) = _clip(canvas.shape, x0, y0, puff.colour, puff.alpha)
            if region is not None:
                canvas[region] = cv2.blendLinear(canvas[region], colour, 1 - alpha, alpha)
                owner[region][alpha >= CLOUD_HIDES] = 0


def _cloud_sprite(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A soft, lumpy puff of n x n pixels: straight colour (uint8) and opacity (at most ~0.9)."""
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32) / n - 0.5
    falloff = np.exp(-(xx**2 + yy**2) / 0.05)
    lumps = 0.55 + 0.45 * sc.smooth_noise(rng, n, n, max(4, n / 8))
    alpha = np.clip((falloff * lumps - 0.25) * 2.2, 0, 0.92).astype(np.float32)
    alpha = cv2.GaussianBlur(alpha, (0, 0), max(1.0, n / 40))
    shading = np.repeat((232 - 18 * np.clip(yy + xx, -0.5, 0.5))[..., None], 3, axis=2)
    colour = sc.grade(shading.astype(np.float32), np.ones((1, 1, 1), np.float32))
    return np.clip(colour, 0, 255).astype(np.uint8), alpha


# --- sensor ---------------------------------------------------------------------------------------


BLUR_KERNEL = (3, 3)
"""Optics blur support: enough for sigma up to ~0.8 px, and much cheaper than the 5x5 OpenCV picks."""


class _Sensor:
    """Platform jitter (sub-pixel whole-frame shifts), optics blur, brightness drift, noise."""

    NOISE_PAD = 16

    def __init__(self, cfg: SynthConfig, rng: np.random.Generator) -> None:
        self.cfg = cfg
        t = np.arange(cfg.frames)
        self.jitter = np.stack([self._wobble(rng, t) for _ in range(2)], axis=1) * cfg.jitter_px
        period = cfg.frames * rng.uniform(1, 3)
        self.gain = 1 + cfg.brightness_drift * np.sin(
            2 * math.pi * t / period + rng.uniform(0, 2 * math.pi)
        )
        self.noise_offsets = rng.integers(0, self.NOISE_PAD, (cfg.frames, 2))
        shape = (cfg.height + self.NOISE_PAD, cfg.width + self.NOISE_PAD, 3)
        self.noise = np.clip(
            128 + rng.standard_normal(shape, dtype=np.float32) * cfg.noise_sigma, 0, 255
        ).astype(np.uint8)

    @staticmethod
    def _wobble(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
        """A smooth oscillation in [-1, 1]: slow drift plus faster vibration."""
        slow = np.sin(2 * math.pi * t / rng.uniform(20, 60) + rng.uniform(0, 2 * math.pi))
        fast = np.sin(2 * math.pi * t / rng.uniform(5, 12) + rng.uniform(0, 2 * math.pi))
        return 0.65 * slow + 0.35 * fast

    def offset(self, t: int) -> tuple[float, float]:
        """World position of the frame's top-left corner at frame t."""
        return sc.MARGIN + float(self.jitter[t, 0]), sc.MARGIN + float(self.jitter[t, 1])

    def expose(self, canvas: np.ndarray, t: int) -> np.ndarray:
        width, height = self.cfg.width, self.cfg.height
        ox, oy = self.offset(t)
        ix, iy = math.floor(ox), math.floor(oy)
        fx, fy = ox - ix, oy - iy
        region = canvas[iy : iy + height + 1, ix : ix + width + 1]
        rows = cv2.addWeighted(region[:, :width], 1 - fx, region[:, 1:], fx, 0)
        frame = cv2.addWeighted(rows[:height], 1 - fy, rows[1:], fy, 0)
        if self.cfg.blur_sigma > 0:
            frame = cv2.GaussianBlur(frame, BLUR_KERNEL, self.cfg.blur_sigma)
        if self.cfg.noise_sigma > 0 or self.cfg.brightness_drift > 0:
            dy, dx = self.noise_offsets[t]
            noise = self.noise[dy : dy + height, dx : dx + width]
            frame = cv2.addWeighted(frame, float(self.gain[t]), noise, 1.0, -128)
        return frame


# --- meta -------------------------------------------------------------------------------------------

CITIES = (
    ("Shanghai", 121.49, 31.23),
    ("Tianjin", 117.72, 39.0),
    ("Shenzhen", 113.9, 22.5),
    ("Rotterdam", 4.13, 51.95),
    ("San Diego", -117.17, 32.71),
    ("Dubai", 55.27, 25.26),
    ("Singapore", 103.84, 1.27),
)
"""Port cities with airports: the videos' plausible origins (lon, lat)."""


def _video_meta(cfg: SynthConfig, video_id: str, rng: np.random.Generator) -> dict[str, object]:
    """Timing and georeference: a UTM CRS and a GDAL geotransform north-up at cfg.gsd_m."""
    city, lon, lat = CITIES[rng.integers(len(CITIES))]
    lon += rng.uniform(-0.05, 0.05)
    lat += rng.uniform(-0.05, 0.05)
    epsg = (32600 if lat >= 0 else 32700) + int((lon + 180) // 6) + 1
    easting, northing = Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True).transform(
        lon, lat
    )
    x0 = round(easting - cfg.width * cfg.gsd_m / 2, 2)
    y0 = round(northing + cfg.height * cfg.gsd_m / 2, 2)
    # Sun-synchronous pass near 10:30 local solar time.
    local_solar = timedelta(hours=10.5 + rng.uniform(-0.5, 0.5) - lon / 15)
    day = datetime(2023, 1, 1, tzinfo=timezone.utc) + timedelta(days=int(rng.integers(0, 365)))
    start = (day + local_solar).replace(microsecond=0)
    return {
        "video_id": video_id,
        "fps": cfg.fps,
        "width": cfg.width,
        "height": cfg.height,
        "frames": cfg.frames,
        "start_time": start.isoformat().replace("+00:00", "Z"),
        "crs": f"EPSG:{epsg}",
        "geotransform": [x0, cfg.gsd_m, 0.0, y0, 0.0, -cfg.gsd_m],
        "gsd_m": cfg.gsd_m,
        "place": city,
    }
