"""Submit the training or batch-tracking job to a running Ray cluster and follow it.

`tgram submit` is `ray job submit` with this project's defaults: the entrypoint is built from an
argv list (user arguments are quoted, never spliced into a shell line), the repository is shipped
as the job's working_dir without local-only folders, and S3 credentials set on the submitting
machine reach the job. Exit status mirrors the job's: 0 when it SUCCEEDED, 1 otherwise.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shlex
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from tgram import storage
from tgram.resources import CHECKOUT

if TYPE_CHECKING:
    from ray.job_submission import JobSubmissionClient

logger = logging.getLogger(__name__)

JobKind = Literal["train", "batch"]

JOB_MODULES: dict[str, str] = {"train": "jobs.train", "batch": "jobs.track"}
"""`python -m <module>` run on the cluster for each job kind."""

WORKING_DIR_EXCLUDES: tuple[str, ...] = (
    ".git",
    ".venv",
    "data",
    "runs",
    "demo_out",
    "out",
    "tests",
    "__pycache__",
    "*.egg-info",
    ".pytest_cache",
    ".ruff_cache",
)
"""Local-only folders left out of the upload. weights/ is shipped: the batch job's default
weights live there. Ray also skips what .gitignore lists; cluster/runtime_env.yaml mirrors this."""


POLL_INTERVAL_S = 1.0
"""Seconds between status polls while waiting without log streaming; lower reacts faster."""

SUCCEEDED_EXIT, FAILED_EXIT = 0, 1


def entrypoint_argv(kind: JobKind, args: Sequence[str]) -> list[str]:
    """`python -m jobs.train|jobs.track ARGS...` for `kind`."""
    if kind not in JOB_MODULES:
        raise ValueError(f"submit: job kind must be one of {', '.join(JOB_MODULES)}, got {kind!r}")
    return ["python", "-m", JOB_MODULES[kind], *args]


def build_runtime_env(
    *,
    working_dir: str | Path | None,
    image: str | None,
    env: Mapping[str, str] | None,
) -> dict[str, Any]:
    """Ray runtime_env: the code (working_dir upload, or an image with it baked in) plus env vars."""
    if image is not None and working_dir is not None:
        raise ValueError(
            "submit: an image runs the code baked into it and Ray cannot combine image_uri with "
            "working_dir; pass working_dir=None with image"
        )
    # endpoint and region so the job reads and writes the same S3; the keys only on opt-in
    # (storage.FORWARD_CREDENTIALS, which the job then passes on to its own workers): they
    # are stored with the job's runtime_env, visible in the dashboard
    env_vars = storage.s3_env()
    if os.environ.get(storage.FORWARD_CREDENTIALS) == "1":
        env_vars[storage.FORWARD_CREDENTIALS] = "1"
    env_vars.update(env or {})
    runtime_env: dict[str, Any] = {"env_vars": env_vars} if env_vars else {}
    if image is not None:
        runtime_env["image_uri"] = image
    elif working_dir is not None:
        if not Path(working_dir).is_dir():
            raise FileNotFoundError(f"submit: working_dir {working_dir} is not a directory")
        runtime_env["working_dir"] = str(working_dir)
        runtime_env["excludes"] = list(WORKING_DIR_EXCLUDES)
    return runtime_env


def submit_entrypoint(
    entrypoint: Sequence[str],
    *,
    address: str,
    working_dir: str | Path | None = CHECKOUT,
    image: str | None = None,
    env: Mapping[str, str] | None = None,
    follow: bool = True,
    timeout_s: float | None = None,
    on_log: Callable[[str], object] | None = None,
) -> int:
    """Submit `entrypoint` (an argv list) to the Ray job server at `address` (http://head:8265).

    With `follow`, waits for the job, streaming its log chunks to `on_log` when given (the CLI
    passes sys.stdout.write); a job still running after `timeout_s` is stopped. Returns 0 when
    the job SUCCEEDED (or was only submitted, without `follow`), 1 when it FAILED or was STOPPED.
    """
    from ray.job_submission import JobStatus, JobSubmissionClient

    if not entrypoint:
        raise ValueError(
            "submit: entrypoint is empty; expected an argv list such as ['python', '-m', 'jobs.track', ...]"
        )
    if timeout_s is not None and timeout_s <= 0:
        raise ValueError(f"submit: timeout_s must be > 0 seconds, got {timeout_s}")
    runtime_env = build_runtime_env(working_dir=working_dir, image=image, env=env)
    client = JobSubmissionClient(address)
    job_id = client.submit_job(entrypoint=shlex.join(entrypoint), runtime_env=runtime_env)
    logger.info("submitted %s to %s: %s", job_id, address, shlex.join(entrypoint))
    if not follow:
        return SUCCEEDED_EXIT
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    finished = _wait(client, job_id, deadline, on_log)
    if not finished:
        client.stop_job(job_id)
        _wait(client, job_id, None, None)
        logger.error("job %s still running after %.0f s: stopped", job_id, timeout_s)
        return FAILED_EXIT
    info = client.get_job_info(job_id)
    if info.status == JobStatus.SUCCEEDED:
        logger.info("job %s SUCCEEDED", job_id)
        return SUCCEEDED_EXIT
    if info.driver_exit_code is not None:
        reason = f"exit code {info.driver_exit_code}"
    else:  # stopped, or the driver never started: Ray's message says why
        reason = next(iter((info.message or "no reason given").strip().splitlines()), "")
    logger.error(
        "job %s %s: %s (all logs: ray job logs %s --address %s)",
        job_id, info.status.value, reason, job_id, address,
    )  # fmt: skip
    return FAILED_EXIT


def _wait(
    client: JobSubmissionClient,
    job_id: str,
    deadline: float | None,
    on_log: Callable[[str], object] | None,
) -> bool:
    """Block until the job is terminal (True) or `deadline` passes (False)."""
    if on_log is not None:
        timeout = None if deadline is None else max(deadline - time.monotonic(), 0.0)
        try:
            asyncio.run(asyncio.wait_for(_stream_logs(client, job_id, on_log), timeout))
        except asyncio.TimeoutError:
            return False
    # The log stream closes when the driver exits; the status can trail it by a moment.
    while not client.get_job_status(job_id).is_terminal():
        if deadline is not None and time.monotonic() >= deadline:
            return False
        time.sleep(POLL_INTERVAL_S)
    return True


async def _stream_logs(
    client: JobSubmissionClient, job_id: str, on_log: Callable[[str], object]
) -> None:
    async for chunk in client.tail_job_logs(job_id):
        on_log(chunk)
