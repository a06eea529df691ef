"""Hostile distributions, generated in code at any size: the bench's hostile-input section and
the tests (``tests/badcorpus.py``, ``tests/test_archive_*.py``) use the same writers.

The section (``measure``) refreshes each input in a fresh process (``bench/rss_child.py``) and
reports the time to accept or refuse it and the process's peak RSS, against the Cloud
Function's means. Inputs are those that once took it down, and the largest ones still accepted.

Sizes that would take minutes through ``zipfile`` and ``gzip`` are written directly: a zip with a
million members is streamed entry by entry (``zipfile`` would hold a million ``ZipInfo``
objects), and gigabytes of zeros in a ``.tar.gz`` are one deflate block repeated (after a full
flush the compressor starts afresh, so equal input gives equal output).
"""

from __future__ import annotations

import io
import itertools
import json
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.report import HostileRow, Samples
from pypapo.sample import SampleProject, wheel_bytes

Members = Callable[[], Iterator[tuple[str, bytes]]]
"""Called twice by ``write_zip``: once for the entries, once for the central directory."""

WHEEL_FILE = b"Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n\n"

_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_END = struct.Struct("<IHHHHIIH")
_END64 = struct.Struct("<IQHHIIQQQQ")
_LOCATOR = struct.Struct("<IIQI")
_DOS_DATE = 0x21  # 1980-01-01


def write_zip(path: Path, members: Members, *, zip64: bool = False) -> int:
    """A stored (uncompressed) zip of ``members()``, with zip64 end records past 65,535
    entries as ``zipfile`` writes them (or always, with ``zip64``); returns the entry count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        offset = count = 0
        for name, data in members():
            raw = name.encode()
            crc = zlib.crc32(data)
            out.write(_LOCAL.pack(0x04034B50, 20, 0, 0, 0, _DOS_DATE, crc, len(data),
                                  len(data), len(raw), 0))  # fmt: skip
            out.write(raw)
            out.write(data)
            offset += _LOCAL.size + len(raw) + len(data)
            count += 1
        start, local = offset, 0
        for name, data in members():
            raw = name.encode()
            crc = zlib.crc32(data)
            out.write(_CENTRAL.pack(0x02014B50, 20, 20, 0, 0, 0, _DOS_DATE, crc, len(data),
                                    len(data), len(raw), 0, 0, 0, 0, 0, local))  # fmt: skip
            out.write(raw)
            local += _LOCAL.size + len(raw) + len(data)
            offset += _CENTRAL.size + len(raw)
        _write_end(out, count, start, offset - start, zip64=zip64 or count > 0xFFFF)
    return count


def _write_end(out: io.BufferedWriter, count: int, start: int, size: int, *, zip64: bool) -> None:
    if zip64:
        end64 = start + size
        out.write(_END64.pack(0x06064B50, _END64.size - 12, 45, 45, 0, 0, count, count, size,
                              start))  # fmt: skip
        out.write(_LOCATOR.pack(0x07064B50, 0, end64, 1))
        count = 0xFFFF
    out.write(_END.pack(0x06054B50, 0, 0, count, count, size, start, 0))


def wheel_members(project: SampleProject, extra: Members | None = None) -> Members:
    """``extra()`` members first, then the ``.dist-info`` files, as real wheels are laid out."""
    dist_info = f"{project.stem}.dist-info"

    def members() -> Iterator[tuple[str, bytes]]:
        if extra is not None:
            yield from extra()
        yield f"{dist_info}/METADATA", project.metadata()
        yield f"{dist_info}/WHEEL", WHEEL_FILE

    return members


def many_member_wheel(directory: Path, members: int, name: str = "many") -> Path:
    """A valid wheel of ``members`` entries: empty files with short names, then .dist-info."""
    project = SampleProject(name, "1.0")
    path = directory / f"{project.stem}-py3-none-any.whl"

    def empty() -> Iterator[tuple[str, bytes]]:
        for i in range(members - 2):
            yield f"{project.module}/{i:07x}", b""

    write_zip(path, wheel_members(project, empty))
    return path


def patch_declared_members(data: bytes, entries: int) -> bytes:
    """The end records of a zip claiming ``entries`` members (the central directory is
    untouched): in the zip64 record when there is one, else in the plain record."""
    out = bytearray(data)
    end = out.rfind(b"PK\x05\x06")
    locator = end - _LOCATOR.size
    if locator >= 0 and out[locator : locator + 4] == b"PK\x06\x07":
        record = locator - _END64.size
        struct.pack_into("<QQ", out, record + 24, entries, entries)
    else:
        struct.pack_into("<HH", out, end + 8, min(entries, 0xFFFF), min(entries, 0xFFFF))
    return bytes(out)


# -- tar.gz ----------------------------------------------------------------------------------


def tar_header(name: str, size: int, kind: bytes = tarfile.REGTYPE) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = size
    info.type = kind
    info.mode = 0o644
    return info.tobuf(tarfile.USTAR_FORMAT)


def tar_member(name: str, data: bytes) -> bytes:
    """Header and data, padded to whole 512-byte blocks."""
    return tar_header(name, len(data)) + data + bytes(-len(data) % 512)


def write_gzip(path: Path, parts: Iterable[bytes | int]) -> int:
    """A gzip file of ``parts``: bytes as given, an int as that many zero bytes (any multiple
    of 1 MiB costs one compressed block, written again and again). Returns the inflated size."""
    path.parent.mkdir(parents=True, exist_ok=True)
    deflate = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    crc = total = 0
    with path.open("wb") as out:
        out.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff")  # gzip header, mtime 0
        for part in parts:
            if isinstance(part, int):
                crc = _write_zeros(out, deflate, part, crc)
                total += part
            else:
                out.write(deflate.compress(part))
                crc = zlib.crc32(part, crc)
                total += len(part)
        out.write(deflate.flush())
        out.write(struct.pack("<II", crc, total & 0xFFFFFFFF))
    return total


def _write_zeros(out: io.BufferedWriter, deflate: zlib._Compress, size: int, crc: int) -> int:
    out.write(deflate.flush(zlib.Z_FULL_FLUSH))
    block = bytes(1 << 20)
    whole, rest = divmod(size, len(block))
    if whole:
        compressed = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH)
        for _ in range(whole):
            out.write(compressed)
            crc = zlib.crc32(block, crc)
    out.write(deflate.compress(block[:rest]))
    return zlib.crc32(block[:rest], crc)


def tar_bomb(path: Path, inflated: int, *, pkg_info_first: bool, name: str = "bomb") -> Path:
    """A valid sdist holding one member of ``inflated`` zero bytes, after (or before) a valid
    PKG-INFO. Everything from the bomb's data to the end-of-archive blocks is zeros."""
    project = SampleProject(name, "1.0")
    top = project.stem
    pkg_info = tar_member(f"{top}/PKG-INFO", project.metadata())
    size = inflated - inflated % 512
    bomb = tar_header(f"{top}/zeros.bin", size)
    parts: list[bytes | int] = [pkg_info, bomb, size] if pkg_info_first else [bomb, size, pkg_info]
    write_gzip(path / f"{top}.tar.gz", [*parts, 2 * 512])
    return path / f"{top}.tar.gz"


