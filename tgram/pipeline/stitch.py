"""Joining the tracklets of overlapping clips into one set of track ids per video.

Each clip is tracked on its own, so one object has a different local id in every clip.
Consecutive clips share their overlap frames, where both trackers saw the same objects:
tracklets that cover the same boxes there (mean IoU) and look alike (cosine of their mean
embeddings) are linked by one assignment per pair of consecutive clips, and the links are
chained (union-find, as the connected components of the link graph) so a track spanning
five clips gets one id.

Deduplication rule: a (track, frame) seen by two clips keeps the row of the clip in which the
frame lies farther from an edge it shares with a neighbouring clip, because a tracker is
least reliable near its clip's start (still warming up) and end (tracks cut short). Within an
overlap that is the earlier clip for its first half (the middle frame too, when the overlap
is odd) and the later clip for the second half. The rule picks among the rows a track
actually has, so a (track, frame) is never duplicated and never lost, linked or not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pyarrow as pa
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from tgram.geometry import iou_matrix, linear_assignment, neighbour_pairs, unit_rows
from tgram.pipeline.clips import Clip

Rows = pa.Table | Mapping[str, np.ndarray]
"""Tracklet rows of one video's clips: a pyarrow Table (embedding a fixed-size list column)
or a mapping of equal-length arrays (embedding [N, E]), as a Ray Data numpy batch has them."""

COLUMNS = ("clip_index", "frame", "local_track_id", "class", "x1", "y1", "x2", "y2", "embedding")
"""Columns stitching reads; others (score, velocity, ...) pass through `stitch_table`."""


@dataclass(frozen=True)
class StitchConfig:
    """When two tracklets of consecutive clips are the same track."""

    min_iou: float = 0.5
    """Lowest mean IoU over the overlap frames for a link. Both trackers box the same
    detections there, so a true pair is near 1; raising it refuses links between tracks
    that drift apart, at the risk of splitting tracks of tiny, jittery boxes."""
    emb_weight: float = 0.3
    """Share of appearance (1 - cosine) in the link cost, the rest being 1 - mean IoU;
    raising it separates close objects of different look better."""
    max_cost: float = 0.6
    """Links costing more are refused and the tracklets stay separate tracks; lowering it
    splits more tracks rather than merging different objects."""

    def __post_init__(self) -> None:
        if not 0.0 < self.min_iou <= 1.0:
            raise ValueError(f"min_iou: expected a value in (0, 1], got {self.min_iou}")
        for name in ("emb_weight", "max_cost"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name}: expected a value in [0, 1], got {getattr(self, name)}")


class StitchedIds(NamedTuple):
    """Per input row: its track and whether it survives deduplication."""

    track_id: np.ndarray
    """int64 [N]: video-wide id of every input row, 1..K numbered by first appearance."""
    keep: np.ndarray
    """bool [N]: False for rows dropped because another clip's row has the same (track, frame)."""


def stitch_tracks(
    rows: Rows, clips: Sequence[Clip], *, min_iou: float, emb_weight: float, max_cost: float
) -> StitchedIds:
    """Video-wide track ids for the tracklet rows of all clips of one video.

    `rows` has clip_index (`Clip.index`), frame (0-based, video-wide, inside its clip),
    local_track_id (unique within a clip), class, x1, y1, x2, y2 and embedding (L2-normalised).
    Ids are numbered by first appearance (frame, then clip index and local id), so equal
    input gives equal ids whatever the row order.
    """
    config = StitchConfig(min_iou=min_iou, emb_weight=emb_weight, max_cost=max_cost)
    if len(_column(rows, "frame")) == 0:
        return StitchedIds(np.zeros(0, np.int64), np.zeros(0, bool))
    clips = _checked_clips(clips)
    data = _Tracklets.of(rows, clips)
    links = [np.zeros((0, 2), np.int64)]
    for pos in range(len(clips) - 1):
        first, end = clips[pos + 1].start, clips[pos].end
        links.append(_link(data, pos, first, end - first, config))
    edges = np.concatenate(links)
    n_tracklets = int(data.tracklet.max()) + 1
    graph = sparse.coo_array(
        (np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n_tracklets, n_tracklets)
    )
    track = connected_components(graph, directed=False)[1][data.tracklet]
    keep = _deduplicated(clips, data, track)
    return StitchedIds(_numbered_by_first_appearance(data, track, keep), keep)


