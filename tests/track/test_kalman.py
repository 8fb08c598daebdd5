from __future__ import annotations

import numpy as np
import pytest

from tgram.track.kalman import KalmanFilter, xyah_to_xyxy, xyxy_to_xyah
from tgram.track.matching import GATE_95

# Textbook constant-velocity model, written out independently of the vectorised filter.
F = np.block([[np.eye(4), np.eye(4)], [np.zeros((4, 4)), np.eye(4)]])
H = np.hstack([np.eye(4), np.zeros((4, 4))])


def reference_noise(height: float, floor: float = 20.0) -> tuple[np.ndarray, np.ndarray]:
    """DeepSORT's process (Q) and measurement (R) covariances, with the height floor."""
    h = max(height, floor)
    q_std = [h / 20, h / 20, 1e-2, h / 20, h / 160, h / 160, 1e-5, h / 160]
    r_std = [h / 20, h / 20, 1e-1, h / 20]
    return np.diag(np.square(q_std)), np.diag(np.square(r_std))


def reference_predict(x: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    q, _ = reference_noise(x[3])
    return F @ x, F @ p @ F.T + q


def reference_update(x: np.ndarray, p: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    _, r = reference_noise(x[3])
    s = H @ p @ H.T + r
    k = p @ H.T @ np.linalg.inv(s)
    return x + k @ (z - H @ x), (np.eye(8) - k @ H) @ p


def reference_gating(x: np.ndarray, p: np.ndarray, z: np.ndarray) -> float:
    _, r = reference_noise(x[3])
    d = z - H @ x
    return float(d @ np.linalg.inv(H @ p @ H.T + r) @ d)


def random_measurements(rng: np.random.Generator, n: int) -> np.ndarray:
    heights = rng.uniform(4, 60, n)  # below and above the 20 px floor
    return np.column_stack([rng.uniform(0, 1000, (n, 2)), rng.uniform(0.3, 3, n), heights])


def test_box_conversions_round_trip() -> None:
    boxes = np.array([[10.0, 20.0, 14.0, 28.0], [0.0, 0.0, 60.0, 30.0]])
    np.testing.assert_allclose(xyxy_to_xyah(boxes), [[12, 24, 0.5, 8], [30, 15, 2, 30]])
    np.testing.assert_allclose(xyah_to_xyxy(xyxy_to_xyah(boxes)), boxes)


@pytest.mark.parametrize(("height", "position_std"), [(100.0, 10.0), (8.0, 2.0)])
def test_initiate_uses_deepsort_stds_with_floor(height: float, position_std: float) -> None:
    mean, cov = KalmanFilter().initiate(np.array([[5.0, 6.0, 0.5, height]]))
    np.testing.assert_array_equal(mean, [[5, 6, 0.5, height, 0, 0, 0, 0]])
    # 2 * h / 20 for position, with h floored at 20 px
    np.testing.assert_allclose(np.sqrt(np.diag(cov[0]))[[0, 1, 3]], position_std)
    np.testing.assert_allclose(np.sqrt(cov[0, 2, 2]), 1e-2)


def test_predict_and_update_match_per_track_reference() -> None:
    rng = np.random.default_rng(0)
    kf = KalmanFilter()
    mean, cov = kf.initiate(random_measurements(rng, 6))
    ref = [(m.copy(), c.copy()) for m, c in zip(mean, cov, strict=True)]
    for _ in range(4):
        mean, cov = kf.predict(mean, cov)
        ref = [reference_predict(x, p) for x, p in ref]
        np.testing.assert_allclose(mean, [x for x, _ in ref], rtol=1e-9)
        np.testing.assert_allclose(cov, [p for _, p in ref], rtol=1e-9, atol=1e-12)
        z = mean[:, :4] + rng.normal(0, 1, (6, 4)) * [2, 2, 0.05, 1]
        mean, cov = kf.update(mean, cov, z)
        ref = [reference_update(x, p, zi) for (x, p), zi in zip(ref, z, strict=True)]
        np.testing.assert_allclose(mean, [x for x, _ in ref], rtol=1e-9)
        np.testing.assert_allclose(cov, [p for _, p in ref], rtol=1e-7, atol=1e-10)


def test_gating_distance_matches_reference_dense_and_pairs() -> None:
    rng = np.random.default_rng(1)
    kf = KalmanFilter()
    mean, cov = kf.predict(*kf.initiate(random_measurements(rng, 5)))
    measurements = random_measurements(rng, 7)
    measurements[:5, :2] = mean[:, :2] + rng.normal(0, 2, (5, 2))  # some close ones too
    expected = [
        [reference_gating(x, p, z) for z in measurements] for x, p in zip(mean, cov, strict=True)
    ]
    dense = kf.gating_distance(mean, cov, measurements)
    np.testing.assert_allclose(dense, expected, rtol=1e-7, atol=1e-6)
    rows, cols = np.array([4, 0, 2]), np.array([1, 6, 2])
    np.testing.assert_allclose(
        kf.gating_distance(mean, cov, measurements, (rows, cols)), dense[rows, cols], rtol=1e-9
    )


@pytest.mark.parametrize(("tracks", "measurements"), [(0, 3), (3, 0), (0, 0)])
def test_gating_distance_empty(tracks: int, measurements: int) -> None:
    kf = KalmanFilter()
    mean, cov = kf.initiate(np.tile([[50.0, 50.0, 1.0, 10.0]], (tracks, 1)))
    assert kf.gating_distance(mean, cov, np.zeros((measurements, 4))).shape == (
        tracks,
        measurements,
    )


def test_far_measurement_is_gated_out_near_one_is_not() -> None:
    kf = KalmanFilter()
    mean, cov = kf.predict(*kf.initiate(np.array([[100.0, 100.0, 0.5, 8.0]])))
    near_far = np.array([[101.0, 100.0, 0.5, 8.0], [130.0, 100.0, 0.5, 8.0]])
    distance = kf.gating_distance(mean, cov, near_far)[0]
    assert distance[0] < GATE_95 < distance[1]


def test_gating_radius_bounds_the_gate() -> None:
    rng = np.random.default_rng(2)
    kf = KalmanFilter()
    mean, cov = kf.predict(*kf.initiate(random_measurements(rng, 20)))
    radius = kf.gating_radius(mean, cov, GATE_95)
    measurements = np.repeat(mean[:, :4], 50, axis=0)
    measurements[:, :2] += (
        rng.uniform(-3, 3, (len(measurements), 2)) * np.repeat(radius, 50)[:, None]
    )
    distance = kf.gating_distance(mean, cov, measurements)
    outside = np.abs(measurements[None, :, :2] - mean[:, None, :2]).max(axis=2) > radius[:, None]
    assert outside.any() and (~outside).any()
    assert (distance[outside] > GATE_95).all()


@pytest.mark.parametrize(("floor", "gated_out"), [(20.0, False), (1e-3, True)])
def test_std_floor_keeps_tiny_box_jitter_inside_the_gate(floor: float, gated_out: bool) -> None:
    """A 4x8 px vehicle tracked for 20 frames; the next detection is 3 px off (under one
    stride-4 cell). Height-relative noise alone would call that an outlier."""
    kf = KalmanFilter(std_floor_height_px=floor)
    box = np.array([[100.0, 100.0, 0.5, 8.0]])
    mean, cov = kf.initiate(box)
    for frame in range(1, 21):
        mean, cov = kf.update(*kf.predict(mean, cov), box + [frame, 0, 0, 0])
    mean, cov = kf.predict(mean, cov)
    jittered = mean[:, :4] + [3.0, 0, 0, 0]
    assert (kf.gating_distance(mean, cov, jittered)[0, 0] > GATE_95) == gated_out


def test_std_floor_bounds_variance_of_a_vanishing_box() -> None:
    kf = KalmanFilter()
    mean, cov = kf.initiate(np.array([[10.0, 10.0, 1.0, 0.01]]))
    _, innovation_cov = kf.project(*kf.predict(mean, cov))
    # (20 px floor / 20)^2 = 1 px^2 in x, y and h, however small the box gets
    assert (np.diag(innovation_cov[0])[[0, 1, 3]] >= 1.0).all()


@pytest.mark.parametrize(
    "field", ["position_std_weight", "velocity_std_weight", "std_floor_height_px"]
)
def test_rejects_non_positive_noise(field: str) -> None:
    with pytest.raises(ValueError, match=f"track.motion.{field} must be > 0"):
        KalmanFilter(**{field: 0.0})
