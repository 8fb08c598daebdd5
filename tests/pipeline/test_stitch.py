"""Stitching tracklets cut from known tracks: every true track must come out with one id,
every (track, frame) exactly once."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa
import pytest

from tgram.pipeline.clips import Clip, plan_clips
from tgram.pipeline.stitch import StitchConfig, StitchedIds, stitch_table, stitch_tracks

EMB = 16
DEFAULTS = dict(
    min_iou=StitchConfig().min_iou,
    emb_weight=StitchConfig().emb_weight,
    max_cost=StitchConfig().max_cost,
)


@dataclass(frozen=True)
class Truth:
    """A ground-truth object on frames [first, last): a w x h box moving at (vx, vy) px/frame."""

    gt: int
    first: int
    last: int
    x0: float
    y0: float
    vx: float = 2.0
    vy: float = 0.0
    w: float = 10.0
    h: float = 6.0
    cls: str = "vehicle"
    emb: tuple[float, ...] = ()


def _truths(n: int, frames: int, rng: np.random.Generator, spacing: float = 40.0) -> list[Truth]:
    """Objects in a column moving right at 1-3 px/frame, each with its own appearance."""
    return [
        Truth(
            k,
            0,
            frames,
            10.0,
            20.0 + spacing * k,
            vx=rng.uniform(1, 3),
            emb=tuple(rng.normal(size=EMB)),
        )
        for k in range(n)
    ]


def _tracker_output(
    truths: list[Truth],
    clips: list[Clip],
    rng: np.random.Generator,
    *,
    noise_px: float = 0.3,
    missed: frozenset[tuple[int, int]] = frozenset(),
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """What independent per-clip trackers would return: shuffled local ids per clip, jittered
    boxes, noisy unit embeddings; (gt, clip index) pairs in `missed` are not seen at all.
    Returns the rows and the gt id of each row."""
    parts: list[dict[str, np.ndarray]] = []
    for clip in clips:
        for truth, local_id in zip(truths, rng.permutation(len(truths)) + 1, strict=True):
            frame = np.arange(max(clip.start, truth.first), min(clip.end, truth.last))
            if (truth.gt, clip.index) in missed or len(frame) == 0:
                continue
            x1 = truth.x0 + truth.vx * frame + rng.normal(0, noise_px, len(frame))
            y1 = truth.y0 + truth.vy * frame + rng.normal(0, noise_px, len(frame))
            emb = np.asarray(truth.emb) + rng.normal(0, 0.3, (len(frame), EMB))
            parts.append(
                dict(
                    clip_index=np.full(len(frame), clip.index),
                    frame=frame,
                    local_track_id=np.full(len(frame), local_id),
                    **{"class": np.full(len(frame), truth.cls, dtype=object)},
                    x1=x1,
                    y1=y1,
                    x2=x1 + truth.w,
                    y2=y1 + truth.h,
                    score=np.full(len(frame), 0.9, np.float32),
                    embedding=(emb / np.linalg.norm(emb, axis=1, keepdims=True)).astype(np.float32),
                    gt=np.full(len(frame), truth.gt),
                )
            )
    names = (
        "clip_index",
        "frame",
        "local_track_id",
        "class",
        "x1",
        "y1",
        "x2",
        "y2",
        "score",
        "embedding",
        "gt",
    )
    rows = {
        k: np.concatenate([p[k] for p in parts])
        if parts
        else np.zeros((0, EMB) if k == "embedding" else 0)
        for k in names
    }
    return rows, rows.pop("gt")


def _table(rows: dict[str, np.ndarray]) -> pa.Table:
    emb = np.asarray(rows["embedding"], np.float32)
    columns = {k: v for k, v in rows.items() if k != "embedding"}
    columns["class"] = pa.array(list(rows["class"]), pa.string())
    return pa.table(
        {**columns, "embedding": pa.FixedSizeListArray.from_arrays(emb.reshape(-1), emb.shape[1])}
    )


def _check(
    rows: dict[str, np.ndarray], gt: np.ndarray, stitched: StitchedIds
) -> dict[int, set[int]]:
    """Ids each gt track got; asserts no (track, frame) is lost or duplicated."""
    frame, keep = rows["frame"], stitched.keep
    kept_pairs = set(zip(stitched.track_id[keep].tolist(), frame[keep].tolist(), strict=True))
    assert len(kept_pairs) == keep.sum(), "a (track, frame) is duplicated"
    assert set(zip(gt[keep].tolist(), frame[keep].tolist(), strict=True)) == set(
        zip(gt.tolist(), frame.tolist(), strict=True)
    ), "a (gt track, frame) was lost"
    ids: dict[int, set[int]] = {}
    for g, t in zip(gt.tolist(), stitched.track_id.tolist(), strict=True):
        ids.setdefault(g, set()).add(t)
    return ids


def test_tracks_far_longer_than_clips_keep_one_id_across_eight_clips() -> None:
    rng = np.random.default_rng(0)
    clips = plan_clips("v", "v.mp4", 200, 30, 5)
    assert len(clips) == 8
    rows, gt = _tracker_output(_truths(6, 200, rng), clips, rng)
    stitched = stitch_tracks(rows, clips, **DEFAULTS)
    ids = _check(rows, gt, stitched)
    assert all(len(v) == 1 for v in ids.values()), ids
    assert sorted(i for v in ids.values() for i in v) == [1, 2, 3, 4, 5, 6]
    assert stitched.keep.sum() == 6 * 200


@pytest.mark.parametrize(
    ("emb_weight", "ids_stay_apart"), [(DEFAULTS["emb_weight"], True), (0.0, False)]
)
def test_close_parallel_tracks_of_different_identity_do_not_merge(
    emb_weight: float, ids_stay_apart: bool
) -> None:
    """Two objects a quarter pixel apart, boxes jittered by 0.4 px: IoU cannot tell them
    apart over 8 clip joins (the emb_weight=0 control mixes them up), appearance does."""
    rng = np.random.default_rng(0)
    a = Truth(0, 0, 120, 10.0, 20.0, emb=tuple(rng.normal(size=EMB)))
    b = replace(a, gt=1, y0=20.25, emb=tuple(rng.normal(size=EMB)))
    clips = plan_clips("v", "v.mp4", 120, 20, 6)
    rows, gt = _tracker_output([a, b], clips, rng, noise_px=0.4)
    settings = {**DEFAULTS, "emb_weight": emb_weight}
    ids = _check(rows, gt, stitch_tracks(rows, clips, **settings))
    apart = len(ids[0]) == len(ids[1]) == 1 and ids[0] != ids[1]
    assert apart == ids_stay_apart, ids


@pytest.mark.parametrize(("later_clip_sees_it", "owner_of_last_frames"), [(True, 1), (False, 0)])
def test_track_ending_inside_the_overlap(
    later_clip_sees_it: bool, owner_of_last_frames: int
) -> None:
    """Clips [0, 26) and [20, 46) share [20, 26); the track's last frames 23, 24 are in the
    later clip's half. If that clip never saw the track, the earlier clip's rows stay."""
    rng = np.random.default_rng(3)
    ending = Truth(0, 0, 25, 10.0, 20.0, emb=tuple(rng.normal(size=EMB)))
    clips = plan_clips("v", "v.mp4", 60, 26, 6)
    missed = frozenset() if later_clip_sees_it else frozenset({(0, 1)})
    rows, gt = _tracker_output([ending], clips, rng, missed=missed)
    stitched = stitch_tracks(rows, clips, **DEFAULTS)
    assert _check(rows, gt, stitched) == {0: {1}}
    kept_clip = dict(
        zip(
            rows["frame"][stitched.keep].tolist(),
            rows["clip_index"][stitched.keep].tolist(),
            strict=True,
        )
    )
    assert sorted(kept_clip) == list(range(25))
    assert [kept_clip[f] for f in (20, 21, 22, 23, 24)] == [
        0,
        0,
        0,
        owner_of_last_frames,
        owner_of_last_frames,
    ]


def test_track_starting_in_a_later_clip_gets_its_own_id_in_order_of_appearance() -> None:
    rng = np.random.default_rng(4)
    late = Truth(
        0, 30, 60, 10.0, 20.0, emb=tuple(rng.normal(size=EMB))
    )  # only clips 1 and 2 see it
    early = Truth(1, 0, 60, 10.0, 80.0, emb=tuple(rng.normal(size=EMB)))
    clips = plan_clips("v", "v.mp4", 60, 26, 6)
    rows, gt = _tracker_output([late, early], clips, rng)
    stitched = stitch_tracks(rows, clips, **DEFAULTS)
    assert _check(rows, gt, stitched) == {1: {1}, 0: {2}}
    assert stitched.keep.sum() == 30 + 60


def test_different_classes_never_merge() -> None:
    """Clip 0 calls the object a vehicle, clips 1 and 2 a ship: boxes and looks agree, classes don't."""
    rng = np.random.default_rng(2)
    clips = plan_clips("v", "v.mp4", 40, 20, 6)
    rows, _ = _tracker_output(_truths(1, 40, rng), clips, rng)
    rows["class"] = np.where(rows["clip_index"] == 0, "vehicle", "ship").astype(object)
    stitched = stitch_tracks(rows, clips, **DEFAULTS)
    assert sorted(set(stitched.track_id[rows["clip_index"] == 0].tolist())) == [1]
    assert sorted(set(stitched.track_id[rows["clip_index"] > 0].tolist())) == [2]


