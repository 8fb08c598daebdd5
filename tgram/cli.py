"""`tgram` command line: parses arguments, calls library functions, prints where outputs went.

Heavy imports (torch, ray) happen inside the commands so `tgram --help` stays instant.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, get_args

import numpy as np
import yaml
from tqdm import tqdm

from tgram.config import ConfigError
from tgram.resources import CONFIGS

if TYPE_CHECKING:
    from tgram.pipeline.batch import BatchConfig

Handler = Callable[[argparse.Namespace], int]
Arguments = Callable[[argparse.ArgumentParser], None]
"""Registers a command's own arguments on its subparser."""
TRACKER_CONFIG = str(CONFIGS / "track" / "default.yaml")
"""The tracker settings `tgram track`, `tgram batch` and `tgram calibrate` start from."""


def _progress(desc: str, total: int | None = None, unit: str = "it") -> tqdm:
    return tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True, file=sys.stderr)


def _given(args: argparse.Namespace, *names: str) -> dict[str, object]:
    """The named options the user set, as config overrides."""
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def cmd_synth(args: argparse.Namespace) -> int:
    from tgram.config import load_config
    from tgram.synth import SynthConfig, generate_archive

    overrides = _given(
        args, "videos", "frames", "width", "height", "fps", "density", "seed", "layout"
    )
    if args.classes:
        overrides["classes"] = tuple(args.classes.split(","))
    cfg = load_config(args.config, SynthConfig, overrides)
    bar = _progress("synth", total=cfg.videos * cfg.frames, unit="frame")
    ids = generate_archive(args.out, cfg, progress=bar.update, workers=args.workers)
    bar.close()
    print(
        f"wrote {len(ids)} videos ({cfg.width}x{cfg.height}, {cfg.frames} frames, layout {cfg.layout}) to {args.out}"
    )
    return 0


def _synth_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("out", help="output directory")
    p.add_argument(
        "--config",
        default=str(CONFIGS / "synth" / "default.yaml"),
        help="synth YAML (default: %(default)s)",
    )
    p.add_argument("--videos", type=int, help="number of videos")
    p.add_argument("--frames", type=int, help="frames per video")
    p.add_argument("--width", type=int)
    p.add_argument("--height", type=int)
    p.add_argument("--fps", type=float)
    p.add_argument("--density", type=float, help="object density multiplier")
    p.add_argument("--classes", help="comma-separated subset of airplane,ship,vehicle")
    p.add_argument("--seed", type=int)
    p.add_argument(
        "--layout", choices=["mp4", "airmot"], help="mp4 archive (default) or AIR-MOT image tree"
    )
    p.add_argument(
        "--workers", type=int, help="processes rendering videos in parallel (default: one per core)"
    )


def _write_rendered(args: argparse.Namespace, family: str) -> int:
    """`tgram synth-heldout` / `synth-altstyle`: one of the independent renderers."""
    from tgram.config import load_config

    if family == "heldout":
        from tgram.heldout import HeldoutConfig as Config
        from tgram.heldout import generate_heldout_archive as generate

        kind = "held-out videos ({size}; evaluation only)"
    else:
        from tgram.altstyle import AltStyleConfig as Config
        from tgram.altstyle import generate_altstyle_archive as generate

        kind = "alternative-style videos ({size}; validation)"
    cfg = load_config(
        args.config, Config, _given(args, "videos", "frames", "width", "height", "seed")
    )
    bar = _progress(f"synth-{family}", total=cfg.videos * cfg.frames, unit="frame")
    ids = generate(args.out, cfg, progress=bar.update)
    bar.close()
    size = f"{cfg.width}x{cfg.height}, {cfg.frames} frames"
    print(f"wrote {len(ids)} {kind.format(size=size)} to {args.out}")
    return 0


def cmd_synth_heldout(args: argparse.Namespace) -> int:
    return _write_rendered(args, "heldout")


def cmd_synth_altstyle(args: argparse.Namespace) -> int:
    return _write_rendered(args, "altstyle")


def _rendered_arguments(p: argparse.ArgumentParser, family: str, epilog: str) -> None:
    p.epilog = epilog
    p.add_argument("out", help="output directory (videos/, gt/, meta/, speeds/), local or s3://")
    p.add_argument(
        "--config",
        default=str(CONFIGS / family / "default.yaml"),
        help=f"{family} YAML (default: %(default)s)",
    )
    p.add_argument("--videos", type=int, help="number of videos")
    p.add_argument("--frames", type=int, help="frames per video")
    p.add_argument("--width", type=int)
    p.add_argument("--height", type=int)
    p.add_argument("--seed", type=int)


