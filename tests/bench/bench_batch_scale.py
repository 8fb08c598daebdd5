"""The batch job as the archive grows: the driver's cost per frame and its memory stay flat.

On local Ray, `tgram batch` over archives of 8, 40 and 128 short videos (10 frames at 160x128)
and over one long video and one 4x longer (640x384), each against single-process
`tgram track` on the same input: wall time, the job's fixed cost per video ((batch - track)
/ videos), the driver's CPU-seconds per 1,000 frames (its process time: planning, gathering
rows, committing nothing since association left it) and its peak resident memory (sampled
every 50 ms). Since association runs in associator actors, the driver holds one small row
per clip: its cost per frame and its memory must not grow with frames or videos.
`TGRAM_BENCH_SCALE_MAX=40` stops at 40 videos (the 128-video archive takes minutes). The issue's
target for archives of many short videos: batch within 1.5x of `tgram track` at 40 videos.

Beside it, Ray's floor (`tests.bench.ray_floor`): the job's pipeline shape doing no work.
"""

from __future__ import annotations

import math
import os
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import psutil
import ray

from tests.bench.ray_floor import ray_floor
from tests.bench.run import row, to_table
from tgram.config import load_config
from tgram.inference import Detector, track_to_results
from tgram.pipeline.batch import BatchConfig, run_batch
from tgram.resources import CONFIGS, SHIPPED_WEIGHTS
from tgram.synth import SynthConfig, generate_archive
from tgram.track.tracker import TrackerConfig

SHORT = {"frames": 10, "width": 160, "height": 128}
SHORT_COUNTS = (8, 40, 128)
SHORT_TARGET = (40, 1.5)
"""(videos, largest batch / track wall-time ratio)."""
LONG = {"videos": 1, "width": 640, "height": 384}
LONG_FRAMES = (40, 160)
CLIP_FRAMES = 50


class PeakRss:
    """Highest resident memory of this process while the block runs."""

    def __enter__(self) -> PeakRss:
        self.peak, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        process = psutil.Process()
        while not self._stop.is_set():
            self.peak = max(self.peak, process.memory_info().rss)
            self._stop.wait(0.05)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run() -> list[dict]:
    largest = int(os.environ.get("TGRAM_BENCH_SCALE_MAX", "128"))
    tracker = load_config(CONFIGS / "track" / "default.yaml", TrackerConfig)
    detector = Detector.from_weights(str(SHIPPED_WEIGHTS), score_threshold=tracker.score_floor)
    archives = [(f"{n} short videos", SHORT | {"videos": n}) for n in SHORT_COUNTS if n <= largest]
    archives += [(f"one {n}-frame video", LONG | {"frames": n}) for n in LONG_FRAMES]
    measured, floor_s = {}, float("nan")
    ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, log_to_driver=False)
    try:
        with tempfile.TemporaryDirectory(prefix="tgram-bench-scale-") as tmp:
            for name, settings in archives:
                measured[name] = _measure(
                    Path(tmp) / name.replace(" ", "_"), settings, detector, tracker
                )
        videos = SHORT_TARGET[0]
        # as many empty tasks as the job's packs: its one-clip videos (10 frames, no context
        # before frame 0) pack CLIP_FRAMES frames a task, within planning blocks of 10 videos
        if f"{videos} short videos" in measured:
            floor_s = ray_floor(math.ceil(videos * SHORT["frames"] / CLIP_FRAMES))
    finally:
        ray.shutdown()
    rows = []
    for name, m in measured.items():
        rows += [
            *_wall_time_rows(name, m, floor_s),
            row(f"fixed cost per video, {name}", m["fixed_s"], "s"),
            row(f"driver CPU-s per 1,000 frames, {name}", m["driver_cpu_per_1k"], "s"),
            row(f"driver share of the job's CPU, {name}", m["driver_share"], target="< 5 %", ok=m["driver_share"] < 0.05),
            row(f"peak driver RSS, {name}", m["rss_mb"], "MB"),
        ]  # fmt: skip
    short = [n for n in measured if "short" in n]
    if len(short) >= 2:
        first, last = measured[short[0]], measured[short[-1]]
        ratio = last["driver_cpu_per_1k"] / first["driver_cpu_per_1k"]
        rows.append(
            row(
                f"driver CPU per frame, {short[-1]} / {short[0]}",
                ratio,
                "x",
                target="flat: within 20 %",
                ok=ratio <= 1.2,
            )  # fmt: skip
        )
    short_long, long_long = (measured[f"one {n}-frame video"] for n in LONG_FRAMES)
    ratio = long_long["rss_mb"] / short_long["rss_mb"]
    rows.append(
        row(
            f"peak driver RSS, {LONG_FRAMES[1]} / {LONG_FRAMES[0]} frames",
            ratio,
            "x",
            target="flat: within 20 %",
            ok=ratio <= 1.2,
        )  # fmt: skip
    )
    return rows


def _wall_time_rows(name: str, m: dict[str, float], floor: float) -> list[dict]:
    videos, limit = SHORT_TARGET
    if name != f"{videos} short videos":
        return [row(f"batch wall time, {name}", m["batch_s"], "s", peer="tgram track", peer_value=m["track_s"])]  # fmt: skip
    return [
        row(f"batch wall time, {name}", m["batch_s"], "s", peer="tgram track", peer_value=m["track_s"], target=f"<= {limit}x", ok=m["batch_s"] <= limit * m["track_s"]),
        row(f"Ray's floor (the job's pipeline shape, no work), {name}", floor, "s", peer="tgram track", peer_value=m["track_s"]),
        row(f"batch wall time less Ray's floor, {name}", m["batch_s"] - floor, "s", peer="tgram track", peer_value=m["track_s"]),
    ]  # fmt: skip


def _measure(
    root: Path, settings: dict, detector: Detector, tracker: TrackerConfig
) -> dict[str, float]:
    synth = replace(load_config(CONFIGS / "synth" / "demo.yaml", SynthConfig), **settings)
    generate_archive(root / "archive", synth)
    videos = str(root / "archive" / "videos")
    frames = synth.videos * synth.frames
    t0 = time.perf_counter()
    track_to_results(videos, str(root / "track"), detector, tracker, progress=False)
    track_s = time.perf_counter() - t0
    cores = os.cpu_count() or 1
    cfg = BatchConfig(clip_frames=CLIP_FRAMES, tracker=tracker)
    cpu0, t0 = time.process_time(), time.perf_counter()
    with PeakRss() as rss:
        summary = run_batch(videos, str(root / "batch"), cfg)
    batch_s, driver_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    assert summary.ok == synth.videos, summary.to_text()
    return {
        "track_s": track_s,
        "batch_s": batch_s,
        "fixed_s": (batch_s - track_s) / synth.videos,
        "driver_cpu_per_1k": driver_cpu / frames * 1000,
        "driver_share": driver_cpu / (batch_s * cores),
        "rss_mb": rss.peak / 2**20,
    }


if __name__ == "__main__":
    print(to_table(run()))
