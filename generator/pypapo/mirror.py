"""``pypapo mirror SOURCE DIR [REQ...] [-r FILE]``: copy an index into a folder that works as a
``file://`` index with no server, e.g. inside a Cloud Build step that can read the bucket but
not the cluster.

Everything comes from the public pages (``simple/**``, what NGINX serves); the private
``.state.json`` files are neither read nor copied, so the mirror needs only read access and
copies one consistent snapshot of each project: its JSON page names the files, their sha256 and
their sidecars' sha256, and every download is checked against them.

- Full mirror (no requirements): the project pages are copied byte for byte — every href is
  relative, so they work from the copy as they are — with every file they list and every
  sidecar they advertise. The root pages list the projects with pages in DIR (the same bytes as
  the source's when every project was copied).
- Partial mirror (requirements): only the versions the requirements need. The copied projects'
  pages are re-rendered with ``pypapo.render`` from the records of the source's JSON page,
  restricted to the copied files, so every link and every advertised sidecar exists in the copy
  and an installer never picks a version that is not there. With nothing pruned the re-rendered
  pages are byte-identical to the source's (tested), so pruned pages are the same pages minus
  some files. The root pages list the projects with pages in DIR.
- Incremental: a file already in DIR with the size and sha256 the page gives is not downloaded.
- Hostile pages: the source's pages are input like any upload. Each link must be a relative
  link to a safe object path inside the index (``object_path``), to a distribution of the
  page's project under the file name the entry gives; a bad link is reported naming its page
  and href, and the rest goes on (a full mirror then leaves that project's pages out: they
  would link what is not copied; a partial one picks among the good links). Project names of
  the root page and the metadata in sidecars are checked the same way.

Which versions a partial mirror copies is ``pypapo.resolve``'s (exactly what a lock pins, or
a small resolver with its limits stated there); what requirements say is
``pypapo.requirements``'s; where pages and files come from (a folder, a bucket, an index over
HTTP) is ``pypapo.source``'s; how pages read back is ``pypapo.pages``'s. This module copies.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import InvalidName, NormalizedName, canonicalize_name

from pypapo import render
from pypapo.layout import INDEX_PREFIX, ROOT_HTML, ROOT_JSON, page_path, sidecar_path
from pypapo.model import FileRecord, ProjectState
from pypapo.resolve import Resolver
from pypapo.source import MirrorError, ProjectPages, Source, StorageSource
from pypapo.storage import Storage, StorageError
from pypapo.storage.local import temporary_beside

__all__ = ["MirrorError", "MirrorReport", "mirror"]


@dataclass
class MirrorReport:
    """What one mirror run did; ``problems`` make the command exit 1."""

    copied: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    projects: set[NormalizedName] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# --- copying -----------------------------------------------------------------------------------


def _local(dest: Path, path: str) -> Path:
    return dest.joinpath(*path.split("/"))


def _has(target: Path, size: int | None, sha256: str) -> bool:
    try:
        if size is not None and target.stat().st_size != size:
            return False
        with target.open("rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest() == sha256
    except (FileNotFoundError, NotADirectoryError):
        return False


def _write(dest: Path, path: str, data: bytes) -> None:
    """Atomically: a reader of the copy never sees half a page (and a failed write leaves no
    temporary file)."""
    target = _local(dest, path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with temporary_beside(str(target)) as name:
        tmp = Path(name)
        tmp.write_bytes(data)
        tmp.replace(target)


def _copy_distribution(source: Source, record: FileRecord, dest: Path) -> str:
    """Download one file, checked against the page's sha256; returns what happened."""
    target = _local(dest, record.path)
    if _has(target, record.size or None, record.sha256):
        return "present"
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with temporary_beside(str(target)) as name:  # removed when the copy or its check fails
        tmp = Path(name)
        with tmp.open("wb") as out:

            def sink(chunk: bytes) -> None:
                digest.update(chunk)
                out.write(chunk)

            source.download(record, sink)
        if digest.hexdigest() != record.sha256:
            raise MirrorError(
                f"{record.path}: sha256 differs from the page's (overwritten since it was "
                f"indexed? run pypapo check)"
            )
        tmp.replace(target)
    return "copied"


def _copy_sidecar(source: Source, record: FileRecord, dest: Path, known: bytes | None) -> None:
    if record.metadata_sha256 is None:
        return
    path = sidecar_path(record.path)
    if _has(_local(dest, path), None, record.metadata_sha256):
        return
    data = known if known is not None else source.sidecar(record)
    if data is None:
        raise MirrorError(f"{path}: advertised but missing or different in {source.describe()}")
    _write(dest, path, data)


