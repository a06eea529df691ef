"""Core metadata (METADATA / PKG-INFO): parse, validate against the file name, decide on PEP 658.

Parsing is pkginfo's; validation of names, versions and specifiers is packaging's.
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

_SIDECAR_MIN_SDIST_VERSION = Version("2.2")


@dataclass(frozen=True)
class CoreMetadata:
    name: str
    version: Version
    metadata_version: str
    requires_python: str | None
    summary: str
    dynamic: tuple[str, ...]


class _IndexFields(pkginfo.Distribution):
    """pkginfo's parser, asked only for the fields an index page shows: a full build parses
    thousands of METADATA files and every other header is never looked at.

    ``_getHeaderAttrs`` is the hook pkginfo's ``parse`` asks which headers to read (per
    Metadata-Version); should a pkginfo release stop calling it, parsing stays correct, only
    slower (``tests/test_metadata.py`` compares the result with plain pkginfo's)."""

    def _getHeaderAttrs(self) -> tuple[tuple[str, str, bool], ...]:  # noqa: N802 (pkginfo's name)
        every = super()._getHeaderAttrs()  # type: ignore[misc]
        return tuple(h for h in every if h[1] in _INDEX_FIELDS)


_INDEX_FIELDS = frozenset({"name", "version", "requires_python", "summary", "dynamic"})
_END_OF_HEADERS = re.compile(rb"(\r?\n)\r?\n")


def _headers(raw: bytes) -> bytes:
    """The header block: the body is the long description (often a whole README), not needed."""
    end = _END_OF_HEADERS.search(raw)
    return raw if end is None else raw[: end.end(1)]


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
    dist = _IndexFields()
    with warnings.catch_warnings():
        # pkginfo warns on Metadata-Version values newer than it knows; our fields are stable
        warnings.simplefilter("ignore")
        dist.parse(_headers(raw))
    if not dist.name:
        raise InvalidMetadataError(path, "metadata has no Name")
    if not dist.version:
        raise InvalidMetadataError(path, "metadata has no Version")
    try:
        version = Version(dist.version)
    except InvalidVersion as e:
        raise InvalidMetadataError(path, f"invalid Version {dist.version!r} in metadata") from e
    requires_python = (dist.requires_python or "").strip() or None
    if requires_python is not None:
        try:
            SpecifierSet(requires_python)
        except InvalidSpecifier as e:
            raise InvalidMetadataError(path, f"invalid Requires-Python {requires_python!r}") from e
    return CoreMetadata(
        name=dist.name,
        version=version,
        metadata_version=dist.metadata_version or "1.0",
        requires_python=requires_python,
        summary=" ".join((dist.summary or "").split()),
        dynamic=tuple(d.strip().lower() for d in (dist.dynamic or ())),
    )


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
