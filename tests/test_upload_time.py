"""Upload-time cut-offs work with every client and every way of reaching the index.

uv reads ``data-upload-time`` from HTML links (the only format it reads from a ``file://``
index) and ``upload-time`` from PEP 691 JSON; pip reads ``upload-time`` from JSON. A cut-off
between two releases must give the older one, over HTTP (NGINX and ``pypapo serve``) and, for
uv, over ``file://``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pypapo.build import build
from pypapo.storage.local import LocalStorage
from tests.support.installs import copy_venv
from tests.support.servers import SERVERS, serving
from tests.support.tools import add_wheel, client_env, require_tool, run

pytestmark = pytest.mark.e2e

OLD = datetime(2020, 1, 1, tzinfo=UTC).timestamp()
NEW = datetime(2024, 1, 1, tzinfo=UTC).timestamp()
CUT_OFF = "2022-01-01T00:00:00Z"


@pytest.fixture(scope="module")
def index_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("index")
    for version, when in (("1.0", OLD), ("2.0", NEW)):
        wheel = add_wheel(root, "timed", version)
        os.utime(wheel, (when, when))  # a folder's upload time is the file's mtime
    assert build(LocalStorage(root)).errors == []
    return root


@pytest.fixture(scope="module", params=SERVERS)
def http_url(
    request: pytest.FixtureRequest, index_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with serving(request.param, index_root, tmp_path_factory.mktemp(request.param)) as served:
        yield served.url


def _version(python: Path, home: Path) -> str:
    out = run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('timed'))"],
        client_env(home),
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def _uv(python: Path, index: str, home: Path) -> str:
    cmd = [require_tool("uv"), "pip", "install", "--python", str(python), "--no-cache"]
    out = run([*cmd, "--exclude-newer", CUT_OFF, "--index-url", index, "timed"], client_env(home))
    assert out.returncode == 0, f"{out.stdout}\n{out.stderr}"
    return _version(python, home)


def _pip(python: Path, index: str, home: Path) -> str:
    # this suite's pip (new enough for the flag) installs into the test's venv
    cmd = [sys.executable, "-m", "pip", "--python", str(python), "install", "--isolated"]
    cmd += ["--no-cache-dir", "--uploaded-prior-to", CUT_OFF, "--index-url", index, "timed"]
    out = run(cmd, client_env(home))
    assert out.returncode == 0, f"{out.stdout}\n{out.stderr}"
    return _version(python, home)


def test_uv_cut_off_over_file_url(
    index_root: Path, fresh_venv_factory: Path, tmp_path: Path
) -> None:
    python = copy_venv(fresh_venv_factory, tmp_path / "venv")
    assert _uv(python, index_root.as_uri() + "/simple/", tmp_path) == "1.0"


def test_uv_cut_off_over_http(http_url: str, fresh_venv_factory: Path, tmp_path: Path) -> None:
    python = copy_venv(fresh_venv_factory, tmp_path / "venv")
    assert _uv(python, http_url + "/simple/", tmp_path) == "1.0"


def test_pip_cut_off_over_http(http_url: str, fresh_venv_factory: Path, tmp_path: Path) -> None:
    python = copy_venv(fresh_venv_factory, tmp_path / "venv")
    assert _pip(python, http_url + "/simple/", tmp_path) == "1.0"


def test_without_a_cut_off_the_newest_is_installed(
    index_root: Path, fresh_venv_factory: Path, tmp_path: Path
) -> None:
    """The cut-off is what picks 1.0: the index itself offers 2.0."""
    python = copy_venv(fresh_venv_factory, tmp_path / "venv")
    cmd = [require_tool("uv"), "pip", "install", "--python", str(python), "--no-cache"]
    out = run(
        [*cmd, "--index-url", index_root.as_uri() + "/simple/", "timed"], client_env(tmp_path)
    )
    assert out.returncode == 0, out.stderr
    assert _version(python, tmp_path) == "2.0"
