"""One alternative-style video (`AltVideo`) and the archive writer (`generate_altstyle_archive`).

A frame is the static world seen through the platform's window at a sub-pixel offset (bicubic
resampling), the movers painted at their sub-pixel positions, then the sensor: white balance,
saturation, haze, Gaussian optics, gamma, signal-dependent noise, 8-bit quantisation and, in
most videos, a JPEG round trip (8x8 blocking) before the archive's own H.264.

Ground truth per frame: every object whose posed outline reaches into the frame; its box is
the tight box of its parts (shadow excluded) in frame pixels, clipped; visibility is the
share of that box inside the frame. Ids are 1-based: static objects first, then movers in
order of first appearance; a mover that wraps round its path is a new object.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path as FilePath

import cv2
import numpy as np

from tgram.altstyle.config import AltStyleConfig
from tgram.altstyle.look import Look, draw_look
from tgram.altstyle.scene import World, build_world
from tgram.altstyle.shapes import Design, draw, paint
from tgram.classes import gt_class_id
from tgram.data.formats import GT_DTYPE, POSITION_DTYPE, speed_truth
from tgram.data.rendered import Progress, imaginary_meta, write_rendered_archive

_SALT = 0xA175
"""Mixed into every seed, so this family never replays another generator's stream."""
CRS = "EPSG:32631"
"""A fixed, fake UTM zone: the places are imaginary."""


class AltVideo:
    def __init__(self, cfg: AltStyleConfig, index: int) -> None:
        self.cfg, self.index = cfg, index
        self.video_id = f"altstyle_{index:04d}"
        s_look, s_world, s_platform, s_meta = np.random.SeedSequence(
            [cfg.seed, index, _SALT]
        ).spawn(4)
        self.look: Look = draw_look(cfg, np.random.default_rng(s_look))
        m = cfg.margin
        self.world: World = build_world(
            cfg.width + 2 * m, cfg.height + 2 * m, self.look, np.random.default_rng(s_world)
        )
        self.offsets = platform_offsets(cfg, np.random.default_rng(s_platform))
        meta = imaginary_meta(
            self.video_id,
            np.random.default_rng(s_meta),
            cfg,
            crs=CRS,
            year=2025,
            hours=(9.0, 12.0),
            gsd_m=self.look.gsd_m,
            place=self.look.place,
            offsets=self.offsets,
        )
        self.meta = {**meta, "style": self.look.meta}
        self._movers = self._mover_ids()

    def _mover_ids(self) -> list[list[tuple[int, Design, float, float, float]]]:
        """Each frame's movers: (gt id, design, x, y, heading) in world px."""
        n_static = len(self.world.statics)
        ids: dict[tuple[int, int, int], int] = {}
        frames = []
        for t in range(self.cfg.frames):
            row = []
            for p_i, path in enumerate(self.world.paths):
                heading = math.atan2(path.direction[1], path.direction[0])
                for m_i, (design, s0) in enumerate(path.movers):
                    s = s0 + path.speed * t
                    lap, s = divmod(s, path.length)
                    key = (p_i, m_i, int(lap))
                    if key not in ids:
                        ids[key] = n_static + len(ids) + 1
                    x, y = path.start + path.direction * s
                    row.append((ids[key], design, float(x), float(y), heading))
            frames.append(row)
        return frames

    def positions(self) -> np.ndarray:
        """POSITION_DTYPE rows: every object's world centre in every frame (speed truth)."""
        rows = []
        for t in range(self.cfg.frames):
            rows += [(t, i + 1, s.x, s.y) for i, s in enumerate(self.world.statics)]
            rows += [(t, gid, x, y) for gid, _, x, y, _ in self._movers[t]]
        return np.array(rows, POSITION_DTYPE)

    def speed_truth(self, gt: np.ndarray) -> np.ndarray:
        return speed_truth(gt, self.positions(), self.look.gsd_m, self.cfg.fps)

    def frames(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for t in range(self.cfg.frames):
            yield self.render(t)

    def render(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """(RGB uint8 frame, GT_DTYPE rows) of frame t."""
        cfg, look = self.cfg, self.look
        ox, oy = self.offsets[t]
        window = np.float32([[1, 0, -ox], [0, 1, -oy]])
        canvas = cv2.warpAffine(
            self.world.image,
            window,
            (cfg.width, cfg.height),
            flags=cv2.INTER_CUBIC,
            borderMode=cv2.BORDER_REFLECT,
        )
        objects = [(i + 1, s.design, s.x, s.y, s.heading) for i, s in enumerate(self.world.statics)]
        for _, design, x, y, heading in self._movers[t]:
            if design.cls == "ship":
                _wake(canvas, design, x - ox, y - oy, heading, look)
            draw(canvas, design, x - ox, y - oy, heading, look.gsd_m, look.sun, look.shadow_per_m)
        objects += self._movers[t]
        rows = [r for r in (self._row(t, *o, ox, oy) for o in objects) if r is not None]
        gt = np.array(sorted(rows, key=lambda r: r[1]), GT_DTYPE) if rows else np.zeros(0, GT_DTYPE)
        return sense(canvas, look, np.random.default_rng([cfg.seed, self.index, _SALT, 1, t])), gt

    def _row(
        self,
        t: int,
        gid: int,
        design: Design,
        x: float,
        y: float,
        heading: float,
        ox: float,
        oy: float,
    ) -> tuple[object, ...] | None:
        x1, y1, x2, y2 = design.box(x - ox, y - oy, heading, self.look.gsd_m)
        cx1, cy1 = max(x1, 0.0), max(y1, 0.0)
        cx2, cy2 = min(x2, float(self.cfg.width)), min(y2, float(self.cfg.height))
        if cx2 <= cx1 or cy2 <= cy1:
            return None
        vis = (cx2 - cx1) * (cy2 - cy1) / max((x2 - x1) * (y2 - y1), 1e-9)
        return (t, gid, cx1, cy1, cx2 - cx1, cy2 - cy1, 1, gt_class_id(design.cls), min(1.0, vis))


def _wake(
    canvas: np.ndarray, design: Design, x: float, y: float, heading: float, look: Look
) -> None:
    """A faint turbulent trail behind the stern, widening with distance."""
    px = 1.0 / look.gsd_m
    f = np.array([math.cos(heading), math.sin(heading)])
    n = np.array([-f[1], f[0]])
    stern = np.array([x, y]) - f * design.length_m / 2 * px
    beam = design.length_m * 0.1 * px
    tail = stern - f * design.length_m * 1.5 * px
    poly = np.array([stern + n * beam, tail + n * beam * 3, tail - n * beam * 3, stern - n * beam])
    paint(canvas, poly, (230.0, 235.0, 235.0), 0.35)


def sense(canvas: np.ndarray, look: Look, rng: np.random.Generator) -> np.ndarray:
    """What the sensor and the ground segment make of the radiance: see the module docstring."""
    img = canvas * np.asarray(look.gain, np.float32)
    grey = img.mean(axis=2, keepdims=True)
    img = grey + (img - grey) * look.saturation
    img = img * (1 - look.haze) + np.asarray(look.airlight, np.float32) * look.haze
    img = cv2.GaussianBlur(img, (0, 0), look.blur_sigma)
    img = 255.0 * (np.clip(img, 0, 255) / 255.0) ** look.gamma
    sigma = look.noise * (1.0 + np.sqrt(img) / 8.0)
    img = img + rng.standard_normal(img.shape, dtype=np.float32) * sigma
    out = np.clip(img + 0.5, 0, 255).astype(np.uint8)
    if look.jpeg_quality is not None:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, look.jpeg_quality])
        out = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    return out


