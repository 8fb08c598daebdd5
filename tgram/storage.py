"""One place that turns a local path or an s3:// URI into a pyarrow filesystem and a path.

S3 settings come from the standard AWS environment (AWS_ENDPOINT_URL for MinIO/moto/loopback
endpoints, AWS_DEFAULT_REGION, credentials), so the same code runs against AWS and tests.
"""

from __future__ import annotations

import os
import posixpath
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlparse

import pyarrow.fs as pafs

from tgram.faults import crash_point

T = TypeVar("T")


def is_s3(uri: str) -> bool:
    return str(uri).startswith("s3://")


S3_SETTINGS = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_DEFAULT_REGION", "AWS_REGION")
S3_SECRETS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
FORWARD_CREDENTIALS = "TGRAM_FORWARD_AWS_CREDENTIALS"
"""Set to 1 to copy the driver's AWS keys into remote workers' runtime_env (opt-in)."""


def s3_env() -> dict[str, str]:
    """The S3 settings `s3_filesystem` reads, for the runtime_env of remote Ray workers, which
    may have started before they were set (workers then reach the same object storage).

    Only the endpoint and region by default: workers use the cluster's own credentials (an
    IAM role, IRSA, a mounted secret). A runtime_env is shown by the Ray dashboard and job
    API, so the driver's keys travel only when `TGRAM_FORWARD_AWS_CREDENTIALS=1` says so
    (a laptop's local Ray, a test cluster)."""
    names = S3_SETTINGS + (S3_SECRETS if os.environ.get(FORWARD_CREDENTIALS) == "1" else ())
    return {k: os.environ[k] for k in names if k in os.environ}


def s3_filesystem() -> pafs.S3FileSystem:
    """An S3 filesystem configured from the AWS environment variables."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    kwargs: dict[str, object] = {
        "region": os.environ.get("AWS_DEFAULT_REGION")
        or os.environ.get("AWS_REGION")
        or "us-east-1",
        "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=5),
    }
    if endpoint:
        parsed = urlparse(endpoint)
        kwargs["endpoint_override"] = parsed.netloc or parsed.path
        kwargs["scheme"] = parsed.scheme or "http"
    if os.environ.get("AWS_ACCESS_KEY_ID"):
        kwargs["access_key"] = os.environ["AWS_ACCESS_KEY_ID"]
        kwargs["secret_key"] = os.environ.get("AWS_SECRET_ACCESS_KEY", "")
        if os.environ.get("AWS_SESSION_TOKEN"):
            kwargs["session_token"] = os.environ["AWS_SESSION_TOKEN"]
    return pafs.S3FileSystem(**kwargs)


def resolve(uri: str | Path) -> tuple[pafs.FileSystem, str]:
    """Return (filesystem, path inside it) for a local path or an s3://bucket/key URI."""
    uri = str(uri)
    if is_s3(uri):
        return s3_filesystem(), uri[len("s3://") :].rstrip("/")
    if uri.startswith("file://"):
        uri = uri[len("file://") :]
    return pafs.LocalFileSystem(), os.path.abspath(uri)


def join(uri: str | Path, *parts: str) -> str:
    """Join relative URI parts with '/', for local paths and s3:// alike.

    Parts are relative keys: a leading '/' would silently turn an s3:// URI into a local path.
    """
    uri = str(uri)
    absolute = [p for p in parts if p.startswith("/")]
    if absolute:
        raise ValueError(f"cannot join absolute path {absolute[0]!r} onto {uri!r}")
    if is_s3(uri):
        return posixpath.join(uri.rstrip("/"), *parts)
    return os.path.join(uri, *parts)


def basename(uri: str | Path) -> str:
    return posixpath.basename(str(uri).rstrip("/"))


def exists(uri: str | Path) -> bool:
    fs, path = resolve(uri)
    return fs.get_file_info(path).type != pafs.FileType.NotFound


def is_dir(uri: str | Path) -> bool:
    fs, path = resolve(uri)
    return fs.get_file_info(path).type == pafs.FileType.Directory


def read_bytes(uri: str | Path) -> bytes:
    fs, path = resolve(uri)
    with fs.open_input_stream(path) as f:
        return f.read()


def write_bytes(uri: str | Path, data: bytes) -> None:
    """Write `data` so that readers see either nothing or the whole object at `uri`.

    S3 PUTs are atomic per object; locally we write a hidden temporary sibling and rename it.
    Crash point: `mid-write:<file name>`, half the bytes written.
    """
    fs, path = resolve(uri)
    if isinstance(fs, pafs.LocalFileSystem):
        folder, name = os.path.split(path)
        Path(folder).mkdir(parents=True, exist_ok=True)
        # hidden ('.'): Hive readers (pyarrow, pandas, Spark) skip it, and no '*.parquet' glob
        # matches it, so a write killed here leaves nothing any reader picks up
        tmp = os.path.join(folder, f".{name}.tmp-{uuid.uuid4().hex}")
        with open(tmp, "wb") as f:
            f.write(data[: len(data) // 2])
            crash_point(f"mid-write:{name}")
            f.write(data[len(data) // 2 :])
        os.replace(tmp, path)
        return
    with fs.open_output_stream(path) as f:  # one PUT (or a multipart upload): atomic
        f.write(data[: len(data) // 2])
        crash_point(f"mid-write:{posixpath.basename(path)}")
        f.write(data[len(data) // 2 :])


def make_dirs(uri: str | Path) -> None:
    fs, path = resolve(uri)
    fs.create_dir(path, recursive=True)


PERMANENT_ERRORS = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)


def retry(
    fn: Callable[[], T], *, attempts: int = 4, base_delay_s: float = 0.5, what: str = ""
) -> T:
    """Call `fn`, retrying transient OSError (network/S3 faults) with exponential backoff.

    Permanent errors (missing file, no permission) are raised at once, unchanged.
    """
    if attempts < 1:
        raise ValueError(f"retry attempts must be >= 1, got {attempts}")
    for attempt in range(attempts):
        try:
            return fn()
        except PERMANENT_ERRORS:
            raise
        except OSError as exc:
            if attempt == attempts - 1:
                raise OSError(
                    f"{what or 'storage operation'} failed after {attempts} attempts: {exc}"
                ) from exc
            time.sleep(base_delay_s * 2**attempt)
    raise AssertionError("unreachable")
