"""Refresh and build on a real GCS emulator: the same invariant, the same costs."""

from __future__ import annotations

import json
import os
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pypapo.build import build
from pypapo.events import from_cloudevent, object_hint
from pypapo.layout import page_path
from pypapo.refresh import refresh
from pypapo.sample import SampleProject, wheel_bytes
from pypapo.storage import FILE_CACHE_CONTROL, YANK_KEY, Storage
from pypapo.storage.counting import CountingStorage
from pypapo.storage.emulator import EmulatorGCSStorage
from tests.support.gcs_emulator import Emulator
from tests.support.invariant import Op, check_invariant, operations

pytestmark = [
    # clients made per example leave their pooled sockets to the garbage collector, which may
    # close one during a later test: a warning about the client's pool, not about pypapo
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]
EXAMPLES = int(os.environ.get("PYPAPO_GCS_INVARIANT_EXAMPLES", "120"))


def _uploader(storage: Storage) -> Callable[[str, bytes], None]:
    def put(path: str, data: bytes) -> None:  # what `gsutil cp` does
        storage.put(
            path, data, content_type="application/octet-stream", cache_control=FILE_CACHE_CONTROL
        )

    return put


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
)
@given(
    ops=st.lists(operations, min_size=1, max_size=10),
    seed=st.integers(0, 2**32 - 1),
    threads=st.integers(1, 4),
)
def test_refresh_converges_to_full_build_on_gcs(
    gcs_emulator: Emulator, ops: list[Op], seed: int, threads: int
) -> None:
    client = gcs_emulator.client()
    bucket = client.create_bucket(f"inv-{uuid.uuid4().hex[:16]}")
    storage = EmulatorGCSStorage(bucket, "index")
    check_invariant(storage, _uploader(storage), ops, seed, threads)


def test_new_upload_costs_at_most_eleven_requests(gcs_bucket: Any) -> None:
    storage = EmulatorGCSStorage(gcs_bucket)
    upload = _uploader(storage)
    first = wheel_bytes(SampleProject("proj", "1.0"))
    upload("pkgs/proj-1.0-py3-none-any.whl", first)
    build(storage)
    new = "pkgs/proj-1.1-py3-none-any.whl"
    upload(new, wheel_bytes(SampleProject("proj", "1.1")))
    event = storage.stat(new)  # what the finalized event carries, as the function passes it
    assert event is not None
    counting = CountingStorage(storage)
    report = refresh(counting, [new], hints={new: event})
    assert report.errors == []
    # state, stream, state CAS, marker read, marker removal, sidecar, index.html, index.json,
    # browse page, marker, state check
    assert counting.total <= 11, counting.calls
    assert counting.calls["stream"] == 1
    assert counting.calls["stat"] == 0
    # without the event's description (`pypapo refresh`), one stat more
    upload(new, wheel_bytes(SampleProject("proj", "1.1", summary="again")))
    counting.reset()
    assert refresh(counting, [new]).errors == []
    assert counting.calls["stat"] == 1
    assert counting.total <= 12, counting.calls
    page = gcs_bucket.get_blob(page_path("proj", "json"))
    assert page.content_type == "application/vnd.pypi.simple.v1+json"
    assert page.cache_control == "public, max-age=10"
    sidecar = gcs_bucket.get_blob("pkgs/proj-1.1-py3-none-any.whl.metadata")
    assert sidecar.cache_control == FILE_CACHE_CONTROL
    assert sidecar.download_as_bytes() == SampleProject("proj", "1.1", summary="again").metadata()


def test_an_events_description_equals_a_stat(gcs_emulator: Emulator, gcs_bucket: Any) -> None:
    """What the function reads from an event's object resource is exactly what a stat of the
    object returns, so a refresh with the hint writes the bytes a refresh without one does."""
    storage = EmulatorGCSStorage(gcs_bucket, "idx")
    path = "pkgs/proj-1.0-py3-none-any.whl"
    _uploader(storage)(path, wheel_bytes(SampleProject("proj", "1.0")))
    storage.set_metadata(path, YANK_KEY, "broken")
    url = f"{gcs_emulator.url}/storage/v1/b/{gcs_bucket.name}/o/{quote('idx/' + path, safe='')}"
    with urllib.request.urlopen(url, timeout=10) as response:
        resource = json.loads(response.read())
    attributes = {"id": "1", "type": "google.cloud.storage.object.v1.finalized"}
    event = from_cloudevent(attributes, resource)
    assert object_hint(event, path) == storage.stat(path)
