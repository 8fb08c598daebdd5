"""Named crash points, so tests can kill a job exactly where a real crash could hit.

`TGRAM_CRASH_AT=<point>` in the environment ends the process at that point as a kill would
(no clean-up, no exception handlers, exit status CRASH_EXIT). Unset, a point costs one dict
lookup. The points are listed beside the code that calls them, e.g. the output commit
(`pipeline/trajectories.py`) and `storage.write_bytes`.
"""

from __future__ import annotations

import logging
import os
import threading

log = logging.getLogger(__name__)

CRASH_EXIT = 87
ENV = "TGRAM_CRASH_AT"


def crash_env() -> dict[str, str]:
    """The crash setting, for the runtime_env of Ray workers (empty when unset)."""
    return {ENV: os.environ[ENV]} if os.environ.get(ENV) else {}


def crash_point(name: str) -> None:
    if os.environ.get(ENV) == name:
        os._exit(CRASH_EXIT)


TIMEOUT_EXIT = 88


class Deadline:
    """`with Deadline(seconds, what):` ends the process (exit TIMEOUT_EXIT) if the block runs
    longer: a hung decode or model call cannot be interrupted from Python, but a Ray actor
    that exits is restarted and its task retried, and after its retries the batch job fails
    that clip's video. 0 or less: no deadline."""

    def __init__(self, seconds: float, what: str) -> None:
        self.seconds, self.what = seconds, what
        self._timer: threading.Timer | None = None

    def __enter__(self) -> Deadline:
        if self.seconds > 0:
            self._timer = threading.Timer(self.seconds, self._expire)
            self._timer.daemon = True
            self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def _expire(self) -> None:
        log.error("%s: still running after %.0f s; ending the process", self.what, self.seconds)
        os._exit(TIMEOUT_EXIT)
