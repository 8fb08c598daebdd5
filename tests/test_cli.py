from __future__ import annotations

import json
from pathlib import Path

import pytest

from tgram.cli import COMMANDS, main


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert f"usage: tgram {command}" in capsys.readouterr().out


def test_synth_then_eval_gt_against_itself(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "archive"
    assert main(["synth", str(out), "--videos", "2", "--frames", "8", "--width", "256", "--height", "192", "--workers", "1"]) == 0
    assert f"wrote 2 videos (256x192, 8 frames, layout mp4) to {out}" in capsys.readouterr().out
    metrics = tmp_path / "m.json"
    assert main(["eval", "--gt", str(out / "gt"), "--res", str(out / "gt"), "--json", str(metrics)]) == 0
    overall = json.loads(metrics.read_text())["overall"]
    assert overall["mota"] == 1.0 and overall["idf1"] == 1.0 and overall["hota"] == pytest.approx(1.0)


def test_bad_config_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "s.yaml"
    cfg.write_text("videos: 2\nframs: 3\n")
    assert main(["synth", str(tmp_path / "o"), "--config", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"tgram synth: error: {cfg}:2: unknown key 'frams' " + err.split("'frams' ", 1)[1]
    assert "\n" not in err
