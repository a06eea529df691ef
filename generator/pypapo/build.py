"""Index everything from scratch: list once, refresh every project in repair mode, settle the
root pages once. Also the repair of any damage: it converges to the same bytes."""

from __future__ import annotations

import multiprocessing
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from functools import partial

from packaging.utils import NormalizedName, canonicalize_name

from pypapo import roots
from pypapo.errors import BadDistributionError
from pypapo.layout import (
    BROWSE_PREFIX,
    INDEX_PREFIX,
    QUARANTINE_PREFIX,
    SIDECAR_SUFFIX,
    STATE_NAME,
    is_own_write,
    looks_like_distribution,
    object_name_problem,
    parse_dist_filename,
)
from pypapo.plan import MARKER_NAME
from pypapo.refresh import group, in_reserved_prefix, update_project
from pypapo.report import Report
from pypapo.storage import ObjectInfo, Storage

_PROJECT_FILES = ("index.html", "index.json", STATE_NAME, MARKER_NAME)


def build(
    storage: Storage,
    *,
    workers: int = 4,
    progress: Callable[[int, int], None] | None = None,
    processes: bool = False,
) -> Report:
    """Index everything. Projects are indexed ``workers`` at a time, in threads — right for
    network storage — or, with ``processes``, in forked worker processes, for a picklable
    storage whose calls cost CPU rather than waiting (a local folder: reading archives and
    parsing metadata)."""
    report = Report()
    objects = {info.path: info for info in storage.list()}
    groups = group((p for p in objects if not is_own_write(p) or in_reserved_prefix(p)), report)
    report.ignored = [p for p in report.ignored if not is_own_write(p)]
    # projects with any state or page left: a project whose files are gone loses its pages
    stale = {canonicalize_name(p) for p in map(_page_project, objects) if p is not None}
    markers = _markers_by_project(objects)
    projects = sorted(set(groups) | stale | set(markers))
    paths = [sorted(groups.get(project, ())) for project in projects]
    known = [{path: objects[path] for path in names} for names in paths]
    listed_markers = [sorted(markers.get(project, ())) for project in projects]
    pool = executor(workers, processes=processes)
    try:
        results = pool.map(
            partial(_index_project, storage),
            projects,
            paths,
            known,
            listed_markers,
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
    roots.settle(storage, lambda _: _projects_with_state(storage), report, verify=True)
    return report


def _page_project(path: str) -> str | None:
    """The project whose page, state or browse page ``path`` is (``simple/<p>/...``)."""
    for prefix in (INDEX_PREFIX, BROWSE_PREFIX):
        if path.startswith(prefix):
            head, sep, rest = path[len(prefix) :].partition("/")
            if sep and head and rest in _PROJECT_FILES:
                return head
    return None


def _markers_by_project(objects: Mapping[str, ObjectInfo]) -> dict[NormalizedName, set[str]]:
    """Quarantine markers listed, by the project of the file each names: the project's
    repair removes those its plan does not have."""
    found: dict[NormalizedName, set[str]] = {}
    for path in objects:
        dist = path.removeprefix(QUARANTINE_PREFIX)
        if dist != path and looks_like_distribution(dist) and object_name_problem(dist) is None:
            try:
                found.setdefault(parse_dist_filename(dist).project, set()).add(path)
            except BadDistributionError:
                continue  # no project to repair it in: a file name no project can have
    return found


def _index_project(
    storage: Storage,
    project: NormalizedName,
    paths: list[str],
    known: dict[str, ObjectInfo],
    markers: list[str],
) -> Report:
    return update_project(storage, project, paths, known=known, repair=True, markers=markers)


def _ignore_sigint() -> None:
    # Ctrl-C reaches the whole process group: the parent alone decides to stop
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def executor(workers: int, *, processes: bool) -> Executor:
    """Forked processes where that is cheap and safe, else threads."""
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
    """Sidecars whose distribution is gone. Only sidecars listed without their distribution
    are looked at again (a stat, in case it was uploaded since the listing)."""
    for path in objects:
        if not path.endswith(SIDECAR_SUFFIX) or path.startswith(INDEX_PREFIX):
            continue
        dist = path[: -len(SIDECAR_SUFFIX)]
        # an unsafe name is reported by the grouping, never handed to the storage
        if dist in objects or not looks_like_distribution(dist) or object_name_problem(dist):
            continue
        if storage.stat(dist) is None and storage.delete(path):
            report.writes += 1


def _projects_with_state(storage: Storage) -> frozenset[str]:
    return frozenset(
        p[len(INDEX_PREFIX) : -len(STATE_NAME) - 1]
        for p in (i.path for i in storage.list(INDEX_PREFIX))
        if p.endswith("/" + STATE_NAME)
    )
