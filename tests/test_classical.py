from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from tgram.classes import class_index
from tgram.classical import BackgroundSubtractionConfig, BackgroundSubtractionDetector
from tgram.config import load_config
from tgram.geometry import iou_matrix
from tgram.resources import CONFIGS

HEIGHT, WIDTH, MARGIN = 96, 128, 10
STATIC_BOX = (20.0, 30.0, 30.0, 36.0)  # scene xyxy: a parked 10x6 px car
MOVING_Y, MOVING_START_X, SPEED_PX = 60.0, 40.0, 2.0  # a 10x6 px car driving right
FRAMES = 20


def _scene(rng: np.random.Generator) -> np.ndarray:
    """Textured ground, larger than the frame by MARGIN on each side, with the parked car."""
    ground = rng.uniform(40, 220, (HEIGHT + 2 * MARGIN, WIDTH + 2 * MARGIN, 3)).astype(np.float32)
    ground = cv2.GaussianBlur(ground, (0, 0), 1.0)
    x0, y0, x1, y1 = map(int, STATIC_BOX)
    ground[y0:y1, x0:x1] = 250
    return ground


def _moving_box(t: int) -> np.ndarray:
    x = MOVING_START_X + SPEED_PX * t
    return np.array([x, MOVING_Y, x + 10, MOVING_Y + 6], np.float32)


def _frame(scene: np.ndarray, t: int, jitter: np.ndarray) -> np.ndarray:
    """Frame t seen from a platform displaced by `jitter` (dx, dy) px: the scene moves by it."""
    image = scene.copy()
    x0, y0, x1, y1 = _moving_box(t).astype(int)
    image[y0:y1, x0:x1] = (200, 40, 40)
    shift = np.array([[1, 0, jitter[0] - MARGIN], [0, 1, jitter[1] - MARGIN]], np.float32)
    frame = cv2.warpAffine(image, shift, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR)
    return np.clip(frame, 0, 255).astype(np.uint8)


def _in_frame(scene_box: np.ndarray, jitter: np.ndarray) -> np.ndarray:
    return np.asarray(scene_box, np.float32) - MARGIN + np.tile(jitter, 2).astype(np.float32)


def _run(jitter_px: float, detector: BackgroundSubtractionDetector) -> tuple:
    """Detections of the last frame, with that frame's jitter."""
    rng = np.random.default_rng(0)
    scene = _scene(rng)
    for t in range(FRAMES):
        jitter = np.zeros(2) if t == 0 else rng.uniform(-jitter_px, jitter_px, 2)
        detections = detector(_frame(scene, t, jitter))
    return detections, jitter


@pytest.mark.parametrize("jitter_px", [0.0, 1.5])
def test_moving_car_is_found_at_its_box_and_the_parked_one_is_not(jitter_px: float) -> None:
    detections, jitter = _run(jitter_px, BackgroundSubtractionDetector())

    moving = _in_frame(_moving_box(FRAMES - 1), jitter)
    parked = _in_frame(STATIC_BOX, jitter)
    assert len(detections) == 1
    box = detections.boxes[0]
    centre_error = (box[:2] + box[2:]) / 2 - (moving[:2] + moving[2:]) / 2
    assert np.abs(centre_error).max() <= 1.0
    assert iou_matrix(detections.boxes, moving[None])[0, 0] >= 0.5
    assert iou_matrix(detections.boxes, parked[None])[0, 0] == 0.0
    assert 0.5 < detections.scores[0] <= 1.0


def test_detections_have_the_tracker_layout() -> None:
    detections, _ = _run(1.0, BackgroundSubtractionDetector())

    assert detections.boxes.dtype == np.float32 and detections.boxes.shape == (1, 4)
    assert detections.scores.dtype == np.float32
    assert detections.classes.tolist() == [class_index("vehicle")]
    assert detections.embeddings.shape == (1, 0)


def test_first_frame_and_a_reset_detect_nothing() -> None:
    """The first frame of a video is the background: nothing has moved yet."""
    detector = BackgroundSubtractionDetector()
    _run(1.0, detector)
    detector.reset()
    scene = _scene(np.random.default_rng(1))

    assert len(detector(_frame(scene, 5, np.zeros(2)))) == 0


@pytest.mark.parametrize(
    ("min_area_px", "max_area_px", "found"),
    [(12, 400, 1), (200, 400, 0), (12, 30, 0)],  # the blob is ~12x8 px after blur
)
def test_blob_area_limits(min_area_px: int, max_area_px: int, found: int) -> None:
    config = BackgroundSubtractionConfig(min_area_px=min_area_px, max_area_px=max_area_px)
    detections, _ = _run(1.0, BackgroundSubtractionDetector(config))

    assert len(detections) == found


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("history_frames", 0, "classical.history_frames must be >= 1"),
        ("var_threshold", 0.0, "classical.var_threshold must be > 0"),
        ("background_ratio", 1.5, "classical.background_ratio must be in (0, 1]"),
        ("max_area_px", 5, "classical.max_area_px (5) must be >= classical.min_area_px (12)"),
        ("max_jitter_px", -1.0, "classical.max_jitter_px must be > 0"),
    ],
)
def test_config_rejects_out_of_range_values(key: str, value: float, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        BackgroundSubtractionConfig(**{key: value})


def test_shipped_yaml_holds_the_defaults() -> None:
    loaded = load_config(CONFIGS / "classical" / "default.yaml", BackgroundSubtractionConfig)

    assert dataclasses.asdict(loaded) == dataclasses.asdict(BackgroundSubtractionConfig())


@pytest.mark.parametrize("frame", [np.zeros((8, 8), np.uint8), np.zeros((8, 8, 3), np.float32)])
def test_rejects_frames_that_are_not_rgb_uint8(frame: np.ndarray) -> None:
    with pytest.raises(ValueError, match="expected an RGB uint8"):
        BackgroundSubtractionDetector()(frame)
