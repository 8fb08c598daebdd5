"""Does the model use its past frames? Real history against a frozen one, on moving objects.

For every frame with two real predecessors the model runs twice: on (t, t-1, t-2) and on
(t, t, t), the history a model sees when nothing moves. Ground-truth vehicles are split by
their image displacement over those two frames (moving >= MOVING_PX, parked <= PARKED_PX;
platform jitter moves parked cars a little). Per group: centre recall at the tracker's
detection threshold (a detection of the right class within CENTRE_PX of the gt centre) and
the score of the best such detection (0 when none), real minus frozen. A model that tracks
from single frames shows deltas of zero; the issue on graph reasoning asks for a history
that changes detections where objects move.

Runs on the validation archive of the weights card (training style, seed 2000), never on a
test set. No targets: the rows are the measurement.

    python -m tests.bench.bench_history [--weights W ...] [--archive DIR] [--frames N]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch

from tests.bench.run import row
from tgram.classes import gt_class_id
from tgram.data.formats import read_gt
from tgram.data.video import list_videos, read_frames, video_id
from tgram.inference import Detector
from tgram.model.decode import AP_SCORE_FLOOR
from tgram.resources import SHIPPED_WEIGHTS
from tgram.synth import SynthConfig, generate_archive
from tgram.track.tracker import TrackerConfig

MOVING_PX = 2.0
PARKED_PX = 0.6
CENTRE_PX = 4.0
VALIDATION = SynthConfig(videos=4, frames=12, width=640, height=384, seed=2000)
"""A small validation-seed archive, made when no --archive is given."""


def _centres(boxes: np.ndarray) -> np.ndarray:
    return (boxes[:, :2] + boxes[:, 2:]) / 2


def _gt_at(gt: np.ndarray, frame: int, cls: int) -> dict[int, np.ndarray]:
    rows = gt[(gt["frame"] == frame) & (gt["cls"] == cls) & (gt["mark"] != 0)]
    return {int(r["id"]): np.array([r["x"] + r["w"] / 2, r["y"] + r["h"] / 2]) for r in rows}


def _best_scores(
    det_centres: np.ndarray, det_scores: np.ndarray, gt_centres: np.ndarray
) -> np.ndarray:
    if not len(det_centres) or not len(gt_centres):
        return np.zeros(len(gt_centres))
    dist = np.linalg.norm(gt_centres[:, None] - det_centres[None], axis=2)
    near = np.where(dist <= CENTRE_PX, det_scores[None], 0.0)
    return near.max(1)


def measure(weights: str, archive: Path, frames: int) -> dict[str, float]:
    detector = Detector.from_weights(
        weights, device=torch.device("cpu"), score_threshold=AP_SCORE_FLOOR
    )
    threshold = TrackerConfig().det_threshold
    vehicle = detector.class_names.index("vehicle")
    vehicle_gt = gt_class_id("vehicle")
    scores: dict[tuple[str, str], list[float]] = {}
    for uri in list_videos(archive / "videos"):
        gt = read_gt(archive / "gt" / f"{video_id(uri)}.txt")
        video = [f for _, f in read_frames(uri, 0, frames)]
        for t in range(2, len(video)):
            now, before = _gt_at(gt, t, vehicle_gt), _gt_at(gt, t - 2, vehicle_gt)
            ids = [i for i in now if i in before]
            moved = np.array([np.linalg.norm(now[i] - before[i]) for i in ids])
            centres = np.array([now[i] for i in ids]).reshape(-1, 2)
            groups = {"moving": moved >= MOVING_PX, "parked": moved <= PARKED_PX}
            for history, inputs in (
                ("real", [video[t], video[t - 1], video[t - 2]]),
                ("frozen", [video[t]] * 3),
            ):
                det = detector(inputs[: detector.num_frames])
                keep = det.classes == vehicle
                best = _best_scores(_centres(det.boxes[keep]), det.scores[keep], centres)
                for group, mask in groups.items():
                    scores.setdefault((group, history), []).extend(best[mask])
    out: dict[str, float] = {}
    for group in ("moving", "parked"):
        real, frozen = np.array(scores[(group, "real")]), np.array(scores[(group, "frozen")])
        out[f"{group} objects"] = float(len(real))
        out[f"{group} recall real"] = float((real >= threshold).mean())
        out[f"{group} recall frozen"] = float((frozen >= threshold).mean())
        out[f"{group} score delta mean"] = float((real - frozen).mean())
        out[f"{group} score |delta| p90"] = float(np.quantile(np.abs(real - frozen), 0.9))
    return out


def run(
    weights: list[str] | None = None, archive: Path | None = None, frames: int = 12
) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        if archive is None:
            archive = Path(tmp) / "val"
            generate_archive(archive, VALIDATION, workers=1)
        rows = []
        for w in weights or [str(SHIPPED_WEIGHTS)]:
            for name, value in measure(w, archive, frames).items():
                rows.append(row(f"{Path(w).name}: {name}", value))
        return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", nargs="+", default=[str(SHIPPED_WEIGHTS)])
    parser.add_argument(
        "--archive", type=Path, help="labelled archive (default: a small validation one)"
    )
    parser.add_argument("--frames", type=int, default=12, help="frames read per video")
    args = parser.parse_args()
    for line in run(args.weights, args.archive, args.frames):
        print(f"{line['name']:60s} {line['value']:.4f}")


if __name__ == "__main__":
    main()