def _synth_heldout_arguments(p: argparse.ArgumentParser) -> None:
    _rendered_arguments(
        p,
        "heldout",
        "An independent renderer (tgram.heldout) for measuring generalisation: never train or tune on its output.",
    )


def _synth_altstyle_arguments(p: argparse.ArgumentParser) -> None:
    _rendered_arguments(
        p,
        "altstyle",
        "A third independent renderer (tgram.altstyle) for validation archives that the training renderer cannot look like.",
    )


def cmd_gen_labels(args: argparse.Namespace) -> int:
    from tgram.data.formats import gen_labels

    summary = gen_labels(args.root, args.out, name=args.name)
    print(summary)
    return 0


def _gen_labels_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "root", help="AIR-MOT (images/{train,test}/<seq>) or MOTChallenge (<split>/<seq>/img1) tree"
    )
    p.add_argument(
        "out", help="output directory for labels_with_ids, image lists and the dataset JSON"
    )
    p.add_argument("--name", default="dataset", help="dataset name used for list/JSON file names")


def cmd_eval(args: argparse.Namespace) -> int:
    from tgram.eval import evaluate_files

    if not args.res and not args.speeds:
        raise SystemExit("tgram eval: give --res (tracking metrics), --speeds, or both")
    thresholds = {"iou_threshold": args.iou, "center_threshold_px": args.center_px}
    thresholds = {k: v for k, v in thresholds.items() if v is not None}
    if args.res:
        report = evaluate_files(
            args.gt, args.res, match=args.match, per_class=args.per_class, **thresholds
        )
        print(report.to_text())
        if args.json:
            Path(args.json).write_text(report.to_json())
            print(f"metrics written to {args.json}")
    if args.speeds:
        from tgram.eval import Matching
        from tgram.speed_eval import evaluate_speeds

        print(evaluate_speeds(args.gt, args.speeds, Matching(args.match, **thresholds)).to_text())
    return 0


def _eval_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--gt", required=True, help="gt dir (<id>.txt or <seq>/gt/gt.txt) or one gt file"
    )
    p.add_argument("--res", help="results dir of <id>.txt, or one results file")
    p.add_argument(
        "--speeds",
        metavar="OUT",
        help="also score the speeds of a trajectory output (tgram batch) against the speed "
        "truth that tgram synth writes beside the gt (speeds/<id>.csv)",
    )
    p.add_argument(
        "--match", choices=["iou", "center"], default="iou", help="box matching rule (default: iou)"
    )
    p.add_argument("--iou", type=float, help="IoU threshold for --match iou (default: 0.5)")
    p.add_argument(
        "--center-px",
        type=float,
        help="centre distance threshold in px for --match center (default: 5)",
    )
    p.add_argument("--per-class", action="store_true", help="also report each class")
    p.add_argument("--json", help="also write the metrics as JSON here")


def cmd_train(args: argparse.Namespace) -> int:
    from tgram import storage
    from tgram.train import load_train_config

    overrides = {"storage_path": args.storage} if args.storage else {}
    if args.epochs is not None:
        overrides["optim.epochs"] = args.epochs
    cfg = load_train_config(args.config, overrides)
    if args.ray or args.workers or args.address or args.gpu or args.max_failures is not None:
        from tgram.ray_train import train_on_ray

        result, uri = train_on_ray(
            cfg,
            workers=args.workers or 1,
            use_gpu=args.gpu,
            address=args.address,
            **_given(args, "max_failures"),
        )
        print(f"Ray Train run: {result.path}")
    else:
        from tgram.train import WEIGHTS_FILE, export_weights, fit

        result = fit(cfg, resume_changed=args.resume_changed)
        if result.trained_epochs == 0:
            print(f"run {cfg.name} had finished all {cfg.optim.epochs} epochs: nothing trained")
        uri = export_weights(result, storage.join(cfg.storage_path, cfg.name, WEIGHTS_FILE))
        print(f"checkpoints and metrics: {storage.join(cfg.storage_path, cfg.name)}")
    print(f"weights: {uri}")
    return 0


