"""The index model: one record per distribution object, grouped in per-project state.

A project's pages are a pure function of its ``ProjectState``, which is stored next to them
(``simple/<project>/.state.json``), so refreshing one project never reads another.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from pypapo.errors import BadDistributionError
from pypapo.layout import distribution_key

STATE_FORMAT = 1


def format_upload_time(when: datetime) -> str:
    """PEP 700's ``yyyy-mm-ddThh:mm:ss.ffffffZ`` in UTC."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, order=True)
class FileRecord:
    """Everything the pages say about one distribution object."""

    path: str
    filename: str
    version: str
    size: int
    sha256: str
    upload_time: str
    generation: str
    requires_python: str | None = None
    yanked: str | None = None
    """``None`` when not yanked, else the PEP 592 reason ("" when none was given)."""
    metadata_sha256: str | None = None
    """sha256 of the PEP 658 sidecar, or ``None`` when no sidecar is served."""
    summary: str = ""


_RECORD_FIELDS = tuple(f.name for f in fields(FileRecord))


def _key(record: FileRecord) -> tuple[str, ...]:
    try:
        # by path: the same cache entry as the file name's first parse (when the build grouped)
        return distribution_key(record.path)
    except BadDistributionError:  # a name a newer pypapo rejects: still one file, by its name
        return ("file", record.filename)


@dataclass(frozen=True)
class ProjectState:
    """All records of one project, keyed by object path (the same file name may appear twice)."""

    name: NormalizedName
    records: tuple[FileRecord, ...] = field(default_factory=tuple)

    @classmethod
    def of(cls, name: str, records: Iterable[FileRecord]) -> ProjectState:
        return cls(canonicalize_name(name), tuple(sorted(records)))

    def by_path(self) -> dict[str, FileRecord]:
        return {r.path: r for r in self.records}

    def files(self) -> list[FileRecord]:
        """The files the index serves: one per distribution (file names that differ only in
        case or normalization are one file to an installer), the lowest object path winning."""
        seen: dict[tuple[str, ...], FileRecord] = {}
        for record in self.records:  # sorted by path
            seen.setdefault(_key(record), record)
        return sorted(seen.values(), key=lambda r: r.filename)

    def served_instead_of(self, record: FileRecord) -> FileRecord:
        """The record served for ``record``'s distribution (itself, unless shadowed)."""
        key = _key(record)
        return next(r for r in self.records if _key(r) == key)

    def same_file_as(self, path: str) -> FileRecord | None:
        """A record that is the same distribution file as ``path`` under another path."""
        key = distribution_key(path)
        return next((r for r in self.records if r.path != path and _key(r) == key), None)

    def shadowed(self) -> list[FileRecord]:
        """Records hidden because another object is the same distribution file."""
        served = {id(r) for r in self.files()}
        return [r for r in self.records if id(r) not in served]

    def versions(self) -> list[str]:
        unique = {Version(r.version) for r in self.records}
        return [str(v) for v in sorted(unique)]

    def to_json(self) -> bytes:
        body = {
            "format": STATE_FORMAT,
            "name": self.name,
            # not dataclasses.asdict: its deep copies dominated the cost of a refresh's state
            "records": [{f: getattr(r, f) for f in _RECORD_FIELDS} for r in self.records],
        }
        # compact, so that json uses its C encoder: a full build writes one state per project
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return (text + "\n").encode()

    @classmethod
    def from_json(cls, data: bytes) -> ProjectState:
        body: dict[str, Any] = json.loads(data)
        if body.get("format") != STATE_FORMAT:
            raise ValueError(f"unknown state format {body.get('format')!r}")
        return cls.of(body["name"], (FileRecord(**r) for r in body["records"]))
