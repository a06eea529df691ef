"""Reading one distribution from storage: one streaming pass, bounded memory, clear errors."""

from __future__ import annotations

import gc
import hashlib
import io
import tarfile
import tracemalloc
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pypapo.distribution import parse_distribution, yank_reason
from pypapo.errors import (
    BadDistributionError,
    InvalidArchiveError,
    MetadataMismatchError,
    MissingMetadataError,
    TooLargeError,
    UnsupportedWheelError,
)
from pypapo.reader import HEAD, TAIL
from pypapo.sample import SampleProject, sdist_bytes, wheel_bytes
from pypapo.storage import YANK_KEY, ObjectInfo
from pypapo.storage.counting import CountingStorage
from pypapo.storage.local import LocalStorage
from tests.support.badcorpus import tar_gz


def _put(root: Path, path: str, data: bytes) -> CountingStorage:
    (root / path).parent.mkdir(parents=True, exist_ok=True)
    (root / path).write_bytes(data)
    return CountingStorage(LocalStorage(root))


def _parse(root: Path, path: str, data: bytes) -> tuple[CountingStorage, object]:
    storage = _put(root, path, data)
    info = storage.stat(path)
    assert info is not None
    return storage, parse_distribution(storage, info)


def test_wheel_record_and_sidecar(tmp_path: Path) -> None:
    project = SampleProject("Foo", "1.0", requires_python=">=3.8")
    data = wheel_bytes(project)
    _, parsed = _parse(tmp_path, "foo-1.0-py3-none-any.whl", data)
    record = parsed.record  # type: ignore[attr-defined]
    assert record.sha256 == hashlib.sha256(data).hexdigest()
    assert record.size == len(data)
    assert record.requires_python == ">=3.8"
    assert parsed.sidecar == project.metadata()  # type: ignore[attr-defined]
    assert record.metadata_sha256 == hashlib.sha256(project.metadata()).hexdigest()


