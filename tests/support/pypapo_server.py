"""Run ``pypapo serve`` as a real subprocess on a loopback port, stopped by PID."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from tests.support import process
from tests.support.tools import free_port


@dataclass
class PypapoServer:
    root: Path
    log: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> PypapoServer:
        self.port = self.port or free_port()
        self.process = process.start(
            [
                sys.executable,
                "-m",
                "pypapo.cli",
                "-v",
                "serve",
                str(self.root),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            self.log,
        )
        process.wait_ready(
            self.process, self.url + "/healthz", self.log, name="pypapo serve", timeout=timeout
        )
        return self

    def stop(self) -> None:
        process.stop(self.process)

    def requested(self, suffix: str) -> list[str]:
        """Request lines in the access log whose path ends with ``suffix``."""
        return [line for line in self.log.read_text().splitlines() if f"{suffix} HTTP" in line]

    def __enter__(self) -> PypapoServer:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
