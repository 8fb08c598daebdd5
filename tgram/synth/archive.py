"""Synthetic Jilin-1-like satellite video archives with exact ground truth (`tgram synth`).

This module writes the archive: videos side by side in worker processes, each an mp4 (or
an AIR-MOT JPEG sequence) with its gt, meta and speed truth. What is in a video, and how it
is drawn, is tgram.synth.video.

mp4 layout: `videos/<id>.mp4`, `gt/<id>.txt`, `meta/<id>.json`, `speeds/<id>.csv`; AIR-MOT:
`images/<split>/<id>/img/000001.jpg`, `<id>/gt/gt.txt`, `<id>/gt/speeds.csv`, `<id>/meta.json`.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import cv2
import numpy as np

from tgram import storage
from tgram.data.formats import speed_truth, write_gt, write_speed_truth
from tgram.data.video import VideoWriter
from tgram.synth.config import SynthConfig
from tgram.synth.video import SyntheticVideo

Progress = Callable[[int], object]

ENCODER_THREADS = 1
"""x264 threads per video. One costs the least CPU in total (videos are already encoded side
by side in worker processes), and x264's output depends on its thread count, so a fixed
count keeps the frames the same whatever the number of workers."""


def generate_archive(
    out: str | Path, cfg: SynthConfig, progress: Progress | None = None, workers: int | None = None
) -> list[str]:
    """Write `cfg.videos` synthetic videos with gt under `out` (local or s3://); returns their ids.

    The same config (seed included) always writes the same gt and the same frames, whatever
    the number of `workers` (processes rendering videos side by side; None: one per CPU core).
    `progress(n)` is called as n more frames are done: per frame with one worker, per video
    with several.
    """
    n_test = round(cfg.videos * cfg.test_fraction)
    splits = ["test" if index >= cfg.videos - n_test else "train" for index in range(cfg.videos)]
    workers = min(cfg.videos, workers or os.cpu_count() or 1)
    if workers == 1:
        return [
            _write_video(str(out), cfg, index, split, progress)
            for index, split in enumerate(splits)
        ]
    # spawn, not fork: the caller may hold threads (Ray, torch) that fork would copy broken
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_single_threaded_opencv
    ) as pool:
        futures = [
            pool.submit(_write_video, str(out), cfg, index, split)
            for index, split in enumerate(splits)
        ]
        for future in as_completed(futures):
            future.result()
            if progress:
                progress(cfg.frames)
        return [future.result() for future in futures]


def _single_threaded_opencv() -> None:
    """Worker processes already fill the cores; OpenCV's own threads would only contend."""
    cv2.setNumThreads(1)


def _write_video(
    out: str, cfg: SynthConfig, index: int, split: str, progress: Progress | None = None
) -> str:
    video = SyntheticVideo(cfg, index)
    if cfg.layout == "mp4":
        _write_mp4(out, video, progress)
    else:
        _write_airmot(out, video, split, progress)
    return video.video_id


def _write_mp4(out: str, video: SyntheticVideo, progress: Progress | None) -> None:
    cfg = video.cfg
    rows, world = [], []
    uri = storage.join(out, "videos", f"{video.video_id}.mp4")
    with VideoWriter(
        uri,
        fps=cfg.fps,
        width=cfg.width,
        height=cfg.height,
        crf=video.crf,
        preset=cfg.preset,
        threads=ENCODER_THREADS,
    ) as writer:
        for frame in video.frames():
            writer.write(frame.image)
            rows.append(frame.gt)
            world.append(frame.world)
            if progress:
                progress(1)
    gt = np.concatenate(rows)
    write_gt(storage.join(out, "gt", f"{video.video_id}.txt"), gt)
    _write_speeds(storage.join(out, "speeds", f"{video.video_id}.csv"), video, gt, world)
    storage.write_bytes(storage.join(out, "meta", f"{video.video_id}.json"), _json(video.meta))


def _write_airmot(out: str, video: SyntheticVideo, split: str, progress: Progress | None) -> None:
    seq = storage.join(out, "images", split, video.video_id)
    rows, world = [], []
    for t, frame in enumerate(video.frames()):
        ok, jpeg = cv2.imencode(
            ".jpg",
            cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR),
            [cv2.IMWRITE_JPEG_QUALITY, video.cfg.jpeg_quality],
        )
        if not ok:
            raise RuntimeError(f"{seq}: JPEG encoding of frame {t} failed")
        storage.write_bytes(storage.join(seq, "img", f"{t + 1:06d}.jpg"), jpeg.tobytes())
        rows.append(frame.gt)
        world.append(frame.world)
        if progress:
            progress(1)
    gt = np.concatenate(rows)
    write_gt(storage.join(seq, "gt", "gt.txt"), gt)
    # beside gt.txt: readers look for gt/gt.txt by name, so they pass over it
    _write_speeds(storage.join(seq, "gt", "speeds.csv"), video, gt, world)
    storage.write_bytes(storage.join(seq, "meta.json"), _json(video.meta))


def _write_speeds(uri: str, video: SyntheticVideo, gt: np.ndarray, world: list[np.ndarray]) -> None:
    """The speed truth of each gt row, from the world positions of all frames."""
    rows = speed_truth(gt, np.concatenate(world), video.style.gsd_m, video.cfg.fps)
    write_speed_truth(uri, rows)


def _json(data: dict[str, object]) -> bytes:
    return (json.dumps(data, indent=2) + "\n").encode()
