"""The root pages: ``simple/index.json`` (their compare-and-swap object), then
``simple/index.html`` and ``browse/index.html`` rendered from the names it lists.

One loop serves a refresh (add or drop one project) and a build (the projects whose state
exists): the caller says which names it wants given the names listed now.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pypapo import browse, lease, render
from pypapo.cas import attempts, swap
from pypapo.layout import INDEX_PREFIX, ROOT_HTML, ROOT_JSON, object_name_problem
from pypapo.lease import QUEUE_NAME, Marker
from pypapo.pages import parse_root_json
from pypapo.report import Report
from pypapo.storage import ABSENT, Blob, Storage, at_once

Names = frozenset[str]


def _names(blob: Blob | None) -> Names:
    return frozenset(parse_root_json(blob.data)) if blob is not None else frozenset()


def _html_pages(names: Names) -> tuple[tuple[str, bytes | None, str], ...]:
    return (
        (ROOT_HTML, render.root_html(names) if names else None, render.HTML_CONTENT_TYPE),
        (browse.ROOT_PAGE, browse.root_page(names) if names else None, browse.CONTENT_TYPE),
    )


def _stale_html(storage: Storage, names: Names) -> list[tuple[str, bytes | None, str]]:
    """The HTML pages that do not hold what ``names`` renders (each one read)."""
    stale = []
    for path, data, content_type in _html_pages(names):
        blob = storage.get(path)
        if (blob.data if blob is not None else None) != data:
            stale.append((path, data, content_type))
    return stale


def _write_html(storage: Storage, names: Names, report: Report, *, verify: bool) -> None:
    """The HTML root and the browse root, at once (both after the JSON page they render);
    with ``verify``, only those that differ."""

    def write(page: tuple[str, bytes | None, str]) -> None:
        path, data, content_type = page
        if data is None:
            storage.delete(path)
        else:
            storage.put(path, data, content_type=content_type)

    pages = _stale_html(storage, names) if verify else list(_html_pages(names))
    at_once(storage, write, pages)
    report.writes += len(pages)


ROOT_LEASE = INDEX_PREFIX + ".roots"
"""The root pages' lease: a busy record while a publisher works on them, absent otherwise."""
ROOT_QUEUE = INDEX_PREFIX + QUEUE_NAME
"""``<project>``: ``listed`` or ``unlisted``, handed to the root pages' lease holder (one object
per project: a later hand-over for the project replaces an earlier one)."""
_LISTED = {b"listed\n": True, b"unlisted\n": False}


@dataclass
class _Roots:
    """One settling of the root pages under their lease (``lease``: as a project's)."""

    storage: Storage
    report: Report
    holder: str
    before_write: Callable[[], None]
    held: Marker | None = None
    lost: bool = False
    force: bool = False
    """A build's repair takes the lease over whoever holds it."""

    def left_behind(self) -> bool:
        """A repair's question: did a run that died leave our lease busy, or the queue
        undrained (it died between releasing and listing)?"""
        marker = lease.read_marker(self.storage, ROOT_LEASE)
        return marker.holder == self.holder or any(True for _ in self.storage.list(ROOT_QUEUE))

    def blocked(self, marker: Marker) -> bool:
        return lease.blocks(marker, self.holder, lost=self.lost, force=self.force)

    def take(self, marker: Marker) -> bool:
        self.before_write()
        self.held = lease.take(self.storage, ROOT_LEASE, marker, self.holder)
        return self.held is not None

    def release(self) -> bool:
        held, self.held = self.held, None
        assert held is not None  # noqa: S101 (only called while holding)
        self.lost = lease.release(self.storage, ROOT_LEASE, held, None) is None
        return not self.lost

    def hand_over(self, project: str, listed: bool) -> bool:
        """Queue the project's membership for the holder; whether it will see it."""
        self.before_write()
        self.storage.put(
            ROOT_QUEUE + project,
            b"listed\n" if listed else b"unlisted\n",
            content_type="text/plain; charset=utf-8",
        )
        return self.blocked(lease.read_marker(self.storage, ROOT_LEASE))

    def queued(self) -> dict[str, tuple[bool, str]]:
        """The queue's decisions by project, with the tokens to drop them by; an unreadable
        entry is dropped (the project's next publish or a build settles it)."""
        found: dict[str, tuple[bool, str]] = {}
        for info in self.storage.list(ROOT_QUEUE):
            blob = self.storage.get(info.path)
            if blob is None:
                continue
            project = info.path.removeprefix(ROOT_QUEUE)
            if blob.data in _LISTED and object_name_problem(project) is None and "/" not in project:
                found[project] = (_LISTED[blob.data], blob.token)
            else:
                self.storage.delete(info.path, if_token=blob.token)
        return found


