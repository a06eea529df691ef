"""Bring the index up to date for changed objects: state-based, concurrent-safe, O(project).

For each path the object is looked at *as it is now*; the event that named it is only a hint,
so duplicated, reordered and stale events converge to the same pages.

Per project, in this order:
1. Compare-and-swap the project state (``simple/<p>/.state.json``) against the token read at
   the start of the attempt; on conflict re-read the state, re-stat the objects and retry.
2. Reconcile from the committed state: sidecars, then ``index.html``, then (only when the
   project appears or disappears) the root pages, then ``index.json``, and the human browse
   page (``browse/<p>/index.html``) last, so it never shows what installers cannot see yet.
   Then re-read the state token; if another writer committed meanwhile, reconcile again from
   the newer state. The last writer of every page has thus seen the final state.
Because ``index.json`` and then the browse page are written last, "both match the state" means
every earlier step is done; a no-op refresh checks just that (two GETs), so a retried event
repairs a crashed one.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import random
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial

from packaging.utils import NormalizedName, canonicalize_name

from pypapo import browse, render
from pypapo.distribution import Parsed, parse_distribution, yank_reason
from pypapo.errors import (
    BadDistributionError,
    ConflictError,
    CorruptStateError,
    DuplicateFileError,
    InvalidFilenameError,
)
from pypapo.layout import (
    BROWSE_PREFIX,
    INDEX_PREFIX,
    ROOT_HTML,
    ROOT_JSON,
    SIDECAR_SUFFIX,
    STATE_NAME,
    YANK_MARKER_SUFFIX,
    is_own_write,
    looks_like_distribution,
    page_path,
    parse_dist_filename,
    sidecar_path,
    state_path,
)
from pypapo.model import FileRecord, ProjectState
from pypapo.storage import (
    ABSENT,
    FILE_CACHE_CONTROL,
    PAGE_CACHE_CONTROL,
    Blob,
    ObjectChangedError,
    ObjectInfo,
    Storage,
)

log = logging.getLogger("pypapo")

MAX_ATTEMPTS = 40
SIDECAR_CONTENT_TYPE = "application/octet-stream"


@dataclass
class Report:
    """What a refresh or build did; errors are collected, never raised."""

    projects: set[str] = field(default_factory=set)
    files: int = 0
    errors: list[BadDistributionError] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    writes: int = 0
    conflicts: int = 0

    def merge(self, other: Report) -> None:
        self.projects |= other.projects
        self.files += other.files
        self.errors += other.errors
        self.ignored += other.ignored
        self.writes += other.writes
        self.conflicts += other.conflicts


def _backoff(attempt: int) -> None:
    # full jitter keeps colliding writers from retrying in lockstep
    time.sleep(random.uniform(0, min(0.5, 0.005 * 2**attempt)))  # noqa: S311


def load_state(
    storage: Storage, project: NormalizedName, *, repair: bool = False
) -> tuple[ProjectState, str, bytes | None]:
    """The project's state, its token and its bytes. Unreadable, it is an error, or with
    ``repair`` an empty state (a full build starts the project afresh)."""
    blob = storage.get(state_path(project))
    state = _parse_state(project, blob, repair=repair)
    if blob is None:
        return state, ABSENT, None
    return state, blob.token, blob.data


def _parse_state(project: NormalizedName, blob: Blob | None, *, repair: bool) -> ProjectState:
    """An unreadable state is an error for a refresh, which cannot know the project's other
    files; a full build (``repair``) starts it afresh from its listing and overwrites it by
    compare-and-swap."""
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


class _ProjectUpdate:
    """One project's refresh: the CAS loop on its state, then reconciliation of its pages."""

    def __init__(
        self,
        storage: Storage,
        project: NormalizedName,
        paths: Iterable[str],
        *,
        known: Mapping[str, ObjectInfo] | None = None,
        hints: Mapping[str, ObjectInfo] | None = None,
        full: bool = False,
    ) -> None:
        self.storage = storage
        self.project = project
        self.paths = set(paths)
        self.known = dict(known or {})
        self.hints = dict(hints or {})
        self.full = full
        self.report = Report()
        self.parsed: dict[tuple[str, str], Parsed | BadDistributionError] = {}
        # path -> generation its sidecar is known to hold (None: known absent)
        self.sidecar_gen: dict[str, str | None] = {}

    # -- step 1: compare-and-swap the state -------------------------------------------------

    def run(self) -> Report:
        for attempt in range(MAX_ATTEMPTS):
            old, token, stored = load_state(self.storage, self.project, repair=self.full)
            try:
                new, errors = self._desired(old, first=attempt == 0)
            except ObjectChangedError:
                self.report.conflicts += 1
                _backoff(attempt)
                continue
            # a full build also rewrites a state equal in content but not in bytes (an older
            # pypapo's encoding), so that it converges to the bytes a fresh build writes
            if new == old and not (self.full and new.records and stored != new.to_json()):
                self.report.errors = errors
                self._finish(new, token, committed=False, was_empty=not old.records)
                return self.report
            committed = self._commit(new, token)
            if committed is not None:
                self.report.errors = errors
                self.report.writes += 1
                self._finish(new, committed, committed=True, was_empty=not old.records)
                return self.report
            self.report.conflicts += 1
            _backoff(attempt)
        raise ConflictError(f"state of project {self.project!r}", MAX_ATTEMPTS)

    def _commit(self, new: ProjectState, token: str) -> str | None:
        path = state_path(self.project)
        if not new.records:
            if token == ABSENT:
                return ABSENT
            return ABSENT if self.storage.delete(path, if_token=token) else None
        return self.storage.put(
            path, new.to_json(), content_type="application/json", if_token=token
        )

    def _desired(
        self, old: ProjectState, *, first: bool
    ) -> tuple[ProjectState, list[BadDistributionError]]:
        records = old.by_path()
        errors: list[BadDistributionError] = []
        candidates = self.paths | (set(records) if self.full else set())
        for path in sorted(candidates):
            cached = records.get(path)
            info = self._look(path, cached, first=first)
            if info is None:
                records.pop(path, None)
                continue
            if cached is not None and cached.generation == info.generation:
                records[path] = replace(cached, yanked=yank_reason(info))
                continue
            result = self._parse(info)
            if isinstance(result, BadDistributionError):
                records.pop(path, None)
                errors.append(result)
            else:
                records[path] = result.record
        new = ProjectState.of(self.project, records.values())
        errors += [
            _duplicate(r, new.served_instead_of(r)) for r in new.shadowed() if r.path in candidates
        ]
        return new, errors

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

    # -- step 2: reconcile pages with the committed state ---------------------------------

    def _finish(self, state: ProjectState, token: str, *, committed: bool, was_empty: bool) -> None:
        if not committed and not self.full and self._pages_current(state):
            self._tally(state)
            return
        root_changes = committed and was_empty != (not state.records)
        for attempt in range(MAX_ATTEMPTS):
            self._reconcile_sidecars(state)
            # a full build settles the root pages once, after all projects
            self._write_pages(state, not self.full and (root_changes or attempt > 0))
            blob = self.storage.get(state_path(self.project))
            now_token = blob.token if blob is not None else ABSENT
            if now_token == token:
                self._tally(state)
                return
            self.report.conflicts += 1
            state = _parse_state(self.project, blob, repair=self.full)
            token = now_token
        raise ConflictError(f"pages of project {self.project!r}", MAX_ATTEMPTS)

    def _tally(self, state: ProjectState) -> None:
        if state.records:
            self.report.projects.add(self.project)
            self.report.files = len(state.files())

    def _pages_current(self, state: ProjectState) -> bool:
        # index.json, then the browse page, are written last: when both match the state, every
        # earlier write is done
        expected = (
            (
                (page_path(self.project, "json"), render.project_json(state)),
                (browse.project_page_path(self.project), browse.project_page(state)),
            )
            if state.records
            else (
                (page_path(self.project, "json"), None),
                (browse.project_page_path(self.project), None),
            )
        )
        for path, data in expected:
            blob = self.storage.get(path)
            if (blob.data if blob is not None else None) != data:
                return False
        return True

    def _reconcile_sidecars(self, state: ProjectState) -> None:
        records = state.by_path()
        affected = self.paths | set(self.sidecar_gen) | (set(records) if self.full else set())
        for path in sorted(affected):
            record = records.get(path)
            if record is None or record.metadata_sha256 is None:
                if self.sidecar_gen.get(path, "") is not None:
                    self._delete(sidecar_path(path))
                    self.sidecar_gen[path] = None
                continue
            if self.sidecar_gen.get(path) == record.generation:
                continue
            data = self._sidecar_bytes(record)
            if data is not None:
                self._put(sidecar_path(path), data, SIDECAR_CONTENT_TYPE, FILE_CACHE_CONTROL)
                self.sidecar_gen[path] = record.generation

    def _sidecar_bytes(self, record: FileRecord) -> bytes | None:
        """The sidecar to write for ``record``, or None when this refresh need not write it."""
        parsed = self.parsed.get((record.path, record.generation))
        if isinstance(parsed, Parsed):
            return parsed.sidecar
        if not self.full and record.path not in self.sidecar_gen:
            return None  # the refresh that parsed this generation writes its sidecar
        if self.full:
            blob = self.storage.get(sidecar_path(record.path))
            if blob is not None and _sha256(blob.data) == record.metadata_sha256:
                self.sidecar_gen[record.path] = record.generation
                return None
        info = self.storage.stat(record.path)
        if info is None or info.generation != record.generation:
            return None  # the object moved on; the refresh that sees the new one writes it
        try:
            parsed = self._parse(info)
        except ObjectChangedError:
            return None
        return parsed.sidecar if isinstance(parsed, Parsed) else None

    def _write_pages(self, state: ProjectState, root: bool) -> None:
        if state.records:
            self._put(page_path(self.project, "html"), render.project_html(state))
            if root:
                reconcile_root(self.storage, self.project, self.report)
            self._put(page_path(self.project, "json"), render.project_json(state))
            self._put(
                browse.project_page_path(self.project),
                browse.project_page(state),
                browse.CONTENT_TYPE,
            )
        else:
            self._delete(page_path(self.project, "html"))
            if root:
                reconcile_root(self.storage, self.project, self.report)
            self._delete(page_path(self.project, "json"))
            self._delete(browse.project_page_path(self.project))

    def _put(
        self,
        path: str,
        data: bytes,
        content_type: str | None = None,
        cache_control: str = PAGE_CACHE_CONTROL,
    ) -> None:
        if self.full:  # repair mode: rewrite only what differs from what is stored
            blob = self.storage.get(path)
            if blob is not None and blob.data == data:
                return
        if content_type is None:
            content_type = (
                render.JSON_CONTENT_TYPE if path.endswith(".json") else render.HTML_CONTENT_TYPE
            )
        self.storage.put(path, data, content_type=content_type, cache_control=cache_control)
        self.report.writes += 1

    def _delete(self, path: str) -> None:
        if self.storage.delete(path):
            self.report.writes += 1


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _duplicate(record: FileRecord, served: FileRecord) -> DuplicateFileError:
    if record.filename == served.filename:
        return DuplicateFileError(record.path, f"same file name as {served.path!r}; not served")
    return DuplicateFileError(
        record.path,
        f"the same distribution file as {served.path!r} (names differ only in case or "
        "normalization); not served",
    )


