from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tgram import storage
from tgram.pipeline.batch import BatchConfig, run_batch
from tgram.pipeline.lease import LEASE_FILE, LeaseHeld, OutputLease


@pytest.fixture(params=["local", "s3"])
def out_root(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "local":
        return str(tmp_path / "out")
    return request.getfixturevalue("s3_bucket") + "/out"


def _lease_of(owner: str, age_s: float) -> bytes:
    now = time.time() - age_s
    return json.dumps({"owner": owner, "started": now, "heartbeat": now}).encode()


def test_a_second_writer_is_refused_naming_the_owner(out_root: str) -> None:
    with (
        OutputLease(out_root, settle_s=0.0) as first,
        pytest.raises(
            LeaseHeld, match=f"another tgram batch job writes this output \\({first.owner}"
        ),
    ):
        OutputLease(out_root, settle_s=0.0).__enter__()
    assert not storage.exists(storage.join(out_root, LEASE_FILE))  # released at the end
    with OutputLease(out_root, settle_s=0.0):  # and free again
        pass


def test_two_local_jobs_taking_a_free_lease_at_once_cannot_both_win(tmp_path: Path) -> None:
    """On a local disk the free lease is taken by an exclusive create, without the object
    stores' settle delay: the job whose create comes second is refused, naming the first."""
    root = str(tmp_path / "out")
    first, second = OutputLease(root, settle_s=60.0), OutputLease(root, settle_s=60.0)
    assert second._read() is None  # both found the lease free
    started = time.monotonic()
    with first:
        assert time.monotonic() - started < 30  # no settle delay on a local disk
        with pytest.raises(LeaseHeld, match=f"writes this output \\({first.owner}"):
            second._create()
        assert [p.name for p in (tmp_path / "out").iterdir()] == [LEASE_FILE]  # nothing left over


def test_a_dead_jobs_lease_is_taken_over(out_root: str) -> None:
    storage.write_bytes(storage.join(out_root, LEASE_FILE), _lease_of("host:1:dead", 3600))
    with OutputLease(out_root, settle_s=0.0) as lease:
        held = json.loads(storage.read_bytes(storage.join(out_root, LEASE_FILE)))
        assert held["owner"] == lease.owner


def test_a_lease_of_a_process_gone_from_this_host_is_taken_over(tmp_path: Path) -> None:
    """A job killed on this host and re-run at once need not wait for its lease to go stale."""
    import socket
    import subprocess
    import sys

    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    owner = f"{socket.gethostname()}:{gone.stdout.strip()}:0000"
    storage.write_bytes(str(tmp_path / LEASE_FILE), _lease_of(owner, 1))
    with OutputLease(str(tmp_path), settle_s=0.0):
        pass


def test_batch_job_refuses_an_output_another_job_holds(tmp_path: Path) -> None:
    """Refused before anything is listed, planned or written (no Ray needed to get there)."""
    out = tmp_path / "out"
    storage.write_bytes(str(out / LEASE_FILE), _lease_of("node7:4242:abcd1234", 5))
    with pytest.raises(LeaseHeld, match="node7:4242:abcd1234, heartbeat 5 s ago"):
        run_batch(str(tmp_path / "missing-input"), str(out), BatchConfig())
    assert sorted(p.name for p in out.iterdir()) == [LEASE_FILE]