def crowded_sdist(path: Path, members: int, name: str = "crowded") -> Path:
    """A valid sdist with ``members`` empty files before its PKG-INFO (as hatchling writes
    PKG-INFO last)."""
    project = SampleProject(name, "1.0")
    top = project.stem

    def parts() -> Iterator[bytes | int]:
        headers = _empty_members(f"{top}/f/", members)
        while batch := b"".join(itertools.islice(headers, 1000)):
            yield batch
        yield tar_member(f"{top}/PKG-INFO", project.metadata())
        yield 2 * 512

    write_gzip(path / f"{top}.tar.gz", parts())
    return path / f"{top}.tar.gz"


def _empty_members(prefix: str, count: int) -> Iterator[bytes]:
    """Headers of empty files ``<prefix><i:07x>``: one header, its name and checksum patched
    (tarfile's ``tobuf`` per member would take seconds for a hundred thousand)."""
    block = bytearray(tar_header(f"{prefix}{0:07x}", 0))
    at = len(prefix.encode())
    block[148:156] = b" " * 8  # the checksum counts its own field as spaces
    rest = sum(block) - sum(block[at : at + 7])  # all but the digits that change
    for i in range(count):
        digits = b"%07x" % i
        block[at : at + 7] = digits
        block[148:156] = b"%06o\0 " % (rest + sum(digits))
        yield bytes(block)


# -- the bench section -------------------------------------------------------------------------


@dataclass(frozen=True)
class Input:
    """One hostile input: what ``write(folder)`` puts under ``packages/`` (its object paths),
    and the text every error must hold (``None``: accepted)."""

    key: str
    label: str
    expect: str | None
    write: Callable[[Path], list[str]]


def _summaries(root: Path) -> list[str]:
    """25 versions of one project, each with a 4 MB Summary: 117 KiB of wheels in all."""
    paths = []
    for v in range(25):
        project = SampleProject("hostile-summary", f"1.{v}", summary="s" * 4_000_000)
        name = f"packages/{project.stem}-py3-none-any.whl"
        (root / name).write_bytes(wheel_bytes(project))
        paths.append(name)
    return paths


def _requires_python(root: Path) -> list[str]:
    spec = ",".join([">=3.8"] * 400_000)  # 2.4 MB, every specifier valid
    project = SampleProject("hostile-python", "1.0", requires_python=spec)
    name = f"packages/{project.stem}-py3-none-any.whl"
    (root / name).write_bytes(wheel_bytes(project))
    return [name]


