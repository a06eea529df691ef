"""Wheels and zip sdists: bounds checked from the end records before ``zipfile`` reads the
central directory, and the wheel shape pip checks before installing (src/pip/_internal/utils/
wheel.py: one ``.dist-info`` directory, for this project and version, with a supported WHEEL)."""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from bench.hostile import (
    WHEEL_FILE,
    many_member_wheel,
    patch_declared_members,
    wheel_members,
    write_zip,
)

from pypapo.archive import MAX_CENTRAL_DIRECTORY, MAX_ZIP_MEMBERS, read_core_metadata
from pypapo.distribution import Parsed, parse_distribution
from pypapo.errors import (
    BadDistributionError,
    MetadataMismatchError,
    MissingMetadataError,
    TooLargeError,
    UnsupportedWheelError,
)
from pypapo.layout import parse_dist_filename
from pypapo.reader import FETCH, HEAD, TAIL
from pypapo.sample import SampleProject
from pypapo.storage.counting import CountingStorage
from pypapo.storage.local import LocalStorage

META = SampleProject("foo", "1.0").metadata()
WHEEL = "foo-1.0-py3-none-any.whl"


def _parse(root: Path, path: str, data: bytes | None = None) -> tuple[CountingStorage, Parsed]:
    if data is not None:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    storage = CountingStorage(LocalStorage(root))
    info = storage.stat(path)
    assert info is not None
    return storage, parse_distribution(storage, info)


def _refused(root: Path, path: str, data: bytes | None = None) -> BadDistributionError:
    """The error, which ``pypapo upload``'s direct read of the file must give too."""
    with pytest.raises(BadDistributionError) as caught:
        _parse(root, path, data)
    with (root / path).open("rb") as handle, pytest.raises(BadDistributionError) as direct:
        read_core_metadata(path, parse_dist_filename(path), handle)
    assert (type(direct.value), direct.value.reason) == (type(caught.value), caught.value.reason)
    assert caught.value.path == path
    return caught.value


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


# -- the wheel's shape, as pip checks it ------------------------------------------------------


def _wheel(
    dist_info: str = "foo-1.0",
    wheel: bytes | None = WHEEL_FILE,
    more: dict[str, bytes] | None = None,
) -> bytes:
    members = {"foo/__init__.py": b"", f"{dist_info}.dist-info/METADATA": META}
    if wheel is not None:
        members[f"{dist_info}.dist-info/WHEEL"] = wheel
    members.update(more or {})
    return _zip(members)


SHAPES = [
    (
        _wheel("bar-1.0"),
        MetadataMismatchError,
        "directory 'bar-1.0.dist-info' does not match file name project 'foo'",
    ),
    (
        _wheel("foo-2.0"),
        MetadataMismatchError,
        "directory 'foo-2.0.dist-info' does not match file name version '1.0'",
    ),
    (_wheel("foobar-1.0"), MetadataMismatchError, "project 'foo'"),  # pip: a prefix is enough
    (_wheel("foo-1.0-x"), MetadataMismatchError, "version '1.0'"),
    (_wheel("foo"), MetadataMismatchError, "'foo.dist-info' does not match file name project"),
    (
        _wheel(more={"foo-1.0.data.dist-info/x": b""}),
        UnsupportedWheelError,
        "more than one .dist-info directory: foo-1.0.data.dist-info, foo-1.0.dist-info",
    ),
    (_zip({"foo/__init__.py": b""}), MissingMetadataError, "no .dist-info directory"),
    (
        _zip({"foo-1.0.dist-info/WHEEL": WHEEL_FILE}),
        MissingMetadataError,
        "no foo-1.0.dist-info/METADATA in the wheel",
    ),
    (_wheel(wheel=None), UnsupportedWheelError, "no foo-1.0.dist-info/WHEEL in the wheel"),
    (_wheel(wheel=b"Generator: x\n"), UnsupportedWheelError, "WHEEL has no Wheel-Version"),
    (_wheel(wheel=b"Wheel-Version: one\n"), UnsupportedWheelError, "invalid Wheel-Version 'one'"),
    (_wheel(wheel=b"Wheel-Version: 2.0\n"), UnsupportedWheelError, "Wheel-Version 2.0 is not 1.x"),
    (_wheel(wheel=b"Wheel-Version: \xff\n"), UnsupportedWheelError, "WHEEL is not UTF-8"),
    (_wheel(wheel=b"Wheel-Version: 1.0\n" + b"Tag: x\n" * 20000), TooLargeError, "WHEEL declares"),
]


@pytest.mark.parametrize(("data", "error", "message"), SHAPES, ids=[m for *_, m in SHAPES])
def test_wheels_pip_refuses(
    tmp_path: Path, data: bytes, error: type[BadDistributionError], message: str
) -> None:
    refused = _refused(tmp_path, "up/" + WHEEL, data)
    assert type(refused) is error
    assert message in refused.reason


