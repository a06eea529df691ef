"""Find the core metadata inside a wheel or sdist, reading through a seekable file object.

Nothing is extracted: members are listed, their names checked, and only METADATA / PKG-INFO
(and a wheel's WHEEL) is read, with its size bounded before and during decompression (zip bombs
stop here). A zip's end records are read first, so that a central directory too large to parse
within the Cloud Function's memory is refused before ``zipfile`` builds an object per member.
Wheels are checked as pip checks them before installing (``pip._internal.utils.wheel``).
"""

from __future__ import annotations

import email.parser
import functools
import io
import posixpath
import re
import struct
import tarfile
import time
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from pypapo.errors import (
    BadDistributionError,
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

MAX_TAR_MEMBERS = MAX_ZIP_MEMBERS
"""Members before PKG-INFO (hatchling, flit and poetry write it last): each costs a header
parse in Python (tarfile's), about 20 µs here, so 100,000 take 2 s."""
MAX_INFLATE_RATIO = 50
MIN_INFLATE_CHECKED = 64 << 20
"""An sdist may inflate to 50 times its size, or 64 MiB if that is more: warehouse's rule
for zips (COMPRESSION_RATIO_THRESHOLD, COMPRESSION_RATIO_MIN_SIZE), which it notes it lacks
for tars. Source compresses 3-10 times; a 4 MiB file inflating to 4 GiB is a bomb."""
SDIST_SECONDS = 8.0
"""CPU time one sdist may take to inflate and walk: the backstop of the bounds above, which
let a 1 GiB sdist (PyPI's largest allowed upload) inflate for longer than the Cloud Function
could wait. Zlib inflates 0.5-1.5 GB/s here."""
MAX_EXTENDED_HEADER = 1 << 20
"""A pax or GNU long-name header: file names and link targets, not data."""
_STEP = 1 << 20

_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
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


def is_zip(dist: DistName) -> bool:
    """Wheels and ``.zip`` sdists are zips; ``.tar.gz`` sdists are read by ``SdistScanner``."""
    return dist.kind == "wheel" or dist.filename.endswith(".zip")


def read_core_metadata(path: str, dist: DistName, fileobj: IO[bytes]) -> bytes:
    """The bytes of the distribution's METADATA (wheel) or top-level PKG-INFO (sdist)."""
    if not is_zip(dist):
        return _from_tar(path, fileobj)
    try:
        return _from_zip(path, dist, fileobj)
    except BadDistributionError:
        raise
    except _ZIP_ERRORS as e:
        raise InvalidArchiveError(path, f"unreadable archive ({type(e).__name__}: {e})") from e


def _from_tar(path: str, fileobj: IO[bytes]) -> bytes:
    size = fileobj.seek(0, io.SEEK_END)
    fileobj.seek(0)
    scanner = SdistScanner(path, size)
    while not scanner.done and (chunk := fileobj.read(_STEP)):
        scanner.feed(chunk)
    return scanner.finish()


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


# -- tar.gz sdists ------------------------------------------------------------------------


class SdistScanner:
    """Finds ``<top>/PKG-INFO`` in a ``.tar.gz`` fed in chunks of any size, as a storage
    stream delivers it, so that the read that hashes an sdist is the only read of it.

    The tar is walked up to PKG-INFO and no further. The rest of the gzip stream is still
    inflated, without looking at it, for its CRC: an sdist cut short or corrupted after its
    PKG-INFO would otherwise be indexed and fail only in pip. Inflating is bounded by a
    decompression budget and a CPU-time budget. Errors are kept and raised by ``finish``:
    a stream sink must not act before the whole read is known to be of one generation."""

    def __init__(self, path: str, size: int) -> None:
        self.path = path
        self._budget = max(MIN_INFLATE_CHECKED, MAX_INFLATE_RATIO * size)
        self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip framing only
        self._start = b""  # the first bytes, until they show gzip's magic and method
        self._trailing = False  # past the gzip member that ended the tar
        self._inflated = 0
        self._cpu = 0.0
        self._error: BadDistributionError | None = None
        self._tar = _TarWalk(path)

    @property
    def done(self) -> bool:
        """Nothing more needs reading: a verdict is in, or the gzip stream has ended."""
        return self._error is not None or (self._tar.finished and self._trailing)

    def feed(self, chunk: bytes) -> None:
        if self.done or not chunk:
            return
        start = time.thread_time()
        try:
            if len(self._start) < len(_GZIP):
                self._check_gzip(chunk)
            self._inflate(chunk, start)
        except BadDistributionError as e:
            self._error = e
        except zlib.error as e:  # a gzip stream, so no wrong file type: a broken one
            self._error = InvalidArchiveError(self.path, f"unreadable archive ({e})")
        except (tarfile.TarError, ValueError) as e:
            self._error = self._unreadable(f"{type(e).__name__}: {e}")
        self._cpu += time.thread_time() - start

    def _check_gzip(self, chunk: bytes) -> None:
        # before zlib sees it: zlib's errors cannot tell another format from a broken stream
        self._start += chunk[: len(_GZIP) - len(self._start)]
        if not _GZIP.startswith(self._start):
            raise InvalidArchiveError(self.path, "not a tar archive (not gzip-compressed)")

    def finish(self) -> bytes:
        """PKG-INFO's bytes, or the ``BadDistributionError`` the stream earned."""
        if self._error is not None:
            raise self._error
        if self._tar.pkg_info is None:
            if not self._start:
                raise InvalidArchiveError(self.path, "not a tar archive (empty file)")
            raise self._unreadable("the tar ends before its PKG-INFO")
        if not self._trailing:
            raise self._unreadable("the gzip stream ends early")
        return self._tar.pkg_info

    def _unreadable(self, why: str) -> InvalidArchiveError:
        if self._tar.headers == 0:
            return InvalidArchiveError(self.path, f"not a tar archive ({why})")
        return InvalidArchiveError(self.path, f"unreadable archive ({why})")

    def _inflate(self, data: bytes, start: float) -> None:
        # at most _STEP bytes out per call: a bomb never sits whole in memory
        while not self._trailing:
            out = self._inflater.decompress(data, _STEP)
            data = self._inflater.unconsumed_tail
            self._take(out)
            if self._inflater.eof:
                data = self._next_member(self._inflater.unused_data + data)
            elif not data and len(out) < _STEP:
                return
            if self._cpu + time.thread_time() - start > SDIST_SECONDS:
                raise TooLargeError(
                    self.path, f"took more than {SDIST_SECONDS} s of CPU to decompress"
                )

    def _next_member(self, rest: bytes) -> bytes:
        """After a gzip member: further members continue the stream while the tar needs them,
        as GzipFile reads them; what follows the tar's end, tarfile never reads either."""
        if self._tar.finished:
            self._trailing = True
            return b""
        self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        return rest

    def _take(self, out: bytes) -> None:
        self._inflated += len(out)
        if self._inflated > self._budget:
            raise TooLargeError(
                self.path,
                f"decompresses to more than {self._budget:,} bytes (over {MAX_INFLATE_RATIO} "
                "times its size): a decompression bomb",
            )
        if not self._tar.finished:
            self._tar.feed(out)


_GZIP = b"\x1f\x8b\x08"  # magic, then deflate: the only method gzip defines
_ZERO_BLOCK = bytes(tarfile.BLOCKSIZE)
_EXTENDED = (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE)
_GNU_LONG = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK)
_PAX_RECORD = re.compile(rb"(\d+) ([^=]+)=")


