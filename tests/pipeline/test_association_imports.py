"""The batch job's associator processes track and commit; they never need the network."""

from __future__ import annotations

import subprocess
import sys


def test_association_runs_without_torch() -> None:
    """Importing torch costs a starting Ray worker seconds of CPU (~2 s on a busy 2-core
    machine); the associators start beside the model actors at every job."""
    code = (
        "import sys, tgram.pipeline.association, tgram.track.run; "
        "print(sorted(m for m in ('torch', 'onnxruntime') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
