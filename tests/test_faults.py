"""Transient storage faults between the google-cloud-storage client and the emulator: a small
HTTP proxy on 127.0.0.1 answers 503 or 429, drops connections (before or after the emulator
acted), cuts bodies short, or stalls, on a fraction of requests. Refresh and build must retry
and converge to the bytes of a fault-free build, losing nothing.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any
from unittest import mock

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud.storage.retry import DEFAULT_RETRY

from pypapo.build import build
from pypapo.refresh import refresh
from pypapo.sample import SampleProject, sdist_bytes, wheel_bytes
from pypapo.storage import FILE_CACHE_CONTROL, StorageError
from pypapo.storage.emulator import EmulatorGCSStorage
from pypapo.storage.gcs import GCSStorage, new_client
from tests.support.fault_proxy import FAULTS, FaultProxy
from tests.support.gcs_emulator import Emulator
from tests.support.index import snapshot, wipe_index
from tests.support.page_checks import all_page_problems, index_pages

pytestmark = [
    pytest.mark.e2e,
    # the HTTP stack below the client lets go of reset sockets without closing them
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


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
