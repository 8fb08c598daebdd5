"""Files shipped in the source tree beside the package (installed editable, as the Makefile does)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
SHIPPED_WEIGHTS = ROOT / "weights" / "tgram_synth.pt"
"""The model this project trains on its synthetic archive (see weights/README.md)."""
