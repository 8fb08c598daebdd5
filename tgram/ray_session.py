"""Joining Ray the same way from every entrypoint (CLI, jobs, demo)."""

from __future__ import annotations

import os

import ray

DASHBOARD_ENV = "TGRAM_RAY_DASHBOARD"
"""Set to 1 to start Ray's dashboard with a private local Ray. Off by default: its head
modules and agents are ten more processes, which took 1-2 s of a 2-core machine before the
first task could run (5.5 s against 6.4-7.4 s), more than the work of a short job."""


def connect(address: str | None) -> None:
    """Join a cluster (`auto`, `ray://...`; RAY_ADDRESS, which `ray job submit` sets), or start
    a private local Ray with this machine's cores (never silently joining a stray local one)."""
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS") or "local"
    if address == "local":
        ray.init(address=address, include_dashboard=os.environ.get(DASHBOARD_ENV) == "1")
    else:
        ray.init(address=address)
