"""Joining Ray the same way from every entrypoint (CLI, jobs, demo)."""

from __future__ import annotations

import os

import ray


def connect(address: str | None) -> None:
    """Join a cluster (`auto`, `ray://...`; RAY_ADDRESS, which `ray job submit` sets), or start
    a private local Ray with this machine's cores (never silently joining a stray local one)."""
    if ray.is_initialized():
        return
    ray.init(address=address or os.environ.get("RAY_ADDRESS") or "local")
