"""Shared fixtures: a real S3 endpoint on loopback (moto server) and a real local Ray."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on 127.0.0.1; AWS_* variables point every client at it."""
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        # the local Ray's workers may predate these variables: the tests opt in to sending
        # the (fake) keys with each job, as a laptop user of a local Ray would
        "TGRAM_FORWARD_AWS_CREDENTIALS": "1",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield endpoint
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> str:
    """A fresh, empty bucket on the loopback endpoint; returns its s3:// URI."""
    import boto3

    name = f"tgram-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=name)
    return f"s3://{name}"


@pytest.fixture(scope="session")
def ray_local() -> Iterator[None]:
    """A real local Ray instance with a few CPUs, shared by the tests that need one."""
    import ray

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        configure_logging=False,
        log_to_driver=False,
    )
    try:
        yield
    finally:
        _shutdown_ray()


def _shutdown_ray(timeout_s: float = 60.0) -> None:
    """ray.shutdown() can hang closing its GCS log subscriber after worker processes were
    killed (ray-project/ray#44836, #45044): give it a minute, then kill this session's
    processes so the suite still ends."""
    import atexit
    import threading
    import warnings

    import ray

    node = ray._private.worker._global_node
    closer = threading.Thread(target=ray.shutdown, daemon=True)
    closer.start()
    closer.join(timeout_s)
    if closer.is_alive() and node is not None:
        warnings.warn("ray.shutdown() hung; killing the test session's Ray processes", stacklevel=1)
        atexit.unregister(ray.shutdown)
        node.kill_all_processes(check_alive=False, allow_graceful=False)
