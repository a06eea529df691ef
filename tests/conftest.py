"""Shared fixtures: sample distributions, tool discovery, isolated installer environments."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest

from pypapo.sample import SampleProject, write_sdist, write_wheel

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_tool(name: str) -> str:
    """The tool's path; a missing tool fails loudly in CI and skips elsewhere."""
    found = shutil.which(name) or (
        str(Path(sys.executable).with_name(name))
        if Path(sys.executable).with_name(name).exists()
        else None
    )
    if found is None:
        message = f"{name} is required for this test but is not installed"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def client_env(home: Path) -> dict[str, str]:
    """An environment for pip/uv that ignores this machine's index configuration."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIP_", "UV_", "PYTHON", "VIRTUAL_ENV", "CONDA"))
    }
    env.update(
        {
            "HOME": str(home),
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_NO_CACHE_DIR": "1",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "UV_NO_CONFIG": "1",
            "UV_CACHE_DIR": str(home / "uv-cache"),
            "UV_PYTHON_DOWNLOADS": "never",
            "NO_PROXY": "127.0.0.1,localhost",
        }
    )
    return env


@pytest.fixture
def make_project() -> type[SampleProject]:
    return SampleProject


def add_wheel(root: Path, name: str, version: str, sub: str = "pkgs", **kw: object) -> Path:
    return write_wheel(root / sub, SampleProject(name, version, **kw))  # type: ignore[arg-type]


def add_sdist(root: Path, name: str, version: str, sub: str = "pkgs", **kw: object) -> Path:
    return write_sdist(root / sub, SampleProject(name, version, **kw))  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def fresh_venv_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A template venv with pip, copied per test (creating one costs seconds)."""
    template = tmp_path_factory.mktemp("venv-template") / "venv"
    venv.EnvBuilder(with_pip=True, symlinks=True).create(template)
    yield template


def run(
    cmd: list[str], env: dict[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


pytest_plugins = ["tests.gcs_emulator"]

# the fixtures that start a real server: a test using one belongs to the end-to-end tier, so
# that `pytest -m "not e2e"` (the fast tier) runs on folders and in-process code alone
_SERVER_FIXTURES = frozenset({"gcs_emulator", "gcs_bucket", "gcs_storage", "gcs_prefixed_storage"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.e2e)
