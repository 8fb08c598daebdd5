"""Tracker thresholds chosen on labelled validation video, for the weights at hand.

The detection and track-birth thresholds decide most of MOTA: how confident a detection
must be to continue a track, and to start one. Their best values depend on the weights (a
longer-trained model is more confident) and on the imagery, so they are measured, never
assumed: the model runs once per video with a low score floor, then every candidate triple
re-runs only the tracker over the cached detections, and each minimum track score filters its
tracks (`TrackerConfig.min_track_score`), scored with `tgram.eval`.

Several archives can be calibrated on at once, each weighing the same whatever its size: scores
fall on imagery unlike the training data, so thresholds chosen on in-distribution validation
alone are too strict for the rest (weights/README.md, "Tracker thresholds").

Calibrate on validation data, never on the data you report test scores on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import product

import numpy as np

from tgram.data.formats import read_gt
from tgram.data.tracks import TrackRows
from tgram.data.video import list_videos, probe, read_frames, video_id
from tgram.detect import detect_frames
from tgram.eval import MatchKind, evaluate
from tgram.eval.report import Metrics
from tgram.inference import Detector
from tgram.track.registration import RegistrationConfig
from tgram.track.run import FrameDetections, TrackRun
from tgram.track.tracker import TrackerConfig

DET_THRESHOLDS = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55)
NEW_TRACK_MARGINS = (0.0, 0.05, 0.1, 0.2)
"""Track births need at least det_threshold + margin (ByteTrack keeps 0.1)."""
LOW_DET_THRESHOLDS = (1.0, 0.1, 0.2)
"""Floors of ByteTrack's second association (1.0: off; ByteTrack uses 0.1)."""
MIN_TRACK_SCORES = (0.0, 0.45, 0.5)
"""Mean scores below which a whole track is left out (0.0: off); tried over the same
tracks, so they add evaluations, not tracking runs."""


@dataclass(frozen=True)
class CachedVideo:
    """One video's detections at the lowest candidate threshold, frame by frame."""

    fps: float
    detections: list[FrameDetections]


@dataclass(frozen=True)
class LabelledArchive:
    """One calibration archive: its videos' cached detections and their ground truth."""

    videos: Mapping[str, CachedVideo]
    gt: Mapping[str, np.ndarray]


@dataclass(frozen=True)
class Candidate:
    """One set of thresholds' scores: means over the archives, each archive weighing the same."""

    det_threshold: float
    new_track_threshold: float
    low_det_threshold: float
    min_track_score: float
    mota: float
    idf1: float
    hota: float
    peak_ratio: float | None = None
    """The decode's `ModelConfig.peak_ratio` the detections were read with (None: not swept)."""

    @property
    def objective(self) -> float:
        """Mean of MOTA and IDF1: detection quality and identity keeping weighed alike."""
        return (self.mota + self.idf1) / 2


def cache_detections(
    videos: Sequence[str],
    detector: Detector,
    on_frame: Callable[[], object] | None = None,
    registration: RegistrationConfig | None = None,
) -> dict[str, CachedVideo]:
    """Run the model (and the platform registration) once over each video: the costly part
    of a sweep. Trackers with registration disabled ignore the cached shifts."""
    cached = {}
    registration = registration or RegistrationConfig()
    for uri in videos:
        detections = []
        for frame in detect_frames(read_frames(uri), detector, registration=registration):
            detections.append(frame)
            if on_frame is not None:
                on_frame()
        cached[video_id(uri)] = CachedVideo(probe(uri).fps, detections)
    return cached


def track_cached(cached: CachedVideo, config: TrackerConfig, emb_dim: int) -> TrackRows:
    """One tracker run over cached detections (the tracker drops those below its
    det_threshold itself), as `tgram track` would have tracked the video."""
    run = TrackRun(config, fps=cached.fps, emb_dim=emb_dim)
    for frame in cached.detections:
        run.update(frame)
    return run.rows()


