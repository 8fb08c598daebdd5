"""`make demo`: synthesise an archive, track it with the shipped weights, score it, render it.

Runnable as `python -m jobs.demo --out DIR`; every step calls the same library functions as
the `tgram` commands and prints where its output went.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from tgram.config import load_config
from tgram.data.formats import read_results, write_results
from tgram.data.synth import SynthConfig, generate_archive
from tgram.data.video import list_videos, probe, video_id
from tgram.eval import evaluate_files
from tgram.inference import Detector, rows_to_results, track_video
from tgram.track.tracker import TrackerConfig
from tgram.viz import plot_trajectories, render_demo_video

ROOT = Path(__file__).resolve().parent.parent


def run_demo(out: Path, weights: Path) -> None:
    t0 = time.perf_counter()
    archive, results = out / "archive", out / "results"
    cfg = load_config(ROOT / "configs" / "synth" / "demo.yaml", SynthConfig)
    generate_archive(archive, cfg)
    print(f"[1/4] synthetic archive ({cfg.videos} videos, {cfg.width}x{cfg.height}, {cfg.frames} frames): {archive}")

    tracker_cfg = load_config(ROOT / "configs" / "track" / "default.yaml", TrackerConfig)
    detector = Detector.from_weights(str(weights), score_threshold=tracker_cfg.det_threshold)
    videos = list_videos(str(archive / "videos"))
    bar = tqdm(total=sum(probe(v).frames for v in videos), desc="track", unit="frame", file=sys.stderr)
    for uri in videos:
        rows = track_video(uri, detector, tracker_cfg, on_frame=lambda _: bar.update())
        write_results(results / f"{video_id(uri)}.txt", rows_to_results(rows))
    bar.close()
    print(f"[2/4] tracked with {weights.name}: MOTChallenge results in {results}")

    for match in ("iou", "center"):
        report = evaluate_files(archive / "gt", results, match=match)
        print(f"[3/4] scores ({report.matching.describe()}):\n{report.to_text()}")

    first = videos[0]
    rows = read_results(results / f"{video_id(first)}.txt")
    demo = render_demo_video(first, rows, str(out / "demo.mp4"))
    png = plot_trajectories(first, rows, out / "trajectories.png")
    n_tracks = len(np.unique(rows["id"]))
    print(f"[4/4] demo video ({n_tracks} tracks): {demo}\n      trajectory plot: {png}")
    print(f"done in {time.perf_counter() - t0:.0f} s; everything is under {out}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="demo_out", help="output directory (default: %(default)s)")
    parser.add_argument("--weights", default=str(ROOT / "weights" / "tgram_synth.pt"), help="weights file")
    args = parser.parse_args(argv)
    run_demo(Path(args.out), Path(args.weights))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
