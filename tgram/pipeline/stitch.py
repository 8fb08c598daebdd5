"""Joining the tracklets of overlapping clips into one set of track ids per video.

Each clip is tracked independently, so the same object has a different local id in each.
Consecutive clips share `overlap` frames: tracklets that cover the same boxes there (mean IoU
over the frames both exist) and look alike (cosine of their mean embeddings) are linked by
one assignment per clip pair, and the links are chained with a union-find, so a track that
spans five clips gets one id. Each frame's rows come from one clip only, the first that
contains it: the earlier clip's tracker is warm through the overlap, while the later one
spends it warming up (starting tracks, building motion and appearance state) before it
owns any frame. So no (track, frame) is ever duplicated or lost, linked or not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from scipy.sparse import coo_matrix

from tgram.pipeline.clips import Clip
from tgram.track.matching import iou_matrix, linear_assignment, unit_rows


@dataclass(frozen=True)
class StitchConfig:
    min_iou: float = 0.5
    """Tracklets whose boxes overlap less (mean IoU over shared frames) are never linked."""
    embedding_weight: float = 0.3
    """Share of appearance (1 - cosine) in the link cost; the rest is 1 - mean IoU."""
    max_cost: float = 0.6
    """Links costing more are dropped: the tracklets stay separate tracks."""

    def __post_init__(self) -> None:
        for name in ("min_iou", "embedding_weight", "max_cost"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name}: expected a value in [0, 1], got {getattr(self, name)}")


def stitch_tracks(tracklets: pa.Table, clips: Sequence[Clip], config: StitchConfig) -> pa.Table:
    """Rows of all clips (columns clip_index, frame, local_track_id, class, x1, y1, x2, y2,
    embedding, ...) -> one row per (track, frame) with a video-wide `track_id` 1..K numbered
    in order of first appearance, sorted by frame then track_id; `embedding`, `clip_index`
    and `local_track_id` are dropped."""
    if tracklets.num_rows == 0:
        keep = [c for c in tracklets.column_names if c not in ("embedding", "clip_index", "local_track_id")]
        return tracklets.select(keep).append_column("track_id", pa.array([], pa.int64()))
    clip_index = tracklets["clip_index"].to_numpy().astype(np.int64)
    frame = tracklets["frame"].to_numpy().astype(np.int64)
    local = tracklets["local_track_id"].to_numpy().astype(np.int64)
    _, tracklet = np.unique(np.stack([clip_index, local], axis=1), axis=0, return_inverse=True)
    tracklet = tracklet.ravel()
    n_tracklets = int(tracklet.max()) + 1
    boxes = np.stack([tracklets[c].to_numpy() for c in ("x1", "y1", "x2", "y2")], axis=1).astype(np.float32)
    classes = np.asarray(tracklets["class"].to_pylist(), dtype=object)
    embeddings = _embeddings(tracklets)

    parent = np.arange(n_tracklets)
    by_index = {c.index: c for c in clips}
    for clip in clips:
        following = by_index.get(clip.index + 1)
        if following is None or following.start >= clip.end:
            continue
        a_rows = np.flatnonzero((clip_index == clip.index) & (frame >= following.start))
        b_rows = np.flatnonzero((clip_index == following.index) & (frame < clip.end))
        for a, b in _link_pairs(a_rows, b_rows, tracklet, frame, boxes, classes, embeddings, config):
            _union(parent, a, b)
    roots = np.array([_find(parent, t) for t in range(n_tracklets)])
    track = roots[tracklet]

    ordered = sorted(clips, key=lambda c: c.start)
    ends = np.array([c.end for c in ordered])
    owner = np.array([c.index for c in ordered])[np.searchsorted(ends, frame, side="right")]
    kept = np.flatnonzero(clip_index == owner)

    # Number tracks by first appearance (frame, then clip order and local id), deterministically.
    first_row = {}
    for row in np.lexsort((local, clip_index, frame)):
        first_row.setdefault(int(track[row]), len(first_row) + 1)
    track_id = np.array([first_row[int(t)] for t in track[kept]], np.int64)
    out = tracklets.take(pa.array(kept)).drop_columns(["embedding", "clip_index", "local_track_id"])
    out = out.append_column("track_id", pa.array(track_id))
    return out.take(pa.array(np.lexsort((track_id, frame[kept]))))


def _embeddings(tracklets: pa.Table) -> np.ndarray:
    column = tracklets["embedding"].combine_chunks()
    width = column.type.list_size
    return column.flatten().to_numpy(zero_copy_only=False).reshape(-1, width).astype(np.float32)


def _link_pairs(
    a_rows: np.ndarray,
    b_rows: np.ndarray,
    tracklet: np.ndarray,
    frame: np.ndarray,
    boxes: np.ndarray,
    classes: np.ndarray,
    embeddings: np.ndarray,
    config: StitchConfig,
) -> list[tuple[int, int]]:
    """Links between the tracklets of two consecutive clips over their shared frames."""
    if len(a_rows) == 0 or len(b_rows) == 0:
        return []
    a_ids, a_local = np.unique(tracklet[a_rows], return_inverse=True)
    b_ids, b_local = np.unique(tracklet[b_rows], return_inverse=True)
    # Sum of per-frame IoUs for every co-occurring pair, accumulated sparsely frame by frame.
    rows, cols, ious = [], [], []
    for f in np.intersect1d(frame[a_rows], frame[b_rows]):
        ia, ib = np.flatnonzero(frame[a_rows] == f), np.flatnonzero(frame[b_rows] == f)
        iou = iou_matrix(boxes[a_rows[ia]], boxes[b_rows[ib]])
        r, c = np.nonzero(iou > 0)
        rows.append(a_local[ia][r])
        cols.append(b_local[ib][c])
        ious.append(iou[r, c])
    if not rows:
        return []
    shape = (len(a_ids), len(b_ids))
    rows_, cols_ = np.concatenate(rows), np.concatenate(cols)
    iou_sum = coo_matrix((np.concatenate(ious), (rows_, cols_)), shape=shape).tocsr()
    frames_a = np.bincount(a_local, minlength=len(a_ids))
    frames_b = np.bincount(b_local, minlength=len(b_ids))
    pair_r, pair_c = iou_sum.nonzero()
    # Mean over the frames the shorter of the two spans in the overlap: frames where only one
    # of them has a box count as IoU 0, so a pair must agree on (almost) all shared frames.
    both = np.minimum(frames_a[pair_r], frames_b[pair_c])
    mean_iou = np.asarray(iou_sum[pair_r, pair_c]).ravel() / both
    mean_a = _mean_embedding(embeddings, a_rows, a_local, len(a_ids))
    mean_b = _mean_embedding(embeddings, b_rows, b_local, len(b_ids))
    cosine = np.einsum("ij,ij->i", mean_a[pair_r], mean_b[pair_c])
    cost = (1 - mean_iou) * (1 - config.embedding_weight) + (1 - cosine) * config.embedding_weight
    same_class = _first_class(classes, a_rows, a_local, len(a_ids))[pair_r] == _first_class(
        classes, b_rows, b_local, len(b_ids)
    )[pair_c]
    ok = same_class & (mean_iou >= config.min_iou) & (cost <= config.max_cost)
    admissible = coo_matrix((cost[ok], (pair_r[ok], pair_c[ok])), shape=shape)
    matches, _, _ = linear_assignment(admissible, threshold=np.nextafter(config.max_cost, np.inf))
    return [(int(a_ids[i]), int(b_ids[j])) for i, j in matches]


def _mean_embedding(embeddings: np.ndarray, rows: np.ndarray, local: np.ndarray, n: int) -> np.ndarray:
    """Unit mean embedding of each tracklet over its rows in the overlap."""
    sums = np.zeros((n, embeddings.shape[1]), np.float32)
    np.add.at(sums, local, embeddings[rows])
    return unit_rows(sums)


def _first_class(classes: np.ndarray, rows: np.ndarray, local: np.ndarray, n: int) -> np.ndarray:
    out = np.empty(n, dtype=object)
    out[local[::-1]] = classes[rows[::-1]]
    return out


def _find(parent: np.ndarray, i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def _union(parent: np.ndarray, a: int, b: int) -> None:
    ra, rb = _find(parent, a), _find(parent, b)
    if ra != rb:
        parent[max(ra, rb)] = min(ra, rb)
