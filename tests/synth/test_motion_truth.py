"""Motion truth of `tgram synth`: the meta's platform shift and the speed side file."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from tests.motion_truth import check_motion_truth
from tgram.data.formats import (
    GT_DTYPE,
    POSITION_DTYPE,
    SPEED_DTYPE,
    FormatError,
    read_gt,
    read_speed_truth,
    speed_truth,
    write_speed_truth,
)
from tgram.data.meta import platform_shift, video_meta_record
from tgram.synth import SynthConfig, generate_archive
from tgram.synth.meta import video_meta

SMALL = SynthConfig(width=256, height=160, frames=12, videos=1, seed=0, style="fixed")
BOX_ERROR_PX = 0.75
"""How far a training-renderer gt box centre strays from the object's position, beyond a
constant offset: box edges are whole pixels (silhouette coverage >= 0.5) and objects are
drawn at quarter-pixel positions."""


def positions(rows: list[tuple[int, int, float, float]]) -> np.ndarray:
    return np.array(rows, POSITION_DTYPE)


def gt_rows(pairs: list[tuple[int, int]]) -> np.ndarray:
    gt = np.zeros(len(pairs), GT_DTYPE)
    gt["frame"], gt["id"] = np.array(pairs).T
    return gt


def test_speed_truth_takes_central_differences_of_world_positions() -> None:
    world = positions(
        [(t, 1, 10.0 + t * t, 5.0) for t in range(4)]  # accelerating along x
        + [(t, 2, 7.0, 3.0) for t in range(4)]  # parked
        + [(0, 3, 0.0, 0.0), (1, 3, 0.0, 2.0), (3, 3, 0.0, 9.0)]  # a gap at frame 2
    )
    gt = gt_rows([(0, 1), (1, 1), (3, 1), (2, 2), (0, 3), (1, 3), (3, 3)])
    rows = speed_truth(gt, world, gsd_m=0.5, fps=10.0)
    assert rows.dtype == SPEED_DTYPE
    assert rows["frame"].tolist() == gt["frame"].tolist() and rows["id"].tolist() == [
        1,
        1,
        1,
        2,
        3,
        3,
        3,
    ]
    # px/frame: one-sided 1, central (4 - 0) / 2 = 2, one-sided 9 - 4 = 5; times 0.5 m x 10 fps
    assert rows["vx_mps"][:3].tolist() == [5.0, 10.0, 25.0]
    assert rows["vy_mps"][:4].tolist() == [0.0, 0.0, 0.0, 0.0] and rows["speed_mps"][3] == 0.0
    # the gap: frame 1 has only its left neighbour, frame 3 none (a lone frame: 0)
    assert rows["vy_mps"][4:].tolist() == [10.0, 10.0, 0.0]


def test_speed_truth_needs_a_position_for_every_gt_row() -> None:
    world = positions([(0, 1, 0.0, 0.0), (1, 1, 1.0, 0.0)])
    with pytest.raises(ValueError, match="gt object 2 has no world position in frame 1"):
        speed_truth(gt_rows([(0, 1), (0, 2)]), world, 1.0, 10.0)
    with pytest.raises(ValueError, match="two positions"):
        speed_truth(gt_rows([(0, 1)]), positions([(0, 1, 0.0, 0.0), (0, 1, 1.0, 0.0)]), 1.0, 10.0)


def test_speed_file_round_trips_with_its_header(tmp_path: Path) -> None:
    rows = np.zeros(3, SPEED_DTYPE)
    rows["frame"], rows["id"] = [0, 0, 4], [3, 7, 3]
    rows["vx_mps"], rows["vy_mps"], rows["speed_mps"] = (
        [1.25, 0.0, -3.0],
        [0.0, 0.0, 4.0],
        [1.25, 0.0, 5.0],
    )
    uri = tmp_path / "speeds" / "v.csv"
    write_speed_truth(uri, rows)
    text = uri.read_text()
    assert text.splitlines() == [
        "frame,id,vx_mps,vy_mps,speed_mps",
        "1,3,1.25,0,1.25",
        "1,7,0,0,0",
        "5,3,-3,4,5",
    ]
    np.testing.assert_array_equal(read_speed_truth(uri), rows)
    uri.write_text(text.split("\n", 1)[1])
    with pytest.raises(FormatError, match=r"v\.csv:1: expected the header line"):
        read_speed_truth(uri)
    uri.write_text("frame,id,vx_mps,vy_mps,speed_mps\n")
    assert len(read_speed_truth(uri)) == 0


def test_platform_shift_is_the_motion_of_static_ground_in_the_image() -> None:
    # the frame's corner moves +2 px in x over the world: the ground moves -2 px in the image
    shift = platform_shift([[10.0, 20.0], [12.0, 19.5], [10.0004, 20.0]])
    assert shift == [[0.0, 0.0], [-2.0, 0.5], [0.0, 0.0]]
    assert "-0.0" not in json.dumps(shift)  # rounded to 3 decimals, and never -0.0


def meta_record(shift: list[list[float]] | None) -> dict[str, object]:
    return video_meta_record(
        "v",
        fps=10.0,
        width=64,
        height=64,
        frames=2,
        start=datetime(2024, 1, 1, tzinfo=timezone.utc),
        crs="EPSG:32650",
        origin_xy=(0.0, 0.0),
        gsd_m=1.0,
        place="x",
        platform_shift_px=shift,
    )


def test_meta_of_real_videos_gains_no_shift_key() -> None:
    assert "platform_shift_px" not in meta_record(None)
    assert "platform_shift_px" not in video_meta(SMALL, "v", np.random.default_rng(0))
    assert meta_record([[0.0, 0.0], [1.5, -2.0]])["platform_shift_px"] == [[0.0, 0.0], [1.5, -2.0]]
    with pytest.raises(ValueError, match=r"one \[dx, dy\] per frame \(2\), got 1"):
        meta_record([[0.0, 0.0]])


@pytest.mark.parametrize("style", ["fixed", "randomised"])
def test_archive_motion_truth_agrees_with_the_gt(tmp_path: Path, style: str) -> None:
    cfg = replace(SMALL, style=style)
    (video,) = generate_archive(tmp_path, cfg, workers=1)
    meta = json.loads((tmp_path / "meta" / f"{video}.json").read_text())
    gt = read_gt(tmp_path / "gt" / f"{video}.txt")
    speeds = read_speed_truth(tmp_path / "speeds" / f"{video}.csv")
    assert np.abs(np.diff(meta["platform_shift_px"], axis=0)).max() > 0.1  # the platform moves
    checked = check_motion_truth(gt, speeds, meta, BOX_ERROR_PX)
    assert checked.parked >= 1 and checked.spans >= 10, checked


def test_airmot_layout_keeps_the_speeds_beside_the_gt(tmp_path: Path) -> None:
    cfg = replace(SMALL, width=192, height=128, frames=8, layout="airmot")
    generate_archive(tmp_path, cfg, workers=1)
    seq = tmp_path / "images" / "train" / "synth_0000"
    gt, speeds = read_gt(seq / "gt" / "gt.txt"), read_speed_truth(seq / "gt" / "speeds.csv")
    assert len(gt) > 0
    assert np.array_equal(gt["frame"], speeds["frame"]) and np.array_equal(gt["id"], speeds["id"])
    assert len(json.loads((seq / "meta.json").read_text())["platform_shift_px"]) == 8
