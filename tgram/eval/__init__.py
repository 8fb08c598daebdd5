"""Tracking quality (`tgram eval`): CLEAR-MOT and identity metrics (motmetrics) and HOTA.

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

from tgram.eval.files import evaluate_files, gt_files
from tgram.eval.hota import HOTA_ALPHAS
from tgram.eval.overlaps import Matching, MatchKind
from tgram.eval.report import EvalReport, Metrics, evaluate

__all__ = [
    "HOTA_ALPHAS",
    "EvalReport",
    "MatchKind",
    "Matching",
    "Metrics",
    "evaluate",
    "evaluate_files",
    "gt_files",
]
