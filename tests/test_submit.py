"""`tgram submit` against a real `ray start --head` with its dashboard job server."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from ray.job_submission import JobStatus, JobSubmissionClient
from ray.runtime_env import RuntimeEnv

from tests.conftest import _free_port
from tgram import storage
from tgram.submit import WORKING_DIR_EXCLUDES, build_runtime_env, entrypoint_argv, submit_entrypoint

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow

HEAD_START_TIMEOUT_S = 90
PORT_FLAGS = (
    "--port",
    "--dashboard-port",
    "--ray-client-server-port",
    "--dashboard-agent-listen-port",
    "--dashboard-agent-grpc-port",
    "--metrics-export-port",
    "--runtime-env-agent-port",
    "--node-manager-port",
    "--object-manager-port",
)


@pytest.fixture(scope="module")
def ray_head() -> Iterator[str]:
    """A Ray head of our own (own ports and temp dir, so other Ray instances here are untouched).

    Yields the job server address; teardown ends exactly the processes this head started.
    """
    temp_dir = tempfile.mkdtemp(prefix="tgram-ray-")  # short: Ray's unix socket paths are limited
    ports = {flag: _free_port() for flag in PORT_FLAGS}
    venv_bin = Path(sys.executable).parent
    argv = [str(venv_bin / "ray"), "start", "--head", "--block", "--num-cpus", "2"]
    argv += ["--include-dashboard", "true", "--dashboard-host", "127.0.0.1"]
    argv += ["--node-ip-address", "127.0.0.1", "--temp-dir", temp_dir, "--disable-usage-stats"]
    argv += [str(item) for flag_port in ports.items() for item in flag_port]
    log_path = Path(temp_dir) / "ray_start.log"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RAY_AUTH_MODE", "disabled")  # for the head and for this process's client
        # Job drivers run `python` from PATH: make it this interpreter.
        env.setenv("PATH", f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}")
        with log_path.open("w") as log:
            head = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        address = f"http://127.0.0.1:{ports['--dashboard-port']}"
        try:
            _wait_for_job_server(address, head, log_path)
            yield address
        finally:
            _stop_head(head)
            shutil.rmtree(temp_dir, ignore_errors=True)


def _wait_for_job_server(address: str, head: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + HEAD_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if head.poll() is not None:
            pytest.fail(f"ray start exited with {head.returncode}: {log_path.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{address}/api/version", timeout=2):
                return
        except OSError:
            time.sleep(1)
    pytest.fail(
        f"Ray job server at {address} not up after {HEAD_START_TIMEOUT_S} s: {log_path.read_text()[-2000:]}"
    )


def _stop_head(head: subprocess.Popen) -> None:
    """SIGTERM `ray start --block` (it shuts its node down), then kill any descendant left."""
    try:
        started = psutil.Process(head.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        started = []
    head.send_signal(signal.SIGTERM)
    try:
        head.wait(timeout=30)
    except subprocess.TimeoutExpired:
        head.kill()
        head.wait()
    _, alive = psutil.wait_procs(started, timeout=10)
    for proc in alive:
        proc.kill()
    psutil.wait_procs(alive, timeout=10)


def _job_by_entrypoint(address: str, fragment: str) -> JobStatus:
    jobs = [job for job in JobSubmissionClient(address).list_jobs() if fragment in job.entrypoint]
    assert len(jobs) == 1, [job.entrypoint for job in jobs]
    return jobs[0].status


def test_successful_job_ships_the_repo_and_env(
    ray_head: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://s3.example:9000")
    hostile_arg = "a b; echo INJECTED $(whoami) 'q'"
    probe = (
        "import os, sys, tgram; from pathlib import Path; "
        "print('argv=' + repr(sys.argv[1:])); "
        "print('tgram_from_upload=' + str(Path(tgram.__file__).parent.parent == Path.cwd())); "
        "print('weights=' + str(Path('weights/tgram_synth.pt').is_file())); "
        "print('venv=' + str(Path('.venv').exists()) + ' runs=' + str(Path('runs').exists())); "
        "print('aws=' + os.environ.get('AWS_ENDPOINT_URL', '')); "
        "print('probe=' + os.environ['TGRAM_PROBE'])"
    )
    chunks: list[str] = []
    code = submit_entrypoint(
        ["python", "-c", probe, hostile_arg],
        address=ray_head,
        env={"TGRAM_PROBE": "x=1 'quoted' value"},
        on_log=chunks.append,
        timeout_s=90,
    )
    logs = "".join(chunks)
    assert code == 0, logs
    assert f"argv={[hostile_arg]!r}" in logs
    assert "tgram_from_upload=True" in logs
    assert "weights=True" in logs
    assert "venv=False runs=False" in logs
    assert "aws=http://s3.example:9000" in logs
    assert "probe=x=1 'quoted' value" in logs
    assert _job_by_entrypoint(ray_head, "TGRAM_PROBE") == JobStatus.SUCCEEDED


def test_failing_job_returns_nonzero_with_its_logs(
    ray_head: str, caplog: pytest.LogCaptureFixture
) -> None:
    chunks: list[str] = []
    code = submit_entrypoint(
        ["python", "-c", "import sys; print('about to fail: tgram-probe-2'); sys.exit(3)"],
        address=ray_head,
        working_dir=None,
        on_log=chunks.append,
        timeout_s=90,
    )
    assert code == 1
    assert "about to fail: tgram-probe-2" in "".join(chunks)
    assert _job_by_entrypoint(ray_head, "tgram-probe-2") == JobStatus.FAILED
    (message,) = [
        r.getMessage()
        for r in caplog.records
        if r.name == "tgram.submit" and r.levelname == "ERROR"
    ]
    assert "FAILED: exit code 3 (all logs: ray job logs raysubmit_" in message
    assert "\n" not in message


def test_job_past_its_timeout_is_stopped(ray_head: str, caplog: pytest.LogCaptureFixture) -> None:
    started = time.monotonic()
    code = submit_entrypoint(
        ["python", "-c", "import time; print('tgram-probe-3', flush=True); time.sleep(600)"],
        address=ray_head,
        working_dir=None,
        timeout_s=3,
    )
    assert code == 1
    assert time.monotonic() - started < 60
    assert _job_by_entrypoint(ray_head, "tgram-probe-3") == JobStatus.STOPPED
    assert any("still running after 3 s: stopped" in r.getMessage() for r in caplog.records)


def test_no_follow_returns_at_submission(ray_head: str) -> None:
    code = submit_entrypoint(
        ["python", "-c", "print('tgram-probe-4')"], address=ray_head, working_dir=None, follow=False
    )
    assert code == 0
    client = JobSubmissionClient(ray_head)
    (job,) = [job for job in client.list_jobs() if "tgram-probe-4" in job.entrypoint]
    deadline = time.monotonic() + 60
    while (
        not client.get_job_status(job.submission_id).is_terminal() and time.monotonic() < deadline
    ):
        time.sleep(0.5)
    assert client.get_job_status(job.submission_id) == JobStatus.SUCCEEDED
    assert client.get_job_logs(job.submission_id).splitlines()[-1] == "tgram-probe-4"


@pytest.mark.parametrize(("kind", "module"), [("train", "jobs.train"), ("batch", "jobs.track")])
def test_entrypoint_runs_the_job_module(kind: str, module: str) -> None:
    assert entrypoint_argv(kind, ["cfg.yaml", "--workers", "2"]) == [
        "python",
        "-m",
        module,
        "cfg.yaml",
        "--workers",
        "2",
    ]


def test_unknown_kind_is_rejected() -> None:
    with pytest.raises(ValueError, match="job kind must be one of train, batch, got 'eval'"):
        entrypoint_argv("eval", [])  # type: ignore[arg-type]


def test_runtime_env_with_working_dir_is_valid_for_ray(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://minio:9000")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.delenv(storage.FORWARD_CREDENTIALS, raising=False)
    runtime_env = build_runtime_env(working_dir=ROOT, image=None, env=None)
    assert runtime_env == {  # the cluster's own credentials: the driver's keys stay here
        "env_vars": {"AWS_ENDPOINT_URL": "http://minio:9000"},
        "working_dir": str(ROOT),
        "excludes": list(WORKING_DIR_EXCLUDES),
    }
    assert "weights" not in WORKING_DIR_EXCLUDES
    RuntimeEnv(**runtime_env)
    monkeypatch.setenv(storage.FORWARD_CREDENTIALS, "1")  # explicit opt-in
    forwarded = build_runtime_env(
        working_dir=ROOT, image=None, env={"AWS_ACCESS_KEY_ID": "override"}
    )["env_vars"]
    assert forwarded == {
        "AWS_ENDPOINT_URL": "http://minio:9000",
        "AWS_ACCESS_KEY_ID": "override",
        "AWS_SECRET_ACCESS_KEY": "secret",
        storage.FORWARD_CREDENTIALS: "1",
    }


def test_runtime_env_with_image_is_valid_for_ray(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        storage.FORWARD_CREDENTIALS,
    ):
        monkeypatch.delenv(name, raising=False)
    runtime_env = build_runtime_env(working_dir=None, image="registry.example/tgram:1", env=None)
    assert runtime_env == {"image_uri": "registry.example/tgram:1"}
    RuntimeEnv(**runtime_env)


def test_image_and_working_dir_together_are_rejected() -> None:
    with pytest.raises(ValueError, match="pass working_dir=None with image"):
        build_runtime_env(working_dir=ROOT, image="registry.example/tgram:1", env=None)


def test_missing_working_dir_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="is not a directory"):
        build_runtime_env(working_dir=tmp_path / "nope", image=None, env=None)
