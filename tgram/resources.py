"""Files shipped with tgram: the default configs and the shipped weights.

In a source checkout (the editable install the Makefile makes) they are read where they live,
`configs/` and `weights/` at the top of the repository. A built wheel carries copies inside
the package, `tgram/_shipped/` (setup.py's build step puts them there), so a plain
`pip install tgram-*.whl` keeps every default without the repository.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

PACKAGE = Path(str(files("tgram")))

CHECKOUT: Path | None = PACKAGE.parent if (PACKAGE.parent / "pyproject.toml").is_file() else None
"""The source checkout tgram runs from, or None when it is installed from a wheel; `tgram
submit` uploads it as the job's working_dir (an installed tgram expects the cluster's image
to have tgram too)."""

SHIPPED = PACKAGE / "_shipped" if (PACKAGE / "_shipped").is_dir() else PACKAGE.parent
"""Where configs/ and weights/ are: inside an installed wheel, or the checkout."""

CONFIGS = SHIPPED / "configs"
SHIPPED_WEIGHTS = SHIPPED / "weights" / "tgram_synth.pt"
"""The model this project trains on its synthetic archive (see weights/README.md)."""
