"""Ray Data batch job vs single-process `tgram track` over the same archive, same cores."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import ray

from tgram.config import load_config
from tgram.data.synth import SynthConfig, generate_archive
from tgram.inference import Detector, track_to_results
from tgram.pipeline.batch import BatchConfig, run_batch
from tgram.resources import CONFIGS, SHIPPED_WEIGHTS
from tgram.track.tracker import TrackerConfig


def run() -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "archive"
        synth = load_config(CONFIGS / "synth" / "demo.yaml", SynthConfig)
        generate_archive(archive, synth)
        videos = str(archive / "videos")
        frames = synth.videos * synth.frames
        tracker = load_config(CONFIGS / "track" / "default.yaml", TrackerConfig)

        t0 = time.perf_counter()
        detector = Detector.from_weights(str(SHIPPED_WEIGHTS), score_threshold=tracker.det_threshold)
        track_to_results(videos, str(Path(tmp) / "single"), detector, tracker, progress=False)
        single = time.perf_counter() - t0

        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        try:
            batch = {}
            decode_share = 0.0
            for actors in (1, 2):
                t0 = time.perf_counter()
                summary = run_batch(videos, str(Path(tmp) / f"batch{actors}"), BatchConfig(actors=actors))
                batch[actors] = time.perf_counter() - t0
                if actors == 1:
                    decode_share = summary.decode_seconds / max(summary.decode_seconds + summary.track_seconds, 1e-9)
        finally:
            ray.shutdown()
    return [
        dict(name=f"batch job, 1 actor ({frames} frames, {synth.width}x{synth.height})", value=batch[1], unit="s",
             peer="single-process tgram track", peer_value=single, ratio=batch[1] / single,
             target="<= 1.15x", ok=batch[1] / single <= 1.15),
        dict(name="batch job, 2 actors on 2 cores", value=batch[2], unit="s", peer="1 actor",
             peer_value=batch[1], ratio=batch[2] / batch[1], target="< 1x", ok=batch[2] < batch[1]),
        dict(name="decode share of actor time", value=decode_share, unit="", peer=None, peer_value=None,
             ratio=None, target=None, ok=None),
        dict(name="batch job throughput, 1 actor", value=frames / batch[1], unit="fps", peer=None,
             peer_value=None, ratio=None, target=None, ok=None),
    ]


if __name__ == "__main__":
    from tests.bench.run import to_table

    print(to_table(run()))
