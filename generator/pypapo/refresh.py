"""Bring the index up to date for changed objects: state-based, concurrent-safe, O(project).

For each path the object is looked at *as it is now*; the event that named it is only a hint,
so duplicated, reordered and stale events converge to the same pages. Per project, in a loop
that starts over (verifying everything) whenever another writer got in between:

1. read the project state (``state``) and work out the next one from the objects; commit it by
   compare-and-swap if it changed;
2. publish the plan of the committed state (``plan``, ``publish``): sidecars, pages, the root
   membership, and the marker that says all of it is in place;
3. read the state's token again: a newer commit means this publish may have overwritten newer
   pages, so go round again from the newer state.

Step 2 depends only on the committed state, never on what this run parsed, so any refresh of a
project — a redelivered event included — completes whatever an earlier one left half done.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from packaging.utils import NormalizedName

from pypapo.attestation import Attested, read_attestation
from pypapo.cas import attempts, token_of
from pypapo.distribution import Parsed, parse_distribution
from pypapo.errors import (
    BadAttestationError,
    BadDistributionError,
    CorruptStateError,
    InputError,
    ReservedPathError,
)
from pypapo.layout import (
    BROWSE_PREFIX,
    INDEX_PREFIX,
    YANK_MARKER_SUFFIX,
    attestation_path,
    attested_path,
    looks_like_distribution,
    parse_dist_filename,
    quarantine_path,
    state_path,
    status_path,
    status_project,
)
from pypapo.listing import Listing
from pypapo.model import FileRecord, ProjectState
from pypapo.plan import project_plan, stale_provenance
from pypapo.publish import LostRaceError, ObjectsMovedError, Outcome, Publish
from pypapo.report import Report
from pypapo.state import commit, load_state, needs_commit, next_state
from pypapo.storage import ObjectChangedError, ObjectInfo, Storage

__all__ = ["Report", "group", "refresh", "update_project"]


@dataclass
class _Project:
    """One project's refresh (or, with ``repair``, its part of a full build)."""

    storage: Storage
    project: NormalizedName
    paths: set[str]
    known: Mapping[str, ObjectInfo] = field(default_factory=dict)
    hints: Mapping[str, ObjectInfo] = field(default_factory=dict)
    repair: bool = False
    markers: frozenset[str] = frozenset()
    """Quarantine markers and provenance documents a build listed for the project: those the
    plan lacks go."""
    report: Report = field(default_factory=Report)
    parsed: dict[tuple[str, str], Parsed | BadDistributionError] = field(default_factory=dict)
    sidecars_in_place: set[tuple[str, str]] = field(default_factory=set)
    public_url: str | None = None
    """Where the storage's root is served: pages link provenance documents by a full URL."""
    attested: dict[tuple[str, str], Attested | BadAttestationError] = field(default_factory=dict)

    def run(self) -> Report:
        for attempt in attempts(f"project {self.project!r}"):
            if self._attempt(first=attempt == 0):
                return self.report
            self.report.conflicts += 1
        raise AssertionError("unreachable")  # pragma: no cover (attempts raises)

    def _attempt(self, *, first: bool) -> bool:
        loaded = load_state(self.storage, self.project, repair=self.repair)
        candidates = self.paths | (_recorded(loaded.state) if self.repair else set())
        try:
            new, errors = next_state(
                loaded.state,
                candidates,
                lambda p, r: self._look(p, r, first=first),
                self._parse,
                self._read,
                attest=self._attest,
            )
        except ObjectChangedError:
            return False
        token = loaded.token
        if needs_commit(loaded, new, repair=self.repair):
            committed = commit(self.storage, loaded, new)
            if committed is None:
                return False
            token = committed
            self.report.writes += 1
        plan = project_plan(new, self.public_url)
        # the plan renders every page: an unchanged state (a duplicate event) is rendered once
        trusted = (
            None
            if not first
            else plan
            if new == loaded.state
            else project_plan(loaded.state, self.public_url)
        )
        publish = Publish(
            self.storage,
            plan,
            self._sidecar,
            self.report,
            trusted=trusted,
            trust_marker=first and not self.repair,
            gone=sorted(p for p in candidates - set(new.by_path()) if looks_like_distribution(p)),
            stale=self._stale(new, candidates) + stale_provenance(new, candidates),
            root=not self.repair,
            # a build's listing of the project's objects stands in for reading each of them
            listing=Listing(self.known) if first and self.repair and self.known else None,
            in_place=self.sidecars_in_place,
        )
        try:
            wrote = publish.run()
        except LostRaceError:
            return False
        except ObjectsMovedError as e:
            self.paths |= e.paths  # the state catches up with them on the next attempt
            return False
        # a newer commit may have met this publish half way: go round from it. (Stopping after
        # a vouched marker is not enough: on a folder, tokens are content hashes, so a marker
        # removed and written again with the same digest looks untouched to a compare-and-swap.)
        if wrote is not Outcome.CURRENT and (
            token_of(self.storage, state_path(self.project)) != token
        ):
            return False
        self.report.errors = list[InputError](errors)
        if new.exists:
            self.report.projects.add(self.project)
            self.report.files = len(new.served())
        return True

    def _read(self, path: str) -> bytes | None:
        blob = self.storage.get(path)
        return None if blob is None else blob.data

    def _stale(self, new: ProjectState, candidates: set[str]) -> list[str]:
        """Quarantine markers a verifying publish must make sure are gone: those of files that
        went (while a status is, or was just, set) and, on a status change, of every file."""
        if new.status is None and status_path(self.project) not in candidates:
            return sorted(self.markers)
        paths = (
            candidates | set(new.by_path())
            if status_path(self.project) in candidates
            else candidates
        )
        return sorted(
            self.markers | {quarantine_path(p) for p in paths if looks_like_distribution(p)}
        )

    def _look(self, path: str, cached: FileRecord | None, *, first: bool) -> ObjectInfo | None:
        """The object as it is now. On the first attempt that may come from the build's listing,
        or from the event that named it when it describes a generation the state lacks: reading
        that generation fails unless it is still the live one (the read is pinned to it), and a
        failed read retries with a stat. A hint for a generation already indexed could carry
        older metadata (a yank) than the object has, so that takes a stat."""
        if first:
            if path in self.known:
                return self.known[path]
            hint = self.hints.get(path)
            if hint is not None and (cached is None or cached.generation != hint.generation):
                return hint
        return self.storage.stat(path)

    def _parse(self, info: ObjectInfo) -> Parsed | BadDistributionError:
        key = (info.path, info.generation)
        if key not in self.parsed:
            try:
                self.parsed[key] = parse_distribution(self.storage, info)
            except BadDistributionError as e:
                self.parsed[key] = e
        return self.parsed[key]

    def _attest(self, info: ObjectInfo) -> Attested | BadAttestationError:
        key = (info.path, info.generation)
        if key not in self.attested:
            try:
                self.attested[key] = read_attestation(self.storage, info)
            except BadAttestationError as e:
                self.attested[key] = e
        return self.attested[key]

    def _sidecar(self, record: FileRecord) -> bytes | None:
        """The record's sidecar bytes, from this run's parse or a read pinned to its
        generation; ``None`` when that generation is gone (the state must catch up first)."""
        if (record.path, record.generation) not in self.parsed:
            info = self.storage.stat(record.path)
            if info is None or info.generation != record.generation:
                return None
            try:
                self._parse(info)
            except ObjectChangedError:
                return None
        parsed = self.parsed[(record.path, record.generation)]
        return parsed.sidecar if isinstance(parsed, Parsed) else None