@pytest.mark.parametrize(
    ("num_frames", "clip_frames", "overlap", "expected_owner"),
    [
        # Overlap [25, 30): 25-27 stay with clip 0 (middle frame 27 included), 28-29 go to clip 1; and so on.
        (100, 30, 5, [0] * 28 + [1] * 25 + [2] * 25 + [3] * 22),
        # Overlap [20, 26): 20-22 with clip 0, 23-25 with clip 1.
        (60, 26, 6, [0] * 23 + [1] * 20 + [2] * 17),
    ],
)
def test_overlap_rows_come_from_the_clip_where_the_frame_is_farther_from_the_edge(
    num_frames: int, clip_frames: int, overlap: int, expected_owner: list[int]
) -> None:
    rng = np.random.default_rng(5)
    clips = plan_clips("v", "v.mp4", num_frames, clip_frames, overlap)
    rows, _ = _tracker_output(_truths(1, num_frames, rng), clips, rng)
    out = stitch_table(_table(rows), clips)
    assert out["frame"].to_pylist() == list(range(num_frames))
    assert out["clip_index"].to_pylist() == expected_owner
    assert set(out["track_id"].to_pylist()) == {1}


def _two_clip_rows(
    box_b: tuple[float, ...], emb_b: list[float], frames_a: range = range(10)
) -> tuple[dict[str, np.ndarray], list[Clip]]:
    """One object: clip 0 [0, 10) boxes it at (0, 0, 10, 10) with embedding (1, 0); clip 1
    [5, 15) at `box_b` with `emb_b`. Noise-free, so IoU and cosine are exact."""
    clips = plan_clips("v", "v.mp4", 15, 10, 5)
    frames = np.concatenate([np.asarray(frames_a), np.arange(5, 15)])
    in_a = np.arange(len(frames)) < len(frames_a)
    boxes = np.where(in_a[:, None], [0.0, 0.0, 10.0, 10.0], box_b)
    rows = dict(
        clip_index=np.where(in_a, 0, 1),
        frame=frames,
        local_track_id=np.ones(len(frames), np.int64),
        **{"class": np.full(len(frames), "ship", dtype=object)},
        x1=boxes[:, 0],
        y1=boxes[:, 1],
        x2=boxes[:, 2],
        y2=boxes[:, 3],
        embedding=np.where(in_a[:, None], [1.0, 0.0], emb_b).astype(np.float32),
    )
    return rows, clips


