"""Ray Data batch tracking: a video archive in, trajectory Parquet per video out.

archive listing -> per-video probe and clip plan (Ray Data `flat_map`) -> an actor pool that
opens, seeks and decodes its clips itself and runs the model over them (`map_batches`), so
frames never enter the object store -> each clip's detections go from its model actor
straight to the associator actor that owns its video (`association`), which turns a video's
clips into tracks as they arrive in order and writes the video's Parquet. The driver plans,
and gathers one small row per clip: its work and memory grow with clips, not with frames.
Videos finish one by one: a job killed half way keeps its finished videos, and the re-run
skips them.

This module holds the job (config, summary, the Ray Data pipeline); the stages live beside it:
`clips` (planning), `actor` (the model actor), `payloads` (actor -> associator wire formats),
`association` (the associator actors), `videos` (one video's association and commit),
`trajectories` (the output contract and commit protocol), `lease` (one writer per output).

Two ways to turn clips into tracks (`BatchConfig.association`):
- "video" (default): actors send each frame's detections; the associator runs one tracker per
  video through them in frame order as the clips arrive. A frame's detections and platform
  shift depend only on it and its `context_frames` predecessors (given to each clip as warm-up
  context), so the tracks are exactly those of `tgram track` on the whole video. Association
  costs milliseconds per frame (bench_tracker: 100 to 5,000 objects) against tens to hundreds
  for the model, so one associator keeps up with several actors (ACTORS_PER_ASSOCIATOR).
- "clip": actors also track their own clip, and consecutive clips, which share `overlap`
  frames, are stitched by the associator (`tgram.pipeline.stitch`): nothing runs per frame
  outside the actors, which suits scenes of thousands of objects on many GPUs, but every
  clip's tracker starts cold, so tracks near clip edges differ from whole-video tracking
  (measured with the shipped weights: IDF1 0.91-0.94 against it with 20-frame clips
  overlapping by 10).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Literal, get_args

import ray

from tgram import storage
from tgram.api import weights_uri
from tgram.config import to_dict
from tgram.data.video import scan_archive
from tgram.detect import context_frames
from tgram.faults import crash_env
from tgram.model.config import CPU_RUNTIMES, Runtime
from tgram.model.ort import OnnxNetwork
from tgram.model.weights import read_weights_bytes, weights_config
from tgram.pipeline.actor import ClipTracker, actor_network
from tgram.pipeline.association import VideoAssociator, record_from_json
from tgram.pipeline.clips import associator_for, plan_packs
from tgram.pipeline.lease import OutputLease
from tgram.pipeline.payloads import stage_times
from tgram.pipeline.stitch import StitchConfig
from tgram.pipeline.trajectories import (
    RunIdentity,
    VideoRecord,
    video_done,
)
from tgram.pipeline.videos import commit_lost_video
from tgram.stage_times import StageTimes
from tgram.track.tracker import TrackerConfig

log = logging.getLogger(__name__)


ACTORS_PER_ASSOCIATOR = 4
"""Tracker actors one associator keeps up with: association is ~5 % of a CPU actor's time
per frame; GPU actors produce frames faster, so GPU clusters may want `associators` set."""


@dataclass(frozen=True)
class BatchConfig:
    """How an archive is cut into clips and how many trackers run them."""

    clip_frames: int = 300
    """Frames per clip (30 s at 10 fps): the unit of parallelism and of retry. Shorter videos
    go to the actors in packs of up to this many frames (`clips.pack_tasks`)."""
    association: Literal["video", "clip"] = "video"
    """video: one tracker per video on the driver over the clips' detections, equal to
    `tgram track`; clip: each clip tracked on its own and stitched (see the module docstring)."""
    overlap: int = 30
    """Frames shared by consecutive clips, where stitching matches tracks (clip association
    only: video association needs no overlap, its clips are disjoint)."""
    actors: int = 0
    """Tracker actors (one model each); 0: as many as the cluster Ray reports has room for
    (`fit_to_cluster`): one per GPU when it has GPUs, else one per `cpus_per_actor` CPUs."""
    cpus_per_actor: float = 1.0
    gpus_per_actor: float = 0.0
    """0 runs the model on CPU; 1 (or 0.5 to pack two actors per GPU) asks Ray for a GPU."""
    clip_timeout_s: float = 0.0
    """Longest a clip may take in its actor (0: no limit); past it the actor process ends,
    and the clip is retried like one whose actor died. Set it to several times the expected
    clip time: a hung read from object storage then costs minutes, not the job."""
    associators: int = 0
    """Actors that associate and commit videos (`pipeline.association`); 0: one per
    ACTORS_PER_ASSOCIATOR tracker actors, at least one."""
    max_restarts: int = 3
    """Retries of a clip whose actor died (the actor is restarted; output is unchanged). A
    clip that kills its actor on every attempt then fails its video, not the job (in a pack of
    short videos, it runs last on every retry: `ClipTracker.in_safe_order`)."""
    weights: str = ""
    """Weights file, local or s3:// (empty: the shipped weights)."""
    runtime: Runtime = "auto"
    """What runs the network in the actors (tgram.model.config.Runtime): auto is CPU_RUNTIME
    on CPU actors (the export made and checked once, in the driver), eager PyTorch on GPU
    actors."""
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    stitch: StitchConfig = field(default_factory=StitchConfig)

    def __post_init__(self) -> None:
        if self.actors < 0:
            raise ValueError(
                f"actors: expected >= 1, or 0 for one per GPU or CPU, got {self.actors}"
            )
        if self.cpus_per_actor <= 0 or self.gpus_per_actor < 0:
            raise ValueError("cpus_per_actor must be > 0 and gpus_per_actor >= 0")
        if self.clip_frames < 1:
            raise ValueError(f"clip_frames: expected >= 1, got {self.clip_frames}")
        if self.associators < 0:
            raise ValueError(f"associators: expected >= 0, got {self.associators}")
        if self.max_restarts < 0:
            raise ValueError(
                f"max_restarts: expected >= 0, got {self.max_restarts} (Ray's -1 restarts "
                "forever: a clip that kills its actor would be retried without end)"
            )
        if self.runtime not in get_args(Runtime):
            raise ValueError(
                f"runtime: expected one of {', '.join(get_args(Runtime))}, got {self.runtime!r}"
            )
        if self.runtime in CPU_RUNTIMES and self.gpus_per_actor > 0:
            raise ValueError(
                f"runtime: {self.runtime!r} runs on the CPU; GPU actors need 'eager' or 'auto'"
            )
        if self.association not in ("video", "clip"):
            raise ValueError(f"association: expected 'video' or 'clip', got {self.association!r}")
        if self.association == "clip" and not 0 <= self.overlap < self.clip_frames:
            raise ValueError(
                f"overlap: expected 0 <= overlap < clip_frames={self.clip_frames}, got {self.overlap}"
            )