def sweep(
    archives: Sequence[LabelledArchive],
    base: TrackerConfig,
    *,
    emb_dim: int,
    det_thresholds: Sequence[float] = DET_THRESHOLDS,
    new_track_margins: Sequence[float] = NEW_TRACK_MARGINS,
    low_det_thresholds: Sequence[float] = LOW_DET_THRESHOLDS,
    min_track_scores: Sequence[float] = MIN_TRACK_SCORES,
    match: MatchKind = "iou",
) -> list[Candidate]:
    """Score every (det, det + margin, low, min track score) combination; best first."""
    out = []
    for det, margin, low in product(det_thresholds, new_track_margins, low_det_thresholds):
        if low < 1.0 and low >= det:
            continue  # no band below det_threshold: the same as off
        config = replace(
            base,
            det_threshold=det,
            new_track_threshold=min(round(det + margin, 6), 1.0),  # 0.35 + 0.05 is 0.3999...
            low_det_threshold=low,
            min_track_score=0.0,
        )
        scores = np.zeros((len(min_track_scores), 3))  # MOTA, IDF1, HOTA summed over archives
        for archive in archives:  # one archive's tracks held at a time
            tracked = {
                name: track_cached(video, config, emb_dim) for name, video in archive.videos.items()
            }
            for k, min_score in enumerate(min_track_scores):
                o = _overall(archive.gt, tracked, min_score, match)
                scores[k] += (o.mota, o.idf1, o.hota)
        out += [
            Candidate(det, config.new_track_threshold, low, min_score, *map(float, row))
            for min_score, row in zip(min_track_scores, scores / len(archives), strict=True)
        ]
    return sorted(out, key=lambda c: -c.objective)


def _overall(
    gt: Mapping[str, np.ndarray],
    tracked: Mapping[str, TrackRows],
    min_track_score: float,
    match: MatchKind,
) -> Metrics:
    results = {
        name: rows.confident_tracks(min_track_score).to_results() for name, rows in tracked.items()
    }
    return evaluate(gt, results, match=match).overall


def calibrate(
    archives: str | Sequence[str],
    detector_weights: str,
    base: TrackerConfig,
    *,
    det_thresholds: Sequence[float] = DET_THRESHOLDS,
    new_track_margins: Sequence[float] = NEW_TRACK_MARGINS,
    low_det_thresholds: Sequence[float] = LOW_DET_THRESHOLDS,
    min_track_scores: Sequence[float] = MIN_TRACK_SCORES,
    peak_ratios: Sequence[float] = (),
    match: MatchKind = "iou",
    on_frame: Callable[[], object] | None = None,
) -> tuple[TrackerConfig, list[Candidate]]:
    """The best thresholds on one or more labelled archives (videos/<id>.mp4, gt/<id>.txt) and
    the table, best first. `peak_ratios`: also try reading the weights' heatmap with each of
    these `ModelConfig.peak_ratio` values (the model runs once per value); the best one is the
    table's first row, for `tgram weights --set` to write into the file."""
    roots = [archives] if isinstance(archives, str) else list(archives)
    floor = min([*det_thresholds, *low_det_thresholds])
    table = []
    for ratio in peak_ratios or (None,):
        decode = {} if ratio is None else {"peak_ratio": ratio}
        detector = Detector.from_weights(detector_weights, decode=decode, score_threshold=floor)
        labelled = [
            _labelled(root.rstrip("/"), detector, on_frame, base.registration) for root in roots
        ]
        candidates = sweep(
            labelled,
            base,
            emb_dim=detector.emb_dim,
            det_thresholds=det_thresholds,
            new_track_margins=new_track_margins,
            low_det_thresholds=low_det_thresholds,
            min_track_scores=min_track_scores,
            match=match,
        )
        read_with = detector.model.cfg.peak_ratio  # the weights' own when not swept
        table += [replace(c, peak_ratio=read_with) for c in candidates]
    table.sort(key=lambda c: -c.objective)
    best = table[0]
    return replace(
        base,
        det_threshold=best.det_threshold,
        new_track_threshold=best.new_track_threshold,
        low_det_threshold=best.low_det_threshold,
        min_track_score=best.min_track_score,
    ), table


def _labelled(
    root: str,
    detector: Detector,
    on_frame: Callable[[], object] | None,
    registration: RegistrationConfig,
) -> LabelledArchive:
    videos = list_videos(f"{root}/videos")
    if not videos:
        raise ValueError(f"{root}/videos: no videos to calibrate on")
    gt = {video_id(uri): read_gt(f"{root}/gt/{video_id(uri)}.txt") for uri in videos}
    return LabelledArchive(cache_detections(videos, detector, on_frame, registration), gt)
