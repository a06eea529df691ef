"""First indexed wins: a released file keeps being served whatever else is uploaded.

A twin (the same file name in another folder, or a name that differs only in case or version
normalization) is reported and never replaces the served file, whichever path sorts first;
deleting the served file is what lets a twin take its place.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from pypapo.build import build
from pypapo.errors import DuplicateFileError
from pypapo.refresh import refresh
from pypapo.sample import SampleProject, wheel_bytes
from pypapo.storage import FILE_CACHE_CONTROL, Storage
from pypapo.storage.gcs import GCSStorage
from pypapo.storage.local import LocalStorage
from tests.support.index import snapshot, wipe_index

ORIGINAL = "z/victim-1.0-py3-none-any.whl"
TWINS = ["a/victim-1.0-py3-none-any.whl", "Victim-1.0.0-py3-none-any.whl"]


def _bytes(variant: str) -> bytes:
    return wheel_bytes(SampleProject("victim", "1.0", summary=variant))


def _served(storage: Storage) -> list[tuple[str, str]]:
    blob = storage.get("simple/victim/index.json")
    assert blob is not None
    return [(f["url"], f["hashes"]["sha256"]) for f in json.loads(blob.data)["files"]]


def _upload(storage: Storage, path: str, data: bytes, when: int | None = None) -> None:
    storage.put(
        path, data, content_type="application/octet-stream", cache_control=FILE_CACHE_CONTROL
    )
    if when is not None and isinstance(storage, LocalStorage):
        # folders take the upload time from the mtime: make the order explicit
        os.utime(Path(storage.describe()) / path, (when, when))


def _scenario(storage: Storage, twin: str) -> None:
    original = _bytes("original")
    _upload(storage, ORIGINAL, original, when=1_700_000_000)
    refresh(storage, [ORIGINAL])
    want = [(f"../../{ORIGINAL}", hashlib.sha256(original).hexdigest())]
    assert _served(storage) == want

    _upload(storage, twin, _bytes("replacement"), when=1_700_000_100)
    report = refresh(storage, [twin])
    assert [(type(e), e.path) for e in report.errors] == [(DuplicateFileError, twin)]
    assert ORIGINAL in report.errors[0].reason
    assert _served(storage) == want  # the released file is still the one served

    incremental = snapshot(storage)
    wipe_index(storage)
    scratch = build(storage)
    assert [e.path for e in scratch.errors] == [twin]  # a build names the twin, not the original
    assert snapshot(storage) == incremental

    storage.delete(ORIGINAL)
    refresh(storage, [ORIGINAL])
    assert [url for url, _ in _served(storage)] == [f"../../{twin}"]


@pytest.mark.parametrize("twin", TWINS)
def test_a_twin_never_replaces_the_served_file_in_a_folder(tmp_path: Path, twin: str) -> None:
    _scenario(LocalStorage(tmp_path), twin)


@pytest.mark.e2e
@pytest.mark.parametrize("twin", TWINS)
def test_a_twin_never_replaces_the_served_file_in_a_bucket(
    gcs_storage: GCSStorage, twin: str
) -> None:
    _scenario(gcs_storage, twin)