@dataclass
class BatchSummary:
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    """Videos already done."""
    ignored: int = 0
    """Files under the input that are not videos (`scan_archive`'s `skipped`)."""
    rows: int = 0
    tracks: int = 0
    frames: int = 0
    seconds: float = 0.0
    actors: int = 0
    """Tracker actors the job ran (BatchConfig.actors, or what `fit_to_cluster` chose)."""
    times: StageTimes = field(default_factory=StageTimes)
    """Seconds per stage over all clips: decode, model and registration in the actors;
    association in the actors (clip association) or on the driver (video association)."""

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0

    def to_text(self) -> str:
        return (
            f"videos: {self.ok} ok, {self.failed} failed, {self.skipped} already done; "
            f"{self.ignored} other files skipped; "
            f"{self.rows} rows, {self.tracks} tracks; {self.frames} frames in {self.seconds:.1f} s "
            f"({self.fps:.2f} fps with {self.actors} actors; {self.times.shares()})"
        )


def fit_to_cluster(cfg: BatchConfig, resources: dict[str, float]) -> BatchConfig:
    """`cfg` with `actors` 0 resolved against a cluster's resources (`ray.cluster_resources()`):
    GPUs when it has any (one per actor unless `gpus_per_actor` says otherwise), else CPUs,
    `cpus_per_actor` each (always CPUs for the onnxruntime and int8 runtimes). A job started with no
    flags then uses the whole machine."""
    if cfg.actors > 0:
        return cfg
    cpus, gpus = float(resources.get("CPU", 1.0)), float(resources.get("GPU", 0.0))
    on_gpus = gpus >= 1 and cfg.runtime not in CPU_RUNTIMES
    gpus_per_actor = cfg.gpus_per_actor or (1.0 if on_gpus else 0.0)
    by_cpu = int(cpus // cfg.cpus_per_actor)
    actors = min(by_cpu, int(gpus // gpus_per_actor)) if gpus_per_actor else by_cpu
    return replace(cfg, actors=max(1, actors), gpus_per_actor=gpus_per_actor)


def run_identity(cfg: BatchConfig, weights: bytes) -> RunIdentity:
    """The weights' SHA-256 and a hash of the settings that change a video's rows (the
    tracker; clip length, overlap and stitching only under clip association)."""
    settings: dict[str, Any] = {"association": cfg.association, "tracker": to_dict(cfg.tracker)}
    if cfg.association == "clip":
        settings.update(
            clip_frames=cfg.clip_frames, overlap=cfg.overlap, stitch=to_dict(cfg.stitch)
        )
    text = json.dumps(settings, sort_keys=True)
    return RunIdentity(
        weights_sha256=hashlib.sha256(weights).hexdigest(),
        config_hash=hashlib.sha256(text.encode()).hexdigest()[:16],
    )


PLAN_TASKS = 2
"""Planning tasks at once (zero-CPU); probing streams ahead of the model actors."""
PLAN_BATCH = 16
"""Most videos one planning task probes; short videos are packed together within them."""
ONE_ROW_BLOCKS = 1
"""`DataContext.target_max_block_size` (bytes) that makes every block one row (one pack)."""


def run_batch(
    input_uri: str,
    output_uri: str,
    cfg: BatchConfig,
    *,
    overwrite: bool = False,
    on_video: Callable[[VideoRecord], None] | None = None,
) -> BatchSummary:
    """Track every video under `input_uri` into trajectory Parquet under `output_uri`.

    Needs a connected Ray (`ray.init`); videos already complete are skipped unless `overwrite`.
    The job holds the output's lease (`pipeline.lease`) throughout: a second job on the same
    output refuses at start.
    """
    with OutputLease(output_uri), job_data_context():
        return _run_batch(input_uri, output_uri, cfg, overwrite=overwrite, on_video=on_video)


@contextmanager
def job_data_context() -> Iterator[None]:
    """Ray Data settings of the job, restored after it:

    - a block whose actor died on every retry is dropped instead of ending the job;
      `_run_batch` then fails the videos whose clips did not all come back;
    - every block holds one row: an actor task takes a whole block, so the clips a video's
      planning emitted together ran in one actor one after another (one long video used one
      actor of many). A pack's row is hundreds of bytes, so any size below that splits them.
    """
    context = ray.data.DataContext.get_current()
    saved = context.max_errored_blocks, context.target_max_block_size
    context.max_errored_blocks, context.target_max_block_size = -1, ONE_ROW_BLOCKS
    try:
        yield
    finally:
        context.max_errored_blocks, context.target_max_block_size = saved


def _run_batch(
    input_uri: str,
    output_uri: str,
    cfg: BatchConfig,
    *,
    overwrite: bool,
    on_video: Callable[[VideoRecord], None] | None,
) -> BatchSummary:
    t0 = time.perf_counter()
    summary = BatchSummary()
    todo = []
    scan = scan_archive(input_uri)
    summary.ignored = len(scan.skipped)
    if scan.skipped:
        log.warning(
            "%s: %d files are neither videos nor image sequences, e.g. %s",
            input_uri,
            len(scan.skipped),
            scan.skipped[0],
        )
    cfg = fit_to_cluster(cfg, ray.cluster_resources())
    summary.actors = cfg.actors
    weights = weights_uri(cfg.weights)
    weights_bytes = read_weights_bytes(weights)
    identity = run_identity(cfg, weights_bytes)
    for uri, vid in zip(scan.videos, scan.ids, strict=True):
        if not overwrite and video_done(output_uri, vid, identity):
            summary.skipped += 1
        else:
            todo.append({"video_id": vid, "uri": uri})
    if not todo:
        summary.seconds = time.perf_counter() - t0
        return summary
    network = actor_network(
        weights, identity.weights_sha256, cfg.tracker, cfg.runtime, cfg.gpus_per_actor
    )
    # frames, classes and embedding size: the export carries them; read from the weights
    # file only when the actors are given the file itself
    model = network if isinstance(network, OnnxNetwork) else weights_config(weights, weights_bytes)
    by_clip = cfg.association == "clip"
    runtime_env = {"env_vars": {**storage.s3_env(), **crash_env()}}
    associator = ray.remote(VideoAssociator).options(
        # Association is a few % of the model's CPU time: it shares the actors' cores rather
        # than holding CPUs they could use (reserving them could also starve the job).
        num_cpus=0,
        runtime_env=runtime_env,
    )
    associators = [
        associator.remote(
            output_uri,
            identity,
            cfg.tracker,
            cfg.stitch,
            tuple(model.classes),
            model.emb_dim,
            by_clip,
        )
        for _ in range(cfg.associators or max(1, cfg.actors // ACTORS_PER_ASSOCIATOR))
    ]
    ds = planned_clips(todo, cfg, model.frames, runtime_env).map_batches(
        ClipTracker,
        batch_size=1,
        # one pack in flight per actor: an actor that dies takes down only the pack that
        # killed it, not a healthy one queued behind it (whose retries would run out too)
        compute=ray.data.ActorPoolStrategy(size=cfg.actors, max_tasks_in_flight_per_actor=1),
        fn_constructor_kwargs=dict(
            network=network,
            tracker=cfg.tracker,
            threads=int(cfg.cpus_per_actor),
            track_clips=by_clip,
            associators=associators,
            clip_timeout_s=cfg.clip_timeout_s,
        ),
        num_cpus=cfg.cpus_per_actor,
        num_gpus=cfg.gpus_per_actor or None,
        runtime_env=runtime_env,
        # A dead actor always comes back (Ray Data's default max_restarts=-1); the pack it
        # was running is retried cfg.max_restarts times, not forever (the default -1), then
        # dropped and its unfinished videos failed (commit_lost_video). Ray 2.60 has no named
        # parameter for it yet, so this one extra kwarg raises its ray_remote_args deprecation
        # warning.
        max_task_retries=cfg.max_restarts,
    )
    try:
        _gather(ds, todo, associators, output_uri, identity, cfg, summary, on_video)
    finally:
        for associator in associators:
            ray.kill(associator)
    summary.seconds = time.perf_counter() - t0
    return summary


def planned_clips(
    todo: list[dict[str, Any]],
    cfg: BatchConfig,
    model_frames: int,
    runtime_env: dict[str, Any],
) -> ray.data.Dataset:
    """The job's first stage: each video (`video_id`, `uri`) probed and cut into clips, one
    `ClipPack` row per actor task (videos of one clip gathered up to `clip_frames` frames, at
    least two packs per actor); under `job_data_context`, one block per pack."""
    by_clip = cfg.association == "clip"
    per_task = max(1, min(PLAN_BATCH, math.ceil(len(todo) / (2 * max(1, cfg.actors)))))
    return ray.data.from_items(
        todo, override_num_blocks=math.ceil(len(todo) / per_task)
    ).map_batches(
        plan_packs,
        batch_size=None,
        batch_format="pyarrow",
        fn_kwargs=dict(
            clip_frames=cfg.clip_frames,
            overlap=cfg.overlap if by_clip else 0,
            context=context_frames(model_frames, cfg.tracker.registration),
        ),
        # Probing reads a container header: I/O, not CPU. Reserving a CPU would deadlock
        # the job when the tracker actors hold every CPU of the cluster; without a pool
        # size, zero-CPU tasks have no bound, and Ray started a worker process (importing
        # tgram) for nearly every video at once, seconds of CPU each.
        num_cpus=0,
        compute=ray.data.TaskPoolStrategy(size=PLAN_TASKS),
        runtime_env=runtime_env,
    )


def _gather(
    ds: ray.data.Dataset,
    todo: list[dict[str, Any]],
    associators: list[Any],
    output_uri: str,
    identity: RunIdentity,
    cfg: BatchConfig,
    summary: BatchSummary,
    on_video: Callable[[VideoRecord], None] | None,
) -> None:
    """Run the pipeline, count each video's record as it comes, then fail the unfinished."""
    records: dict[str, VideoRecord] = {}

    def accept(record: VideoRecord, associate_seconds: float = 0.0) -> None:
        if record.video_id in records:  # a clip retried after its video ended
            return
        records[record.video_id] = record
        _count(summary, record)
        summary.times.association += associate_seconds
        if on_video is not None:
            on_video(record)

    for row in ds.iter_rows():
        summary.times.add(stage_times(row))
        if row["record"]:
            accept(*record_from_json(str(row["record"])))
    # videos some of whose clips never came back: their associator fails them, or the
    # driver does when no clip of theirs reached a living associator
    attempts = cfg.max_restarts + 1
    unfinished = [item for item in todo if item["video_id"] not in records]
    shares = [
        [item for item in unfinished if associator_for(item["video_id"], len(associators)) == k]
        for k in range(len(associators))
    ]
    for texts in ray.get(
        [
            a.fail_unfinished.remote(share, attempts)
            for a, share in zip(associators, shares, strict=True)
            if share
        ]
    ):
        for text in texts:
            accept(*record_from_json(text))
    for item in unfinished:
        if item["video_id"] not in records:
            accept(commit_lost_video(output_uri, item, None, identity, attempts))


def _count(summary: BatchSummary, record: VideoRecord) -> None:
    if record.status == "ok":
        summary.ok += 1
        summary.rows += record.n_rows
        summary.tracks += record.n_tracks
        summary.frames += record.frames
    else:
        summary.failed += 1
