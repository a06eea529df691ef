"""A corpus of hostile and broken uploads: one function per kind.

Each kind returns a ``Case``: the object path, its bytes, and the substring the error must
contain (``None`` when the upload is accepted or silently repaired). Some kinds need companion
objects (a yank marker, the other copy of a duplicate, thousands of siblings): ``extra``. Kinds
whose object name no local file system can hold are marked ``local=False``.

``baseline()`` is a small healthy index every case is dropped into: after any bad upload its
projects must render exactly as they do without it.
"""

from __future__ import annotations

import gzip
import io
import struct
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from bench import hostile

from pypapo.sample import SampleProject, sdist_bytes, wheel_bytes

SCRIPT = "<script>alert(1)</script>"


class Case(NamedTuple):
    path: str
    data: bytes
    expected: str | None
    extra: tuple[tuple[str, bytes], ...] = ()
    local: bool = True


# -- builders ------------------------------------------------------------------------------


def metadata(name: str, version: str, *headers: str, body: str = "") -> bytes:
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}", *headers]
    return ("\n".join(lines) + "\n\n" + body).encode()


def zip_bytes(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0))
            info.compress_type = method
            zf.writestr(info, data)
    return buf.getvalue()


def wheel_with(stem: str, meta: bytes | None, **members: bytes) -> bytes:
    """A wheel-shaped zip: ``<stem>.dist-info/`` with the given METADATA (None: none)."""
    content = {"pkg/__init__.py": b"", f"{stem}.dist-info/WHEEL": b"Wheel-Version: 1.0\n"}
    if meta is not None:
        content[f"{stem}.dist-info/METADATA"] = meta
    content.update(members)
    return zip_bytes(content)


def tar_gz(
    members: dict[str, bytes],
    *,
    links: dict[str, tuple[bytes, str]] | None = None,
    dirs: tuple[str, ...] = (),
) -> bytes:
    """A gzipped tar; ``links`` maps a name to (tar type, link target). Directories and links
    come first, then ``members`` in order: the tar is walked only up to its PKG-INFO."""
    buf = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tf,
    ):
        for name in dirs:
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE
            tf.addfile(info)
        for name, (kind, target) in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = target
            tf.addfile(info)
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _patch_central(data: bytes, member: str, patch: Callable[[bytearray, int], None]) -> bytes:
    """Apply ``patch(buffer, offset)`` to the central directory entry of ``member`` (and, via
    its local header offset, let the patch reach the local header too)."""
    out = bytearray(data)
    pos = out.rfind(b"PK\x05\x06")
    count, _size, start = struct.unpack_from("<HII", out, pos + 10)
    for _ in range(count):
        n, m, k = struct.unpack_from("<HHH", out, start + 28)
        name = bytes(out[start + 46 : start + 46 + n]).decode()
        if name == member:
            patch(out, start)
        start += 46 + n + m + k
    return bytes(out)


def good_wheel(name: str, version: str, **kw: object) -> tuple[str, bytes]:
    project = SampleProject(name, version, **kw)  # type: ignore[arg-type]
    return f"{project.stem}-py3-none-any.whl", wheel_bytes(project)


# -- the baseline --------------------------------------------------------------------------


def baseline() -> list[tuple[str, bytes]]:
    """Healthy projects that every bad case must leave alone."""
    good = SampleProject("good", "1.0", requires_python=">=3.8")
    objects = [
        (f"pkgs/{good.stem}-py3-none-any.whl", wheel_bytes(good)),
        (f"pkgs/{good.stem}.tar.gz", sdist_bytes(good)),
    ]
    name, data = good_wheel("other", "2.0")
    objects.append((f"pkgs/{name}", data))
    name, data = good_wheel("Lib.Core", "1.0", summary="a library")
    objects.append((f"libs/{name}", data))
    return objects


BASELINE_PROJECTS = ("good", "lib-core", "other")
GOOD_WHEEL = "pkgs/good-1.0-py3-none-any.whl"
BIG = 5 << 20  # over metadata.MAX_METADATA_BYTES


