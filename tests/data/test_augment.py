from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from tgram.data.augment import (
    AugmentConfig,
    CropGeometry,
    crop_boxes,
    crop_frames,
    draw_geometry,
    jitter_style,
)


def geometry(
    origin=(10, 20), window=(32, 48), out=(32, 48), scale=1.0, rot90=0, flip=False
) -> CropGeometry:
    return CropGeometry(origin, window, out, scale, rot90, flip)


def test_plain_crop_is_an_exact_pixel_copy() -> None:
    frame = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    out = crop_frames([frame, frame], geometry())
    assert out.shape == (2, 32, 48, 3)
    assert np.array_equal(out[0], frame[20:52, 10:58])


def test_outside_the_frame_is_black() -> None:
    frame = np.full((40, 40, 3), 200, np.uint8)
    out = crop_frames([frame], geometry(origin=(-8, -4), window=(16, 16), out=(16, 16)))[0]
    assert out[:4].max() == 0 and out[:, :8].max() == 0 and out[4:, 8:].min() == 200


@pytest.mark.parametrize("rot90", [0, 1, 2, 3])
@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("scale", [0.5, 1.0, 2.0])
def test_boxes_follow_the_pixels(rot90: int, flip: bool, scale: float) -> None:
    """A bright 4x8 px object stays exactly inside its transformed box, and fills it."""
    frame = np.zeros((200, 200, 3), np.uint8)
    frame[40:48, 60:64] = 255
    out_hw = (64, 96)
    resized = out_hw if rot90 % 2 == 0 else out_hw[::-1]
    window = (round(resized[0] / scale), round(resized[1] / scale))
    g = CropGeometry((40, 30), window, out_hw, scale, rot90, flip)
    crop = crop_frames([frame], g)[0, :, :, 0]
    assert crop.shape == out_hw
    boxes, share = crop_boxes(np.array([[60, 40, 64, 48]], np.float32), g)
    assert share.tolist() == [1.0]
    x1, y1, x2, y2 = boxes[0]
    assert (x2 - x1) * (y2 - y1) == pytest.approx(32 * scale * scale)
    ys, xs = np.nonzero(crop > 64)
    assert xs.min() >= np.floor(x1) and xs.max() < np.ceil(x2)
    assert ys.min() >= np.floor(y1) and ys.max() < np.ceil(y2)
    assert xs.max() - xs.min() + 1 >= (x2 - x1) - 1 and ys.max() - ys.min() + 1 >= (y2 - y1) - 1


def test_cut_boxes_report_the_share_inside() -> None:
    boxes = np.array([[0, 0, 10, 10], [26, 10, 34, 20], [40, 40, 50, 50]], np.float32)
    out, share = crop_boxes(boxes, geometry(origin=(0, 0), window=(32, 32), out=(32, 32)))
    assert share.tolist() == pytest.approx([1.0, 0.75, 0.0])
    assert out[1, 2] == 32
    empty, none = crop_boxes(np.zeros((0, 4), np.float32), geometry())
    assert empty.shape == (0, 4) and none.shape == (0,)


def test_geometry_centres_on_objects_with_integer_pixels() -> None:
    cfg = replace(AugmentConfig.none(), object_centred=1.0)
    boxes = np.array([[500, 300, 504, 308]], np.float32)
    g = draw_geometry(
        np.random.default_rng(0), (1080, 1920), (64, 64), boxes, np.zeros(1, np.int64), cfg
    )
    assert (
        g.origin_xy == (502 - 32, 304 - 32)
        and g.window_hw == (64, 64)
        and g.rot90 == 0
        and not g.flip
    )


def test_class_balanced_centring_finds_the_rare_class() -> None:
    """One ship among 99 cars: about half of the object-centred crops centre on the ship."""
    boxes = np.array(
        [[10 * i, 10, 10 * i + 4, 18] for i in range(99)] + [[500, 500, 540, 510]], np.float32
    )
    classes = np.array([2] * 99 + [1])
    rng = np.random.default_rng(0)
    cfg = replace(AugmentConfig.none(), object_centred=1.0)
    on_ship = sum(
        draw_geometry(rng, (1080, 1920), (64, 64), boxes, classes, cfg).origin_xy
        == (520 - 32, 505 - 32)
        for _ in range(400)
    )
    assert 150 < on_ship < 250
    plain = replace(cfg, class_balanced=False)
    assert (
        sum(
            draw_geometry(rng, (1080, 1920), (64, 64), boxes, classes, plain).origin_xy[0] == 488
            for _ in range(400)
        )
        < 20
    )


def test_style_is_shared_by_the_frames_and_changes_them() -> None:
    frame = np.random.default_rng(2).integers(0, 255, (16, 16, 3), dtype=np.uint8)
    cfg = replace(AugmentConfig(), noise_sigma=(0.0, 0.0))
    changed = 0
    for seed in range(8):
        out = jitter_style(np.stack([frame, frame, frame]), np.random.default_rng(seed), cfg)
        assert out.dtype == np.uint8 and out.shape == (3, 16, 16, 3)
        assert np.array_equal(out[0], out[1]) and np.array_equal(out[0], out[2])
        changed += not np.array_equal(out[0], frame)
    assert changed == 8


def test_noise_is_drawn_per_frame() -> None:
    frame = np.full((16, 16, 3), 128, np.uint8)
    cfg = replace(AugmentConfig.none(), noise_sigma=(4.0, 4.0))
    out = jitter_style(np.stack([frame, frame]), np.random.default_rng(0), cfg)
    assert not np.array_equal(out[0], out[1]) and abs(float(out.mean()) - 128) < 1


