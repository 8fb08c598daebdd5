from __future__ import annotations

import numpy as np
import pytest

from tgram.data.augment import (
    AugmentConfig,
    crop_affine,
    jitter_hsv,
    random_affine,
    warp_boxes,
    warp_frames,
)


def test_crop_affine_centres_the_point() -> None:
    m = crop_affine((100.0, 50.0), (32, 64))
    assert np.allclose(m @ [100, 50, 1], [32, 16])


def test_flip_mirrors_inside_the_crop() -> None:
    m = crop_affine((100.0, 50.0), (32, 64), flip=True)
    assert np.allclose(m @ [100 + 10, 50, 1], [32 - 10, 16])


@pytest.mark.parametrize("angle", [0.0, 90.0, 30.0])
def test_boxes_follow_the_pixels(angle: float) -> None:
    """A bright rectangle warped with the frame stays inside its warped box."""
    frame = np.zeros((120, 160, 3), np.uint8)
    frame[40:48, 60:64] = 255  # 4 x 8 px object
    box = np.array([[60, 40, 64, 48]], np.float32)
    m = crop_affine((62.0, 44.0), (64, 64), angle_deg=angle, scale=1.5)
    out = warp_frames([frame], m, (64, 64))[0, :, :, 0]
    boxes, keep = warp_boxes(box, m, (64, 64))
    assert keep.tolist() == [True]
    x1, y1, x2, y2 = boxes[0]
    ys, xs = np.nonzero(out > 128)
    assert xs.min() >= np.floor(x1) - 1 and xs.max() <= np.ceil(x2) + 1
    assert ys.min() >= np.floor(y1) - 1 and ys.max() <= np.ceil(y2) + 1
    # the box is tight: bright pixels reach near every side
    assert xs.max() - xs.min() >= (x2 - x1) - 3 and ys.max() - ys.min() >= (y2 - y1) - 3


def test_mostly_outside_boxes_are_dropped_and_kept_ones_clipped() -> None:
    boxes = np.array([[0, 0, 10, 10], [26, 10, 34, 20], [29, 10, 37, 20]], np.float32)
    m = crop_affine((16.0, 16.0), (32, 32))
    out, keep = warp_boxes(boxes, m, (32, 32))
    assert keep.tolist() == [True, True, False]
    assert out[1, 2] == 32


def test_empty_boxes() -> None:
    out, keep = warp_boxes(np.zeros((0, 4), np.float32), crop_affine((5.0, 5.0), (32, 32)), (32, 32))
    assert out.shape == (0, 4) and keep.shape == (0,)


def test_random_affine_centres_on_objects_when_asked() -> None:
    rng = np.random.default_rng(0)
    cfg = AugmentConfig(scale=0, rotate_deg=0, translate=0, flip=False, object_centred=1.0)
    boxes = np.array([[500, 300, 504, 308]], np.float32)
    m = random_affine(rng, (1080, 1920), (64, 64), boxes, cfg)
    assert np.allclose(m @ [502, 304, 1], [32, 32])


def test_hsv_jitter_same_gain_for_all_frames() -> None:
    rng = np.random.default_rng(1)
    frame = np.random.default_rng(2).integers(0, 255, (16, 16, 3), dtype=np.uint8)
    out = jitter_hsv(np.stack([frame, frame, frame]), rng, (0.02, 0.5, 0.5))
    assert np.array_equal(out[0], out[1]) and np.array_equal(out[0], out[2])
    assert not np.array_equal(out[0], frame)
