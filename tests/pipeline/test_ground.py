from __future__ import annotations

import numpy as np
import pytest

from tgram.pipeline.ground import cumulative_offsets, stabilise, windowed_velocity


def test_offsets_accumulate_from_the_first_frame() -> None:
    offsets = cumulative_offsets(np.array([[9.0, 9.0], [1.0, -0.5], [0.5, 0.5]]))
    np.testing.assert_allclose(offsets, [[0, 0], [1, -0.5], [1.5, 0]])


def test_stabilise_removes_the_platform_and_checks_frames() -> None:
    offsets = cumulative_offsets(np.array([[0, 0], [2.0, 1.0]]))
    np.testing.assert_allclose(stabilise([1, 0], [[12.0, 11.0], [10.0, 10.0]], offsets), 10.0)
    with pytest.raises(ValueError, match="frames 0..2 outside the 2 offsets"):
        stabilise([0, 2], [[0.0, 0.0], [0.0, 0.0]], offsets)


def test_velocity_is_the_slope_over_the_window_per_track() -> None:
    rng = np.random.default_rng(0)
    frames = np.arange(40)
    parked = np.stack([np.full(40, 5.0), np.full(40, 7.0)], 1) + rng.normal(0, 0.3, (40, 2))
    moving = np.stack([2.0 * frames, -0.5 * frames], 1) + rng.normal(0, 0.3, (40, 2))
    track = np.r_[np.full(40, 1), np.full(40, 2), [3]]
    frame = np.r_[frames, frames, [5]]
    xy = np.r_[parked, moving, [[0.0, 0.0]]]
    shuffled = rng.permutation(len(frame))  # rows in any order
    v = np.empty((len(frame), 2))
    v[shuffled] = windowed_velocity(track[shuffled], frame[shuffled], xy[shuffled], half_window=10)
    assert np.abs(v[:40]).max() < 0.1  # frame-to-frame differences would be ~0.4
    np.testing.assert_allclose(v[40:80], [[2.0, -0.5]] * 40, atol=0.1)
    assert np.isnan(v[80]).all()  # one frame: no velocity
    # The window is cut at the track's end and never reaches the neighbouring track.
    ends = windowed_velocity(
        np.r_[1, 1, 2, 2], np.r_[0, 1, 0, 1], [[0, 0], [1, 0], [50, 0], [0, 0]], 5
    )
    np.testing.assert_allclose(ends, [[1, 0], [1, 0], [-50, 0], [-50, 0]])
