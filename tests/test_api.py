"""The Python API gives what the CLI gives, and its docstring examples run."""

from __future__ import annotations

import doctest
from pathlib import Path

import numpy as np
import pytest

import tgram
import tgram.api
from tgram.cli import main
from tgram.data.formats import read_results
from tgram.synth import SynthConfig, generate_archive


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("archive")
    generate_archive(out, SynthConfig(videos=1, frames=6, width=256, height=192, seed=5), workers=1)
    return next((out / "videos").glob("*.mp4"))


def test_docstring_examples_run() -> None:
    result = doctest.testmod(tgram.api, extraglobs={"tgram": tgram}, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 2 and result.failed == 0


def test_track_gives_the_rows_tgram_track_writes(video: Path, tmp_path: Path) -> None:
    rows = tgram.track_video(video)
    assert list(rows.columns) == list(tgram.TRACK_COLUMNS) and len(rows) > 0
    assert main(["track", str(video), "--out", str(tmp_path)]) == 0
    written = read_results(tmp_path / f"{video.stem}.txt")
    order = np.lexsort((rows.track_id, rows.frame))
    np.testing.assert_array_equal(rows.frame.to_numpy()[order], np.sort(written["frame"]))
    np.testing.assert_allclose(np.sort(rows.x.to_numpy()), np.sort(written["x"]), atol=0.01)
    first = rows[rows.frame == rows.frame.min()]
    fields = tgram.to_xyxy(first)
    assert fields["xyxy"].shape == (len(first), 4)
    assert set(fields["class_id"]) <= {0, 1, 2}
