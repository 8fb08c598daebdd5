from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tgram.config import load_config
from tgram.track.tracker import IdCounter, OnlineTracker, TrackerConfig, Tracks

CONFIG = TrackerConfig()
EMBEDDINGS = np.eye(8, dtype=np.float32)  # object k looks like EMBEDDINGS[k]
REPO = Path(__file__).resolve().parents[2]


def boxes_at(centres: np.ndarray, width: float = 4.0, height: float = 8.0) -> np.ndarray:
    centres = np.asarray(centres, dtype=np.float64).reshape(-1, 2)
    half = np.array([width / 2, height / 2])
    return np.hstack([centres - half, centres + half])


def step(
    tracker: OnlineTracker,
    frame: int,
    centres: np.ndarray,
    objects: list[int],
    classes: list[int] | None = None,
    score: float = 0.9,
) -> Tracks:
    """One frame in which `objects` (rows of EMBEDDINGS) are detected at `centres`."""
    n = len(objects)
    return tracker.update(
        boxes_at(centres) if n else np.zeros((0, 4)),
        np.full(n, score, np.float32),
        np.zeros(n, np.int64) if classes is None else np.array(classes),
        EMBEDDINGS[objects] if n else np.zeros((0, 8), np.float32),
        frame_index=frame,
    )


def id_nearest(tracks: Tracks, centre: tuple[float, float]) -> int:
    centres = (tracks.boxes[:, :2] + tracks.boxes[:, 2:]) / 2
    return int(tracks.track_ids[np.argmin(np.linalg.norm(centres - centre, axis=1))])