def settle(
    storage: Storage,
    wanted: Callable[[Names], Names],
    report: Report,
    *,
    verify: bool,
    before_write: Callable[[], None] = lambda: None,
    holder: str | None = None,
    hand_over: tuple[str, bool] | None = None,
    force: bool = False,
    ready: Callable[[], bool] = lambda: True,
    marker: Marker | None = None,
) -> None:
    """Make the root pages list ``wanted(listed now)``, under the root pages' lease.

    ``hand_over`` (a project and whether it is listed: an event's change of one project's
    membership) may be handed to a current holder through the root queue instead of waiting
    for it. Whoever holds the lease applies every queued decision too, then releases it and
    lists the queue again. The JSON page changes by compare-and-swap; the HTML pages follow it.
    ``verify`` also compares the HTML pages when the JSON needs no change (a repair: an earlier
    writer may have died between the two). ``before_write`` runs before any write. ``ready``
    is asked before the first write to the pages or their queue, and may block: a publisher's
    own pages go in place meanwhile (a root page names a project only once its pages exist);
    ``False`` gives up, with the lease given back. ``marker``: what the first attempt takes
    the lease from without reading it (``Marker(None, ABSENT)``: free, taken create-only); a
    wrong guess fails the take, and the next attempt reads the lease.
    """
    job = _Roots(storage, report, holder or lease.holder_id(None), before_write, force=force)
    # a repairing publish also finishes what a run of its own left (a build has no such run)
    left = verify and not force and job.left_behind()
    # an event's change of membership needs writing unless someone else did it: no read first
    if not left and hand_over is None and not _needs_writing(storage, wanted, verify=verify):
        return  # no lease taken for nothing: a warm build writes nothing at all
    first = True
    read = marker
    for _ in attempts("root pages"):
        marker, read = read or lease.read_marker(storage, ROOT_LEASE), None
        if job.blocked(marker):
            if hand_over is None:
                lease.wait_until_free(storage, ROOT_LEASE, job.blocked)
            elif not ready() or job.hand_over(*hand_over):
                return
            # else the lease came free as we handed over: take it (an event never waits)
            continue
        if not job.take(marker):
            report.conflicts += 1
            continue
        root = storage.get(ROOT_JSON)  # read before waiting for ``ready``: a round trip less
        if not ready():
            job.release()
            return
        queue = {} if first else job.queued()
        first = False
        if not _settle_held(storage, wanted, root, queue, report, verify=verify):
            job.release()
            report.conflicts += 1
            continue
        for project, (_, token) in queue.items():
            storage.delete(ROOT_QUEUE + project, if_token=token)
        if not job.release():
            verify = True  # our lease lapsed: whoever holds it now may have met our writes
            report.conflicts += 1
            continue
        if not any(True for _ in storage.list(ROOT_QUEUE)):
            return
        verify = False


def _needs_writing(storage: Storage, wanted: Callable[[Names], Names], *, verify: bool) -> bool:
    names = _names(storage.get(ROOT_JSON))
    if wanted(names) != names:
        return True
    return verify and bool(_stale_html(storage, names))


def _settle_held(
    storage: Storage,
    wanted: Callable[[Names], Names],
    root: Blob | None,
    queue: dict[str, tuple[bool, str]],
    report: Report,
    *,
    verify: bool,
) -> bool:
    """Apply ``wanted`` and the queued decisions to the JSON page as read (``root``, under
    the lease); ``False`` if it changed since (a lapsed lease's holder: the swap failed)."""
    names, token = _names(root), (root.token if root is not None else ABSENT)
    queued = {p for p, (listed, _) in queue.items() if listed}
    unqueued = {p for p, (listed, _) in queue.items() if not listed}
    want_names = wanted(frozenset((names | queued) - unqueued))  # the caller's has the last word
    if want_names != names:
        data = render.root_json(want_names) if want_names else None
        if swap(storage, ROOT_JSON, data, token, content_type=render.JSON_CONTENT_TYPE) is None:
            return False
        report.writes += 1
        _write_html(storage, want_names, report, verify=False)
    elif verify:
        _write_html(storage, names, report, verify=True)
    return True
