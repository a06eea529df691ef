"""Debian's nginx running the project's own ``nginx/`` config over a folder, on a loopback port.

Usage::

    with start_nginx(index_root, tmp_path) as server:
        urllib.request.urlopen(server.url + "/simple/")

or ``server = start_nginx(...)`` and ``server.stop()`` in a ``finally``.

The config is the shipped ``nginx/nginx.conf`` with only its three marked lines replaced (listen
on ``127.0.0.1:<free port>``, root, access log into the work dir) and started as
``nginx -p WORKDIR/ -c WORKDIR/nginx.conf -g 'daemon off;'``, its output in ``WORKDIR/error.log``.
A missing nginx fails the test in CI and skips it elsewhere.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from types import TracebackType

from tests.support import process
from tests.support.tools import free_port, require_tool

__all__ = ["CONFIG_DIR", "NginxServer", "render_config", "start_nginx"]

CONFIG_DIR = Path(__file__).resolve().parents[2] / "nginx"
_MARKED = {
    "PYPAPO_LISTEN": "listen {value};  # PYPAPO_LISTEN",
    "PYPAPO_ROOT": "root {value};  # PYPAPO_ROOT",
    "PYPAPO_ACCESS_LOG": "access_log {value};  # PYPAPO_ACCESS_LOG",
}


def render_config(
    listen: str | None = None, root: Path | None = None, access_log: Path | None = None
) -> str:
    """The shipped config with the given marked lines replaced (``None`` keeps a line as is)."""
    text = (CONFIG_DIR / "nginx.conf").read_text()
    values = {"PYPAPO_LISTEN": listen, "PYPAPO_ROOT": root, "PYPAPO_ACCESS_LOG": access_log}
    for marker, template in _MARKED.items():
        pattern = re.compile(rf"^(\s*)\S.*# {marker}$", re.MULTILINE)
        matches = pattern.findall(text)
        if len(matches) != 1:
            raise ValueError(f"nginx.conf must have exactly one line marked {marker}")
        value = values[marker]
        if value is not None:
            line = template.format(value=value)
            text = pattern.sub(lambda m, line=line: m.group(1) + line, text)  # type: ignore[misc]
    return text


def copy_includes(workdir: Path) -> None:
    """Copy the files nginx.conf includes (relative includes resolve next to the config)."""
    for extra in CONFIG_DIR.glob("*.conf"):
        if extra.name != "nginx.conf":
            shutil.copy(extra, workdir / extra.name)


class NginxServer:
    """One nginx master process serving ``root``; ``workdir`` holds config, pid, temp and logs."""

    def __init__(self, root: Path, workdir: Path) -> None:
        self.root = root
        self.workdir = workdir
        self.port = free_port()
        self.access_log = workdir / "access.log"
        self.error_log = workdir / "error.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. ``http://127.0.0.1:40123``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def index_url(self) -> str:
        """The simple index, as given to ``pip --index-url``."""
        return f"{self.url}/simple/"

    def prepare(self) -> Path:
        """Write the rendered config and its includes into the work dir; return the config."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        copy_includes(self.workdir)
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
        """Stop the master (and so its workers) by PID; safe to call twice."""
        process.stop(self.process)

    def requested(self, suffix: str) -> list[str]:
        """Access log lines for request paths ending with ``suffix``."""
        if not self.access_log.exists():
            return []
        return [
            line for line in self.access_log.read_text().splitlines() if f"{suffix} HTTP" in line
        ]

    def __enter__(self) -> NginxServer:
        if self.process is None:
            self.start()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _globals() -> str:
    # As root, nginx would drop its workers to "nobody", who cannot read pytest's 0700 temp dirs;
    # the container runs as an unprivileged user and needs no such line.
    return "daemon off; user root;" if os.geteuid() == 0 else "daemon off;"


def start_nginx(root: Path, tmp: Path) -> NginxServer:
    """Serve ``root`` (the bucket root: ``simple/`` and the files) with work files in ``tmp``."""
    return NginxServer(root, tmp / "nginx").start()
