"""``pypapo mirror SOURCE DIR [REQ...]``: copy an index into a folder that works as a ``file://``
index with no server, e.g. inside a Cloud Build step that can read the bucket but not the cluster.

Because every href is relative, pages are copied byte for byte. A partial mirror (requirements
given) copies only the files the requirements need and re-renders the copied projects' pages
from their state restricted to those files, so every listed file and advertised sidecar exists
in the copy. The resolver is deliberately small: for each name it takes the highest version that
satisfies every specifier seen so far, honours markers (with extras), Requires-Python for the
running interpreter and PEP 592 yanks (a yanked file only when pinned with ``==``), and follows
dependencies through the PEP 658 sidecars. It copies every file of a chosen version (all
wheels and the sdist), so the installer still makes its own platform choice.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packaging.metadata import Metadata
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from pypapo import render
from pypapo.layout import ROOT_HTML, ROOT_JSON, page_path, sidecar_path, state_path
from pypapo.model import FileRecord, ProjectState
from pypapo.storage import Storage, StorageError, open_storage


@dataclass
class MirrorReport:
    copied: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    projects: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)


def _python_version() -> Version:
    return Version(platform.python_version())


class _Resolver:
    """Pick versions for a requirement set from the source index's project states."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.states: dict[NormalizedName, ProjectState | None] = {}
        self.specifiers: dict[NormalizedName, SpecifierSet] = {}
        self.chosen: dict[NormalizedName, Version] = {}
        self.problems: list[str] = []

    def state(self, name: NormalizedName) -> ProjectState | None:
        if name not in self.states:
            blob = self.storage.get(state_path(name))
            self.states[name] = ProjectState.from_json(blob.data) if blob is not None else None
        return self.states[name]

    def resolve(self, requirements: Iterable[Requirement]) -> dict[NormalizedName, Version]:
        queue: list[tuple[Requirement, frozenset[str]]] = [(r, frozenset()) for r in requirements]
        while queue:
            req, extras = queue.pop(0)
            if req.marker is not None and not any(
                req.marker.evaluate({"extra": e}) for e in (sorted(extras) or [""])
            ):
                continue
            name = canonicalize_name(req.name)
            spec = self.specifiers.get(name, SpecifierSet()) & req.specifier
            self.specifiers[name] = spec
            current = self.chosen.get(name)
            if current is not None and spec.contains(current, prereleases=True) and not req.extras:
                continue
            version = self._pick(name, spec)
            if version is None:
                self.problems.append(f"no version of {name} matches {str(spec) or 'any'}")
                continue
            self.chosen[name] = version
            queue += [(dep, frozenset(req.extras)) for dep in self._dependencies(name, version)]
        return self.chosen

    def _pick(self, name: NormalizedName, spec: SpecifierSet) -> Version | None:
        state = self.state(name)
        if state is None:
            return None
        pinned = {Version(s.version) for s in spec if s.operator == "==" and "*" not in s.version}
        python = _python_version()
        best: Version | None = None
        for record in state.files():
            version = Version(record.version)
            if not spec.contains(version, prereleases=bool(pinned) or None):
                continue
            if record.yanked is not None and version not in pinned:
                continue
            if record.requires_python and not SpecifierSet(record.requires_python).contains(
                python, prereleases=True
            ):
                continue
            best = version if best is None or version > best else best
        return best

    def _dependencies(self, name: NormalizedName, version: Version) -> list[Requirement]:
        state = self.state(name)
        assert state is not None  # noqa: S101 (a version was just picked from it)
        for record in state.files():
            if Version(record.version) == version and record.metadata_sha256 is not None:
                blob = self.storage.get(sidecar_path(record.path))
                if blob is None:
                    continue
                metadata = Metadata.from_email(blob.data, validate=False)
                return list(metadata.requires_dist or [])
        self.problems.append(f"{name} {version}: no metadata sidecar, dependencies not followed")
        return []


def _sha256_of(path: Path) -> str | None:
    try:
        with path.open("rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except FileNotFoundError:
        return None


def _write(dest: Path, rel: str, data: bytes) -> None:
    target = dest.joinpath(*rel.split("/"))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".pypapo-tmp-{target.name}-{os.getpid()}")
    tmp.write_bytes(data)
    tmp.replace(target)