def platform_offsets(cfg: AltStyleConfig, rng: np.random.Generator) -> np.ndarray:
    """[frames, 2] world position of each frame's top-left corner: the margin, a linear
    drift of up to drift_px over the video, and two sinusoids of up to jitter_px."""
    t = np.arange(cfg.frames, dtype=np.float64)
    angle = rng.uniform(0, 2 * math.pi)
    drift = rng.uniform(0.3, 1.0) * cfg.drift_px * t / max(cfg.frames - 1, 1)
    out = np.full((cfg.frames, 2), float(cfg.margin))
    out += np.stack(
        [np.cos(angle) * drift, np.sin(angle) * drift], 1
    ) - cfg.drift_px / 2 * np.array([math.cos(angle), math.sin(angle)])
    for _ in range(2):
        amp = rng.uniform(0, cfg.jitter_px / 2, 2)
        period = rng.uniform(4, 20, 2)
        phase = rng.uniform(0, 2 * math.pi, 2)
        out += amp * np.sin(2 * math.pi * t[:, None] / period + phase)
    return out


def generate_altstyle_archive(
    out: str | FilePath, cfg: AltStyleConfig, progress: Progress | None = None
) -> list[str]:
    """Write `cfg.videos` videos under `out` (local or s3://) in the `tgram synth` layout:
    videos/<id>.mp4, gt/<id>.txt, meta/<id>.json, speeds/<id>.csv; returns their ids.
    `progress(n)` is called as n more frames are done."""
    return write_rendered_archive(str(out), cfg, lambda index: AltVideo(cfg, index), progress)
