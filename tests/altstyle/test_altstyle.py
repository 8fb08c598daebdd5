"""The alternative style family (tgram.altstyle): layout, exact gt, motion truth, determinism
and config (its CLI and import boundary: tests/data/test_rendered.py)."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.rendered_archive import check_rendered_video
from tgram.altstyle import AltStyleConfig, AltVideo, generate_altstyle_archive
from tgram.altstyle.shapes import airplane, paint, ship, vehicle
from tgram.classes import CLASS_NAMES, gt_class_id
from tgram.config import ConfigError, load_config
from tgram.data.formats import read_gt, read_speed_truth

ROOT = Path(__file__).resolve().parents[2]
TINY = AltStyleConfig(width=320, height=192, frames=5, videos=2, seed=2)
"""Seed 2 draws all three classes in its two videos at this size."""


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    out = tmp_path_factory.mktemp("altstyle")
    return out, generate_altstyle_archive(out, TINY)


@pytest.fixture(scope="module")
def videos() -> list[AltVideo]:
    return [AltVideo(TINY, i) for i in range(TINY.videos)]


def test_archive_layout_readers_and_rendered_gt(
    archive: tuple[Path, list[str]], videos: list[AltVideo]
) -> None:
    out, ids = archive
    assert ids == ["altstyle_0000", "altstyle_0001"]
    for vid, video in zip(ids, videos, strict=True):
        gt, meta = check_rendered_video(out, vid, 5, 320, 192)
        rendered = np.concatenate([g for _, g in video.frames()])
        np.testing.assert_array_equal(gt["id"], rendered["id"])
        np.testing.assert_allclose(gt["x"], rendered["x"], atol=0.006)
        assert meta["style"]["renderer"] == "tgram.altstyle"
        assert 0.45 <= meta["gsd_m"] <= 0.8 and len(meta["platform_shift_px"]) == 5


def test_all_classes_drawn(videos: list[AltVideo]) -> None:
    classes = set()
    for v in videos:
        classes |= set(np.unique(v.render(0)[1]["cls"]).tolist())
    assert classes == {gt_class_id(c) for c in CLASS_NAMES}


def test_design_box_is_the_tight_box_of_the_painted_pixels() -> None:
    rng = np.random.default_rng(0)
    for k in range(45):
        design = (vehicle, ship, airplane)[k % 3](rng)
        gsd = float(rng.uniform(0.45, 0.8))
        x, y, heading = (
            100 + rng.uniform(0, 1),
            100 + rng.uniform(0, 1),
            rng.uniform(0, 2 * math.pi),
        )
        canvas = np.zeros((200, 200, 3), np.float32)
        for pts in design.posed(x, y, heading, gsd):
            paint(canvas, pts, (255.0, 255.0, 255.0))
        ys, xs = np.nonzero(canvas[..., 0] > 1)
        x1, y1, x2, y2 = design.box(x, y, heading, gsd)
        # painted pixels span the box's pixels, give or take the anti-aliased edge
        assert abs(xs.min() - x1) <= 1.0 and abs(xs.max() + 1 - x2) <= 1.0, design.cls
        assert abs(ys.min() - y1) <= 1.0 and abs(ys.max() + 1 - y2) <= 1.0, design.cls


def test_platform_motion_moves_static_gt_and_the_picture() -> None:
    cfg = replace(TINY, jitter_px=2.0, drift_px=12.0, frames=12, videos=1, seed=3)
    v = AltVideo(cfg, 0)
    shift = v.offsets[11] - v.offsets[0]
    assert np.hypot(*shift) > 1.0
    a_img, a = v.render(0)
    b_img, b = v.render(11)
    n_static = len(v.world.statics)
    common = 0
    for r in a[(a["id"] <= n_static) & (a["visibility"] == 1)]:
        (s,) = b[b["id"] == r["id"]]
        if s["visibility"] < 1:
            continue
        assert s["x"] - r["x"] == pytest.approx(-shift[0], abs=1e-3)
        assert s["y"] - r["y"] == pytest.approx(-shift[1], abs=1e-3)
        common += 1
    assert common > 3
    ga = cv2.cvtColor(a_img, cv2.COLOR_RGB2GRAY).astype(np.float32)
    gb = cv2.cvtColor(b_img, cv2.COLOR_RGB2GRAY).astype(np.float32)
    (dx, dy), _ = cv2.phaseCorrelate(ga, gb)
    assert dx == pytest.approx(-shift[0], abs=0.3) and dy == pytest.approx(-shift[1], abs=0.3)
    meta_shift = np.asarray(v.meta["platform_shift_px"])[11]
    np.testing.assert_allclose(meta_shift, -shift, atol=1e-3)


def test_speed_truth_parked_zero_movers_at_their_lane_speed(
    archive: tuple[Path, list[str]],
) -> None:
    out, ids = archive
    v = AltVideo(TINY, 0)
    speeds = read_speed_truth(out / "speeds" / f"{ids[0]}.csv")
    gt = read_gt(out / "gt" / f"{ids[0]}.txt")
    np.testing.assert_array_equal(speeds["id"], gt["id"])
    static = speeds["id"] <= len(v.world.statics)
    assert static.any() and (speeds["speed_mps"][static] == 0).all()
    lane_speeds = {round(p.speed * v.look.gsd_m * TINY.fps, 2) for p in v.world.paths}
    moving = speeds["speed_mps"][~static]
    assert (moving > 0).any()
    assert all(min(abs(s - q) for q in lane_speeds) < 0.01 for s in moving if s > 0)


def test_deterministic_per_seed_byte_for_byte(tmp_path: Path) -> None:
    cfg = replace(TINY, videos=1, frames=3, seed=7)
    generate_altstyle_archive(tmp_path / "a", cfg)
    generate_altstyle_archive(tmp_path / "b", cfg)
    for rel in ("videos/altstyle_0000.mp4", "gt/altstyle_0000.txt", "meta/altstyle_0000.json"):
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    a, b = AltVideo(cfg, 0), AltVideo(replace(cfg, seed=8), 0)
    assert a.look != b.look


def test_sizes_and_density_of_the_default() -> None:
    v = AltVideo(AltStyleConfig(frames=1, videos=1, seed=5), 0)
    gt = v.render(0)[1]
    assert 100 <= len(gt) <= 1200
    cars = gt[(gt["cls"] == gt_class_id("vehicle")) & (gt["visibility"] == 1)]
    long_side = np.median(np.hypot(cars["w"], cars["h"]))
    assert 5 <= long_side <= 13


def test_config_validation_and_yaml_defaults(tmp_path: Path) -> None:
    assert (
        load_config(ROOT / "configs" / "altstyle" / "default.yaml", AltStyleConfig)
        == AltStyleConfig()
    )
    assert load_config(ROOT / "configs" / "altstyle" / "val_alt.yaml", AltStyleConfig).seed == 2500
    with pytest.raises(ValueError, match="gsd_range"):
        AltStyleConfig(gsd_range=(0.9, 0.5))
    with pytest.raises(ValueError, match="traffic must be in"):
        AltStyleConfig(traffic=0)
    bad = tmp_path / "bad.yaml"
    bad.write_text("width: 256\ngsd_range: [0.5]\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:2: key 'gsd_range' expected 2 items"):
        load_config(bad, AltStyleConfig)
