"""Platform motion: registration error, speeds a user can trust, tracking with and without
compensation (the issue "Trajectories in ground terms").

Sets: the training style on held-out seed 7 and the held-out style family (those of
bench_tracking), and the archive of `make demo` (configs/synth/demo.yaml; the issue measured
parked cars at 1.26 m/s on its earlier, fixed-style version). Per set, the model runs once per video with the platform
registration beside it; the tracker then runs over the same detections with compensation
(the trajectory rows `tgram batch` writes: stabilised positions, velocities fitted over
`pipeline.ground.SPEED_WINDOW_S`) and without it (the rows before: Kalman velocities in image
pixels). Truth comes from the renderers: each frame's platform shift (meta JSON) and each
object's ground speed (speeds/<id>.csv).

    python -m tests.bench.bench_motion [--weights W] [--only synth|heldout|demo]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa

from tests.bench.bench_tracking import SETS, EvalSet, _log, _row, _with_gt_class, written
from tgram.calibrate import CachedVideo, cache_detections, track_cached
from tgram.classes import CLASS_NAMES
from tgram.config import load_config
from tgram.data.formats import read_gt, read_speed_truth
from tgram.data.meta import load_meta
from tgram.data.tracks import TrackRows
from tgram.data.video import list_videos, read_frames, video_id
from tgram.eval import Matching, evaluate
from tgram.inference import Detector
from tgram.pipeline.geo import georeference
from tgram.pipeline.ground import cumulative_offsets, ground_table
from tgram.resources import CONFIGS, SHIPPED_WEIGHTS
from tgram.speed_eval import SpeedPairs, SpeedReport, speed_pairs
from tgram.synth import SynthConfig, generate_archive
from tgram.track.registration import PlatformMotion
from tgram.track.tracker import TrackerConfig


def _write_demo(out: Path) -> tuple[int, int]:
    synth = load_config(CONFIGS / "synth" / "demo.yaml", SynthConfig)
    generate_archive(out, synth)
    return synth.width, synth.height


MOTION_SETS = (*SETS, EvalSet("demo", "make demo's archive", _write_demo))


def run(weights: str | Path = SHIPPED_WEIGHTS, only: str | None = None) -> list[dict]:
    config = load_config(CONFIGS / "track" / "default.yaml", TrackerConfig)
    rows = []
    for eval_set, archive, _ in written(MOTION_SETS, only):
        rows += _set_rows(eval_set.name, archive, str(weights), config)
    return rows


def _set_rows(name: str, archive: Path, weights: str, config: TrackerConfig) -> list[dict]:
    videos = list_videos(archive / "videos")
    errors, position_errors, registration_s, frames = _registration(archive, videos, config)
    detector = Detector.from_weights(weights, score_threshold=config.score_floor)
    start = time.perf_counter()
    cached = cache_detections(videos, detector, registration=config.registration)
    per_frame_s = (time.perf_counter() - start) / frames
    _log(f"{name}: {frames} frames, {1000 * per_frame_s:.0f} ms a frame with registration")
    gt = {video_id(v): read_gt(archive / "gt" / f"{video_id(v)}.txt") for v in videos}
    off = replace(config, registration=replace(config.registration, enabled=False))
    emb_dim = detector.emb_dim
    tracked = {
        kind: {vid: track_cached(cached[vid], cfg, emb_dim) for vid in gt}
        for kind, cfg in (("on", config), ("off", off))
    }
    true_shifts = {vid: _with_true_shifts(archive, vid, cached[vid]) for vid in gt}
    tracked_true = {vid: track_cached(true_shifts[vid], config, emb_dim) for vid in gt}
    speeds = {kind: _speeds(archive, cached, tracked[kind], detector, kind) for kind in tracked}
    truth_tracks = {vid: _gt_tracks(g) for vid, g in gt.items()}
    speeds["gt"] = _speeds(archive, cached, truth_tracks, detector, "on")
    rows = [
        _row(
            f"{name}: registration error, median", float(np.median(errors)), "px", "", np.nan, None
        ),
        _row(
            f"{name}: registration error, 90th pct",
            float(np.percentile(errors, 90)),
            "px",
            "",
            np.nan,
            None,
        ),
        _row(
            f"{name}: stabilised position error, median",
            float(np.median(position_errors)),
            "px",
            "",
            np.nan,
            None,
        ),
        _row(
            f"{name}: stabilised position error, 90th pct",
            float(np.percentile(position_errors, 90)),
            "px",
            "",
            np.nan,
            None,
        ),
        _row(
            f"{name}: registration share of tracking time",
            registration_s / frames / per_frame_s,
            "share",
            "",
            np.nan,
            None,
        ),
    ]
    for label, attribute, limit in (
        ("parked, reported speed, median", "parked_median_mps", 0.2),
        ("parked, reported speed, 90th pct", "parked_p90_mps", 0.5),
        ("moving, median abs speed error", "moving_median_abs_error_mps", 0.5),
    ):
        on, before = getattr(speeds["on"], attribute), getattr(speeds["off"], attribute)
        rows.append(_row(f"{name}: {label} (m/s)", on, "m/s", "no compensation", before, None))
        rows[-1]["target"], rows[-1]["ok"] = f"< {limit}", bool(on < limit)
        floor = getattr(speeds["gt"], attribute)
        rows.append(
            _row(f"{name}: {label}, ground-truth tracks (m/s)", floor, "m/s", "", np.nan, None)
        )
    for match in ("iou", "center"):
        reports = {
            kind: evaluate(
                gt,
                {vid: _with_gt_class(r, detector.class_names) for vid, r in tracked[kind].items()},
                match=match,
                classes=CLASS_NAMES,
            ).overall
            for kind in tracked
        }
        where = Matching(match).describe()
        gain = reports["on"].idf1 - reports["off"].idf1
        ceiling = evaluate(
            gt,
            {vid: _with_gt_class(r, detector.class_names) for vid, r in tracked_true.items()},
            match=match,
            classes=CLASS_NAMES,
        ).overall
        rows.append(
            _row(
                f"{name}: IDF1 ({where}) compensated",
                reports["on"].idf1,
                "",
                "no compensation",
                reports["off"].idf1,
                None,
            )
        )
        rows[-1]["target"], rows[-1]["ok"] = ">= +0.02 over none", bool(gain >= 0.02)
        rows.append(
            _row(
                f"{name}: IDF1 ({where}) with the true shifts",
                ceiling.idf1,
                "",
                "no compensation",
                reports["off"].idf1,
                None,
            )
        )
        rows.append(
            _row(
                f"{name}: MOTA ({where}) compensated",
                reports["on"].mota,
                "",
                "no compensation",
                reports["off"].mota,
                None,
            )
        )
    _log(f"{name}: speeds with compensation: {speeds['on'].to_text()}")
    _log(f"{name}: speeds without: {speeds['off'].to_text()}")
    _log(f"{name}: speeds of ground-truth tracks: {speeds['gt'].to_text()}")
    return rows


def _registration(
    archive: Path, videos: list[str], config: TrackerConfig
) -> tuple[np.ndarray, np.ndarray, float, int]:
    """Per frame pair |estimated - true shift| (px, what the tracker compensates), per frame
    |estimated - true position| of the ground against frame 0 (px, what the trajectories'
    stabilised coordinates and speeds are in), the registration's seconds, frames."""
    errors, position_errors, seconds, frames = [], [], 0.0, 0
    for uri in videos:
        meta = json.loads((archive / "meta" / f"{video_id(uri)}.json").read_text())
        true_offsets = np.asarray(meta["platform_shift_px"], np.float64)
        motion = PlatformMotion(config.registration)
        estimates = []
        for index, frame in read_frames(uri):
            t0 = time.perf_counter()
            estimates.append(motion.shift(frame, index))
            seconds += time.perf_counter() - t0
        frames += len(estimates)
        estimated = np.asarray(estimates)
        errors.append(np.linalg.norm(estimated[1:] - np.diff(true_offsets, axis=0), axis=1))
        position_errors.append(
            np.linalg.norm(cumulative_offsets(estimated)[1:] - true_offsets[1:], axis=1)
        )
    return np.concatenate(errors), np.concatenate(position_errors), seconds, frames