def test_haze_lowers_contrast_toward_the_airlight() -> None:
    frame = np.zeros((1, 16, 16, 3), np.uint8)
    frame[0, :, 8:] = 255
    cfg = replace(AugmentConfig.none(), haze=0.4)
    spans = []
    for seed in range(20):
        out = jitter_style(frame, np.random.default_rng(seed), cfg).astype(int)
        span = out[0, :, 8:].mean() - out[0, :, :8].mean()
        assert 0.6 * 255 - 1 <= span <= 255
        # the dark half lifts toward the airlight, bluish: blue >= red
        assert out[0, 0, 0, 2] >= out[0, 0, 0, 0]
        spans.append(span)
    assert min(spans) < 0.7 * 255 and max(spans) > 0.95 * 255
    with pytest.raises(ValueError, match="augment.haze"):
        AugmentConfig(haze=1.5)
    with pytest.raises(ValueError, match="augment.blur_probability"):
        AugmentConfig(blur_probability=-0.1)


def test_no_augmentation_leaves_pixels_alone() -> None:
    frame = np.random.default_rng(3).integers(0, 255, (2, 16, 16, 3), dtype=np.uint8)
    assert np.array_equal(
        jitter_style(frame, np.random.default_rng(0), AugmentConfig.none()), frame
    )


def test_bad_ranges_are_rejected() -> None:
    with pytest.raises(ValueError, match="augment.scales"):
        AugmentConfig(scales=())
    with pytest.raises(ValueError, match="augment.gamma"):
        AugmentConfig(gamma=(1.4, 0.7))


@pytest.mark.parametrize("angle", [30.0, 45.0, 77.0])
@pytest.mark.parametrize("rot90", [0, 1])
def test_turned_crops_keep_objects_inside_their_boxes(angle: float, rot90: int) -> None:
    """A bright 4x8 px object turned by `angle`: the crop is full (no black corners), the
    object stays inside its box, and the box is the turned box's axis-aligned extent."""
    frame = np.full((300, 300, 3), 40, np.uint8)
    frame[140:148, 150:154] = 255
    g0 = CropGeometry((0, 0), (0, 0), (64, 96), 1.0, rot90, False, angle)
    window = g0.resized_hw
    g = CropGeometry(
        (152 - window[1] // 2, 144 - window[0] // 2), window, (64, 96), 1.0, rot90, False, angle
    )
    crop = crop_frames([frame], g)[0, :, :, 0]
    assert crop.shape == (64, 96) and crop.min() >= 39  # corners come from the frame, not padding
    boxes, share = crop_boxes(np.array([[150, 140, 154, 148]], np.float32), g)
    x1, y1, x2, y2 = boxes[0]
    c, s = abs(np.cos(np.radians(angle))), abs(np.sin(np.radians(angle)))
    long, short = (
        (4, 8) if rot90 % 2 else (8, 4)
    )  # the object's (height, width) after quarter turns
    assert x2 - x1 == pytest.approx(short * c + long * s, abs=1e-4)
    assert y2 - y1 == pytest.approx(long * c + short * s, abs=1e-4)
    ys, xs = np.nonzero(crop > 150)
    assert xs.min() >= np.floor(x1) and xs.max() < np.ceil(x2)
    assert ys.min() >= np.floor(y1) and ys.max() < np.ceil(y2)
    assert share.tolist() == [1.0]


def test_rotate_share_draws_angles() -> None:
    rng = np.random.default_rng(0)
    cfg = AugmentConfig(rotate=0.5)
    boxes, classes = np.array([[100, 100, 104, 108]], np.float32), np.array([0])
    angles = [
        draw_geometry(rng, (400, 400), (64, 64), boxes, classes, cfg).angle for _ in range(200)
    ]
    turned = [a for a in angles if a]
    assert 70 < len(turned) < 130 and all(0 < a < 90 for a in turned)
    assert all(
        draw_geometry(rng, (400, 400), (64, 64), boxes, classes, AugmentConfig()).angle == 0
        for _ in range(20)
    )


def test_moving_objects_are_found_over_the_ground_not_the_image() -> None:
    from tgram.data.dataset import FrameAnnotations, moving_objects

    boxes = np.array([[0, 0, 4, 8], [20, 0, 24, 8], [40, 0, 44, 8], [60, 0, 64, 8]], np.float32)
    before = FrameAnnotations.of(boxes, np.zeros(4), np.array([0, 1, 2, 3]))
    platform = np.array([1.5, -0.5, 1.5, -0.5], np.float32)  # every object shifts with it
    moved = boxes + platform
    moved[1] += [5, 0, 5, 0]  # object 1 drives 5 px over the two frames
    now = FrameAnnotations.of(moved, np.zeros(4), np.array([0, 1, 2, -1]))
    assert moving_objects(now, before, frames=2).tolist() == [False, True, False, False]


def test_moving_centred_crops_centre_on_moving_objects() -> None:
    boxes = np.array([[10, 10, 14, 18], [300, 200, 304, 208]], np.float32)
    cfg = AugmentConfig(
        object_centred=1.0, moving_centred=1.0, translate=0.0, scales=(1.0,), rotate=0.0
    )
    moving = np.array([False, True])
    for seed in range(20):
        g = draw_geometry(
            np.random.default_rng(seed), (400, 400), (64, 64), boxes, np.zeros(2), cfg, moving
        )
        centre = (g.origin_xy[0] + g.window_hw[1] / 2, g.origin_xy[1] + g.window_hw[0] / 2)
        assert abs(centre[0] - 302) <= 1 and abs(centre[1] - 204) <= 1
