"""Ray Data batch job vs single-process `tgram track` over the same archive, same cores.

The single process uses torch's threads on every core; so does the one-actor job
(`cpus_per_actor` = all cores), and the two-actor job splits the cores between its actors.
Starting Ray Data and a model actor costs seconds, once per job; the archive (600 frames in
50-frame clips) is large enough that this is small against the work, as on a real archive.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

import ray

from tests.bench.run import row, to_table
from tgram.config import load_config
from tgram.inference import Detector, track_to_results
from tgram.pipeline.batch import BatchConfig, run_batch
from tgram.resources import CONFIGS, SHIPPED_WEIGHTS
from tgram.synth import SynthConfig, generate_archive
from tgram.track.tracker import TrackerConfig


def run() -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "archive"
        synth = replace(
            load_config(CONFIGS / "synth" / "demo.yaml", SynthConfig), videos=4, frames=150
        )
        generate_archive(archive, synth)
        videos = str(archive / "videos")
        frames = synth.videos * synth.frames
        tracker = load_config(CONFIGS / "track" / "default.yaml", TrackerConfig)

        t0 = time.perf_counter()
        detector = Detector.from_weights(str(SHIPPED_WEIGHTS), score_threshold=tracker.score_floor)
        track_to_results(videos, str(Path(tmp) / "single"), detector, tracker, progress=False)
        single = time.perf_counter() - t0

        cores = os.cpu_count() or 1
        ray.init(num_cpus=cores, include_dashboard=False, log_to_driver=False)
        try:
            batch = {}
            for actors in (1, 2):
                t0 = time.perf_counter()
                cfg = BatchConfig(
                    actors=actors, cpus_per_actor=max(1.0, cores / actors), clip_frames=50
                )
                summary = run_batch(videos, str(Path(tmp) / f"batch{actors}"), cfg)
                batch[actors] = time.perf_counter() - t0
                if actors == 1:
                    times = summary.times
        finally:
            ray.shutdown()
    return [
        row(
            f"batch job, 1 actor ({frames} frames, {synth.width}x{synth.height})",
            batch[1],
            "s",
            peer="single-process tgram track",
            peer_value=single,
            target="<= 1.15x",
            ok=batch[1] / single <= 1.15,
        ),
        row(
            f"batch job, 2 actors on {cores} cores",
            batch[2],
            "s",
            peer="1 actor",
            peer_value=batch[1],
            target="<= 0.70x (issue 16: no worse than before association left the driver)",
            ok=batch[2] / batch[1] <= 0.70,
        ),
        *(
            row(f"{stage} share of the 1-actor job's stage time", seconds / times.total)
            for stage, seconds in asdict(times).items()
        ),
        row("batch job throughput, 1 actor", frames / batch[1], "fps"),
    ]


if __name__ == "__main__":
    print(to_table(run()))
