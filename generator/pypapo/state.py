"""A project's committed state: read it, work out the next one, commit it by compare-and-swap.

The state (``simple/<project>/.state.json``) is the only object a refresh changes
conditionally on what it read; every page is then derived from it (``plan``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from packaging.utils import NormalizedName

from pypapo.attestation import Attested
from pypapo.cas import swap
from pypapo.distribution import Parsed, yank_reason
from pypapo.errors import (
    BadAttestationError,
    BadDistributionError,
    CorruptStateError,
    DuplicateFileError,
    InputError,
    ProjectStatusError,
    RefusedByStatusError,
)
from pypapo.layout import attested_path, state_path, status_path
from pypapo.model import FileRecord, ProjectState
from pypapo.status import Status, parse_status_document, unreadable
from pypapo.storage import ABSENT, Blob, ObjectInfo, Storage

STATE_CONTENT_TYPE = "application/json"


@dataclass(frozen=True)
class Loaded:
    """A state as read: its content, its token, and its bytes (``None`` when absent)."""

    state: ProjectState
    token: str
    stored: bytes | None


def load_state(storage: Storage, project: NormalizedName, *, repair: bool = False) -> Loaded:
    """The project's state. Unreadable, it is a ``CorruptStateError``, or with ``repair`` an
    empty state (a full build starts the project afresh from its listing)."""
    blob = storage.get(state_path(project))
    state = parse_state(project, blob, repair=repair)
    if blob is None:
        return Loaded(state, ABSENT, None)
    return Loaded(state, blob.token, blob.data)


def parse_state(project: NormalizedName, blob: Blob | None, *, repair: bool) -> ProjectState:
    """A refresh cannot know the project's other files without its state, so an unreadable one
    is reported; a build (``repair``) rebuilds it and overwrites it by compare-and-swap."""
    if blob is None:
        return ProjectState(project)
    problem: Exception | None = None
    try:
        state = ProjectState.from_json(blob.data)
    except (ValueError, KeyError, TypeError) as e:
        problem = e
    else:
        if state.name == project:
            return state
        problem = ValueError(f"it names project {state.name!r}")
    if repair:
        return ProjectState(project)
    raise CorruptStateError(
        state_path(project),
        f"unreadable project state ({problem}); run `pypapo build` to rebuild it",
    ) from problem


def commit(storage: Storage, loaded: Loaded, new: ProjectState) -> str | None:
    """Swap in ``new`` (no state at all for a project without files); the new token, or
    ``None`` when another writer committed first."""
    data = new.to_json() if new.kept else None
    return swap(storage, state_path(new.name), data, loaded.token, content_type=STATE_CONTENT_TYPE)


def needs_commit(loaded: Loaded, new: ProjectState, *, repair: bool) -> bool:
    # a repair also rewrites a state equal in content but not in bytes (an older pypapo's
    # encoding), so that it converges to the bytes a fresh build writes
    if new != loaded.state:
        return True
    return repair and new.kept and loaded.stored != new.to_json()


Look = Callable[[str, FileRecord | None], ObjectInfo | None]
Parse = Callable[[ObjectInfo], Parsed | BadDistributionError]
Read = Callable[[str], bytes | None]
Attest = Callable[[ObjectInfo], Attested | BadAttestationError]
EPOCH = "1970-01-01T00:00:00.000000Z"


def next_state(
    old: ProjectState,
    candidates: Iterable[str],
    look: Look,
    parse: Parse,
    read: Read,
    *,
    attest: Attest | None = None,
) -> tuple[ProjectState, list[InputError]]:
    """The state once ``candidates`` are looked at as they are now: a gone object loses its
    record, a known generation keeps it (only its yank is re-read), anything else is parsed;
    bad files are reported and not indexed. Attestations likewise, with ``attest``."""
    records = old.by_path()
    errors: list[InputError] = []
    paths = set(candidates)
    attested = {p for p in paths if attested_path(p) is not None}
    paths -= attested
    status = old.status
    if status_path(old.name) in paths:
        paths.discard(status_path(old.name))
        status = _next_status(status_path(old.name), read, errors)
    for path in sorted(paths):
        cached = records.get(path)
        info = look(path, cached)
        if info is None:
            records.pop(path, None)
        elif cached is not None and cached.generation == info.generation:
            records[path] = replace(cached, yanked=yank_reason(info))
        elif isinstance(result := parse(info), BadDistributionError):
            records.pop(path, None)
            errors.append(result)
        else:
            # the yank as the object has it now: a parse is remembered per generation, and
            # a generation's metadata may have changed since it was parsed
            records[path] = replace(result.record, yanked=yank_reason(info))
    entries = _next_attestations(old, attested, look, attest, errors)
    new = ProjectState.of(old.name, records.values(), status, entries)
    errors += _unmatched(new, attested | paths)
    errors += [_twin(r, new.served_instead_of(r)) for r in new.shadowed() if r.path in paths]
    if status is not None:
        errors += [_late(r, status) for r in new.records if r.path in paths and _is_late(r, status)]
    return new, errors


def _next_attestations(
    old: ProjectState, paths: set[str], look: Look, attest: Attest | None, errors: list[InputError]
) -> list[Attested]:
    """The attestations once ``paths`` are looked at: a known generation is kept unread."""
    entries = {a.path: a for a in old.attestations}
    for path in sorted(paths if attest is not None else ()):
        info = look(path, None)
        cached = entries.pop(path, None)
        if info is None or attest is None:
            continue
        if cached is not None and cached.generation == info.generation:
            entries[path] = cached
        elif isinstance(result := attest(info), BadAttestationError):
            errors.append(result)
        else:
            entries[path] = result
    return list(entries.values())


def _unmatched(new: ProjectState, paths: set[str]) -> list[InputError]:
    """Attestations looked at now (their own path or their file's) that give no provenance:
    their file is not indexed, or has another sha256."""
    found: list[InputError] = []
    records = new.by_path()
    for entry in new.attestations:
        if entry.path not in paths and entry.distribution not in paths:
            continue
        record = records.get(entry.distribution)
        if record is None:
            why = f"no distribution is indexed at {entry.distribution!r} (yet); no provenance"
        elif record.sha256 != entry.sha256:
            why = (
                f"its statement's sha256 {entry.sha256} is not the file's ({record.sha256}); "
                "no provenance"
            )
        else:
            continue
        found.append(BadAttestationError(entry.path, why))
    return found


def _next_status(path: str, read: Read, errors: list[InputError]) -> Status | None:
    """The status object as it is now (one GET); an unreadable one holds the project."""
    data = read(path)
    if data is None:
        return None
    try:
        return parse_status_document(path, data)
    except ProjectStatusError as e:
        errors.append(e)
        return unreadable(EPOCH)


def _is_late(record: FileRecord, status: Status) -> bool:
    return status.status in {"archived", "quarantined"} and record.upload_time > status.since


def _late(record: FileRecord, status: Status) -> RefusedByStatusError:
    return RefusedByStatusError(
        record.path,
        f"uploaded after the project was {status.status} ({status.since}); not served",
    )


def _twin(record: FileRecord, served: FileRecord) -> DuplicateFileError:
    """First indexed wins: a second copy of a served file never replaces it."""
    if record.filename == served.filename:
        what = f"same file name as {served.path!r}, which the index already serves"
    else:
        what = (
            f"the same distribution file as {served.path!r} (names differ only in case or "
            "normalization), which the index already serves"
        )
    return DuplicateFileError(record.path, f"{what}; not served (delete that one to replace it)")