def test_default_yaml_matches_dataclass_defaults() -> None:
    assert load_config(REPO / "configs/track/default.yaml", TrackerConfig) == TrackerConfig()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"det_threshold": 1.5}, r"track.det_threshold must be in \[0.0, 1.0\], got 1.5"),
        ({"embedding_momentum": 1.0}, r"track.embedding_momentum must be in \[0.0, 1.0\)"),
        ({"track_buffer_s": -1.0}, "track.track_buffer_s must be in"),
        ({"min_track_score": 1.2}, r"track.min_track_score must be in \[0.0, 1.0\], got 1.2"),
        ({"det_threshold": 0.6, "new_track_threshold": 0.5}, "must be >= track.det_threshold"),
    ],
)
def test_config_rejects_out_of_range(overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrackerConfig(**overrides)


def test_crossing_objects_keep_their_ids() -> None:
    tracker = OnlineTracker(CONFIG, fps=10)
    seen_ids = set()
    for frame in range(21):
        a, b = (100.0 + 3 * frame, 100.0), (160.0 - 3 * frame, 100.0)  # cross at frame 10
        tracks = step(tracker, frame, [a, b], [0, 1])
        seen_ids |= set(tracks.track_ids.tolist())
        if frame == 0:
            id_a, id_b = id_nearest(tracks, a), id_nearest(tracks, b)
    assert (id_nearest(tracks, a), id_nearest(tracks, b)) == (id_a, id_b)
    assert seen_ids == {id_a, id_b}


@pytest.mark.parametrize("fps", [10.0, 25.0])
@pytest.mark.parametrize(("gap_s", "keeps_id"), [(0.8, True), (1.5, False)])
def test_occlusion_keeps_id_only_within_buffer_seconds(
    fps: float, gap_s: float, keeps_id: bool
) -> None:
    """A car at 1 px/frame vanishes for gap_s seconds; the lost buffer is 1 s at any fps."""
    tracker = OnlineTracker(dataclasses.replace(CONFIG, track_buffer_s=1.0), fps=fps)
    gap = round(gap_s * fps)
    outputs = {}
    for frame in range(10 + gap + 2):
        hidden = 10 <= frame < 10 + gap
        outputs[frame] = step(
            tracker, frame, [] if hidden else [(100.0 + frame, 50.0)], [] if hidden else [0]
        )
    back = 10 + gap
    assert outputs[9].track_ids.tolist() == [1]
    if keeps_id:
        assert outputs[back].track_ids.tolist() == [1]
    else:  # a fresh tentative track, confirmed one frame later under the next id
        assert outputs[back].track_ids.tolist() == []
        assert outputs[back + 1].track_ids.tolist() == [2]


def test_objects_of_different_classes_at_one_place_do_not_swap() -> None:
    """Same place, same look, opposite directions, listed in alternating order: only the
    class tells them apart."""
    tracker = OnlineTracker(CONFIG, fps=10)
    class_of_id: dict[int, set[int]] = {}
    for frame in range(8):
        centres = [(100.0 + 2 * frame, 100.0), (100.0 - 2 * frame, 100.0)]
        order = [0, 1] if frame % 2 else [1, 0]
        tracks = step(
            tracker, frame, [centres[i] for i in order], [0, 0], classes=[i + 1 for i in order]
        )
        for track_id, cls in zip(tracks.track_ids, tracks.classes, strict=True):
            class_of_id.setdefault(int(track_id), set()).add(int(cls))
    assert class_of_id == {1: {2}, 2: {1}}
    np.testing.assert_array_equal(np.sign(tracks.velocities[:, 0]), [-1, 1])


def test_lookalike_outside_the_motion_gate_is_not_matched() -> None:
    """The tracked car is missed in frame 5 while an identical one shows up 40 px away."""
    tracker = OnlineTracker(CONFIG, fps=10)
    for frame in range(5):
        step(tracker, frame, [(100.0 + frame, 100.0)], [0])
    assert len(step(tracker, 5, [(145.0, 100.0)], [0])) == 0  # a new, unconfirmed track
    assert step(tracker, 6, [(106.0, 100.0)], [0]).track_ids.tolist() == [1]


def test_reset_restarts_ids_and_trackers_do_not_share_a_counter() -> None:
    tracker = OnlineTracker(CONFIG, fps=10)
    for frame in range(3):
        step(tracker, frame, [(10.0, 10.0), (50.0, 10.0), (90.0, 10.0)], [0, 1, 2])
    tracker.reset()
    assert step(tracker, 0, [(10.0, 10.0), (50.0, 10.0)], [0, 1]).track_ids.tolist() == [1, 2]
    other = OnlineTracker(CONFIG, fps=10)
    assert step(other, 0, [(10.0, 10.0)], [0]).track_ids.tolist() == [1]


def test_injected_counter_numbers_tracks_and_restarts_on_reset() -> None:
    tracker = OnlineTracker(CONFIG, fps=10, id_counter=IdCounter(start=1000))
    assert step(tracker, 0, [(10.0, 10.0), (50.0, 10.0)], [0, 1]).track_ids.tolist() == [1000, 1001]
    tracker.reset()
    assert step(tracker, 5, [(10.0, 10.0)], [0]).track_ids.tolist() == [1000]


def test_new_object_is_confirmed_next_frame_and_one_frame_blips_take_no_id() -> None:
    tracker = OnlineTracker(CONFIG, fps=10)
    step(tracker, 0, [(10.0, 10.0)], [0])
    assert step(tracker, 1, [(10.0, 10.0), (300.0, 300.0)], [0, 1]).track_ids.tolist() == [
        1
    ]  # blip
    assert step(tracker, 2, [(10.0, 10.0), (80.0, 80.0)], [0, 2]).track_ids.tolist() == [1]  # new
    assert step(tracker, 3, [(10.0, 10.0), (80.0, 80.0)], [0, 2]).track_ids.tolist() == [1, 2]


def test_score_thresholds_continue_but_do_not_start_tracks() -> None:
    thresholds = dict(det_threshold=0.45, new_track_threshold=0.55, low_det_threshold=0.2)
    tracker = OnlineTracker(dataclasses.replace(CONFIG, **thresholds), fps=10)
    assert len(step(tracker, 0, [(10.0, 10.0)], [0], score=0.45)) == 0  # too weak to start
    for frame in range(1, 4):
        step(tracker, frame, [(10.0, 10.0)], [0])
    continued = step(tracker, 4, [(10.0, 10.0)], [0], score=0.45)
    assert continued.track_ids.tolist() == [1] and continued.scores[0] == pytest.approx(0.45)
    # below det_threshold: continues a track through the low-score band, never below it
    assert step(tracker, 5, [(10.0, 10.0)], [0], score=0.3).track_ids.tolist() == [1]
    assert len(step(tracker, 6, [(10.0, 10.0)], [0], score=0.1)) == 0  # ignored: track is lost


@pytest.mark.parametrize(("duplicate_iou", "second_track"), [(0.85, False), (1.0, True)])
def test_detection_on_a_lost_track_does_not_start_a_duplicate(
    duplicate_iou: float, second_track: bool
) -> None:
    """Object 0 is lost for two frames; something that looks different appears exactly where
    it is predicted. FairMOT drops the newcomer while the older lost track is in its buffer."""
    tracker = OnlineTracker(dataclasses.replace(CONFIG, duplicate_iou=duplicate_iou), fps=10)
    for frame in range(5):
        step(tracker, frame, [(10.0, 10.0)], [0])
    step(tracker, 5, [], [])
    step(tracker, 6, [], [])
    step(tracker, 7, [(10.0, 10.0)], [1])
    assert (len(step(tracker, 8, [(10.0, 10.0)], [1])) == 1) == second_track


def test_outputs_filtered_boxes_and_velocity() -> None:
    tracker = OnlineTracker(CONFIG, fps=10)
    for frame in range(30):
        centre = (200.0 + 2 * frame, 300.0 - frame)
        tracks = step(tracker, frame, [centre], [0])
    np.testing.assert_allclose(tracks.velocities[0], [2.0, -1.0], atol=0.05)
    np.testing.assert_allclose(tracks.boxes[0], boxes_at(centre)[0], atol=0.05)
    assert tracks.boxes.dtype == np.float32 and tracks.track_ids.dtype == np.int64
    np.testing.assert_allclose(tracks.embeddings[0], EMBEDDINGS[0], atol=1e-6)


def test_skipped_frames_are_predicted_across() -> None:
    """Frames 10-13 were never seen: a single prediction step would leave the track 15 px
    behind, far outside the motion gate."""
    tracker = OnlineTracker(CONFIG, fps=10)
    for frame in range(10):
        step(tracker, frame, [(100.0 + 5 * frame, 100.0)], [0])
    assert step(tracker, 14, [(100.0 + 5 * 14, 100.0)], [0]).track_ids.tolist() == [1]


def test_min_box_area_hides_small_tracks() -> None:
    tracker = OnlineTracker(dataclasses.replace(CONFIG, min_box_area=40.0), fps=10)
    assert len(step(tracker, 0, [(10.0, 10.0)], [0])) == 0  # 4 x 8 = 32 px^2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"boxes_xyxy": np.zeros((2, 3))}, "expected boxes"),
        ({"scores": np.zeros(3)}, "expected boxes"),
        ({"embeddings": np.zeros((1, 8))}, "expected embeddings"),
        ({"embeddings": np.zeros((2, 5))}, "5 dims, the tracks 8"),
        ({"boxes_xyxy": np.full((2, 4), np.nan)}, "must be finite"),
        ({"frame_index": 0}, "frame_index must increase"),
    ],
)
def test_update_rejects_bad_input(kwargs: dict, message: str) -> None:
    tracker = OnlineTracker(CONFIG, fps=10)
    step(tracker, 0, [(10.0, 10.0), (40.0, 10.0)], [0, 1])
    frame = {
        "boxes_xyxy": boxes_at([(10.0, 10.0), (40.0, 10.0)]),
        "scores": np.full(2, 0.9),
        "classes": np.zeros(2, np.int64),
        "embeddings": EMBEDDINGS[:2],
        "frame_index": 1,
    }
    with pytest.raises(ValueError, match=message):
        tracker.update(**{**frame, **kwargs})


