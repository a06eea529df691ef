"""Find the core metadata inside a wheel or sdist, reading through a seekable file object.

Nothing is extracted: members are listed, their names checked, and only METADATA / PKG-INFO
(and a wheel's WHEEL) is read, with its size bounded before and during decompression (zip bombs
stop here). A zip's end records are read first, so that a central directory too large to parse
within the Cloud Function's memory is refused before ``zipfile`` builds an object per member.
Wheels are checked as pip checks them before installing (``pip._internal.utils.wheel``).
"""

from __future__ import annotations

import email.parser
import io
import posixpath
import struct
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from typing import IO

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from pypapo.errors import (
    InvalidArchiveError,
    MetadataMismatchError,
    MissingMetadataError,
    TooLargeError,
    UnsupportedWheelError,
)
from pypapo.layout import DistName
from pypapo.metadata import MAX_METADATA_BYTES

MAX_UNCOMPRESSED_TOTAL = 16 << 30
"""A wheel declaring more than this in total is treated as a decompression bomb."""
MAX_ZIP_MEMBERS = 100_000
"""The largest wheels on PyPI (ansible's) hold about 60,000 files. ``zipfile`` keeps about
half a KiB per member, so 100,000 stay near 60 MB, and its parse near half a second."""
MAX_CENTRAL_DIRECTORY = 16 << 20
"""The directory's bytes, read whole by ``zipfile``: 100,000 members with 120-character names
fit. Bounding its size also bounds the member count whatever the end record claims: zipfile
reads entries until the declared size is used up, not until the declared count."""
MAX_WHEEL_FILE = 64 << 10
"""A WHEEL file is a few headers and one Tag line per platform: a thousand tags fit."""

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


def _read_bounded(
    path: str, member: str, stream: IO[bytes], limit: int = MAX_METADATA_BYTES
) -> bytes:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise TooLargeError(path, f"{member} decompresses to more than {limit} bytes")
    return data


# -- zip: wheels and zip sdists -----------------------------------------------------------

_END = struct.Struct("<4s4H2LH")
_END64_LOCATOR = struct.Struct("<4sLQL")
_END64 = struct.Struct("<4sQ2H2L4Q")
_MAX_COMMENT = 0xFFFF
_CENTRAL_SIGNATURE = b"PK\x01\x02"


@dataclass(frozen=True)
class _Directory:
    """What the end records say of the central directory, read as ``zipfile`` reads them."""

    members: int
    size: int
    start: int


def _find_directory(fileobj: IO[bytes]) -> _Directory | None:
    """The end records, from the last 64 KiB (the wheel's buffered tail); ``None`` when there
    are none, which ``zipfile`` then reports in its own words."""
    file_size = fileobj.seek(0, io.SEEK_END)
    span = min(file_size, _MAX_COMMENT + _END.size + _END64_LOCATOR.size + _END64.size)
    fileobj.seek(file_size - span)
    tail = fileobj.read(span)
    # as zipfile: a record without comment at the very end, else the last signature
    at = len(tail) - _END.size
    if not (at >= 0 and tail.startswith(b"PK\x05\x06", at) and tail.endswith(b"\0\0")):
        at = tail.rfind(b"PK\x05\x06", max(0, len(tail) - _MAX_COMMENT - _END.size))
    if at < 0 or at + _END.size > len(tail):
        return None
    _, _, _, _, members, size, _, _ = _END.unpack_from(tail, at)
    location = file_size - span + at
    zip64 = _zip64_record(tail, at)
    if zip64 is not None:  # zipfile trusts these over the plain record's
        members, size = zip64
        location -= _END64_LOCATOR.size + _END64.size
    # as zipfile: the directory ends where the end records start (data may precede the zip)
    return _Directory(members, size, location - size)


def _zip64_record(tail: bytes, end: int) -> tuple[int, int] | None:
    locator = end - _END64_LOCATOR.size
    record = locator - _END64.size
    if record < 0 or not tail.startswith(b"PK\x06\x07", locator):
        return None
    if not tail.startswith(b"PK\x06\x06", record):
        return None  # zipfile, too, then falls back to the plain record
    *_, members, size, _ = _END64.unpack_from(tail, record)
    return members, size


def _check_directory(path: str, fileobj: IO[bytes]) -> None:
    """Refuse what would cost ``zipfile`` too much memory or time to list, before it does."""
    directory = _find_directory(fileobj)
    if directory is None:
        return
    if directory.members > MAX_ZIP_MEMBERS:
        raise TooLargeError(path, f"declares {directory.members} members, over {MAX_ZIP_MEMBERS}")
    if directory.size > MAX_CENTRAL_DIRECTORY:
        raise TooLargeError(
            path, f"central directory is {directory.size} bytes, over {MAX_CENTRAL_DIRECTORY}"
        )
    if directory.start < 0:
        return  # zipfile says "bad offset" in its own words
    fileobj.seek(directory.start)
    # every entry starts with the signature (zipfile checks it), so this never undercounts
    if fileobj.read(directory.size).count(_CENTRAL_SIGNATURE) > MAX_ZIP_MEMBERS:
        raise TooLargeError(
            path, f"has more than {MAX_ZIP_MEMBERS} members in its central directory"
        )


