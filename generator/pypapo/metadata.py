"""Core metadata (METADATA / PKG-INFO): parse, validate against the file name, decide on PEP 658.

Parsing is pkginfo's; validation of names, versions and specifiers is packaging's. On top, the
rules PyPI's upload applies to the fields an index keeps (warehouse's forklift/metadata.py), and
length bounds on everything that goes into a project's state and pages: one hostile file must
not be able to make either megabytes long.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

import pkginfo
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from pypapo.errors import InvalidMetadataError, MetadataMismatchError
from pypapo.layout import DistName

MAX_METADATA_BYTES = 4 << 20
"""Real METADATA files with long descriptions stay far below this; larger is hostile."""

MAX_SUMMARY = 512
"""PyPI's limit (warehouse ``_LENGTH_LIMITS``), in characters."""
MAX_REQUIRES_PYTHON = 1024
"""PyPI has none; real values stay under 100 characters (``>=2.7, !=3.0.*, ..., <4`` is 70).
Every file's value goes into its project's state and into ``data-requires-python`` on the page."""
MAX_NAME = 255
MAX_VERSION = 255
"""PyPI has no explicit bound on either; its effective one is the file name, which holds both
and which no file system lets exceed 255 bytes. Here the bound also keeps a hostile value out
of error messages and away from packaging's parsers."""

METADATA_VERSIONS = ("1.0", "1.1", "1.2", "2.0", "2.1", "2.2", "2.3", "2.4", "2.5", "2.6")
"""Every released core metadata version, as PyPI's upload compares them (exact strings): what
warehouse accepts today (1.0-1.2, 2.1-2.5), 2.6 (PEP 808; packaging 26 reads it, so new pips
install it), and 2.0, which warehouse refuses for new uploads since 2024 but which
bdist_wheel wrote before 0.31: PyPI still serves thousands of such files and pip installs them.
A later version is one no installer can know the meaning of."""

_SIDECAR_MIN_SDIST_VERSION = Version("2.2")


@dataclass(frozen=True)
class CoreMetadata:
    name: str
    version: Version
    metadata_version: str
    requires_python: str | None
    summary: str
    dynamic: tuple[str, ...]


_END_OF_HEADERS = re.compile(rb"(\r?\n)\r?\n")
# Where the e-mail parser (email.feedparser's headerRE) stops reading headers: a line that is
# neither "Name:", a continuation, nor a "From " line starts the body, whatever follows it.
_NOT_A_HEADER = re.compile(rb"^(?!From |[\x21-\x39\x3b-\x7e]*:|[\t ])", re.MULTILINE)
_SUMMARY_HEADER = re.compile(rb"^summary:", re.MULTILINE | re.IGNORECASE)


def _headers(raw: bytes) -> bytes:
    """The header block: the body is the long description (often a whole README), not needed."""
    end = _END_OF_HEADERS.search(raw)
    return raw if end is None else raw[: end.end(1)]


def _folded_summary(headers: bytes) -> bool:
    """Whether the first Summary header, as the e-mail parser sees it, continues on a second
    line. pkginfo joins such lines; packaging (so PyPI) refuses the value instead."""
    end = _NOT_A_HEADER.search(headers)
    section = headers if end is None else headers[: end.start()]
    found = _SUMMARY_HEADER.search(section)
    if found is None:
        return False
    newline = section.find(b"\n", found.end())
    return newline != -1 and section[newline + 1 : newline + 2] in (b" ", b"\t")


def _check_length(path: str, field: str, value: str, limit: int) -> None:
    # before any parsing of the value: packaging needs seconds for a megabyte of specifiers
    if len(value) > limit:
        raise InvalidMetadataError(path, f"{field} is {len(value)} characters, over {limit}")


