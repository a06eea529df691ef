"""The index model: one record per distribution object, grouped in per-project state.

A project's pages are a pure function of its ``ProjectState``, which is stored next to them
(``simple/<project>/.state.json``), so refreshing one project never reads another.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import InvalidName, NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from pypapo.attestation import Attested, attested_from_state, to_state
from pypapo.errors import BadDistributionError, ProjectStatusError
from pypapo.layout import (
    MAX_FILENAME,
    MAX_OBJECT_NAME,
    DistName,
    distribution_key,
    looks_like_distribution,
    parse_dist_filename,
)
from pypapo.metadata import MAX_REQUIRES_PYTHON, MAX_SUMMARY, MAX_VERSION
from pypapo.status import Status, parse_status_document

STATE_FORMAT = 1
MAX_STATE_BYTES = 64 << 20
"""The largest state read, room for some 100,000 files. A larger one is not pypapo's, and
parsing it could cost a Cloud Function instance all its memory."""
MAX_YANK_REASON = 8 << 10
"""A yank reason comes from object metadata, of which GCS keeps at most 8 KiB (a folder's
marker holds less). Summary, Requires-Python and Version are bounded where they are parsed."""
MAX_SIZE = 5 << 40
"""The largest object GCS holds (5 TiB)."""


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


def _first_indexed(record: FileRecord) -> tuple[str, str]:
    # upload times share one fixed-width UTC format, so they sort as strings
    return record.upload_time, record.path


@dataclass(frozen=True)
class ProjectState:
    """All records of one project, keyed by object path (the same file name may appear twice)."""

    name: NormalizedName
    records: tuple[FileRecord, ...] = field(default_factory=tuple)
    status: Status | None = None
    """The PEP 792 status an operator set (``None``: active, and no status object)."""
    attestations: tuple[Attested, ...] = ()
    """PEP 740 attestations publishers uploaded, by path; kept even before (or after) their
    file is indexed: their events and the file's arrive in any order."""

    @classmethod
    def of(
        cls,
        name: str,
        records: Iterable[FileRecord],
        status: Status | None = None,
        attestations: Iterable[Attested] = (),
    ) -> ProjectState:
        return cls(
            canonicalize_name(name), tuple(sorted(records)), status, tuple(sorted(attestations))
        )

    @property
    def kept(self) -> bool:
        """Whether the state object must exist: the project exists, or attestations wait for
        their files."""
        return self.exists or bool(self.attestations)

    def attestations_of(self, record: FileRecord) -> list[Attested]:
        """The attestations of the record's file whose statement gives the file's sha256."""
        return [
            a
            for a in self.attestations
            if a.distribution == record.path and a.sha256 == record.sha256
        ]

    @property
    def exists(self) -> bool:
        """Whether the index has the project: files, or a status set ahead of them."""
        return bool(self.records) or self.status is not None

    def by_path(self) -> dict[str, FileRecord]:
        return {r.path: r for r in self.records}

    def files(self) -> list[FileRecord]:
        """The files the index serves: one per distribution (file names that differ only in
        case or normalization are one file to an installer). The first uploaded wins (the
        lowest path among equals), so a later twin can never replace a released file."""
        seen: dict[tuple[str, ...], FileRecord] = {}
        for record in sorted(self.records, key=_first_indexed):
            seen.setdefault(_key(record), record)
        return sorted(seen.values(), key=lambda r: r.filename)

    def served(self) -> list[FileRecord]:
        """The files the pages list: ``files()`` without those the status refuses."""
        return [r for r in self.files() if not self.refuses(r)]

    def refuses(self, record: FileRecord) -> bool:
        """Whether the status keeps the record's file from being served at all."""
        return self.status is not None and self.status.refuses(record.upload_time)

    def served_instead_of(self, record: FileRecord) -> FileRecord:
        """The record served for ``record``'s distribution (itself, unless shadowed)."""
        key = _key(record)
        return min((r for r in self.records if _key(r) == key), key=_first_indexed)

    def same_file_as(self, path: str) -> FileRecord | None:
        """A record that is the same distribution file as ``path`` under another path."""
        key = distribution_key(path)
        return next((r for r in self.records if r.path != path and _key(r) == key), None)

    def shadowed(self) -> list[FileRecord]:
        """Records hidden because another object is the same distribution file."""
        served = {id(r) for r in self.files()}
        return [r for r in self.records if id(r) not in served]

    def versions(self) -> list[str]:
        unique = {Version(r.version) for r in self.records if not self.refuses(r)}
        return [str(v) for v in sorted(unique)]

    def to_json(self) -> bytes:
        body: dict[str, object] = {
            "format": STATE_FORMAT,
            "name": self.name,
            # not dataclasses.asdict: its deep copies dominated the cost of a refresh's state
            "records": [{f: getattr(r, f) for f in _RECORD_FIELDS} for r in self.records],
        }
        if self.status is not None:  # absent otherwise: a state without one reads as before
            body["status"] = self.status.to_dict()
        if self.attestations:  # likewise
            body["attestations"] = [to_state(a) for a in self.attestations]
        # compact, so that json uses its C encoder: a full build writes one state per project
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return (text + "\n").encode()

    @classmethod
    def from_json(cls, data: bytes) -> ProjectState:
        """Read a stored state, accepting exactly what ``to_json`` writes. Anyone who can write
        to the bucket can edit it, so anything else is a ``ValueError`` saying where and what
        (a refresh reports the state as corrupt; a build rebuilds it)."""
        loaded = _load(data)
        optional = {
            k for k in ("status", "attestations") if isinstance(loaded, dict) and k in loaded
        }
        body = _fields("state", loaded, _STATE_KEYS | optional)
        if type(body["format"]) is not int or body["format"] != STATE_FORMAT:
            raise ValueError(f"unknown state format {_show(body['format'])}")
        name = _project_name(body["name"])
        raw = body["records"]
        if not isinstance(raw, list):
            raise _expected("records", raw, "a list")
        records = [_record(name, f"records[{i}]", r) for i, r in enumerate(raw)]
        _check_unique(records)
        status = _status(body["status"]) if "status" in optional else None
        attested = _attestations(name, body["attestations"]) if "attestations" in optional else []
        return cls.of(name, records, status, attested)


