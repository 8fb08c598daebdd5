"""The installable package: a wheel built from this tree works from a directory outside it,
with its default configs and the shipped weights read from inside the package."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
BUILD_INPUTS = ("pyproject.toml", "setup.py", "README.md", "tgram", "jobs", "configs", "weights")


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_the_wheel_carries_its_defaults_and_tracks_outside_the_checkout(tmp_path: Path) -> None:
    # build from a copy: an in-tree build would leave build/ and egg-info in the checkout
    src = tmp_path / "src"
    src.mkdir()
    for name in BUILD_INPUTS:
        path = REPO / name
        if path.is_dir():
            skip = shutil.ignore_patterns("__pycache__", "experimental", "_shipped")
            shutil.copytree(path, src / name, ignore=skip)
        else:
            shutil.copy2(path, src / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    _run([*pip, "wheel", str(src), "--no-deps", "--no-build-isolation", "-w", "dist"], tmp_path)
    (wheel,) = (tmp_path / "dist").glob("tgram-*.whl")
    site = tmp_path / "site"
    _run([*pip, "install", "--no-deps", "--no-index", "--target", str(site), str(wheel)], tmp_path)

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = _run(
        [
            sys.executable,
            "-c",
            "import tgram, tgram.resources as r; "
            "print(tgram.__file__, r.CONFIGS, r.SHIPPED_WEIGHTS, r.CHECKOUT, sep='\\n')",
        ],
        work,
        env,
    ).split("\n")
    package, configs, weights, checkout = (Path(p) for p in where[:4])
    assert site in package.parents and site in configs.parents and site in weights.parents
    assert (configs / "track" / "default.yaml").is_file() and weights.is_file()
    assert (weights.parent / "tgram_synth_flip.pt").is_file()
    assert str(checkout) == "None"

    tgram = [sys.executable, "-c", "import sys; from tgram.cli import main; sys.exit(main())"]
    assert "usage: tgram track" in _run([*tgram, "track", "--help"], work, env)
    _run([*tgram, "synth", "tiny", "--videos", "1", "--frames", "4", "--width", "128",
          "--height", "96", "--workers", "1"], work, env)  # fmt: skip
    out = _run([*tgram, "track", "tiny/videos", "--out", "tracks"], work, env)
    assert "tracks" in out
    assert (work / "tracks" / "synth_0000.txt").is_file()
