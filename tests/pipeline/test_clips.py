from __future__ import annotations

import pytest

from tgram.pipeline.clips import Clip, plan_clips


@pytest.mark.parametrize(
    ("frames", "clip_frames", "overlap"),
    [(1, 10, 2), (10, 10, 2), (11, 10, 2), (9, 10, 0), (1000, 300, 20), (301, 300, 299), (57, 7, 3)],
)
def test_clips_cover_the_video_and_share_exactly_the_overlap(frames: int, clip_frames: int, overlap: int) -> None:
    clips = plan_clips("v", "s3://b/v.mp4", frames, clip_frames, overlap, context=2)
    assert clips[0].start == 0 and clips[-1].end == frames
    assert [c.index for c in clips] == list(range(len(clips)))
    for c in clips:
        assert 0 < c.end - c.start <= clip_frames
        assert c.context_start == max(0, c.start - 2)
    for a, b in zip(clips, clips[1:], strict=False):
        assert a.end - b.start == overlap
        assert b.end > a.end, "a clip made of overlap only"


def test_short_video_is_one_clip_and_rows_round_trip() -> None:
    (clip,) = plan_clips("v", "v.mp4", 5, 300, 20)
    assert (clip.start, clip.end) == (0, 5)
    assert Clip.from_row(clip.to_row()) == clip


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(num_frames=0, clip_frames=10, overlap=1), "num_frames"),
        (dict(num_frames=5, clip_frames=0, overlap=0), "clip_frames"),
        (dict(num_frames=5, clip_frames=10, overlap=10), "overlap"),
        (dict(num_frames=5, clip_frames=10, overlap=-1), "overlap"),
    ],
)
def test_bad_parameters_name_themselves(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plan_clips("v", "v.mp4", **kwargs)
