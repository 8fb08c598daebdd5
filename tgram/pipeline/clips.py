"""Cutting a video into overlapping clips, the unit of work (and of retry) of the batch job."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

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


# -- planning (the batch job's flat_map) ------------------------------------------------------


def plan_video(
    item: dict[str, Any], *, clip_frames: int, overlap: int, context: int
) -> list[dict[str, Any]]:
    """One row per clip of a video, or one failure row if the video cannot be probed."""
    uri, vid = str(item["uri"]), str(item["video_id"])
    try:
        info = probe(uri)
    except Exception as exc:  # noqa: BLE001 - any unreadable video becomes a failure row
        return [failure_row(vid, uri, "probe", exc)]
    clips = plan_clips(vid, uri, info.frames, clip_frames, overlap, context=context)
    video = dict(
        fps=info.fps, frames=info.frames, width=info.width, height=info.height, n_clips=len(clips)
    )
    return [{**clip.to_row(), **video, "stage": "", "error": ""} for clip in clips]


def failure_row(
    vid: str, uri: str, stage: str, exc: BaseException, clip: Clip | None = None
) -> dict[str, Any]:
    row = clip.to_row() if clip else Clip(vid, uri, 0, 0, 0, 0, 0).to_row()
    return {
        **row,
        "fps": 0.0,
        "frames": 0,
        "width": 0,
        "height": 0,
        "n_clips": 1,
        "stage": stage,
        "error": one_line(exc),
    }


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"