def _train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="training YAML (see configs/train/)")
    p.add_argument(
        "--storage", help="local dir or s3:// prefix for checkpoints (overrides storage_path)"
    )
    p.add_argument("--epochs", type=int, help="override optim.epochs")
    p.add_argument(
        "--resume-changed",
        action="store_true",
        help="resume a run whose checkpoint was trained with other settings (default: refuse)",
    )
    p.add_argument("--workers", type=int, help="train with Ray Train DDP on this many workers")
    p.add_argument(
        "--gpu", action="store_true", help="one GPU per Ray Train worker (nccl); implies Ray"
    )
    p.add_argument("--address", help="Ray cluster address (auto, ray://host:10001); implies Ray")
    p.add_argument(
        "--max-failures",
        type=int,
        help="worker-group restarts Ray Train allows (default: 2); implies Ray",
    )
    p.add_argument(
        "--ray",
        action="store_true",
        help="Ray Train even on one worker (what python -m jobs.train runs)",
    )


def cmd_track(args: argparse.Namespace) -> int:
    import time

    from tgram.api import load_detector, load_tracker_config
    from tgram.inference import track_to_results
    from tgram.stage_times import StageTimes

    tracker_cfg = load_tracker_config(args.config)
    detector = load_detector(args.weights, tracker_cfg, runtime=args.runtime)
    t0 = time.perf_counter()
    tracked = track_to_results(args.input, args.out, detector, tracker_cfg)
    seconds = time.perf_counter() - t0
    for video in tracked:
        print(
            f"{video.results_uri}: {len(np.unique(video.rows.track_id))} tracks, {len(video.rows)} boxes"
        )
    frames = sum(v.frames for v in tracked)
    times = StageTimes()
    for video in tracked:
        times.add(video.times)
    print(
        f"tracked {len(tracked)} videos, {frames} frames in {seconds:.1f} s "
        f"({frames / seconds:.2f} fps; {times.shares()}; runtime {detector.runtime}); "
        f"results in {args.out}"
    )
    return 0


def _track_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "input",
        help="a video file, a folder of videos, or an image-sequence folder (local or s3://)",
    )
    p.add_argument("--out", required=True, help="output dir for <video_id>.txt results")
    p.add_argument(
        "--weights",
        help="weights file, local or s3:// (default: the shipped weights)",
    )
    p.add_argument("--config", default=TRACKER_CONFIG, help="tracker YAML")
    _runtime_argument(
        p, "auto", "auto: the fastest runtime of equal accuracy on CPU, eager PyTorch on GPU"
    )


def _runtime_argument(p: argparse.ArgumentParser, default: str | None, default_text: str) -> None:
    from tgram.model.config import Runtime

    p.add_argument(
        "--runtime",
        choices=get_args(Runtime),
        default=default,
        help=f"what runs the network: ONNX Runtime (CPU only, ~1.5x eager PyTorch there), ONNX "
        f"Runtime with the decoder and heads in int8 (CPU only), eager PyTorch, or auto "
        f"(default: {default_text})",
    )


