"""Find the core metadata inside a wheel or sdist, reading through a seekable file object.

Nothing is extracted: members are listed, their names checked, and only METADATA / PKG-INFO is
read, with its size bounded before and during decompression (zip bombs stop here).
"""

from __future__ import annotations

import posixpath
import tarfile
import zipfile
import zlib
from typing import IO

from pypapo.errors import InvalidArchiveError, MissingMetadataError, TooLargeError
from pypapo.layout import DistName
from pypapo.metadata import MAX_METADATA_BYTES

MAX_UNCOMPRESSED_TOTAL = 16 << 30
"""A wheel declaring more than this in total is treated as a decompression bomb."""

_ARCHIVE_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    tarfile.TarError,
    zlib.error,
    EOFError,
    OSError,
    NotImplementedError,
    RuntimeError,
    ValueError,
)


def _unsafe_member(name: str) -> str | None:
    """Why an archive member name would escape the install directory, or None if it is fine."""
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return f"absolute path {name!r}"
    if ".." in name.replace("\\", "/").split("/"):
        return f"path with '..' {name!r}"
    return None


def read_core_metadata(path: str, dist: DistName, fileobj: IO[bytes]) -> bytes:
    """The bytes of the distribution's METADATA (wheel) or top-level PKG-INFO (sdist)."""
    try:
        if dist.kind == "wheel" or dist.filename.endswith(".zip"):
            return _from_zip(path, dist, fileobj)
        return _from_tar(path, fileobj)
    except (InvalidArchiveError, MissingMetadataError, TooLargeError):
        raise
    except _ARCHIVE_ERRORS as e:
        raise InvalidArchiveError(path, f"unreadable archive ({type(e).__name__}: {e})") from e


def _read_bounded(path: str, member: str, stream: IO[bytes]) -> bytes:
    data = stream.read(MAX_METADATA_BYTES + 1)
    if len(data) > MAX_METADATA_BYTES:
        raise TooLargeError(path, f"{member} decompresses to more than {MAX_METADATA_BYTES} bytes")
    return data


def _from_zip(path: str, dist: DistName, fileobj: IO[bytes]) -> bytes:
    try:
        zf = zipfile.ZipFile(fileobj)
    except zipfile.BadZipFile as e:
        raise InvalidArchiveError(path, f"not a zip archive ({e})") from e
    with zf:
        infos = zf.infolist()
        for info in infos:
            if reason := _unsafe_member(info.filename):
                raise InvalidArchiveError(path, f"unsafe member: {reason}")
        declared = sum(info.file_size for info in infos)
        if declared > MAX_UNCOMPRESSED_TOTAL:
            raise TooLargeError(
                path, f"declares {declared} uncompressed bytes (decompression bomb)"
            )
        wanted = _zip_metadata_member(path, dist, [i.filename for i in infos])
        info = zf.getinfo(wanted)
        if info.file_size > MAX_METADATA_BYTES:
            raise TooLargeError(path, f"{wanted} declares {info.file_size} bytes")
        with zf.open(info) as member:
            return _read_bounded(path, wanted, member)


def _zip_metadata_member(path: str, dist: DistName, names: list[str]) -> str:
    if dist.kind == "wheel":
        found = [n for n in names if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
        label = "*.dist-info/METADATA"
    else:
        found = [n for n in names if n.count("/") == 1 and n.endswith("/PKG-INFO")]
        label = "<top>/PKG-INFO"
    if not found:
        raise MissingMetadataError(path, f"no {label} in archive")
    if len(found) > 1:
        raise InvalidArchiveError(path, f"more than one {label}: {', '.join(sorted(found))}")
    return found[0]


def _from_tar(path: str, fileobj: IO[bytes]) -> bytes:
    # Stream mode reads strictly forward, so the caller's buffered head usually suffices.
    try:
        tf = tarfile.open(fileobj=fileobj, mode="r|*")  # noqa: SIM115 (closed below)
    except tarfile.TarError as e:
        raise InvalidArchiveError(path, f"not a tar archive ({e})") from e
    found: bytes | None = None
    tops: set[str] = set()
    with tf:
        for member in tf:
            if reason := _unsafe_member(member.name):
                raise InvalidArchiveError(path, f"unsafe member: {reason}")
            if (member.issym() or member.islnk()) and (
                reason := _unsafe_link(member.name, member.linkname, hard=member.islnk())
            ):
                raise InvalidArchiveError(path, f"unsafe link: {reason}")
            parts = member.name.strip("/").split("/")
            tops.add(parts[0])
            if len(parts) == 2 and parts[1] == "PKG-INFO" and found is None:
                if not member.isfile():
                    raise InvalidArchiveError(path, f"{member.name} is not a regular file")
                if member.size > MAX_METADATA_BYTES:
                    raise TooLargeError(path, f"{member.name} declares {member.size} bytes")
                stream = tf.extractfile(member)
                if stream is None:  # pragma: no cover - isfile() guarantees a stream
                    raise InvalidArchiveError(path, f"cannot read {member.name}")
                found = _read_bounded(path, member.name, stream)
    if found is None:
        raise MissingMetadataError(path, "no <top>/PKG-INFO in archive")
    if len(tops) > 1:
        raise InvalidArchiveError(path, f"more than one top-level directory: {sorted(tops)[:3]}")
    return found


def _unsafe_link(name: str, target: str, *, hard: bool) -> str | None:
    if target.startswith("/"):
        return f"{name!r} points to absolute {target!r}"
    # hard link targets are archive paths; symlink targets are relative to the link's directory
    base = "" if hard else posixpath.dirname(name)
    resolved = posixpath.normpath(posixpath.join(base, target))
    if resolved == ".." or resolved.startswith("../"):
        return f"{name!r} points outside the archive ({target!r})"
    return None
