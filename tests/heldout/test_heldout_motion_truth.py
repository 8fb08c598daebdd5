"""Motion truth of `tgram synth-heldout`: the meta's platform shift and the speed side file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.motion_truth import GT_ROUNDING_PX, check_motion_truth
from tgram.data.formats import read_gt, read_speed_truth
from tgram.heldout import HeldoutConfig, HeldoutVideo, generate_heldout_archive

SMALL = HeldoutConfig(width=256, height=160, frames=10, videos=2, seed=0)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    out = tmp_path_factory.mktemp("heldout_truth")
    return out, generate_heldout_archive(out, SMALL)


def test_motion_truth_agrees_with_the_gt(archive: tuple[Path, list[str]]) -> None:
    out, ids = archive
    for video in ids:
        meta = json.loads((out / "meta" / f"{video}.json").read_text())
        gt = read_gt(out / "gt" / f"{video}.txt")
        speeds = read_speed_truth(out / "speeds" / f"{video}.csv")
        # boxes are the exact polygon boxes: only the rounding of the files is left
        checked = check_motion_truth(gt, speeds, meta, GT_ROUNDING_PX)
        assert checked.parked >= 1 and checked.spans >= 10, (video, checked)


def test_written_speeds_are_the_videos_truth(archive: tuple[Path, list[str]]) -> None:
    out, ids = archive
    video = HeldoutVideo(SMALL, 0)
    gt = np.concatenate([gt for _, gt in video.frames()])
    np.testing.assert_array_equal(
        read_speed_truth(out / "speeds" / f"{ids[0]}.csv"), video.speed_truth(gt)
    )
    meta = json.loads((out / "meta" / f"{ids[0]}.json").read_text())
    assert meta["platform_shift_px"] == video.meta["platform_shift_px"]
