from __future__ import annotations

from dataclasses import replace

import numpy as np

from tgram.data.tracks import confident_track_rows
from tgram.detections import Detections
from tgram.track.run import FrameDetections, TrackRun
from tgram.track.tracker import TrackerConfig

EMBEDDINGS = np.eye(8, dtype=np.float32)


def _frame(index: int, scores: list[float]) -> FrameDetections:
    """Object k (k = 0, 1, ...) parked at x = 40 k + 20 with the k-th score."""
    n = len(scores)
    x = 40.0 * np.arange(n) + 20
    boxes = np.stack([x - 2, np.full(n, 30.0), x + 2, np.full(n, 38.0)], 1).astype(np.float32)
    det = Detections(boxes, np.asarray(scores, np.float32), np.zeros(n, np.int64), EMBEDDINGS[:n])
    return FrameDetections(index, det, np.zeros(2))


def _run(config: TrackerConfig, frames: list[list[float]]) -> TrackRun:
    run = TrackRun(config, fps=10.0, emb_dim=8)
    for i, scores in enumerate(frames):
        run.update(_frame(i, scores))
    return run


def test_tracks_with_a_low_mean_score_are_left_out_whole() -> None:
    # object 0 is confident but dips to 0.42 in one frame; object 1 holds 0.47 throughout
    # (a false track beside a parked car); threshold 0.5 on the track's mean
    frames = [[0.9, 0.47]] * 4 + [[0.42, 0.47]] + [[0.9, 0.47]] * 3
    config = replace(TrackerConfig(), det_threshold=0.4, new_track_threshold=0.45)
    everything = _run(config, frames).rows()
    assert len(np.unique(everything.track_id)) == 2 and len(everything) == 16

    run = _run(replace(config, min_track_score=0.5), frames)
    kept = run.rows()
    assert len(np.unique(kept.track_id)) == 1 and len(kept) == 8  # the dip did not cut it
    np.testing.assert_allclose(kept.boxes[:, 0], 18.0)
    assert len(run.rows(all_tracks=True)) == 16


def test_confident_track_rows_judges_each_track_by_its_mean() -> None:
    track_id = np.array([1, 1, 2, 2, 2, 7])
    score = np.array([0.9, 0.1, 0.6, 0.6, 0.2, 0.5])  # means 0.5, 0.467, 0.5
    np.testing.assert_array_equal(
        confident_track_rows(track_id, score, 0.5), [True, True, False, False, False, True]
    )
    assert confident_track_rows(track_id, score, 0.0).all()
    assert confident_track_rows(np.zeros(0, np.int64), np.zeros(0), 0.5).shape == (0,)