def _from_zip(path: str, dist: DistName, fileobj: IO[bytes]) -> bytes:
    _check_directory(path, fileobj)
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
        names = [i.filename for i in infos]
        if dist.kind == "wheel":
            return _wheel_metadata(path, dist, zf, names)
        return _read_member(path, zf, _zip_pkg_info(path, names), MAX_METADATA_BYTES)


def _read_member(path: str, zf: zipfile.ZipFile, name: str, limit: int) -> bytes:
    info = zf.getinfo(name)
    if info.file_size > limit:
        raise TooLargeError(path, f"{name} declares {info.file_size} bytes")
    with zf.open(info) as member:
        return _read_bounded(path, name, member, limit)


def _zip_pkg_info(path: str, names: list[str]) -> str:
    found = [n for n in names if n.count("/") == 1 and n.endswith("/PKG-INFO")]
    if not found:
        raise MissingMetadataError(path, "no <top>/PKG-INFO in archive")
    if len(found) > 1:
        raise InvalidArchiveError(path, f"more than one <top>/PKG-INFO: {', '.join(sorted(found))}")
    return found[0]


def _wheel_metadata(path: str, dist: DistName, zf: zipfile.ZipFile, names: list[str]) -> bytes:
    """The METADATA of a wheel that passes pip's checks before it installs one."""
    info_dir = _dist_info_dir(path, dist, names)
    metadata = f"{info_dir}/METADATA"
    if metadata not in zf.NameToInfo:
        raise MissingMetadataError(path, f"no {metadata} in the wheel")
    wheel = f"{info_dir}/WHEEL"
    if wheel not in zf.NameToInfo:
        raise UnsupportedWheelError(path, f"no {wheel} in the wheel")
    # METADATA first: wheels store it before WHEEL, and reads from storage fetch forwards
    raw = _read_member(path, zf, metadata, MAX_METADATA_BYTES)
    _check_wheel_version(path, _read_member(path, zf, wheel, MAX_WHEEL_FILE))
    return raw


def _dist_info_dir(path: str, dist: DistName, names: list[str]) -> str:
    """As pip's ``wheel_dist_info_dir``: exactly one top-level ``.dist-info`` directory. pip
    then only asks that its name start with the project's; this also asks for the version,
    the file name's, as PEP 427 names the directory."""
    found = sorted({n.split("/", 1)[0] for n in names if n.split("/", 1)[0].endswith(".dist-info")})
    if not found:
        raise MissingMetadataError(path, "no .dist-info directory in the wheel")
    if len(found) > 1:
        raise UnsupportedWheelError(
            path, f"more than one .dist-info directory: {', '.join(found[:5])}"
        )
    info_dir = found[0]
    mismatch = _mismatch(info_dir.removesuffix(".dist-info"), dist)
    if mismatch is not None:
        raise MetadataMismatchError(
            path, f".dist-info directory {info_dir!r} does not match file name {mismatch}"
        )
    return info_dir


def _mismatch(stem: str, dist: DistName) -> str | None:
    """Which of the file's project and version ``<name>-<version>`` is not (None: neither),
    compared as packaging compares them; older tools left dashes in the name unescaped."""
    splits = [(stem[:at], stem[at + 1 :]) for at, c in enumerate(stem) if c == "-"]
    named = [version for name, version in splits if canonicalize_name(name) == dist.project]
    if not named:
        return f"project {dist.project!r}"
    if not any(_same_version(version, dist.version) for version in named):
        return f"version {str(dist.version)!r}"
    return None


def _same_version(text: str, version: Version) -> bool:
    try:
        return Version(text) == version
    except InvalidVersion:
        return False


def _check_wheel_version(path: str, raw: bytes) -> None:
    """As pip's ``wheel_version`` and ``check_compatibility``: pip refuses a major version
    above its own (1) and only warns on a newer minor."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UnsupportedWheelError(path, "WHEEL is not UTF-8") from e
    value = email.parser.Parser().parsestr(text, headersonly=True)["Wheel-Version"]
    if value is None:
        raise UnsupportedWheelError(path, "WHEEL has no Wheel-Version")
    try:
        version = tuple(map(int, value.strip().split(".")))
    except ValueError as e:
        raise UnsupportedWheelError(path, f"invalid Wheel-Version {value.strip()[:40]!r}") from e
    if version[0] > 1:
        raise UnsupportedWheelError(path, f"Wheel-Version {value.strip()} is not 1.x")


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
