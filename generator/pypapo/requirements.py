"""What a partial mirror must hold, read from the places a project states it: pip requirements
files (``-r``/``-c`` followed), a local project's ``pyproject.toml`` (a path, or an ``-e PATH``
line), and PEP 751 ``pylock.toml`` locks.

A local project is not in the index, but its dependencies are: ``pip install -e .`` asks the
index for them, so a mirror that skips them is incomplete, and an installer with a second index
then takes them from there (dependency confusion). Its ``[project] dependencies`` (and the
optional dependencies of the extras named, ``.[dev]``) become requirements.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from pypapo.source import MirrorError

_NESTED = {"-r": "requirements", "--requirement": "requirements", "-c": "constraints",
           "--constraint": "constraints"}  # fmt: skip
_EDITABLE = {"-e", "--editable"}


@dataclass
class RequirementSet:
    requirements: list[Requirement] = field(default_factory=list)
    constraints: list[Requirement] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    projects: list[str] = field(default_factory=list)
    """Local projects whose dependencies were read (for a note)."""
    locked: bool = False
    """Read from a PEP 751 lock: every requirement is an exact pin of a resolved set."""


def logical_lines(text: str) -> list[str]:
    """A requirements file's lines with continuations joined and comments removed."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = pending + raw
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if line.lstrip().startswith("#"):
            continue
        line = line.split(" #", 1)[0].split("\t#", 1)[0].strip()
        if line:
            lines.append(line)
    if pending.strip():
        lines.append(pending.strip())
    return lines


def parse_requirement(text: str, where: str = "command line") -> Requirement:
    try:
        return Requirement(text)
    except InvalidRequirement as e:
        raise MirrorError(f"invalid requirement {text!r} ({where}): {e}") from e


def looks_like_path(text: str) -> bool:
    """Whether a requirement argument names a folder, as pip reads one (``.``, ``./x``)."""
    return text.startswith(".") or "/" in text or "\\" in text


def _split_extras(text: str) -> tuple[str, list[str]]:
    """``path[a,b]`` -> (``path``, ``["a", "b"]``)."""
    if text.endswith("]") and "[" in text:
        path, _, extras = text[:-1].rpartition("[")
        return path, [e.strip() for e in extras.split(",") if e.strip()]
    return text, []


def project_requirements(
    folder: Path, extras: Iterable[str] = (), read: Callable[[Path], str] = Path.read_text
) -> list[Requirement]:
    """A local project's ``[project] dependencies`` and the optional dependencies of
    ``extras``; ``MirrorError`` when they cannot be read statically."""
    where = folder / "pyproject.toml"
    try:
        project: Any = tomllib.loads(read(where)).get("project")
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise MirrorError(f"cannot read {str(where)!r}: {e}") from e
    if not isinstance(project, dict):
        raise MirrorError(f"{str(where)!r} has no [project] table")
    if "dependencies" in project.get("dynamic", []):
        raise MirrorError(f"{str(where)!r}: dependencies are dynamic (not readable statically)")
    optional = project.get("optional-dependencies", {})
    texts = list(project.get("dependencies", []))
    for extra in extras:
        texts += optional.get(extra, []) if isinstance(optional, dict) else []
    if not all(isinstance(t, str) for t in texts):
        raise MirrorError(f"{str(where)!r}: a dependency that is not a string")
    return [parse_requirement(t, str(where)) for t in texts]


def read_local_project(text: str, base: Path, result: RequirementSet) -> bool:
    """Add the dependencies of the local project ``text`` names (relative to ``base``); False
    when it names no folder with a ``pyproject.toml``."""
    path, extras = _split_extras(text)
    folder = base / path
    if not (folder / "pyproject.toml").is_file():
        return False
    result.requirements += project_requirements(folder, extras)
    result.projects.append(str(folder))
    return True


def read_pylock(path: Path, result: RequirementSet) -> None:
    """The packages a PEP 751 lock pins, as ``name==version; marker`` requirements."""
    try:
        from packaging.pylock import Pylock, PylockValidationError  # noqa: PLC0415
    except ImportError as e:  # packaging before 25.1
        raise MirrorError(f"{path}: reading pylock.toml needs packaging 25.1 or later") from e
    try:
        lock = Pylock.from_dict(tomllib.loads(path.read_text()))
    except (OSError, tomllib.TOMLDecodeError, PylockValidationError) as e:
        raise MirrorError(f"cannot read lock {str(path)!r}: {e}") from e
    result.locked = True
    for package in lock.packages:
        if package.version is None or package.vcs or package.directory or package.archive:
            result.ignored.append(f"{path}: {package.name} (not a version from an index)")
            continue
        marker = f"; {package.marker}" if package.marker is not None else ""
        result.requirements.append(Requirement(f"{package.name}=={package.version}{marker}"))


def read_requirement_files(
    paths: Iterable[str], read: Callable[[Path], str] = Path.read_text
) -> RequirementSet:
    """Requirements (and ``-c`` constraints) of pip requirements files, following ``-r``/``-c``
    and ``-e PATH`` (a local project) relative to the file naming them; a ``pylock.toml`` is
    read as a lock. Other options (``--hash``, index options) are ignored and listed."""
    result = RequirementSet()
    seen: set[Path] = set()

    def visit(path: Path, kind: str) -> None:
        if path.resolve() in seen:
            return
        seen.add(path.resolve())
        if _is_pylock(path):
            read_pylock(path, result)
            return
        try:
            text = read(path)
        except OSError as e:
            raise MirrorError(f"cannot read requirements file {str(path)!r}: {e}") from e
        for line in logical_lines(text):
            _line(line, path, kind, result, visit)

    for p in paths:
        visit(Path(p), "requirements")
    return result


def _is_pylock(path: Path) -> bool:
    name = path.name
    return name == "pylock.toml" or (name.startswith("pylock.") and name.endswith(".toml"))


def _line(
    line: str,
    path: Path,
    kind: str,
    result: RequirementSet,
    visit: Callable[[Path, str], None],
) -> None:
    word, _, rest = line.partition(" ")
    option, eq, value = word.partition("=")
    target = (value if eq else rest).strip()
    if option in _NESTED:
        visit(path.parent / target, _NESTED[option])
    elif option in _EDITABLE and read_local_project(target, path.parent, result):
        return
    elif line.startswith("-"):
        result.ignored.append(f"{path}: {line}")
    elif looks_like_path(word) and read_local_project(word, path.parent, result):
        return
    else:
        spec = line.split(" --", 1)[0].strip()  # drop per-line options (--hash=...)
        into = result.requirements if kind == "requirements" else result.constraints
        into.append(parse_requirement(spec, str(path)))
