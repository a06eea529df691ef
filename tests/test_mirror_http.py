"""``pypapo mirror http://.../simple/ DIR``: an index over HTTP as a source, from ``pypapo serve``
and Debian's nginx on loopback (PEP 691 JSON by ``Accept``), and from a hostile little server:
an HTML-only index, pages that are too large, too slow, redirected away or linking away, and a
file longer than its page says. Each bad page is one problem line naming its URL; the rest is
copied."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from pypapo.cli import main
from pypapo.mirror import mirror
from pypapo.source import HttpSource
from pypapo.storage.local import LocalStorage
from tests.support.mirror_source import PROJECTS, check_links
from tests.support.nginx_server import start_nginx
from tests.support.pypapo_server import PypapoServer


def _same_pages(source: Path, dest: Path) -> None:
    for page in (source / "simple").rglob("index.*"):
        assert (dest / page.relative_to(source)).read_bytes() == page.read_bytes(), page


def test_full_and_partial_mirror_from_pypapo_serve(source: Path, tmp_path: Path) -> None:
    with PypapoServer(source, tmp_path / "serve.log") as server:
        url = server.url + "/simple/"
        report = mirror(HttpSource(url), tmp_path / "full")
        assert report.problems == []
        assert check_links(tmp_path / "full") == PROJECTS == report.projects
        # rendered again from the JSON pages, they are the source's pages byte for byte
        _same_pages(source, tmp_path / "full")
        partial = mirror(HttpSource(url), tmp_path / "part", [Requirement("app")])
        assert partial.problems == []
        assert check_links(tmp_path / "part") == {"app", "lib-core"}


def test_the_command_mirrors_from_nginx(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with start_nginx(source, tmp_path) as server:
        assert main(["mirror", server.index_url, str(tmp_path / "d"), "app", "yankee"]) == 0
        assert server.requested("/simple/app/")  # the project URL, with Accept, not index.json
    out = capsys.readouterr().out
    assert f"from {server.index_url} into" in out
    assert check_links(tmp_path / "d") == {"app", "lib-core", "yankee"}


# --- a hostile index ---------------------------------------------------------------------------

GOOD = b"a good sdist"
GOOD_SHA = hashlib.sha256(GOOD).hexdigest()
LIMIT = 4096  # the page size the test's source accepts


def _project_html(links: str) -> bytes:
    return f"<!DOCTYPE html><html><body>{links}</body></html>".encode()


def _route(path: str, port: int) -> tuple[int, dict[str, str], bytes | Iterator[bytes]]:
    """What the hostile server answers: status, headers, body (an iterator trickles)."""
    html = {"Content-Type": "text/html"}
    names = ["good", "huge", "slow", "away", "evil", "liar", "gone"]
    pages: dict[str, tuple[int, dict[str, str], bytes | Iterator[bytes]]] = {
        "/simple/": (200, html, _project_html("".join(f'<a href="{n}/">{n}</a>' for n in names))),
        "/simple/good/": (200, html, _project_html(
            f'<a href="../../f/good-1.0.tar.gz#sha256={GOOD_SHA}" data-requires-python="&gt;=3">'
            "good-1.0.tar.gz</a>")),
        "/simple/huge/": (200, html, b"<a>" * LIMIT),
        "/simple/slow/": (200, html, (b" " for _ in range(40))),
        "/simple/away/": (302, {"Location": f"http://localhost:{port}/simple/good/"}, b""),
        "/simple/evil/": (200, html, _project_html(
            f'<a href="http://evil.example/evil-1.0.tar.gz#sha256={GOOD_SHA}">evil-1.0.tar.gz</a>'
        )),
        "/simple/liar/": (200, {"Content-Type": "application/vnd.pypi.simple.v1+json"},
                          json.dumps({"name": "liar", "files": [{
                              "filename": "liar-1.0.tar.gz", "url": "../../f/liar-1.0.tar.gz",
                              "hashes": {"sha256": GOOD_SHA}, "size": 3}]}).encode()),
        "/f/good-1.0.tar.gz": (200, {}, GOOD),
        "/f/liar-1.0.tar.gz": (200, {}, GOOD),
    }  # fmt: skip
    return pages.get(path, (404, {}, b"not found"))


class _Hostile(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status, headers, body = _route(self.path, int(self.headers["Host"].rpartition(":")[2]))
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        if isinstance(body, bytes):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if isinstance(body, bytes):
            self.wfile.write(body)
            return
        for chunk in body:  # one byte at a time, each well within the socket timeout
            self.wfile.write(chunk)
            self.wfile.flush()
            time.sleep(0.05)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hostile_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple/"
    finally:
        server.shutdown()
        server.server_close()


def test_a_hostile_index_costs_one_line_per_bad_page(hostile_url: str, tmp_path: Path) -> None:
    source = HttpSource(hostile_url, timeout=2, deadline=1, max_page=LIMIT)
    dest = tmp_path / "d"
    started = time.monotonic()
    report = mirror(source, dest)
    assert time.monotonic() - started < 20
    assert report.projects == {"good"}
    problems: dict[str, Callable[[str], bool]] = {
        "huge": lambda p: f"larger than {LIMIT} bytes" in p,
        "slow": lambda p: "took longer than 1s" in p,
        "away": lambda p: "another origin" in p,
        "evil": lambda p: "bad link 'http://evil.example/" in p and "not a relative link" in p,
        "liar": lambda p: "larger than the 3 bytes its page gives" in p,
        "gone": lambda p: p == "gone: in the root page but has no project page",
    }
    assert len(report.problems) == len(problems), report.problems
    print(*report.problems, sep="\n")
    for name, check in problems.items():
        [problem] = [p for p in report.problems if name in p]
        assert check(problem), problem
    assert (dest / "f" / "good-1.0.tar.gz").read_bytes() == GOOD
    assert not (dest / "f" / "liar-1.0.tar.gz").exists()
    assert not list(dest.rglob(".pypapo-tmp-*"))
    page = json.loads((dest / "simple" / "good" / "index.json").read_bytes())
    assert page["files"][0]["requires-python"] == ">=3"


@pytest.mark.parametrize(
    ("url", "reason"),
    [("ftp://127.0.0.1/simple/", "no such folder"), ("file:///etc/", "no such folder")],
)
def test_only_http_and_https_urls_are_sources(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str, reason: str
) -> None:
    assert main(["mirror", url, str(tmp_path / "d")]) == 2
    assert reason in capsys.readouterr().err


def test_a_local_folder_still_mirrors(source: Path, tmp_path: Path) -> None:
    assert mirror(LocalStorage(source), tmp_path / "d", [Requirement("app")]).problems == []
