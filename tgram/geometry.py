"""Box geometry and assignment shared by the tracker, evaluation, detection metrics and
clip stitching: pure numpy/scipy functions over arrays (rows = a, cols = b), plus the output
stride every head and training target share.

Cost functions return the full [N, M] matrix, or with `pairs=(rows, cols)` only those
entries as a [P] vector. In a 5,000-object frame almost every pair is too far apart to
match, so callers find the few candidates with a k-d tree (`neighbour_pairs`) and never
build a 25-million-entry matrix. Every function accepts empty inputs (0 x M, N x 0) and
returns correctly shaped results.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

DOWN_RATIO = 4
"""Output stride of the network: heads predict, and training targets are drawn, on a grid of
1 cell per 4 input pixels."""

Pairs = tuple[np.ndarray, np.ndarray]
"""(rows, cols): int64 index arrays of the matrix entries to evaluate."""


def neighbour_pairs(centres_a: np.ndarray, radii_a: np.ndarray, centres_b: np.ndarray) -> Pairs:
    """All (i, j) with max(|dx|, |dy|) <= radii_a[i] between centres_a[i] and centres_b[j].

    Sorted by (i, j). These are the only pairs a distance-limited cost can be finite for.
    """
    centres_a = np.asarray(centres_a, dtype=np.float64).reshape(-1, 2)
    centres_b = np.asarray(centres_b, dtype=np.float64).reshape(-1, 2)
    if len(centres_a) == 0 or len(centres_b) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    neighbours = cKDTree(centres_b).query_ball_point(
        centres_a, r=np.asarray(radii_a, dtype=np.float64), p=np.inf, return_sorted=True
    )
    counts = np.fromiter(map(len, neighbours), dtype=np.int64, count=len(neighbours))
    cols = np.fromiter(
        itertools.chain.from_iterable(neighbours), dtype=np.int64, count=counts.sum()
    )
    return np.repeat(np.arange(len(centres_a), dtype=np.int64), counts), cols


def iou_matrix(boxes_a: np.ndarray, boxes_b: np.ndarray, pairs: Pairs | None = None) -> np.ndarray:
    """IoU of xyxy boxes, [N, M] or [P]; 0 where the union is empty."""
    a, b = paired(_as_boxes(boxes_a), _as_boxes(boxes_b), pairs)
    inter_w = np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0])
    inter_h = np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1])
    intersection = np.clip(inter_w, 0, None) * np.clip(inter_h, 0, None)
    union = _area(a) + _area(b) - intersection
    return np.divide(intersection, union, out=np.zeros_like(intersection), where=union > 0)


def linear_assignment(
    cost: np.ndarray | sparse.sparray, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum-cost matching in which only pairs costing less than `threshold` may match.

    `cost` is a dense [N, M] matrix or a scipy sparse array whose missing entries are
    infinite. Returns (matches [K, 2] of (row, col) sorted by row, unmatched rows,
    unmatched cols). Leaving a row or column unmatched costs threshold / 2 (JDE's lapjv
    `cost_limit`), so the problem is maximising sum(threshold - cost) over admissible
    pairs. It splits exactly into the connected components of the admissible-pair graph:
    lone pairs are matched directly and only real conflicts go to scipy's solver.
    """
    if sparse.issparse(cost):
        entries = cost.tocoo()
        (rows, cols), values = entries.coords, entries.data
    else:
        cost = np.asarray(cost, dtype=np.float64)
        if cost.ndim != 2:
            raise ValueError(f"linear_assignment: cost must be 2-D, got shape {cost.shape}")
        rows, cols = np.nonzero(cost < threshold)
        values = cost[rows, cols]
    admissible = values < threshold
    rows, cols, values = rows[admissible], cols[admissible], values[admissible]
    n_rows, n_cols = cost.shape
    matches = _match_components(rows, cols, values, n_rows, threshold)
    matches = matches[np.argsort(matches[:, 0], kind="stable")]
    unmatched_rows = np.setdiff1d(np.arange(n_rows), matches[:, 0])
    unmatched_cols = np.setdiff1d(np.arange(n_cols), matches[:, 1])
    return matches, unmatched_rows, unmatched_cols


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length; all-zero rows stay zero (no direction to keep)."""
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)


def _match_components(
    rows: np.ndarray, cols: np.ndarray, values: np.ndarray, n_rows: int, threshold: float
) -> np.ndarray:
    """Solve each connected component of admissible pairs (rows[i], cols[i]) on its own."""
    # imported here: scipy.optimize takes ~0.2 s of CPU to import, paid by every process that
    # imports the tracker's module, and the batch job's model actors never match
    from scipy.optimize import linear_sum_assignment

    if len(rows) == 0:
        return np.zeros((0, 2), np.int64)
    n_nodes = n_rows + int(cols.max()) + 1
    graph = sparse.coo_array((np.ones(len(rows)), (rows, cols + n_rows)), shape=(n_nodes, n_nodes))
    _, node_component = connected_components(graph, directed=False)
    edge_component = node_component[rows]
    lone = np.bincount(edge_component)[edge_component] == 1
    found = [np.stack([rows[lone], cols[lone]], axis=1)]
    order = np.argsort(edge_component[~lone], kind="stable")
    conflict_edges = np.stack([rows[~lone], cols[~lone]], axis=1)[order]
    conflict_values = values[~lone][order]
    _, starts = np.unique(edge_component[~lone][order], return_index=True)
    for edges, edge_values in zip(
        np.split(conflict_edges, starts[1:]), np.split(conflict_values, starts[1:]), strict=True
    ):
        row_ids, row_pos = np.unique(edges[:, 0], return_inverse=True)
        col_ids, col_pos = np.unique(edges[:, 1], return_inverse=True)
        gain = np.zeros((len(row_ids), len(col_ids)))
        gain[row_pos, col_pos] = edge_values - threshold
        r, c = linear_sum_assignment(gain)
        matched = gain[r, c] < 0
        found.append(np.stack([row_ids[r[matched]], col_ids[c[matched]]], axis=1))
    return np.concatenate(found).astype(np.int64)


def box_centres(boxes: np.ndarray) -> np.ndarray:
    """[N, 4] xyxy boxes -> [N, 2] centres."""
    return (boxes[:, :2] + boxes[:, 2:]) / 2


def paired(values_a: np.ndarray, values_b: np.ndarray, pairs: Pairs | None) -> Pairs:
    """Operands of an elementwise cost: every (a, b) combination by broadcasting, or `pairs`."""
    if pairs is None:
        return values_a[:, None], values_b[None, :]
    return values_a[pairs[0]], values_b[pairs[1]]


def _as_boxes(boxes: np.ndarray) -> np.ndarray:
    return np.asarray(boxes, dtype=np.float64).reshape(-1, 4)


def _area(boxes: np.ndarray) -> np.ndarray:
    return np.clip(boxes[..., 2] - boxes[..., 0], 0, None) * np.clip(
        boxes[..., 3] - boxes[..., 1], 0, None
    )