def test_rejects_non_positive_fps() -> None:
    with pytest.raises(ValueError, match="fps must be a positive number"):
        OnlineTracker(CONFIG, fps=0)


def random_walk_scene(
    n: int, frames: int, seed: int = 0, dim: int = 64
) -> Iterator[tuple[np.ndarray, ...]]:
    """n vehicles wandering over a 4000 x 3000 px frame with per-object 64-d embeddings."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform((0, 0), (4000, 3000), (n, 2))
    velocity = rng.normal(0, 1, (n, 2))
    look = rng.normal(size=(n, dim)).astype(np.float32)
    classes = rng.integers(0, 3, n)
    for _ in range(frames):
        velocity += rng.normal(0, 0.1, (n, 2))
        centres = centres + velocity
        detected = centres + rng.normal(0, 0.3, (n, 2))
        yield (
            boxes_at(detected),
            rng.uniform(0.6, 0.95, n).astype(np.float32),
            classes,
            look + rng.normal(0, 0.2, look.shape).astype(np.float32),
            centres,
        )


def test_5000_object_frames_keep_every_id() -> None:
    """Frame 0 numbers object k as id k + 1; every later frame keeps each id on its object."""
    tracker = OnlineTracker(CONFIG, fps=10)
    for frame, (boxes, scores, classes, embeddings, centres) in enumerate(
        random_walk_scene(5000, 3)
    ):
        tracks = tracker.update(boxes, scores, classes, embeddings, frame_index=frame)
        np.testing.assert_array_equal(tracks.track_ids, np.arange(1, 5001))
        track_centres = (tracks.boxes[:, :2] + tracks.boxes[:, 2:]) / 2
        assert np.abs(track_centres - centres).max() < 2.0


def test_id_counter_cannot_start_at_the_tentative_marker() -> None:
    with pytest.raises(ValueError, match="start must be >= 1"):
        IdCounter(start=0)


def test_platform_shift_keeps_velocities_in_ground_terms() -> None:
    """A parked and a moving car (1 px/frame east) seen from a platform drifting 1.5 px/frame
    north-west with jitter: given the shifts, the tracker reports the ground velocities."""
    rng = np.random.default_rng(0)
    shifts = np.array([-1.5, -1.5]) + rng.uniform(-1.0, 1.0, (12, 2))
    shifts[0] = 0.0
    offset = np.cumsum(shifts, axis=0)  # where frame 0's ground is in frame t
    compensated, raw = OnlineTracker(CONFIG, fps=10), OnlineTracker(CONFIG, fps=10)
    for t in range(12):
        centres = np.array([[50.0, 50.0], [80.0 + t, 50.0]]) + offset[t]
        moved = compensated.update(
            boxes_at(centres),
            np.full(2, 0.9, np.float32),
            np.zeros(2, np.int64),
            EMBEDDINGS[[0, 1]],
            frame_index=t,
            shift=shifts[t],
        )
        drifted = step(raw, t, centres, [0, 1])
    assert moved.track_ids.tolist() == [1, 2]
    np.testing.assert_allclose(moved.velocities, [[0.0, 0.0], [1.0, 0.0]], atol=0.15)
    assert np.abs(drifted.velocities[0]).max() > 0.5  # without: the platform's motion


def test_shift_must_be_two_finite_numbers() -> None:
    tracker = OnlineTracker(CONFIG, fps=10)
    step(tracker, 0, [[10.0, 10.0]], [0])
    with pytest.raises(ValueError, match="shift must be 2 finite numbers"):
        tracker.update(
            boxes_at([[10.0, 10.0]]),
            np.full(1, 0.9, np.float32),
            np.zeros(1, np.int64),
            EMBEDDINGS[[0]],
            frame_index=1,
            shift=np.array([np.nan, 0.0]),
        )


@pytest.mark.parametrize("low", [1.0, 0.1])
def test_low_score_detections_continue_tracks_but_never_start_them(low: float) -> None:
    """ByteTrack's second association: a tracked car whose score dips below det_threshold in
    one frame keeps its track (and its row) when the low band is on; a low-scoring newcomer
    never becomes a track."""
    tracker = OnlineTracker(dataclasses.replace(CONFIG, low_det_threshold=low), fps=10)
    # object 0 drives 1 px a frame; object 1 only ever scores low
    for frame in range(4):
        step(tracker, frame, [[20.0 + frame, 30.0]], [0])
    # a different embedding makes stage 1 fail: the low-score IoU stage is what can match it
    dipped = tracker.update(
        boxes_at([[24.0, 30.0], [80.0, 80.0]]),
        np.array([0.3, 0.3], np.float32),
        np.zeros(2, np.int64),
        EMBEDDINGS[[5, 1]],
        frame_index=4,
    )
    continued = low < 1.0
    assert len(dipped.track_ids) == int(continued)
    after = step(tracker, 5, [[25.0, 30.0]], [0])
    assert len(after.track_ids) == 1 and after.track_ids[0] == 1  # same track either way
    assert dataclasses.replace(CONFIG, low_det_threshold=low).score_floor == min(
        low, CONFIG.det_threshold
    )
