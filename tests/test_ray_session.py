"""How tgram joins Ray: a private local Ray starts lean."""

from __future__ import annotations

import os
import subprocess
import sys

PROBE = """
import ray
from tgram.ray_session import connect
connect(None)
print("webui", repr(ray._private.worker.global_worker.node.webui_url))  # no public accessor
ray.shutdown()
"""


def test_a_private_local_ray_starts_without_the_dashboard() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "TGRAM_RAY_DASHBOARD")}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "webui ''" in out.stdout