def cmd_calibrate(args: argparse.Namespace) -> int:
    from tgram.api import weights_uri
    from tgram.calibrate import (
        DET_THRESHOLDS,
        LOW_DET_THRESHOLDS,
        MIN_TRACK_SCORES,
        NEW_TRACK_MARGINS,
        calibrate,
    )
    from tgram.config import load_config, to_dict
    from tgram.data.video import list_videos, probe
    from tgram.track.tracker import TrackerConfig

    base = load_config(args.config, TrackerConfig)
    ratios = _floats(args.peak_ratios) if args.peak_ratios else ()
    frames = sum(
        probe(v).frames for a in args.archive for v in list_videos(f"{a.rstrip('/')}/videos")
    ) * max(len(ratios), 1)
    bar = _progress("detect", total=frames, unit="frame")
    weights = weights_uri(args.weights)
    best, table = calibrate(
        args.archive,
        weights,
        base,
        det_thresholds=_floats(args.det) if args.det else DET_THRESHOLDS,
        new_track_margins=_floats(args.margins) if args.margins else NEW_TRACK_MARGINS,
        low_det_thresholds=_floats(args.low) if args.low else LOW_DET_THRESHOLDS,
        min_track_scores=_floats(args.track_scores) if args.track_scores else MIN_TRACK_SCORES,
        peak_ratios=ratios,
        match=args.match,
        on_frame=bar.update,
    )
    bar.close()
    over = f", mean of {len(args.archive)} archives" if len(args.archive) > 1 else ""
    print(
        f"{'peaks':>5} {'det':>5} {'new':>5} {'low':>5} {'track':>5} {'MOTA':>7} {'IDF1':>6} {'HOTA':>6}  ({args.match} matching{over}, best first; peaks: peak_ratio)"
    )
    for c in table:
        print(
            f"{c.peak_ratio:5.2f} {c.det_threshold:5.2f} {c.new_track_threshold:5.2f} {c.low_det_threshold:5.2f} {c.min_track_score:5.2f} {c.mota:7.3f} {c.idf1:6.3f} {c.hota:6.3f}"
        )
    header = f"# tgram calibrate {' '.join(args.archive)} --weights {weights}: det/new-track/low/min-track-score thresholds chosen there\n"
    Path(args.out).write_text(header + yaml.safe_dump(to_dict(best), sort_keys=False))
    print(
        f"det_threshold {best.det_threshold}, new_track_threshold {best.new_track_threshold}, low_det_threshold {best.low_det_threshold}, min_track_score {best.min_track_score}; tracker config written to {args.out}"
    )
    if ratios:
        ratio = table[0].peak_ratio
        print(
            f"best peak_ratio {ratio}: the decode setting lives in the weights file, "
            f"tgram weights {weights} --set peak_ratio={ratio} --out NEW_WEIGHTS writes it there"
        )
    return 0


def _calibrate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "archive",
        nargs="+",
        help="labelled validation archives (videos/<id>.mp4, gt/<id>.txt), each weighing the "
        "same in the choice; never the test set",
    )
    p.add_argument(
        "--out", required=True, help="tracker YAML to write (use it with tgram track --config)"
    )
    p.add_argument(
        "--weights",
        help="weights file, local or s3:// (default: the shipped weights)",
    )
    p.add_argument(
        "--config",
        default=TRACKER_CONFIG,
        help="tracker YAML the other settings come from",
    )
    p.add_argument(
        "--det", help="candidate detection thresholds, comma-separated (default: 0.2,...,0.55)"
    )
    p.add_argument(
        "--margins",
        help="candidate track-birth margins above the detection threshold (default: 0,0.05,0.1,0.2)",
    )
    p.add_argument(
        "--low",
        help="candidate floors of the low-score second association, 1 = off (default: 1,0.1,0.2)",
    )
    p.add_argument(
        "--track-scores",
        help="candidate mean scores below which a whole track is dropped, 0 = off "
        "(default: 0,0.45,0.5)",
    )
    p.add_argument(
        "--peak-ratios",
        help="also try these ModelConfig.peak_ratio values, comma-separated (box peaks: the "
        "model runs once per value; default: the weights' own only)",
    )
    p.add_argument(
        "--match",
        choices=["iou", "center"],
        default="iou",
        help="matching the scores use (default: iou)",
    )


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"expected comma-separated numbers, got {text!r}") from None


def cmd_demo_video(args: argparse.Namespace) -> int:
    from tgram.data.formats import read_results
    from tgram.data.video import probe
    from tgram.viz import plot_trajectories, render_demo_video

    rows = read_results(args.results)
    with _progress("render", total=probe(args.video).frames, unit="frame") as bar:
        video = render_demo_video(
            args.video, rows, args.out, trail_s=args.trail_s, progress=bar.update
        )
    print(f"demo video: {video}")
    if args.plot:
        print(f"trajectory plot: {plot_trajectories(args.video, rows, args.plot)}")
    return 0


def _demo_video_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("video", help="the video (mp4 or image-sequence folder, local or s3://)")
    p.add_argument("results", help="its MOTChallenge results file (from tgram track)")
    p.add_argument("--out", default="demo.mp4", help="output mp4 (default: %(default)s)")
    p.add_argument("--plot", help="also write a PNG of all trajectories over the first frame here")
    p.add_argument(
        "--trail-s", type=float, default=3.0, help="trail length in seconds (default: %(default)s)"
    )


