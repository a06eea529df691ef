""".tar.gz sdists: PKG-INFO found in the one streaming read that hashes the file (never a
second read), the tar walked no further than PKG-INFO, the gzip stream inflated to its end
under a decompression budget (warehouse's zip rule: 50 times the file, past 64 MiB) and a
time budget, and the same answers through ``pypapo upload``'s read of a local file."""

from __future__ import annotations

import gzip
import io
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from bench.hostile import crowded_sdist, tar_bomb, tar_header, tar_member, write_gzip

from pypapo import archive
from pypapo.archive import MAX_TAR_MEMBERS, read_core_metadata
from pypapo.distribution import Parsed, parse_distribution
from pypapo.errors import (
    BadDistributionError,
    InvalidArchiveError,
    MissingMetadataError,
    TooLargeError,
)
from pypapo.layout import parse_dist_filename
from pypapo.reader import HEAD
from pypapo.sample import SampleProject
from pypapo.storage.counting import CountingStorage
from pypapo.storage.local import LocalStorage

PROJECT = SampleProject("foo", "1.0")
META = PROJECT.metadata()
SDIST = "up/foo-1.0.tar.gz"


def _store(root: Path, path: str, data: bytes) -> None:
    (root / path).parent.mkdir(parents=True, exist_ok=True)
    (root / path).write_bytes(data)


def _parse(root: Path, path: str = SDIST) -> tuple[CountingStorage, Parsed]:
    storage = CountingStorage(LocalStorage(root))
    info = storage.stat(path)
    assert info is not None
    parsed = parse_distribution(storage, info)
    with (root / path).open("rb") as handle:  # pypapo upload's own read gives the same bytes
        assert read_core_metadata(path, parse_dist_filename(path), handle) == parsed.sidecar
    return storage, parsed


def _refused(root: Path, path: str = SDIST) -> BadDistributionError:
    storage = CountingStorage(LocalStorage(root))
    info = storage.stat(path)
    assert info is not None
    with pytest.raises(BadDistributionError) as caught:
        parse_distribution(storage, info)
    with (root / path).open("rb") as handle, pytest.raises(BadDistributionError) as direct:
        read_core_metadata(path, parse_dist_filename(path), handle)
    assert (type(direct.value), direct.value.reason) == (type(caught.value), caught.value.reason)
    assert caught.value.path == path
    return caught.value


def _tar(*parts: bytes, end: bool = True) -> bytes:
    """A gzipped tar of raw members (``tar_member``), with the end-of-archive blocks."""
    body = b"".join(parts) + (bytes(1024) if end else b"")
    return gzip.compress(body, mtime=0)