def _with_true_shifts(archive: Path, vid: str, cached: CachedVideo) -> CachedVideo:
    """The cached detections with the renderer's platform shifts in place of the estimated
    ones: tracking them bounds what any registration could add."""
    meta = json.loads((archive / "meta" / f"{vid}.json").read_text())
    offsets = np.asarray(meta["platform_shift_px"], np.float64)
    shifts = np.vstack([np.zeros((1, 2)), np.diff(offsets, axis=0)])
    frames = [replace(f, shift=shifts[f.index]) for f in cached.detections]
    return CachedVideo(cached.fps, frames)


def _gt_tracks(gt: np.ndarray) -> TrackRows:
    """The truth as if it had been tracked: every gt box, its id, score 1. Its speeds are the
    floor of the speed pipeline (registration, stabilisation, the velocity window) when
    detection and association make no error."""
    tlwh = np.stack([gt[c] for c in ("x", "y", "w", "h")], 1).astype(np.float32)
    boxes = np.concatenate([tlwh[:, :2], tlwh[:, :2] + tlwh[:, 2:]], axis=1)
    n = len(gt)
    return TrackRows(
        frame=gt["frame"].astype(np.int32),
        track_id=gt["id"].astype(np.int64),
        class_id=gt["cls"].astype(np.int64) - 1,
        boxes=boxes,
        score=np.ones(n, np.float32),
        velocity=np.zeros((n, 2), np.float32),
        embedding=np.zeros((n, 0), np.float32),
    )


def _speeds(
    archive: Path,
    cached: dict[str, CachedVideo],
    tracked: dict[str, TrackRows],
    detector: Detector,
    kind: str,
) -> SpeedReport:
    """Speeds as the trajectory rows give them: ground terms (`on`), or the earlier rows'
    Kalman velocities in image pixels (`off`)."""
    parts = []
    for vid, rows in tracked.items():
        table = rows.to_arrow(detector.class_names)
        fps = cached[vid].fps
        if kind == "on":
            shifts = np.stack([f.shift for f in cached[vid].detections])
            table = ground_table(vid, table, cumulative_offsets(shifts), fps=fps)
        else:
            x1, y1 = table["x1"].to_numpy(), table["y1"].to_numpy()
            table = pa.table(
                {
                    "frame": table["frame"],
                    "x": x1,
                    "y": y1,
                    "w": table["x2"].to_numpy() - x1,
                    "h": table["y2"].to_numpy() - y1,
                    "vx": table["vx"],
                    "vy": table["vy"],
                }
            )
        table = georeference(table, load_meta(str(archive / "meta" / f"{vid}.json")))
        gt = read_gt(archive / "gt" / f"{vid}.txt")
        truth = read_speed_truth(archive / "speeds" / f"{vid}.csv")
        parts.append(speed_pairs(gt, truth, table, Matching("center")))
    return SpeedReport.of(SpeedPairs.concat(parts))


def main(argv: list[str] | None = None) -> int:
    from tests.bench.run import to_table

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--weights", default=str(SHIPPED_WEIGHTS))
    parser.add_argument("--only", choices=[e.key for e in MOTION_SETS])
    args = parser.parse_args(argv)
    print(to_table(run(args.weights, args.only)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
