"""tgram.storage against the local disk and a real S3 protocol endpoint (moto server)."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow.fs as pafs
import pytest

from tgram import storage


@pytest.fixture(params=["local", "s3"])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A writable root URI: a temporary folder, or a fresh bucket on the loopback S3 endpoint."""
    if request.param == "s3":
        return request.getfixturevalue("s3_bucket")
    return str(tmp_path)


def test_resolve_local_path_is_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for uri in ("runs/a.txt", f"file://{tmp_path}/runs/a.txt", tmp_path / "runs" / "a.txt"):
        fs, path = storage.resolve(uri)
        assert isinstance(fs, pafs.LocalFileSystem)
        assert path == str(tmp_path / "runs" / "a.txt")


@pytest.mark.usefixtures("s3_endpoint")
@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://bucket/a/b.mp4", "bucket/a/b.mp4"),
        ("s3://bucket/prefix/", "bucket/prefix"),
        ("s3://bucket", "bucket"),
    ],
)
def test_resolve_s3_uri_to_bucket_path(uri: str, expected: str) -> None:
    fs, path = storage.resolve(uri)
    assert isinstance(fs, pafs.S3FileSystem)
    assert path == expected


@pytest.mark.parametrize(
    ("uri", "parts", "expected"),
    [
        (
            "s3://bucket/out/",
            ("video_id=a", "part-0.parquet"),
            "s3://bucket/out/video_id=a/part-0.parquet",
        ),
        ("s3://bucket", ("k.txt",), "s3://bucket/k.txt"),
        ("/data/out", ("a", "b.txt"), "/data/out/a/b.txt"),
        (Path("/data/out"), ("c.txt",), "/data/out/c.txt"),
    ],
)
def test_join(uri: str | Path, parts: tuple[str, ...], expected: str) -> None:
    assert storage.join(uri, *parts) == expected


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://bucket/a/clip.mp4", "clip.mp4"),
        ("s3://bucket/seq1/", "seq1"),
        ("/data/x/seq2", "seq2"),
    ],
)
def test_basename(uri: str, expected: str) -> None:
    assert storage.basename(uri) == expected


def test_write_read_exists_round_trip(root: str) -> None:
    uri = storage.join(root, "runs", "r1", "metrics.json")
    assert not storage.exists(uri)
    storage.write_bytes(uri, b'{"mota": 0.5}')
    assert storage.exists(uri)
    assert storage.read_bytes(uri) == b'{"mota": 0.5}'
    assert storage.is_dir(storage.join(root, "runs", "r1"))
    assert not storage.is_dir(uri)
    storage.write_bytes(uri, b"")
    assert storage.read_bytes(uri) == b""


def test_write_bytes_replaces_whole_object(root: str) -> None:
    uri = storage.join(root, "state.txt")
    storage.write_bytes(uri, b"x" * 1000)
    storage.write_bytes(uri, b"short")
    assert storage.read_bytes(uri) == b"short"


def test_local_write_leaves_no_temporary_files(tmp_path: Path) -> None:
    storage.write_bytes(str(tmp_path / "out" / "a.bin"), b"data")
    assert os.listdir(tmp_path / "out") == ["a.bin"]


def test_read_missing_raises_file_not_found(root: str) -> None:
    with pytest.raises(FileNotFoundError):
        storage.read_bytes(storage.join(root, "missing.bin"))


def test_make_dirs(root: str) -> None:
    uri = storage.join(root, "a", "b")
    storage.make_dirs(uri)
    assert storage.is_dir(uri)


def test_retry_recovers_from_transient_errors() -> None:
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionResetError("reset by peer")
        return "ok"

    assert storage.retry(flaky, attempts=3, base_delay_s=0) == "ok"
    assert len(calls) == 3


def test_retry_gives_up_with_a_message_naming_the_operation() -> None:
    calls: list[int] = []

    def down() -> None:
        calls.append(1)
        raise TimeoutError("connect timed out")

    with pytest.raises(OSError, match=r"upload x failed after 2 attempts: connect timed out"):
        storage.retry(down, attempts=2, base_delay_s=0, what="upload x")
    assert len(calls) == 2


def test_retry_does_not_retry_other_errors() -> None:
    calls: list[int] = []

    def broken() -> None:
        calls.append(1)
        raise KeyError("bug")

    with pytest.raises(KeyError):
        storage.retry(broken, base_delay_s=0)
    assert len(calls) == 1


@pytest.mark.parametrize("root", ["s3://bucket/out", "/tmp/out"])
def test_join_rejects_absolute_parts(root: str) -> None:
    with pytest.raises(ValueError, match="cannot join absolute path '/key'"):
        storage.join(root, "/key")


def test_retry_raises_permanent_errors_at_once() -> None:
    calls = []

    def missing() -> None:
        calls.append(1)
        raise FileNotFoundError("gone")

    with pytest.raises(FileNotFoundError, match="gone"):
        storage.retry(missing, attempts=4, base_delay_s=10)
    assert len(calls) == 1


def test_worker_env_carries_keys_only_on_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ENDPOINT_URL": "http://minio:9000",
        "AWS_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "AKIA-driver",
        "AWS_SECRET_ACCESS_KEY": "driver-secret",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv(storage.FORWARD_CREDENTIALS, raising=False)
    assert storage.s3_env() == {"AWS_ENDPOINT_URL": "http://minio:9000", "AWS_REGION": "eu-west-1"}
    monkeypatch.setenv(storage.FORWARD_CREDENTIALS, "1")
    assert storage.s3_env()["AWS_SECRET_ACCESS_KEY"] == "driver-secret"
