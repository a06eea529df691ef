"""The shipped nginx.conf serves only what the index publishes: over a built index with hostile
files and symlinks beside it, Debian's nginx answers every path with the status and headers its
kind fixes (tests/hostile_tree.py), never a byte from outside the root."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from pypapo import browse
from pypapo.http_policy import CONTENT_SECURITY_POLICY
from tests.support.hostile_tree import ANSWERS, SECRET, STATUS, header_problems, make_tree
from tests.support.http_parity import fetch
from tests.support.nginx_server import CONFIG_DIR, NginxServer, start_nginx

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tree(tmp_path_factory.mktemp("hostile"))


@pytest.fixture(scope="module")
def server(root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NginxServer]:
    with start_nginx(root, tmp_path_factory.mktemp("work")) as running:
        yield running


@pytest.mark.parametrize(("path", "kind", "location"), ANSWERS, ids=[a[0] for a in ANSWERS])
def test_each_path_gets_the_answer_of_its_kind(
    server: NginxServer, path: str, kind: str, location: str | None
) -> None:
    reply = fetch(server.port, path)
    assert reply.status == STATUS.get(kind, 200), reply.body[:200]
    assert reply.header("Location") == location
    assert header_problems(reply.headers, kind, CONTENT_SECURITY_POLICY) == []
    assert SECRET not in reply.body
    if kind == "not-found":
        assert reply.body == b"not found\n"


@pytest.mark.parametrize(
    "path", ["/pkgs/..%2f..%2foutside%2fsecret.txt", "/%2e%2e/outside/secret.txt", "/../outside"]
)
def test_traversal_above_the_root_is_refused(server: NginxServer, path: str) -> None:
    reply = fetch(server.port, path)
    assert reply.status == 400
    assert SECRET not in reply.body  # nginx's own fixed page, before any location applies


def test_a_distribution_full_of_html_is_a_download(server: NginxServer, root: Path) -> None:
    reply = fetch(server.port, "/pkgs/html-1.0.zip")
    assert reply.body == (root / "pkgs/html-1.0.zip").read_bytes()
    assert reply.header("Content-Type") == "application/octet-stream"
    assert reply.header("Content-Disposition") == "attachment"


def test_the_csp_admits_exactly_the_browse_pages_style() -> None:
    """The policy allows no script and one inline style: the browse template's, by hash."""
    page = browse.root_page(["foo"])
    [style] = re.findall(rb"<style>(.*?)</style>", page, flags=re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(style).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in CONTENT_SECURITY_POLICY
    assert "default-src 'none'" in CONTENT_SECURITY_POLICY
    assert "script" not in CONTENT_SECURITY_POLICY
    assert CONTENT_SECURITY_POLICY in (CONFIG_DIR / "nginx.conf").read_text()


def test_symlinks_are_refused_in_the_config() -> None:
    text = re.sub(r"#.*", "", (CONFIG_DIR / "nginx.conf").read_text())
    assert re.findall(r"(?m)^\s*disable_symlinks\s+([^;]*);", text) == ["on"]
