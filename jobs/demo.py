"""`make demo`: synthesise an archive, track it with the shipped weights, score it, render it,
then run the Ray Data batch job over it into trajectory Parquet and query that.

Runnable as `python -m jobs.demo --out DIR`; every step calls the same library functions as
the `tgram` commands and prints where its output went.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from tgram.api import load_detector, load_tracker_config, weights_uri
from tgram.config import load_config
from tgram.data.formats import read_results
from tgram.data.video import video_id
from tgram.eval import evaluate_files
from tgram.inference import track_to_results
from tgram.pipeline.batch import BatchConfig, run_batch
from tgram.pipeline.trajectories import read_trajectories, to_results
from tgram.query import query, to_text
from tgram.ray_session import connect
from tgram.resources import CONFIGS
from tgram.synth import SynthConfig, generate_archive
from tgram.viz import plot_trajectories, render_demo_video


def run_demo(out: Path, weights: Path) -> None:
    t0 = time.perf_counter()
    archive, results = out / "archive", out / "results"
    cfg = load_config(CONFIGS / "synth" / "demo.yaml", SynthConfig)
    generate_archive(archive, cfg)
    print(
        f"[1/5] synthetic archive ({cfg.videos} videos, {cfg.width}x{cfg.height}, {cfg.frames} frames): {archive}"
    )

    tracker_cfg = load_tracker_config()
    detector = load_detector(weights, tracker_cfg)
    tracked = track_to_results(str(archive / "videos"), str(results), detector, tracker_cfg)
    print(f"[2/5] tracked with {weights.name}: MOTChallenge results in {results}")

    for match in ("iou", "center"):
        report = evaluate_files(archive / "gt", results, match=match)
        print(f"[3/5] scores ({report.matching.describe()}):\n{report.to_text()}")

    first = tracked[0]
    rows = read_results(first.results_uri)
    demo = render_demo_video(first.uri, rows, str(out / "demo.mp4"))
    png = plot_trajectories(first.uri, rows, out / "trajectories.png")
    n_tracks = len(np.unique(rows["id"]))
    print(f"[4/5] demo video ({n_tracks} tracks): {demo}\n      trajectory plot: {png}")

    trajectories = str(out / "trajectories")
    connect(None)
    # 20-frame clips: every video is cut into several, tracked by the actor pool and joined again.
    batch_cfg = BatchConfig(weights=str(weights), clip_frames=20)
    summary = run_batch(str(archive / "videos"), trajectories, batch_cfg, overwrite=True)
    same = sum(
        _same_rows(
            to_results(read_trajectories(trajectories, [video_id(v.uri)])),
            read_results(v.results_uri),
        )
        for v in tracked
    )
    answer = query(
        trajectories,
        "SELECT class, count(DISTINCT (video_id, track_id)) AS tracks, round(avg(speed_mps), 1) AS mean_speed_mps FROM trajectories GROUP BY class ORDER BY class",
    )
    print(
        f"[5/5] Ray Data batch job ({batch_cfg.clip_frames}-frame clips): {summary.to_text()}\n"
        f"      tracks identical to tgram track's: {same}/{len(tracked)} videos\n      trajectory Parquet: {trajectories}"
    )
    print(
        f'      tgram query {trajectories} "SELECT class, count(DISTINCT (video_id, track_id)) ...":\n{to_text(answer)}'
    )
    print(f"done in {time.perf_counter() - t0:.0f} s; everything is under {out}")


def _same_rows(a: np.ndarray, b: np.ndarray) -> bool:
    """Same (frame, id) rows with the same boxes, in any order (results files keep 2 decimals)."""
    a, b = a[np.lexsort((a["id"], a["frame"]))], b[np.lexsort((b["id"], b["frame"]))]
    return len(a) == len(b) and all(
        np.allclose(a[c], b[c], atol=0.006) for c in ("frame", "id", "x", "y", "w", "h")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="demo_out", help="output directory (default: %(default)s)")
    parser.add_argument("--weights", help="weights file (default: the shipped weights)")
    args = parser.parse_args(argv)
    run_demo(Path(args.out), Path(weights_uri(args.weights)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
