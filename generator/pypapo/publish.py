"""Apply a project's plan to storage: make every object the plan names hold its bytes.

The plan's marker makes "nothing to do" cheap and safe (``lease``: it is also the project's
publish lease). A marker holding a digest proves that plan was applied in full; a publish takes
the lease (the marker turns busy) before its first write and releases it with the new digest
after its last. Hence two ways to publish:

- **diff**: the marker holds the digest of the plan this state was committed from: every object
  of that plan is in place, so only the objects the two plans disagree on are written;
- **verify**: anything else (a busy marker left by a publisher that died, an unknown digest, a
  repair): every object is read and compared, and rewritten where it differs.

The caller decides "current" (the marker already holds this plan's digest) before publishing.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from pypapo import roots
from pypapo.layout import sidecar_path
from pypapo.lease import Marker
from pypapo.listing import Listing
from pypapo.model import FileRecord
from pypapo.plan import SIDECAR_CONTENT_TYPE, Page, Plan, Sidecar
from pypapo.report import Report
from pypapo.storage import ABSENT, FILE_CACHE_CONTROL, Storage, at_once, waits

SidecarSource = Callable[[FileRecord], bytes | None]
"""The sidecar bytes of a record's generation, or ``None`` when that generation is no longer
the live object (the state must catch up with it first)."""


class LostRaceError(Exception):
    """The lease could not be taken (the marker changed since it was read), or the state's
    commit lost to another writer's."""


class ObjectsMovedError(Exception):
    """Objects the plan needs to read no longer have the recorded generation."""

    def __init__(self, paths: set[str]) -> None:
        super().__init__(f"objects changed: {sorted(paths)}")
        self.paths = paths


@dataclass
class _Writer:
    """Writes on behalf of one publish, taking the lease before the first of them."""

    storage: Storage
    report: Report
    before_write: Callable[[], None]
    wrote: bool = False
    _counting: threading.Lock = field(default_factory=threading.Lock)
    """The pages are written at once, and the root pages meanwhile."""
    _taking: threading.Lock = field(default_factory=threading.Lock)
    """The first write takes the lease: the others wait for it."""

    def touch(self) -> None:
        with self._taking:
            self.before_write()
            self.wrote = True

    def _count(self) -> None:
        with self._counting:
            self.report.writes += 1

    def put(
        self, path: str, data: bytes, content_type: str, cache_control: str | None = None
    ) -> None:
        self.touch()
        if cache_control is None:
            self.storage.put(path, data, content_type=content_type)
        else:
            self.storage.put(path, data, content_type=content_type, cache_control=cache_control)
        self._count()

    def delete(self, path: str) -> None:
        self.touch()
        if self.storage.delete(path):
            self._count()


@dataclass
class _Gate:
    """Opened once the project's own objects are in place (``go``), or failed to be."""

    go: bool = False
    _opened: threading.Event = field(default_factory=threading.Event)

    def open(self, *, go: bool) -> None:
        self.go = go
        self._opened.set()

    def wait(self) -> bool:
        self._opened.wait()
        return self.go


