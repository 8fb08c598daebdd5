"""Why boxes miss IoU 0.5 on small vehicles: where a weights file's localisation error lies.

IoU MOTA trails centre MOTA by ~0.17 on the held-out family (issue 13). For every gt vehicle
with a detection (score >= --score) within --radius px of its centre, on whole frames of the
validation archives (never a test seed or the held-out family), this reports the share of those
pairs at IoU >= 0.5 as detected, with the detection's centre moved onto the true one, and with
its size set to the true one; so which of centre or size costs the IoU. Then, of the centre
error: the share of its variance that is a per-object bias (the mean error of each object with
>= MIN_SIGHTINGS matches), which no smoothing over frames removes; and the sub-cell slope, the
regression of where in its stride-4 cell a detection's centre lies on where the true centre
lies, for pairs in the same cell: 1 when the network resolves positions within a cell, 0 when
it puts every centre at the cell's middle.

    python -m tests.bench.localisation [WEIGHTS] [--score 0.35] [--radius 5]
        [--archive val_v3 --archive val_alt ...]

About 80 s for the five archives on 2 cores (the model once per frame, no tracker).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from tests.bench.bench_validation import ARCHIVES
from tgram.classes import gt_class_id
from tgram.data.formats import read_gt
from tgram.data.video import list_videos, read_frames, video_id
from tgram.detect import detect_frames
from tgram.eval.overlaps import tlwh, xyxy
from tgram.geometry import DOWN_RATIO, box_centres, iou_matrix
from tgram.inference import Detector
from tgram.resources import SHIPPED_WEIGHTS

MIN_SIGHTINGS = 10
"""Matches an object needs before its mean error counts as its bias."""
CLASS = "vehicle"


@dataclass(frozen=True)
class Localisation:
    """Matched (detection, gt) pairs of one archive, and what limits their IoU."""

    pairs: int
    iou50: float
    """Share of pairs at IoU >= 0.5 as detected."""
    iou50_true_centre: float
    """... with each detection's centre moved onto the true centre (its size kept)."""
    iou50_true_size: float
    """... with each detection's size set to the true size (its centre kept)."""
    centre_error_px: float
    """Median distance between detected and true centres."""
    bias_share: float
    """Share of the centre error's variance (both axes) that is each object's mean error."""
    subcell_slope: float
    """Slope of detected on true position within a stride-4 cell (pairs in the same cell)."""


def nearest_within(detected: np.ndarray, truth: np.ndarray, radius: float) -> np.ndarray:
    """[G, 2] (gt row, detection row): each gt box's detection with the nearest centre, if
    within `radius` px (a detection may serve two gt boxes, as in centre recall)."""
    if len(detected) == 0 or len(truth) == 0:
        return np.zeros((0, 2), np.int64)
    distance, index = cKDTree(box_centres(detected)).query(box_centres(truth))
    (rows,) = np.nonzero(distance <= radius)
    return np.stack([rows, index[rows]], axis=1)


def localisation(detected: np.ndarray, truth: np.ndarray, object_id: np.ndarray) -> Localisation:
    """The measures of `Localisation` over matched pairs: `detected[i]` matched to `truth[i]`
    (xyxy), `object_id[i]` the gt object's id (unique across videos)."""
    centre, true_centre = box_centres(detected), box_centres(truth)
    size, true_size = detected[:, 2:] - detected[:, :2], truth[:, 2:] - truth[:, :2]
    error = centre - true_centre
    _, of_object, sightings = np.unique(object_id, return_inverse=True, return_counts=True)
    summed = np.stack([np.bincount(of_object, error[:, k]) for k in range(2)], axis=1)
    bias = (summed / sightings[:, None])[of_object]
    seen = sightings[of_object] >= MIN_SIGHTINGS
    cell, true_cell = centre / DOWN_RATIO, true_centre / DOWN_RATIO
    same = np.floor(cell) == np.floor(true_cell)
    within, true_within = (cell % 1)[same], (true_cell % 1)[same]
    spread = true_within - true_within.mean()
    return Localisation(
        pairs=len(detected),
        iou50=_share_at_half(detected, truth),
        iou50_true_centre=_share_at_half(_boxes(true_centre, size), truth),
        iou50_true_size=_share_at_half(_boxes(centre, true_size), truth),
        centre_error_px=float(np.median(np.linalg.norm(error, axis=1))),
        bias_share=float(bias[seen].var(axis=0).sum() / error[seen].var(axis=0).sum()),
        subcell_slope=float((spread * (within - within.mean())).sum() / (spread**2).sum()),
    )


def measure(detector: Detector, archive: Path, radius: float) -> Localisation:
    """The detector's detections on every frame of `archive` against its gt vehicles."""
    class_index = detector.class_names.index(CLASS)
    detected, truth, object_id = [], [], []
    for number, uri in enumerate(list_videos(archive / "videos")):
        gt = read_gt(archive / "gt" / f"{video_id(uri)}.txt")
        gt = gt[gt["cls"] == gt_class_id(CLASS)]
        for frame in detect_frames(read_frames(uri), detector):
            rows = gt[gt["frame"] == frame.index]
            true_boxes = xyxy(tlwh(rows))
            det = frame.detections
            boxes = det.boxes[det.classes == class_index]
            pairs = nearest_within(boxes, true_boxes, radius)
            detected.append(boxes[pairs[:, 1]])
            truth.append(true_boxes[pairs[:, 0]])
            object_id.append(number * 10**9 + rows["id"][pairs[:, 0]])
    return localisation(np.concatenate(detected), np.concatenate(truth), np.concatenate(object_id))


def _boxes(centre: np.ndarray, size: np.ndarray) -> np.ndarray:
    return np.concatenate([centre - size / 2, centre + size / 2], axis=1)


def _share_at_half(detected: np.ndarray, truth: np.ndarray) -> float:
    rows = np.arange(len(detected))
    return float(np.mean(iou_matrix(detected, truth, (rows, rows)) >= 0.5))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("weights", nargs="?", default=str(SHIPPED_WEIGHTS))
    parser.add_argument("--score", type=float, default=0.35, help="detection score floor")
    parser.add_argument("--radius", type=float, default=5.0, help="centre match radius, px")
    names = [Path(a.path).name for a in ARCHIVES]
    parser.add_argument(
        "--archive", action="append", choices=names, help="validation archive; repeatable"
    )
    args = parser.parse_args(argv)
    detector = Detector.from_weights(args.weights, score_threshold=args.score)
    print(
        "archive | pairs | IoU>=0.5 as detected / true centre / true size | centre error px "
        "| bias share | sub-cell slope"
    )
    for archive in ARCHIVES:
        name = Path(archive.path).name
        if args.archive and name not in args.archive:
            continue
        m = measure(detector, archive.ensure(), args.radius)
        print(
            f"{name} | {m.pairs} | {m.iou50:.3f} / {m.iou50_true_centre:.3f} / "
            f"{m.iou50_true_size:.3f} | {m.centre_error_px:.2f} | {m.bias_share:.2f} | "
            f"{m.subcell_slope:.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