# -- reading a state: the schema, checked by hand (small, and exactly what to_json writes) -----

_STATE_KEYS = frozenset({"format", "name", "records"})
_RECORD_KEYS = frozenset(_RECORD_FIELDS)
_SHA256 = re.compile(r"[0-9a-f]{64}")
# a GCS generation is a decimal number, a folder's "mtime-size-inode": printable, no spaces
_GENERATION = re.compile(r"[\x21-\x7e]{1,128}")


def _load(data: bytes) -> object:
    # the size first: json would build the whole thing before any check could look at it
    if len(data) > MAX_STATE_BYTES:
        raise ValueError(f"{len(data)} bytes, over the {MAX_STATE_BYTES} a state may have")
    try:
        return json.loads(data)
    except RecursionError as e:  # nesting deeper than the interpreter's stack
        raise ValueError("nested too deeply") from e
    except ValueError as e:  # not UTF-8, not JSON, or an integer of thousands of digits
        raise ValueError(f"not JSON: {e}") from e


def _kind(value: object) -> str:
    kinds = {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a bool",
        int: "an int",
        float: "a float",
    }
    return "null" if value is None else kinds.get(type(value), type(value).__name__)


def _expected(where: str, value: object, kind: str) -> ValueError:
    # a ValueError, not a TypeError: the callers' contract is "unreadable state"
    return ValueError(f"{where}: {_kind(value)}, expected {kind}")


