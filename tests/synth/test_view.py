"""Turned views (tgram.synth.view): frames and gt of a turned video against the upright one."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tgram.data.meta import load_meta
from tgram.synth.config import StyleRanges, SynthConfig
from tgram.synth.video import SyntheticVideo
from tgram.synth.view import View


def _video(angle: float, size: tuple[int, int] = (256, 256)) -> SyntheticVideo:
    """A clean video (no noise, jitter, drift or clouds) so that frames compare exactly."""
    ranges = StyleRanges(
        view_angle_deg=(angle, angle),
        noise_sigma=(0.0, 0.0),
        jitter_px=(0.0, 0.0),
        drift_px=(0.0, 0.0),
        gsd_m=(0.6, 0.6),
    )
    cfg = SynthConfig(
        width=size[0], height=size[1], frames=3, seed=5, style_ranges=ranges, cloud_puffs=0
    )
    return SyntheticVideo(cfg, 0)


def test_a_quarter_turn_is_the_upright_frame_turned_exactly_with_its_boxes():
    upright, turned = _video(0.0), _video(90.0)
    assert not upright.view.turned and turned.view.turned
    for a, b in zip(upright.frames(), turned.frames(), strict=True):
        np.testing.assert_array_equal(np.rot90(a.image, 1), b.image)
        assert len(a.gt) > 10
        np.testing.assert_array_equal(a.gt["id"], b.gt["id"])
        # a counter-clockwise quarter turn of the array: (x, y) -> (y, W - x)
        np.testing.assert_allclose(b.gt["x"], a.gt["y"], atol=1e-9)
        np.testing.assert_allclose(b.gt["y"], 256 - a.gt["x"] - a.gt["w"], atol=1e-9)
        np.testing.assert_allclose(b.gt["w"], a.gt["h"], atol=1e-9)
        np.testing.assert_allclose(b.gt["h"], a.gt["w"], atol=1e-9)
        np.testing.assert_array_equal(a.gt["visibility"], b.gt["visibility"])


def test_turned_boxes_are_tight_and_the_footprint_holds_the_frame():
    video = _video(33.0, (320, 192))
    fw, fh = video.view.footprint
    c, s = math.cos(math.radians(33)), math.sin(math.radians(33))
    assert (fw, fh) == (math.ceil(320 * c + 192 * s), math.ceil(320 * s + 192 * c))
    frame = next(iter(video.frames()))
    # no border: the world reaches every corner of the turned frame
    assert (frame.image.reshape(-1, 3).std(axis=0) > 0).all()
    gt = frame.gt[(frame.gt["visibility"] == 1) & (frame.gt["w"] > 3)]
    assert len(gt) > 5
    x0, x1 = gt["x"], gt["x"] + gt["w"]
    y0, y1 = gt["y"], gt["y"] + gt["h"]
    assert (x0 >= 0).all() and (x1 <= 320).all() and (y0 >= 0).all() and (y1 <= 192).all()
    # each box is tight: its edge rows and columns differ from the ground just outside more
    # than a box grown by 3 px does (the object is inside, not a margin of road)
    image = frame.image.astype(np.float64)
    tight = grown = 0
    for bx0, bx1, by0, by1 in zip(x0, x1, y0, y1, strict=True):
        i0, i1, j0, j1 = (int(math.floor(v)) for v in (bx0, bx1, by0, by1))
        if min(i0, j0) < 4 or i1 > 316 or j1 > 188:
            continue
        inner = image[j0:j1, i0:i1].reshape(-1, 3)
        ring = np.concatenate(
            [image[j0 - 3 : j0, i0:i1].reshape(-1, 3), image[j1 : j1 + 3, i0:i1].reshape(-1, 3)]
        )
        tight += np.abs(inner.mean(0) - ring.mean(0)).sum()
        grown += 1
    assert grown > 3 and tight / grown > 10


def test_a_turned_meta_geotransform_and_platform_shift_are_in_frame_axes(tmp_path):
    ranges = StyleRanges(view_angle_deg=(90.0, 90.0), drift_px=(6.0, 6.0))
    cfg = SynthConfig(width=128, height=96, frames=4, seed=2, style_ranges=ranges)
    video = SyntheticVideo(cfg, 0)
    meta = video.meta
    assert meta["style"]["view_angle_deg"] == 90.0
    x0, g1, g2, y0, g4, g5 = meta["geotransform"]
    gsd = meta["gsd_m"]
    # the image x axis points south (world +y), its y axis west
    assert (g1, g2, g4, g5) == pytest.approx((0.0, -gsd, -gsd, 0.0))
    shift = np.asarray(meta["platform_shift_px"])
    world = np.array([video._sensor.offset(t) for t in range(4)])
    world_shift = world[0] - world
    # turned by 90 degrees: a world shift (dx, dy) is (dy, -dx) in the frame
    np.testing.assert_allclose(
        shift, np.stack([world_shift[:, 1], -world_shift[:, 0]], 1), atol=2e-3
    )
    uri = tmp_path / "meta.json"
    uri.write_text(json.dumps(meta))
    assert load_meta(str(uri)).gsd_m == pytest.approx(gsd)


def test_views_default_upright_and_ranges_are_checked():
    assert not View(64, 64).turned and View(64, 64).footprint == (64, 64)
    assert View(64, 32, 360.0).footprint == (64, 32)
    with pytest.raises(ValueError, match="view_angle_deg"):
        StyleRanges(view_angle_deg=(0.0, 400.0))