@pytest.mark.parametrize(
    ("filename", "dist_info", "wheel"),
    [
        ("foo-1.0-py3-none-any.whl", "foo-1.0", b"Wheel-Version: 1.0\n"),
        ("Foo_Bar-1.0-py3-none-any.whl", "foo.bar-1.0", b"Wheel-Version: 1.9\n"),  # pip warns
        ("foo_bar-1.0-py3-none-any.whl", "Foo_Bar-1.0.0", b"Wheel-Version: 1\n"),
        ("foo-1.0.post1-py3-none-any.whl", "foo-1.0-1", b"Wheel-Version:   1.0  \r\n"),
        ("foo-1.0-py3-none-any.whl", "foo-1.0", b"Wheel-Version: 0.9\n"),  # pip installs it
    ],
)
def test_wheels_pip_installs(tmp_path: Path, filename: str, dist_info: str, wheel: bytes) -> None:
    dist = parse_dist_filename(filename)
    project = SampleProject(dist.project, str(dist.version))
    data = _zip({f"{dist_info}.dist-info/METADATA": project.metadata(),
                 f"{dist_info}.dist-info/WHEEL": wheel})  # fmt: skip
    _, parsed = _parse(tmp_path, filename, data)
    assert parsed.sidecar == project.metadata()


# -- sizes: bounded before zipfile reads the central directory -------------------------------


def test_declared_members_refused_before_the_directory_is_read(tmp_path: Path) -> None:
    """The plain end record counts to 65,535 at most; more is declared in the zip64 one."""
    wheel = tmp_path / "up" / WHEEL
    write_zip(wheel, wheel_members(SampleProject("foo", "1.0")), zip64=True)
    _parse(tmp_path, "up/" + WHEEL)
    data = patch_declared_members(wheel.read_bytes(), 1_000_000)
    refused = _refused(tmp_path, "up/" + WHEEL, data)
    assert isinstance(refused, TooLargeError)
    assert f"declares 1000000 members, over {MAX_ZIP_MEMBERS}" in refused.reason


def test_declared_members_in_the_zip64_record(tmp_path: Path) -> None:
    wheel = many_member_wheel(tmp_path / "up", 70_000, "foo")
    assert b"PK\x06\x07" in wheel.read_bytes()[-200:]  # zip64 end records
    _parse(tmp_path, "up/" + WHEEL)  # under the cap: indexed
    wheel.write_bytes(patch_declared_members(wheel.read_bytes(), 1 << 40))
    refused = _refused(tmp_path, "up/" + WHEEL)
    assert f"declares {1 << 40} members" in refused.reason


def test_members_beyond_what_the_end_record_declares(tmp_path: Path) -> None:
    """zipfile reads entries until the central directory's declared size is used up, whatever
    the declared count: the count that matters is the one in the directory itself."""
    wheel = many_member_wheel(tmp_path / "up", MAX_ZIP_MEMBERS + 1, "foo")
    wheel.write_bytes(patch_declared_members(wheel.read_bytes(), 10))
    start = time.perf_counter()
    refused = _refused(tmp_path, "up/" + WHEEL)
    assert f"more than {MAX_ZIP_MEMBERS} members" in refused.reason
    assert time.perf_counter() - start < 5


def test_central_directory_too_large(tmp_path: Path) -> None:
    project = SampleProject("foo", "1.0")

    def members() -> Iterator[tuple[str, bytes]]:
        for i in range(MAX_CENTRAL_DIRECTORY // 2000 + 1):
            yield f"foo/{i:08d}{'x' * 2000}", b""
        yield "foo-1.0.dist-info/METADATA", project.metadata()
        yield "foo-1.0.dist-info/WHEEL", WHEEL_FILE

    write_zip(tmp_path / "up" / WHEEL, members)
    refused = _refused(tmp_path, "up/" + WHEEL)
    assert f"over {MAX_CENTRAL_DIRECTORY}" in refused.reason
    assert "central directory is" in refused.reason


def test_as_many_members_as_allowed(tmp_path: Path) -> None:
    many_member_wheel(tmp_path / "up", MAX_ZIP_MEMBERS, "foo")
    _, parsed = _parse(tmp_path, "up/" + WHEEL)
    assert parsed.sidecar == SampleProject("foo", "1.0").metadata()


def test_directory_beyond_the_tail_is_fetched_once(tmp_path: Path) -> None:
    """A directory bigger than the tail buffer: counting its members and zipfile's own read
    share one ranged read."""
    project = SampleProject("foo", "1.0")
    filler = bytes(range(256)) * (2 * HEAD // 256)

    def members() -> Iterator[tuple[str, bytes]]:
        yield "foo/filler.bin", filler
        for i in range(20_000):
            yield f"foo/pkg/module_{i:06d}.py", b""
        yield "foo-1.0.dist-info/METADATA", project.metadata()
        yield "foo-1.0.dist-info/WHEEL", WHEEL_FILE

    write_zip(tmp_path / "up" / WHEEL, members)
    with zipfile.ZipFile(tmp_path / "up" / WHEEL) as zf:
        directory = zf.start_dir
    size = (tmp_path / "up" / WHEEL).stat().st_size
    assert size - directory > 2 * TAIL
    storage, parsed = _parse(tmp_path, "up/" + WHEEL)
    assert parsed.sidecar == project.metadata()
    assert storage.calls["stream"] == 1
    # the directory once, and one window around the .dist-info files just before it
    assert storage.calls["read_range"] == 2
    assert storage.bytes_read - size <= size - directory + FETCH
