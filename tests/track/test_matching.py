from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import sparse

from tgram.geometry import iou_matrix, linear_assignment, neighbour_pairs
from tgram.track.matching import GATE_95, class_gate, embedding_distance, fuse_motion

INF = np.inf


def test_gate_is_chi2_95_for_four_dof() -> None:
    assert abs(GATE_95 - 9.4877) < 1e-4


def test_iou_matrix_hand_computed() -> None:
    a = np.array([[0, 0, 2, 2], [0, 0, 0, 0]], dtype=float)  # second: no area
    b = np.array([[1, 1, 3, 3], [0, 0, 2, 2], [5, 5, 6, 6], [0, 0, 0, 0]], dtype=float)
    expected = [[1 / 7, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]
    np.testing.assert_allclose(iou_matrix(a, b), expected)
    pairs = (np.array([0, 0, 1]), np.array([0, 1, 3]))
    np.testing.assert_allclose(iou_matrix(a, b, pairs), [1 / 7, 1.0, 0.0])


def test_embedding_distance_hand_computed() -> None:
    tracks = np.array([[1.0, 0.0], [0.0, 0.0]])
    dets = np.array([[0.0, 3.0], [-1.0, 0.0], [2.0, 0.0]])
    np.testing.assert_allclose(embedding_distance(tracks, dets), [[1, 2, 0], [1, 1, 1]], atol=1e-6)
    pairs = (np.array([0, 0]), np.array([2, 1]))
    np.testing.assert_allclose(embedding_distance(tracks, dets, pairs), [0, 2], atol=1e-6)


def test_embedding_distance_rejects_size_mismatch() -> None:
    with pytest.raises(ValueError, match="3 dims, detections 2"):
        embedding_distance(np.ones((1, 3)), np.ones((1, 2)))


def test_fuse_motion_weights_and_gates() -> None:
    cost = np.array([[0.2, 0.2], [0.5, 0.0]])
    gating = np.array([[1.0, 10.0], [0.0, GATE_95]])
    expected = [[0.98 * 0.2 + 0.02 * 1.0, INF], [0.98 * 0.5, 0.02 * GATE_95]]
    np.testing.assert_allclose(fuse_motion(cost, gating, lambda_=0.98), expected)


def test_fuse_motion_rejects_shape_mismatch() -> None:
    with pytest.raises(ValueError, match="differ"):
        fuse_motion(np.zeros((2, 3)), np.zeros((3, 2)), 0.98)


def test_class_gate() -> None:
    cost = np.array([[0.1, 0.2], [0.3, 0.4]])
    np.testing.assert_array_equal(class_gate(cost, [0, 1], [1, 1]), [[INF, INF], [0.3, 0.4]])
    pairs = (np.array([0, 1]), np.array([0, 0]))
    np.testing.assert_array_equal(
        class_gate(np.array([0.1, 0.3]), [0, 1], [1, 1], pairs), [INF, 0.3]
    )


def test_neighbour_pairs_uses_per_row_chebyshev_radius() -> None:
    a = np.array([[0.0, 0.0], [10.0, 10.0]])
    b = np.array([[1.0, 1.0], [2.0, -2.0], [3.0, 0.0], [0.0, -2.5], [10.0, 10.5]])
    rows, cols = neighbour_pairs(a, np.array([2.0, 0.5]), b)
    np.testing.assert_array_equal(rows, [0, 0, 1])
    np.testing.assert_array_equal(cols, [0, 1, 4])


EMPTY_SHAPES = [(0, 3), (3, 0), (0, 0)]


@pytest.mark.parametrize(("n", "m"), EMPTY_SHAPES)
def test_every_function_handles_empty_inputs(n: int, m: int) -> None:
    assert iou_matrix(np.zeros((n, 4)), np.zeros((m, 4))).shape == (n, m)
    assert embedding_distance(np.zeros((n, 8)), np.zeros((m, 8))).shape == (n, m)
    assert embedding_distance(np.zeros((n, 0)), np.zeros((m, 8))).shape == (n, m)
    assert fuse_motion(np.zeros((n, m)), np.zeros((n, m)), 0.98).shape == (n, m)
    assert class_gate(np.zeros((n, m)), np.zeros(n), np.zeros(m)).shape == (n, m)
    rows, cols = neighbour_pairs(np.zeros((n, 2)), np.ones(n), np.zeros((m, 2)))
    assert len(rows) == len(cols) == n * m  # all at distance 0
    no_pairs = (np.zeros(0, np.int64), np.zeros(0, np.int64))
    assert iou_matrix(np.zeros((n, 4)), np.zeros((m, 4)), no_pairs).shape == (0,)
    assert embedding_distance(np.zeros((n, 0)), np.zeros((m, 8)), no_pairs).shape == (0,)
    for cost in (np.zeros((n, m)), sparse.coo_array((n, m))):
        matches, unmatched_rows, unmatched_cols = linear_assignment(cost, 0.5)
        assert matches.shape == (0, 2)
        np.testing.assert_array_equal(unmatched_rows, np.arange(n))
        np.testing.assert_array_equal(unmatched_cols, np.arange(m))


@pytest.mark.parametrize(
    ("cost", "threshold", "expected"),
    [
        # diagonal: the obvious matching
        ([[0.1, 0.9], [0.9, 0.2]], 0.5, [[0, 0], [1, 1]]),
        # greedy would take (0, 0) first; the optimum crosses: 0.2 + 0.15 < 0.1 + 0.5
        ([[0.1, 0.2], [0.15, 0.5]], 1.0, [[0, 1], [1, 0]]),
        # a full matching (0.5 + 0.6) loses to one pair plus two unmatched (0.1 + 0.35 + 0.35)
        ([[0.1, 0.5], [0.6, INF]], 0.7, [[0, 0]]),
        # a cost equal to the threshold never matches
        ([[0.5]], 0.5, []),
        # rectangular, with a row that has no admissible column
        ([[INF, INF, INF], [0.3, 0.1, 0.2]], 0.4, [[1, 1]]),
    ],
)
def test_linear_assignment_hand_built(cost: list, threshold: float, expected: list) -> None:
    cost = np.array(cost)
    matches, unmatched_rows, unmatched_cols = linear_assignment(cost, threshold)
    np.testing.assert_array_equal(matches, np.array(expected, dtype=np.int64).reshape(-1, 2))
    np.testing.assert_array_equal(
        unmatched_rows, np.setdiff1d(np.arange(cost.shape[0]), matches[:, 0])
    )
    np.testing.assert_array_equal(
        unmatched_cols, np.setdiff1d(np.arange(cost.shape[1]), matches[:, 1])
    )


def brute_force_objective(cost: np.ndarray, threshold: float) -> float:
    """Best sum(cost - threshold) over every partial matching of admissible pairs."""
    n, m = cost.shape
    best = 0.0
    for assignment in itertools.product(range(-1, m), repeat=n):
        cols = [c for c in assignment if c >= 0]
        if len(cols) != len(set(cols)):
            continue
        pairs = [(r, c) for r, c in enumerate(assignment) if c >= 0]
        if all(cost[r, c] < threshold for r, c in pairs):
            best = min(best, sum(cost[r, c] - threshold for r, c in pairs))
    return best


@pytest.mark.parametrize("seed", range(6))
def test_linear_assignment_is_optimal_and_sparse_agrees(seed: int) -> None:
    rng = np.random.default_rng(seed)
    cost = rng.uniform(0, 1, (4, 5))
    cost[rng.uniform(size=cost.shape) < 0.3] = INF
    threshold = 0.6
    matches, _, _ = linear_assignment(cost, threshold)
    achieved = sum(cost[r, c] - threshold for r, c in matches)
    assert achieved == pytest.approx(brute_force_objective(cost, threshold))
    finite = np.nonzero(np.isfinite(cost))
    sparse_cost = sparse.coo_array((cost[finite], finite), shape=cost.shape)
    np.testing.assert_array_equal(linear_assignment(sparse_cost, threshold)[0], matches)
