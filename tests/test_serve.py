"""``pypapo serve``: HTTP behaviour that mirrors NGINX, and live re-indexing of the folder."""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.http_parity import STATUS_CASES
from tests.support.pypapo_server import PypapoServer
from tests.support.tools import add_wheel

JSON = "application/vnd.pypi.simple.v1+json"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[PypapoServer]:
    root = tmp_path / "root"
    add_wheel(root, "first", "1.0")
    with PypapoServer(root, tmp_path / "serve.log") as server:
        yield server


def _projects(server: PypapoServer) -> list[str]:
    request = urllib.request.Request(server.url + "/simple/", headers={"Accept": JSON})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return [p["name"] for p in json.loads(response.read())["projects"]]
    except urllib.error.HTTPError as e:
        e.close()
        return []


def _wait_for(predicate: object, timeout: float = 60) -> bool:
    # polled: returns as soon as the index shows the change; the bound only matters on a
    # machine so loaded that the watcher's debounce and the refresh take many seconds
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def test_keeps_index_current(served: PypapoServer) -> None:
    assert _projects(served) == ["first"]
    wheel = add_wheel(served.root, "Second.One", "2.0", sub="new dir")
    assert _wait_for(lambda: _projects(served) == ["first", "second-one"])
    wheel.unlink()
    assert _wait_for(lambda: _projects(served) == ["first"])
    assert not wheel.with_name(wheel.name + ".metadata").exists()


def _raw(server: PypapoServer, method: str, path: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request(method, path)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


@pytest.mark.parametrize(("path", "status", "location"), STATUS_CASES)
def test_status_codes(served: PypapoServer, path: str, status: int, location: str | None) -> None:
    response = _raw(served, "GET", path)
    assert response.status == status
    assert response.getheader("Location") == location


def test_files_get_long_cache_and_pages_short(served: PypapoServer) -> None:
    wheel = _raw(served, "HEAD", "/pkgs/first-1.0-py3-none-any.whl")
    assert wheel.getheader("Cache-Control") == "public, max-age=31536000, immutable"
    assert int(wheel.getheader("Content-Length") or 0) > 0
    page = _raw(served, "HEAD", "/simple/first/")
    assert page.getheader("Cache-Control") == "public, max-age=10"
    assert page.getheader("Vary") == "Accept"


def test_changed_paths_walks_new_directories(tmp_path: Path) -> None:
    from watchfiles import Change  # noqa: PLC0415

    from pypapo.serve import changed_paths  # noqa: PLC0415

    wheel = add_wheel(tmp_path, "late", "1.0", sub="new dir/deeper")
    (tmp_path / "simple").mkdir()
    changes = [
        (Change.added, str(tmp_path / "new dir")),
        (Change.modified, str(tmp_path / "simple")),
        (Change.deleted, str(tmp_path / "gone-1.0.tar.gz")),
        (Change.added, "/elsewhere/x.whl"),
    ]
    expected = [wheel.relative_to(tmp_path).as_posix(), "gone-1.0.tar.gz"]
    assert changed_paths(tmp_path.resolve(), changes) == sorted(expected)
