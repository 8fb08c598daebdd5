from __future__ import annotations

import numpy as np

from tgram.data.contrast import box_contrast


def test_a_car_in_the_asphalts_colour_does_not_show() -> None:
    """Grey asphalt with one light car, one car painted the asphalt's colour (its box drawn in
    the gt, nothing in the pixels), a dark car, and a box on the image border."""
    rng = np.random.default_rng(0)
    image = np.clip(90 + rng.normal(0, 2, (64, 96, 3)), 0, 255).astype(np.uint8)
    image[10:18, 10:14] = (200, 200, 205)  # light car
    image[40:48, 50:54] = (40, 42, 45)  # dark car
    boxes = np.array(
        [[10, 10, 14, 18], [30.4, 20.2, 33.6, 27.9], [50, 40, 54, 48], [0, 0, 4, 8]], np.float32
    )
    c = box_contrast(image, boxes)
    assert c[0] > 80 and c[2] > 40  # the painted cars stand out
    assert c[1] < 3  # the invisible one reads as its surroundings (noise only)
    assert c[3] < 3  # a border box keeps the ring that is inside the image


def test_boxes_without_pixels_or_ring_count_as_showing() -> None:
    image = np.full((8, 8, 3), 100, np.uint8)
    c = box_contrast(image, np.array([[2, 2, 2, 6], [0, 0, 8, 8], [-5, -5, -1, -1]]))
    assert np.isinf(c).all()
    assert box_contrast(image, np.zeros((0, 4))).shape == (0,)


def test_a_car_in_a_row_of_like_cars_still_shows() -> None:
    """Five white cars a pixel apart on dark asphalt: their rings are mostly neighbours, but
    only the ground between and around them counts."""
    image = np.full((30, 40, 3), 60, np.uint8)
    boxes = np.array([[5 + 5 * k, 10, 9 + 5 * k, 18] for k in range(5)], np.float32)
    for x0, y0, x1, y1 in boxes.astype(int):
        image[y0:y1, x0:x1] = 220
    assert (box_contrast(image, boxes) > 150).all()


def test_matches_a_direct_computation() -> None:
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (40, 50, 3)).astype(np.uint8)
    box = np.array([[12.3, 7.8, 19.1, 15.0]])
    x0, y0, x1, y1 = 12, 7, 20, 15
    inner = image[y0:y1, x0:x1].reshape(-1, 3).astype(float)
    outer = image[y0 - 3 : y1 + 3, x0 - 3 : x1 + 3].astype(float)
    ring_sum = outer.reshape(-1, 3).sum(0) - inner.sum(0)
    ring_mean = ring_sum / (outer.shape[0] * outer.shape[1] - inner.shape[0])
    expected = np.abs(inner.mean(0) - ring_mean).max()
    np.testing.assert_allclose(box_contrast(image, box), [expected], rtol=1e-5)
