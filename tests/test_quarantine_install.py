"""A quarantined project cannot be installed through NGINX by real pip and uv, not even by a
pinned URL with its hash; lifting the quarantine makes the same commands work again."""

from __future__ import annotations

import hashlib
import shutil
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pypapo.build import build
from pypapo.status_command import set_status
from pypapo.storage.local import LocalStorage
from tests.support.tools import add_wheel, client_env, require_tool, run

pytestmark = pytest.mark.e2e

WHEEL = "pkgs/held-1.0-py3-none-any.whl"
Install = Callable[[Path, list[str], Path], bool]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[LocalStorage, str]]:
    root = tmp_path / "index"
    add_wheel(root, "held", "1.0")
    storage = LocalStorage(root)
    assert build(storage).errors == []
    require_tool("nginx")
    from tests.support.nginx_server import start_nginx  # noqa: PLC0415 (only when nginx is there)

    with start_nginx(root, tmp_path / "nginx") as nginx:
        yield storage, nginx.url


def _pip(python: Path, args: list[str], home: Path) -> bool:
    cmd = [sys.executable, "-m", "pip", "--python", str(python), "install", "--isolated"]
    out = run([*cmd, "--no-cache-dir", "--retries", "0", *args], client_env(home))
    return out.returncode == 0


def _uv(python: Path, args: list[str], home: Path) -> bool:
    cmd = [require_tool("uv"), "pip", "install", "--python", str(python), "--no-cache"]
    out = run([*cmd, *args], client_env(home))
    return out.returncode == 0


def _wait_served(url: str) -> None:
    """NGINX re-validates what it knows of a file (the marker, here) once a second
    (``open_file_cache_valid 1s``): a lifted quarantine is seen within that second."""
    deadline = time.monotonic() + 5
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except urllib.error.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _pinned(url: str, digest: str, client: str) -> list[str]:
    link = f"{url}/{WHEEL}#sha256={digest}"
    return [link] if client == "pip" else [f"held @ {link}"]


@pytest.mark.parametrize("client", ["pip", "uv"])
def test_a_quarantined_project_cannot_be_installed_until_lifted(
    client: str,
    served: tuple[LocalStorage, str],
    fresh_venv_factory: Path,
    tmp_path: Path,
) -> None:
    storage, url = served
    install: Install = _pip if client == "pip" else _uv
    digest = hashlib.sha256((storage.root / WHEEL).read_bytes()).hexdigest()
    by_index = ["--index-url", f"{url}/simple/", "held"]
    set_status(storage, "held", "quarantined", "malware", now=datetime.now(UTC))
    python = tmp_path / "venv" / "bin" / "python"
    shutil.copytree(fresh_venv_factory, tmp_path / "venv", symlinks=True)
    assert not install(python, by_index, tmp_path)
    assert not install(python, _pinned(url, digest, client), tmp_path)
    set_status(storage, "held", "active", None, now=datetime.now(UTC))
    _wait_served(f"{url}/{WHEEL}")
    assert install(python, _pinned(url, digest, client), tmp_path)
    assert install(python, [*by_index, "--force-reinstall"], tmp_path)
