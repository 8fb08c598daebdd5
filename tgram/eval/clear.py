"""CLEAR-MOT and identity metrics (MOTA, MOTP, IDF1/IDP/IDR, ID switches, FP, FN, MT, ML)
from motmetrics, the reference implementation, fed with our own sparse distances: its IoU
helper uses `np.asfarray`, which NumPy 2 removed, and centre matching needs its own anyway."""

from __future__ import annotations

from collections.abc import Sequence

import motmetrics as mm
import pandas as pd

from tgram.eval.overlaps import Frame

MM_RATES = {"mota": "mota", "motp": "motp", "idf1": "idf1", "idp": "idp", "idr": "idr"}
MM_COUNTS = {
    "idsw": "num_switches",
    "fp": "num_false_positives",
    "fn": "num_misses",
    "mt": "mostly_tracked",
    "ml": "mostly_lost",
    "num_frames": "num_frames",
    "num_gt": "num_objects",
}
"""Our Metrics field -> motmetrics metric name."""


def clear_accumulator(frames: Sequence[Frame]) -> mm.MOTAccumulator:
    accumulator = mm.MOTAccumulator(auto_id=False)
    for frame in frames:
        distances = frame.overlaps.dense_distances(len(frame.gt_ids), len(frame.res_ids))
        accumulator.update(frame.gt_ids, frame.res_ids, distances, frameid=frame.index)
    return accumulator


def summarise(accumulators: Sequence[mm.MOTAccumulator], names: Sequence[str]) -> pd.DataFrame:
    """motmetrics' summary table: one row per video, then OVERALL."""
    return mm.metrics.create().compute_many(
        accumulators,
        metrics=[*MM_RATES.values(), *MM_COUNTS.values()],
        names=list(names),
        generate_overall=True,
    )
