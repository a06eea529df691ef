"""NGINX (Debian's, with the shipped nginx/ config) and ``pypapo serve`` over the same tree answer
alike: every Accept header of the parity table gets the same format from both, and every path of
the hostile tree the same status, headers and bytes."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urljoin

import pytest

from pypapo.http_policy import CONTENT_SECURITY_POLICY, FRONT_PAGE
from tests.support.hostile_tree import ANSWERS, STATUS, header_problems, make_tree
from tests.support.http_parity import ACCEPT_CASES, NAME_CASES, RANGE_CASES, fetch
from tests.support.nginx_server import NginxServer, start_nginx
from tests.support.pypapo_server import PypapoServer
from tests.support.tools import add_wheel

pytestmark = pytest.mark.e2e
LONG_NAME = "a-b-c-d-e-f-g-h-i-j"  # 10 letters and 9 separators to fix: 3 redirects
COMPARED = [
    "Content-Type",
    "Location",
    "Cache-Control",
    "Content-Disposition",
    "Content-Security-Policy",
    "X-Content-Type-Options",
    "Content-Length",
    "Content-Range",
    "Accept-Ranges",
]


@dataclass(frozen=True)
class Servers:
    nginx: NginxServer
    serve: PypapoServer


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    base = tmp_path_factory.mktemp("parity")
    root = make_tree(base)
    add_wheel(root, LONG_NAME, "1.0")
    # serve first: it builds the index on start, and nginx must see the tree it settled on
    with PypapoServer(root, base / "serve.log") as serve, start_nginx(root, base) as nginx:
        yield Servers(nginx, serve)


@pytest.mark.parametrize("path", ["/simple/", "/simple/foo/"])
@pytest.mark.parametrize(
    ("accept", "expected"), [c[1:] for c in ACCEPT_CASES], ids=[c[0] for c in ACCEPT_CASES]
)
def test_both_servers_negotiate_alike(
    servers: Servers, path: str, accept: str | None, expected: str
) -> None:
    # sent as UTF-8 bytes: a non-ASCII near miss must reach both servers as it is
    headers: dict[str, str | bytes] = {} if accept is None else {"Accept": accept.encode()}
    kind = f"page-{expected}"
    for port in (servers.nginx.port, servers.serve.port):
        reply = fetch(port, path, headers)
        assert reply.status == 200
        assert header_problems(reply.headers, kind, CONTENT_SECURITY_POLICY) == [], port


@pytest.mark.parametrize(("path", "kind", "location"), ANSWERS, ids=[a[0] for a in ANSWERS])
def test_both_servers_answer_each_path_alike(
    servers: Servers, path: str, kind: str, location: str | None
) -> None:
    nginx, serve = fetch(servers.nginx.port, path), fetch(servers.serve.port, path)
    assert (serve.status, nginx.status) == (STATUS.get(kind, 200),) * 2
    for name in COMPARED:
        assert serve.header(name) == nginx.header(name), name
    assert serve.header("Location") == location
    assert header_problems(serve.headers, kind, CONTENT_SECURITY_POLICY) == []
    if serve.status == 200:
        assert serve.body == nginx.body


def test_the_front_page_links_the_index_and_the_browse_pages(servers: Servers) -> None:
    for port in (servers.nginx.port, servers.serve.port):
        reply = fetch(port, "/")
        assert reply.status == 200
        assert reply.body == FRONT_PAGE
        assert b'href="simple/"' in reply.body
        assert b'href="browse/"' in reply.body


@pytest.mark.parametrize(
    ("path", "headers", "status"), [c[1:] for c in RANGE_CASES], ids=[c[0] for c in RANGE_CASES]
)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_both_servers_answer_ranges_alike(
    servers: Servers, path: str, headers: dict[str, str | bytes], status: int, method: str
) -> None:
    nginx = fetch(servers.nginx.port, path, headers, method)
    serve = fetch(servers.serve.port, path, headers, method)
    assert (serve.status, nginx.status) == (status, status)
    for name in COMPARED:
        assert serve.header(name) == nginx.header(name), name
    assert serve.body == nginx.body
    if status == 206 and method == "GET":  # the bytes the range names, and only those
        whole = fetch(servers.nginx.port, path, {"Accept": str(headers.get("Accept", ""))})
        first, last, size = _content_range(serve.header("Content-Range"))
        assert size == len(whole.body)
        assert serve.body == whole.body[first : last + 1]


def _content_range(value: str | None) -> tuple[int, int, int]:
    assert value is not None
    unit, _, rest = value.partition(" ")
    span, _, size = rest.partition("/")
    first, _, last = span.partition("-")
    assert unit == "bytes"
    return int(first), int(last), int(size)


@pytest.mark.parametrize("server", ["nginx", "serve"])
def test_both_servers_keep_the_connection_alive(servers: Servers, server: str) -> None:
    """HTTP/1.1 with keep-alive: every kind of answer has a Content-Length, so one connection
    carries them all (an installer downloads many files over one)."""
    port = servers.nginx.port if server == "nginx" else servers.serve.port
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    requests = [
        ("GET", "/simple/foo/", {}),
        ("HEAD", "/simple/foo/", {}),
        ("GET", "/pkgs/foo-1.0.tar.gz", {"Range": "bytes=0-3"}),
        ("GET", "/pkgs/foo-1.0.tar.gz", {"Range": "bytes=99999-"}),
        ("GET", "/simple/foo", {}),
        ("GET", "/nope", {}),
        ("GET", "/", {}),
        ("GET", "/healthz", {}),
    ]
    try:
        conn.connect()
        sock = conn.sock
        for method, path, headers in requests:
            conn.request(method, path, headers=headers)
            response = conn.getresponse()
            response.read()
            assert response.version == 11, path
            assert response.getheader("Content-Length") is not None, path
            assert conn.sock is sock, f"{method} {path} closed the connection"
    finally:
        conn.close()


@pytest.mark.parametrize(("path", "location"), NAME_CASES, ids=[c[0] for c in NAME_CASES])
def test_both_servers_redirect_a_name_towards_its_normalized_form(
    servers: Servers, path: str, location: str
) -> None:
    nginx, serve = fetch(servers.nginx.port, path), fetch(servers.serve.port, path)
    assert (nginx.status, nginx.header("Location")) == (301, location)
    assert (serve.status, serve.header("Location")) == (301, location)
    for name in COMPARED:
        assert serve.header(name) == nginx.header(name), name
    assert serve.body == nginx.body


@pytest.mark.parametrize("server", ["nginx", "serve"])
def test_a_long_name_reaches_its_page_in_a_few_hops(servers: Servers, server: str) -> None:
    """Each redirect lands on the same route again; pip and uv follow them to the page."""
    port = servers.nginx.port if server == "nginx" else servers.serve.port
    path, hops = f"/simple/{LONG_NAME.upper().replace('-', '_')}/", 0
    reply = fetch(port, path)
    while reply.status == 301 and hops < 10:
        path, hops = urljoin(path, reply.header("Location") or ""), hops + 1
        reply = fetch(port, path)
    assert (path, reply.status, hops) == (f"/simple/{LONG_NAME}/", 200, 3)
