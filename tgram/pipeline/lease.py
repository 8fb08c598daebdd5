"""One writer per output root: a lease file with its owner and a heartbeat.

Two batch jobs writing one OUTPUT would race on the same records (one commits a video that
the other then marks failed). A job takes `_lease.json` at start, rewrites its heartbeat
while it runs and removes it at the end; a second job finds a fresh heartbeat and refuses
with the owner's name. A lease whose heartbeat is older than STALE_S belongs to a job that
died without removing it and is taken over; so is, at once, one whose owner ran on this
host as a process that no longer exists (a killed job re-run on the same head node). A free
lease on a local disk is taken by an exclusive create (a hard link to the written lease). Object stores have no atomic create
through pyarrow, so two jobs started within the same second could both take it: there the
lease is re-read after a settle delay, and the one that finds another owner there gives way.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from types import TracebackType

from tgram import storage

log = logging.getLogger(__name__)

LEASE_FILE = "_lease.json"
HEARTBEAT_S = 20.0
STALE_S = 120.0
SETTLE_S = 1.0


class LeaseHeld(RuntimeError):
    """Another live job writes this output root."""


@dataclass(frozen=True)
class LeaseOwner:
    owner: str
    """host:pid:token of the job."""
    started: float
    heartbeat: float


class OutputLease:
    """`with OutputLease(out_root):` the block runs as the root's only writer."""

    def __init__(
        self, out_root: str, *, stale_s: float = STALE_S, settle_s: float = SETTLE_S
    ) -> None:
        self.uri = storage.join(out_root, LEASE_FILE)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.stale_s, self.settle_s = stale_s, settle_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = time.time()

    def __enter__(self) -> OutputLease:
        held = self._read()
        if held is not None and held.owner != self.owner:
            age = time.time() - held.heartbeat
            if age < self.stale_s and not _died_here(held.owner):
                raise LeaseHeld(self._refusal(held, age))
            log.warning(
                "%s: taking over the lease of %s (no heartbeat for %.0f s)",
                self.uri,
                held.owner,
                age,
            )
        if held is None and not storage.is_s3(self.uri):
            self._create()
        else:
            self._write()
            time.sleep(self.settle_s)
            held = self._read()
            if held is None or held.owner != self.owner:
                raise LeaseHeld(self._lost_at_start(held))
        self._thread = threading.Thread(target=self._beat, name="tgram-lease", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        held = self._read()
        if held is not None and held.owner == self.owner:
            fs, path = storage.resolve(self.uri)
            fs.delete_file(path)

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                self._write()
            except OSError as exc:  # a missed beat is not fatal; STALE_S allows several
                log.warning("%s: heartbeat failed: %s", self.uri, exc)

    def _write(self) -> None:
        storage.write_bytes(self.uri, self._text())

    def _create(self) -> None:
        """Take a free lease on a local disk: a hard link to a written file is an atomic,
        exclusive create of the whole lease (a rival never reads it half-written), so no
        settle delay (a second of every job's start-up) is needed to find a rival."""
        path = storage.resolve(self.uri)[1]
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=os.path.dirname(path), delete=False) as tmp:
            tmp.write(self._text())
        try:
            os.link(tmp.name, path)
        except FileExistsError:
            raise LeaseHeld(self._lost_at_start(self._read())) from None
        finally:
            os.unlink(tmp.name)

    def _text(self) -> bytes:
        return json.dumps(asdict(LeaseOwner(self.owner, self._started, time.time()))).encode()

    def _read(self) -> LeaseOwner | None:
        try:
            return LeaseOwner(**json.loads(storage.read_bytes(self.uri)))
        except FileNotFoundError:
            return None
        except (ValueError, TypeError, OSError) as exc:
            if not storage.exists(self.uri):
                return None
            log.warning("%s: unreadable lease, taken as stale (%s)", self.uri, exc)
            return LeaseOwner("unknown", 0.0, 0.0)

    def _lost_at_start(self, held: LeaseOwner | None) -> str:
        return self._refusal(held, 0.0) if held else f"{self.uri}: lease lost at start"

    def _refusal(self, held: LeaseOwner, age: float) -> str:
        return (
            f"{self.uri}: another tgram batch job writes this output ({held.owner}, heartbeat "
            f"{age:.0f} s ago); wait for it to finish, or delete the file if that job is dead"
        )


def _died_here(owner: str) -> bool:
    """True when `owner` (host:pid:token) names a process of this host that is gone."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False
