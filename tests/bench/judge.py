"""Should a candidate weights file replace the shipped one? The project's rule, run end to end.

Sessions judged candidates with scripts of their own until stop 35; this is that rule in one
place (weights/README.md states it and why each condition is there). Over the validation
archives of `bench_validation` (never a test seed or the held-out family), each weights file
runs once per video; the tracker of `configs/track/default.yaml` then runs at every setting of
a grid of detection thresholds x track filters (new track = det + 0.05, low-score association
from 0.2), scored as `bench_tracking` scores the test sets (per class, centre <= 5 px). The
objective of a setting is the mean over the archives of (MOTA + IDF1) / 2. A setting is
admissible for the candidate when no archive scores more than 0.01 below the reference at that
setting nor below the reference at the shipped thresholds (stop 33: a candidate judged only at
its own setting shipped a higher track filter that lost shifted imagery). The candidate passes
only if

- its best admissible objective beats the reference's best anywhere on the grid by > 0.003;
- full-frame vehicle centre recall (score >= 0.3, 4 px) on val_shift and val_alt is within
  0.02 of the reference's (stop 35: two weight averages passed the rest and lost a tenth of
  the held-out family's vehicles, which only val_shift's recall showed).

    python -m tests.bench.judge CANDIDATE.pt [--reference W] [--dets 0.3,0.35,0.4]
        [--filters 0.44,0.46,0.48,0.5] [--reference-scores runs/judge_reference.json]
        [--exclude val_alt]

`--exclude` leaves an archive out of both files' scores: one whose renderer the candidate was
trained on (a candidate that has seen tgram.altstyle's imagery is not judged on val_alt).

About 20 minutes a weights file on 2 cores; `--reference-scores` keeps the reference's. Test
sets come after a pass, for figures and the held-out family's veto (weights/README.md), never
to choose.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from tests.bench.bench_tracking import _full_frame_ap, _with_gt_class
from tests.bench.bench_validation import ARCHIVES, DEFAULT_TRACKER, ValidationArchive
from tgram.calibrate import cache_detections, track_cached
from tgram.classes import CLASS_NAMES
from tgram.config import load_config
from tgram.data.formats import read_gt
from tgram.data.video import list_videos
from tgram.eval import evaluate
from tgram.inference import Detector
from tgram.model.decode import AP_SCORE_FLOOR
from tgram.resources import SHIPPED_WEIGHTS
from tgram.track.tracker import TrackerConfig

DETS = (0.3, 0.35, 0.4)
FILTERS = (0.44, 0.46, 0.48, 0.5)
NEW_TRACK_MARGIN = 0.05
LOW_DET = 0.2
BEAT_BY = 0.003
ARCHIVE_SLACK = 0.01
RECALL_SLACK = 0.02
RECALL_ARCHIVES = ("val_shift", "val_alt")

Setting = tuple[float, float]
"""(det_threshold, min_track_score)."""


@dataclass(frozen=True)
class Scores:
    """One weights file on the validation archives."""

    objective: dict[Setting, dict[str, float]]
    """setting -> archive name -> (MOTA + IDF1) / 2."""
    vehicle_recall: dict[str, float]
    """archive name -> full-frame vehicle centre recall."""

    def mean(self, setting: Setting) -> float:
        return float(np.mean(list(self.objective[setting].values())))

    def without(self, archives: Sequence[str]) -> Scores:
        """These scores with `archives` left out of every setting and of the recall."""
        objective = {
            s: {a: v for a, v in per.items() if a not in archives}
            for s, per in self.objective.items()
        }
        recall = {a: v for a, v in self.vehicle_recall.items() if a not in archives}
        return Scores(objective, recall)

    def to_json(self) -> str:
        settings = [{"det": d, "filter": f, "archives": v} for (d, f), v in self.objective.items()]
        return json.dumps({"settings": settings, "vehicle_recall": self.vehicle_recall}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> Scores:
        data = json.loads(text)
        objective = {(s["det"], s["filter"]): s["archives"] for s in data["settings"]}
        return cls(objective, data["vehicle_recall"])


@dataclass(frozen=True)
class Verdict:
    passed: bool
    setting: Setting | None
    """The candidate's best admissible setting (None: none is admissible)."""
    reasons: tuple[str, ...]
    """Why it failed, one line each (empty when it passed)."""


def judge(candidate: Scores, reference: Scores, shipped: Setting) -> Verdict:
    """The rule of the module docstring over two weights files' scores on the same grid."""
    floors = {a: v - ARCHIVE_SLACK for a, v in reference.objective[shipped].items()}

    def admissible(setting: Setting) -> bool:
        scores = candidate.objective[setting]
        at_setting = reference.objective[setting]
        return all(s >= floors[a] and s >= at_setting[a] - ARCHIVE_SLACK for a, s in scores.items())

    reasons = []
    for archive in RECALL_ARCHIVES:
        if archive in candidate.vehicle_recall:
            ours, theirs = candidate.vehicle_recall[archive], reference.vehicle_recall[archive]
            if ours < theirs - RECALL_SLACK:
                reasons.append(
                    f"{archive}: vehicle centre recall {ours:.3f} < {theirs:.3f} - {RECALL_SLACK}"
                )
    settings = [s for s in candidate.objective if admissible(s)]
    if not settings:
        reasons.append(
            f"no setting keeps every archive within {ARCHIVE_SLACK} of the reference there and "
            "at the shipped thresholds"
        )
        return Verdict(False, None, tuple(reasons))
    best = max(settings, key=candidate.mean)
    reference_best = max(reference.mean(s) for s in reference.objective)
    if candidate.mean(best) <= reference_best + BEAT_BY:
        reasons.append(
            f"best admissible objective {candidate.mean(best):.4f} (det {best[0]}, filter "
            f"{best[1]}) does not beat the reference's best {reference_best:.4f} + {BEAT_BY}"
        )
    return Verdict(not reasons, best, tuple(reasons))


