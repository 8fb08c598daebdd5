"""What a model actor sends its associator under video association: every frame's detections,
exactly (embeddings travel as float16, which loses nothing: the Detector rounds them to it)."""

from __future__ import annotations

import numpy as np

from tgram.detections import Detections
from tgram.pipeline.clips import Clip, ClipTask
from tgram.pipeline.payloads import (
    ClipResult,
    detections_from_ipc,
    detections_to_ipc,
    shifts_to_bytes,
    video_shifts,
)
from tgram.track.run import FrameDetections


def _detections(rng: np.random.Generator, n: int, emb_dim: int) -> Detections:
    boxes = rng.uniform(0, 100, (n, 4)).astype(np.float32)
    # as the Detector returns them: float32 values that float16 represents exactly
    embeddings = rng.normal(size=(n, emb_dim)).astype(np.float16).astype(np.float32)
    return Detections(
        boxes, rng.uniform(0, 1, n).astype(np.float32), rng.integers(0, 3, n), embeddings
    )


def test_detections_round_trip_every_frame_of_the_clip_including_empty_ones() -> None:
    rng = np.random.default_rng(0)
    clip = Clip("v", "v.mp4", index=1, start=10, end=16, overlap=0, context_start=8)
    counts = [3, 0, 5, 0, 0, 1]  # frames 10..15; empty frames still step the tracker
    sent = [
        FrameDetections(10 + i, _detections(rng, n, emb_dim=16), rng.normal(size=2))
        for i, n in enumerate(counts)
    ]
    payload, shifts = detections_to_ipc(sent, emb_dim=16), shifts_to_bytes(sent)
    received = list(detections_from_ipc(payload, shifts, clip))
    assert [f.index for f in received] == list(range(10, 16))
    for a, b in zip(sent, received, strict=True):
        np.testing.assert_array_equal(b.shift, a.shift)  # platform shifts of empty frames too
        for field in ("boxes", "scores", "classes", "embeddings"):
            # bit-exact float32 on arrival
            np.testing.assert_array_equal(
                getattr(b.detections, field), getattr(a.detections, field)
            )


def test_a_clip_without_detections_still_yields_all_its_frames() -> None:
    clip = Clip("v", "v.mp4", index=0, start=0, end=3, overlap=0, context_start=0)
    sent = [
        FrameDetections(i, _detections(np.random.default_rng(i), 0, emb_dim=8), np.zeros(2))
        for i in range(3)
    ]
    payload, shifts = detections_to_ipc(sent, emb_dim=8), shifts_to_bytes(sent)
    received = list(detections_from_ipc(payload, shifts, clip))
    assert [f.index for f in received] == [0, 1, 2]
    assert all(len(f.detections) == 0 and f.detections.embeddings.shape == (0, 8) for f in received)


def test_video_shifts_place_overlapping_clips_by_frame() -> None:
    """`association: clip` clips share frames; the video's shifts are one per frame."""
    truth = np.random.default_rng(1).normal(size=(12, 2))
    clips = [
        Clip("v", "v.mp4", index=0, start=0, end=7, overlap=2, context_start=0),
        Clip("v", "v.mp4", index=1, start=5, end=12, overlap=2, context_start=3),
    ]
    results = [
        ClipResult(
            ClipTask(c, fps=10.0, frames=12, width=64, height=64, n_clips=2),
            shift=np.asarray(truth[c.start : c.end], "<f8").tobytes(),
        )
        for c in clips
    ]
    np.testing.assert_array_equal(video_shifts(results, frames=12), truth)