def cmd_weights(args: argparse.Namespace) -> int:
    import hashlib

    from tgram import storage
    from tgram.model.weights import averaged_weights, read_checkpoint, with_decode_settings

    if (args.set or args.average_with) and not args.out:
        raise ValueError(
            "--set and --average-with need --out (the file to write; it may be WEIGHTS itself)"
        )
    if args.average_with:
        data = averaged_weights([args.weights, *args.average_with])
    else:
        data = storage.read_bytes(args.weights)
    if args.set:
        settings = {}
        for item in args.set:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise ValueError(f"--set: expected KEY=VALUE, got {item!r}")
            settings[key] = yaml.safe_load(value)
        data = with_decode_settings(args.weights, settings, data)
    if args.out:
        storage.write_bytes(args.out, data)
    state = read_checkpoint(args.weights, data)
    shown = {
        "file": args.out or args.weights,
        "sha256": hashlib.sha256(data).hexdigest(),
        "version": state.get("version"),
        "config": state.get("config"),
    }
    print(yaml.safe_dump(shown, sort_keys=False), end="")
    if args.out:
        print(f"wrote {args.out}")
    return 0


def _weights_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("weights", help="weights file, local or s3://")
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="change a decode setting (peaks, peak_ratio, flip_test; repeatable): the tensors "
        "stay, so a setting chosen on validation travels with the file",
    )
    p.add_argument(
        "--average-with",
        action="append",
        metavar="OTHER",
        help="average WEIGHTS with these files of the same network (repeatable; a model soup "
        "of fine-tunes from one start); config and decode settings are WEIGHTS'",
    )
    p.add_argument("--out", help="where to write the changed file (local or s3://)")


def batch_config(args: argparse.Namespace) -> BatchConfig:
    """The batch YAML with the command-line flags applied, and the tracker settings from
    `--tracker`: the same file `tgram track` reads by default, so both track alike."""
    from tgram.config import load_config
    from tgram.pipeline.batch import BatchConfig
    from tgram.track.tracker import TrackerConfig

    flags = _given(args, "actors", "gpus_per_actor", "clip_frames", "association", "overlap")
    cfg = load_config(args.config, BatchConfig, flags | _given(args, "weights", "runtime"))
    if "tracker" in yaml.safe_load(Path(args.config).read_text()):
        raise ConfigError(
            f"{args.config}: 'tracker' is not a batch setting; pass the tracker YAML with --tracker"
        )
    return replace(cfg, tracker=load_config(args.tracker, TrackerConfig))


def cmd_batch(args: argparse.Namespace) -> int:
    from tgram.pipeline.batch import run_batch
    from tgram.ray_session import connect

    cfg = batch_config(args)
    connect(args.address)
    summary = run_batch(
        args.input,
        args.output,
        cfg,
        overwrite=args.overwrite,
        on_video=lambda r: print(
            f"{r.video_id}: {r.status}, {r.n_tracks} tracks, {r.n_rows} rows{' - ' + r.error if r.error else ''}"
        ),
    )
    print(summary.to_text())
    print(
        f"trajectories: {args.output} (video_id=<id>/), videos: {args.output}/_videos, failures: {args.output}/_failures"
    )
    return 0


def _batch_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "input", help="archive: a video, a folder or an s3:// prefix of mp4 files / image sequences"
    )
    p.add_argument("output", help="trajectory Parquet root, local or s3://")
    p.add_argument(
        "--config",
        default=str(CONFIGS / "batch" / "default.yaml"),
        help="batch YAML (default: %(default)s)",
    )
    p.add_argument(
        "--tracker",
        default=TRACKER_CONFIG,
        help="tracker YAML, as tgram track --config (default: %(default)s)",
    )
    p.add_argument(
        "--address", help="Ray cluster address (auto, ray://host:10001); default: start a local Ray"
    )
    p.add_argument("--actors", type=int, help="tracker actors")
    p.add_argument("--gpus-per-actor", type=float, help="GPUs per actor (0: CPU)")
    p.add_argument("--clip-frames", type=int, help="frames per clip")
    p.add_argument(
        "--association",
        choices=["video", "clip"],
        help="video: one tracker per video over all clips' detections (same tracks as tgram track); "
        "clip: each clip tracked on its own, then stitched over the overlap",
    )
    p.add_argument(
        "--overlap", type=int, help="frames shared by consecutive clips (clip association)"
    )
    p.add_argument("--weights", help="weights file, local or s3:// (default: shipped)")
    _runtime_argument(p, None, "the batch YAML's runtime")
    p.add_argument(
        "--overwrite", action="store_true", help="redo videos whose output is already complete"
    )


