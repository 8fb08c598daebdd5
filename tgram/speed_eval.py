"""How right the reported speeds are: trajectory outputs against synthetic speed truth.

`tgram eval --speeds OUT` matches each frame's trajectory rows to the gt boxes one to one
(the same rule as the tracking metrics) and compares `speed_mps` with the true ground speed
of the matched object (`tgram synth` writes it to speeds/<id>.csv). Parked objects (true
speed 0) are reported by the speeds we give them, moving ones by the absolute error: a
query like "vehicles faster than 1 m/s" is only useful when parked cars read near 0.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from tgram.data.formats import read_gt, read_speed_truth
from tgram.eval import Matching, gt_files
from tgram.pipeline.trajectories import read_trajectories

MOVING_MPS = 1.0
"""Objects truly faster than this count as moving (slower but not parked: neither)."""


@dataclass(frozen=True)
class SpeedPairs:
    """(true, reported) speeds, m/s, of matched (gt, trajectory row) pairs."""

    true: np.ndarray
    reported: np.ndarray

    @staticmethod
    def concat(parts: list[SpeedPairs]) -> SpeedPairs:
        return SpeedPairs(
            np.concatenate([p.true for p in parts] + [np.zeros(0)]),
            np.concatenate([p.reported for p in parts] + [np.zeros(0)]),
        )


@dataclass(frozen=True)
class SpeedReport:
    matched: int
    parked: int
    parked_median_mps: float
    parked_p90_mps: float
    moving: int
    moving_median_abs_error_mps: float

    @staticmethod
    def of(pairs: SpeedPairs) -> SpeedReport:
        known = np.isfinite(pairs.reported)
        true, reported = pairs.true[known], pairs.reported[known]
        parked, moving = reported[true == 0], np.abs(reported - true)[true > MOVING_MPS]
        return SpeedReport(
            matched=len(true),
            parked=len(parked),
            parked_median_mps=_percentile(parked, 50),
            parked_p90_mps=_percentile(parked, 90),
            moving=len(moving),
            moving_median_abs_error_mps=_percentile(moving, 50),
        )

    def to_text(self) -> str:
        return (
            f"speeds of {self.matched} matched rows: parked ({self.parked}) reported median "
            f"{self.parked_median_mps:.2f} / 90th percentile {self.parked_p90_mps:.2f} m/s; "
            f"moving > {MOVING_MPS:g} m/s ({self.moving}) median absolute error "
            f"{self.moving_median_abs_error_mps:.2f} m/s"
        )


def speed_pairs(
    gt: np.ndarray, truth: np.ndarray, rows: pa.Table, matching: Matching
) -> SpeedPairs:
    """Pairs of one video: `gt` and `truth` (formats rows, same order), `rows` its trajectory
    rows (frame, x, y, w, h, speed_mps)."""
    if len(truth) != len(gt) or not (
        np.array_equal(truth["frame"], gt["frame"]) and np.array_equal(truth["id"], gt["id"])
    ):
        raise ValueError("speed truth rows do not follow the gt rows (frame, id)")
    frame = rows["frame"].to_numpy()
    tlwh = np.stack([rows[c].to_numpy() for c in ("x", "y", "w", "h")], 1).astype(np.float64)
    speed = rows["speed_mps"].to_numpy(zero_copy_only=False).astype(np.float64)
    parts = []
    for f in np.unique(gt["frame"]):
        g = np.flatnonzero(gt["frame"] == f)
        r = np.flatnonzero(frame == f)
        gt_tlwh = np.stack([gt[c][g] for c in ("x", "y", "w", "h")], 1).astype(np.float64)
        overlaps = matching.compare(gt_tlwh, tlwh[r])
        allowed = np.isfinite(overlaps.distance)
        pairs = overlaps.best_matching(np.where(allowed, overlaps.similarity, 0), len(g), len(r))
        pairs = pairs[allowed[pairs]]
        gi, ri = g[overlaps.rows[pairs]], r[overlaps.cols[pairs]]
        parts.append(SpeedPairs(truth["speed_mps"][gi].astype(np.float64), speed[ri]))
    return SpeedPairs.concat(parts)


def evaluate_speeds(gt_dir: str, out_root: str, matching: Matching | None = None) -> SpeedReport:
    """Every video of a trajectory output that has gt and speed truth under `gt_dir`."""
    matching = matching or Matching()
    parts = []
    for vid, gt_uri in gt_files(gt_dir).items():
        rows = read_trajectories(out_root, [vid])
        if rows.num_rows:
            gt = read_gt(gt_uri)
            parts.append(speed_pairs(gt, read_speed_truth(speed_truth_uri(gt_uri)), rows, matching))
    if not parts:
        raise ValueError(f"{out_root}: no trajectories of the videos under {gt_dir}")
    return SpeedReport.of(SpeedPairs.concat(parts))


def speed_truth_uri(gt_uri: str) -> str:
    """Where `tgram synth` put a gt file's speed truth: `<root>/speeds/<id>.csv` for
    `<root>/gt/<id>.txt`, `<seq>/gt/speeds.csv` for `<seq>/gt/gt.txt`."""
    folder, name = posixpath.split(gt_uri.rstrip("/"))
    if name == "gt.txt":
        return posixpath.join(folder, "speeds.csv")
    stem = posixpath.splitext(name)[0]
    return posixpath.join(posixpath.dirname(folder), "speeds", f"{stem}.csv")


def _percentile(values: np.ndarray, q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else float("nan")