class _TarWalk:
    """The tar's headers, block by block, up to PKG-INFO: ``tarfile``'s own parsing of each
    header (``TarInfo.frombuf``) and its rules for pax and GNU extended headers, driven by
    whatever bytes arrive instead of by reads."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.pkg_info: bytes | None = None
        self.finished = False  # PKG-INFO read, or the end of the archive
        self.headers = 0
        self._members = 0
        self._tops: set[str] = set()
        self._buffer = bytearray()
        self._need = tarfile.BLOCKSIZE
        self._skip = 0
        self._then: Callable[[bytes], None] = self._header
        self._padding = 0
        self._pending: dict[str, str] = {}  # from extended headers, for the next member
        self._global: dict[str, str] = {}

    def feed(self, data: bytes) -> None:
        view = memoryview(data)
        at = 0
        while at < len(view) and not self.finished:
            if self._skip:
                step = min(self._skip, len(view) - at)
                self._skip -= step
                at += step
                continue
            step = min(self._need - len(self._buffer), len(view) - at)
            self._buffer += view[at : at + step]
            at += step
            if len(self._buffer) == self._need:
                block = bytes(self._buffer)
                self._buffer.clear()
                self._complete(block)

    def _expect(self, size: int, then: Callable[[bytes], None]) -> None:
        """Hand the next ``size`` bytes to ``then``; the padding to the next block is skipped."""
        self._need, self._then, self._padding = size, then, -size % tarfile.BLOCKSIZE
        if size == 0:
            self._complete(b"")

    def _complete(self, data: bytes) -> None:
        then = self._then
        self._need, self._then = tarfile.BLOCKSIZE, self._header
        self._skip, self._padding = self._padding, 0
        then(data)

    def _header(self, block: bytes) -> None:
        if block == _ZERO_BLOCK:  # the end of the archive, as tarfile reads it
            self.finished = True
            raise MissingMetadataError(self.path, "no <top>/PKG-INFO in archive")
        info = tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
        self.headers += 1
        if info.type in _EXTENDED or info.type in _GNU_LONG:
            if info.size > MAX_EXTENDED_HEADER:
                raise TooLargeError(self.path, f"extended header of {info.size} bytes")
            self._expect(info.size, functools.partial(self._extended, info.type))
        else:
            self._member(info)

    def _extended(self, kind: bytes, data: bytes) -> None:
        if kind == tarfile.GNUTYPE_LONGNAME:
            self._pending.setdefault("path", _nul_terminated(data))
        elif kind == tarfile.GNUTYPE_LONGLINK:
            self._pending.setdefault("linkpath", _nul_terminated(data))
        elif kind == tarfile.XGLTYPE:
            self._global.update(_pax_records(data))
        else:
            # as tarfile: the first extended header before a member wins
            for key, value in {**self._global, **_pax_records(data)}.items():
                self._pending.setdefault(key, value)

    def _member(self, info: tarfile.TarInfo) -> None:
        sparse = _apply_pending(info, self._pending)
        self._pending = {}
        self._members += 1
        if self._members > MAX_TAR_MEMBERS:
            raise TooLargeError(
                self.path, f"more than {MAX_TAR_MEMBERS} members before its PKG-INFO"
            )
        if sparse or info.type == tarfile.GNUTYPE_SPARSE:
            raise InvalidArchiveError(self.path, f"sparse member {info.name!r} (as on PyPI)")
        _check_tar_member(self.path, info)
        parts = info.name.strip("/").split("/")
        self._tops.add(parts[0])
        if len(parts) == 2 and parts[1] == "PKG-INFO":
            self._pkg_info(info)
        elif info.isreg() or info.type not in tarfile.SUPPORTED_TYPES:
            self._skip = info.size + (-info.size % tarfile.BLOCKSIZE)  # as tarfile skips data

    def _pkg_info(self, info: tarfile.TarInfo) -> None:
        if not info.isfile():
            raise InvalidArchiveError(self.path, f"{info.name} is not a regular file")
        if info.size > MAX_METADATA_BYTES:
            raise TooLargeError(self.path, f"{info.name} declares {info.size} bytes")
        if len(self._tops) > 1:
            tops = sorted(self._tops)[:3]
            raise InvalidArchiveError(self.path, f"more than one top-level directory: {tops}")
        self._expect(info.size, self._found)

    def _found(self, data: bytes) -> None:
        self.pkg_info = data
        self.finished = True


def _check_tar_member(path: str, info: tarfile.TarInfo) -> None:
    if info.size < 0:
        raise InvalidArchiveError(path, f"member {info.name!r} has a negative size")
    if reason := _unsafe_member(info.name):
        raise InvalidArchiveError(path, f"unsafe member: {reason}")
    if (info.issym() or info.islnk()) and (
        reason := _unsafe_link(info.name, info.linkname, hard=info.islnk())
    ):
        raise InvalidArchiveError(path, f"unsafe link: {reason}")


def _apply_pending(info: tarfile.TarInfo, pending: dict[str, str]) -> bool:
    """What tarfile takes from pax and GNU extended headers into the member they precede;
    whether they make it a (pax) sparse member."""
    if "path" in pending:
        info.name = pending["path"]
    if "linkpath" in pending:
        info.linkname = pending["linkpath"]
    if "size" in pending:
        try:
            info.size = int(pending["size"])
        except ValueError:
            info.size = 0  # as tarfile
    return any(key.startswith("GNU.sparse.") for key in pending)


def _nul_terminated(data: bytes) -> str:
    return data.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _pax_records(data: bytes) -> dict[str, str]:
    """``"<length> <key>=<value>\\n"`` records, framed as tarfile checks them."""
    records: dict[str, str] = {}
    at = 0
    while at < len(data) and data[at] != 0:
        match = _PAX_RECORD.match(data, at)
        length = int(match.group(1)) if match else 0
        end = at + length - 1
        if match is None or length < 5 or end >= len(data) or data[end] != 0x0A:
            raise tarfile.HeaderError("invalid pax header")
        key = match.group(2).decode("utf-8", "surrogateescape")
        records[key] = data[match.end() : end].decode("utf-8", "surrogateescape")
        at = end + 1
    return records


def _unsafe_link(name: str, target: str, *, hard: bool) -> str | None:
    if target.startswith("/"):
        return f"{name!r} points to absolute {target!r}"
    # hard link targets are archive paths; symlink targets are relative to the link's directory
    base = "" if hard else posixpath.dirname(name)
    resolved = posixpath.normpath(posixpath.join(base, target))
    if resolved == ".." or resolved.startswith("../"):
        return f"{name!r} points outside the archive ({target!r})"
    return None