def _one(make: Callable[[Path], Path]) -> Callable[[Path], list[str]]:
    """A writer of one file into ``packages/``, as ``Input.write`` wants it."""
    return lambda folder: [make(folder / "packages").relative_to(folder).as_posix()]


def inputs(*, quick: bool) -> list[Input]:
    """The reported inputs at their reported sizes (smaller with ``quick``, which only checks
    that the bench runs), and the largest inputs still accepted."""
    members = 150_000 if quick else 1_000_000
    bomb = (256 << 20) if quick else (4 << 30)
    crowd = 20_000 if quick else 99_999
    wide = 20_000 if quick else 100_000
    return [
        Input("summary", "25 wheels with a 4 MB Summary each", "Summary is 4000000", _summaries),
        Input("requires-python", "a wheel with a 2.4 MB Requires-Python",
              "Requires-Python is 2399999", _requires_python),
        Input("members", f"a wheel with {members:,} members", "members, over 100000",
              _one(lambda d: many_member_wheel(d, members, "hostile-members"))),
        Input("bomb-after", f"a .tar.gz inflating to {bomb >> 20:,} MiB after its PKG-INFO",
              "a decompression bomb", _one(lambda d: tar_bomb(
                  d, bomb, pkg_info_first=True, name="hostile-bomb"))),
        Input("bomb-before", f"a .tar.gz inflating to {bomb >> 20:,} MiB before its PKG-INFO",
              "a decompression bomb", _one(lambda d: tar_bomb(
                  d, bomb, pkg_info_first=False, name="hostile-first"))),
        Input("crowded", f"a .tar.gz with {crowd:,} members before its PKG-INFO (accepted)",
              None, _one(lambda d: crowded_sdist(d, crowd, "hostile-crowded"))),
        Input("wide", f"a wheel with {wide:,} members (accepted)", None,
              _one(lambda d: many_member_wheel(d, wide, "hostile-wide"))),
    ]  # fmt: skip


def measure(
    work: Path, items: Sequence[Input], runs: int, log: Callable[[str], None]
) -> list[HostileRow]:
    rows = []
    for item in items:
        root = work / "hostile" / item.key
        paths = _written(root, item)
        seconds: list[float] = []
        rss: list[float] = []
        outcome = ""
        for _ in range(runs):
            for pages in ("simple", "browse"):  # an accepted input is parsed again each run
                shutil.rmtree(root / pages, ignore_errors=True)
            body = _child(root, paths)
            outcome = _outcome(item, paths, body["errors"])
            seconds.append(body["seconds"])
            rss.append(body["peak_kib"] / 1024)
        log(f"  {item.key}: {outcome}, {max(seconds):.2f} s, {max(rss):.0f} MB "
            f"({body['baseline_kib'] / 1024:.0f} MB before the refresh)")  # fmt: skip
        rows.append(HostileRow(item.key, item.label, outcome, Samples(tuple(seconds), "s"),
                               Samples(tuple(rss), "MB")))  # fmt: skip
    return rows


def _written(root: Path, item: Input) -> list[str]:
    """The input's object paths, written once per work folder (``--keep`` reuses them)."""
    ready = root / ".paths.json"
    if ready.exists():
        written = json.loads(ready.read_text())
        if written["label"] == item.label:  # the label holds the sizes
            paths: list[str] = written["paths"]
            return paths
    shutil.rmtree(root, ignore_errors=True)
    (root / "packages").mkdir(parents=True)
    paths = item.write(root)
    ready.write_text(json.dumps({"label": item.label, "paths": paths}))
    return paths


def _child(root: Path, paths: Sequence[str]) -> dict[str, Any]:
    """``bench/rss_child.py`` on these paths; it exits 1 when the refresh refused files."""
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    out = subprocess.run(
        [sys.executable, "-m", "bench.rss_child", "local", str(root), *paths],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if out.returncode not in (0, 1) or not out.stdout.strip():
        raise RuntimeError(f"rss child failed ({out.returncode}): {out.stderr[-2000:]}")
    body: dict[str, Any] = json.loads(out.stdout.splitlines()[-1])
    return body


def _outcome(item: Input, paths: Sequence[str], errors: Sequence[str]) -> str:
    """``accepted`` or ``refused: <reason>``; a different outcome than expected is a failure
    of the bench, not a figure."""
    if item.expect is None:
        if errors:
            raise RuntimeError(f"{item.key}: expected to be accepted, got {errors[:2]}")
        return "accepted"
    if len(errors) != len(paths) or not all(item.expect in e for e in errors):
        raise RuntimeError(f"{item.key}: expected {item.expect!r} for each file, got {errors[:2]}")
    reason = errors[0].split(": ", 1)[1]
    many = f" ({len(errors)} files)" if len(errors) > 1 else ""
    return f"refused{many}: {reason}"
