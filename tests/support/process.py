"""Start a server subprocess with its output in a file, wait until it answers, stop it by PID."""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path


def start(
    cmd: list[str], log: Path, *, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    # output goes to a file: a pipe nobody reads would eventually stall the server
    with log.open("wb") as out:
        return subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=None if env is None else dict(env),
            cwd=cwd,
        )


def wait_ready(
    process: subprocess.Popen[bytes],
    url: str,
    log: Path,
    *,
    name: str,
    timeout: float = 30,
    any_status: bool = False,
) -> None:
    """Poll ``url`` until it answers 200 (or any HTTP status with ``any_status``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}: {log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except urllib.error.HTTPError as e:
            e.close()
            if any_status:
                return
        except OSError:
            time.sleep(0.05)
    stop(process)
    raise RuntimeError(f"{name} did not become ready at {url}: {log.read_text()}")


def stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
