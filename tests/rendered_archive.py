"""Checks every rendered evaluation archive (tgram.heldout, tgram.altstyle) must pass."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tgram.data.formats import GT_DTYPE, read_gt
from tgram.data.video import probe, read_frames


def check_rendered_video(
    out: Path, vid: str, frames: int, width: int, height: int
) -> tuple[np.ndarray, dict]:
    """The video decodes to `frames` frames of its size; its gt rows are valid MOTChallenge rows
    inside the frame, one per identity a frame; its meta names it. Returns (gt, meta)."""
    info = probe(out / "videos" / f"{vid}.mp4")
    assert (info.frames, info.width, info.height, info.fps) == (frames, width, height, 10.0)
    decoded = list(read_frames(out / "videos" / f"{vid}.mp4"))
    assert [t for t, _ in decoded] == list(range(frames))
    assert decoded[0][1].shape == (height, width, 3)
    gt = read_gt(out / "gt" / f"{vid}.txt")
    assert len(gt) > 0 and gt.dtype == GT_DTYPE
    assert set(np.unique(gt["frame"])) <= set(range(frames))
    assert (gt["id"] >= 1).all() and (gt["mark"] == 1).all()
    assert ((gt["visibility"] > 0) & (gt["visibility"] <= 1)).all()
    assert (gt["x"] >= 0).all() and (gt["y"] >= 0).all()
    assert (gt["x"] + gt["w"] <= width + 0.01).all() and (gt["y"] + gt["h"] <= height + 0.01).all()
    for f in range(frames):
        ids_f = gt["id"][gt["frame"] == f]
        assert len(ids_f) == len(np.unique(ids_f))
    meta = json.loads((out / "meta" / f"{vid}.json").read_text())
    assert meta["video_id"] == vid and meta["geotransform"][1] == meta["gsd_m"]
    assert (meta["width"], meta["height"], meta["frames"], meta["fps"]) == (
        width,
        height,
        frames,
        10.0,
    )
    return gt, meta
