"""Crash at every storage call of a refresh, then redeliver the same event, and nothing else.

For each kind of change (an upload, an overwrite, a delete, a project's last file deleted, a
yank, a new project) the refresh is run once to count its storage calls; then, for every N,
on a fresh copy of the same index, call N fails, and the same event is delivered again (as
Eventarc redelivers after a failed invocation) with no `build` in between. Every object the
index holds must then be byte-identical to a from-scratch build of the same files.

On a folder and on the GCS emulator (the same storage protocol, so one matrix serves both).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pypapo.build import build
from pypapo.publish import Publish
from pypapo.refresh import refresh
from pypapo.sample import SampleProject, sdist_bytes, wheel_bytes
from pypapo.status import Status, status_document
from pypapo.storage import FILE_CACHE_CONTROL, YANK_KEY, ObjectInfo, Storage, StorageError
from pypapo.storage.counting import CountingStorage
from pypapo.storage.emulator import EmulatorGCSStorage
from pypapo.storage.local import LocalStorage
from tests.support.attestations import attestation
from tests.support.gcs_emulator import Emulator
from tests.support.index import snapshot, wipe_index

SINCE = "2022-01-01T00:00:00.000000Z"
PUBLIC_URL = "https://pypi.example.com/"


class InjectedError(StorageError):
    """The failure the matrix injects (a 503 past the retry budget, or a crash)."""


def _wheel(name: str, version: str, variant: int = 1) -> bytes:
    return wheel_bytes(SampleProject(name, version, summary=f"variant {variant}"))


def _attestation(filename: str, data: bytes) -> bytes:
    return json.dumps(attestation(filename, hashlib.sha256(data).hexdigest())).encode()


BASE = {
    "pkgs/alpha-1.0-py3-none-any.whl": _wheel("alpha", "1.0"),
    "pkgs/alpha-1.1-py3-none-any.whl": _wheel("alpha", "1.1"),
    "pkgs/alpha-1.1.tar.gz": sdist_bytes(SampleProject("alpha", "1.1")),
    "pkgs/beta-1.0-py3-none-any.whl": _wheel("beta", "1.0"),
    "pkgs/delta-1.0-py3-none-any.whl": _wheel("delta", "1.0"),
    "pkgs/delta-1.1-py3-none-any.whl": _wheel("delta", "1.1"),
    "status/delta.json": status_document(Status("quarantined", "malware", SINCE)),
    "pkgs/alpha-1.1.tar.gz.publish.attestation": _attestation(
        "alpha-1.1.tar.gz", sdist_bytes(SampleProject("alpha", "1.1"))
    ),
    "pkgs/beta-1.0-py3-none-any.whl.publish.attestation": _attestation(
        "beta-1.0-py3-none-any.whl", _wheel("beta", "1.0")
    ),
}


@dataclass(frozen=True)
class Change:
    """One user action and the object path its event names."""

    name: str
    path: str
    act: Callable[[Storage], None]


def _put(path: str, data: bytes) -> Callable[[Storage], None]:
    def act(storage: Storage) -> None:
        storage.put(
            path, data, content_type="application/octet-stream", cache_control=FILE_CACHE_CONTROL
        )

    return act


def _delete(path: str) -> Callable[[Storage], None]:
    def act(storage: Storage) -> None:
        storage.delete(path)

    return act


def _yank(path: str) -> Callable[[Storage], None]:
    return lambda storage: storage.set_metadata(path, YANK_KEY, "broken <b>")


_NEW = "pkgs/alpha-2.0-py3-none-any.whl"
_OLD = "pkgs/alpha-1.0-py3-none-any.whl"
_LAST = "pkgs/beta-1.0-py3-none-any.whl"
_FRESH = "pkgs/gamma-0.1-py3-none-any.whl"
_HELD = "pkgs/delta-2.0-py3-none-any.whl"
CHANGES = [
    Change("upload", _NEW, _put(_NEW, _wheel("alpha", "2.0"))),
    Change("overwrite", _OLD, _put(_OLD, _wheel("alpha", "1.0", 2))),
    Change("delete", "pkgs/alpha-1.1.tar.gz", _delete("pkgs/alpha-1.1.tar.gz")),
    Change("delete-last", _LAST, _delete(_LAST)),
    Change("yank", "pkgs/alpha-1.1-py3-none-any.whl", _yank("pkgs/alpha-1.1-py3-none-any.whl")),
    Change("new-project", _FRESH, _put(_FRESH, _wheel("gamma", "0.1"))),
    Change(
        "quarantine",
        "status/alpha.json",
        _put("status/alpha.json", status_document(Status("quarantined", "why", SINCE))),
    ),
    Change("lift-quarantine", "status/delta.json", _delete("status/delta.json")),
    Change(
        "archive",
        "status/delta.json",
        _put("status/delta.json", status_document(Status("archived", None, SINCE))),
    ),
    Change("upload-to-quarantined", _HELD, _put(_HELD, _wheel("delta", "2.0"))),
    Change(
        "delete-quarantined",
        "pkgs/delta-1.0-py3-none-any.whl",
        _delete("pkgs/delta-1.0-py3-none-any.whl"),
    ),
    # PEP 740: an attestation uploaded, one deleted (the file stays), an attested file deleted
    # (its attestation stays behind); "delete" and "delete-last" above delete attested files too
    Change(
        "attest",
        _OLD + ".publish.attestation",
        _put(_OLD + ".publish.attestation", _attestation(_OLD[5:], _wheel("alpha", "1.0"))),
    ),
    Change(
        "unattest",
        "pkgs/alpha-1.1.tar.gz.publish.attestation",
        _delete("pkgs/alpha-1.1.tar.gz.publish.attestation"),
    ),
]


def _seed(storage: Storage) -> None:
    for path, data in BASE.items():
        _put(path, data)(storage)
    build(storage, public_url=PUBLIC_URL)


def _deliver(storage: Storage, path: str, hint: ObjectInfo | None) -> None:
    # the same event both times: its redelivery takes over the lease the crash left behind
    hints = {path: hint} if hint is not None else None
    refresh(storage, [path], hints=hints, event_id="event", public_url=PUBLIC_URL)


def _failing_at(storage: Storage, n: int) -> CountingStorage:
    counting = CountingStorage(storage)

    def before(method: str, path: str) -> None:
        if counting.total == n:
            raise InjectedError(f"injected failure of call {n}: {method} {path}")

    counting.before = before
    return counting


@dataclass
class Outcome:
    calls: int
    crashes: int
    differences: list[str]


def run_matrix(new_storage: Callable[[], Storage], change: Change) -> Outcome:
    """Crash at each call of the change's refresh, redeliver, compare with a scratch build."""
    differences: list[str] = []
    crashes = 0
    for n in itertools.count(1):
        storage = new_storage()
        _seed(storage)
        change.act(storage)
        hint = storage.stat(change.path)  # what the event describes (none for a delete)
        try:
            _deliver(_failing_at(storage, n), change.path, hint)
        except InjectedError:
            crashes += 1
        else:
            return Outcome(n - 1, crashes, differences)
        _deliver(storage, change.path, hint)  # the redelivery: nothing else runs in between
        after = snapshot(storage)
        wipe_index(storage)
        build(storage, public_url=PUBLIC_URL)
        scratch = snapshot(storage)
        differences += [
            f"{change.name}, call {n} failed: {path} "
            + ("missing" if path not in after else "extra" if path not in scratch else "differs")
            for path in sorted(after.keys() | scratch.keys())
            if after.get(path) != scratch.get(path)
        ]
    raise AssertionError("unreachable")  # pragma: no cover


