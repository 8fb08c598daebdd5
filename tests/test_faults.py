from __future__ import annotations

import subprocess
import sys

from tgram.faults import TIMEOUT_EXIT


def test_a_deadline_ends_a_hung_process_and_spares_a_quick_one() -> None:
    script = "import sys, time; from tgram.faults import Deadline\nwith Deadline(0.3, 'clip'): time.sleep(float(sys.argv[1]))"
    hung = subprocess.run([sys.executable, "-c", script, "5"], capture_output=True, text=True)
    assert hung.returncode == TIMEOUT_EXIT and "clip: still running after 0 s" in hung.stderr
    quick = subprocess.run([sys.executable, "-c", script, "0"], capture_output=True, text=True)
    assert quick.returncode == 0
