from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tgram.api import weights_uri
from tgram.calibrate import CachedVideo, LabelledArchive, sweep
from tgram.cli import main
from tgram.config import load_config
from tgram.detections import Detections
from tgram.synth import SynthConfig, generate_archive
from tgram.track.run import FrameDetections
from tgram.track.tracker import TrackerConfig


def cached_from_gt(
    gt: np.ndarray, rng: np.random.Generator, score: float = 0.9, clutter_score: float = 0.3
) -> CachedVideo:
    """Perfect detections of every gt box at `score`, plus static clutter at `clutter_score`."""
    frames = []
    clutter = rng.uniform(0, 400, (3, 2)) + [0, 100]
    fp = np.concatenate([clutter, clutter + 6], 1)
    for f in range(int(gt["frame"].max()) + 1):
        rows = gt[gt["frame"] == f]
        boxes = np.stack([rows["x"], rows["y"], rows["x"] + rows["w"], rows["y"] + rows["h"]], 1)
        all_boxes = np.concatenate([boxes, fp]).astype(np.float32)
        scores = np.r_[np.full(len(boxes), score), np.full(len(fp), clutter_score)].astype(
            np.float32
        )
        emb = rng.normal(size=(len(all_boxes), 8)).astype(np.float32)
        emb /= np.linalg.norm(emb, axis=1, keepdims=True)
        det = Detections(all_boxes, scores, np.full(len(all_boxes), 2), emb)
        frames.append(FrameDetections(f, det, np.zeros(2)))
    return CachedVideo(10.0, frames)


def _moving_gt() -> np.ndarray:
    gt = np.zeros(
        40,
        dtype=[("frame", int), ("id", int), ("x", float), ("y", float), ("w", float), ("h", float)],
    )
    gt["frame"] = np.repeat(np.arange(10), 4)
    gt["id"] = np.tile(np.arange(1, 5), 10)
    gt["x"] = np.tile([20.0, 80, 140, 200], 10) + gt["frame"]
    gt["y"], gt["w"], gt["h"] = 50.0, 8.0, 4.0
    return gt


def test_sweep_prefers_thresholds_that_drop_clutter() -> None:
    rng = np.random.default_rng(0)
    gt = _moving_gt()
    table = sweep(
        [LabelledArchive({"v": cached_from_gt(gt, rng)}, {"v": gt})],
        TrackerConfig(),
        emb_dim=8,
        det_thresholds=(0.2, 0.5),
        new_track_margins=(0.0, 0.1),
        low_det_thresholds=(1.0, 0.1, 0.3),
        min_track_scores=(0.0,),
    )
    # 0.3 is no band below det 0.2: skipped there
    assert len(table) == 10 and {c.low_det_threshold for c in table} == {1.0, 0.1, 0.3}
    assert [c.objective for c in table] == sorted((c.objective for c in table), reverse=True)
    best = table[0]
    assert best.det_threshold == 0.5 and best.mota > 0.9
    assert (
        min(c.mota for c in table if c.new_track_threshold < 0.3) < 0.8
    )  # clutter births cost MOTA


def test_archives_weigh_the_same_whatever_their_size() -> None:
    """A large archive with clutter at 0.42 wants det 0.5; a small one whose objects score
    0.45 (imagery the model finds harder) loses everything there. Pooled, the large archive
    would outvote it (0.5); the mean over archives picks 0.4, which serves both."""
    rng = np.random.default_rng(1)
    gt = _moving_gt()
    easy = LabelledArchive(
        {f"v{i}": cached_from_gt(gt, rng, clutter_score=0.42) for i in range(5)},
        {f"v{i}": gt for i in range(5)},
    )
    hard = LabelledArchive({"v": cached_from_gt(gt, rng, score=0.45)}, {"v": gt})
    grid = dict(
        det_thresholds=(0.4, 0.5),
        new_track_margins=(0.0,),
        low_det_thresholds=(1.0,),
        min_track_scores=(0.0,),
    )
    alone = sweep([easy], TrackerConfig(), emb_dim=8, **grid)
    both = sweep([easy, hard], TrackerConfig(), emb_dim=8, **grid)
    assert alone[0].det_threshold == 0.5 and alone[0].mota == pytest.approx(1.0)
    assert both[0].det_threshold == 0.4
    at_half = next(c for c in both if c.det_threshold == 0.5)
    assert at_half.mota == pytest.approx(0.5)  # (1.0 on easy + 0.0 on hard) / 2


def test_a_minimum_track_score_drops_clutter_a_detection_threshold_cannot() -> None:
    """Clutter at 0.55 outscores objects that dip to 0.5 every other frame: any detection
    threshold that drops the clutter breaks the objects' tracks, while their mean (0.7)
    stays above the clutter's."""
    rng = np.random.default_rng(2)
    gt = _moving_gt()
    video = cached_from_gt(gt, rng, clutter_score=0.55)
    for f in video.detections[1::2]:
        f.detections.scores[:-3] = 0.5  # the objects; the last three boxes are clutter
    table = sweep(
        [LabelledArchive({"v": video}, {"v": gt})],
        TrackerConfig(),
        emb_dim=8,
        det_thresholds=(0.4, 0.6),
        new_track_margins=(0.0,),
        low_det_thresholds=(1.0,),
        min_track_scores=(0.0, 0.6),
    )
    assert len(table) == 4
    best = table[0]
    assert (best.det_threshold, best.min_track_score) == (0.4, 0.6)
    assert best.mota == pytest.approx(1.0)
    assert all(c.mota < 0.8 for c in table[1:])


def test_cli_writes_a_tracker_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archive = tmp_path / "val"
    generate_archive(
        archive, SynthConfig(width=192, height=128, frames=4, videos=1, seed=11), workers=1
    )
    out = tmp_path / "track.yaml"
    assert (
        main(
            [
                "calibrate",
                str(archive),
                "--out",
                str(out),
                "--det",
                "0.3,0.5",
                "--margins",
                "0,0.1",
                "--low",
                "1",
                "--track-scores",
                "0,0.5",
            ]
        )
        == 0
    )
    cfg = load_config(out, TrackerConfig)
    assert cfg.det_threshold in (0.3, 0.5) and cfg.new_track_threshold - cfg.det_threshold in (
        0.0,
        pytest.approx(0.1),
    )
    printed = capsys.readouterr().out
    assert cfg.min_track_score in (0.0, 0.5)
    assert "written to" in printed and len(printed.splitlines()) == 10
    # several archives (here one twice, under two names): the table is their mean
    other = tmp_path / "val2"
    other.symlink_to(archive)
    args = ["calibrate", str(archive), str(other), "--out", str(out), "--det", "0.3", "--low", "1"]
    args += ["--track-scores", "0"]
    assert main([*args, "--margins", "0"]) == 0
    printed = capsys.readouterr().out
    assert "mean of 2 archives" in printed
    header = out.read_text().splitlines()[0]
    assert f"{archive} {other} --weights {weights_uri(None)}:" in header  # the file, not None
    # the peak ratio swept beside the thresholds: one model run per value, one table
    assert main([*args, "--margins", "0", "--peak-ratios", "0,1"]) == 0
    printed = capsys.readouterr().out.splitlines()
    rows = [line.split() for line in printed[1:3]]
    assert sorted(float(r[0]) for r in rows) == [0.0, 1.0]
    assert printed[-1].startswith(f"best peak_ratio {float(rows[0][0])}: ")