def _show(value: object) -> str:
    """The value for a message: escaped (no control character reaches a terminal), clipped."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _fields(where: str, value: object, keys: frozenset[str]) -> dict[str, object]:
    if not isinstance(value, dict):
        raise _expected(where, value, "an object")
    missing, extra = keys - value.keys(), value.keys() - keys
    if missing:
        raise ValueError(f"{where}: missing {', '.join(sorted(missing))}")
    if extra:
        raise ValueError(f"{where}: unexpected key {_show(min(extra))}")
    return value


def _text(where: str, value: object, limit: int) -> str:
    if not isinstance(value, str):
        raise _expected(where, value, "a string")
    if len(value) > limit:
        raise ValueError(f"{where}: longer than {limit} characters")
    return value


def _optional_text(where: str, value: object, limit: int) -> str | None:
    return None if value is None else _text(where, value, limit)


def _project_name(value: object) -> NormalizedName:
    name = _text("name", value, MAX_FILENAME)
    try:
        canonical = canonicalize_name(name, validate=True)
    except InvalidName as e:
        raise ValueError(f"name: {_show(name)} is not a valid project name") from e
    if canonical != name:
        raise ValueError(f"name: {_show(name)} is not normalized")
    return canonical


def _record(project: NormalizedName, where: str, raw: object) -> FileRecord:
    r = _fields(where, raw, _RECORD_KEYS)
    path = _text(f"{where}.path", r["path"], MAX_OBJECT_NAME)
    dist = _distribution(f"{where}.path", path, project)
    filename = _text(f"{where}.filename", r["filename"], MAX_FILENAME)
    if filename != dist.filename:
        raise ValueError(f"{where}.filename: {_show(filename)} is not its path's file name")
    return FileRecord(
        path=path,
        filename=filename,
        version=_version(f"{where}.version", r["version"], dist),
        size=_size(f"{where}.size", r["size"]),
        sha256=_sha256(f"{where}.sha256", r["sha256"]),
        upload_time=_upload_time(f"{where}.upload_time", r["upload_time"]),
        generation=_generation(f"{where}.generation", r["generation"]),
        requires_python=_requires_python(f"{where}.requires_python", r["requires_python"]),
        yanked=_optional_text(f"{where}.yanked", r["yanked"], MAX_YANK_REASON),
        metadata_sha256=(
            None
            if r["metadata_sha256"] is None
            else _sha256(f"{where}.metadata_sha256", r["metadata_sha256"])
        ),
        summary=_text(f"{where}.summary", r["summary"], MAX_SUMMARY),
    )


def _distribution(where: str, path: str, project: NormalizedName) -> DistName:
    """The path's parsed name: a safe path, a distribution's, of this project (the pages link
    to it, and refresh reads it)."""
    if not looks_like_distribution(path):
        raise ValueError(f"{where}: {_show(path)} is not a distribution's path")
    try:
        dist = parse_dist_filename(path)
    except BadDistributionError as e:
        raise ValueError(f"{where}: {_show(path)}: {e.reason}") from e
    if dist.project != project:
        raise ValueError(f"{where}: {_show(path)} is a file of project {dist.project!r}")
    return dist


def _version(where: str, value: object, dist: DistName) -> str:
    version = _text(where, value, MAX_VERSION)
    if version == str(dist.version):  # what pypapo writes: no second parse
        return version
    try:
        same = Version(version) == dist.version
    except InvalidVersion as e:
        raise ValueError(f"{where}: {_show(version)} is not a PEP 440 version") from e
    if not same:
        raise ValueError(f"{where}: {_show(version)} is not its file name's version")
    return version


def _size(where: str, value: object) -> int:
    if type(value) is not int:  # not a bool, which is an int to Python
        raise _expected(where, value, "an int")
    if not 0 <= value <= MAX_SIZE:
        raise ValueError(f"{where}: {value} is out of range")
    return value


def _sha256(where: str, value: object) -> str:
    digest = _text(where, value, 64)
    if _SHA256.fullmatch(digest) is None:
        raise ValueError(f"{where}: {_show(digest)} is not 64 lowercase hex digits")
    return digest


def _upload_time(where: str, value: object) -> str:
    stamp = _text(where, value, 32)
    try:
        # the zone must be Z (never a conversion that could leave the calendar's range), and
        # the whole stamp what format_upload_time makes of it
        when = datetime.fromisoformat(stamp) if stamp.endswith("Z") else None
    except ValueError:
        when = None
    if when is None or format_upload_time(when) != stamp:
        raise ValueError(f"{where}: {_show(stamp)} is not a yyyy-mm-ddThh:mm:ss.ffffffZ time")
    return stamp


def _generation(where: str, value: object) -> str:
    generation = _text(where, value, 128)
    if _GENERATION.fullmatch(generation) is None:
        raise ValueError(f"{where}: {_show(generation)} is not a generation")
    return generation


def _requires_python(where: str, value: object) -> str | None:
    specifier = _optional_text(where, value, MAX_REQUIRES_PYTHON)
    if specifier is not None and not _valid_specifier(specifier):
        raise ValueError(f"{where}: {_show(specifier)} is not a version specifier")
    return specifier


@functools.lru_cache(maxsize=1024)  # a project's files share a handful of Requires-Python
def _valid_specifier(text: str) -> bool:
    try:
        SpecifierSet(text)
    except InvalidSpecifier:
        return False
    return True


def _status(raw: object) -> Status:
    # the same schema as the operator's object, checked by the same parser
    try:
        return parse_status_document("status", json.dumps(raw).encode())
    except ProjectStatusError as e:
        raise ValueError(e.reason) from e


_ATTESTATION_KEYS = frozenset({"path", "generation", "sha256", "publisher", "attestation"})


def _attestations(project: NormalizedName, raw: object) -> list[Attested]:
    if not isinstance(raw, list) or not raw:
        raise _expected("attestations", raw, "a non-empty list")
    found: list[Attested] = []
    for i, item in enumerate(raw):
        where = f"attestations[{i}]"
        entry = attested_from_state(where, _fields(where, item, _ATTESTATION_KEYS))
        _distribution(f"{where}.path", entry.distribution, project)
        found.append(entry)
    if len({a.path for a in found}) != len(found):
        raise ValueError("attestations: a path appears twice")
    return found


def _check_unique(records: list[FileRecord]) -> None:
    seen: set[str] = set()
    for i, record in enumerate(records):
        if record.path in seen:
            raise ValueError(f"records[{i}].path: {_show(record.path)} appears twice")
        seen.add(record.path)
