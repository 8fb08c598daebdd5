"""`evaluate`: scores per video, overall and per class, as an EvalReport (text, JSON)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tgram.classes import check_class_names, gt_class_id
from tgram.eval.clear import MM_COUNTS, MM_RATES, clear_accumulator, summarise
from tgram.eval.hota import HotaCounts, hota_counts
from tgram.eval.overlaps import BOX_FIELDS, Matching, MatchKind, video_frames

_OVERALL = "OVERALL"
_HEADERS = {
    "hota": "HOTA",
    "deta": "DetA",
    "assa": "AssA",
    **{name: name.upper() for name in (*MM_RATES, "idsw", "fp", "fn", "mt", "ml")},
    "num_frames": "frames",
    "num_gt": "gt boxes",
}


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
        _check_rows(rows, BOX_FIELDS + needs_class, f"gt of video {name!r}")
    for name, rows in res.items():
        _check_rows(rows, BOX_FIELDS, f"results of video {name!r}")
    class_names = check_class_names(classes) if classes is not None else ()
    results = {name: res.get(name, _empty_like(gt_rows)) for name, gt_rows in gt.items()}
    report = _score(gt, results, matching, class_id=None)
    per_class = {
        name: _score(gt, results, matching, class_id=gt_class_id(name)) for name in class_names
    }
    return EvalReport(report.videos, report.overall, matching, per_class)


def _score(
    gt: Mapping[str, np.ndarray],
    res: Mapping[str, np.ndarray],
    matching: Matching,
    class_id: int | None,
) -> EvalReport:
    """One report over all videos: class-agnostic (`class_id` None) or for one gt class."""
    accumulators, per_video = [], []
    for name, gt_rows in gt.items():
        frames = video_frames(gt_rows, res[name], matching, class_id)
        accumulators.append(clear_accumulator(frames))
        per_video.append(hota_counts(frames))
    summary = summarise(accumulators, list(gt))
    per_video.append(HotaCounts.combine(per_video))
    metrics = {
        str(name): _metrics(summary.loc[name], counts)
        for name, counts in zip(summary.index, per_video, strict=True)
    }
    overall = metrics.pop(_OVERALL)
    return EvalReport(metrics, overall, matching)


def _metrics(row: pd.Series, hota: HotaCounts) -> Metrics:
    rates = {ours: float(row[theirs]) for ours, theirs in MM_RATES.items()}
    counts = {ours: int(row[theirs]) for ours, theirs in MM_COUNTS.items()}
    return Metrics(**hota.scores(), **rates, **counts)


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
    return np.zeros(0, [(name, gt.dtype[name]) for name in BOX_FIELDS])