def parse_core_metadata(path: str, raw: bytes) -> CoreMetadata:
    """Parse METADATA/PKG-INFO bytes; ``path`` only names the file in errors."""
    if len(raw) > MAX_METADATA_BYTES:
        raise InvalidMetadataError(path, f"metadata is {len(raw)} bytes, over {MAX_METADATA_BYTES}")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InvalidMetadataError(
            path, f"metadata is not UTF-8 ({e.reason} at byte {e.start})"
        ) from e
    headers = _headers(raw)
    # pkginfo's public parser over the header block alone: the body (often a whole README)
    # is never read
    dist = pkginfo.Distribution()
    with warnings.catch_warnings():
        # pkginfo warns on Metadata-Version values newer than it knows; those are refused below
        warnings.simplefilter("ignore")
        dist.parse(headers)
    # first: pkginfo reads no field at all for a version it does not know (1.3, or none)
    metadata_version = _metadata_version(path, dist)
    name = _name(path, dist)
    version = _version(path, dist)
    return CoreMetadata(
        name=name,
        version=version,
        metadata_version=metadata_version,
        requires_python=_requires_python(path, dist),
        summary=_summary(path, dist, headers),
        dynamic=tuple(d.strip().lower() for d in (dist.dynamic or ())),
    )


def _name(path: str, dist: pkginfo.Distribution) -> str:
    if not dist.name:
        raise InvalidMetadataError(path, "metadata has no Name")
    _check_length(path, "Name", dist.name, MAX_NAME)
    return str(dist.name)


def _version(path: str, dist: pkginfo.Distribution) -> Version:
    if not dist.version:
        raise InvalidMetadataError(path, "metadata has no Version")
    _check_length(path, "Version", dist.version, MAX_VERSION)
    try:
        return Version(dist.version)
    except InvalidVersion as e:
        raise InvalidMetadataError(path, f"invalid Version {dist.version!r} in metadata") from e


def _metadata_version(path: str, dist: pkginfo.Distribution) -> str:
    value = dist.metadata_version
    if not value:
        raise InvalidMetadataError(path, "metadata has no Metadata-Version")
    if value not in METADATA_VERSIONS:
        shown = value if len(value) <= 20 else value[:20] + "..."
        raise InvalidMetadataError(
            path,
            f"Metadata-Version {shown!r} is not a released core metadata version "
            f"({', '.join(METADATA_VERSIONS)})",
        )
    return str(value)


def _requires_python(path: str, dist: pkginfo.Distribution) -> str | None:
    requires_python = (dist.requires_python or "").strip() or None
    if requires_python is None:
        return None
    _check_length(path, "Requires-Python", requires_python, MAX_REQUIRES_PYTHON)
    try:
        SpecifierSet(requires_python)
    except InvalidSpecifier as e:
        raise InvalidMetadataError(path, f"invalid Requires-Python {requires_python!r}") from e
    return requires_python


def _summary(path: str, dist: pkginfo.Distribution, headers: bytes) -> str:
    summary = dist.summary or ""
    _check_length(path, "Summary", summary, MAX_SUMMARY)
    if _folded_summary(headers):
        raise InvalidMetadataError(path, "Summary must be a single line")
    return " ".join(summary.split())


def check_matches_filename(path: str, meta: CoreMetadata, dist: DistName) -> None:
    """A file name that disagrees with the metadata inside is bad input, as on PyPI."""
    if canonicalize_name(meta.name) != dist.project:
        raise MetadataMismatchError(
            path, f"metadata Name {meta.name!r} does not match file name project {dist.project!r}"
        )
    if meta.version != dist.version:
        raise MetadataMismatchError(
            path,
            f"metadata Version {str(meta.version)!r} does not match file name version "
            f"{str(dist.version)!r}",
        )


def serves_sidecar(meta: CoreMetadata, dist: DistName) -> bool:
    """PEP 658: wheels always; sdists only when PEP 643 says their dependency metadata is static."""
    if dist.kind == "wheel":
        return True
    try:
        metadata_version = Version(meta.metadata_version)
    except InvalidVersion:
        return False
    return metadata_version >= _SIDECAR_MIN_SDIST_VERSION and not (
        {"requires-dist", "requires-python"} & set(meta.dynamic)
    )