def cmd_query(args: argparse.Namespace) -> int:
    from datetime import datetime

    from tgram import query

    if args.sql:
        filters = {
            "--class": args.class_name,
            "--bbox": args.bbox,
            "--start": args.start,
            "--end": args.end,
            "--min-speed": args.min_speed,
        }
        given = [flag for flag, value in filters.items() if value is not None]
        if given:
            raise ValueError(
                f"{', '.join(given)}: track filters do not apply to SQL (put them in its WHERE)"
            )
        videos = [args.video] if args.video else None
        tables = {
            "result": query.query(
                args.output, args.sql, videos=videos, external_access=args.external_access
            )
        }
    elif any(
        v is not None
        for v in (args.video, args.class_name, args.bbox, args.start, args.end, args.min_speed)
    ):
        bbox = tuple(float(v) for v in args.bbox.split(",")) if args.bbox else None
        if bbox is not None and len(bbox) != 4:
            raise ValueError(f"--bbox: expected lon_min,lat_min,lon_max,lat_max, got {args.bbox!r}")
        track_filter = query.TrackFilter(
            video_id=args.video,
            class_name=args.class_name,
            bbox=bbox,
            start=datetime.fromisoformat(args.start) if args.start else None,
            end=datetime.fromisoformat(args.end) if args.end else None,
            min_speed_mps=args.min_speed,
        )
        tables = {"tracks": query.find_tracks(args.output, track_filter)}
    else:
        tables = query.summary(args.output)
    for name, table in tables.items():
        if args.out:
            print(f"{name}: {table.num_rows} rows -> {query.export(table, args.out)}")
        else:
            print(f"{name} ({table.num_rows} rows):\n{query.to_text(table)}")
    return 0


def _query_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("output", help="trajectory output root of tgram batch, local or s3://")
    p.add_argument("sql", nargs="?", help="SQL over the tables trajectories, videos, failures")
    p.add_argument(
        "--allow-external-access",
        dest="external_access",
        action="store_true",
        help="let the SQL read and write files and install extensions (off: only the three tables)",
    )
    p.add_argument(
        "--video",
        help="tracks of this video only; with SQL, the tables hold this video only (reads its files, not the archive's)",
    )
    p.add_argument(
        "--class", dest="class_name", help="tracks of this class (airplane, ship, vehicle)"
    )
    p.add_argument("--bbox", help="tracks seen inside lon_min,lat_min,lon_max,lat_max (WGS84)")
    p.add_argument("--start", help="tracks seen at or after this UTC time (ISO 8601)")
    p.add_argument("--end", help="tracks seen at or before this UTC time (ISO 8601)")
    p.add_argument("--min-speed", type=float, help="tracks whose mean speed exceeds this (m/s)")
    p.add_argument(
        "--out", help="write the result to a .csv or .parquet file instead of printing it"
    )


def cmd_plot(args: argparse.Namespace) -> int:
    from tgram import storage
    from tgram.pipeline.trajectories import committed_record, read_trajectories, to_results
    from tgram.viz import plot_speed_histogram, plot_trajectories

    record = committed_record(args.output, args.video)
    table = read_trajectories(args.output, [args.video])
    if record is None or table.num_rows == 0:
        raise ValueError(f"{args.output}: no trajectory rows for video {args.video!r}")
    video_uri = record.uri
    out_dir = args.out or "."
    frame_png = plot_trajectories(
        video_uri, to_results(table), storage.join(out_dir, f"{args.video}_trajectories.png")
    )
    print(f"trajectories over the first frame: {frame_png}")
    speeds = table["speed_mps"].to_numpy(zero_copy_only=False)
    print(
        f"speed histogram: {plot_speed_histogram(speeds, storage.join(out_dir, f'{args.video}_speed.png'))}"
    )
    return 0


def _plot_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("output", help="trajectory output root of tgram batch, local or s3://")
    p.add_argument("--video", required=True, help="video_id to plot")
    p.add_argument("--out", help="directory for the PNGs (default: current directory)")