def _copy_file(storage: Storage, record: FileRecord, dest: Path, report: MirrorReport) -> None:
    target = dest.joinpath(*record.path.split("/"))
    if _sha256_of(target) == record.sha256:
        report.skipped.append(record.path)
    else:
        info = storage.stat(record.path)
        if info is None:
            report.problems.append(f"{record.path}: listed but missing in the source")
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".pypapo-tmp-{target.name}-{os.getpid()}")
        digest = hashlib.sha256()
        with tmp.open("wb") as out:

            def sink(chunk: bytes) -> None:
                digest.update(chunk)
                out.write(chunk)

            storage.stream(record.path, info.generation, sink)
        if digest.hexdigest() != record.sha256:
            tmp.unlink()
            report.problems.append(f"{record.path}: sha256 differs from the index (overwritten?)")
            return
        tmp.replace(target)
        report.copied.append(record.path)
    if record.metadata_sha256 is not None:
        sidecar = sidecar_path(record.path)
        if _sha256_of(dest.joinpath(*sidecar.split("/"))) != record.metadata_sha256:
            blob = storage.get(sidecar)
            if blob is None:
                report.problems.append(f"{sidecar}: advertised but missing in the source")
                return
            _write(dest, sidecar, blob.data)


def mirror(storage: Storage, dest: Path, requirements: Sequence[Requirement] = ()) -> MirrorReport:
    """Copy the index (or the part ``requirements`` need) from ``storage`` into ``dest``."""
    report = MirrorReport()
    root = storage.get(ROOT_JSON)
    if root is None:
        raise StorageError(f"no index in {storage.describe()} (no {ROOT_JSON}); run pypapo build")
    names = sorted(render.parse_root_json(root.data))
    wanted: dict[NormalizedName, Version] | None = None
    if requirements:
        resolver = _Resolver(storage)
        wanted = resolver.resolve(requirements)
        report.problems += resolver.problems
        names = sorted(wanted)
    for name in names:
        blob = storage.get(state_path(name))
        if blob is None:
            report.problems.append(f"{name}: listed in the root page but has no state")
            continue
        state = ProjectState.from_json(blob.data)
        if wanted is not None:
            keep = [
                r for r in state.files() if Version(r.version) == wanted[canonicalize_name(name)]
            ]
            state = ProjectState.of(state.name, keep)
        for record in state.files():
            _copy_file(storage, record, dest, report)
        _write(dest, page_path(name, "html"), render.project_html(state))
        _write(dest, page_path(name, "json"), render.project_json(state))
        report.projects.add(name)
    _write(dest, ROOT_HTML, render.root_html(report.projects))
    _write(dest, ROOT_JSON, render.root_json(report.projects))
    return report


def _requirements(args: argparse.Namespace) -> list[Requirement]:
    lines: list[str] = list(args.requirements)
    for path in args.requirement_files:
        for raw in Path(path).read_text().splitlines():
            line = raw.split("#", 1)[0].strip()
            if line and not line.startswith("-"):
                lines.append(line)
    try:
        return [Requirement(line) for line in lines]
    except InvalidRequirement as e:
        raise StorageError(f"invalid requirement: {e}") from e


def cmd_mirror(args: argparse.Namespace) -> int:
    storage = open_storage(args.source)
    dest = Path(args.dir)
    report = mirror(storage, dest, _requirements(args))
    for problem in report.problems:
        print(f"problem: {problem}", file=sys.stderr)
    print(
        f"mirrored {len(report.projects)} projects into {dest}: {len(report.copied)} files "
        f"copied, {len(report.skipped)} already present; use --index-url "
        f"{dest.resolve().as_uri()}/simple/"
    )
    return 1 if report.problems else 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "mirror",
        help="copy the index (or what requirements need) into a folder usable as file://",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    p.add_argument("source", help="a folder or gs://bucket[/prefix] holding an index")
    p.add_argument("dir", help="destination folder")
    p.add_argument("requirements", nargs="*", metavar="REQ", help="only what these need")
    p.add_argument(
        "-r",
        "--requirement",
        dest="requirement_files",
        action="append",
        default=[],
        metavar="FILE",
        help="read requirements from a requirements file",
    )
    p.set_defaults(func=cmd_mirror)
