"""Which result box may match which gt box, and how similar they are: IoU or centre
distance, found sparsely with a k-d tree; and each frame's boxes after ignore handling."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import sparse

from tgram.geometry import iou_matrix, linear_assignment, neighbour_pairs

MatchKind = Literal["iou", "center"]

BOX_FIELDS = ("frame", "id", "x", "y", "w", "h")


@dataclass(frozen=True)
class Matching:
    """When a result box may match a gt box, and how similar they are (for HOTA)."""

    kind: MatchKind = "iou"
    iou_threshold: float = 0.5
    """Lowest IoU of a match in `iou` mode; raising it demands tighter boxes."""
    center_threshold_px: float = 5.0
    """Largest centre distance of a match in `center` mode, about one car length at 1 m GSD;
    raising it accepts looser localisation (and neighbours in dense parking lots)."""

    def __post_init__(self) -> None:
        if self.kind not in ("iou", "center"):
            raise ValueError(f"match must be 'iou' or 'center', got {self.kind!r}")
        if not 0 < self.iou_threshold <= 1:
            raise ValueError(f"iou_threshold must be in (0, 1], got {self.iou_threshold}")
        if not self.center_threshold_px > 0:
            raise ValueError(f"center_threshold_px must be > 0, got {self.center_threshold_px}")

    def describe(self) -> str:
        if self.kind == "iou":
            return f"IoU >= {self.iou_threshold:g}"
        return f"centre distance <= {self.center_threshold_px:g} px"

    def compare(self, gt_tlwh: np.ndarray, res_tlwh: np.ndarray) -> Overlaps:
        """The (gt, result) pairs that overlap or may match, found with a k-d tree.

        Only boxes whose centres are close can overlap, so a frame of thousands of objects
        never builds the full gt x result matrix.
        """
        if len(gt_tlwh) == 0 or len(res_tlwh) == 0:
            return Overlaps.empty()
        gt_centres = gt_tlwh[:, :2] + gt_tlwh[:, 2:] / 2
        res_centres = res_tlwh[:, :2] + res_tlwh[:, 2:] / 2
        if self.kind == "iou":
            # Intersecting boxes have centres closer than half their summed sizes, per axis.
            radii = (gt_tlwh[:, 2:].max(axis=1) + res_tlwh[:, 2:].max()) / 2
            rows, cols = neighbour_pairs(gt_centres, radii, res_centres)
            iou = iou_matrix(xyxy(gt_tlwh), xyxy(res_tlwh), (rows, cols))
            keep = iou > 0
            similarity = iou[keep]
            distance = np.where(similarity >= self.iou_threshold, 1 - similarity, np.nan)
        else:
            radii = np.full(len(gt_tlwh), self.center_threshold_px)
            rows, cols = neighbour_pairs(gt_centres, radii, res_centres)
            centre_distance = np.linalg.norm(gt_centres[rows] - res_centres[cols], axis=1)
            keep = centre_distance <= self.center_threshold_px
            distance = centre_distance[keep]
            similarity = 1 - distance / self.center_threshold_px
        return Overlaps(rows[keep], cols[keep], similarity, distance)


@dataclass(frozen=True)
class Overlaps:
    """Sparse comparison of one frame's gt (rows) and result (cols) boxes, sorted by (row, col).

    Pairs absent here have similarity 0 and may not match.
    """

    rows: np.ndarray
    cols: np.ndarray
    similarity: np.ndarray
    """HOTA similarity in [0, 1]: IoU, or 1 - centre distance / threshold."""
    distance: np.ndarray
    """motmetrics distance (1 - IoU, or centre distance in px); NaN where they may not match."""

    @staticmethod
    def empty() -> Overlaps:
        no_pairs = np.zeros(0, np.int64)
        return Overlaps(no_pairs, no_pairs, np.zeros(0), np.zeros(0))

    def dense_distances(self, n_gt: int, n_res: int) -> np.ndarray:
        """[n_gt, n_res] distances in motmetrics' form: NaN = do not pair."""
        dense = np.full((n_gt, n_res), np.nan)
        dense[self.rows, self.cols] = self.distance
        return dense

    def best_matching(self, gain: np.ndarray, n_gt: int, n_res: int) -> np.ndarray:
        """Indices into these pairs of the one-to-one matching maximising total `gain` (> 0)."""
        cost = sparse.coo_array((-gain, (self.rows, self.cols)), shape=(n_gt, n_res))
        pairs, _, _ = linear_assignment(cost, threshold=0)
        return np.searchsorted(self.rows * n_res + self.cols, pairs[:, 0] * n_res + pairs[:, 1])


