"""Real pip and real uv install from a built index served by ``pypapo serve`` and by NGINX."""

from __future__ import annotations

import json
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest

from pypapo.build import build
from pypapo.storage.local import LocalStorage
from tests.conftest import add_sdist, add_wheel, client_env, require_tool, run
from tests.pypapo_server import PypapoServer

pytestmark = pytest.mark.e2e


class Server(Protocol):
    @property
    def url(self) -> str: ...

    def requested(self, suffix: str) -> list[str]: ...


def make_corpus(root: Path) -> None:
    add_wheel(root, "app", "1.0", requires_dist=["Lib.Core>=1.0"])
    add_wheel(root, "Lib.Core", "1.0", sub="libs")
    add_wheel(root, "lib_core", "0.9", sub="libs")
    add_wheel(root, "py-limits", "1.0", requires_python=">=3.8")
    add_wheel(root, "py-limits", "2.0", requires_python=">=4")
    add_wheel(root, "yankee", "1.0")
    yanked = add_wheel(root, "yankee", "2.0")
    yanked.with_name(yanked.name + ".yanked").write_text("broken build\n")
    add_sdist(root, "only-sdist", "1.5")


@pytest.fixture(scope="module")
def index_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("index")
    make_corpus(root)
    report = build(LocalStorage(root))
    assert report.errors == []
    return root


@pytest.fixture(scope="module", params=["pypapo", "nginx"])
def server(
    request: pytest.FixtureRequest, index_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp(f"server-{request.param}")
    if request.param == "pypapo":
        with PypapoServer(index_root, tmp / "serve.log") as served:
            yield served
        return
    require_tool("nginx")
    from tests.nginx_server import start_nginx  # noqa: PLC0415 (only when nginx is there)

    nginx = start_nginx(index_root, tmp)
    try:
        yield nginx
    finally:
        nginx.stop()


def _venv(template: Path, dest: Path) -> Path:
    shutil.copytree(template, dest, symlinks=True)
    return dest / "bin" / "python"


def _installed(python: Path, dist: str, home: Path) -> str:
    out = run(
        [str(python), "-c", f"import importlib.metadata as m; print(m.version({dist!r}))"],
        client_env(home),
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def _install(client: str, python: Path, url: str, reqs: list[str], home: Path) -> str:
    env = client_env(home)
    if client == "pip":
        cmd = [
            str(python),
            "-m",
            "pip",
            "install",
            "--isolated",
            "--no-cache-dir",
            "--index-url",
            url + "/simple/",
            *reqs,
        ]
    else:
        cmd = [
            require_tool("uv"),
            "pip",
            "install",
            "--python",
            str(python),
            "--no-cache",
            "--index-url",
            url + "/simple/",
            *reqs,
        ]
    out = run(cmd, env)
    assert out.returncode == 0, f"{cmd}\n{out.stdout}\n{out.stderr}"
    return out.stdout + out.stderr


CLIENTS = ["pip", "uv"]


@pytest.mark.parametrize("client", CLIENTS)
def test_dependency_resolved_through_index(
    client: str, server: Server, fresh_venv_factory: Path, tmp_path: Path
) -> None:
    python = _venv(fresh_venv_factory, tmp_path / "venv")
    _install(client, python, server.url, ["app"], tmp_path)
    assert _installed(python, "app", tmp_path) == "1.0"
    assert _installed(python, "lib-core", tmp_path) == "1.0"
    # both clients resolved from the PEP 658 sidecars before downloading the wheels
    assert server.requested("app-1.0-py3-none-any.whl.metadata")


@pytest.mark.parametrize("client", CLIENTS)
def test_requires_python_excludes_version(
    client: str, server: Server, fresh_venv_factory: Path, tmp_path: Path
) -> None:
    python = _venv(fresh_venv_factory, tmp_path / "venv")
    _install(client, python, server.url, ["py-limits"], tmp_path)
    assert _installed(python, "py-limits", tmp_path) == "1.0"


@pytest.mark.parametrize("client", CLIENTS)
def test_yanked_skipped_unless_pinned(
    client: str, server: Server, fresh_venv_factory: Path, tmp_path: Path
) -> None:
    python = _venv(fresh_venv_factory, tmp_path / "venv")
    _install(client, python, server.url, ["yankee"], tmp_path)
    assert _installed(python, "yankee", tmp_path) == "1.0"
    _install(client, python, server.url, ["yankee==2.0"], tmp_path)
    assert _installed(python, "yankee", tmp_path) == "2.0"


@pytest.mark.parametrize("client", CLIENTS)
def test_sdist_only_package_builds(
    client: str, server: Server, fresh_venv_factory: Path, tmp_path: Path
) -> None:
    python = _venv(fresh_venv_factory, tmp_path / "venv")
    _install(client, python, server.url, ["only-sdist"], tmp_path)
    assert _installed(python, "only-sdist", tmp_path) == "1.5"


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
