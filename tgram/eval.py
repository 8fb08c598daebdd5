"""Tracking quality: CLEAR-MOT and identity metrics (motmetrics) and HOTA.

MOTA, MOTP, IDF1/IDP/IDR, ID switches, FP, FN, MT and ML come from motmetrics, the reference
implementation, fed with our own distance matrices: its IoU helper uses `np.asfarray`, which
NumPy 2 removed, and we need a centre-distance criterion besides IoU anyway, because the
IoU of a 4x8 px car shifted by two pixels is already below 0.5.

HOTA, DetA and AssA follow Luiten et al. (IJCV 2021) as TrackEval computes them: each frame
is matched by maximising similarity weighted by how well the two ids align over the whole
video, and the scores are averaged over the localisation thresholds alpha = 0.05..0.95.

Ignored gt rows (mark 0) are handled as MOTChallenge does: results are first matched to all
gt boxes of a frame; those that land on an ignored box are dropped, then the ignored boxes.
"""

from __future__ import annotations

import json
import logging
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import motmetrics as mm
import numpy as np
import pandas as pd
import pyarrow.fs as pafs
from scipy import sparse

from tgram import storage
from tgram.data.classes import CLASS_NAMES, check_class_names, gt_class_id
from tgram.data.formats import read_gt, read_results
from tgram.track.matching import iou_matrix, linear_assignment, neighbour_pairs

log = logging.getLogger(__name__)

MatchKind = Literal["iou", "center"]

HOTA_ALPHAS = np.arange(1, 20) / 20
"""Localisation thresholds HOTA averages over (0.05, 0.10, ..., 0.95), as in TrackEval."""

_EPS = np.finfo(np.float64).eps
_BOX_FIELDS = ("frame", "id", "x", "y", "w", "h")
_OVERALL = "OVERALL"
_MM_RATES = {"mota": "mota", "motp": "motp", "idf1": "idf1", "idp": "idp", "idr": "idr"}
_MM_COUNTS = {
    "idsw": "num_switches",
    "fp": "num_false_positives",
    "fn": "num_misses",
    "mt": "mostly_tracked",
    "ml": "mostly_lost",
    "num_frames": "num_frames",
    "num_gt": "num_objects",
}
"""Our Metrics field -> motmetrics metric name."""
_HEADERS = {
    "hota": "HOTA",
    "deta": "DetA",
    "assa": "AssA",
    **{name: name.upper() for name in (*_MM_RATES, "idsw", "fp", "fn", "mt", "ml")},
    "num_frames": "frames",
    "num_gt": "gt boxes",
}


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
            iou = iou_matrix(_xyxy(gt_tlwh), _xyxy(res_tlwh), (rows, cols))
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
class Metrics:
    """One video's (or the overall) scores. MOTP is motmetrics' mean match distance: 1 - IoU
    in `iou` mode, pixels in `center` mode (lower is better). NaN where undefined (no gt)."""

    hota: float
    deta: float
    assa: float
    mota: float
    motp: float
    idf1: float
    idp: float
    idr: float
    idsw: int
    fp: int
    fn: int
    mt: int
    ml: int
    num_frames: int
    num_gt: int
    """gt boxes scored (ignored ones excluded)."""

    def to_dict(self) -> dict[str, float | int | None]:
        """JSON-safe: NaN becomes None."""
        return {
            k: None if isinstance(v, float) and np.isnan(v) else v for k, v in asdict(self).items()
        }


@dataclass(frozen=True)
class EvalReport:
    """Per-video and overall scores; `classes` holds the same report for each class asked for."""

    videos: dict[str, Metrics]
    overall: Metrics
    matching: Matching
    classes: dict[str, EvalReport] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "matching": asdict(self.matching),
            "videos": {name: m.to_dict() for name, m in self.videos.items()},
            "overall": self.overall.to_dict(),
            "classes": {name: report.to_dict() for name, report in self.classes.items()},
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def to_text(self) -> str:
        """A table per report: one row per video, then OVERALL."""
        sections = [f"matching: {self.matching.describe()}", self._table()]
        sections += [f"\nclass {name}:\n{report._table()}" for name, report in self.classes.items()]
        return "\n".join(sections)

    def _table(self) -> str:
        rows = {**self.videos, _OVERALL: self.overall}
        table = pd.DataFrame([asdict(m) for m in rows.values()], index=list(rows)).rename(
            columns=_HEADERS
        )
        return table.to_string(float_format=lambda v: f"{v:.3f}", na_rep="-")


