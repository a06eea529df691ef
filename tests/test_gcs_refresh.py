"""Refresh and build on a real GCS emulator: the same invariant, the same costs."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pypapo.layout import page_path
from pypapo.refresh import build, refresh
from pypapo.sample import SampleProject, wheel_bytes
from pypapo.storage import FILE_CACHE_CONTROL, Storage
from pypapo.storage.counting import CountingStorage
from pypapo.storage.gcs import GCSStorage
from tests.gcs_emulator import Emulator
from tests.test_refresh_invariant import Op, check_invariant, operations

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
    storage = GCSStorage(bucket, "index")
    check_invariant(storage, _uploader(storage), ops, seed, threads)


def test_new_upload_costs_at_most_nine_requests(gcs_bucket: Any) -> None:
    storage = GCSStorage(gcs_bucket)
    upload = _uploader(storage)
    first = wheel_bytes(SampleProject("proj", "1.0"))
    upload("pkgs/proj-1.0-py3-none-any.whl", first)
    build(storage)
    second = wheel_bytes(SampleProject("proj", "1.1"))
    upload("pkgs/proj-1.1-py3-none-any.whl", second)
    counting = CountingStorage(storage)
    report = refresh(counting, ["pkgs/proj-1.1-py3-none-any.whl"])
    assert report.errors == []
    assert counting.total <= 9, counting.calls  # 8 + the browse page
    assert counting.calls["stream"] == 1
    page = gcs_bucket.get_blob(page_path("proj", "json"))
    assert page.content_type == "application/vnd.pypi.simple.v1+json"
    assert page.cache_control == "public, max-age=10"
    sidecar = gcs_bucket.get_blob("pkgs/proj-1.1-py3-none-any.whl.metadata")
    assert sidecar.cache_control == FILE_CACHE_CONTROL
    assert sidecar.download_as_bytes() == SampleProject("proj", "1.1").metadata()