def _swap_root_json(storage: Storage, names: set[str], token: str) -> str | None:
    """CAS the root JSON page (the root's state); an empty index has no root pages."""
    if not names:
        if token == ABSENT:
            return ABSENT
        return ABSENT if storage.delete(ROOT_JSON, if_token=token) else None
    return storage.put(
        ROOT_JSON, render.root_json(names), content_type=render.JSON_CONTENT_TYPE, if_token=token
    )


def _write_root_html(storage: Storage, names: set[str]) -> None:
    """The root HTML page, then the browse root (never ahead of the machine pages)."""
    if names:
        storage.put(ROOT_HTML, render.root_html(names), content_type=render.HTML_CONTENT_TYPE)
        storage.put(browse.ROOT_PAGE, browse.root_page(names), content_type=browse.CONTENT_TYPE)
    else:
        storage.delete(ROOT_HTML)
        storage.delete(browse.ROOT_PAGE)


def _token_of(storage: Storage, path: str) -> str:
    blob = storage.get(path)
    return blob.token if blob is not None else ABSENT


def reconcile_root(storage: Storage, project: NormalizedName, report: Report) -> None:
    """Make the root pages list ``project`` exactly when its state exists."""
    html_written_from: str | None = None
    for attempt in range(MAX_ATTEMPTS):
        root = storage.get(ROOT_JSON)
        names = render.parse_root_json(root.data) if root is not None else set()
        token = root.token if root is not None else ABSENT
        state_token = _token_of(storage, state_path(project))
        listed = project in names
        exists = state_token != ABSENT
        if listed == exists and html_written_from in (None, token):
            return
        if listed != exists:
            names = names - {project} if listed else names | {project}
            new_token = _swap_root_json(storage, names, token)
            if new_token is None:
                report.conflicts += 1
                _backoff(attempt)
                continue
            token = new_token
            report.writes += 1
        _write_root_html(storage, names)
        report.writes += 1
        html_written_from = token
        if _token_of(storage, ROOT_JSON) == token and (
            _token_of(storage, state_path(project)) == state_token
        ):
            return
        report.conflicts += 1
    raise ConflictError("root pages", MAX_ATTEMPTS)