def _noise(size: int) -> bytes:
    """Incompressible, deterministic bytes."""
    out = bytearray()
    seed = 0x2545F491
    while len(out) < size:
        seed = (seed * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        out += seed.to_bytes(8, "little")
    return bytes(out[:size])


# -- one read ----------------------------------------------------------------------------------


@pytest.mark.parametrize("pkg_info_last", [False, True], ids=["setuptools", "hatchling"])
def test_large_sdist_is_read_once(tmp_path: Path, pkg_info_last: bool) -> None:
    """Bigger than the head buffer, PKG-INFO first (setuptools) or last (hatchling, flit): one
    streaming read, no ranged read."""
    big = tar_member("foo-1.0/data.bin", _noise(2 * HEAD))
    pkg_info = tar_member("foo-1.0/PKG-INFO", META)
    data = _tar(big, pkg_info) if pkg_info_last else _tar(pkg_info, big)
    _store(tmp_path, SDIST, data)
    storage, parsed = _parse(tmp_path)
    assert parsed.sidecar == META  # Metadata-Version 2.3 without Dynamic: served (PEP 658)
    assert parsed.record.size == len(data)
    assert storage.calls["stream"] == 1
    assert storage.calls["read_range"] == 0
    assert storage.bytes_read == len(data)


# -- bounds ------------------------------------------------------------------------------------


@pytest.mark.parametrize("pkg_info_first", [True, False], ids=["after", "before"])
def test_gzip_bomb_is_refused_fast(tmp_path: Path, pkg_info_first: bool) -> None:
    """256 MiB of zeros in a 256 KiB file (the reported one: 4 GiB in 4 MiB, 166 s): refused
    once 64 MiB are inflated, whether before or after a valid PKG-INFO."""
    tar_bomb(tmp_path / "up", 256 << 20, pkg_info_first=pkg_info_first, name="foo")
    start = time.perf_counter()
    refused = _refused(tmp_path)
    assert time.perf_counter() - start < 5
    assert isinstance(refused, TooLargeError)
    assert f"decompresses to more than {64 << 20:,} bytes" in refused.reason


def test_inflating_fifty_times_is_fine(tmp_path: Path) -> None:
    """Past 64 MiB, up to 50 times the file's size: a big, very compressible data file."""
    noise = _noise(2 << 20)
    parts: list[bytes | int] = [tar_member("foo-1.0/PKG-INFO", META)]
    parts += [tar_header("foo-1.0/zeros.bin", 80 << 20), 80 << 20]
    parts += [tar_member("foo-1.0/noise.bin", noise), 1024]
    write_gzip(tmp_path / SDIST, parts)
    assert (80 << 20) / (tmp_path / SDIST).stat().st_size < archive.MAX_INFLATE_RATIO
    _, parsed = _parse(tmp_path)
    assert parsed.record.version == "1.0"


def test_too_many_members_before_pkg_info(tmp_path: Path) -> None:
    crowded_sdist(tmp_path / "up", MAX_TAR_MEMBERS, "foo")
    refused = _refused(tmp_path)
    assert isinstance(refused, TooLargeError)
    assert f"more than {MAX_TAR_MEMBERS} members before its PKG-INFO" in refused.reason


def test_as_many_members_as_allowed(tmp_path: Path) -> None:
    crowded_sdist(tmp_path / "up", MAX_TAR_MEMBERS - 1, "foo")
    _parse(tmp_path)


def test_time_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The backstop when a bomb hides under every other bound (a slower machine): CPU time
    spent inflating and walking the tar."""
    write_gzip(tmp_path / SDIST, [tar_header("foo-1.0/z", 8 << 20), 8 << 20])
    monkeypatch.setattr(archive, "SDIST_SECONDS", 0.0)
    refused = _refused(tmp_path)
    assert isinstance(refused, TooLargeError)
    assert "took more than 0.0 s of CPU to decompress" in refused.reason


def test_long_extended_header_is_refused(tmp_path: Path) -> None:
    pax = tar_header("././@PaxHeader", 2 << 20, tarfile.XHDTYPE)
    _store(tmp_path, SDIST, _tar(pax + bytes(2 << 20), tar_member("foo-1.0/PKG-INFO", META)))
    refused = _refused(tmp_path)
    assert isinstance(refused, TooLargeError)
    assert "extended header of 2097152 bytes" in refused.reason


# -- the walk stops at PKG-INFO; the gzip stream is checked to its end ---------------------------


def test_members_after_pkg_info_are_not_walked(tmp_path: Path) -> None:
    """PEP 625 puts PKG-INFO at <name>-<version>/PKG-INFO; what follows it is not inspected
    (pip's own unpacking refuses paths that leave its directory)."""
    data = _tar(tar_member("foo-1.0/PKG-INFO", META), tar_member("../../evil", b"x"))
    _store(tmp_path, SDIST, data)
    _parse(tmp_path)


def test_truncated_after_pkg_info(tmp_path: Path) -> None:
    data = _tar(tar_member("foo-1.0/PKG-INFO", META), tar_member("foo-1.0/x", _noise(100_000)))
    _store(tmp_path, SDIST, data[: len(data) // 2])
    refused = _refused(tmp_path)
    assert isinstance(refused, InvalidArchiveError)
    assert refused.reason == "unreadable archive (the gzip stream ends early)"


def test_corrupt_after_pkg_info(tmp_path: Path) -> None:
    data = bytearray(_tar(tar_member("foo-1.0/PKG-INFO", META), tar_member("foo-1.0/x", b"y")))
    data[-8] ^= 0xFF  # the CRC
    _store(tmp_path, SDIST, bytes(data))
    refused = _refused(tmp_path)
    assert "unreadable archive (" in refused.reason
    assert "incorrect data check" in refused.reason


def test_gzip_members_and_trailing_bytes(tmp_path: Path) -> None:
    """As GzipFile (pip's tarfile reads through it): further gzip members continue the stream;
    bytes after the tar's end are never read by tarfile, so they are not judged either."""
    first = gzip.compress(tar_member("foo-1.0/setup.py", b""), mtime=0)
    second = gzip.compress(tar_member("foo-1.0/PKG-INFO", META) + bytes(1024), mtime=0)
    _store(tmp_path, SDIST, first + second + b"\0\0\0\0garbage")
    _parse(tmp_path)


# -- tar formats: the same PKG-INFO tarfile finds ------------------------------------------------


def _tarfile_sdist(fmt: int, top: str, meta: bytes = META) -> bytes:
    """What tarfile writes in ``fmt``: a directory entry, a member with a name too long for a
    plain header (a GNU long name or a pax path), PKG-INFO, then a symlink."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=fmt) as tf:
        folder = tarfile.TarInfo(top)
        folder.type = tarfile.DIRTYPE
        tf.addfile(folder)
        for name, data in ((f"{top}/{'x' * 150}.py", b"long"), (f"{top}/PKG-INFO", meta)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            if fmt == tarfile.PAX_FORMAT:
                info.pax_headers = {"comment": "é" * 10}
            tf.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo(f"{top}/link")
        link.type = tarfile.SYMTYPE
        link.linkname = "PKG-INFO"
        tf.addfile(link)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT], ids=["gnu", "pax"])
@pytest.mark.parametrize("name", ["foo", "f" * 120])
def test_formats(tmp_path: Path, fmt: int, name: str) -> None:
    """Whatever the format, the PKG-INFO found is the one tarfile (pip's reader) finds."""
    project = SampleProject(name, "1.0")
    data = _tarfile_sdist(fmt, project.stem, project.metadata())
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        member = tf.extractfile(f"{project.stem}/PKG-INFO")
        assert member is not None
        expected = member.read()
    path = f"up/{project.stem}.tar.gz"
    _store(tmp_path, path, data)
    _, parsed = _parse(tmp_path, path)
    assert parsed.sidecar == expected == project.metadata()


def test_pax_path_names_pkg_info(tmp_path: Path) -> None:
    """The pax ``path`` record overrides the header's name, as tarfile applies it."""
    record = b"25 path=foo-1.0/PKG-INFO\n"
    pax = tar_header("././@PaxHeader", len(record), tarfile.XHDTYPE)
    pax += record + bytes(-len(record) % 512)
    decoy = tar_header("foo-1.0/decoy", len(META)) + META + bytes(-len(META) % 512)
    _store(tmp_path, SDIST, _tar(pax + decoy))
    _, parsed = _parse(tmp_path)
    assert parsed.record.filename == "foo-1.0.tar.gz"


def test_pax_size_overrides_the_header(tmp_path: Path) -> None:
    """A pax ``size`` larger than the header's: tarfile skips by the pax one, so must this."""
    skipped = _noise(1536)
    record = b"13 size=1536\n"
    pax = tar_header("././@PaxHeader", len(record), tarfile.XHDTYPE) + record
    pax += bytes(-len(record) % 512)
    hidden = tar_header("foo-1.0/data", 0) + skipped
    _store(tmp_path, SDIST, _tar(pax + hidden, tar_member("foo-1.0/PKG-INFO", META)))
    _parse(tmp_path)


BAD = [
    (b"", InvalidArchiveError, "not a tar archive (empty file)"),
    (b"not gzip at all", InvalidArchiveError, "not a tar archive ("),
    (gzip.compress(b"hello " * 100), InvalidArchiveError, "not a tar archive ("),
    (_tar(tar_member("foo-1.0/setup.py", b"")), MissingMetadataError, "no <top>/PKG-INFO"),
    (
        _tar(tar_member("foo-1.0/setup.py", b""), end=False),
        InvalidArchiveError,
        "unreadable archive (the tar ends before its PKG-INFO)",
    ),
    (
        _tar(tar_member("x/../../evil", b""), tar_member("foo-1.0/PKG-INFO", META)),
        InvalidArchiveError,
        "unsafe member: path with '..'",
    ),
    (
        _tar(tar_member("other/x", b""), tar_member("foo-1.0/PKG-INFO", META)),
        InvalidArchiveError,
        "more than one top-level directory",
    ),
    (
        _tar(tar_header("foo-1.0/PKG-INFO", 10 << 20) + bytes(10 << 20)),
        TooLargeError,
        f"foo-1.0/PKG-INFO declares {10 << 20} bytes",
    ),
    (
        _tar(tar_header("foo-1.0/PKG-INFO", 0, tarfile.GNUTYPE_SPARSE)),
        InvalidArchiveError,
        "sparse member 'foo-1.0/PKG-INFO'",
    ),
    (
        _tar(tar_header("foo-1.0/PKG-INFO", 0, tarfile.DIRTYPE)),
        InvalidArchiveError,
        "foo-1.0/PKG-INFO is not a regular file",
    ),
]


@pytest.mark.parametrize(("data", "error", "message"), BAD, ids=[m for *_, m in BAD])
def test_bad_sdists(
    tmp_path: Path, data: bytes, error: type[BadDistributionError], message: str
) -> None:
    _store(tmp_path, SDIST, data)
    refused = _refused(tmp_path)
    assert type(refused) is error
    assert message in refused.reason


def _chunks(data: bytes, size: int) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


@pytest.mark.parametrize("size", [1, 7, 512, 4096])
def test_any_chunking_gives_the_same_answer(size: int) -> None:
    """Storage streams arrive in any chunk sizes; the scanner carries state across them."""
    data = _tarfile_sdist(tarfile.PAX_FORMAT, "foo-1.0")
    scanner = archive.SdistScanner(SDIST, len(data))
    for chunk in _chunks(data, size):
        scanner.feed(chunk)
    assert scanner.finish() == META
