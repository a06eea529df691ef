"""Bring the index up to date for changed objects: state-based, concurrent-safe, O(project).

For each path the object is looked at *as it is now*; the event that named it is only a hint,
so duplicated, reordered and stale events converge to the same pages. Per project:

1. read the publish marker, which is also the project's lease (``lease``): held by another
   publisher, an event hands its paths over through the project's queue and is done (a command
   line or a build waits instead);
2. read the project state (``state``) and what the queue holds, and work out the next state;
   nothing to do when it is unchanged and the marker holds its plan's digest;
3. otherwise take the lease (before the first write), commit the state by compare-and-swap,
   publish its plan (``plan``, ``publish``), drop the intents it drained, release the lease
   with the plan's digest, and list the queue again: whatever arrived meanwhile is drained in
   another round.

Step 3 depends only on the committed state, never on what this run parsed, so any refresh of a
project — a redelivered event included — completes whatever an earlier one left half done.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from packaging.utils import NormalizedName

from pypapo import lease
from pypapo.attestation import Attested, read_attestation
from pypapo.cas import attempts
from pypapo.distribution import Parsed, parse_distribution
from pypapo.errors import (
    BadAttestationError,
    BadDistributionError,
    ConflictError,
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
    status_path,
    status_project,
)
from pypapo.lease import Intent, Marker, hints_for, holder_id, read_marker, read_queue
from pypapo.listing import Listing
from pypapo.model import FileRecord, ProjectState
from pypapo.plan import (
    SIDECAR_CONTENT_TYPE,
    Plan,
    Sidecar,
    marker_path,
    project_plan,
    stale_provenance,
)
from pypapo.publish import LostRaceError, ObjectsMovedError, Publish
from pypapo.report import Report
from pypapo.state import Loaded, commit, load_state, needs_commit, next_state
from pypapo.storage import (
    ABSENT,
    FILE_CACHE_CONTROL,
    ObjectChangedError,
    ObjectInfo,
    Storage,
    waits,
)

__all__ = ["Report", "group", "refresh", "update_project"]

_T = TypeVar("_T")
_E = TypeVar("_E", bound=Exception)


class _Step(enum.Enum):
    DONE = "the project is published, or handed to the lease holder"
    AGAIN = "more to do at once: the queue filled meanwhile, or the lease came free"
    CONFLICT = "another writer got in between: back off, then read everything again"


PARALLEL_READS = 8
"""Distributions one refresh streams at once while it reads the state (sidecars it writes at
once with the state's commit likewise)."""
MAX_IN_FLIGHT = PARALLEL_READS + 2
"""Requests one project's refresh has in flight at most: its streams, the state and the
marker (a client should keep that many connections per project refreshed at once)."""

MAX_ROUNDS = 10_000
"""Drain rounds one refresh runs at most: a queue refilled faster than it drains for longer
than that is left to the next event's holder."""


@dataclass
class _Project:
    """One project's refresh (or, with ``repair``, its part of a full build)."""

    storage: Storage
    project: NormalizedName
    paths: set[str]
    known: Mapping[str, ObjectInfo] = field(default_factory=dict)
    hints: dict[str, ObjectInfo] = field(default_factory=dict)
    repair: bool = False
    markers: frozenset[str] = frozenset()
    """Quarantine markers and provenance documents a build listed for the project: those the
    plan lacks go."""
    holder: str = field(default_factory=lambda: holder_id(None))
    handoff: bool = False
    """Serving an event: hand the paths to a lease holder rather than wait for it."""
    report: Report = field(default_factory=Report)
    parsed: dict[tuple[str, str], Parsed | BadDistributionError] = field(default_factory=dict)
    sidecars_in_place: set[tuple[str, str]] = field(default_factory=set)
    held: Marker | None = None
    """Our busy marker while this refresh holds the lease."""
    verify: bool = False
    """Trust no marker: an intent asked for it, or our lease was taken over."""
    pending: list[str] = field(default_factory=list)
    """Intents the queue was last seen to hold (read at the start of the next round)."""
    drained: dict[str, str] = field(default_factory=dict)
    """Intents read (path: token), dropped once their paths are published."""
    carried: dict[str, frozenset[str]] = field(default_factory=dict)
    """The paths of each intent read (by the intent's path)."""
    answered: set[str] = field(default_factory=set)
    """Intents whose delete was ours: we report what their paths came to."""
    doubted: set[str] = field(default_factory=set)
    """Paths whose descriptions disagreed: only a stat tells what they are."""
    handed: bool = False
    """Our own paths went into the queue: whoever deletes that intent reports them."""
    found: Sequence[InputError] = ()
    """Bad input as the last published round saw it (it looked at every path so far)."""
    queue_errors: list[InputError] = field(default_factory=list)
    lost_lease: bool = False
    own: frozenset[str] = frozenset()
    """The paths this refresh was asked about (what it hands over, if it must)."""
    own_hints: Mapping[str, ObjectInfo] = field(default_factory=dict)
    published: bool = False
    """A round of ours was released: our own paths are published."""
    idle: Marker | None = None
    """The marker as our release left it (the next round takes the lease from it)."""
    last: Loaded | None = None
    """The state as this round committed or read it (the next round's, if it takes the lease
    from ``idle``)."""
    taken_from: bytes | None = None
    """The marker's bytes before we took the lease."""
    public_url: str | None = None
    """Where the storage's root is served: pages link provenance documents by a full URL."""
    attested: dict[tuple[str, str], Attested | BadAttestationError] = field(default_factory=dict)

    def run(self) -> Report:
        try:
            return self._rounds()
        except InputError:
            # bad input stops this refresh, not the project: the lease goes back as it was
            # (storage trouble keeps it: the redelivery takes it over and repairs)
            if self.held is not None:
                lease.release(self.storage, self._marker_path, self.held, self.taken_from)
                self.held = None
            raise

    def _rounds(self) -> Report:
        tries = attempts(f"project {self.project!r}")
        next(tries)
        first = True
        for _ in range(MAX_ROUNDS):
            step = self._attempt(first=first)
            if step is _Step.DONE:
                return self.report
            first = False
            if step is _Step.CONFLICT:
                self.idle = self.last = None  # read them again
                self.report.conflicts += 1
                next(tries)
        raise ConflictError(f"project {self.project!r} (its queue kept refilling)", MAX_ROUNDS)

    @property
    def _marker_path(self) -> str:
        return marker_path(self.project)

    def _attempt(self, *, first: bool) -> _Step:
        listing = Listing(self.known) if first and self.repair and self.known else None
        marker = self.held
        if marker is None and listing is None:
            # after our own release the marker and the state are as we left them, unless
            # someone took the lease since: then taking it from that marker fails
            if self.idle is not None:
                marker, self.idle = self.idle, None
                step = self._enter(marker)
            else:
                marker, step = self._open()
            if step is not None:
                return step
        if listing is not None:
            self.pending = self._listed_queue(listing)
        self._take_queue()
        loaded = self._load_state()
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
            return _Step.CONFLICT
        plan = project_plan(new, self.public_url)
        # the plan renders every page: an unchanged state (a duplicate event) is rendered once
        trusted = plan if new == loaded.state else project_plan(loaded.state, self.public_url)
        if marker is None:  # a build: the listing tells which plan's digest the marker holds
            known = [d for d in (plan.marker().data, trusted.marker().data) if d is not None]
            marker = read_marker(self.storage, self._marker_path, listing, known)
            if self._blocked_by(marker):
                return self._blocked()
        digest = plan.marker().data
        trust = not self.repair and not self.verify
        if trust and new == loaded.state and digest is not None and marker.data == digest:
            # current (a lease taken eagerly for a duplicate event goes back as it was)
            return self._close(marker, digest, new, errors, relist=listing is None)
        step = self._publish(
            marker=marker,
            loaded=loaded,
            new=new,
            plan=plan,
            trusted=trusted,
            candidates=candidates,
            listing=listing,
        )
        if step is not None:
            return step
        return self._close(marker, digest, new, errors, relist=listing is None)

    def _close(
        self,
        marker: Marker,
        digest: bytes | None,
        new: ProjectState,
        errors: Sequence[InputError],
        *,
        relist: bool,
    ) -> _Step:
        if self.held is None and marker.data != digest:
            # nothing was written, but the marker does not say so (lost in a crash): one swap,
            # which fails if anyone took the lease since it was read
            try:
                self._take(marker)
            except LostRaceError:
                return _Step.CONFLICT
        if self.held is not None:
            return self._release(self.held, digest, new, errors)
        return self._finish(new, errors, relist=relist)

    def _publish(
        self,
        *,
        marker: Marker,
        loaded: Loaded,
        new: ProjectState,
        plan: Plan,
        trusted: Plan,
        candidates: set[str],
        listing: Listing | None,
    ) -> _Step | None:
        """Commit (under the lease) and publish; ``None`` when done, else the step to take."""
        try:
            self.last = loaded
            commit = None
            if needs_commit(loaded, new, repair=self.repair):
                self._take(marker)
                commit = partial(self._commit, loaded, new, plan)
            Publish(
                self.storage,
                plan,
                self._sidecar,
                self.report,
                stored=None if marker.busy else marker.data,
                marker_absent=marker.token == ABSENT,
                before_write=lambda: self._take(marker),
                trusted=trusted,
                trust_marker=not self.repair and not self.verify,
                gone=sorted(
                    p for p in candidates - set(new.by_path()) if looks_like_distribution(p)
                ),
                stale=self._stale(new, candidates) + stale_provenance(new, candidates),
                root=not self.repair,
                holder=self.holder,
                # a build's listing of the project's objects stands in for reading each of them
                listing=listing,
                in_place=self.sidecars_in_place,
                commit=commit,
            ).run()
        except LostRaceError:
            return _Step.CONFLICT
        except ObjectsMovedError as e:
            self.paths |= e.paths  # the state catches up with them on the next attempt
            return _Step.CONFLICT
        return None

    def _commit(self, loaded: Loaded, new: ProjectState, plan: Plan) -> bool:
        """Commit the state (under the lease) and meanwhile write the sidecars of the files
        it adds that this run parsed: a round trip less on the way to the pages. A sidecar
        no state names is harmless (a lost commit leaves one, the next publish of its file
        finds it), and the publish that follows must not write it again."""
        if not waits(self.storage):  # a folder: the publish writes them after, in turn
            return self._committed(new, commit(self.storage, loaded, new))
        before = {(r.path, r.generation) for r in loaded.state.records}
        early = [
            (sidecar, parsed.sidecar)
            for sidecar in plan.sidecars
            if (key := (sidecar.record.path, sidecar.record.generation)) not in before
            and isinstance(parsed := self.parsed.get(key), Parsed)
            and (sidecar.path, sidecar.sha256) not in self.sidecars_in_place
        ]
        if not early:
            return self._committed(new, commit(self.storage, loaded, new))

        def write(item: tuple[Sidecar, bytes]) -> None:
            sidecar, data = item
            self.storage.put(
                sidecar.path,
                data,
                content_type=SIDECAR_CONTENT_TYPE,
                cache_control=FILE_CACHE_CONTROL,
            )

        with ThreadPoolExecutor(min(len(early), PARALLEL_READS)) as pool:
            writes = pool.map(write, early)
            token = commit(self.storage, loaded, new)
            for _ in writes:
                self.report.writes += 1
        self.sidecars_in_place.update((s.path, s.sha256) for s, _ in early)
        return self._committed(new, token)

    def _committed(self, new: ProjectState, token: str | None) -> bool:
        if token is None:
            return False
        self.last = Loaded(new, token, new.to_json() if new.exists else None)
        self.report.writes += 1
        return True

    def _load_state(self) -> Loaded:
        """The state, and meanwhile the objects the events described streamed and parsed
        (independent requests: one round trip instead of two on the way to the commit). A
        duplicate event's object is then read for nothing; a stale description fails its
        pinned read, which the parse in ``next_state`` meets again and answers with a stat."""
        # the state as our last round committed (or read) it, if we released and took the lease
        # back since: no one else could change it in between
        known, self.last = self.last, None
        wanted = self._unparsed_hints(known.state if known is not None else None)

        def state() -> Loaded:
            if known is not None:
                return known
            return load_state(self.storage, self.project, repair=self.repair)

        if not wanted:
            return state()
        with ThreadPoolExecutor(min(len(wanted), PARALLEL_READS)) as pool:
            reads = [pool.submit(self._parse, hint) for hint in wanted]
            loaded = state()
            for read in reads:
                with contextlib.suppress(ObjectChangedError):
                    read.result()
        return loaded

    def _unparsed_hints(self, state: ProjectState | None = None) -> list[ObjectInfo]:
        """Described objects this refresh has not parsed, and (given the state) that the
        state does not record at that generation (a duplicate event's object needs no read)."""
        recorded = state.by_path() if state is not None else {}
        return [
            hint
            for path, hint in sorted(self.hints.items())
            if path in self.paths
            and looks_like_distribution(path)
            and (path, hint.generation) not in self.parsed
            and ((r := recorded.get(path)) is None or r.generation != hint.generation)
        ]

    def _take_queue(self) -> None:
        """Read the intents last seen in the queue; their paths join this refresh."""
        taken = read_queue(self.storage, self.pending)
        self.pending = []
        self.paths |= taken.intent.paths
        # two descriptions of one object that disagree: neither is believed, the object is
        # looked at as it is (a stat) by this refresh from now on
        self.doubted |= taken.doubted | lease.disagreeing(self.hints, taken.intent.hints)
        self.hints.update(taken.intent.hints)
        for path in self.doubted:
            self.hints.pop(path, None)
        self.verify |= taken.intent.verify
        self.drained.update(taken.tokens)
        self.carried.update(taken.carried)
        self.queue_errors += taken.errors

    def _listed_queue(self, listing: Listing) -> list[str]:
        prefix = lease.queue_prefix(self.project)
        return sorted(p for p in listing.objects if p.startswith(prefix))

    def _open(self) -> tuple[Marker, _Step | None]:
        """The marker and the state read at once; then, if the events described objects the
        state does not have, they are streamed while the lease is taken: three round trips
        become two on the way to the commit. A refresh that must hand over has read the state
        for nothing; a duplicate event takes no lease and streams nothing."""
        with ThreadPoolExecutor(1 + PARALLEL_READS) as pool:
            state = pool.submit(load_state, self.storage, self.project, repair=self.repair)
            marker = read_marker(self.storage, self._marker_path)
            if self._blocked_by(marker):
                return marker, self._blocked()
            self.last = state.result()
            new = self._unparsed_hints(self.last.state)
            reads = [pool.submit(self._parse, hint) for hint in new]
            step = self._enter(marker, work=bool(new or self.pending))
            for read in reads:
                with contextlib.suppress(ObjectChangedError):
                    read.result()
        return marker, step

    def _enter(self, marker: Marker, *, work: bool | None = None) -> _Step | None:
        """Hand over or wait if the lease is someone else's. An event's new upload, or a queue
        seen holding intents, always means work: the lease is taken before reading anything
        more, so that the losers of a burst hand over cheaply (nothing read in vain)."""
        if self._blocked_by(marker):
            return self._blocked()
        if work is None:
            work = bool(self.hints or self.pending)
        if work and self.held is None:
            try:
                self._take(marker)
            except LostRaceError:
                return _Step.CONFLICT
        return None

    def _blocked_by(self, marker: Marker) -> bool:
        """Held by another, or by another delivery of our own event after it took our lease
        over (at-least-once delivery runs copies at once): we hand over instead of fighting."""
        # a build repairs: it takes any lease over (its holder, if alive, loses its release
        # and hands a verifying publish over: safe, only more work)
        return lease.blocks(marker, self.holder, lost=self.lost_lease, force=self.repair)

    def _blocked(self) -> _Step:
        """The lease is someone else's: hand the paths over (an event), or wait (a command
        line, a build). After handing over, the marker is read again: still busy, its holder
        will list the queue after releasing; free, this refresh drains the queue itself."""
        if not self.handoff:
            lease.wait_until_free(self.storage, self._marker_path, self._blocked_by)
            return _Step.AGAIN
        if self.published and not self.verify:
            # our own paths are out; intents we read and did not drop are still queued
            self.report.handed_off.add(self.project)
            return self._done()
        # only our own paths: the intents we read are still queued for the holder to find
        intent = Intent(set(self.own), hints_for(self.own, self.own_hints), self.verify)
        mine = lease.enqueue(self.storage, self.project, intent, self.holder)
        self.handed = True
        if self._blocked_by(read_marker(self.storage, self._marker_path)):
            self.report.handed_off.add(self.project)
            return self._done()
        self.pending = [mine]  # free now: drain our own intent (and whatever else is there)
        return _Step.AGAIN

    def _take(self, marker: Marker) -> None:
        if self.held is None:
            held = lease.take(self.storage, self._marker_path, marker, self.holder)
            if held is None:
                raise LostRaceError
            self.held, self.taken_from = held, marker.data

    def _release(
        self, held: Marker, digest: bytes | None, new: ProjectState, errors: Sequence[InputError]
    ) -> _Step:
        self.answered |= lease.drop(self.storage, self.drained)
        self.drained = {}
        self.found = errors  # the intents are gone: their paths are ours to report, lease or not
        self.held = None
        self.idle = lease.release(self.storage, self._marker_path, held, digest)
        if self.idle is None:
            # our lease lapsed and was taken over: our writes may have landed on the new
            # holder's, so whoever publishes next verifies everything
            self.verify = self.lost_lease = True
            return _Step.CONFLICT
        self.published = True
        if digest != self.taken_from:
            self.report.writes += 1  # the marker changed, not just came and went busy
        return self._finish(new, errors, relist=True)

    def _finish(self, new: ProjectState, errors: Sequence[InputError], *, relist: bool) -> _Step:
        """Done, unless the queue holds intents: a holder lists it after releasing (the
        enqueuers count on that), and so does a refresh with nothing to do (it may be the
        redelivery of a holder that died between the two). A build that took no lease has
        its listing's word for the queue: any intent since was handed to a holder."""
        self.answered |= lease.drop(self.storage, self.drained)
        self.drained = {}
        self.found = errors
        self.pending = lease.queued(self.storage, self.project) if relist else []
        if self.pending:
            return _Step.AGAIN
        if new.exists:
            self.report.projects.add(self.project)
            self.report.files = len(new.served())
        return self._done()

    def _done(self) -> _Step:
        """Report the bad input this refresh answers for. Two refreshes may look at one path
        (an event that handed it over and then found the lease free, and the holder that
        drained its intent), but one answers for it: the one whose delete removed the intent
        that carried it, or the one asked about it that never handed it over. A build answers
        for everything it looked at."""
        mine = set() if self.handed else set(self.own)
        for path in self.answered:
            mine |= self.carried.get(path, frozenset())

        def answers(e: InputError) -> bool:
            return self.repair or e.path in mine or attested_path(e.path) in mine

        queue = [e for e in self.queue_errors if self.repair or e.path in self.answered]
        self.report.errors = [*queue, *filter(answers, self.found)]
        return _Step.DONE

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
        if first and path in self.known:
            return self.known[path]
        hint = self.hints.pop(path, None)  # trusted once, like a build's listing
        if hint is not None and (cached is None or cached.generation != hint.generation):
            return hint
        return self.storage.stat(path)

    def _parse(self, info: ObjectInfo) -> Parsed | BadDistributionError:
        read = partial(parse_distribution, self.storage)
        return _once(self.parsed, info, read, BadDistributionError)

    def _attest(self, info: ObjectInfo) -> Attested | BadAttestationError:
        read = partial(read_attestation, self.storage)
        return _once(self.attested, info, read, BadAttestationError)

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


def _once(
    cache: dict[tuple[str, str], _T | _E],
    info: ObjectInfo,
    read: Callable[[ObjectInfo], _T],
    error: type[_E],
) -> _T | _E:
    """One read per object generation and refresh, its bad-input error remembered too."""
    key = (info.path, info.generation)
    if key not in cache:
        try:
            cache[key] = read(info)
        except error as e:
            cache[key] = e
    return cache[key]


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
    event_id: str | None = None,
    holder: str | None = None,
    public_url: str | None = None,
) -> Report:
    """Refresh one project for these paths. ``known`` are listing entries a build trusts on
    its first attempt; ``repair`` re-looks at every recorded file, starts over from an
    unreadable state and verifies every object instead of trusting the publish marker.
    ``event_id``: the refresh serves that event, whose failure would be redelivered, so it may
    hand its paths to the project's lease holder and return (else it waits for the lease).
    ``holder``: who takes the lease otherwise (``lease.operator_holder`` for a command line);
    random by default."""
    asked = frozenset(paths)
    job = _Project(
        storage,
        project,
        set(asked),
        known or {},
        dict(hints or {}),
        repair,
        frozenset(markers),
        holder or holder_id(event_id),
        handoff=event_id is not None,
        own=asked,
        own_hints=dict(hints or {}),
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
    event_id: str | None = None,
    holder: str | None = None,
    public_url: str | None = None,
) -> Report:
    """Update the index for these changed object paths; reads only the affected projects.

    ``hints`` are what the events said of the objects (a finalized object's size, generation,
    creation time and metadata); they save a stat per new upload and are never trusted further
    than a read pinned to their generation. ``event_id`` names the event being served and
    ``holder`` who takes leases (see ``update_project``). ``public_url`` is where the storage's
    root is served (provenance links need a full URL).
    """
    report = Report()
    for project, project_paths in sorted(group(paths, report).items()):
        try:
            report.merge(
                update_project(
                    storage,
                    project,
                    project_paths,
                    hints=hints,
                    event_id=event_id,
                    holder=holder,
                    public_url=public_url,
                )
            )
        except CorruptStateError as e:  # other projects still get their refresh
            report.errors.append(e)
    return report
