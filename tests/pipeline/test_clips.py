from __future__ import annotations

import numpy as np
import pytest

from tgram.pipeline.clips import Clip, ClipPack, ClipTask, pack_tasks, plan_clips, plan_video


@pytest.mark.parametrize(
    ("frames", "clip_frames", "overlap"),
    [
        (1, 10, 2),  # one frame
        (10, 10, 2),  # exactly one clip's worth
        (11, 10, 2),  # one frame more: a short second clip
        (9, 10, 0),
        (57, 7, 3),
        (301, 300, 299),  # the largest overlap: clips advance by one frame
        (100_000, 300, 30),  # a long video
    ],
)
def test_clips_cover_the_video_and_share_exactly_the_overlap(
    frames: int, clip_frames: int, overlap: int
) -> None:
    clips = plan_clips("v", "s3://b/v.mp4", frames, clip_frames, overlap, context=2)
    assert clips[0].start == 0 and clips[-1].end == frames
    assert [c.index for c in clips] == list(range(len(clips)))
    covered = np.zeros(frames, np.int64)
    for c in clips:
        assert 0 < c.end - c.start <= clip_frames
        assert c.context_start == max(0, c.start - 2)
        assert c.overlap == overlap
        covered[c.start : c.end] += 1
    assert covered.min() >= 1
    for before, after in zip(clips, clips[1:], strict=False):
        assert before.end - after.start == overlap
        assert after.end > before.end, "a clip made of overlap only"
    assert plan_clips("v", "s3://b/v.mp4", frames, clip_frames, overlap, context=2) == clips


@pytest.mark.parametrize(
    ("frames", "clip_frames", "overlap", "expected"),
    [
        (100, 30, 5, [(0, 30), (25, 55), (50, 80), (75, 100)]),
        (31, 30, 5, [(0, 30), (25, 31)]),
        (30, 30, 5, [(0, 30)]),
        (5, 300, 20, [(0, 5)]),
        (6, 2, 0, [(0, 2), (2, 4), (4, 6)]),
    ],
)
def test_clip_bounds(
    frames: int, clip_frames: int, overlap: int, expected: list[tuple[int, int]]
) -> None:
    assert [
        (c.start, c.end) for c in plan_clips("v", "v.mp4", frames, clip_frames, overlap)
    ] == expected


def test_context_frames_precede_each_start_and_stop_at_frame_zero() -> None:
    clips = plan_clips("v", "v.mp4", 100, 30, 5, context=27)
    assert [c.context_start for c in clips] == [0, 0, 23, 48]
    assert [c.context_start for c in plan_clips("v", "v.mp4", 100, 30, 5)] == [0, 23, 48, 73]


def test_rows_round_trip_including_numpy_scalars() -> None:
    clip = plan_clips("v", "s3://b/v.mp4", 100, 30, 5)[2]
    assert Clip.from_row(clip.to_row()) == clip
    assert all(isinstance(v, (str, int)) for v in clip.to_row().values())
    as_ray_gives_it = {
        k: np.int64(v) if isinstance(v, int) else np.str_(v) for k, v in clip.to_row().items()
    }
    restored = Clip.from_row({**as_ray_gives_it, "fps": 10.0})
    assert restored == clip and type(restored.start) is int


def test_clip_tasks_round_trip_as_ray_data_rows(tmp_path) -> None:
    task = ClipTask(plan_clips("v", "v.mp4", 100, 30, 5)[1], 10.0, 100, 64, 48, 4)
    row = task.to_row()
    assert ClipTask.from_row({k: np.asarray(v)[()] for k, v in row.items()}) == task
    failed = plan_video(
        {"video_id": "gone", "uri": str(tmp_path / "gone.mp4")},
        clip_frames=30,
        overlap=0,
        context=2,
    )[0]
    assert (failed.stage, failed.n_clips, failed.clip.video_id) == ("probe", 1, "gone")
    assert failed.error.startswith("VideoError") and "no such file" in failed.error


def _tasks(video_id: str, frames: int, clip_frames: int) -> list[ClipTask]:
    clips = plan_clips(video_id, f"{video_id}.mp4", frames, clip_frames, 0, context=2)
    return [ClipTask(c, 10.0, frames, 64, 48, len(clips)) for c in clips]


def test_short_videos_are_packed_up_to_a_clip_and_long_ones_stay_apart() -> None:
    tasks = [
        *_tasks("a", 10, 30),
        *_tasks("b", 10, 30),
        *_tasks("long", 70, 30),
        *_tasks("c", 10, 30),
        *_tasks("d", 15, 30),
        *_tasks("e", 30, 30),
    ]
    packs = [[(t.clip.video_id, t.clip.index) for t in p.tasks] for p in pack_tasks(tasks, 30)]
    assert packs == [
        [("long", 0)],
        [("long", 1)],
        [("long", 2)],
        [("a", 0), ("b", 0), ("c", 0)],  # 10 + 10 + 10 frames
        [("e", 0)],  # as long as a clip: alone, at once
        [("d", 0)],  # 15 more would have made 45; the last pack
    ]
    assert [len(p.tasks) for p in pack_tasks(tasks, 0)] == [1] * len(tasks)


def test_packs_round_trip_as_ray_data_rows() -> None:
    pack = ClipPack(tuple(_tasks("a", 10, 30) + _tasks("b", 12, 30)))
    row = pack.to_row()
    assert ClipPack.from_row({"tasks": np.asarray(row["tasks"], dtype=object)[()]}) == pack


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(num_frames=0, clip_frames=10, overlap=1), "num_frames"),
        (dict(num_frames=5, clip_frames=0, overlap=0), "clip_frames"),
        (dict(num_frames=5, clip_frames=10, overlap=10), "overlap"),
        (dict(num_frames=5, clip_frames=10, overlap=-1), "overlap"),
        (dict(num_frames=5, clip_frames=10, overlap=2, context=-1), "context"),
    ],
)
def test_bad_parameters_name_themselves(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}: expected"):
        plan_clips("v", "v.mp4", **kwargs)


@pytest.mark.parametrize(
    ("start", "end", "context_start", "overlap"),
    [(5, 4, 0, 0), (5, 10, 6, 0), (0, 10, -1, 0), (0, 10, 0, -2)],
)
def test_inconsistent_clip_is_refused(
    start: int, end: int, context_start: int, overlap: int
) -> None:
    with pytest.raises(ValueError, match="clip v#3"):
        Clip("v", "v.mp4", 3, start, end, overlap, context_start)
