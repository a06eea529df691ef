"""Where things live in the storage, and which object paths are distributions.

Everything pypapo writes is recognisable from its path alone (the loop guard of the Cloud
Function depends on it): pages and state under ``simple/``, human pages under ``browse/``, PEP 658
sidecars ``<file>.metadata`` and local yank markers ``<file>.yanked``.

Object names are input: a bucket holds ``x/../evil.whl`` or ``a//b.whl`` as readily as any other
name. ``check_object_name`` is the one place that decides which names are safe; every
distribution-looking path passes it (in ``parse_dist_filename``) before a storage call sees it.
"""

from __future__ import annotations

import functools
import os
import posixpath
import re
import threading
import unicodedata
from dataclasses import dataclass
from typing import Literal

from packaging.utils import (
    InvalidName,
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    canonicalize_version,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from pypapo.errors import InvalidFilenameError

INDEX_PREFIX = "simple/"
BROWSE_PREFIX = "browse/"
"""Human-readable pages, kept apart from the pages installers read."""
SIDECAR_SUFFIX = ".metadata"
YANK_MARKER_SUFFIX = ".yanked"
ATTESTATION_SUFFIX = ".publish.attestation"
"""A publisher's PEP 740 attestation of the distribution it follows (``twine`` and ``uv
publish`` keep it under this name): indexed by its own events, never looked for."""
PROVENANCE_SUFFIX = ".provenance"
"""The PEP 740 provenance document pypapo publishes for an attested distribution."""
STATE_NAME = ".state.json"
STATUS_PREFIX = "status/"
"""PEP 792 project statuses, ``status/<project>.json``: written by operators (publishers may
write only under ``packages/``), so not pypapo's own writes: their events refresh the project."""
QUARANTINE_PREFIX = INDEX_PREFIX + ".quarantine/"
"""``<prefix><object path>`` exists while the index refuses that file: NGINX tests for it."""
MAX_FILENAME = 255 - len(SIDECAR_SUFFIX)
"""File systems hold names of up to 255 bytes: a longer name leaves no room for the sidecar."""
MAX_OBJECT_NAME = 1024
"""GCS's limit on an object name, in UTF-8 bytes: a longer one can only come from a forged
event, and its path would not fit a URL or a log line either."""

Kind = Literal["wheel", "sdist"]
_SDIST_SUFFIXES = (".tar.gz", ".zip")


@dataclass(frozen=True)
class DistName:
    """What a distribution's file name says: its project, version and kind."""

    filename: str
    project: NormalizedName
    version: Version
    kind: Kind
    wheel_tags: tuple[str, ...] = ()
    """A wheel's build tag and its tags, as ``distribution_key`` tells wheels apart."""


TMP_PREFIX = ".pypapo-tmp-"
"""Temporary files of atomic writes start with this: never indexed, listed or served, and
swept by ``pypapo build`` when a killed writer left one behind."""


def tmp_name(name: str) -> str:
    """A hidden temporary name beside ``name``, unique per process and thread, short enough for
    any file name (only a prefix of ``name`` is kept: the target may be 255 bytes long)."""
    stem = name.encode()[:100].decode(errors="ignore")
    return f"{TMP_PREFIX}{stem}-{os.getpid()}-{threading.get_ident():x}"


# C0 controls, DEL and the backslash (a path separator to Windows tools and some unpackers)
_UNSAFE_ASCII = re.compile(r"[\x00-\x1f\x7f\\]")
# controls, invisible formatting (bidi overrides, zero widths), lone surrogates (not UTF-8) and
# line or paragraph separators: each makes a name read, print or encode as another
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def object_name_problem(path: str) -> str | None:
    """Why ``path`` is no safe object path (``None``: it is one). A safe path names the same
    object in a bucket, in a folder and in a URL: relative, no empty, ``.`` or ``..`` segment,
    no character that prints, splits or encodes as something else, at most 1024 bytes."""
    # the length first: a forged name may be megabytes long, and is not scanned then
    if len(path) > MAX_OBJECT_NAME or len(path.encode(errors="surrogatepass")) > MAX_OBJECT_NAME:
        return f"object name longer than {MAX_OBJECT_NAME} bytes"
    char = _unsafe_char(path)
    if char is not None:
        return (
            "backslash in the object name"
            if char == "\\"
            else f"unsafe character U+{ord(char):04X} in the object name"
        )
    if path.startswith("/"):
        return "object name starts with '/'"
    segments = path.split("/")
    for bad in ("..", "."):
        if bad in segments:
            return f"{bad!r} segment in the object name"
    if "" in segments:
        return "empty segment in the object name"
    return None


def _unsafe_char(path: str) -> str | None:
    found = _UNSAFE_ASCII.search(path)
    if found is not None:
        return found.group()
    if path.isascii():  # the common case, decided by the pattern alone
        return None
    return next((c for c in path if unicodedata.category(c) in _UNSAFE_CATEGORIES), None)


def check_object_name(path: str) -> None:
    """Raise ``InvalidFilenameError`` naming ``path`` unless it is a safe object path."""
    problem = object_name_problem(path)
    if problem is not None:
        raise InvalidFilenameError(path, problem)


def is_own_write(path: str) -> bool:
    """True for objects pypapo itself writes, which must never trigger a refresh. pypapo
    writes only safe names, so an unsafe one is never its own (it is reported, not dropped)."""
    return object_name_problem(path) is None and (
        path.startswith((INDEX_PREFIX, BROWSE_PREFIX))
        or path.endswith((SIDECAR_SUFFIX, YANK_MARKER_SUFFIX, PROVENANCE_SUFFIX))
        or posixpath.basename(path).startswith(TMP_PREFIX)
    )


UNSERVED_SDIST_SUFFIXES = (".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar", ".tar.zst")
"""Archives pip installs as sdists that PEP 625 does not allow; old releases use them. The
index does not serve them (packaging cannot parse their names, NGINX would not serve them,
and uv refuses some): a build reports each, and the publisher repacks it as ``.tar.gz``."""
UNSERVED_BINARY_SUFFIXES = (".egg", ".exe", ".msi")


def unserved_distribution_reason(path: str) -> str | None:
    """Why a file that looks like a distribution of another format is not indexed; ``None``
    for anything else (a README, pypapo's own files)."""
    name = posixpath.basename(path).lower()
    if is_own_write(path) or not name.endswith(UNSERVED_SDIST_SUFFIXES + UNSERVED_BINARY_SUFFIXES):
        return None
    hint = (
        "build a wheel"
        if name.endswith(UNSERVED_BINARY_SUFFIXES)
        else "repack it as a .tar.gz sdist"
    )
    return f"not indexed: the index serves wheels and .tar.gz or .zip sdists (PEP 625); {hint}"


def looks_like_distribution(path: str) -> bool:
    """True for paths a user meant as a distribution (by suffix), outside pypapo's own writes."""
    return not is_own_write(path) and path.endswith((".whl", *_SDIST_SUFFIXES))


@functools.lru_cache(maxsize=1 << 14)  # a build parses each name twice: to group, then to read
def parse_dist_filename(path: str) -> DistName:
    """Project, version and kind from the file name, using packaging's own parsers; an unsafe
    object path is an ``InvalidFilenameError`` whatever its file name says."""
    check_object_name(path)
    filename = posixpath.basename(path)
    if len(filename.encode()) > MAX_FILENAME:
        raise InvalidFilenameError(path, f"file name longer than {MAX_FILENAME} bytes")
    try:
        if filename.endswith(".whl"):
            name, version, build, tags = parse_wheel_filename(filename)
            wheel_tags = (repr(build), *sorted(map(str, tags)))
            return DistName(filename, _valid_name(path, name), version, "wheel", wheel_tags)
        if filename.endswith(_SDIST_SUFFIXES):
            name, version = parse_sdist_filename(filename)
            return DistName(filename, _valid_name(path, name), version, "sdist")
    except (InvalidWheelFilename, InvalidSdistFilename) as e:
        # packaging says "Invalid wheel filename (why): 'name'"; the path leads our message already
        reason = str(e).removesuffix(f": {filename!r}")
        raise InvalidFilenameError(path, reason[:1].lower() + reason[1:]) from e
    raise InvalidFilenameError(path, "not a .whl, .tar.gz or .zip distribution")


@functools.lru_cache(maxsize=1 << 14)
def distribution_key(path: str) -> tuple[str, ...]:
    """What makes two file names one file to an installer: project and version as normalized,
    and the wheel's build tag and tags or the sdist's format. ``Foo-1.0.tar.gz`` and
    ``foo-1.0.0.tar.gz`` are the same release's sdist; an index serves one of them."""
    dist = parse_dist_filename(path)
    version = canonicalize_version(dist.version)
    if dist.kind == "wheel":
        return (dist.project, version, "wheel", *dist.wheel_tags)
    return (dist.project, version, "zip" if path.endswith(".zip") else "tar.gz")


def _valid_name(path: str, name: NormalizedName) -> NormalizedName:
    # packaging's file name parsers accept non-ASCII names ("ñame"); PEP 508 names are ASCII
    try:
        return canonicalize_name(name, validate=True)
    except InvalidName as e:
        raise InvalidFilenameError(path, f"invalid project name {name!r} (PEP 508)") from e


def project_dir(project: str) -> str:
    return f"{INDEX_PREFIX}{canonicalize_name(project)}/"


def state_path(project: str) -> str:
    return project_dir(project) + STATE_NAME


def page_path(project: str, fmt: Literal["html", "json"]) -> str:
    return project_dir(project) + f"index.{fmt}"


ROOT_HTML = INDEX_PREFIX + "index.html"
ROOT_JSON = INDEX_PREFIX + "index.json"


def sidecar_path(path: str) -> str:
    return path + SIDECAR_SUFFIX


def status_path(project: str) -> str:
    return f"{STATUS_PREFIX}{canonicalize_name(project)}.json"


def status_project(path: str) -> NormalizedName | None:
    """The project whose status object ``path`` is; ``None`` for any other path."""
    if not path.startswith(STATUS_PREFIX) or not path.endswith(".json"):
        return None
    name = path[len(STATUS_PREFIX) : -len(".json")]
    try:
        canonical = canonicalize_name(name, validate=True)
    except InvalidName:
        return None
    return canonical if canonical == name else None


def quarantine_path(path: str) -> str:
    """The marker that makes NGINX refuse the distribution at ``path`` and its sidecars."""
    return QUARANTINE_PREFIX + path


def attestation_path(path: str) -> str:
    return path + ATTESTATION_SUFFIX


def provenance_path(path: str) -> str:
    return path + PROVENANCE_SUFFIX


def attested_path(path: str) -> str | None:
    """The distribution whose attestation ``path`` is; ``None`` for any other path."""
    dist = path.removesuffix(ATTESTATION_SUFFIX)
    return dist if dist != path and looks_like_distribution(dist) else None
