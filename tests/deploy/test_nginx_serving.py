"""The shipped nginx.conf serving a hand-made bucket tree: PEP 691 negotiation, exact content
types, Vary, relative redirects, cache lifetimes, gzip, /healthz, and what must stay private."""

from __future__ import annotations

import gzip
import http.client
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.nginx_server import NginxServer, start_nginx

pytestmark = pytest.mark.e2e

JSON = "application/vnd.pypi.simple.v1+json"
LATEST = "application/vnd.pypi.simple.latest+json"
HTML = "text/html; charset=utf-8"
PAGE_CACHE = "public, max-age=10"
IMMUTABLE = "public, max-age=31536000, immutable"
WHEEL = "pkgs/foo-1.0-py3-none-any.whl"
PIP_ACCEPT = f"{JSON}, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"


def _page_json(name: str | None) -> bytes:
    if name is None:
        return json.dumps({"meta": {"api-version": "1.1"}, "projects": [{"name": "foo"}]}).encode()
    files = [{"filename": Path(WHEEL).name, "url": f"../../{WHEEL}", "hashes": {}}] * 20
    return json.dumps({"meta": {"api-version": "1.1"}, "name": name, "files": files}).encode()


def _page_html(name: str | None) -> bytes:
    rows = "".join(f'<a href="../../{WHEEL}#sha256=00">{Path(WHEEL).name}</a><br>\n' * 40)
    return f"<!DOCTYPE html><html><body><h1>{name or 'index'}</h1>\n{rows}</body></html>".encode()


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bucket")
    files = {
        "simple/index.html": _page_html(None),
        "simple/index.json": _page_json(None),
        "simple/foo/index.html": _page_html("foo"),
        "simple/foo/index.json": _page_json("foo"),
        "simple/foo/.state.json": b"{}",
        "simple/foo/.pypapo-tmp-abc": b"partial",
        "simple/half/index.html": b"<!DOCTYPE html>",  # no index.json yet
        WHEEL: b"PK\x03\x04" + b"\0" * 2000,
        f"{WHEEL}.metadata": b"Metadata-Version: 2.1\nName: foo\nVersion: 1.0\n" * 20,
        f"{WHEEL}.yanked": b"broken",
        "foo-1.0.tar.gz": b"\x1f\x8b" + b"\0" * 100,
        ".hidden": b"secret",
        ".git/config": b"[core]",
    }
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


@pytest.fixture(scope="module")
def server(root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NginxServer]:
    with start_nginx(root, tmp_path_factory.mktemp("work")) as running:
        yield running


@dataclass(frozen=True)
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def tokens(self, name: str) -> set[str]:
        values = ",".join(self.headers.get_all(name) or [])
        return {v.strip().lower() for v in values.split(",") if v.strip()}


def request(
    server: NginxServer, path: str, headers: dict[str, str] | None = None, method: str = "GET"
) -> Reply:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        conn.close()


# --- negotiation -------------------------------------------------------------------------------

NEGOTIATION = [
    ("v1 json", JSON, "json"),
    ("latest json", LATEST, "json"),
    ("pip's header", PIP_ACCEPT, "json"),
    ("json with q", f"text/html;q=0.9, {JSON};q=0.5", "json"),
    ("latest case-insensitive", LATEST.upper(), "json"),
    ("json refused q=0", f"{JSON};q=0, text/html", "html"),
    ("json refused q=0.000", f"{JSON} ; q=0.000", "html"),
    ("latest refused, v1 wanted", f"{LATEST};q=0, {JSON}", "json"),
    ("v1+html", "application/vnd.pypi.simple.v1+html", "html"),
    ("text/html", "text/html", "html"),
    ("anything", "*/*", "html"),
    ("no header", None, "html"),
]


@pytest.mark.parametrize("path", ["/simple/", "/simple/foo/"])
@pytest.mark.parametrize(
    ("accept", "expected"), [n[1:] for n in NEGOTIATION], ids=[n[0] for n in NEGOTIATION]
)
def test_negotiation(
    server: NginxServer, root: Path, path: str, accept: str | None, expected: str
) -> None:
    reply = request(server, path, {"Accept": accept} if accept is not None else {})
    assert reply.status == 200
    assert reply.header("Content-Type") == (JSON if expected == "json" else HTML)
    assert reply.body == (root / path.lstrip("/") / f"index.{expected}").read_bytes()
    assert "accept" in reply.tokens("Vary")
    assert reply.header("Cache-Control") == PAGE_CACHE


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/simple/foo/index.json", JSON),
        ("/simple/foo/index.html", HTML),
        ("/simple/index.json", JSON),
    ],
)
def test_page_files_by_name(server: NginxServer, path: str, content_type: str) -> None:
    reply = request(server, path)
    assert reply.status == 200
    assert reply.header("Content-Type") == content_type
    assert reply.header("Cache-Control") == PAGE_CACHE


