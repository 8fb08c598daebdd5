"""Build step that pyproject.toml cannot express: a wheel carries the default configs and the
shipped weights inside the package (tgram/_shipped/), where tgram.resources finds them.

An editable install (`make`, `pip install -e .`) reads them from the checkout instead.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
SHIPPED = {
    "configs": "configs",
    "weights/tgram_synth.pt": "weights/tgram_synth.pt",
    "weights/tgram_synth_flip.pt": "weights/tgram_synth_flip.pt",
    "weights/README.md": "weights/README.md",
}
"""Source path -> path under tgram/_shipped/ (the experimental weights stay in the repository)."""


class BuildWithShippedFiles(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        target = Path(self.build_lib) / "tgram" / "_shipped"
        for source, dest in SHIPPED.items():
            src, dst = HERE / source, target / dest
            dst.parent.mkdir(parents=True, exist_ok=True)
            if src.is_dir():
                shutil.copytree(src, dst, dirs_exist_ok=True)
            else:
                shutil.copy2(src, dst)


setup(cmdclass={"build_py": BuildWithShippedFiles})