@pytest.mark.parametrize(
    ("emb_b", "settings", "n_tracks"),
    [
        # Boxes 5 px apart: mean IoU 50/150 = 1/3; with emb_weight 0 the cost is 2/3.
        ([1.0, 0.0], dict(min_iou=0.3, emb_weight=0.0, max_cost=0.7), 1),
        ([1.0, 0.0], dict(min_iou=0.4, emb_weight=0.0, max_cost=0.7), 2),  # IoU below min_iou
        ([1.0, 0.0], dict(min_iou=0.3, emb_weight=0.0, max_cost=0.6), 2),  # cost above max_cost
        # Same looks: cost 2/3 * 0.5 + 0 = 1/3; opposite looks (cosine -1): 1/3 + 2 * 0.5 = 4/3.
        ([1.0, 0.0], dict(min_iou=0.3, emb_weight=0.5, max_cost=0.34), 1),
        ([-1.0, 0.0], dict(min_iou=0.3, emb_weight=0.5, max_cost=1.0), 2),
    ],
)
def test_link_cost_and_thresholds(
    emb_b: list[float], settings: dict[str, float], n_tracks: int
) -> None:
    rows, clips = _two_clip_rows((5.0, 0.0, 15.0, 10.0), emb_b)
    assert len(set(stitch_tracks(rows, clips, **settings).track_id.tolist())) == n_tracks


def test_iou_is_averaged_over_the_frames_both_tracklets_have() -> None:
    """Clip 0 loses the object after frame 6: on the shared frames 5 and 6 the boxes agree
    exactly, so even min_iou=1 links it, and frames 7-9 come from clip 1 alone."""
    rows, clips = _two_clip_rows((0.0, 0.0, 10.0, 10.0), [1.0, 0.0], frames_a=range(7))
    stitched = stitch_tracks(rows, clips, min_iou=1.0, emb_weight=0.0, max_cost=0.0)
    assert set(stitched.track_id.tolist()) == {1}
    assert rows["frame"][stitched.keep].tolist() == list(range(15))


