"""Helpers every test may use: tool discovery, free ports, clean installer environments,
sample distributions on disk, running commands."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
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


def add_wheel(root: Path, name: str, version: str, sub: str = "pkgs", **kw: object) -> Path:
    return write_wheel(root / sub, SampleProject(name, version, **kw))  # type: ignore[arg-type]


def add_sdist(root: Path, name: str, version: str, sub: str = "pkgs", **kw: object) -> Path:
    return write_sdist(root / sub, SampleProject(name, version, **kw))  # type: ignore[arg-type]


def run(
    cmd: list[str], env: dict[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


def run_pypapo(*args: str, file_size_limit: int | None = None) -> subprocess.CompletedProcess[str]:
    """``pypapo ARGS`` in a child process; with ``file_size_limit`` no file it writes may grow
    past that many bytes, the way a full disk stops a write (EFBIG; SIGXFSZ is ignored)."""

    def limit() -> None:
        if file_size_limit is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, resource.RLIM_INFINITY))

    return subprocess.run(
        [str(Path(sys.executable).with_name("pypapo")), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        # runs between fork and exec: setrlimit and signal take no lock a thread could hold
        preexec_fn=limit,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