def evaluate(
    gt: Mapping[str, np.ndarray],
    res: Mapping[str, np.ndarray],
    *,
    match: MatchKind = Matching.kind,
    iou_threshold: float = Matching.iou_threshold,
    center_threshold_px: float = Matching.center_threshold_px,
    classes: Sequence[str] | None = None,
) -> EvalReport:
    """Score tracker results against ground truth, per video and overall.

    `gt` maps video id -> rows with fields frame (0-based), id, x, y, w, h (tlwh px) and
    optionally mark (0 = ignore) and cls (1-based gt class id), e.g. `formats.read_gt`
    output; `res` maps video id -> rows with frame, id, x, y, w, h (`formats.read_results`)
    and optionally cls. A gt video without results scores all its boxes as misses; every
    frame present in either is evaluated. With `classes`, each named class is also scored on
    its own: when results carry cls only that class's results count, otherwise every result
    does and gt boxes of other classes act as ignore regions (a result on them is no FP).
    """
    matching = Matching(match, iou_threshold, center_threshold_px)
    if not gt:
        raise ValueError("no ground-truth videos to evaluate")
    unknown = sorted(set(res) - set(gt))
    if unknown:
        raise ValueError(f"results for video {unknown[0]!r} have no ground truth")
    needs_class = ("cls",) if classes is not None else ()
    for name, rows in gt.items():
        _check_rows(rows, _BOX_FIELDS + needs_class, f"gt of video {name!r}")
    for name, rows in res.items():
        _check_rows(rows, _BOX_FIELDS, f"results of video {name!r}")
    class_names = check_class_names(classes) if classes is not None else ()
    results = {name: res.get(name, _empty_like(gt_rows)) for name, gt_rows in gt.items()}
    report = _score(gt, results, matching, class_id=None)
    per_class = {
        name: _score(gt, results, matching, class_id=gt_class_id(name)) for name in class_names
    }
    return EvalReport(report.videos, report.overall, matching, per_class)


def evaluate_files(
    gt: str | Path | Sequence[str | Path],
    res: str | Path,
    *,
    match: MatchKind = Matching.kind,
    iou_threshold: float = Matching.iou_threshold,
    center_threshold_px: float = Matching.center_threshold_px,
    per_class: bool = False,
) -> EvalReport:
    """Score MOTChallenge results files against gt files, local or s3://.

    `gt` is a folder of `<video_id>.txt` files, a tree holding `<seq>/gt/gt.txt` (AIR-MOT,
    MOTChallenge), one gt file, or a list of gt files; `res` a folder of `<video_id>.txt`
    or, for a single gt file, one results file. A gt video whose results file is missing
    counts as all misses; results files without gt are ignored. `per_class` also scores each
    of CLASS_NAMES by the gt class column (results files carry no class).
    """
    gt_uris = gt_files(gt)
    single_pair = len(gt_uris) == 1 and not storage.is_dir(res)
    res_uris = {
        name: str(res) if single_pair else storage.join(res, f"{name}.txt") for name in gt_uris
    }
    present = {name: uri for name, uri in res_uris.items() if storage.exists(uri)}
    if not present:
        raise FileNotFoundError(f"{res}: no results file for any of the {len(gt_uris)} gt videos")
    for name in sorted(set(gt_uris) - set(present)):
        log.warning("%s: missing, video %s scored as all misses", res_uris[name], name)
    return evaluate(
        {name: read_gt(uri) for name, uri in gt_uris.items()},
        {name: read_results(uri) for name, uri in present.items()},
        match=match,
        iou_threshold=iou_threshold,
        center_threshold_px=center_threshold_px,
        classes=CLASS_NAMES if per_class else None,
    )


