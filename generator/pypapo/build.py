"""Index everything from scratch: list once, refresh every project in repair mode, settle the
root pages once. Also the repair of any damage: it converges to the same bytes."""

from __future__ import annotations

import multiprocessing
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

from packaging.utils import NormalizedName, canonicalize_name

from pypapo import browse, roots, shards
from pypapo.errors import BadDistributionError, UsageError
from pypapo.layout import (
    BROWSE_PREFIX,
    INDEX_PREFIX,
    PROVENANCE_SUFFIX,
    QUARANTINE_PREFIX,
    SIDECAR_SUFFIX,
    STATE_NAME,
    is_own_write,
    looks_like_distribution,
    object_name_problem,
    parse_dist_filename,
    project_dir,
    provenance_path,
    sidecar_path,
    state_path,
)
from pypapo.plan import MARKER_NAME
from pypapo.refresh import group, in_reserved_prefix, update_project
from pypapo.report import Report
from pypapo.storage import ObjectInfo, Selection, Storage

_PROJECT_FILES = ("index.html", "index.json", STATE_NAME, MARKER_NAME)


@dataclass(frozen=True)
class Shard:
    """This process's share of a build run as ``count`` parallel tasks (a Cloud Run Job's
    ``CLOUD_RUN_TASK_INDEX`` of ``CLOUD_RUN_TASK_COUNT``): a range of normalized project
    names (``pypapo.shards``), weighted so that popular initials do not overload a task, and
    decided by every task alone, without a plan shared beforehand. A range, not a hash: the
    task lists only its own objects."""

    index: int = 0
    count: int = 1

    def owns(self, project: str) -> bool:
        if self.count == 1:
            return True
        return shards.owner(shards.project_key(project), self.count) == self.index

    def selection(self) -> Selection | None:
        """What the task lists: ``None`` (everything) for a whole build."""
        return None if self.count == 1 else shards.selection(self.index, self.count)

    def pages(self) -> Selection | None:
        """The task's folders of pages (``simple/<p>/``, ``browse/<p>/``)."""
        return None if self.count == 1 else shards.page_parts(self.index, self.count)


def shard_from_env(environ: Mapping[str, str]) -> Shard:
    """The shard a Cloud Run Jobs task runs (its ``CLOUD_RUN_TASK_INDEX`` and
    ``CLOUD_RUN_TASK_COUNT``); the whole index without them."""
    raw = (environ.get("CLOUD_RUN_TASK_INDEX", "0"), environ.get("CLOUD_RUN_TASK_COUNT", "1"))
    try:
        index, count = int(raw[0]), int(raw[1])
    except ValueError:
        index, count = -1, 0
    if not 0 <= index < count:
        raise UsageError(
            f"CLOUD_RUN_TASK_INDEX={raw[0]!r} of CLOUD_RUN_TASK_COUNT={raw[1]!r}: "
            "want 0 <= index < count"
        )
    return Shard(index, count)


