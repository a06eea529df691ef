"""Debian's nginx running the project's own ``nginx/`` config over a folder, on a loopback port."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from types import TracebackType

from tests import process
from tests.conftest import free_port, require_tool

CONFIG_DIR = Path(__file__).resolve().parent.parent / "nginx"
_MARKED = {
    "PYPAPO_LISTEN": "listen {value};  # PYPAPO_LISTEN",
    "PYPAPO_ROOT": "root {value};  # PYPAPO_ROOT",
    "PYPAPO_ACCESS_LOG": "access_log {value};  # PYPAPO_ACCESS_LOG",
}


def render_config(listen: str, root: Path, access_log: Path) -> str:
    """The shipped config with only its three marked lines replaced."""
    text = (CONFIG_DIR / "nginx.conf").read_text()
    values = {
        "PYPAPO_LISTEN": listen,
        "PYPAPO_ROOT": str(root),
        "PYPAPO_ACCESS_LOG": str(access_log),
    }
    for marker, template in _MARKED.items():
        line = template.format(value=values[marker])
        pattern = re.compile(rf"^(\s*)\S.*# {marker}$", re.MULTILINE)
        text, count = pattern.subn(lambda m, line=line: m.group(1) + line, text)  # type: ignore[misc]
        if count != 1:
            raise ValueError(f"nginx.conf must have exactly one line marked {marker}")
    return text


class NginxServer:
    def __init__(self, root: Path, workdir: Path) -> None:
        self.root = root
        self.workdir = workdir
        self.port = free_port()
        self.access_log = workdir / "access.log"
        self.error_log = workdir / "error.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def prepare(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        for extra in CONFIG_DIR.glob("*.conf"):
            shutil.copy(extra, self.workdir / extra.name)
        conf = self.workdir / "nginx.conf"
        conf.write_text(
            render_config(f"127.0.0.1:{self.port}", self.root.resolve(), self.access_log)
        )
        return conf

    def start(self, timeout: float = 15) -> NginxServer:
        binary = require_tool("nginx")
        conf = self.prepare()
        self.process = process.start(
            [binary, "-p", f"{self.workdir}/", "-c", str(conf), "-g", _globals()], self.error_log
        )
        process.wait_ready(
            self.process, self.url + "/healthz", self.error_log, name="nginx", timeout=timeout
        )
        return self

    def stop(self) -> None:
        process.stop(self.process)

    def requested(self, suffix: str) -> list[str]:
        """Access log lines for request paths ending with ``suffix``."""
        if not self.access_log.exists():
            return []
        return [
            line for line in self.access_log.read_text().splitlines() if f"{suffix} HTTP" in line
        ]

    def __enter__(self) -> NginxServer:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _globals() -> str:
    # As root, nginx would drop its workers to "nobody", who cannot read pytest's 0700 temp dirs;
    # the container runs as an unprivileged user and needs no such line.
    return "daemon off; user root;" if os.geteuid() == 0 else "daemon off;"


def start_nginx(root: Path, tmp: Path) -> NginxServer:
    return NginxServer(root, tmp / "nginx").start()
