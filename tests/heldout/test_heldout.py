"""The held-out style family (tgram.heldout): layout, readers, determinism, exact gt, config."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.rendered_archive import check_rendered_video
from tgram.classes import CLASS_NAMES, gt_class_id
from tgram.config import ConfigError, load_config
from tgram.data.formats import read_gt
from tgram.heldout import HeldoutConfig, HeldoutVideo, generate_heldout_archive
from tgram.heldout.objects import airplane, ship, stamp, vehicle

ROOT = Path(__file__).resolve().parents[2]
TINY = HeldoutConfig(width=256, height=160, frames=6, videos=2, seed=0)
META_KEYS = {
    "video_id",
    "fps",
    "width",
    "height",
    "frames",
    "start_time",
    "crs",
    "geotransform",
    "gsd_m",
    "place",
}


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    out = tmp_path_factory.mktemp("heldout")
    return out, generate_heldout_archive(out, TINY)


@pytest.fixture(scope="module")
def videos() -> list[HeldoutVideo]:
    return [HeldoutVideo(TINY, i) for i in range(TINY.videos)]


def test_archive_layout_and_readers(archive: tuple[Path, list[str]]) -> None:
    out, ids = archive
    assert ids == ["heldout_0000", "heldout_0001"]
    for vid in ids:
        _, meta = check_rendered_video(out, vid, 6, 256, 160)
        assert set(meta) >= META_KEYS and 0.8 <= meta["gsd_m"] <= 1.2


def test_written_gt_equals_rendered_gt(
    archive: tuple[Path, list[str]], videos: list[HeldoutVideo]
) -> None:
    out, ids = archive
    rows = np.concatenate([g for _, g in videos[0].frames()])
    gt = read_gt(out / "gt" / f"{ids[0]}.txt")
    assert len(gt) == len(rows)
    np.testing.assert_array_equal(gt["id"], rows["id"])
    np.testing.assert_allclose(gt["x"], rows["x"], atol=0.006)
    np.testing.assert_allclose(gt["h"], rows["h"], atol=0.006)


def test_all_classes_present(videos: list[HeldoutVideo]) -> None:
    classes = set()
    for v in videos:
        classes |= set(np.unique(v.render(0)[1]["cls"]).tolist())
    assert classes == {gt_class_id(c) for c in CLASS_NAMES}


def test_deterministic_per_seed(videos: list[HeldoutVideo]) -> None:
    again = HeldoutVideo(TINY, 0)
    for t in (0, 5):
        a_img, a_gt = videos[0].render(t)
        b_img, b_gt = again.render(t)
        np.testing.assert_array_equal(a_img, b_img)
        np.testing.assert_array_equal(a_gt, b_gt)
    other = HeldoutVideo(replace(TINY, seed=1), 0)
    o_gt = other.render(0)[1]
    assert len(o_gt) != len(videos[0].render(0)[1]) or not np.array_equal(
        o_gt["x"], videos[0].render(0)[1]["x"]
    )
    # each video of a seed draws its own style
    assert videos[0].style != videos[1].style


def test_stamp_box_is_the_tight_box_of_the_drawn_coverage() -> None:
    rng = np.random.default_rng(0)
    for k in range(60):
        shape = [
            vehicle(rng, 1.8),
            ship(rng, rng.uniform(10, 60)),
            airplane(rng, rng.uniform(25, 60)),
        ][k % 3]
        st = stamp(
            shape,
            rng.uniform(50, 60),
            rng.uniform(50, 60),
            rng.uniform(0, 2 * np.pi),
            (0.6, 0.4, 0.5),
            wake=1.0,
        )
        ys, xs = np.nonzero(st.body > 0.02)
        x1, y1, x2, y2 = st.box
        # the covered pixels are exactly those the box overlaps: [floor(x1), ceil(x2))
        assert -1.02 <= st.x0 + xs.min() - x1 <= 0.02 and -0.02 <= st.x0 + xs.max() + 1 - x2 <= 1.02
        assert -1.02 <= st.y0 + ys.min() - y1 <= 0.02 and -0.02 <= st.y0 + ys.max() + 1 - y2 <= 1.02
        assert st.body.max() == pytest.approx(1.0)


def test_archive_is_reproducible_byte_for_byte(tmp_path: Path) -> None:
    cfg = replace(TINY, videos=1, frames=3, seed=7)
    generate_heldout_archive(tmp_path / "a", cfg)
    generate_heldout_archive(tmp_path / "b", cfg)
    for rel in ("videos/heldout_0000.mp4", "gt/heldout_0000.txt", "meta/heldout_0000.json"):
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel


def _box_mask(gt: np.ndarray, shape: tuple[int, int], grow: int) -> np.ndarray:
    mask = np.zeros(shape, bool)
    for r in gt:
        x0 = max(0, int(np.floor(r["x"])) - grow)
        y0 = max(0, int(np.floor(r["y"])) - grow)
        x1 = int(np.ceil(r["x"] + r["w"])) + grow
        y1 = int(np.ceil(r["y"] + r["h"])) + grow
        mask[y0:y1, x0:x1] = True
    return mask


@pytest.mark.parametrize("index", [0, 1])
def test_gt_boxes_are_the_drawn_footprints(videos: list[HeldoutVideo], index: int) -> None:
    v = videos[index]
    for t in (0, 4):
        with_obj, gt = v.render(t, effects=False, sensor=False)
        without, none = v.render(t, objects=False, effects=False, sensor=False)
        assert len(none) == 0
        diff = np.abs(with_obj.astype(int) - without.astype(int)).max(axis=2)
        changed = diff > 0
        # everything drawn lies in the boxes (1 px for the sub-pixel resampling)
        assert not (changed & ~_box_mask(gt, diff.shape, 1)).any()
        # and every isolated, fully visible box is tight around what was drawn (up to the
        # anti-aliased edge and the bilinear resampling at the platform's sub-pixel offset)
        checked = 0
        for k, r in enumerate(gt):
            if r["visibility"] < 1:
                continue
            others = _box_mask(np.delete(gt, k), diff.shape, 2)
            x0, y0 = int(np.floor(r["x"])) - 1, int(np.floor(r["y"])) - 1
            x1, y1 = int(np.ceil(r["x"] + r["w"])) + 1, int(np.ceil(r["y"] + r["h"])) + 1
            if (
                x0 < 0
                or y0 < 0
                or x1 > diff.shape[1]
                or y1 > diff.shape[0]
                or others[y0:y1, x0:x1].any()
            ):
                continue
            ys, xs = np.nonzero(diff[y0:y1, x0:x1] > 2)
            assert len(xs), f"nothing drawn in box {r}"
            assert (
                abs(x0 + xs.min() - r["x"]) <= 2 and abs(x0 + xs.max() + 1 - (r["x"] + r["w"])) <= 2
            )
            assert (
                abs(y0 + ys.min() - r["y"]) <= 2 and abs(y0 + ys.max() + 1 - (r["y"] + r["h"])) <= 2
            )
            checked += 1
        assert checked >= 5


def test_recorded_frames_differ_inside_boxes_not_outside(videos: list[HeldoutVideo]) -> None:
    v = videos[1]
    img, gt = v.render(2)
    bg, _ = v.render(2, objects=False)
    diff = np.abs(img.astype(float) - bg.astype(float)).mean(axis=2)
    inside = _box_mask(gt, diff.shape, 0)
    near = _box_mask(gt, diff.shape, 6)
    assert diff[inside].mean() > 8 * max(diff[~near].mean(), 0.1)


def test_platform_motion_moves_gt_with_the_frame() -> None:
    cfg = replace(TINY, jitter_px=3.0, drift_px=12.0, frames=12, videos=1, seed=3)
    v = HeldoutVideo(cfg, 0)
    t0, t1 = 0, 11
    shift = v.sensor.offsets[t1] - v.sensor.offsets[t0]
    assert np.hypot(*shift) > 1.0
    a_img, a = v.render(t0, sensor=False)
    b_img, b = v.render(t1, sensor=False)
    static = set(range(1, len(v.scene.static) + 1))
    common = 0
    for r in a:
        if (
            r["id"] not in static
            or r["x"] < 4
            or r["y"] < 4
            or r["x"] + r["w"] > 252
            or r["y"] + r["h"] > 156
        ):
            continue
        (s,) = b[b["id"] == r["id"]]
        assert s["x"] - r["x"] == pytest.approx(-shift[0], abs=1e-3)
        assert s["y"] - r["y"] == pytest.approx(-shift[1], abs=1e-3)
        common += 1
    assert common > 3
    # and the picture moved by the same amount
    ga = cv2.cvtColor(a_img, cv2.COLOR_RGB2GRAY).astype(np.float32)
    gb = cv2.cvtColor(b_img, cv2.COLOR_RGB2GRAY).astype(np.float32)
    (dx, dy), _ = cv2.phaseCorrelate(ga, gb)
    assert dx == pytest.approx(-shift[0], abs=0.3) and dy == pytest.approx(-shift[1], abs=0.3)


def test_sizes_match_the_brief() -> None:
    v = HeldoutVideo(HeldoutConfig(frames=2, videos=1, seed=5), 0)
    gt = v.render(0)[1]
    assert 100 <= len(gt) <= 260
    full = gt[gt["visibility"] == 1]
    cars = full[full["cls"] == gt_class_id("vehicle")]
    long_side = np.median(np.maximum(cars["w"], cars["h"]))
    assert 5.5 <= long_side <= 11
    ships = [p.shape.length for p in v.scene.static if p.shape.cls == "ship"]
    planes = [p.shape.length for p in v.scene.static if p.shape.cls == "airplane"]
    assert all(10 <= s <= 60 for s in ships) and all(25 <= p <= 60 for p in planes)


def test_config_validation_and_yaml_defaults(tmp_path: Path) -> None:
    assert (
        load_config(ROOT / "configs" / "heldout" / "default.yaml", HeldoutConfig) == HeldoutConfig()
    )
    with pytest.raises(ValueError, match="jitter_px"):
        HeldoutConfig(jitter_px=9)
    bad = tmp_path / "bad.yaml"
    bad.write_text("width: 256\nframs: 3\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:2: unknown key 'frams'"):
        load_config(bad, HeldoutConfig)
