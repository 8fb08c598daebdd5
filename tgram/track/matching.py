"""Association costs and assignment: pure functions over arrays, rows = tracks, cols = detections.

Cost functions return the full [N, M] matrix, or with `pairs=(rows, cols)` only those
entries as a [P] vector. The tracker uses pairs: in a 5,000-object frame almost every
track/detection pair is too far apart to match, so it finds the few candidates with a
k-d tree (`neighbour_pairs`) and never builds a 25-million-entry matrix. Every function
accepts empty inputs (0 x M, N x 0) and returns correctly shaped results.
"""

from __future__ import annotations

import numpy as np
from scipy.special import chdtri

from tgram.geometry import Pairs, paired, unit_rows
from tgram.track.kalman import MEASUREMENT_DIM

GATE_95 = float(chdtri(MEASUREMENT_DIM, 0.05))  # scipy.special: scipy.stats costs ~0.4 s to import
"""Squared Mahalanobis distance a true xyah measurement exceeds only 5% of the time (9.49)."""


def embedding_distance(
    track_embeddings: np.ndarray, detection_embeddings: np.ndarray, pairs: Pairs | None = None
) -> np.ndarray:
    """Cosine distance in [0, 2], [N, M] or [P]; a zero vector is at distance 1 from everything."""
    tracks = np.asarray(track_embeddings, dtype=np.float32)
    dets = np.asarray(detection_embeddings, dtype=np.float32)
    if tracks.ndim != 2 or dets.ndim != 2:
        raise ValueError(
            f"embedding_distance: expected [N, E] and [M, E], got {tracks.shape} and {dets.shape}"
        )
    if len(tracks) and len(dets) and tracks.shape[1] != dets.shape[1]:
        raise ValueError(
            f"embedding_distance: track embeddings have {tracks.shape[1]} dims, "
            f"detections {dets.shape[1]}"
        )
    tracks, dets = unit_rows(tracks), unit_rows(dets)
    if pairs is not None and len(pairs[0]):
        similarity = np.einsum("pe,pe->p", tracks[pairs[0]], dets[pairs[1]])
    elif pairs is None and len(tracks) and len(dets):
        similarity = tracks @ dets.T
    else:  # nothing to compare; the embedding sizes may not even be known
        similarity = np.zeros((len(tracks), len(dets)) if pairs is None else 0)
    return np.clip(1.0 - similarity, 0.0, 2.0).astype(np.float32)


def fuse_motion(
    cost: np.ndarray, gating_distance: np.ndarray, lambda_: float, gate: float = GATE_95
) -> np.ndarray:
    """JDE's fused cost: lambda_ * cost + (1 - lambda_) * gating_distance, inf beyond `gate`.

    Elementwise, so it takes matrices or pair vectors. `lambda_` weights appearance; the
    Mahalanobis term mainly breaks ties between lookalikes, while the gate forbids matches
    the motion model finds implausible whatever they look like.
    """
    cost = np.asarray(cost)
    if cost.shape != np.shape(gating_distance):
        raise ValueError(
            f"fuse_motion: cost {cost.shape} and gating distance {np.shape(gating_distance)} differ"
        )
    fused = lambda_ * cost + (1.0 - lambda_) * gating_distance
    return np.where(gating_distance > gate, np.inf, fused)


def class_gate(
    cost: np.ndarray, classes_a: np.ndarray, classes_b: np.ndarray, pairs: Pairs | None = None
) -> np.ndarray:
    """`cost` with inf wherever row and column classes differ: a ship never continues a car."""
    class_a, class_b = paired(np.asarray(classes_a), np.asarray(classes_b), pairs)
    return np.where(class_a == class_b, cost, np.inf)