def stitch_table(
    table: pa.Table, clips: Sequence[Clip], config: StitchConfig | None = None
) -> pa.Table:
    """`table` with one row per (track, frame), an int64 `track_id` column and no `embedding`,
    sorted by frame then track_id; clip_index tells which clip each kept row came from."""
    config = config or StitchConfig()
    stitched = stitch_tracks(
        table, clips, min_iou=config.min_iou, emb_weight=config.emb_weight, max_cost=config.max_cost
    )
    kept = np.flatnonzero(stitched.keep)
    track_id = stitched.track_id[kept]
    frame = _column(table, "frame")[kept]
    order = kept[np.lexsort((track_id, frame))]
    out = table.drop_columns(["embedding"]).take(pa.array(order, pa.int64()))
    return out.append_column("track_id", pa.array(stitched.track_id[order], pa.int64()))


@dataclass(frozen=True)
class _Tracklets:
    """Validated per-row arrays; `position` is the row's clip in index order and `tracklet`
    numbers the (clip, local id) pairs."""

    position: np.ndarray
    frame: np.ndarray
    local: np.ndarray
    tracklet: np.ndarray
    classes: np.ndarray
    boxes: np.ndarray
    embeddings: np.ndarray

    @classmethod
    def of(cls, rows: Rows, clips: list[Clip]) -> _Tracklets:
        clip_index, frame, local = (_column(rows, name).astype(np.int64) for name in COLUMNS[:3])
        position = _clip_positions(clips, clip_index, frame)
        tracklet = np.unique(_pair_key(position, local), return_inverse=True)[1].ravel()
        if (np.diff(np.sort(_pair_key(tracklet, frame))) == 0).any():
            raise ValueError(
                "rows: a (clip_index, local_track_id, frame) occurs twice; "
                "expected one row per tracklet and frame"
            )
        xyxy = [_column(rows, name) for name in ("x1", "y1", "x2", "y2")]
        return cls(
            position=position,
            frame=frame,
            local=local,
            tracklet=tracklet,
            classes=_column(rows, "class"),
            boxes=np.stack(xyxy, axis=1).astype(np.float64),
            embeddings=_embeddings(rows, len(frame)),
        )


def _pair_key(major: np.ndarray, minor: np.ndarray) -> np.ndarray:
    """One int64 per (major, minor) pair that sorts like the pair (1-D unique is far faster)."""
    low = minor.min()
    return major * (int(minor.max() - low) + 1) + (minor - low)


def _link(
    rows: _Tracklets, pos: int, first_frame: int, n_frames: int, config: StitchConfig
) -> np.ndarray:
    """[L, 2] links (tracklet of clip `pos`, tracklet of clip `pos + 1`) made over their
    overlap of `n_frames` frames from `first_frame`."""
    in_overlap = (rows.frame >= first_frame) & (rows.frame < first_frame + n_frames)
    earlier = np.flatnonzero(in_overlap & (rows.position == pos))
    later = np.flatnonzero(in_overlap & (rows.position == pos + 1))
    if len(earlier) == 0 or len(later) == 0:
        return np.zeros((0, 2), np.int64)
    a_ids, a_grid, a_row = _frame_grid(rows, earlier, first_frame, n_frames)
    b_ids, b_grid, b_row = _frame_grid(rows, later, first_frame, n_frames)
    pair_a, pair_b = _touching(rows.boxes, a_grid, b_grid)
    same_class = rows.classes[a_row[pair_a]] == rows.classes[b_row[pair_b]]
    pair_a, pair_b = pair_a[same_class], pair_b[same_class]

    # Every (pair, overlap frame) cell at once: rows of both tracklets on that frame, or -1.
    cell_a, cell_b = a_grid[pair_a].ravel(), b_grid[pair_b].ravel()
    both = (cell_a >= 0) & (cell_b >= 0)
    cell_pair = np.repeat(np.arange(len(pair_a)), n_frames)[both]
    iou = iou_matrix(rows.boxes, rows.boxes, pairs=(cell_a[both], cell_b[both]))
    iou_sum = np.bincount(cell_pair, weights=iou, minlength=len(pair_a))
    shared = np.bincount(cell_pair, minlength=len(pair_a))
    mean_iou = np.divide(iou_sum, shared, out=np.zeros(len(pair_a)), where=shared > 0)

    cosine = np.einsum(
        "ij,ij->i",
        _mean_embedding(rows, earlier, a_ids)[pair_a],
        _mean_embedding(rows, later, b_ids)[pair_b],
    )
    cost = (1 - mean_iou) * (1 - config.emb_weight) + (1 - cosine) * config.emb_weight
    ok = (mean_iou >= config.min_iou) & (cost <= config.max_cost)
    admissible = sparse.coo_array(
        (cost[ok], (pair_a[ok], pair_b[ok])), shape=(len(a_ids), len(b_ids))
    )
    # linear_assignment runs scipy's linear_sum_assignment, matching only costs below the threshold.
    matches, _, _ = linear_assignment(
        admissible, threshold=float(np.nextafter(config.max_cost, np.inf))
    )
    return np.stack([a_ids[matches[:, 0]], b_ids[matches[:, 1]]], axis=1)