# --- one evaluation (all classes, or one) ----------------------------------------------------


@dataclass(frozen=True)
class _Frame:
    """What is scored in one frame after ignore handling: the ids and how their boxes overlap."""

    index: int
    gt_ids: np.ndarray
    res_ids: np.ndarray
    overlaps: Overlaps


@dataclass(frozen=True)
class _HotaCounts:
    """Per-alpha detection counts and AssA of one video; sums and TP-weighted AssA combine."""

    tp: np.ndarray
    fn: np.ndarray
    fp: np.ndarray
    assa: np.ndarray

    @staticmethod
    def combine(parts: Sequence[_HotaCounts]) -> _HotaCounts:
        tp = np.sum([p.tp for p in parts], axis=0)
        assa = np.sum([p.assa * p.tp for p in parts], axis=0) / np.maximum(tp, 1e-10)
        return _HotaCounts(
            tp, np.sum([p.fn for p in parts], axis=0), np.sum([p.fp for p in parts], axis=0), assa
        )

    def scores(self) -> dict[str, float]:
        deta = self.tp / np.maximum(1, self.tp + self.fn + self.fp)
        hota = np.sqrt(deta * self.assa)
        return {
            "hota": float(hota.mean()),
            "deta": float(deta.mean()),
            "assa": float(self.assa.mean()),
        }


def _score(
    gt: Mapping[str, np.ndarray],
    res: Mapping[str, np.ndarray],
    matching: Matching,
    class_id: int | None,
) -> EvalReport:
    """One report over all videos: class-agnostic (`class_id` None) or for one gt class."""
    accumulators, hota_counts = [], []
    for name, gt_rows in gt.items():
        frames = _video_frames(gt_rows, res[name], matching, class_id)
        accumulators.append(_clear_accumulator(frames))
        hota_counts.append(_hota_counts(frames))
    summary = mm.metrics.create().compute_many(
        accumulators,
        metrics=[*_MM_RATES.values(), *_MM_COUNTS.values()],
        names=list(gt),
        generate_overall=True,
    )
    hota_counts.append(_HotaCounts.combine(hota_counts))
    metrics = {
        str(name): _metrics(summary.loc[name], counts)
        for name, counts in zip(summary.index, hota_counts, strict=True)
    }
    overall = metrics.pop(_OVERALL)
    return EvalReport(metrics, overall, matching)


def _metrics(row: pd.Series, hota: _HotaCounts) -> Metrics:
    rates = {ours: float(row[theirs]) for ours, theirs in _MM_RATES.items()}
    counts = {ours: int(row[theirs]) for ours, theirs in _MM_COUNTS.items()}
    return Metrics(**hota.scores(), **rates, **counts)


def _video_frames(
    gt: np.ndarray, res: np.ndarray, matching: Matching, class_id: int | None
) -> list[_Frame]:
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
        _split_by_frame(gt[is_target], frame_indices),
        _split_by_frame(gt[is_ignored], frame_indices),
        _split_by_frame(res, frame_indices),
        strict=True,
    ):
        res_f = _drop_ignored(gt_f, ignored_f, res_f, matching)
        overlaps = matching.compare(_tlwh(gt_f), _tlwh(res_f))
        frames.append(_Frame(int(index), gt_f["id"], res_f["id"], overlaps))
    return frames


def _drop_ignored(
    gt: np.ndarray, ignored: np.ndarray, res: np.ndarray, matching: Matching
) -> np.ndarray:
    """`res` without the results that a joint matching against target and ignored boxes gives
    to an ignored box. The matching maximises the number of matches, closer pairs breaking ties.
    """
    if len(ignored) == 0 or len(res) == 0:
        return res
    overlaps = matching.compare(np.concatenate([_tlwh(gt), _tlwh(ignored)]), _tlwh(res))
    may_match = np.isfinite(overlaps.distance)
    gain = np.where(may_match, 1 + overlaps.similarity, 0)
    matched = overlaps.best_matching(gain, len(gt) + len(ignored), len(res))
    on_ignored = overlaps.rows[matched] >= len(gt)
    return np.delete(res, overlaps.cols[matched][on_ignored])