def score(
    weights: str,
    archives: Sequence[ValidationArchive],
    base: TrackerConfig,
    dets: Sequence[float] = DETS,
    filters: Sequence[float] = FILTERS,
) -> Scores:
    """One model run per video; one tracker run per detection threshold, whose rows every track
    filter then thins (the filter leaves out whole tracks, so it needs no run of its own)."""
    detector = Detector.from_weights(weights, score_threshold=AP_SCORE_FLOOR)
    objective: dict[Setting, dict[str, float]] = {(d, f): {} for d in dets for f in filters}
    recall = {}
    for archive in archives:
        path = archive.ensure()
        gt = {p.stem: read_gt(p) for p in sorted((path / "gt").glob("*.txt"))}
        cached = cache_detections(list_videos(path / "videos"), detector, None, base.registration)
        recall[path.name] = _full_frame_ap(cached, gt, detector.class_names)[
            "centre_recall/vehicle"
        ]
        for det in dets:
            config = replace(
                base,
                det_threshold=det,
                new_track_threshold=round(det + NEW_TRACK_MARGIN, 6),
                low_det_threshold=LOW_DET,
                min_track_score=0.0,
            )
            tracked = {n: track_cached(v, config, detector.emb_dim) for n, v in cached.items()}
            for f in filters:
                results = {
                    n: _with_gt_class(rows.confident_tracks(f), detector.class_names)
                    for n, rows in tracked.items()
                }
                o = evaluate(gt, results, match="center", classes=CLASS_NAMES).overall
                objective[det, f][path.name] = (o.mota + o.idf1) / 2
    return Scores(objective, recall)


def shipped_setting(base: TrackerConfig) -> Setting:
    """The shipped thresholds as a grid setting; they must lie on the grid's lines."""
    if (
        abs(base.new_track_threshold - base.det_threshold - NEW_TRACK_MARGIN) > 1e-6
        or base.low_det_threshold != LOW_DET
    ):
        raise ValueError(
            f"{DEFAULT_TRACKER}: new_track_threshold must be det_threshold + {NEW_TRACK_MARGIN} "
            f"and low_det_threshold {LOW_DET} to compare on the grid, got "
            f"{base.new_track_threshold} / {base.det_threshold} / {base.low_det_threshold}"
        )
    return base.det_threshold, base.min_track_score


def _table(name: str, scores: Scores) -> str:
    archives = list(next(iter(scores.objective.values())))
    lines = [f"{name}: " + " ".join(archives) + " | mean"]
    for (det, f), per in scores.objective.items():
        cells = " ".join(f"{per[a]:.4f}" for a in archives)
        lines.append(f"  det {det} filter {f}: {cells} | {scores.mean((det, f)):.4f}")
    lines.append(
        "  vehicle centre recall: "
        + " ".join(f"{a} {r:.3f}" for a, r in scores.vehicle_recall.items())
    )
    return "\n".join(lines)


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(x) for x in text.split(","))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("candidate", help="candidate weights file")
    parser.add_argument("--reference", default=str(SHIPPED_WEIGHTS), help="the shipped weights")
    parser.add_argument("--dets", type=_floats, default=DETS, help="detection thresholds")
    parser.add_argument("--filters", type=_floats, default=FILTERS, help="track filters")
    parser.add_argument(
        "--reference-scores",
        type=Path,
        help="JSON of the reference's scores: read if it exists (same grid), else written",
    )
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        choices=[Path(a.path).name for a in ARCHIVES],
        help="leave this archive out (one whose renderer the candidate trained on); repeatable",
    )
    args = parser.parse_args(argv)
    archives = [a for a in ARCHIVES if Path(a.path).name not in args.exclude]
    base = load_config(DEFAULT_TRACKER, TrackerConfig)
    shipped = shipped_setting(base)
    grid = {(d, f) for d in args.dets for f in args.filters}
    if shipped not in grid:
        parser.error(f"the grid must hold the shipped setting {shipped}")
    saved = args.reference_scores
    if saved is not None and saved.exists():
        reference = Scores.from_json(saved.read_text())
        if set(reference.objective) != grid:
            parser.error(f"{saved}: scored on another grid; delete it to score the reference again")
    else:
        reference = score(args.reference, ARCHIVES, base, args.dets, args.filters)
        if saved is not None:
            saved.write_text(reference.to_json())
    reference = reference.without(args.exclude)
    print(_table(args.reference, reference), flush=True)
    candidate = score(args.candidate, archives, base, args.dets, args.filters)
    print(_table(args.candidate, candidate))
    verdict = judge(candidate, reference, shipped)
    print("PASS" if verdict.passed else "FAIL", f"at {verdict.setting}", *verdict.reasons, sep="\n")
    return 0 if verdict.passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