def _frame_grid(
    rows: _Tracklets, picked: np.ndarray, first_frame: int, n_frames: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tracklets of the `picked` rows (sorted ids), their [T, n_frames] grid of row per overlap
    frame (-1 where absent) and one row of each (for its class)."""
    ids, first, local = np.unique(rows.tracklet[picked], return_index=True, return_inverse=True)
    grid = np.full((len(ids), n_frames), -1, np.int64)
    grid[local, rows.frame[picked] - first_frame] = picked
    return ids, grid, picked[first]


def _touching(
    boxes: np.ndarray, a_grid: np.ndarray, b_grid: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Candidate (a, b) tracklet pairs: those whose boxes may overlap on some frame.

    Tracklets are compared by the hull of their boxes over the overlap, found with a k-d
    tree on hull centres, so a scene of thousands of objects never builds all pairs. A pair
    left out has IoU 0 on every frame, below any `min_iou`.
    """
    hull_a, hull_b = _hulls(boxes, a_grid), _hulls(boxes, b_grid)
    centre_a, half_a = (hull_a[:, :2] + hull_a[:, 2:]) / 2, (hull_a[:, 2:] - hull_a[:, :2]) / 2
    centre_b, half_b = (hull_b[:, :2] + hull_b[:, 2:]) / 2, (hull_b[:, 2:] - hull_b[:, :2]) / 2
    pair_a, pair_b = neighbour_pairs(centre_a, half_a.max(axis=1) + half_b.max(), centre_b)
    gap = np.abs(centre_a[pair_a] - centre_b[pair_b]) - half_a[pair_a] - half_b[pair_b]
    overlapping = (gap < 0).all(axis=1)
    return pair_a[overlapping], pair_b[overlapping]


def _hulls(boxes: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """[T, 4] xyxy hull of each tracklet's boxes, `grid` being its [T, n_frames] rows (-1: none)."""
    present = grid >= 0
    picked = boxes[np.where(present, grid, 0)]
    lows = np.where(present[..., None], picked[..., :2], np.inf).min(axis=1)
    highs = np.where(present[..., None], picked[..., 2:], -np.inf).max(axis=1)
    return np.concatenate([lows, highs], axis=1)


def _mean_embedding(rows: _Tracklets, picked: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Unit mean embedding over each tracklet's `picked` rows, in the order of `ids`."""
    member = sparse.csr_array(
        (
            np.ones(len(picked)),
            (np.searchsorted(ids, rows.tracklet[picked]), np.arange(len(picked))),
        ),
        shape=(len(ids), len(picked)),
    )
    return unit_rows(member @ rows.embeddings[picked].astype(np.float64))


def _deduplicated(clips: list[Clip], rows: _Tracklets, track: np.ndarray) -> np.ndarray:
    """Mask of the rows kept: per (track, frame) the one farthest from a shared clip edge,
    the earlier clip on a tie (see the module docstring)."""
    position, frame = rows.position, rows.frame
    far = np.iinfo(np.int64).max
    starts = np.array([c.start for c in clips])[position]
    ends = np.array([c.end for c in clips])[position]
    from_start = np.where(position > 0, frame - starts, far)
    from_end = np.where(position < len(clips) - 1, ends - 1 - frame, far)
    order = np.lexsort((position, -np.minimum(from_start, from_end), frame, track))
    first_of_group = np.ones(len(order), bool)
    first_of_group[1:] = (np.diff(track[order]) != 0) | (np.diff(frame[order]) != 0)
    keep = np.zeros(len(order), bool)
    keep[order[first_of_group]] = True
    return keep


def _numbered_by_first_appearance(
    rows: _Tracklets, track: np.ndarray, keep: np.ndarray
) -> np.ndarray:
    """Ids 1..K in order of each track's first kept row (by frame, clip, local id)."""
    kept = np.flatnonzero(keep)
    order = kept[np.lexsort((rows.local[kept], rows.position[kept], rows.frame[kept]))]
    tracks, first_seen = np.unique(track[order], return_index=True)
    number = np.empty(int(track.max()) + 1, np.int64)
    number[tracks[np.argsort(first_seen)]] = np.arange(1, len(tracks) + 1)
    return number[track]


def _checked_clips(clips: Sequence[Clip]) -> list[Clip]:
    """Clips in index order; consecutive ones must advance (they are where links are made)."""
    ordered = sorted(clips, key=lambda c: c.index)
    for before, after in zip(ordered, ordered[1:], strict=False):
        if after.index == before.index or after.start < before.start or after.end < before.end:
            raise ValueError(
                f"clips: expected distinct indices with start and end increasing along them, "
                f"got clip {before.index} [{before.start}, {before.end}) then {after.index} [{after.start}, {after.end})"
            )
    return ordered


def _clip_positions(clips: list[Clip], clip_index: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """Position in `clips` of each row's clip, checking the row lies inside that clip."""
    if not clips:
        raise ValueError(f"clips: expected the clips of the {len(frame)} rows, got none")
    indices = np.array([c.index for c in clips], np.int64)
    position = np.clip(np.searchsorted(indices, clip_index), 0, len(clips) - 1)
    unknown = indices[position] != clip_index
    if unknown.any():
        raise ValueError(
            f"rows: clip_index {clip_index[unknown][0]} is not among the clips {indices.tolist()}"
        )
    starts, ends = (
        np.array([getattr(c, name) for c in clips], np.int64)[position] for name in ("start", "end")
    )
    outside = (frame < starts) | (frame >= ends)
    if outside.any():
        row = int(np.flatnonzero(outside)[0])
        raise ValueError(
            f"rows: frame {frame[row]} of clip {clip_index[row]} is outside the clip's "
            f"[{starts[row]}, {ends[row]}); context frames must produce no rows"
        )
    return position


def _column(rows: Rows, name: str) -> np.ndarray | pa.Array:
    """Column `name` as a numpy array, or as one pyarrow Array for a fixed-size list column."""
    if name not in (rows.column_names if isinstance(rows, pa.Table) else rows):
        raise ValueError(f"rows: missing column '{name}'; expected {', '.join(COLUMNS)}")
    column = rows[name]
    if not isinstance(column, pa.ChunkedArray):
        return np.asarray(column)
    if pa.types.is_fixed_size_list(column.type):
        return column.combine_chunks()
    return column.to_numpy()


def _embeddings(rows: Rows, n_rows: int) -> np.ndarray:
    """[N, E] embeddings from a fixed-size list column or a 2-D array, in their own float
    type: only overlap rows are ever used, so widening them all would waste memory."""
    values = _column(rows, "embedding")
    if isinstance(values, pa.Array):
        values = (
            values.flatten().to_numpy(zero_copy_only=False).reshape(n_rows, values.type.list_size)
        )
    if values.ndim != 2 or len(values) != n_rows:
        raise ValueError(
            f"rows: column 'embedding': expected shape [{n_rows}, E], got {list(values.shape)}"
        )
    return values
