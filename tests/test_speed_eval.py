from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from tests.outputs import commit
from tgram.cli import main
from tgram.data.formats import read_gt, read_speed_truth
from tgram.pipeline.geo import georeference
from tgram.speed_eval import MOVING_MPS, evaluate_speeds, speed_truth_uri
from tgram.synth import SynthConfig, generate_archive


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("archive")
    generate_archive(out, SynthConfig(width=256, height=160, frames=8, videos=1, seed=5), workers=1)
    return out


def _write_rows(out: str, gt: np.ndarray, speed: np.ndarray, shift_px: float = 0.0) -> None:
    """Trajectory rows at the gt boxes (moved by `shift_px`) reporting `speed`."""
    n = len(gt)
    table = pa.table(
        {
            "frame": gt["frame"].astype(np.int32),
            "track_id": gt["id"].astype(np.int64),
            "class": ["vehicle"] * n,
            "x": (gt["x"] + shift_px).astype(np.float32),
            "y": gt["y"].astype(np.float32),
            "w": gt["w"].astype(np.float32),
            "h": gt["h"].astype(np.float32),
            "score": np.ones(n, np.float32),
            "vx": np.zeros(n, np.float32),
            "vy": np.zeros(n, np.float32),
            "x_stab": gt["x"].astype(np.float32),
            "y_stab": gt["y"].astype(np.float32),
        }
    )
    table = georeference(table, None).set_column(
        table.num_columns + 3, "speed_mps", pa.array(speed.astype(np.float32))
    )
    commit(out, "synth_0000", table)


def test_speed_report_scores_parked_and_moving_objects(archive: Path, tmp_path: Path) -> None:
    gt_uri = str(archive / "gt" / "synth_0000.txt")
    gt, truth = read_gt(gt_uri), read_speed_truth(speed_truth_uri(gt_uri))
    parked, moving = truth["speed_mps"] == 0, truth["speed_mps"] > MOVING_MPS
    assert parked.any() and moving.any()

    exact = str(tmp_path / "exact")
    _write_rows(exact, gt, truth["speed_mps"])
    report = evaluate_speeds(str(archive / "gt"), exact)
    assert report.matched == len(gt) and report.parked == parked.sum()
    assert report.parked_median_mps == 0 and report.moving_median_abs_error_mps < 1e-3

    off = str(tmp_path / "off")  # every speed 1.5 m/s too high
    _write_rows(off, gt, truth["speed_mps"] + 1.5)
    report = evaluate_speeds(str(archive / "gt"), off)
    assert report.parked_median_mps == pytest.approx(1.5, abs=1e-3)
    assert report.moving_median_abs_error_mps == pytest.approx(1.5, abs=1e-3)

    far = str(tmp_path / "far")  # rows outside the frame match nothing
    _write_rows(far, gt, truth["speed_mps"], shift_px=1000.0)
    assert evaluate_speeds(str(archive / "gt"), far).matched == 0


def test_cli_eval_speeds(archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    gt_uri = str(archive / "gt" / "synth_0000.txt")
    out = str(tmp_path / "out")
    _write_rows(out, read_gt(gt_uri), read_speed_truth(speed_truth_uri(gt_uri))["speed_mps"])
    assert main(["eval", "--gt", str(archive / "gt"), "--speeds", out, "--match", "center"]) == 0
    assert "parked" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="give --res"):
        main(["eval", "--gt", str(archive / "gt")])


def test_speed_truth_locations() -> None:
    assert speed_truth_uri("s3://b/arch/gt/v1.txt") == "s3://b/arch/speeds/v1.csv"
    assert speed_truth_uri("/data/seq1/gt/gt.txt") == "/data/seq1/gt/speeds.csv"
