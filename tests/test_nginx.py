"""The shipped NGINX config: syntax, headers, redirects, private files, gzip."""

from __future__ import annotations

import gzip
import http.client
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pypapo.build import build
from pypapo.storage.local import LocalStorage
from tests.support.http_parity import STATUS_CASES
from tests.support.nginx_server import NginxServer, _globals
from tests.support.tools import add_wheel, require_tool

pytestmark = pytest.mark.e2e
JSON = "application/vnd.pypi.simple.v1+json"


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NginxServer]:
    require_tool("nginx")
    root = tmp_path_factory.mktemp("root")
    for i in range(30):  # enough entries for the page to be worth compressing
        add_wheel(root, "first", f"1.{i}")
    build(LocalStorage(root))
    (root / "pkgs" / "first-1.0-py3-none-any.whl.yanked").write_text("reason")
    with NginxServer(root, tmp_path_factory.mktemp("nginx")) as server:
        yield server


def test_config_passes_nginx_t(tmp_path: Path) -> None:
    server = NginxServer(tmp_path, tmp_path / "w")
    conf = server.prepare()
    result = subprocess.run(
        [
            require_tool("nginx"),
            "-t",
            "-p",
            f"{server.workdir}/",
            "-c",
            str(conf),
            "-g",
            _globals(),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "warn" not in result.stderr, result.stderr


def _get(
    server: NginxServer, path: str, headers: dict[str, str] | None = None
) -> tuple[http.client.HTTPResponse, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", path, headers=headers or {})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response, body


@pytest.mark.parametrize(("path", "status", "location"), STATUS_CASES)
def test_status_codes(nginx: NginxServer, path: str, status: int, location: str | None) -> None:
    response, _ = _get(nginx, path)
    assert response.status == status
    assert response.getheader("Location") == location


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        (JSON, JSON),
        ("application/vnd.pypi.simple.latest+json", JSON),
        (f"{JSON};q=0, text/html", "text/html; charset=utf-8"),
        ("text/html", "text/html; charset=utf-8"),
        ("", "text/html; charset=utf-8"),
    ],
)
def test_negotiation_and_cache(nginx: NginxServer, accept: str, content_type: str) -> None:
    response, _ = _get(nginx, "/simple/first/", {"Accept": accept} if accept else {})
    assert response.getheader("Content-Type") == content_type
    assert response.getheader("Cache-Control") == "public, max-age=10"
    assert "Accept" in [
        v.strip() for v in ",".join(response.headers.get_all("Vary") or []).split(",")
    ]


def test_dist_files_are_immutable(nginx: NginxServer) -> None:
    response, body = _get(nginx, "/pkgs/first-1.0-py3-none-any.whl")
    assert response.status == 200
    assert body.startswith(b"PK")
    assert response.getheader("Cache-Control") == "public, max-age=31536000, immutable"
    response, _ = _get(nginx, "/pkgs/first-1.0-py3-none-any.whl.metadata")
    assert response.getheader("Content-Type") == "application/octet-stream"
    assert response.getheader("Cache-Control") == "public, max-age=31536000, immutable"


@pytest.mark.parametrize("accept", [JSON, "text/html"])
def test_pages_are_gzipped(nginx: NginxServer, accept: str) -> None:
    response, body = _get(nginx, "/simple/first/", {"Accept": accept, "Accept-Encoding": "gzip"})
    assert response.getheader("Content-Encoding") == "gzip"
    assert b"first-1.0-py3-none-any.whl" in gzip.decompress(body)