@dataclass(frozen=True)
class Frame:
    """What is scored in one frame after ignore handling: the ids and how their boxes overlap."""

    index: int
    gt_ids: np.ndarray
    res_ids: np.ndarray
    overlaps: Overlaps


def video_frames(
    gt: np.ndarray, res: np.ndarray, matching: Matching, class_id: int | None
) -> list[Frame]:
    """Every frame with gt or results, with ignored boxes and the results on them removed.

    Targets are gt rows with mark != 0 (of `class_id` when given). Ignore regions are rows
    with mark 0 and, when the results carry no class, gt rows of other classes.
    """
    marked = gt["mark"] != 0 if "mark" in gt.dtype.names else np.ones(len(gt), bool)
    is_target, is_ignored = marked, ~marked
    if class_id is not None:
        of_class = gt["cls"] == class_id
        is_target = marked & of_class
        if "cls" in res.dtype.names:
            res = res[res["cls"] == class_id]
        else:
            is_ignored = ~is_target
    frame_indices = np.union1d(gt["frame"], res["frame"])
    frames = []
    for index, gt_f, ignored_f, res_f in zip(
        frame_indices,
        split_by_frame(gt[is_target], frame_indices),
        split_by_frame(gt[is_ignored], frame_indices),
        split_by_frame(res, frame_indices),
        strict=True,
    ):
        res_f = drop_ignored(gt_f, ignored_f, res_f, matching)
        overlaps = matching.compare(tlwh(gt_f), tlwh(res_f))
        frames.append(Frame(int(index), gt_f["id"], res_f["id"], overlaps))
    return frames


def drop_ignored(
    gt: np.ndarray, ignored: np.ndarray, res: np.ndarray, matching: Matching
) -> np.ndarray:
    """`res` without the results that a joint matching against target and ignored boxes gives
    to an ignored box. The matching maximises the number of matches, closer pairs breaking ties.
    """
    if len(ignored) == 0 or len(res) == 0:
        return res
    overlaps = matching.compare(np.concatenate([tlwh(gt), tlwh(ignored)]), tlwh(res))
    may_match = np.isfinite(overlaps.distance)
    gain = np.where(may_match, 1 + overlaps.similarity, 0)
    matched = overlaps.best_matching(gain, len(gt) + len(ignored), len(res))
    on_ignored = overlaps.rows[matched] >= len(gt)
    return np.delete(res, overlaps.cols[matched][on_ignored])


def split_by_frame(rows: np.ndarray, frame_indices: np.ndarray) -> list[np.ndarray]:
    """Rows of each frame in `frame_indices` (sorted), empty where a frame has none."""
    rows = rows[np.argsort(rows["frame"], kind="stable")]
    starts = np.searchsorted(rows["frame"], frame_indices, side="left")
    ends = np.searchsorted(rows["frame"], frame_indices, side="right")
    return [rows[s:e] for s, e in zip(starts, ends, strict=True)]


def tlwh(rows: np.ndarray) -> np.ndarray:
    return np.column_stack([rows[k] for k in ("x", "y", "w", "h")]).astype(np.float64)


def xyxy(tlwh: np.ndarray) -> np.ndarray:
    return np.concatenate([tlwh[:, :2], tlwh[:, :2] + tlwh[:, 2:]], axis=1)
