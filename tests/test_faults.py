"""Transient storage faults between the google-cloud-storage client and the emulator: a small
HTTP proxy on 127.0.0.1 answers 503 or 429, drops connections (before or after the emulator
acted), cuts bodies short, or stalls, on a fraction of requests. Refresh and build must retry
and converge to the bytes of a fault-free build, losing nothing.
"""

from __future__ import annotations

import http.client
import os
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud.storage.retry import DEFAULT_RETRY

from pypapo.build import build
from pypapo.refresh import refresh
from pypapo.sample import SampleProject, sdist_bytes, wheel_bytes
from pypapo.storage import FILE_CACHE_CONTROL, StorageError
from pypapo.storage.emulator import EmulatorGCSStorage
from pypapo.storage.gcs import GCSStorage, new_client
from tests.support.gcs_emulator import Emulator
from tests.support.index import snapshot, wipe_index
from tests.support.page_checks import all_page_problems, index_pages

pytestmark = [
    pytest.mark.e2e,
    # the HTTP stack below the client lets go of reset sockets without closing them
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

FAULTS = ("503", "429", "drop-before", "drop-after", "truncate", "slow")
_HOP = {"connection", "keep-alive", "transfer-encoding", "host", "content-length"}


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        return None  # resets are what this proxy is for


class FaultProxy:
    """Forwards every request to ``upstream``; ``rate`` of them meet one of ``FAULTS``."""

    def __init__(self, upstream: str, rate: float, seed: int = 1) -> None:
        self.upstream = urlsplit(upstream)
        self.rate = rate
        self.enabled = True
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.injected: Counter[str] = Counter()
        self.requests = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return None

            def _any(self) -> None:
                proxy.handle(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _any  # noqa: N815

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self) -> FaultProxy:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    def _pick(self) -> str | None:
        with self.lock:
            self.requests += 1
            if not self.enabled or self.rng.random() >= self.rate:
                return None
            fault = self.rng.choice(FAULTS)
            self.injected[fault] += 1
            return fault

    def _forward(
        self, h: BaseHTTPRequestHandler, body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection(self.upstream.netloc, timeout=30)
        try:
            headers = {k: v for k, v in h.headers.items() if k.lower() not in _HOP}
            conn.request(h.command, h.path, body=body or None, headers=headers)
            response = conn.getresponse()
            data = response.read()
            kept = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP]
            return response.status, kept, data
        finally:
            conn.close()

    @staticmethod
    def _drop(h: BaseHTTPRequestHandler) -> None:
        h.close_connection = True
        # RST instead of FIN: the client sees a reset connection, as from a dying front end
        h.connection.setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
        )

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        fault = self._pick()
        if fault in {"503", "429"}:
            payload = b'{"error": {"code": %s, "message": "injected"}}' % fault.encode()
            h.send_response(int(fault or 0))
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(payload)))
            h.end_headers()
            h.wfile.write(payload)
            return
        if fault == "drop-before":
            self._drop(h)
            return
        if fault == "slow":
            time.sleep(0.3)
        status, headers, data = self._forward(h, body)
        if fault == "drop-after":  # the emulator acted; the client never hears about it
            self._drop(h)
            return
        h.send_response(status)
        for key, value in headers:
            h.send_header(key, value)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if h.command == "HEAD":
            return
        if fault == "truncate" and len(data) > 1:
            h.wfile.write(data[: len(data) // 2])
            h.wfile.flush()
            self._drop(h)
            return
        h.wfile.write(data)


@pytest.fixture
def proxy(gcs_emulator: Emulator) -> Iterator[FaultProxy]:
    running = FaultProxy(gcs_emulator.url, rate=0.25).start()
    yield running
    running.stop()


def _faulty_storage(proxy: FaultProxy, bucket_name: str, budget: float = 60) -> GCSStorage:
    with mock.patch.dict(os.environ, {"STORAGE_EMULATOR_HOST": proxy.url}):
        client = new_client(project="test", credentials=AnonymousCredentials())  # type: ignore[no-untyped-call]
    # quick back-off so the test stays short; ``budget`` seconds of retries per call
    retry = DEFAULT_RETRY.with_delay(initial=0.02, maximum=0.2, multiplier=2).with_timeout(budget)
    return EmulatorGCSStorage(client.bucket(bucket_name), "idx", retry=retry)


def _files() -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for name, version in [
        ("alpha", "1.0"),
        ("alpha", "1.1"),
        ("Beta.Two", "2.0"),
        ("gamma", "0.1"),
    ]:
        project = SampleProject(name, version, requires_python=">=3.8")
        files[f"pkgs/{project.stem}-py3-none-any.whl"] = wheel_bytes(project)
    project = SampleProject("alpha", "1.1")
    files[f"pkgs/{project.stem}.tar.gz"] = sdist_bytes(project)
    return files


def _redeliver(call: Callable[[], Any], redeliveries: Counter[str]) -> Any:
    """What Eventarc does for a failed invocation: deliver again (bounded here)."""
    for _ in range(40):
        try:
            return call()
        except StorageError:
            redeliveries["storage error"] += 1
    raise AssertionError("still failing after 40 deliveries")


def test_refresh_and_build_converge_under_faults(gcs_bucket: Any, proxy: FaultProxy) -> None:
    clean = EmulatorGCSStorage(gcs_bucket, "idx")
    files = _files()
    for path, data in files.items():
        blob = gcs_bucket.blob(f"idx/{path}")
        blob.cache_control = FILE_CACHE_CONTROL
        blob.upload_from_string(data, content_type="application/octet-stream")
    faulty = _faulty_storage(proxy, gcs_bucket.name)
    # a retry budget so short that faults escape it: events fail half way and are redelivered
    impatient = _faulty_storage(proxy, gcs_bucket.name, budget=0.03)
    redeliveries: Counter[str] = Counter()

    # every event delivered twice, as at-least-once delivery may
    for number, path in enumerate([*files, *files]):
        deliver = partial(refresh, impatient, [path], event_id=f"event-{number}")
        report = _redeliver(deliver, redeliveries)
        assert report.errors == []
    assert redeliveries["storage error"] > 0  # refreshes really died and were redelivered
    incremental = snapshot(clean)

    wipe_index(clean)
    report = _redeliver(lambda: build(faulty, workers=2), redeliveries)
    assert report.errors == []
    built_under_faults = snapshot(clean)

    proxy.enabled = False
    wipe_index(clean)
    assert build(clean).errors == []
    expected = snapshot(clean)

    assert incremental == expected
    assert built_under_faults == expected
    pages = index_pages(clean)
    assert all_page_problems(pages) == []
    assert {p.split("/")[1] for p in pages if p.count("/") == 2} == {"alpha", "beta-two", "gamma"}
    for fault in FAULTS:  # every kind of fault really happened
        assert proxy.injected[fault] > 0, proxy.injected
    print(
        f"\n{proxy.requests} requests, faults {dict(proxy.injected)}, redeliveries "
        f"{dict(redeliveries)}"
    )


def test_proxy_faults_are_visible_without_retries(gcs_bucket: Any, proxy: FaultProxy) -> None:
    """The proxy really breaks requests: with retries off, some calls fail."""
    with mock.patch.dict(os.environ, {"STORAGE_EMULATOR_HOST": proxy.url}):
        client = new_client(project="test", credentials=AnonymousCredentials())  # type: ignore[no-untyped-call]
    bare = EmulatorGCSStorage(client.bucket(gcs_bucket.name), "idx", retry=None)
    bare.retry = None
    failures = 0
    for i in range(40):
        try:
            bare.put(f"probe/{i}", b"x", content_type="text/plain")
        except StorageError:
            failures += 1
    assert failures > 0
