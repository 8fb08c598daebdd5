"""Named crash points, so tests can kill a job exactly where a real crash could hit.

`TGRAM_CRASH_AT=<point>` in the environment ends the process at that point as a kill would
(no clean-up, no exception handlers, exit status CRASH_EXIT). Unset, a point costs one dict
lookup. The points are listed beside the code that calls them, e.g. the output commit
(`pipeline/trajectories.py`) and `storage.write_bytes`.
"""

from __future__ import annotations

import os

CRASH_EXIT = 87
ENV = "TGRAM_CRASH_AT"


def crash_point(name: str) -> None:
    if os.environ.get(ENV) == name:
        os._exit(CRASH_EXIT)
