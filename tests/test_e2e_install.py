"""Real pip and real uv install from a built index served by ``pypapo serve`` and by NGINX."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from pypapo.build import build
from pypapo.storage.local import LocalStorage
from tests.support.installs import copy_venv, install, installed, make_corpus
from tests.support.servers import SERVERS, Server, serving

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def index_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("index")
    make_corpus(root)
    report = build(LocalStorage(root))
    assert report.errors == []
    return root


@pytest.fixture(scope="module", params=SERVERS)
def server(
    request: pytest.FixtureRequest, index_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    with serving(request.param, index_root, tmp_path_factory.mktemp(request.param)) as served:
        yield served


CLIENTS = ["pip", "uv"]


@pytest.mark.parametrize("client", CLIENTS)
def test_dependency_resolved_through_index(
    client: str, server: Server, fresh_venv_factory: Path, tmp_path: Path
) -> None:
    python = copy_venv(fresh_venv_factory, tmp_path / "venv")
    install(client, python, server.url, ["app"], tmp_path)
    assert installed(python, "app", tmp_path) == "1.0"
    assert installed(python, "lib-core", tmp_path) == "1.0"
    # both clients resolved from the PEP 658 sidecars before downloading the wheels
    assert server.requested("app-1.0-py3-none-any.whl.metadata")


@pytest.mark.parametrize("client", CLIENTS)
def test_requires_python_excludes_version(
    client: str, server: Server, fresh_venv_factory: Path, tmp_path: Path
) -> None:
    python = copy_venv(fresh_venv_factory, tmp_path / "venv")
    install(client, python, server.url, ["py-limits"], tmp_path)
    assert installed(python, "py-limits", tmp_path) == "1.0"


@pytest.mark.parametrize("client", CLIENTS)
def test_yanked_skipped_unless_pinned(
    client: str, server: Server, fresh_venv_factory: Path, tmp_path: Path
) -> None:
    python = copy_venv(fresh_venv_factory, tmp_path / "venv")
    install(client, python, server.url, ["yankee"], tmp_path)
    assert installed(python, "yankee", tmp_path) == "1.0"
    install(client, python, server.url, ["yankee==2.0"], tmp_path)
    assert installed(python, "yankee", tmp_path) == "2.0"


@pytest.mark.parametrize("client", CLIENTS)
def test_sdist_only_package_builds(
    client: str, server: Server, fresh_venv_factory: Path, tmp_path: Path
) -> None:
    python = copy_venv(fresh_venv_factory, tmp_path / "venv")
    install(client, python, server.url, ["only-sdist"], tmp_path)
    assert installed(python, "only-sdist", tmp_path) == "1.5"


ACCEPTS = {
    "application/vnd.pypi.simple.v1+json": "application/vnd.pypi.simple.v1+json",
    "application/vnd.pypi.simple.latest+json": "application/vnd.pypi.simple.v1+json",
    "text/html": "text/html; charset=utf-8",
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
    "text/html;q=0.01": "application/vnd.pypi.simple.v1+json",
}


@pytest.mark.parametrize("accept", ACCEPTS)
@pytest.mark.parametrize("page", ["/simple/", "/simple/app/"])
def test_content_negotiation(server: Server, accept: str, page: str) -> None:
    request = urllib.request.Request(server.url + page, headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=10) as response:
        body = response.read()
        assert response.headers["Content-Type"] == ACCEPTS[accept]
        varies = ",".join(response.headers.get_all("Vary") or [])
        assert "Accept" in [v.strip() for v in varies.split(",")]
    if ACCEPTS[accept].startswith("application/"):
        assert json.loads(body)["meta"]["api-version"] == "1.1"
    else:
        assert body.startswith(b"<!DOCTYPE html>")


def test_no_accept_header_gets_html(server: Server) -> None:
    with urllib.request.urlopen(server.url + "/simple/app/", timeout=10) as response:
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"


def test_private_state_is_not_served(server: Server) -> None:
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(server.url + "/simple/app/.state.json", timeout=10)
    caught.value.close()
    assert caught.value.code == 404
