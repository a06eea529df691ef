"""``pypapo check TARGET [--fix]``: is the index what a full build would make of the files?

The check runs a full build against a dry-run overlay of the storage: reads see the real
objects, writes and deletes land in memory. Whatever the build would write is drift (a missing
or stale page, a missing, forged or orphaned sidecar, an out-of-date state); whatever it
reports is a bad file; a record whose sha256 changes is a file overwritten since it was
indexed. Nothing is written unless ``--fix``, which runs the real build and checks again.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pypapo.build import build
from pypapo.layout import BROWSE_PREFIX, INDEX_PREFIX, SIDECAR_SUFFIX, STATE_NAME
from pypapo.lease import QUEUE_NAME
from pypapo.model import ProjectState
from pypapo.plan import MARKER_NAME
from pypapo.report import Report
from pypapo.storage import ABSENT, Blob, ObjectInfo, Selection, Storage, selected, waits


@dataclass(frozen=True, order=True)
class Finding:
    """One thing wrong with the index: what kind, which object, and the details."""

    kind: str
    path: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.path}: {self.detail}"


class DryRun:
    """A storage whose writes stay in memory; reads see them over the real objects."""

    def __init__(self, inner: Storage) -> None:
        self.inner = inner
        self._lock = threading.Lock()
        self._written: dict[str, bytes | None] = {}  # None: deleted
        self.existed: dict[str, bool] = {}  # path -> existed before its first change

    def describe(self) -> str:
        return self.inner.describe()

    @property
    def waits_on_network(self) -> bool:
        return waits(self.inner)

    @staticmethod
    def _token(data: bytes) -> str:
        return "dry-" + hashlib.sha256(data).hexdigest()

    def _info(self, path: str, data: bytes) -> ObjectInfo:
        return ObjectInfo(path, len(data), self._token(data), datetime.now(UTC))

    def list(self, prefix: str = "", *, within: Selection | None = None) -> Iterator[ObjectInfo]:
        with self._lock:
            written = dict(self._written)
        for info in self.inner.list(prefix, within=within):
            if info.path not in written:
                yield info
        for path, data in sorted(written.items()):
            if data is not None and path.startswith(prefix) and selected(within, path):
                yield self._info(path, data)

    def stat(self, path: str) -> ObjectInfo | None:
        with self._lock:
            if path in self._written:
                data = self._written[path]
                return None if data is None else self._info(path, data)
        return self.inner.stat(path)

    def read_range(self, path: str, start: int, end: int, generation: str) -> bytes:
        with self._lock:
            data = self._written.get(path)
        if data is not None:
            return data[start:end]
        return self.inner.read_range(path, start, end, generation)

    def stream(self, path: str, generation: str, sink: Callable[[bytes], object]) -> None:
        with self._lock:
            data = self._written.get(path)
        if data is not None:
            sink(data)
            return
        self.inner.stream(path, generation, sink)

    def get(self, path: str) -> Blob | None:
        with self._lock:
            if path in self._written:
                data = self._written[path]
                return None if data is None else Blob(data, self._token(data))
        return self.inner.get(path)

    def _change(self, path: str, data: bytes | None, if_token: str | None) -> bool:
        current = self.get(path)
        if if_token is not None and (current.token if current is not None else ABSENT) != if_token:
            return False
        with self._lock:
            self.existed.setdefault(path, self.inner.stat(path) is not None)
            self._written[path] = data
        return True

    def put(
        self,
        path: str,
        data: bytes,
        *,
        content_type: str,
        cache_control: str = "",
        if_token: str | None = None,
    ) -> str | None:
        del content_type, cache_control
        return self._token(data) if self._change(path, data, if_token) else None

    def delete(self, path: str, *, if_token: str | None = None) -> bool:
        if self.get(path) is None:
            return False
        return self._change(path, None, if_token)

    def set_metadata(self, path: str, key: str, value: str | None) -> None:
        raise NotImplementedError("a check never changes object metadata")

    def upload_file(
        self,
        local: Path,
        path: str,
        *,
        create_only: bool,
        progress: Callable[[int], None] | None = None,
    ) -> str | None:
        # held in memory like every other write: a dry run is for small what-ifs
        data = local.read_bytes()
        if progress is not None:
            progress(len(data))
        return self.put(path, data, content_type="", if_token=ABSENT if create_only else None)

    def changes(self) -> dict[str, bytes | None]:
        """What would differ: an object that came and went (a lease) is no change."""
        with self._lock:
            return {
                path: data
                for path, data in self._written.items()
                if data is not None or self.existed.get(path, True)
            }


def _states(storage: Storage) -> dict[str, str]:
    """Object path -> sha256 as recorded in every readable project state."""
    recorded: dict[str, str] = {}
    for info in storage.list(INDEX_PREFIX):
        if not info.path.endswith("/" + STATE_NAME):
            continue
        blob = storage.get(info.path)
        if blob is None:
            continue
        try:
            state = ProjectState.from_json(blob.data)
        except (ValueError, KeyError, TypeError):
            continue  # the dry build reports it as drift (it rewrites the state)
        recorded.update({r.path: r.sha256 for r in state.records})
    return recorded


def _describe_change(path: str, existed: bool, data: bytes | None) -> Finding:
    if path.endswith(SIDECAR_SUFFIX) and not path.startswith(INDEX_PREFIX):
        kind, detail = (
            ("orphan sidecar", "no distribution beside it")
            if data is None
            else ("mismatched sidecar", "differs from the distribution's metadata")
            if existed
            else ("missing sidecar", "the page advertises PEP 658 metadata")
        )
    elif path.endswith("/" + STATE_NAME):
        kind, detail = "stale state", "does not match the files"
    elif QUEUE_NAME in path:
        kind, detail = "queued", "paths handed to the project's publisher, not yet drained"
    elif path.endswith("/" + MARKER_NAME):
        kind, detail = "unpublished", "the publish marker does not vouch for the pages"
    elif not path.startswith((INDEX_PREFIX, BROWSE_PREFIX)):
        kind, detail = "drift", "would be rewritten by a build"
    elif data is None:
        kind, detail = "stale page", "describes files that are gone"
    elif not existed:
        kind, detail = "missing page", "not written"
    else:
        kind, detail = "outdated page", "does not match the files"
    return Finding(kind, path, detail)


def check(
    storage: Storage, *, workers: int = 4, public_url: str | None = None
) -> tuple[list[Finding], Report]:
    """Everything a full build would change, without changing anything (pages rendered for
    ``public_url``, as the build and the refreshes were given)."""
    before = _states(storage)
    dry = DryRun(storage)
    report = build(dry, workers=workers, public_url=public_url)
    findings = [Finding("bad file", e.path, e.reason) for e in report.errors]
    after = _states(dry)
    bad = {e.path for e in report.errors}
    for path in sorted(after.keys() - before.keys()):
        findings.append(Finding("unindexed file", path, "not listed by the index yet"))
    for path in sorted(before.keys() - after.keys() - bad):
        findings.append(Finding("deleted file", path, "gone, but still listed by the index"))
    for path, sha in sorted(after.items()):
        if path in before and before[path] != sha:
            findings.append(
                Finding(
                    "overwritten",
                    path,
                    f"sha256 was {before[path]}, is now {sha}; "
                    "installs pinned to the old hash fail",
                )
            )
    changes = dry.changes()
    # a marker changes with every other fix of its project: alone it is worth a line
    markers_only = all(p.endswith("/" + MARKER_NAME) for p in changes)
    for path, data in sorted(changes.items()):
        if path.endswith("/" + MARKER_NAME) and not markers_only:
            continue
        findings.append(_describe_change(path, dry.existed.get(path, False), data))
    return sorted(findings, key=lambda f: (f.path, f.kind)), report
