"""Core metadata (METADATA / PKG-INFO): parse, validate against the file name, decide on PEP 658.

Parsing is pkginfo's; validation of names, versions and specifiers is packaging's.
"""

from __future__ import annotations

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
    dist = pkginfo.Distribution()
    with warnings.catch_warnings():
        # pkginfo warns on Metadata-Version values newer than it knows; our fields are stable
        warnings.simplefilter("ignore")
        dist.parse(raw)
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