def build(
    storage: Storage,
    *,
    workers: int = 4,
    progress: Callable[[int, int], None] | None = None,
    processes: bool = False,
    shard: Shard = Shard(),
    public_url: str | None = None,
) -> Report:
    """Index everything (with ``shard``, this task's share of the projects and of the root
    pages' names). Projects are indexed ``workers`` at a time, in threads — right for network
    storage — or, with ``processes``, in forked worker processes, for a picklable storage
    whose calls cost CPU rather than waiting (a local folder: reading archives and parsing
    metadata). ``public_url`` is where the storage's root is served (provenance links need a
    full URL)."""
    report = Report()
    # a task lists its own objects only: another task's bad input is not even seen here
    objects = {info.path: info for info in storage.list(within=shard.selection())}
    orphans = _orphan_sidecars(objects)
    jobs = _jobs(objects, orphans, shard, report)
    pool = executor(workers, processes=processes)
    try:
        results = pool.map(
            partial(_index_project, storage, public_url),
            jobs,
            # small chunks: few round trips, and Ctrl-C waits for little work
            chunksize=max(1, min(32, len(jobs) // (max(1, workers) * 8))),
        )
        for done, result in enumerate(results, 1):
            report.merge(result)
            if progress is not None:
                progress(done, len(jobs))
    except BaseException:
        # Ctrl-C or a failure: the projects not started are not started (an interrupted
        # build leaves a consistent index; the next one finishes the job)
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown()
    # orphans no project can own (a file name without a version) are few: removed here (by
    # the one task whose listing has them)
    _remove_orphan_sidecars(storage, orphans.get(None, []), report)
    # listed once: with many tasks, each lost swap would otherwise list simple/ again
    mine = frozenset(p for p in _projects_with_pages(storage, shard) if shard.owns(p))
    roots.settle(
        storage, partial(_root_names, storage, shard, mine), report, verify=True, force=True
    )
    return report


Job = tuple[NormalizedName, list[str], dict[str, ObjectInfo], list[str], list[str]]
"""A project, its listed distributions, its listed objects, its quarantine markers and its
orphan sidecars."""


def _jobs(
    objects: Mapping[str, ObjectInfo],
    orphans: Mapping[NormalizedName | None, list[str]],
    shard: Shard,
    report: Report,
) -> list[Job]:
    """Every project of this shard with what the listing says of it: its distributions, and
    the objects a repair would otherwise read one by one (pages, marker, sidecars)."""
    wanted = (p for p in objects if not is_own_write(p) or in_reserved_prefix(p))
    groups = group(wanted, report)
    report.ignored = [p for p in report.ignored if not is_own_write(p)]
    # projects with any state or page left: a project whose files are gone loses its pages
    stale = {canonicalize_name(p) for p in map(_page_project, objects) if p is not None}
    markers = _markers_by_project(objects)
    jobs: list[Job] = []
    owned = {p for p in orphans if p is not None}
    for project in sorted(set(groups) | stale | set(markers) | owned):
        if not shard.owns(project):
            continue
        paths = sorted(groups.get(project, ()))
        own = [*paths, *map(sidecar_path, paths), *map(provenance_path, paths)]
        own += _project_files(project)
        own += markers.get(project, ())
        known = {path: objects[path] for path in own if path in objects}
        listed_markers = sorted(markers.get(project, ()))
        jobs.append((project, paths, known, listed_markers, orphans.get(project, [])))
    return jobs


def _project_files(project: NormalizedName) -> list[str]:
    directory = project_dir(project)
    return [directory + name for name in _PROJECT_FILES] + [browse.project_page_path(project)]


def _page_project(path: str) -> str | None:
    """The project whose page, state or browse page ``path`` is (``simple/<p>/...``)."""
    for prefix in (INDEX_PREFIX, BROWSE_PREFIX):
        if path.startswith(prefix):
            head, sep, rest = path[len(prefix) :].partition("/")
            if sep and head and rest in _PROJECT_FILES:
                return head
    return None


def _markers_by_project(objects: Mapping[str, ObjectInfo]) -> dict[NormalizedName, set[str]]:
    """Quarantine markers and provenance documents listed, by the project of the file each
    names: the project's repair removes those its plan does not have."""
    found: dict[NormalizedName, set[str]] = {}
    for path in objects:
        dist = path.removeprefix(QUARANTINE_PREFIX)
        if dist == path:
            dist = path.removesuffix(PROVENANCE_SUFFIX)
        if dist != path and looks_like_distribution(dist) and object_name_problem(dist) is None:
            try:
                found.setdefault(parse_dist_filename(dist).project, set()).add(path)
            except BadDistributionError:
                continue  # no project to repair it in: a file name no project can have
    return found


def _index_project(storage: Storage, public_url: str | None, job: Job) -> Report:
    project, paths, known, markers, orphans = job
    report = update_project(
        storage,
        project,
        paths,
        known=known,
        repair=True,
        markers=markers,
        public_url=public_url,
    )
    _remove_orphan_sidecars(storage, orphans, report)
    return report


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


def _orphan_sidecars(
    objects: Mapping[str, ObjectInfo],
) -> dict[NormalizedName | None, list[str]]:
    """Sidecars listed without their distribution, by the project their name says (``None``
    for a name no project can have): each is removed in that project's job, in the pool, not
    in a sequential sweep."""
    found: dict[NormalizedName | None, list[str]] = {}
    for path in objects:
        if not path.endswith(SIDECAR_SUFFIX) or path.startswith(INDEX_PREFIX):
            continue
        dist = path[: -len(SIDECAR_SUFFIX)]
        # an unsafe name is reported by the grouping, never handed to the storage
        if dist in objects or not looks_like_distribution(dist) or object_name_problem(dist):
            continue
        try:
            project: NormalizedName | None = parse_dist_filename(dist).project
        except BadDistributionError:
            project = None
        found.setdefault(project, []).append(path)
    return found


def _remove_orphan_sidecars(storage: Storage, orphans: list[str], report: Report) -> None:
    """Look at the distribution again (a stat, in case it was uploaded since the listing)."""
    for path in orphans:
        if storage.stat(path[: -len(SIDECAR_SUFFIX)]) is None and storage.delete(path):
            report.writes += 1


def _root_names(
    storage: Storage, shard: Shard, mine: frozenset[str], listed: frozenset[str]
) -> frozenset[str]:
    """The names the root pages should list: this shard's projects that have a state, and
    every other shard's names as listed (their own tasks settle those). A name of this shard
    listed in the root but without a state when the build looked may belong to a project a
    refresh created since: kept if its state exists now (a stat; such names are few)."""
    others = {p for p in listed if not shard.owns(p)}
    since = {p for p in listed - mine if shard.owns(p) and storage.stat(state_path(p))}
    return frozenset(mine | others | since)


def _projects_with_pages(storage: Storage, shard: Shard) -> frozenset[str]:
    """Projects (of this shard's folders) with a JSON page: a state may also exist for
    attestations that wait for their files, which puts no project in the root pages."""
    suffix = "/index.json"
    return frozenset(
        p[len(INDEX_PREFIX) : -len(suffix)]
        for p in (i.path for i in storage.list(INDEX_PREFIX, within=shard.pages()))
        if p.endswith(suffix) and "/" in p[len(INDEX_PREFIX) :]
    )