def test_ids_do_not_depend_on_row_order_or_input_form() -> None:
    rng = np.random.default_rng(6)
    clips = plan_clips("v", "v.mp4", 90, 30, 6)
    rows, _ = _tracker_output(_truths(5, 90, rng, spacing=15.0), clips, rng)
    stitched = stitch_tracks(rows, clips, **DEFAULTS)
    shuffle = rng.permutation(len(rows["frame"]))
    shuffled = stitch_tracks({k: v[shuffle] for k, v in rows.items()}, clips[::-1], **DEFAULTS)
    np.testing.assert_array_equal(shuffled.track_id, stitched.track_id[shuffle])
    np.testing.assert_array_equal(shuffled.keep, stitched.keep[shuffle])
    from_table = stitch_tracks(_table(rows), clips, **DEFAULTS)
    np.testing.assert_array_equal(from_table.track_id, stitched.track_id)


def test_hundreds_of_objects_in_a_grid_link_one_to_one() -> None:
    rng = np.random.default_rng(7)
    truths = [
        Truth(k, 0, 50, 15.0 * (k % 20), 12.0 * (k // 20), vx=0.5, emb=tuple(rng.normal(size=EMB)))
        for k in range(400)
    ]
    clips = plan_clips("v", "v.mp4", 50, 30, 10)
    rows, gt = _tracker_output(truths, clips, rng, noise_px=0.2)
    ids = _check(rows, gt, stitch_tracks(rows, clips, **DEFAULTS))
    assert all(len(v) == 1 for v in ids.values())
    assert len({i for v in ids.values() for i in v}) == 400


def test_table_form_drops_embeddings_and_sorts_by_frame_then_track() -> None:
    rng = np.random.default_rng(8)
    clips = plan_clips("v", "v.mp4", 40, 20, 4)
    rows, _ = _tracker_output(_truths(3, 40, rng), clips, rng)
    out = stitch_table(_table(rows), clips)
    assert out.num_rows == 3 * 40
    assert "embedding" not in out.column_names and out.schema.field("track_id").type == pa.int64()
    assert {"score", "clip_index", "local_track_id"} <= set(out.column_names)
    keys = list(zip(out["frame"].to_pylist(), out["track_id"].to_pylist(), strict=True))
    assert keys == sorted(keys) and len(set(keys)) == len(keys)


def test_no_rows_and_a_single_clip() -> None:
    rng = np.random.default_rng(9)
    clips = plan_clips("v", "v.mp4", 10, 20, 5)
    empty, _ = _tracker_output([], clips, rng)
    assert len(stitch_tracks(empty, clips, **DEFAULTS).track_id) == 0
    assert len(stitch_tracks(empty, [], **DEFAULTS).keep) == 0
    out = stitch_table(_table(empty), clips)
    assert out.num_rows == 0 and "track_id" in out.column_names
    # One clip: nothing to link, ids follow first appearance (local id 7 first seen at frame 0).
    rows = dict(
        clip_index=np.zeros(4, np.int64),
        frame=np.array([2, 0, 1, 2]),
        local_track_id=np.array([3, 7, 7, 7]),
        **{"class": np.array(["ship"] * 4, dtype=object)},
        x1=np.zeros(4),
        y1=np.zeros(4),
        x2=np.ones(4),
        y2=np.ones(4),
        embedding=np.eye(4, 2, dtype=np.float32),
    )
    stitched = stitch_tracks(rows, clips, **DEFAULTS)
    assert stitched.track_id.tolist() == [2, 1, 1, 1] and stitched.keep.all()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.pop("x2"), "missing column 'x2'"),
        (
            lambda r: r.update(clip_index=np.full(len(r["frame"]), 5)),
            "clip_index 5 is not among the clips",
        ),
        (lambda r: r.update(frame=r["frame"] + 10), "frame 10 of clip 0 is outside the clip's"),
        (lambda r: r.update({k: np.concatenate([v[:1], v]) for k, v in r.items()}), "occurs twice"),
        (lambda r: r.update(embedding=r["embedding"][:, 0]), "embedding': expected shape"),
    ],
)
def test_malformed_rows_are_refused_with_the_reason(change, message: str) -> None:
    rows, clips = _two_clip_rows((0.0, 0.0, 10.0, 10.0), [1.0, 0.0])
    change(rows)
    with pytest.raises(ValueError, match=f"^(rows|clips): .*{message}"):
        stitch_tracks(rows, clips, **DEFAULTS)


def test_clips_that_do_not_advance_are_refused() -> None:
    rows, clips = _two_clip_rows((0.0, 0.0, 10.0, 10.0), [1.0, 0.0])
    with pytest.raises(ValueError, match="^clips: expected distinct indices"):
        stitch_tracks(
            rows, [clips[0], replace(clips[1], start=0, end=5, context_start=0)], **DEFAULTS
        )


@pytest.mark.parametrize(
    ("key", "value"), [("min_iou", 0.0), ("min_iou", 1.5), ("emb_weight", -0.1), ("max_cost", 2.0)]
)
def test_bad_settings_name_the_key(key: str, value: float) -> None:
    with pytest.raises(ValueError, match=f"^{key}: expected"):
        StitchConfig(**{key: value})
