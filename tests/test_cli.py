from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tgram.cli import COMMANDS, main


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert f"usage: tgram {command}" in capsys.readouterr().out


def test_synth_then_eval_gt_against_itself(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "archive"
    assert (
        main(
            [
                "synth",
                str(out),
                "--videos",
                "2",
                "--frames",
                "8",
                "--width",
                "256",
                "--height",
                "192",
                "--workers",
                "1",
            ]
        )
        == 0
    )
    assert f"wrote 2 videos (256x192, 8 frames, layout mp4) to {out}" in capsys.readouterr().out
    metrics = tmp_path / "m.json"
    assert (
        main(["eval", "--gt", str(out / "gt"), "--res", str(out / "gt"), "--json", str(metrics)])
        == 0
    )
    overall = json.loads(metrics.read_text())["overall"]
    assert (
        overall["mota"] == 1.0 and overall["idf1"] == 1.0 and overall["hota"] == pytest.approx(1.0)
    )


def test_bad_config_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "s.yaml"
    cfg.write_text("videos: 2\nframs: 3\n")
    assert main(["synth", str(tmp_path / "o"), "--config", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"tgram synth: error: {cfg}:2: unknown key 'frams' " + err.split("'frams' ", 1)[1]
    assert "\n" not in err


def test_plot_writes_trajectory_and_speed_pngs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import cv2
    import numpy as np
    import pyarrow as pa

    from tests.outputs import commit
    from tgram.data.meta import VideoMeta
    from tgram.data.video import VideoWriter
    from tgram.pipeline.geo import georeference

    video = tmp_path / "v1.mp4"
    with VideoWriter(str(video), fps=10, width=64, height=48) as writer:
        writer.write(np.full((48, 64, 3), 90, np.uint8))
    n = 20
    table = pa.table(
        {
            "frame": np.arange(n, dtype=np.int32),
            "track_id": np.ones(n, np.int64),
            "class": ["vehicle"] * n,
            "x": np.linspace(2, 50, n, dtype=np.float32),
            "y": np.full(n, 20, np.float32),
            "w": np.full(n, 6, np.float32),
            "h": np.full(n, 4, np.float32),
            "score": np.ones(n, np.float32),
            "vx": np.full(n, 2.5, np.float32),
            "vy": np.zeros(n, np.float32),
            "x_stab": np.linspace(2, 50, n, dtype=np.float32),
            "y_stab": np.full(n, 20, np.float32),
        }
    )
    meta = VideoMeta(
        10.0,
        datetime(2023, 1, 1, tzinfo=timezone.utc),
        "EPSG:32631",
        (500000.0, 1.0, 0.0, 10.0, 0.0, -1.0),
        1.0,
    )
    out = str(tmp_path / "out")
    commit(out, "v1", georeference(table, meta), uri=str(video))
    assert main(["plot", out, "--video", "v1", "--out", str(tmp_path / "png")]) == 0
    frame_png = cv2.imread(str(tmp_path / "png" / "v1_trajectories.png"))
    assert frame_png.shape == (48, 64, 3)
    assert (np.abs(frame_png.astype(int) - 45).sum(axis=2) > 60).sum() >= 40  # the track's polyline
    assert cv2.imread(str(tmp_path / "png" / "v1_speed.png")) is not None
    assert "speed histogram" in capsys.readouterr().out
    assert main(["plot", out, "--video", "nope"]) == 2


def test_batch_tracks_with_the_tracker_settings_of_tgram_track(tmp_path: Path) -> None:
    """`tgram batch` reads the tracker YAML `tgram track` reads (default and --tracker)."""
    from tgram.cli import batch_config, build_parser
    from tgram.config import load_config
    from tgram.track.tracker import TrackerConfig

    parser = build_parser()
    default_track = parser.parse_args(["track", "in.mp4", "--out", "o"]).config
    batch = batch_config(parser.parse_args(["batch", "in", "out"]))
    assert batch.tracker == load_config(default_track, TrackerConfig)
    edited = tmp_path / "track.yaml"
    edited.write_text("det_threshold: 0.31\nregistration:\n  enabled: false\n")
    batch = batch_config(parser.parse_args(["batch", "in", "out", "--tracker", str(edited)]))
    assert batch.tracker.det_threshold == 0.31 and not batch.tracker.registration.enabled
    assert batch.tracker == load_config(edited, TrackerConfig)


def test_batch_config_refuses_tracker_settings_inside(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "batch.yaml"
    config.write_text("actors: 1\ntracker:\n  det_threshold: 0.2\n")
    assert main(["batch", "in", "out", "--config", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"{config}: 'tracker' is not a batch setting" in err


def test_batch_default_yaml_holds_the_defaults() -> None:
    from tgram.config import load_config
    from tgram.pipeline.batch import BatchConfig
    from tgram.resources import CONFIGS

    assert load_config(CONFIGS / "batch" / "default.yaml", BatchConfig) == BatchConfig()


def test_zero_epochs_is_an_error_not_ignored(capsys: pytest.CaptureFixture[str]) -> None:
    from tgram.resources import CONFIGS

    assert main(["train", str(CONFIGS / "train" / "synth.yaml"), "--epochs", "0"]) == 2
    assert "optim.epochs and optim.batch_size must be >= 1" in capsys.readouterr().err


def test_endless_actor_restarts_are_refused() -> None:
    from tgram.pipeline.batch import BatchConfig

    with pytest.raises(ValueError, match="max_restarts: expected >= 0, got -1"):
        BatchConfig(max_restarts=-1)


def test_weights_takes_a_decode_setting_and_keeps_the_tensors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch

    from tgram.model.config import ModelConfig
    from tgram.model.tgram import TGraM
    from tgram.model.weights import load_weights, read_checkpoint, save_weights

    cfg = ModelConfig(frames=1, graph=False, adversarial=False, emb_dim=8, peaks="box")
    source, changed = tmp_path / "w.pt", tmp_path / "w_ratio.pt"
    save_weights(str(source), TGraM(cfg, num_ids=3), cfg, {})
    args = ["weights", str(source), "--set", "peak_ratio=0.7", "--out", str(changed)]
    assert main(args) == 0
    assert f"wrote {changed}" in capsys.readouterr().out
    assert load_weights(str(changed))[1].peak_ratio == 0.7
    assert load_weights(str(source))[1].peak_ratio == 0.0
    a, b = (read_checkpoint(str(p))["state_dict"] for p in (source, changed))
    assert a.keys() == b.keys() and all(torch.equal(t, b[k]) for k, t in a.items())
    # the tensors' own settings stay put; a bad value is a one-line error naming the key
    for setting, message in (("frames=3", "frames: not a decode setting"), ("peak_ratio=2", "peak_ratio must be in [0, 1]")):  # fmt: skip
        assert main(["weights", str(source), "--set", setting, "--out", str(changed)]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1


def test_weights_averages_files_of_one_network(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch

    from tgram.model.config import ModelConfig
    from tgram.model.tgram import TGraM
    from tgram.model.weights import read_checkpoint, save_weights

    cfg = ModelConfig(frames=1, graph=False, adversarial=False, emb_dim=8, peaks="box")
    paths = [tmp_path / f"w{i}.pt" for i in range(2)]
    for seed, path in enumerate(paths):
        torch.manual_seed(seed)
        save_weights(str(path), TGraM(cfg, num_ids=3), cfg, {})
    soup = tmp_path / "soup.pt"
    assert (
        main(["weights", str(paths[0]), "--average-with", str(paths[1]), "--out", str(soup)]) == 0
    )
    assert f"wrote {soup}" in capsys.readouterr().out
    a, b, mean = (read_checkpoint(str(p))["state_dict"] for p in (*paths, soup))
    floats = [k for k, t in a.items() if t.is_floating_point()]
    assert any(not torch.equal(a[k], b[k]) for k in floats)
    for k in floats:
        expected = ((a[k].float() + b[k].float()) / 2).to(a[k].dtype)
        assert mean[k].dtype == a[k].dtype and torch.equal(mean[k], expected), k
    # another network (a wider embedding) is a one-line error naming the file and the key
    other_cfg = ModelConfig(frames=1, graph=False, adversarial=False, emb_dim=16, peaks="box")
    other = tmp_path / "other.pt"
    save_weights(str(other), TGraM(other_cfg, num_ids=3), other_cfg, {})
    assert main(["weights", str(paths[0]), "--average-with", str(other), "--out", str(soup)]) == 2
    err = capsys.readouterr().err
    assert f"{other}: another network" in err and "emb_dim" in err and err.count("\n") == 1