def _recorded(state: ProjectState) -> set[str]:
    """What a repair re-looks at: every recorded file and attestation, and the status object
    if one was set."""
    paths = set(state.by_path()) | {a.path for a in state.attestations}
    if state.status is not None:
        paths.add(status_path(state.name))
    return paths


def update_project(
    storage: Storage,
    project: NormalizedName,
    paths: Iterable[str],
    *,
    known: Mapping[str, ObjectInfo] | None = None,
    hints: Mapping[str, ObjectInfo] | None = None,
    repair: bool = False,
    markers: Iterable[str] = (),
    public_url: str | None = None,
) -> Report:
    """Refresh one project for these paths. ``known`` are listing entries a build trusts on
    its first attempt; ``repair`` re-looks at every recorded file, starts over from an
    unreadable state and verifies every object instead of trusting the publish marker."""
    job = _Project(
        storage,
        project,
        set(paths),
        known or {},
        hints or {},
        repair,
        frozenset(markers),
        public_url=public_url,
    )
    return job.run()


def group(paths: Iterable[str], report: Report) -> dict[NormalizedName, set[str]]:
    """Distribution paths by project; other paths are ignored, bad names reported."""
    groups: dict[NormalizedName, set[str]] = {}
    for raw in paths:
        project = status_project(raw)
        if project is not None:
            groups.setdefault(project, set()).add(raw)
            continue
        # a yank marker and an attestation are about the distribution they follow
        path = attested_path(raw) or raw.removesuffix(YANK_MARKER_SUFFIX)
        if not looks_like_distribution(path):
            if path == raw and in_reserved_prefix(path):
                report.errors.append(
                    ReservedPathError(
                        path,
                        f"inside {path.split('/')[0]}/, which pypapo reserves for its own "
                        "pages; upload distributions elsewhere",
                    )
                )
            else:
                report.ignored.append(raw)
            continue
        try:
            dist = parse_dist_filename(path)
        except BadDistributionError as e:
            report.errors.append(e)
            continue
        groups.setdefault(dist.project, set()).add(
            attestation_path(path) if attested_path(raw) else path
        )
    return groups


def in_reserved_prefix(path: str) -> bool:
    """A distribution-named object a user put among pypapo's pages (never indexed)."""
    return path.startswith((INDEX_PREFIX, BROWSE_PREFIX)) and path.endswith(
        (".whl", ".tar.gz", ".zip")
    )


def refresh(
    storage: Storage,
    paths: Iterable[str],
    *,
    hints: Mapping[str, ObjectInfo] | None = None,
    public_url: str | None = None,
) -> Report:
    """Update the index for these changed object paths; reads only the affected projects.

    ``hints`` are what the events said of the objects (a finalized object's size, generation,
    creation time and metadata); they save a stat per new upload and are never trusted further
    than a read pinned to their generation. ``public_url`` is where the storage's root is
    served (provenance links need a full URL).
    """
    report = Report()
    for project, project_paths in sorted(group(paths, report).items()):
        try:
            report.merge(
                update_project(storage, project, project_paths, hints=hints, public_url=public_url)
            )
        except CorruptStateError as e:  # other projects still get their refresh
            report.errors.append(e)
    return report