@dataclass
class Publish:
    """One project's publish. ``stored`` is the marker's bytes as read before; ``trusted`` the
    plan the committed state came from (its objects are in place if the marker holds its
    digest); ``trust_marker`` is off for repairs and after a lost lease; ``gone`` are paths the
    refresh was about that have no record (their sidecars must not exist); ``root`` is off in
    builds, which settle the root pages once at the end; ``before_write`` takes the lease."""

    storage: Storage
    plan: Plan
    sidecars: SidecarSource
    report: Report
    stored: bytes | None
    before_write: Callable[[], None]
    trusted: Plan | None = None
    trust_marker: bool = True
    gone: Iterable[str] = ()
    stale: Iterable[str] = ()
    """Quarantine markers that may exist and must not unless the plan has them (verify)."""
    root: bool = True
    marker_absent: bool = False
    """The marker did not exist (rather than being busy or unreadable)."""
    holder: str | None = None
    """Who takes the root pages' lease (the project lease's holder)."""
    commit: Callable[[], bool] | None = None
    """The state's commit, run before anything is written or removed (and meanwhile the root
    pages' lease is taken, when the project joins or leaves them); ``False``: it lost its
    race, and so does the publish."""
    listing: Listing | None = None
    """A build's listing of the project's objects, decided from instead of reading each one
    (verify mode, first attempt only: a listing is as old as the build)."""
    moved: set[str] = field(default_factory=set)
    in_place: set[tuple[str, str]] = field(default_factory=set)
    """Sidecars (path, sha256) this refresh already saw or wrote: a retry after a lost race
    need not read them again (a sidecar's bytes never change for its record)."""
    _vouched: frozenset[tuple[str, str]] = field(default=frozenset(), init=False)
    """Sidecars (path, sha256) of the plan the listed marker holds the digest of."""

    def run(self) -> bool:
        """Commit, then apply the plan; whether anything was written. Raises
        ``LostRaceError`` (from ``before_write``, or a lost commit) or ``ObjectsMovedError``
        (the caller re-reads the state)."""
        base = self._base(self.stored)
        self._vouched = self._vouched_sidecars(self.stored)
        writer = _Writer(self.storage, self.report, self.before_write)
        if self.plan.marker().data is None and self.stored is not None:
            self.before_write()  # a project going away: no marker may outlive its pages
        self._apply(writer, base)
        if self.moved:
            raise ObjectsMovedError(self.moved)
        return writer.wrote

    def _vouched_sidecars(self, stored: bytes | None) -> frozenset[tuple[str, str]]:
        """With a listing: the sidecars of this plan or of the one the state was committed
        from, whichever the listed marker vouches for (a build that committed a changed state
        still trusts the sidecars the two plans share)."""
        for plan in (self.plan, self.trusted) if self.listing is not None else ():
            data = plan.marker().data if plan is not None else None
            if plan is not None and data is not None and stored == data:
                return frozenset((s.path, s.sha256) for s in plan.sidecars)
        return frozenset()

    def _base(self, stored: bytes | None) -> Plan | None:
        """The plan whose objects are known to be in place, or None: verify everything."""
        trusted = self.trusted
        if not self.trust_marker or trusted is None:
            return None
        expected = trusted.marker().data
        if expected is None:
            # a project without files has no marker: an absent one (not a busy one, which a
            # dead publisher leaves) means its last publish, a removal, finished
            return trusted if self.marker_absent else None
        return trusted if stored == expected else None

    def _apply(self, writer: _Writer, base: Plan | None) -> None:
        """The commit and the project's own objects, and meanwhile (when the project joins
        or leaves them) the root pages: their lease is taken alongside the commit and their
        JSON page read alongside the project's pages, and their first write waits until
        those are in place."""
        if not self.root or (base is not None and base.listed == self.plan.listed):
            self._own(writer, base)
            return
        if not waits(self.storage):  # a folder: in turn, in the same order
            self._own(writer, base)
            if not self.moved:
                self._roots(writer, self.report, verify=base is None)
            return
        gate = _Gate()
        settled = Report()
        with ThreadPoolExecutor(1) as pool:
            done = pool.submit(self._roots, writer, settled, gate.wait, verify=base is None)
            try:
                self._own(writer, base)
            except BaseException:
                gate.open(go=False)  # the root pages' lease goes back untouched
                raise
            gate.open(go=not self.moved)
            done.result()
        self.report.writes += settled.writes
        self.report.conflicts += settled.conflicts

    def _own(self, writer: _Writer, base: Plan | None) -> None:
        if self.commit is not None and not self.commit():
            raise LostRaceError
        known = self._remove_unwanted(writer, base)
        for page in self.plan.quarantine:
            self._page(writer, page, known)
        for sidecar in self.plan.sidecars:
            if known is None or known.get(sidecar.path) != sidecar.fingerprint():
                self._sidecar(writer, sidecar, verify=known is None)
        if self.moved:
            return  # no page may name a sidecar that is not there: the state catches up first
        # the three pages are independent of each other once the sidecars are in place
        at_once(self.storage, lambda page: self._page(writer, page, known), self.plan.pages())

    def _roots(
        self,
        writer: _Writer,
        report: Report,
        ready: Callable[[], bool] = lambda: True,
        *,
        verify: bool,
    ) -> None:
        project, listed = self.plan.project, self.plan.listed
        roots.settle(
            self.storage,
            lambda names: names | {project} if listed else names - {project},
            report,
            verify=verify,
            before_write=writer.touch,
            holder=self.holder,
            hand_over=(project, listed),
            ready=ready,
            # free, the lease is absent: taken create-only without reading it first
            marker=Marker(None, ABSENT),
        )

    def _remove_unwanted(self, writer: _Writer, base: Plan | None) -> dict[str, str] | None:
        """Delete what the plan has no place for; the fingerprints of ``base``'s objects (all
        in place), or ``None`` when every object must be verified."""
        marked = {m.path for m in self.plan.quarantine}
        if base is None:
            for path in self.gone:
                self._forget(sidecar_path(path))
                self._remove(writer, sidecar_path(path))
            for path in self.stale:
                if path not in marked:
                    self._remove(writer, path)
            return None
        wanted = {s.path for s in self.plan.sidecars}
        for sidecar in base.sidecars:
            if sidecar.path not in wanted:
                self._forget(sidecar.path)
                writer.delete(sidecar.path)
        for old in base.quarantine:
            if old.path not in marked:
                writer.delete(old.path)
        return {e.path: e.fingerprint() for e in base.entries()}

    def _forget(self, path: str) -> None:
        """A sidecar deleted is no longer in place, whatever an earlier round saw of it."""
        for key in [key for key in self.in_place if key[0] == path]:
            self.in_place.discard(key)

    def _remove(self, writer: _Writer, path: str) -> None:
        # a path the listing lacks was absent when the build began: nothing to delete
        if self.listing is None or self.listing.holds(path, None) is not True:
            writer.delete(path)

    def _page(self, writer: _Writer, page: Page, base: dict[str, str] | None) -> None:
        if base is not None and base.get(page.path) == page.fingerprint():
            return
        if base is None and self._page_in_place(page):
            return
        if page.data is None:
            writer.delete(page.path)
            return
        writer.put(page.path, page.data, page.content_type)

    def _page_in_place(self, page: Page) -> bool:
        """Verify mode: the listing's checksum against the rendered bytes, else a read."""
        verdict = self.listing.holds(page.path, page.data) if self.listing is not None else None
        if verdict is not None:
            return verdict
        if page.data is None:
            return False  # deleting an absent page costs a request and changes nothing
        blob = self.storage.get(page.path)
        return blob is not None and blob.data == page.data

    def _sidecar_in_place(self, sidecar: Sidecar) -> bool:
        """Verify mode: the marker's word for a sidecar listed before it, else its hash."""
        if self.listing is not None:
            vouched = (sidecar.path, sidecar.sha256) in self._vouched
            marker = self.plan.marker().path if vouched else None
            verdict = self.listing.vouched(sidecar.path, marker)
            if verdict is not None:
                return verdict
        blob = self.storage.get(sidecar.path)
        return blob is not None and hashlib.sha256(blob.data).hexdigest() == sidecar.sha256

    def _sidecar(self, writer: _Writer, sidecar: Sidecar, *, verify: bool) -> None:
        key = (sidecar.path, sidecar.sha256)
        if key in self.in_place or (verify and self._sidecar_in_place(sidecar)):
            self.in_place.add(key)
            return
        data = self.sidecars(sidecar.record)
        if data is None:
            self.moved.add(sidecar.record.path)
            return
        writer.put(sidecar.path, data, SIDECAR_CONTENT_TYPE, FILE_CACHE_CONTROL)
        self.in_place.add(key)