def _folders(tmp_path: Path) -> Callable[[], Storage]:
    counter = itertools.count()
    return lambda: LocalStorage(tmp_path / f"copy{next(counter)}")


@pytest.mark.parametrize("change", CHANGES, ids=[c.name for c in CHANGES])
def test_redelivery_repairs_a_crash_at_every_call_on_a_folder(
    change: Change, tmp_path: Path
) -> None:
    outcome = run_matrix(_folders(tmp_path), change)
    assert outcome.crashes == outcome.calls >= 5  # every call was failed once
    assert outcome.differences == []


@pytest.fixture
def buckets(gcs_emulator: Emulator) -> Iterator[Callable[[], Storage]]:
    made: list[Any] = []

    def new() -> Storage:
        bucket = gcs_emulator.new_bucket("crash")
        made.append(bucket)
        return EmulatorGCSStorage(bucket)

    yield new
    for bucket in made:
        for blob in bucket.client.list_blobs(bucket):
            blob.delete()
        bucket.delete()


@pytest.mark.e2e
@pytest.mark.parametrize("change", CHANGES, ids=[c.name for c in CHANGES])
def test_redelivery_repairs_a_crash_at_every_call_on_gcs(
    change: Change, buckets: Callable[[], Storage]
) -> None:
    outcome = run_matrix(buckets, change)
    assert outcome.crashes == outcome.calls >= 5
    assert outcome.differences == []


def test_matrix_catches_a_mutant_refresh_that_skips_the_sidecar_repair(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The mutant refresh writes a sidecar only when it found it new (the diff), never when
    repairing, as refreshes behaved before a redelivery could repair anything; builds (which
    settle no root) keep repairing, so the scratch build stays right."""
    original = Publish._sidecar

    def skips_repair(self: Publish, writer: Any, sidecar: Any, *, verify: bool) -> None:
        if not verify or not self.root:
            original(self, writer, sidecar, verify=verify)

    monkeypatch.setattr(Publish, "_sidecar", skips_repair)
    outcome = run_matrix(_folders(tmp_path), CHANGES[0])
    assert outcome.crashes == outcome.calls
    assert any(d.endswith(".metadata missing") for d in outcome.differences), outcome