@dataclass
class _Copy:
    """One run's copying: from where, to where, into which report."""

    source: Source
    dest: Path
    report: MirrorReport
    jobs: int

    def files(self, records: Sequence[FileRecord], sidecars: dict[str, bytes]) -> bool:
        """Copy the files and their sidecars; whether every one is in place."""

        def one(record: FileRecord) -> tuple[str, str]:
            try:
                outcome = _copy_distribution(self.source, record, self.dest)
                _copy_sidecar(self.source, record, self.dest, sidecars.get(record.path))
            except (StorageError, MirrorError) as e:
                return "problem", str(e)
            return outcome, record.path

        report = self.report
        problems = len(report.problems)
        with ThreadPoolExecutor(max_workers=max(1, self.jobs)) as pool:
            for outcome, detail in pool.map(one, records):
                {"copied": report.copied, "present": report.present, "problem": report.problems}[
                    outcome
                ].append(detail)
        return len(report.problems) == problems

    def project(
        self, project: ProjectPages, records: Sequence[FileRecord], sidecars: dict[str, bytes]
    ) -> None:
        """The files, then the pages (only when every file is there: they would link it): the
        source's own bytes when the copy holds every file they list and the source lets them
        be copied as they are, else pages rendered from the copied records."""
        if not self.files(records, sidecars):
            return
        name = project.name
        whole = len(records) == len(project.files) and not project.bad_links
        if whole and project.html is not None and project.json is not None:
            html, json = project.html, project.json
        else:
            state = ProjectState.of(name, records)
            html, json = render.project_html(state), render.project_json(state)
        _write(self.dest, page_path(name, "html"), html)
        _write(self.dest, page_path(name, "json"), json)
        self.report.projects.add(name)


def _root_names(source: Source) -> tuple[list[NormalizedName], list[str]]:
    """The projects the root page lists, and a problem for each name that is none (it would
    become a path in the copy)."""
    names: set[NormalizedName] = set()
    problems = []
    for name in sorted(source.root_names(), key=repr):  # names of any type: repr sorts them
        try:
            if not isinstance(name, str):
                raise InvalidName  # noqa: TRY301 (one report for every kind of bad name)
            names.add(canonicalize_name(name, validate=True))
        except InvalidName:
            problems.append(f"{ROOT_JSON}: bad project name {name!r}: not a PEP 508 name")
    return sorted(names), problems


def _projects_in(dest: Path) -> set[str]:
    top = _local(dest, INDEX_PREFIX)
    return {p.parent.name for p in top.glob("*/index.json")} if top.is_dir() else set()


def _write_root_pages(dest: Path) -> None:
    """Root pages listing the projects with pages in ``dest``: those of this run and of earlier
    ones, and none the source lists but this run could not copy."""
    projects = _projects_in(dest)
    _write(dest, ROOT_HTML, render.root_html(projects))
    _write(dest, ROOT_JSON, render.root_json(projects))


# --- the two modes -----------------------------------------------------------------------------


def mirror(
    source: Source | Storage,
    dest: Path,
    requirements: Sequence[Requirement] = (),
    *,
    constraints: Sequence[Requirement] = (),
    python_version: str | None = None,
    locked: bool = False,
    jobs: int = 8,
) -> MirrorReport:
    """Copy the index (or the part ``requirements`` need) from ``source`` into ``dest``;
    ``locked``: the requirements are a lock, copied exactly (``pypapo.resolve``).

    Files first, then each project's pages, then the root pages, so a reader of ``dest`` never
    follows a link to a file that is not there yet.
    """
    src = StorageSource(source) if isinstance(source, Storage) else source
    copy = _Copy(src, dest, MirrorReport(), jobs)
    names, root_problems = _root_names(src)  # no index: an error, not "nothing needed"
    if not requirements:
        copy.report.problems += root_problems
        for name in names:
            _full_project(copy, name)
    else:
        resolver = Resolver(
            src, python_version=python_version, constraints=constraints, locked=locked
        )
        chosen = resolver.resolve(requirements)
        copy.report.problems += resolver.problems
        copy.report.notes += resolver.notes
        for name, version in sorted(chosen.items()):
            project = resolver.project(name)
            assert project is not None  # noqa: S101 (chosen from it)
            keep = [f.record for f in project.files if f.version == version]
            copy.project(project, keep, resolver.sidecars)
    _write_root_pages(dest)
    return copy.report


def _full_project(copy: _Copy, name: NormalizedName) -> None:
    """Every file of a project, then its pages; a page with bad links is not copied (it would
    link what is not there), the files it links well are."""
    try:
        project = copy.source.project(name)
    except MirrorError as e:
        copy.report.problems.append(str(e))
        return
    if project is None:
        copy.report.problems.append(f"{name}: in the root page but has no project page")
        return
    records = [f.record for f in project.files]
    if project.bad_links:
        copy.report.problems += project.bad_link_problems()
        copy.files(records, {})
        return
    copy.project(project, records, {})