# -- the kinds -----------------------------------------------------------------------------


def zero_byte_wheel() -> Case:
    return Case("up/zero-1.0-py3-none-any.whl", b"", "not a zip archive")


def zero_byte_sdist() -> Case:
    return Case("up/zero-1.0.tar.gz", b"", "not a tar archive")


def truncated_wheel() -> Case:
    _, data = good_wheel("trunc", "1.0")
    return Case("up/trunc-1.0-py3-none-any.whl", data[: len(data) // 2], "not a zip archive")


def truncated_sdist() -> Case:
    """Cut after its PKG-INFO: the tar walk has what it needs, the gzip CRC does not."""
    data = sdist_bytes(SampleProject("trunc", "1.0"))
    return Case("up/trunc-1.0.tar.gz", data[: len(data) // 2], "unreadable archive")


def not_a_zip_wheel() -> Case:
    return Case("up/text-1.0-py3-none-any.whl", b"this is not a zip\n" * 50, "not a zip archive")


def html_error_page_as_wheel() -> Case:
    page = b"<html><body><h1>503 Service Unavailable</h1></body></html>\n"
    return Case("up/proxied-1.0-py3-none-any.whl", page, "not a zip archive")


def gzip_not_tar_sdist() -> Case:
    return Case("up/gz-1.0.tar.gz", gzip.compress(b"hello " * 100, mtime=0), "tar archive")


def tar_as_zip_sdist() -> Case:
    data = sdist_bytes(SampleProject("tarzip", "1.0"))
    return Case("up/tarzip-1.0.zip", data, "not a zip archive")


def wheel_without_metadata() -> Case:
    data = wheel_with("nometa-1.0", None)
    return Case("up/nometa-1.0-py3-none-any.whl", data, "no nometa-1.0.dist-info/METADATA in the")


def wheel_metadata_too_deep() -> Case:
    data = wheel_with(
        "deep-1.0", None, **{"x/deep-1.0.dist-info/METADATA": metadata("deep", "1.0")}
    )
    return Case("up/deep-1.0-py3-none-any.whl", data, "no deep-1.0.dist-info/METADATA in the")


def wheel_two_dist_infos() -> Case:
    data = wheel_with(
        "two-1.0", metadata("two", "1.0"), **{"two-2.0.dist-info/METADATA": metadata("two", "2.0")}
    )
    return Case(
        "up/two-1.0-py3-none-any.whl",
        data,
        "more than one .dist-info directory: two-1.0.dist-info, two-2.0.dist-info",
    )


def dist_info_of_another_project() -> Case:
    """pip: "... .dist-info directory 'theirs-1.0.dist-info' does not start with 'mine'"."""
    data = wheel_with("theirs-1.0", metadata("mine", "1.0"))
    return Case(
        "up/mine-1.0-py3-none-any.whl",
        data,
        ".dist-info directory 'theirs-1.0.dist-info' does not match file name project 'mine'",
    )


def dist_info_of_another_version() -> Case:
    data = wheel_with("ver-2.0", metadata("ver", "1.0"))
    return Case(
        "up/ver-1.0-py3-none-any.whl",
        data,
        ".dist-info directory 'ver-2.0.dist-info' does not match file name version '1.0'",
    )


def wheel_without_wheel_file() -> Case:
    data = zip_bytes({"nowhl-1.0.dist-info/METADATA": metadata("nowhl", "1.0")})
    return Case("up/nowhl-1.0-py3-none-any.whl", data, "no nowhl-1.0.dist-info/WHEEL in the wheel")


def unsupported_wheel_version() -> Case:
    data = wheel_with("whl2-1.0", metadata("whl2", "1.0"), **{
        "whl2-1.0.dist-info/WHEEL": b"Wheel-Version: 2.0\nRoot-Is-Purelib: true\n"
    })  # fmt: skip
    return Case("up/whl2-1.0-py3-none-any.whl", data, "Wheel-Version 2.0 is not 1.x")


def zip_declares_a_million_members() -> Case:
    """Refused from the end records alone: zipfile never reads the directory."""
    data = hostile.patch_declared_members(_zip64_wheel("million", "1.0"), 1_000_000)
    return Case("up/million-1.0-py3-none-any.whl", data, "declares 1000000 members, over 100000")


def zip_more_members_than_declared() -> Case:
    """100,001 entries behind an end record claiming 10 (zipfile reads by size, not count)."""
    with tempfile.TemporaryDirectory() as tmp:
        wheel = hostile.many_member_wheel(Path(tmp), 100_001, "liarcount")
        data = hostile.patch_declared_members(wheel.read_bytes(), 10)
    return Case("up/liarcount-1.0-py3-none-any.whl", data, "more than 100000 members")


def _zip64_wheel(name: str, version: str) -> bytes:
    project = SampleProject(name, version)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "w.whl"
        hostile.write_zip(path, hostile.wheel_members(project), zip64=True)
        return path.read_bytes()


def sdist_without_pkg_info() -> Case:
    data = tar_gz({"nopkg-1.0/setup.py": b"print('hi')\n"})
    return Case("up/nopkg-1.0.tar.gz", data, "no <top>/PKG-INFO in archive")


def sdist_two_top_dirs() -> Case:
    data = tar_gz({"elsewhere/x.py": b"", "tops-1.0/PKG-INFO": metadata("tops", "1.0")})
    return Case("up/tops-1.0.tar.gz", data, "more than one top-level directory")


def metadata_not_utf8() -> Case:
    meta = metadata("latin", "1.0", "Summary: caf\xe9").replace(b"caf\xc3\xa9", b"caf\xe9")
    return Case("up/latin-1.0-py3-none-any.whl", wheel_with("latin-1.0", meta), "not UTF-8")


def metadata_empty() -> Case:
    return Case(
        "up/empty-1.0-py3-none-any.whl", wheel_with("empty-1.0", b""), "has no Metadata-Version"
    )


def metadata_without_version() -> Case:
    meta = b"Metadata-Version: 2.1\nName: nover\n\n"
    return Case("up/nover-1.0-py3-none-any.whl", wheel_with("nover-1.0", meta), "has no Version")


def metadata_huge_wheel() -> Case:
    meta = metadata("hugemeta", "1.0", body="x" * BIG)
    data = wheel_with("hugemeta-1.0", meta)
    return Case("up/hugemeta-1.0-py3-none-any.whl", data, "METADATA declares")


def metadata_huge_sdist() -> Case:
    data = tar_gz({"hugepkg-1.0/PKG-INFO": metadata("hugepkg", "1.0", body="x" * BIG)})
    return Case("up/hugepkg-1.0.tar.gz", data, "PKG-INFO declares")


def huge_summary() -> Case:
    """A 4 MB Summary compresses to a few KiB; 25 of them once made a 95 MiB state."""
    meta = metadata("hugesum", "1.0", "Summary: " + "s" * 4_000_000)
    data = wheel_with("hugesum-1.0", meta)
    return Case("up/hugesum-1.0-py3-none-any.whl", data, "Summary is 4000000 characters, over 512")


def multiline_summary() -> Case:
    meta = metadata("folded", "1.0", "Summary: first line\n  second line")
    data = wheel_with("folded-1.0", meta)
    return Case("up/folded-1.0-py3-none-any.whl", data, "Summary must be a single line")


def huge_requires_python() -> Case:
    """2.4 MB of valid specifiers: once a 13 MiB page, and 3.5 s in packaging's parser."""
    spec = ",".join([">=3.8"] * 400_000)
    meta = metadata("hugepy", "1.0", f"Requires-Python: {spec}")
    data = wheel_with("hugepy-1.0", meta)
    return Case("up/hugepy-1.0-py3-none-any.whl", data, "Requires-Python is 2399999 characters")


def huge_name_in_metadata() -> Case:
    meta = metadata("hugename" + "-" * 1_000_000, "1.0")
    data = wheel_with("hugename-1.0", meta)
    return Case("up/hugename-1.0-py3-none-any.whl", data, "Name is 1000008 characters, over 255")


def unreleased_metadata_version() -> Case:
    meta = metadata("future", "1.0").replace(b"Metadata-Version: 2.1", b"Metadata-Version: 3.0")
    data = wheel_with("future-1.0", meta)
    return Case("up/future-1.0-py3-none-any.whl", data, "Metadata-Version '3.0' is not a released")


def name_mismatch() -> Case:
    data = wheel_with("other_name-1.0", metadata("claims", "1.0"))
    return Case("up/other_name-1.0-py3-none-any.whl", data, "does not match file name project")


def version_mismatch() -> Case:
    data = wheel_with("verx-1.0", metadata("verx", "2.0"))
    return Case("up/verx-1.0-py3-none-any.whl", data, "does not match file name version")


def invalid_version_in_filename() -> Case:
    return Case(
        "up/badver-1.0.0.beta.banana-py3-none-any.whl",
        wheel_with("badver-1.0", metadata("badver", "1.0")),
        "invalid wheel filename (invalid version)",
    )


def invalid_version_in_metadata() -> Case:
    meta = metadata("metaver", "banana")
    return Case(
        "up/metaver-1.0-py3-none-any.whl", wheel_with("metaver-1.0", meta), "invalid Version"
    )


def invalid_sdist_filename() -> Case:
    return Case(
        "up/noversion.tar.gz", sdist_bytes(SampleProject("noversion", "1.0")), "sdist filename"
    )


def invalid_name_in_filename() -> Case:
    return Case("up/bad!name-1.0-py3-none-any.whl", b"PK", "invalid project name")


def non_ascii_project_name() -> Case:
    meta = metadata("ñame", "1.0")
    return Case(
        "up/ñame-1.0-py3-none-any.whl", wheel_with("ñame-1.0", meta), "invalid project name"
    )


def space_in_file_name() -> Case:
    return Case("up/has space-1.0-py3-none-any.whl", b"PK", "invalid project name")


def html_in_file_name() -> Case:
    return Case(
        "up/<img src=x onerror=alert(1)>-1.0-py3-none-any.whl", b"PK", "invalid project name"
    )


def html_in_metadata_name() -> Case:
    meta = metadata(SCRIPT, "1.0")
    return Case(
        "up/xssname-1.0-py3-none-any.whl", wheel_with("xssname-1.0", meta), "does not match"
    )


def html_in_requires_python() -> Case:
    meta = metadata("xsspy", "1.0", f'Requires-Python: ">{SCRIPT}')
    return Case("up/xsspy-1.0-py3-none-any.whl", wheel_with("xsspy-1.0", meta), "Requires-Python")


def requires_python_with_angle_brackets() -> Case:
    """Valid, and its ``<`` must reach the page escaped."""
    name, data = good_wheel("angles", "1.0", requires_python=">=3.8,<4")
    return Case(f"up/{name}", data, None)


def html_in_summary() -> Case:
    name, data = good_wheel("xsssum", "1.0", summary=f'"><img src=x onerror=alert(1)> {SCRIPT}')
    return Case(f"up/{name}", data, None)


def control_chars_in_summary() -> Case:
    name, data = good_wheel("ctrl", "1.0", summary="bell\x07 nul\x00 esc\x1b[31m red")
    return Case(f"up/{name}", data, None)


def html_in_yank_reason() -> Case:
    name, data = good_wheel("xssyank", "1.0")
    path = f"up/{name}"
    return Case(path, data, None, extra=((path + ".yanked", f"{SCRIPT} & more\n".encode()),))


def html_in_directory_name() -> Case:
    name, data = good_wheel("xssdir", "1.0")
    return Case(f'up/"><script>alert(1)</script>/{name}', data, None)


def spaces_and_unicode_in_path() -> Case:
    name, data = good_wheel("spaced", "1.0")
    return Case(f"team a/ü 文件/{name}", data, None)


def long_project_name() -> Case:
    name, data = good_wheel("l" * 200, "1.0")
    return Case(f"up/{name}", data, None)


def overlong_file_name() -> Case:
    """Longer than any file system's NAME_MAX; a bucket can hold it."""
    name, data = good_wheel("o" * 250, "1.0")
    return Case(f"up/{name}", data, "file name longer than 246 bytes", local=False)


def duplicate_file_name() -> Case:
    """The same file name under another folder: the file indexed first stays served."""
    _, data = good_wheel("good", "1.0", summary="an impostor")
    return Case("zz/good-1.0-py3-none-any.whl", data, f"same file name as {GOOD_WHEEL!r}")


def zip_bomb_declared() -> Case:
    """Central directory claims ~20 GiB; nothing is decompressed."""
    stem = "bomb-1.0"
    members = {f"bomb/{i}.bin": b"0" * 10 for i in range(5)}
    data = wheel_with(stem, metadata("bomb", "1.0"), **members)
    for i in range(5):
        data = _patch_central(
            data, f"bomb/{i}.bin", lambda b, at: struct.pack_into("<I", b, at + 24, 0xFFFFFFFE)
        )
    return Case("up/bomb-1.0-py3-none-any.whl", data, "decompression bomb")


def zip_bomb_metadata_lies() -> Case:
    """METADATA inflates to 16 MiB while declaring 1 KiB: reading stops at the declared size."""
    stem = "liar-1.0"
    meta = metadata("liar", "1.0", body="\n" * (16 << 20))
    data = wheel_with(stem, meta)
    data = _patch_central(
        data, f"{stem}.dist-info/METADATA", lambda b, at: struct.pack_into("<I", b, at + 24, 1024)
    )
    return Case("up/liar-1.0-py3-none-any.whl", data, "unreadable archive")


def zip_bomb_member() -> Case:
    """64 MiB of zeros in a member pypapo never opens: indexed, never inflated."""
    stem = "zeros-1.0"
    data = wheel_with(stem, metadata("zeros", "1.0"), **{"zeros/z.bin": bytes(64 << 20)})
    return Case("up/zeros-1.0-py3-none-any.whl", data, None)


def encrypted_metadata() -> Case:
    stem = "crypt-1.0"

    def encrypt(buf: bytearray, at: int) -> None:
        buf[at + 8] |= 1  # general purpose flag bit 0: encrypted

    data = _patch_central(
        wheel_with(stem, metadata("crypt", "1.0")), f"{stem}.dist-info/METADATA", encrypt
    )
    return Case("up/crypt-1.0-py3-none-any.whl", data, "unreadable archive")


def unsupported_compression() -> Case:
    stem = "method-1.0"

    def method(buf: bytearray, at: int) -> None:
        struct.pack_into("<H", buf, at + 10, 99)  # AE-x: not supported by zipfile
        (local,) = struct.unpack_from("<I", buf, at + 42)
        struct.pack_into("<H", buf, local + 8, 99)

    data = _patch_central(
        wheel_with(stem, metadata("method", "1.0")), f"{stem}.dist-info/METADATA", method
    )
    return Case("up/method-1.0-py3-none-any.whl", data, "unreadable archive")


def zip_member_dotdot() -> Case:
    data = wheel_with("zdot-1.0", metadata("zdot", "1.0"), **{"../../evil.py": b"x"})
    return Case("up/zdot-1.0-py3-none-any.whl", data, "unsafe member: path with '..'")


def zip_member_absolute() -> Case:
    data = wheel_with("zabs-1.0", metadata("zabs", "1.0"), **{"/etc/evil.py": b"x"})
    return Case("up/zabs-1.0-py3-none-any.whl", data, "unsafe member: absolute path")


def tar_member_dotdot() -> Case:
    data = tar_gz({"tdot-1.0/../../evil": b"x", "tdot-1.0/PKG-INFO": metadata("tdot", "1.0")})
    return Case("up/tdot-1.0.tar.gz", data, "unsafe member: path with '..'")


def tar_member_absolute() -> Case:
    data = tar_gz({"/etc/cron.d/evil": b"x", "tabs-1.0/PKG-INFO": metadata("tabs", "1.0")})
    return Case("up/tabs-1.0.tar.gz", data, "unsafe member: absolute path")


def tar_symlink_escapes() -> Case:
    links = {"tsym-1.0/link": (tarfile.SYMTYPE, "../../../etc/passwd")}
    data = tar_gz({"tsym-1.0/PKG-INFO": metadata("tsym", "1.0")}, links=links)
    return Case("up/tsym-1.0.tar.gz", data, "points outside the archive")


def tar_symlink_absolute() -> Case:
    links = {"tsabs-1.0/link": (tarfile.SYMTYPE, "/etc/shadow")}
    data = tar_gz({"tsabs-1.0/PKG-INFO": metadata("tsabs", "1.0")}, links=links)
    return Case("up/tsabs-1.0.tar.gz", data, "points to absolute")


def tar_hardlink_escapes() -> Case:
    links = {"thard-1.0/link": (tarfile.LNKTYPE, "../etc/passwd")}
    data = tar_gz({"thard-1.0/PKG-INFO": metadata("thard", "1.0")}, links=links)
    return Case("up/thard-1.0.tar.gz", data, "points outside the archive")


def tar_pkg_info_is_symlink() -> Case:
    links = {"tlink-1.0/PKG-INFO": (tarfile.SYMTYPE, "other")}
    data = tar_gz({"tlink-1.0/other": metadata("tlink", "1.0")}, links=links)
    return Case("up/tlink-1.0.tar.gz", data, "is not a regular file")


def tar_pkg_info_is_directory() -> Case:
    data = tar_gz({"tdir-1.0/PKG-INFO/x": b""}, dirs=("tdir-1.0/PKG-INFO",))
    return Case("up/tdir-1.0.tar.gz", data, "is not a regular file")


def tar_sparse_member() -> Case:
    """Sparse members rely on GNU extensions; PyPI refuses them in sdists."""
    sparse = hostile.tar_header("tsparse-1.0/holes", 0, tarfile.GNUTYPE_SPARSE)
    pkg_info = hostile.tar_member("tsparse-1.0/PKG-INFO", metadata("tsparse", "1.0"))
    data = gzip.compress(sparse + pkg_info + bytes(1024), mtime=0)
    return Case("up/tsparse-1.0.tar.gz", data, "sparse member 'tsparse-1.0/holes'")


def tar_bomb_after_pkg_info() -> Case:
    """1 GiB of zeros in a 1 MiB file after a valid PKG-INFO (4 GiB in 4 MiB took 166 s):
    refused once 64 MiB are inflated."""
    return _tar_bomb("tbomb", pkg_info_first=True)


def tar_bomb_before_pkg_info() -> Case:
    return _tar_bomb("tbombfirst", pkg_info_first=False)


def _tar_bomb(name: str, *, pkg_info_first: bool) -> Case:
    with tempfile.TemporaryDirectory() as tmp:
        path = hostile.tar_bomb(Path(tmp), 1 << 30, pkg_info_first=pkg_info_first, name=name)
        data = path.read_bytes()
    return Case(f"up/{name}-1.0.tar.gz", data, "a decompression bomb")


def crowded_sdist() -> Case:
    """100,000 members before PKG-INFO (hatchling writes it last): a header parse each."""
    with tempfile.TemporaryDirectory() as tmp:
        data = hostile.crowded_sdist(Path(tmp), 100_000, "crowded").read_bytes()
    return Case("up/crowded-1.0.tar.gz", data, "more than 100000 members before its PKG-INFO")


def upload_into_simple() -> Case:
    name, data = good_wheel("intruder", "1.0")
    return Case(f"simple/intruder/{name}", data, "which pypapo reserves for its own pages")


def upload_into_browse() -> Case:
    name, data = good_wheel("browser", "1.0")
    return Case(f"browse/{name}", data, "which pypapo reserves for its own pages")


def forged_project_page() -> Case:
    """A user overwrites a page: a build puts the real one back."""
    page = f"<!DOCTYPE html><html><body>{SCRIPT}<a href='https://evil.example/good.whl'>x</a>"
    return Case("simple/good/index.html", page.encode(), None)


def forged_sidecar() -> Case:
    """A user uploads a ``.metadata`` for a served wheel: a build rewrites it."""
    return Case(GOOD_WHEEL + ".metadata", metadata("evil", "6.6.6", "Requires-Dist: evil"), None)


def orphan_sidecar() -> Case:
    """A ``.metadata`` with no distribution beside it: a build removes it."""
    return Case("up/ghost-1.0-py3-none-any.whl.metadata", metadata("ghost", "1.0"), None)


def not_a_distribution_suffix() -> Case:
    """An old format beside packages is no bad file (refresh reports nothing); the CLI lists it
    as not indexed, with the format the index serves instead."""
    return Case("up/legacy-1.0-py3.8.egg", b"PK\x03\x04", None)


def thousands_of_files() -> Case:
    """2,000 versions of one project: one page, every file listed."""
    files = [good_wheel("many", f"0.{i}") for i in range(2000)]
    (name, data), *rest = files
    return Case(f"many/{name}", data, None, extra=tuple((f"many/{n}", d) for n, d in rest))


KINDS: dict[str, Callable[[], Case]] = {
    f.__name__: f
    for f in (
        zero_byte_wheel,
        zero_byte_sdist,
        truncated_wheel,
        truncated_sdist,
        not_a_zip_wheel,
        html_error_page_as_wheel,
        gzip_not_tar_sdist,
        tar_as_zip_sdist,
        wheel_without_metadata,
        wheel_metadata_too_deep,
        wheel_two_dist_infos,
        dist_info_of_another_project,
        dist_info_of_another_version,
        wheel_without_wheel_file,
        unsupported_wheel_version,
        zip_declares_a_million_members,
        zip_more_members_than_declared,
        sdist_without_pkg_info,
        sdist_two_top_dirs,
        metadata_not_utf8,
        metadata_empty,
        metadata_without_version,
        metadata_huge_wheel,
        metadata_huge_sdist,
        huge_summary,
        multiline_summary,
        huge_requires_python,
        huge_name_in_metadata,
        unreleased_metadata_version,
        name_mismatch,
        version_mismatch,
        invalid_version_in_filename,
        invalid_version_in_metadata,
        invalid_sdist_filename,
        invalid_name_in_filename,
        non_ascii_project_name,
        space_in_file_name,
        html_in_file_name,
        html_in_metadata_name,
        html_in_requires_python,
        requires_python_with_angle_brackets,
        html_in_summary,
        control_chars_in_summary,
        html_in_yank_reason,
        html_in_directory_name,
        spaces_and_unicode_in_path,
        long_project_name,
        overlong_file_name,
        duplicate_file_name,
        zip_bomb_declared,
        zip_bomb_metadata_lies,
        zip_bomb_member,
        encrypted_metadata,
        unsupported_compression,
        zip_member_dotdot,
        zip_member_absolute,
        tar_member_dotdot,
        tar_member_absolute,
        tar_symlink_escapes,
        tar_symlink_absolute,
        tar_hardlink_escapes,
        tar_pkg_info_is_symlink,
        tar_pkg_info_is_directory,
        tar_sparse_member,
        tar_bomb_after_pkg_info,
        tar_bomb_before_pkg_info,
        crowded_sdist,
        upload_into_simple,
        upload_into_browse,
        forged_project_page,
        forged_sidecar,
        orphan_sidecar,
        not_a_distribution_suffix,
        thousands_of_files,
    )
}
"""Every kind by name, in a stable order (test ids)."""

BUCKET_ONLY_KINDS = frozenset({"overlong_file_name"})
"""Kinds a folder cannot hold (``Case.local`` is False): known without building the case."""

SLOW_KINDS = frozenset({"thousands_of_files", "zip_more_members_than_declared", "crowded_sdist"})
