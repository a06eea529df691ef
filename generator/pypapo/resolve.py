"""Which version of each project a partial mirror copies.

Contract: ``Resolver(source, python_version=..., constraints=...).resolve(requirements)``
returns one version per name the source holds; what it could not do is in ``problems`` (make
the command exit 1) and ``notes``; the pages it read are in ``project(name)`` and the sidecars
it fetched in ``sidecars``, so the copy reads nothing twice. It only reads a ``Source``.

From a lock (``locked=True``: a compiled requirements file whose every line is an ``==`` pin,
or a PEP 751 ``pylock.toml``) the pinned versions are copied and nothing is followed: the lock
already names everything, and an installer, not this module, resolved it. That is the way to a
mirror that is exactly what a build installs; a requirement the lock does not pin is a problem.

Otherwise the resolver is deliberately small. For each name it takes the highest version that
satisfies every specifier (and constraint) met so far, for the running interpreter (or
``python_version``): environment markers with extras, Requires-Python, and PEP 592 yanks (a
yanked file only when pinned with ``==``/``===``). It follows dependencies through the PEP 658
sidecars. Every file of a chosen version is copied (all wheels and the sdist), so the installer
still makes its own platform choice.

Limits, stated rather than grown: no backtracking (when a later specifier excludes a version
already chosen, the newer choice is copied and the dependencies of the old one stay); a version
without a sidecar (an sdist with dynamic metadata) has its dependencies reported, not followed;
names the source does not hold are left to the installer's other indexes. Where these matter,
mirror from a lock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from packaging.markers import default_environment
from packaging.metadata import Metadata
from packaging.requirements import Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from pypapo.layout import sidecar_path
from pypapo.model import FileRecord
from pypapo.source import MirrorError, ProjectPages, Source


def marker_environment(python_version: str | None = None) -> dict[str, str]:
    """The running interpreter's marker environment, optionally for another Python version."""
    env = {key: str(value) for key, value in default_environment().items()}
    if python_version is not None:
        version = Version(python_version)
        env["python_full_version"] = str(version)
        env["python_version"] = f"{version.major}.{version.minor}"
    return env


def is_version(text: str) -> bool:
    try:
        Version(text)
    except InvalidVersion:
        return False
    return True


def exact_pin(req: Requirement) -> Version | None:
    """The one version ``req`` allows (``==1.2``, ``===1.2``), or ``None``."""
    [*specs] = req.specifier
    if len(specs) != 1 or specs[0].operator not in {"==", "==="} or "*" in specs[0].version:
        return None
    return Version(specs[0].version) if is_version(specs[0].version) else None


def _python_ok(requires_python: str, python: Version) -> bool:
    try:
        return SpecifierSet(requires_python).contains(python, prereleases=True)
    except InvalidSpecifier:
        return True  # installers ignore an invalid Requires-Python too


