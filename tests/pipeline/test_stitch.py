"""Stitching on tracklets cut from known tracks: every true track must come out with one id."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from tgram.pipeline.clips import plan_clips
from tgram.pipeline.stitch import StitchConfig, stitch_tracks

EMB = 16


def _tracks(n: int, frames: int, rng: np.random.Generator, spacing: float = 40.0) -> list[dict]:
    """Objects moving right at 1-3 px/frame, each with its own appearance."""
    out = []
    for k in range(n):
        first, last = 0, frames
        out.append(dict(
            gt=k, cls="vehicle", first=first, last=last,
            x0=10.0, y0=20.0 + spacing * k, vx=rng.uniform(1, 3),
            emb=rng.normal(size=EMB),
        ))
    return out


def _clip_rows(tracks: list[dict], clips, rng: np.random.Generator, noise_px: float = 0.3) -> tuple[pa.Table, np.ndarray]:
    """What independent per-clip trackers would output: local ids shuffled per clip."""
    cols: dict[str, list] = {k: [] for k in ("clip_index", "frame", "local_track_id", "class", "x1", "y1", "x2", "y2", "score", "embedding")}
    gt_of_row = []
    for clip in clips:
        local_ids = rng.permutation(len(tracks)) + 1
        for t, lid in zip(tracks, local_ids, strict=True):
            for f in range(max(clip.start, t["first"]), min(clip.end, t["last"])):
                x, y = t["x0"] + t["vx"] * f + rng.normal(0, noise_px), t["y0"] + rng.normal(0, noise_px)
                emb = t["emb"] + rng.normal(0, 0.3, EMB)
                for k, v in zip(("x1", "y1", "x2", "y2"), (x, y, x + 10, y + 5), strict=True):
                    cols[k].append(v)
                cols["clip_index"].append(clip.index)
                cols["frame"].append(f)
                cols["local_track_id"].append(int(lid))
                cols["class"].append(t["cls"])
                cols["score"].append(0.9)
                cols["embedding"].append(emb / np.linalg.norm(emb))
                gt_of_row.append(t["gt"])
    emb = np.asarray(cols.pop("embedding"), np.float32).reshape(-1, EMB)
    table = pa.table({**cols, "embedding": pa.FixedSizeListArray.from_arrays(emb.reshape(-1), EMB)})
    return table, np.asarray(gt_of_row)


def _check_one_id_per_track(table: pa.Table, gt_of_row: np.ndarray, out: pa.Table, n_frames: int) -> dict[int, set[int]]:
    # Recover which gt each output row is (rows are unique per (clip, frame, local id); boxes identify them).
    key_in = {(f, round(x, 4)): g for f, x, g in zip(table["frame"].to_pylist(), table["x1"].to_pylist(), gt_of_row, strict=True)}
    ids: dict[int, set[int]] = {}
    pairs = set()
    for f, x, tid in zip(out["frame"].to_pylist(), out["x1"].to_pylist(), out["track_id"].to_pylist(), strict=True):
        ids.setdefault(key_in[(f, round(x, 4))], set()).add(tid)
        assert (tid, f) not in pairs, f"track {tid} has two rows in frame {f}"
        pairs.add((tid, f))
    return ids


def test_tracks_far_longer_than_clips_keep_one_id() -> None:
    rng = np.random.default_rng(0)
    tracks = _tracks(6, 200, rng)
    clips = plan_clips("v", "v.mp4", 200, 30, 5)
    table, gt = _clip_rows(tracks, clips, rng)
    out = stitch_tracks(table, clips, StitchConfig())
    ids = _check_one_id_per_track(table, gt, out, 200)
    assert all(len(v) == 1 for v in ids.values()), ids
    assert len({i for v in ids.values() for i in v}) == 6
    assert out.num_rows == 6 * 200, "a (track, frame) was lost or duplicated"
    assert sorted({i for v in ids.values() for i in v}) == list(range(1, 7))


def test_close_parallel_tracks_of_different_identity_do_not_merge() -> None:
    rng = np.random.default_rng(1)
    tracks = _tracks(2, 60, rng, spacing=2.0)  # boxes 5 px high, 2 px apart: IoU ~0.4
    tracks[1]["vx"] = tracks[0]["vx"]
    clips = plan_clips("v", "v.mp4", 60, 20, 6)
    table, gt = _clip_rows(tracks, clips, rng, noise_px=0.1)
    ids = _check_one_id_per_track(table, gt, stitch_tracks(table, clips, StitchConfig()), 60)
    assert ids[0].isdisjoint(ids[1])


def test_different_classes_never_merge() -> None:
    rng = np.random.default_rng(2)
    tracks = _tracks(1, 40, rng)
    clips = plan_clips("v", "v.mp4", 40, 20, 6)
    table, gt = _clip_rows(tracks, clips, rng)
    classes = np.where(table["clip_index"].to_numpy() == 0, "vehicle", "ship")
    table = table.set_column(table.schema.get_field_index("class"), "class", pa.array(classes))
    out = stitch_tracks(table, clips, StitchConfig())
    assert len(set(out["track_id"].to_pylist())) == 2


def test_track_ending_in_overlap_and_track_starting_in_later_clip() -> None:
    rng = np.random.default_rng(3)
    tracks = _tracks(2, 60, rng)
    tracks[0]["last"] = 23  # ends inside the overlap [20, 26) of clips 0 and 1
    tracks[1]["first"] = 30  # only ever seen by clip 1 and later
    clips = plan_clips("v", "v.mp4", 60, 26, 6)
    table, gt = _clip_rows(tracks, clips, rng)
    out = stitch_tracks(table, clips, StitchConfig())
    ids = _check_one_id_per_track(table, gt, out, 60)
    assert all(len(v) == 1 for v in ids.values())
    assert out.num_rows == 23 + 30
    # Numbered by first appearance, deterministic.
    assert ids[0] == {1} and ids[1] == {2}
    assert stitch_tracks(table, clips, StitchConfig()).equals(out)


@pytest.mark.parametrize("n_clips_frames", [(1, 10), (3, 50)])
def test_empty_and_single_clip(n_clips_frames: tuple[int, int]) -> None:
    rng = np.random.default_rng(4)
    _, frames = n_clips_frames
    clips = plan_clips("v", "v.mp4", frames, 20 if frames > 20 else frames, 5 if frames > 20 else 0)
    table, _ = _clip_rows([], clips, rng)
    assert stitch_tracks(table, clips, StitchConfig()).num_rows == 0
    tracks = _tracks(2, frames, rng)
    table, gt = _clip_rows(tracks, clips, rng)
    out = stitch_tracks(table, clips, StitchConfig())
    assert out.num_rows == 2 * frames and sorted(set(out["track_id"].to_pylist())) == [1, 2]


def test_bad_config_names_the_key() -> None:
    with pytest.raises(ValueError, match="min_iou"):
        StitchConfig(min_iou=1.5)