def _clear_accumulator(frames: Sequence[_Frame]) -> mm.MOTAccumulator:
    accumulator = mm.MOTAccumulator(auto_id=False)
    for frame in frames:
        distances = frame.overlaps.dense_distances(len(frame.gt_ids), len(frame.res_ids))
        accumulator.update(frame.gt_ids, frame.res_ids, distances, frameid=frame.index)
    return accumulator


def _hota_counts(frames: Sequence[_Frame]) -> _HotaCounts:
    """TP/FN/FP and AssA per alpha for one video (TrackEval's HOTA algorithm).

    An id pair is one integer key, gt index * number of result ids + result index, and its
    statistics are kept per key that ever overlaps, never as dense id x id matrices.
    """
    if not frames:
        return _HotaCounts(*np.zeros((4, len(HOTA_ALPHAS))))
    gt_ids, gt_index = np.unique(_concat([f.gt_ids for f in frames]), return_inverse=True)
    res_ids, res_index = np.unique(_concat([f.res_ids for f in frames]), return_inverse=True)
    gt_count = np.bincount(gt_index, minlength=len(gt_ids))
    res_count = np.bincount(res_index, minlength=len(res_ids))
    n_res = max(len(res_ids), 1)
    gt_offsets = np.cumsum([0] + [len(f.gt_ids) for f in frames])
    res_offsets = np.cumsum([0] + [len(f.res_ids) for f in frames])
    frame_keys = [
        gt_index[g0 + f.overlaps.rows] * n_res + res_index[r0 + f.overlaps.cols]
        for f, g0, r0 in zip(frames, gt_offsets[:-1], res_offsets[:-1], strict=True)
    ]

    # Global alignment of an id pair: its per-frame share of similarity summed over the video,
    # as an IoU over the two ids' lifetimes.
    shares = []
    for f in frames:
        o = f.overlaps
        row_sum = np.bincount(o.rows, o.similarity, minlength=len(f.gt_ids))
        col_sum = np.bincount(o.cols, o.similarity, minlength=len(f.res_ids))
        union = row_sum[o.rows] + col_sum[o.cols] - o.similarity
        shares.append(np.divide(o.similarity, union, out=np.zeros_like(union), where=union > 0))
    keys, key_index = np.unique(_concat(frame_keys), return_inverse=True)
    potential = np.bincount(key_index, weights=_concat(shares), minlength=len(keys))
    alignment = potential / (gt_count[keys // n_res] + res_count[keys % n_res] - potential)

    matched_keys, matched_sims = [], []
    for f, pair_keys in zip(frames, frame_keys, strict=True):
        score = alignment[np.searchsorted(keys, pair_keys)] * f.overlaps.similarity
        matched = f.overlaps.best_matching(score, len(f.gt_ids), len(f.res_ids))
        matched_keys.append(pair_keys[matched])
        matched_sims.append(f.overlaps.similarity[matched])
    all_keys, all_sims = _concat(matched_keys), _concat(matched_sims)

    tp = np.zeros(len(HOTA_ALPHAS))
    assa = np.zeros(len(HOTA_ALPHAS))
    for a, alpha in enumerate(HOTA_ALPHAS):
        pair, count = np.unique(all_keys[all_sims >= alpha - _EPS], return_counts=True)
        pair_assa = count / (gt_count[pair // n_res] + res_count[pair % n_res] - count)
        tp[a] = count.sum()
        assa[a] = (count * pair_assa).sum() / max(tp[a], 1)
    return _HotaCounts(tp, gt_count.sum() - tp, res_count.sum() - tp, assa)


# --- helpers ---------------------------------------------------------------------------------


def _check_rows(rows: np.ndarray, fields: Sequence[str], what: str) -> None:
    """Missing fields and an id twice in one frame are input errors, named precisely."""
    names = rows.dtype.names or ()
    missing = [f for f in fields if f not in names]
    if missing:
        raise ValueError(
            f"{what}: expected a structured array with fields {', '.join(fields)}; missing {', '.join(missing)}"
        )
    pairs, counts = np.unique(
        np.stack([rows["frame"], rows["id"]], axis=1), axis=0, return_counts=True
    )
    if (counts > 1).any():
        frame, track_id = pairs[np.argmax(counts > 1)]
        raise ValueError(
            f"{what}: id {track_id} appears {counts.max()} times in frame {frame + 1} (1-based)"
        )


def _empty_like(gt: np.ndarray) -> np.ndarray:
    return np.zeros(0, [(name, gt.dtype[name]) for name in _BOX_FIELDS])


def _split_by_frame(rows: np.ndarray, frame_indices: np.ndarray) -> list[np.ndarray]:
    """Rows of each frame in `frame_indices` (sorted), empty where a frame has none."""
    rows = rows[np.argsort(rows["frame"], kind="stable")]
    starts = np.searchsorted(rows["frame"], frame_indices, side="left")
    ends = np.searchsorted(rows["frame"], frame_indices, side="right")
    return [rows[s:e] for s, e in zip(starts, ends, strict=True)]


def _tlwh(rows: np.ndarray) -> np.ndarray:
    return np.column_stack([rows[k] for k in ("x", "y", "w", "h")]).astype(np.float64)


def _xyxy(tlwh: np.ndarray) -> np.ndarray:
    return np.concatenate([tlwh[:, :2], tlwh[:, :2] + tlwh[:, 2:]], axis=1)


def _concat(arrays: Sequence[np.ndarray]) -> np.ndarray:
    return np.concatenate(arrays) if len(arrays) else np.zeros(0, np.int64)


def gt_files(gt: str | Path | Sequence[str | Path]) -> dict[str, str]:
    """Video id -> gt file: `<id>.txt` at the top of a folder, `<id>/gt/gt.txt` anywhere."""
    if not isinstance(gt, (str, Path)):
        files = [_gt_file_id(str(uri)) for uri in gt]
    elif storage.is_dir(gt):
        files = _gt_files_in(str(gt))
    elif storage.exists(gt):
        files = [_gt_file_id(str(gt))]
    else:
        raise FileNotFoundError(f"{gt}: no such gt file or folder")
    found: dict[str, str] = {}
    for name, uri in files:
        if name in found:
            raise ValueError(f"video id {name!r} has two gt files: {found[name]} and {uri}")
        found[name] = uri
    if not found:
        raise FileNotFoundError(f"{gt}: no gt files (expected <video_id>.txt or <seq>/gt/gt.txt)")
    return dict(sorted(found.items()))


def _gt_files_in(folder: str) -> list[tuple[str, str]]:
    fs, root = storage.resolve(folder)
    prefix = "s3://" if storage.is_s3(folder) else ""
    files = []
    for entry in fs.get_file_info(pafs.FileSelector(root, recursive=True)):
        relative = posixpath.relpath(entry.path, root)
        parts = relative.split("/")
        top_level_txt = len(parts) == 1 and relative.endswith(".txt")
        tree_gt = len(parts) >= 3 and parts[-2:] == ["gt", "gt.txt"]
        if entry.type == pafs.FileType.File and (top_level_txt or tree_gt):
            files.append(_gt_file_id(prefix + entry.path))
    return files


def _gt_file_id(uri: str) -> tuple[str, str]:
    """(video id, uri): the sequence folder name for `<seq>/gt/gt.txt`, else the file stem."""
    parts = uri.rstrip("/").split("/")
    if parts[-2:] == ["gt", "gt.txt"] and len(parts) >= 3:
        return parts[-3], uri
    return posixpath.splitext(parts[-1])[0], uri
