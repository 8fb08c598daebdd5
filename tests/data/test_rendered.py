"""What the independent renderers share (tgram.data.rendered): settings checks and the CLI."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tgram.altstyle import AltStyleConfig
from tgram.cli import main
from tgram.heldout import HeldoutConfig

ROOT = Path(__file__).resolve().parents[2]
SHARED = {
    "tgram.classes",
    "tgram.config",
    "tgram.data.formats",
    "tgram.data.rendered",
    "tgram.data.video",
}
"""All a renderer may import of the rest of tgram: file formats, the writer, class ids."""
FAMILIES = [
    ("heldout", HeldoutConfig, "held-out videos (192x128, 2 frames; evaluation only)"),
    ("altstyle", AltStyleConfig, "alternative-style videos (192x128, 2 frames; validation)"),
]


@pytest.mark.parametrize(("family", "config", "said"), FAMILIES)
def test_settings_checks(family: str, config: type, said: str) -> None:
    for bad, message in (
        ({"width": 255}, "even width and height"),
        ({"width": 100}, "width and height must be >= 128x96"),
        ({"crf": 60}, "crf must be in"),
        ({"frames": 0}, "frames must be >= 1"),
        ({"preset": "quick"}, "preset must be an x264 preset name"),
    ):
        with pytest.raises(ValueError, match=message):
            config(**bad)


@pytest.mark.parametrize(("family", "config", "said"), FAMILIES)
def test_cli(
    family: str, config: type, said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "o"
    args = ["--videos", "1", "--frames", "2", "--width", "192", "--height", "128", "--seed", "4"]
    assert main([f"synth-{family}", str(out), *args]) == 0
    assert f"wrote 1 {said} to {out}" in capsys.readouterr().out
    for rel in (f"videos/{family}_0000.mp4", f"gt/{family}_0000.txt", f"speeds/{family}_0000.csv"):
        assert (out / rel).is_file(), rel
    assert main([f"synth-{family}", str(out), "--width", "100"]) == 2
    assert "width and height must be" in capsys.readouterr().err


@pytest.mark.parametrize("family", ["heldout", "altstyle"])
def test_renderers_share_no_drawing_code(family: str) -> None:
    """Each independent renderer imports only SHARED of tgram: never tgram.synth (training)
    nor the other renderer."""
    for path in (ROOT / "tgram" / family).glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module == "tgram":
                names = [f"tgram.{a.name}" for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                if name.startswith("tgram") and not name.startswith(f"tgram.{family}"):
                    assert name in SHARED, f"{family}/{path.name} imports {name}"