class Resolver:
    """Pick one version per name for a requirement set, from the source's pages."""

    def __init__(
        self,
        source: Source,
        *,
        python_version: str | None = None,
        constraints: Sequence[Requirement] = (),
        locked: bool = False,
    ) -> None:
        self.source = source
        self.locked = locked
        self.environment = marker_environment(python_version)
        self.python = Version(self.environment["python_full_version"])
        self.pages: dict[NormalizedName, ProjectPages | None] = {}
        self.sidecars: dict[str, bytes] = {}
        self.specifiers: dict[NormalizedName, SpecifierSet] = {}
        for c in constraints:
            name = canonicalize_name(c.name)
            self.specifiers[name] = self.specifiers.get(name, SpecifierSet()) & c.specifier
        self.chosen: dict[NormalizedName, Version] = {}
        self.problems: list[str] = []
        self.notes: list[str] = []
        self.unreadable: set[NormalizedName] = set()

    def project(self, name: NormalizedName) -> ProjectPages | None:
        """The project's pages, read once; a page that cannot be read is a problem of that
        project alone (``None``), and its bad links are problems too."""
        if name not in self.pages:
            try:
                project = self.source.project(name)
            except MirrorError as e:
                self.problems.append(str(e))
                self.unreadable.add(name)
                project = None
            if project is not None:
                self.problems += project.bad_link_problems()
            self.pages[name] = project
        return self.pages[name]

    def _applies(self, req: Requirement, extras: frozenset[str]) -> bool:
        if req.marker is None:
            return True
        try:
            return any(
                req.marker.evaluate({**self.environment, "extra": extra})
                for extra in (sorted(extras) or [""])
            )
        except ValueError as e:  # a marker packaging cannot evaluate (from a sidecar)
            self.problems.append(f"{req}: the marker cannot be evaluated ({e})")
            return False

    def resolve(self, requirements: Iterable[Requirement]) -> dict[NormalizedName, Version]:
        queue = [(r, frozenset[str]()) for r in requirements]
        if self.locked:
            self.problems += [f"{r}: not pinned with == in the lock" for r, _ in queue
                              if exact_pin(r) is None]  # fmt: skip
            queue = [(r, e) for r, e in queue if exact_pin(r) is not None]
        expanded: set[tuple[NormalizedName, Version, frozenset[str]]] = set()
        while queue:
            req, parent_extras = queue.pop(0)
            chosen = self._choose(req, parent_extras)
            if chosen is None or self.locked:
                continue
            extras = frozenset(canonicalize_name(e) for e in req.extras)
            if (*chosen, extras) in expanded:
                continue
            expanded.add((*chosen, extras))
            queue += [(dep, extras) for dep in self._dependencies(*chosen)]
        return self.chosen

    def _choose(
        self, req: Requirement, parent_extras: frozenset[str]
    ) -> tuple[NormalizedName, Version] | None:
        """The version ``req`` gets given what was chosen so far, or ``None`` (not needed
        here, or nothing fits: then a note or problem says so)."""
        if not self._applies(req, parent_extras):
            return None
        name = canonicalize_name(req.name)
        if req.url is not None:
            self.problems.append(f"{req}: direct URL requirements are not mirrored")
            return None
        spec = self.specifiers.get(name, SpecifierSet()) & req.specifier
        self.specifiers[name] = spec
        version = self.chosen.get(name)
        if version is None or not spec.contains(version, prereleases=True):
            version = self._pick(name, spec)
            if version is None:
                return None
            self.chosen[name] = version
        return name, version

    def _pick(self, name: NormalizedName, spec: SpecifierSet) -> Version | None:
        project = self.project(name)
        if project is None:
            if name not in self.unreadable:  # an unreadable page is a problem already
                self.notes.append(f"{name} is not in this index (left to other indexes)")
            return None
        pinned = {
            Version(s.version)
            for s in spec
            if s.operator in {"==", "==="} and "*" not in s.version and is_version(s.version)
        }
        prereleases = True if pinned else None
        candidates = [
            file.version
            for file in project.files
            if spec.contains(file.version, prereleases=prereleases)
            and (file.record.yanked is None or file.version in pinned)
            and _python_ok(file.record.requires_python or "", self.python)
        ]
        if not candidates:
            self.problems.append(
                f"no version of {name} in the index matches {str(spec) or 'any version'} "
                f"(Python {self.python}, yanked files only when pinned)"
            )
            return None
        return max(candidates)

    def _dependencies(self, name: NormalizedName, version: Version) -> list[Requirement]:
        project = self.project(name)
        assert project is not None  # noqa: S101 (a version was just picked from it)
        for file in project.files:
            if file.version != version or file.record.metadata_sha256 is None:
                continue
            data = self.source.sidecar(file.record)
            if data is None:
                self.problems.append(f"{sidecar_path(file.record.path)}: advertised but missing")
                continue
            self.sidecars[file.record.path] = data
            return self._requirements(file.record, data)
        self.notes.append(
            f"{name} {version}: no metadata sidecar (sdist with dynamic metadata), "
            "its dependencies are not followed"
        )
        return []

    def _requirements(self, record: FileRecord, sidecar: bytes) -> list[Requirement]:
        try:
            return list(Metadata.from_email(sidecar, validate=False).requires_dist or [])
        except ValueError as e:  # packaging's InvalidMetadata: a Requires-Dist it cannot read
            self.problems.append(f"{sidecar_path(record.path)}: unreadable metadata ({e})")
            return []