def test_missing_format_is_404_not_the_other_format(server: NginxServer) -> None:
    assert request(server, "/simple/half/", {"Accept": JSON}).status == 404
    assert request(server, "/simple/half/").status == 200
    assert request(server, "/simple/nope/").status == 404


# --- redirects ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "location"), [("/simple", "simple/"), ("/simple/foo", "foo/")])
def test_redirects_are_relative(server: NginxServer, path: str, location: str) -> None:
    reply = request(server, path, {"Host": "example.invalid:9"})
    assert reply.status == 301
    assert reply.header("Location") == location


# --- files and cache lifetimes -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        (f"/{WHEEL}", "application/octet-stream"),
        (f"/{WHEEL}.metadata", "application/octet-stream"),
        ("/foo-1.0.tar.gz", "application/octet-stream"),
    ],
)
def test_files_are_immutable(server: NginxServer, root: Path, path: str, content_type: str) -> None:
    reply = request(server, path, {"Accept-Encoding": "gzip"})
    assert reply.status == 200
    assert reply.body == (root / path.lstrip("/")).read_bytes()  # verbatim, never re-encoded
    assert reply.header("Content-Encoding") is None
    assert reply.header("Content-Type") == content_type
    assert reply.header("Cache-Control") == IMMUTABLE
    assert "accept" not in reply.tokens("Vary")


def test_a_missing_file_is_not_cached_for_a_year(server: NginxServer) -> None:
    reply = request(server, "/pkgs/foo-2.0-py3-none-any.whl")
    assert reply.status == 404
    assert reply.header("Cache-Control") == "no-store"


def test_head_and_conditional_requests(server: NginxServer) -> None:
    head = request(server, f"/{WHEEL}", method="HEAD")
    assert head.status == 200 and head.body == b""
    assert head.header("Content-Length") == "2004"
    etag = head.header("ETag")
    assert etag
    assert request(server, f"/{WHEEL}", {"If-None-Match": etag}).status == 304


def test_writes_are_refused(server: NginxServer) -> None:
    assert request(server, f"/{WHEEL}", method="PUT").status == 405
    assert request(server, "/simple/foo/", method="DELETE").status == 405


# --- gzip --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("accept", "suffix"), [(JSON, "json"), ("text/html", "html")])
def test_pages_are_gzipped(server: NginxServer, root: Path, accept: str, suffix: str) -> None:
    reply = request(server, "/simple/foo/", {"Accept": accept, "Accept-Encoding": "gzip"})
    assert reply.header("Content-Encoding") == "gzip"
    assert {"accept", "accept-encoding"} <= reply.tokens("Vary")
    assert gzip.decompress(reply.body) == (root / "simple/foo" / f"index.{suffix}").read_bytes()


def test_no_gzip_unless_asked(server: NginxServer) -> None:
    reply = request(server, "/simple/foo/", {"Accept": JSON})
    assert reply.header("Content-Encoding") is None


# --- health, privacy, listings -----------------------------------------------------------------


def test_healthz(server: NginxServer) -> None:
    reply = request(server, "/healthz")
    assert (reply.status, reply.body) == (200, b"ok\n")
    assert reply.header("Content-Type") == "text/plain"


def test_healthz_does_not_touch_the_disk(tmp_path: Path) -> None:
    """It answers even when the bucket mount is gone."""
    with start_nginx(tmp_path / "no-such-mount", tmp_path) as server:
        reply = request(server, "/healthz")
        assert (reply.status, reply.body) == (200, b"ok\n")
        assert request(server, "/simple/").status == 404


@pytest.mark.parametrize(
    "path",
    [
        "/simple/foo/.state.json",
        "/simple/foo/.pypapo-tmp-abc",
        f"/{WHEEL}.yanked",
        "/.hidden",
        "/.git/config",
        "/simple/foo/%2Estate.json",
        "/simple/foo/../foo/.state.json",
    ],
)
def test_private_files_are_404(server: NginxServer, root: Path, path: str) -> None:
    reply = request(server, path)
    assert reply.status == 404
    assert b"{}" not in reply.body and b"secret" not in reply.body


@pytest.mark.parametrize("path", ["/", "/pkgs/", "/pkgs", "/simple/foo/.git/", "/.git/"])
def test_no_directory_listings(server: NginxServer, path: str) -> None:
    reply = request(server, path)
    assert reply.status == (200 if path == "/" else 404)  # "/" is the fixed front page
    assert b"foo-1.0" not in reply.body and b"Index of" not in reply.body


def test_server_version_is_hidden(server: NginxServer) -> None:
    assert request(server, "/nope").header("Server") == "nginx"


def test_requests_are_logged(server: NginxServer) -> None:
    request(server, "/simple/foo/")
    assert server.requested("/simple/foo/")
