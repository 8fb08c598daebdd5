"""Cutting a video into overlapping clips, the unit of work (and of retry) of the batch job."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Clip:
    """Frames [start, end) of a video. `overlap` frames at each end are shared with the
    neighbouring clip (none before the first or after the last); frames
    [context_start, start) only warm the model's frame history up and produce no rows."""

    video_id: str
    uri: str
    index: int
    start: int
    end: int
    overlap: int
    context_start: int

    def to_row(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Clip:
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
    video_id: str, uri: str, num_frames: int, clip_frames: int, overlap: int, *, context: int = 0
) -> list[Clip]:
    """Clips covering [0, num_frames) where consecutive clips share exactly `overlap` frames.

    Clips advance by `clip_frames - overlap`; the last one ends at the video's end and is
    never made of overlap only, so it may be shorter.
    """
    if num_frames < 1:
        raise ValueError(f"num_frames: expected >= 1, got {num_frames}")
    if clip_frames < 1:
        raise ValueError(f"clip_frames: expected >= 1, got {clip_frames}")
    if not 0 <= overlap < clip_frames:
        raise ValueError(f"overlap: expected 0 <= overlap < clip_frames={clip_frames}, got {overlap}")
    if context < 0:
        raise ValueError(f"context: expected >= 0, got {context}")
    step = clip_frames - overlap
    clips: list[Clip] = []
    start = 0
    while True:
        end = min(start + clip_frames, num_frames)
        clips.append(Clip(video_id, uri, len(clips), start, end, overlap, max(0, start - context)))
        if end == num_frames:
            return clips
        start += step