def cmd_submit(args: argparse.Namespace) -> int:
    from tgram.resources import CHECKOUT
    from tgram.submit import entrypoint_argv, submit_entrypoint

    rest = args.job_args
    env = {}
    for item in args.env or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--env: expected KEY=VALUE, got {item!r}")
        env[key] = value
    return submit_entrypoint(
        entrypoint_argv(args.kind, rest),
        address=args.address,
        working_dir=None if (args.image or args.no_upload) else CHECKOUT,
        image=args.image,
        env=env,
        follow=not args.no_follow,
        timeout_s=args.timeout,
        on_log=sys.stdout.write,
    )


def _submit_arguments(p: argparse.ArgumentParser) -> None:
    p.epilog = "The job's own arguments follow `--`: tgram submit batch --address URL -- INPUT OUTPUT [options]"
    p.add_argument(
        "kind", choices=["train", "batch"], help="python -m jobs.train or jobs.track on the cluster"
    )
    p.add_argument("--address", required=True, help="Ray job server, e.g. http://HEAD:8265")
    p.add_argument(
        "--image", help="container image for the job (instead of uploading this source tree)"
    )
    p.add_argument("--no-upload", action="store_true", help="use the code installed on the cluster")
    p.add_argument(
        "--env", action="append", help="KEY=VALUE for the job's environment (repeatable)"
    )
    p.add_argument(
        "--no-follow", action="store_true", help="return once submitted instead of following logs"
    )
    p.add_argument("--timeout", type=float, help="stop the job after this many seconds")


COMMANDS: dict[str, tuple[str, Handler, Arguments]] = {
    "synth": (
        "generate a synthetic Jilin-1-like video archive with exact ground truth",
        cmd_synth,
        _synth_arguments,
    ),
    "synth-heldout": (
        "generate a held-out style family of synthetic video with exact ground truth (evaluation only)",
        cmd_synth_heldout,
        _synth_heldout_arguments,
    ),
    "synth-altstyle": (
        "generate a third, independent style of synthetic video with exact ground truth (validation)",
        cmd_synth_altstyle,
        _synth_altstyle_arguments,
    ),
    "gen-labels": (
        "convert an AIR-MOT/MOTChallenge tree into labels_with_ids + dataset JSON",
        cmd_gen_labels,
        _gen_labels_arguments,
    ),
    "eval": (
        "score MOTChallenge result files against ground truth (CLEAR-MOT, IDF1, HOTA)",
        cmd_eval,
        _eval_arguments,
    ),
    "train": (
        "train a TGraM model from a YAML config (one process, or Ray Train DDP with --workers)",
        cmd_train,
        _train_arguments,
    ),
    "track": (
        "track videos / image sequences into MOTChallenge result files",
        cmd_track,
        _track_arguments,
    ),
    "calibrate": (
        "choose the tracker's detection and track-birth thresholds on a labelled validation archive",
        cmd_calibrate,
        _calibrate_arguments,
    ),
    "weights": (
        "show a weights file's config and SHA-256, or write it with decode settings changed or "
        "averaged with other files of the same network",
        cmd_weights,
        _weights_arguments,
    ),
    "demo-video": (
        "render a video with tracked boxes, ids and fading trails (H.264 mp4) and a trajectory plot",
        cmd_demo_video,
        _demo_video_arguments,
    ),
    "query": (
        "SQL (DuckDB) over a trajectory output; without SQL a summary",
        cmd_query,
        _query_arguments,
    ),
    "plot": (
        "PNG plots of one video of a trajectory output: tracks over its first frame, speed histogram",
        cmd_plot,
        _plot_arguments,
    ),
    "submit": (
        "submit a training or batch-tracking job to a Ray cluster and follow it",
        cmd_submit,
        _submit_arguments,
    ),
    "batch": (
        "track a video archive on Ray into trajectory Parquet (local or s3://)",
        cmd_batch,
        _batch_arguments,
    ),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tgram", description="Multi-object tracking in satellite video (TGraM)."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (help_text, handler, arguments) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        arguments(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    job_args: list[str] = []
    if "--" in argv:  # `tgram submit ... -- <the job's own arguments>`
        split = argv.index("--")
        argv, job_args = argv[:split], argv[split + 1 :]
    parser = build_parser()
    args = parser.parse_args(argv)
    if job_args and args.command != "submit":
        parser.error(f"unrecognized arguments after --: {' '.join(job_args)}")
    args.job_args = job_args
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.handler(args)
    except (ConfigError, FileNotFoundError, ValueError, ConnectionError, RuntimeError) as exc:
        print(f"tgram {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