def _big_wheel(project: SampleProject, padding: int) -> bytes:
    """A wheel with a large incompressible member before its .dist-info, as real wheels have."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(f"{project.module}/blob.bin", (b"0123456789abcdef" * (padding // 16)))
        with zipfile.ZipFile(io.BytesIO(wheel_bytes(project))) as src:
            for info in src.infolist():
                zf.writestr(info, src.read(info))
    return buf.getvalue()


def test_large_wheel_reads_once_plus_nothing(tmp_path: Path) -> None:
    project = SampleProject("big", "1.0")
    data = _big_wheel(project, 3 * HEAD)
    storage, parsed = _parse(tmp_path, "big-1.0-py3-none-any.whl", data)
    assert storage.calls["stream"] == 1
    assert storage.calls["read_range"] == 0  # central directory and METADATA sat in the tail
    assert storage.bytes_read == len(data)
    assert parsed.sidecar == project.metadata()  # type: ignore[attr-defined]


def test_metadata_far_from_both_ends_is_fetched_by_range(tmp_path: Path) -> None:
    project = SampleProject("mid", "1.0")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("mid/a.bin", b"a" * (2 * HEAD))
        with zipfile.ZipFile(io.BytesIO(wheel_bytes(project))) as src:
            for info in src.infolist():
                zf.writestr(info, src.read(info))
        for i in range(4):
            zf.writestr(f"mid/z{i}.bin", bytes(range(256)) * (TAIL // 256))
    storage, parsed = _parse(tmp_path, "mid-1.0-py3-none-any.whl", buf.getvalue())
    assert storage.calls["read_range"] >= 1
    assert parsed.sidecar == project.metadata()  # type: ignore[attr-defined]


def test_sdist_without_sidecar_when_dynamic(tmp_path: Path) -> None:
    project = SampleProject("dyn", "1.0", metadata_version="2.2", dynamic=["Requires-Dist"])
    _, parsed = _parse(tmp_path, "dyn-1.0.tar.gz", sdist_bytes(project))
    assert parsed.sidecar is None  # type: ignore[attr-defined]
    assert parsed.record.metadata_sha256 is None  # type: ignore[attr-defined]


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _tar(members: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    """Symlinks first: the tar is walked only up to PKG-INFO (tests/test_archive_tar.py)."""
    return tar_gz(members, links={n: (tarfile.SYMTYPE, t) for n, t in (links or {}).items()})


META = SampleProject("foo", "1.0").metadata()
WHEEL = "foo-1.0-py3-none-any.whl"
WHEEL_FILE = {"foo-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\n"}
SDIST = "foo-1.0.tar.gz"

BAD = [
    (WHEEL, b"", InvalidArchiveError, "not a zip archive"),
    (
        WHEEL,
        wheel_bytes(SampleProject("foo", "1.0"))[:-30],
        InvalidArchiveError,
        "not a zip archive",
    ),
    (WHEEL, _zip({"foo/__init__.py": b""}), MissingMetadataError, "no .dist-info directory"),
    (
        WHEEL,
        _zip({"a.dist-info/METADATA": META, "b.dist-info/METADATA": META}),
        UnsupportedWheelError,
        "more than one .dist-info directory: a.dist-info, b.dist-info",
    ),
    (
        WHEEL,
        _zip({"../evil.py": b"", "foo-1.0.dist-info/METADATA": META}),
        InvalidArchiveError,
        "path with '..'",
    ),
    (
        WHEEL,
        _zip({"/etc/passwd": b"", "foo-1.0.dist-info/METADATA": META}),
        InvalidArchiveError,
        "absolute path",
    ),
    (
        WHEEL,
        _zip({"foo-1.0.dist-info/METADATA": b"Name: foo\n" + b" " * (5 << 20), **WHEEL_FILE}),
        TooLargeError,
        "foo-1.0.dist-info/METADATA declares",
    ),
    (
        WHEEL,
        _zip({"foo-1.0.dist-info/METADATA": SampleProject("bar", "1.0").metadata(), **WHEEL_FILE}),
        MetadataMismatchError,
        "metadata Name 'bar'",
    ),
    (SDIST, b"\x1f\x8b garbage", InvalidArchiveError, "not a tar archive"),
    (SDIST, b"", InvalidArchiveError, "archive"),
    (SDIST, _tar({"foo-1.0/setup.py": b""}), MissingMetadataError, "no <top>/PKG-INFO"),
    (SDIST, _tar({"../x": b"", "foo-1.0/PKG-INFO": META}), InvalidArchiveError, "path with '..'"),
    (SDIST, _tar({"/abs": b"", "foo-1.0/PKG-INFO": META}), InvalidArchiveError, "absolute path"),
    (
        SDIST,
        _tar({"foo-1.0/PKG-INFO": META}, {"foo-1.0/link": "../../etc/passwd"}),
        InvalidArchiveError,
        "points outside the archive",
    ),
    (
        SDIST,
        _tar({"foo-1.0/PKG-INFO": META}, {"foo-1.0/l": "/etc/passwd"}),
        InvalidArchiveError,
        "points to absolute",
    ),
    (
        SDIST,
        _tar({}, {"foo-1.0/PKG-INFO": "setup.py"}),
        InvalidArchiveError,
        "is not a regular file",
    ),
    (
        SDIST,
        _tar({"other-1.0/x": b"", "foo-1.0/PKG-INFO": META}),
        InvalidArchiveError,
        "more than one top-level",
    ),
    (
        "foo-1.0.zip",
        _zip({"foo-1.0/PKG-INFO": META.replace(b"1.0", b"2.0")}),
        MetadataMismatchError,
        "Version",
    ),
]


@pytest.mark.parametrize(("path", "data", "error", "message"), BAD)
def test_bad_archives(
    tmp_path: Path, path: str, data: bytes, error: type[BadDistributionError], message: str
) -> None:
    storage = _put(tmp_path, "up/" + path, data)
    info = storage.stat("up/" + path)
    assert info is not None
    with pytest.raises(error) as caught:
        parse_distribution(storage, info)
    assert caught.value.path == "up/" + path
    assert message in caught.value.reason


def test_a_refused_file_keeps_nothing_of_its_bytes(tmp_path: Path) -> None:
    """A refresh keeps the error of every refused file; through its traceback the error must
    not keep the file's megabytes (25 wheels with a 4 MB Summary peaked at 407 MB)."""
    project = SampleProject("foo", "1.0", summary="s" * 4_000_000)
    storage = _put(tmp_path, WHEEL, wheel_bytes(project))
    info = storage.stat(WHEEL)
    assert info is not None
    gc.collect()
    tracemalloc.start()
    try:
        kept = []
        for _ in range(5):
            with pytest.raises(BadDistributionError) as caught:
                parse_distribution(storage, info)
            kept.append(caught.value)
        gc.collect()
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "Summary is 4000000 characters" in kept[0].reason
    assert held < 1 << 20, f"{held:,} bytes still held by 5 errors"


def test_a_yank_reason_keeps_nothing_a_terminal_would_act_on() -> None:
    """pip prints the reason of a yanked file it installs: no escape sequence may reach it."""
    hostile = "broken\x1b]0;owned\x07 build\u202e\nsee  #12\ttoo"
    info = ObjectInfo("p/x-1.0-py3-none-any.whl", 1, "1", datetime.now(UTC), {YANK_KEY: hostile})
    assert yank_reason(info) == "broken]0;owned build see #12 too"
