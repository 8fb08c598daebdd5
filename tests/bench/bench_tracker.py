"""Association time per frame: tgram's OnlineTracker vs ByteTrack (Roboflow `trackers`).

Both trackers get the same detections of a satellite scene: vehicles, ships and airplanes
at their pixel sizes on a 1 m/px 4000 x 3000 Jilin-1-class frame, wandering at 10 fps.
ByteTrack scores every track against every detection (dense IoU and Hungarian) and keeps
one Python Kalman object per track; tgram evaluates only the nearby pairs and updates all
tracks as arrays. tgram also compares 128-d embeddings, which ByteTrack never reads, so
the ratio is conservative for tgram. Only `update` is timed, never the scene generation.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version

import numpy as np
import supervision as sv
from trackers import ByteTrackTracker

from tgram.classes import CLASS_NAMES
from tgram.track.tracker import OnlineTracker, TrackerConfig

FRAME_SIZE = (4000, 3000)
"""Width, height in px: a Jilin-1 video frame at about 1 m ground resolution."""
FPS = 10.0
EMBEDDING_DIM = 128
CLASS_SHARE = {"airplane": 0.05, "ship": 0.15, "vehicle": 0.80}
"""Mix of objects in a scene; vehicles dominate satellite videos of cities and ports."""
BOX_SIZE_PX = {"airplane": (40.0, 40.0), "ship": (10.0, 30.0), "vehicle": (4.0, 8.0)}
"""Typical (w, h) at 1 m/px; each object gets its own size within +-25% of these."""
SPEED_PX_PER_FRAME = {"airplane": 1.0, "ship": 0.5, "vehicle": 1.5}
"""Typical speed (px per frame at 10 fps = 10 m/s per px/frame): taxiing, sailing, driving."""
CENTRE_NOISE_PX = 0.3
"""Detector jitter of a box centre."""
EMBEDDING_NOISE = 0.2
"""Per-frame noise added to an object's appearance vector (unit-variance components)."""
SCORE_RANGE = (0.7, 0.95)
"""Above both trackers' thresholds for creating tracks: every detection takes part in the
first association stage of both, so the benchmark times association, not filtering."""

WARMUP_FRAMES = 2
"""Frame 0 creates every track and frame 1 confirms them: neither is steady-state work."""
TIMED_FRAMES = {100: 30, 1_000: 10, 5_000: 3}
"""Frames timed per scene size: fewer where ByteTrack's dense matrices take seconds."""
TARGET_OBJECTS, TARGET_RATIO = 1_000, 0.25
"""tgram must associate a 1,000-object frame in at most a quarter of ByteTrack's time."""
MIN_COVERAGE = 0.95
"""Share of objects each tracker must output with an id in the last frame: below it, the
tracker is not following the scene and its time measures nothing."""


@dataclass(frozen=True)
class Frame:
    """One frame's detections, in the inputs of both trackers."""

    boxes: np.ndarray  # [N, 4] float32 xyxy
    scores: np.ndarray  # [N] float32
    classes: np.ndarray  # [N] int64, 0-based index into CLASS_NAMES
    embeddings: np.ndarray  # [N, EMBEDDING_DIM] float32
    detections: sv.Detections  # the same boxes, scores and classes for ByteTrack


def satellite_scene(objects: int, frames: int, seed: int = 0) -> list[Frame]:
    """`objects` objects of CLASS_NAMES moving as random walks, detected every frame."""
    rng = np.random.default_rng(seed)
    classes = rng.choice(len(CLASS_NAMES), objects, p=[CLASS_SHARE[c] for c in CLASS_NAMES])
    sizes = np.array([BOX_SIZE_PX[c] for c in CLASS_NAMES])[classes]
    sizes *= rng.uniform(0.75, 1.25, (objects, 2))
    speeds = np.array([SPEED_PX_PER_FRAME[c] for c in CLASS_NAMES])[classes, None]
    centres = rng.uniform((0, 0), FRAME_SIZE, (objects, 2))
    velocities = rng.normal(0.0, 1.0, (objects, 2)) * speeds
    looks = rng.normal(size=(objects, EMBEDDING_DIM)).astype(np.float32)
    scene = []
    for _ in range(frames):
        velocities += rng.normal(0.0, 0.1, (objects, 2)) * speeds
        centres = centres + velocities
        seen = centres + rng.normal(0.0, CENTRE_NOISE_PX, (objects, 2))
        boxes = np.hstack([seen - sizes / 2, seen + sizes / 2]).astype(np.float32)
        scores = rng.uniform(*SCORE_RANGE, objects).astype(np.float32)
        noise = rng.normal(0.0, EMBEDDING_NOISE, looks.shape).astype(np.float32)
        scene.append(
            Frame(
                boxes=boxes,
                scores=scores,
                classes=classes,
                embeddings=looks + noise,
                detections=sv.Detections(xyxy=boxes, confidence=scores, class_id=classes),
            )
        )
    return scene


def time_updates(update: Callable[[int, Frame], int], scene: list[Frame]) -> tuple[float, int]:
    """Median seconds of `update(frame_index, frame)` after the warm-up, and the number of
    objects it output with an id in the last frame."""
    seconds = []
    for index, frame in enumerate(scene):
        started = time.perf_counter()
        tracked = update(index, frame)
        if index >= WARMUP_FRAMES:
            seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), tracked


def tgram_update(config: TrackerConfig) -> Callable[[int, Frame], int]:
    tracker = OnlineTracker(config, fps=FPS)

    def update(index: int, frame: Frame) -> int:
        tracks = tracker.update(
            frame.boxes, frame.scores, frame.classes, frame.embeddings, frame_index=index
        )
        return len(tracks)

    return update


def bytetrack_update(config: TrackerConfig) -> Callable[[int, Frame], int]:
    """ByteTrack with its own thresholds; lost tracks kept as long as tgram keeps them."""
    tracker = ByteTrackTracker(
        lost_track_buffer=round(config.track_buffer_s * 30),  # its unit: frames at 30 fps
        frame_rate=FPS,
    )

    def update(index: int, frame: Frame) -> int:
        return int((tracker.update(frame.detections).tracker_id >= 0).sum())

    return update


def run() -> list[dict]:
    config = TrackerConfig()
    peer = f"ByteTrack (trackers {version('trackers')})"
    frame_size = "x".join(map(str, FRAME_SIZE))
    rows = []
    for objects, timed in TIMED_FRAMES.items():
        scene = satellite_scene(objects, WARMUP_FRAMES + timed)
        ours, ours_tracked = time_updates(tgram_update(config), scene)
        theirs, theirs_tracked = time_updates(bytetrack_update(config), scene)
        if min(ours_tracked, theirs_tracked) < MIN_COVERAGE * objects:
            raise RuntimeError(
                f"tracker bench, {objects} objects: tgram tracked {ours_tracked} and ByteTrack "
                f"{theirs_tracked} in the last frame, expected >= {MIN_COVERAGE:.0%} of them"
            )
        ratio = ours / theirs
        targeted = objects == TARGET_OBJECTS
        rows.append(
            dict(
                name=f"tracker update, {objects:,} objects, {frame_size} (median of {timed} frames)",
                value=ours * 1e3,
                unit="ms",
                peer=peer,
                peer_value=theirs * 1e3,
                ratio=ratio,
                target=f"<= {TARGET_RATIO}x" if targeted else None,
                ok=ratio <= TARGET_RATIO if targeted else None,
            )
        )
    return rows


if __name__ == "__main__":
    from tests.bench.run import to_table

    print(to_table(run()))