def _group(paths: Iterable[str], report: Report) -> dict[NormalizedName, set[str]]:
    groups: dict[NormalizedName, set[str]] = {}
    for raw in paths:
        path = raw[: -len(YANK_MARKER_SUFFIX)] if raw.endswith(YANK_MARKER_SUFFIX) else raw
        if not looks_like_distribution(path):
            if path == raw and _in_reserved_prefix(path):
                report.errors.append(
                    InvalidFilenameError(
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
        groups.setdefault(dist.project, set()).add(path)
    return groups


def _in_reserved_prefix(path: str) -> bool:
    """A distribution-named object a user put among pypapo's pages (never indexed)."""
    return path.startswith((INDEX_PREFIX, BROWSE_PREFIX)) and path.endswith(
        (".whl", ".tar.gz", ".zip")
    )


def _page_project(path: str) -> str | None:
    """The project whose page, state or browse page ``path`` is (``simple/<p>/...``)."""
    for prefix in (INDEX_PREFIX, BROWSE_PREFIX):
        if path.startswith(prefix):
            head, sep, rest = path[len(prefix) :].partition("/")
            if sep and head and rest in ("index.html", "index.json", STATE_NAME):
                return head
    return None


def refresh(
    storage: Storage, paths: Iterable[str], *, hints: Mapping[str, ObjectInfo] | None = None
) -> Report:
    """Update the index for these changed object paths; reads only the affected projects.

    ``hints`` are what the events said of the objects (a finalized object's size, generation,
    creation time and metadata); they save a stat per new upload and are never trusted further
    than a read pinned to their generation.
    """
    report = Report()
    for project, project_paths in sorted(_group(paths, report).items()):
        try:
            update = _ProjectUpdate(storage, project, project_paths, hints=hints)
            report.merge(update.run())
        except CorruptStateError as e:  # other projects still get their refresh
            report.errors.append(e)
    return report


def build(
    storage: Storage,
    *,
    workers: int = 4,
    progress: Callable[[int, int], None] | None = None,
    processes: bool = False,
) -> Report:
    """Index everything from scratch (also a repair: it converges to the same bytes).

    Projects are indexed ``workers`` at a time, in threads — right for network storage — or,
    with ``processes``, in forked worker processes, for a picklable storage whose calls cost
    CPU rather than waiting (a local folder: reading archives and parsing metadata).
    """
    report = Report()
    objects = {info.path: info for info in storage.list()}
    groups = _group((p for p in objects if not is_own_write(p) or _in_reserved_prefix(p)), report)
    report.ignored = [p for p in report.ignored if not is_own_write(p)]
    # projects with any state or page left: a project whose files are gone loses its pages
    stale = {
        canonicalize_name(project) for project in map(_page_project, objects) if project is not None
    }
    projects = sorted(set(groups) | stale)
    paths = [sorted(groups.get(project, ())) for project in projects]
    known = [{path: objects[path] for path in group} for group in paths]
    pool = _executor(workers, processes=processes)
    try:
        results = pool.map(
            partial(_index_project, storage),
            projects,
            paths,
            known,
            # small chunks: few round trips, and Ctrl-C waits for little work
            chunksize=max(1, min(32, len(projects) // (max(1, workers) * 8))),
        )
        for done, result in enumerate(results, 1):
            report.merge(result)
            if progress is not None:
                progress(done, len(projects))
    except BaseException:
        # Ctrl-C or a failure: the projects not started are not started (an interrupted
        # build leaves a consistent index; the next one finishes the job)
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown()
    _remove_orphan_sidecars(storage, objects, report)
    reconcile_all_roots(storage, report)
    return report


def _index_project(
    storage: Storage,
    project: NormalizedName,
    paths: list[str],
    known: dict[str, ObjectInfo],
) -> Report:
    return _ProjectUpdate(storage, project, paths, known=known, full=True).run()


def _ignore_sigint() -> None:
    # Ctrl-C reaches the whole process group: the parent alone decides to stop
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _executor(workers: int, *, processes: bool) -> Executor:
    # fork is cheap (no re-import) and safe only while this process has a single thread, and
    # on Linux (macOS system libraries may not survive a fork without exec)
    if processes and workers > 1 and sys.platform == "linux" and threading.active_count() == 1:
        return ProcessPoolExecutor(
            workers, mp_context=multiprocessing.get_context("fork"), initializer=_ignore_sigint
        )
    return ThreadPoolExecutor(max_workers=max(1, workers))


def _remove_orphan_sidecars(
    storage: Storage, objects: Mapping[str, ObjectInfo], report: Report
) -> None:
    for path in objects:
        if not path.endswith(SIDECAR_SUFFIX) or path.startswith(INDEX_PREFIX):
            continue
        dist = path[: -len(SIDECAR_SUFFIX)]
        if looks_like_distribution(dist) and storage.stat(dist) is None and storage.delete(path):
            report.writes += 1


def _projects_with_state(storage: Storage) -> set[str]:
    return {
        p[len(INDEX_PREFIX) : -len(STATE_NAME) - 1]
        for p in (i.path for i in storage.list(INDEX_PREFIX))
        if p.endswith("/" + STATE_NAME)
    }


def reconcile_all_roots(storage: Storage, report: Report) -> None:
    """Root pages listing exactly the projects whose state exists (used by full builds)."""
    for attempt in range(MAX_ATTEMPTS):
        wanted = _projects_with_state(storage)
        root = storage.get(ROOT_JSON)
        token = root.token if root is not None else ABSENT
        want_json = render.root_json(wanted) if wanted else None
        if (root.data if root is not None else None) != want_json:
            new_token = _swap_root_json(storage, wanted, token)
            if new_token is None:
                report.conflicts += 1
                _backoff(attempt)
                continue
            token = new_token
            report.writes += 1
        html = storage.get(ROOT_HTML)
        human = storage.get(browse.ROOT_PAGE)
        if (html.data if html is not None else None) != (
            render.root_html(wanted) if wanted else None
        ) or (human.data if human is not None else None) != (
            browse.root_page(wanted) if wanted else None
        ):
            _write_root_html(storage, wanted)
            report.writes += 1
        if _projects_with_state(storage) == wanted and _token_of(storage, ROOT_JSON) == token:
            return
        report.conflicts += 1
    raise ConflictError("root pages", MAX_ATTEMPTS)
