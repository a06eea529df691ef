"""Human browse pages: pure rendering, written by refresh and build beside (never instead of) the
machine pages, served as plain HTML, and readable in a real headless Chromium."""

from __future__ import annotations

import struct
import subprocess
import urllib.request
import zlib
from pathlib import Path

import pytest

from pypapo.browse import human_size, project_page, project_page_path, root_page
from pypapo.build import build
from pypapo.model import FileRecord, ProjectState
from pypapo.refresh import refresh
from pypapo.storage.local import LocalStorage
from tests.support.page_checks import page_problems
from tests.support.pypapo_server import PypapoServer
from tests.support.tools import add_sdist, add_wheel, require_tool


def _record(filename: str, version: str, **kw: object) -> FileRecord:
    base: dict[str, object] = {
        "path": f"pkgs/{filename}",
        "filename": filename,
        "version": version,
        "size": 2048,
        "sha256": "ab" * 32,
        "upload_time": "2024-05-06T07:08:09.123456Z",
        "generation": "1",
    }
    base.update(kw)
    return FileRecord(**base)  # type: ignore[arg-type]


STATE = ProjectState.of(
    "demo",
    [
        _record("demo-1.0-py3-none-any.whl", "1.0", summary="Old summary"),
        _record("demo-2.0-py3-none-any.whl", "2.0", requires_python=">=3.9,<4", summary="New"),
        _record("demo-2.0.tar.gz", "2.0", size=5 << 20, summary="New"),
        _record("demo-3.0-py3-none-any.whl", "3.0", yanked="broken <b>build</b>", summary="Bad"),
    ],
)


def test_project_page_lists_versions_files_and_details() -> None:
    page = project_page(STATE).decode()
    assert page_problems("browse/demo/index.html", page.encode()) == []
    # newest first; the current version is the newest one not yanked
    assert page.index('id="v3.0"') < page.index('id="v2.0"') < page.index('id="v1.0"')
    assert "<h1>demo 2.0</h1>" in page
    assert '<p class="summary">New</p>' in page
    assert "5.0 MiB" in page and "2.0 KiB" in page
    assert "2024-05-06 07:08:09 UTC" in page
    assert "<code>&gt;=3.9,&lt;4</code>" in page
    assert "yes: broken &lt;b&gt;build&lt;/b&gt;" in page
    assert "(yanked)" in page
    assert 'href="../../pkgs/demo-2.0.tar.gz"' in page
    assert 'href="../../simple/demo/"' in page


def test_pages_are_deterministic() -> None:
    assert project_page(STATE) == project_page(ProjectState.of("demo", reversed(STATE.records)))
    assert root_page(["b", "a"]) == root_page(["a", "b"])


def test_root_page_links_every_project() -> None:
    page = root_page(["alpha", "beta-two"]).decode()
    assert page_problems("browse/index.html", page.encode()) == []
    assert '<a href="alpha/">alpha</a>' in page and '<a href="beta-two/">beta-two</a>' in page
    assert "2 projects" in page


@pytest.mark.parametrize(
    ("size", "text"), [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (3 << 30, "3.0 GiB")]
)
def test_human_size(size: int, text: str) -> None:
    assert human_size(size) == text


def test_refresh_writes_browse_pages_and_removes_them(tmp_path: Path) -> None:
    wheel = add_wheel(tmp_path, "Shown.Here", "1.0", summary="visible")
    storage = LocalStorage(tmp_path)
    refresh(storage, [wheel.relative_to(tmp_path).as_posix()])
    page = (tmp_path / project_page_path("shown-here")).read_text()
    assert "visible" in page
    assert "shown-here" in (tmp_path / "browse" / "index.html").read_text()
    wheel.unlink()
    refresh(storage, [wheel.relative_to(tmp_path).as_posix()])
    assert [p for p in (tmp_path / "browse").rglob("*") if p.is_file()] == []
    assert [p for p in (tmp_path / "simple").rglob("*") if p.is_file()] == []


def test_build_rewrites_a_damaged_browse_page(tmp_path: Path) -> None:
    add_wheel(tmp_path, "alpha", "1.0")
    build(LocalStorage(tmp_path))
    page = tmp_path / project_page_path("alpha")
    good = page.read_bytes()
    page.write_bytes(b"<script>alert(1)</script>")
    build(LocalStorage(tmp_path))
    assert page.read_bytes() == good


def _png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and the unfiltered rows of an 8-bit RGB or RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, bpp = 8, b"", 0, 0, 3
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and color in (2, 6)
            bpp = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw, stride = zlib.decompress(idat), width * bpp
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        filt, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if filt == 1:
                line[i] = (line[i] + a) & 255
            elif filt == 2:
                line[i] = (line[i] + b) & 255
            elif filt == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif filt == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, rows


@pytest.mark.e2e
def test_chromium_renders_the_browse_pages(tmp_path: Path) -> None:
    chromium = require_tool("chromium")
    root = tmp_path / "index"
    add_wheel(root, "demo", "1.0", summary="A demo package for people")
    add_wheel(root, "demo", "2.0", requires_python=">=3.9", summary="A demo package for people")
    add_sdist(root, "demo", "2.0")
    yanked = add_wheel(root, "demo", "2.1")
    yanked.with_name(yanked.name + ".yanked").write_text("broken build\n")
    add_wheel(root, "other", "0.1")
    build(LocalStorage(root))
    shot = tmp_path / "demo.png"
    with PypapoServer(root, tmp_path / "serve.log") as server:
        with urllib.request.urlopen(server.url + "/browse/demo/", timeout=10) as response:
            assert response.headers["Content-Type"] == "text/html; charset=utf-8"
            assert b"A demo package for people" in response.read()
        out = subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--hide-scrollbars",
                f"--user-data-dir={tmp_path / 'profile'}",
                "--window-size=1100,800",
                f"--screenshot={shot}",
                server.url + "/browse/demo/",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert out.returncode == 0, out.stderr
    width, height, rows = _png_pixels(shot.read_bytes())
    assert (width, height) == (1100, 800)
    # not blank: mostly white background, and text (dark pixels) in the top part of the page
    pixels = b"".join(rows)
    assert pixels.count(255) > len(pixels) // 2
    top = b"".join(rows[:400])
    dark = sum(1 for v in top if v < 100)
    assert dark > len(top) // 200, dark
