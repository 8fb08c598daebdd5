"""Cutting a video into overlapping clips, the unit of work (and of retry) of the batch job,
the typed records a clip travels as (`ClipTask`; `ClipPack`, the row Ray Data carries to an
actor: one clip, or several whole short videos), and which associator actor a clip's video
goes to."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import pyarrow as pa

from tgram.data.video import probe


@dataclass(frozen=True)
class Clip:
    """Frames [start, end) of a video, tracked on their own by one tracker actor.

    The first `overlap` frames are shared with the previous clip and the last `overlap` with
    the next one (none before the first clip or after the last); stitching joins tracks
    there. Frames [context_start, start) only fill the model's frame history (it looks at
    T-1 earlier frames) and produce no rows.
    """

    video_id: str
    uri: str
    index: int
    start: int
    end: int
    overlap: int
    context_start: int

    def __post_init__(self) -> None:
        if not 0 <= self.context_start <= self.start <= self.end:
            raise ValueError(
                f"clip {self.video_id}#{self.index}: expected 0 <= context_start <= start <= end, "
                f"got context_start={self.context_start} start={self.start} end={self.end}"
            )
        if self.overlap < 0:
            raise ValueError(
                f"clip {self.video_id}#{self.index}: overlap: expected >= 0, got {self.overlap}"
            )

    def to_row(self) -> dict[str, Any]:
        """Plain scalars, the form a Ray Data row carries."""
        return asdict(self)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Clip:
        """Inverse of `to_row`; accepts the numpy scalars Ray Data hands back and extra keys."""
        return cls(
            video_id=str(row["video_id"]),
            uri=str(row["uri"]),
            index=int(row["index"]),
            start=int(row["start"]),
            end=int(row["end"]),
            overlap=int(row["overlap"]),
            context_start=int(row["context_start"]),
        )


def plan_clips(
    video_id: str, uri: str, num_frames: int, clip_frames: int, overlap: int, context: int = 2
) -> list[Clip]:
    """Clips whose [start, end) cover [0, num_frames) exactly, consecutive ones sharing
    exactly `overlap` frames.

    Clips advance by `clip_frames - overlap`. The last one ends at the video's end, so it may
    be shorter, but it always has frames of its own: a clip made only of overlap would add
    work and no frames. A video shorter than `clip_frames` is one clip. `context` is the
    number of warm-up frames before each start (clamped at frame 0).
    """
    if num_frames < 1:
        raise ValueError(f"num_frames: expected >= 1, got {num_frames}")
    if clip_frames < 1:
        raise ValueError(f"clip_frames: expected >= 1, got {clip_frames}")
    if not 0 <= overlap < clip_frames:
        raise ValueError(
            f"overlap: expected 0 <= overlap < clip_frames={clip_frames}, got {overlap}"
        )
    if context < 0:
        raise ValueError(f"context: expected >= 0, got {context}")
    step = clip_frames - overlap
    clips: list[Clip] = []
    start, end = 0, 0
    while end < num_frames:
        end = min(start + clip_frames, num_frames)
        clips.append(Clip(video_id, uri, len(clips), start, end, overlap, max(0, start - context)))
        start += step
    return clips


@dataclass(frozen=True)
class ClipTask:
    """One clip to track, with what its video is (from the probe), or the video's failure
    (`stage`, `error`: then `clip` is a placeholder and the video has one task)."""

    clip: Clip
    fps: float
    frames: int
    width: int
    height: int
    n_clips: int
    stage: str = ""
    error: str = ""

    @classmethod
    def unplanned(cls, vid: str, uri: str, stage: str = "", error: str = "") -> ClipTask:
        """The one task of a video that has no clips (it failed, or none of it came back)."""
        return cls(Clip(vid, uri, 0, 0, 0, 0, 0), 0.0, 0, 0, 0, 1, stage, error)

    def to_row(self) -> dict[str, Any]:
        """A flat row of plain scalars, as Ray Data carries it."""
        video = {k: v for k, v in asdict(self).items() if k != "clip"}
        return {**self.clip.to_row(), **video}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ClipTask:
        """Inverse of `to_row`; accepts Ray Data's numpy scalars and extra keys."""
        return cls(
            Clip.from_row(row),
            fps=float(row["fps"]),
            frames=int(row["frames"]),
            width=int(row["width"]),
            height=int(row["height"]),
            n_clips=int(row["n_clips"]),
            stage=str(row["stage"]),
            error=str(row["error"]),
        )


@dataclass(frozen=True)
class ClipPack:
    """The clips one actor task runs, one after another: a clip of a longer video alone, or
    whole short videos together (`pack_tasks`). Ray Data hands out tasks one at a time per actor
    and its scheduling loop wakes every 0.1 s, so a task per 10-frame video left the actors
    idle ~45 % of the time."""

    tasks: tuple[ClipTask, ...]

    def to_row(self) -> dict[str, str]:
        return {"tasks": json.dumps([t.to_row() for t in self.tasks])}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ClipPack:
        return cls(tuple(ClipTask.from_row(r) for r in json.loads(str(row["tasks"]))))


def pack_tasks(tasks: Iterable[ClipTask], frames: int) -> Iterator[ClipPack]:
    """`tasks` in order, videos of one clip gathered while the pack's clips decode at most
    `frames` frames together (context included); any other task is a pack of its own. 0: every
    task alone."""
    pack: list[ClipTask] = []
    size = 0
    for task in tasks:
        n = task.clip.end - task.clip.context_start
        if task.n_clips != 1 or n >= frames:
            yield ClipPack((task,))
            continue
        if pack and size + n > frames:
            yield ClipPack(tuple(pack))
            pack, size = [], 0
        pack.append(task)
        size += n
    if pack:
        yield ClipPack(tuple(pack))


# -- planning (the batch job's first stage) ---------------------------------------------------


def plan_packs(
    batch: pa.Table, *, clip_frames: int, overlap: int, context: int
) -> Iterator[pa.Table]:
    """The packs (`pack_tasks`, up to `clip_frames` frames) of a batch of videos (`video_id`,
    `uri`), each as soon as it is complete: one row each, so that a pack is a block of its own
    (`batch.job_data_context`)."""
    tasks = (
        task
        for item in batch.to_pylist()
        for task in plan_video(item, clip_frames=clip_frames, overlap=overlap, context=context)
    )
    for pack in pack_tasks(tasks, clip_frames):
        yield pa.Table.from_pylist([pack.to_row()])


def plan_video(
    item: dict[str, Any], *, clip_frames: int, overlap: int, context: int
) -> list[ClipTask]:
    """One task per clip of a video, or one failed task if the video cannot be probed."""
    uri, vid = str(item["uri"]), str(item["video_id"])
    try:
        info = probe(uri)
    except Exception as exc:  # noqa: BLE001 - any unreadable video becomes a failure task
        return [ClipTask.unplanned(vid, uri, "probe", one_line(exc))]
    clips = plan_clips(vid, uri, info.frames, clip_frames, overlap, context=context)
    return [
        ClipTask(clip, info.fps, info.frames, info.width, info.height, len(clips)) for clip in clips
    ]


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


def associator_for(video_id: str, count: int) -> int:
    """Which of `count` associators owns a video: a stable hash (Python's hash() is salted
    per process, and the model actors must all agree)."""
    digest = hashlib.sha256(video_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") % count
