"""An HTTP proxy in front of the GCS emulator that adds real GCS's latency to every request and
counts them, so that requests from several processes (shards) are counted in one place and
threads have something to wait on, as they would against GCS.

The emulator answers on the loopback in about a millisecond; GCS takes 20-50 ms. Each request
is held ``delay`` seconds before it is forwarded; the proxy records how many were in flight at
once (the concurrency a build really reached).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}


class Stats:
    """Requests by method, and the most that were in flight at once."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.max_in_flight = self.in_flight

    def enter(self, method: str) -> None:
        with self._lock:
            self.requests[method] += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def leave(self) -> None:
        with self._lock:
            self.in_flight -= 1


def _handler(target: str, delay: float, stats: Stats) -> type[BaseHTTPRequestHandler]:
    host = urlsplit(target).netloc
    local = threading.local()  # one kept-alive upstream connection per proxy thread

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: clients reuse connections, as with GCS

        def log_message(self, format: str, *args: object) -> None:
            return None  # a line per request would cost more than the request

        def _forward(self) -> None:
            if self.path.startswith("/_proxy/"):
                self._own()
                return
            stats.enter(self.command)
            try:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                time.sleep(delay)
                status, headers, data = _upstream(local, host, self, body)
            finally:
                stats.leave()
            self.send_response(status)
            for key, value in headers:
                if key.lower() not in _HOP_BY_HOP and key.lower() != "content-length":
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _own(self) -> None:
            """``/_proxy/stats`` (JSON) and ``/_proxy/reset``, for the bench in another process."""
            if self.path == "/_proxy/reset":
                stats.reset()
            body = json.dumps(
                {"requests": dict(stats.requests), "max_in_flight": stats.max_in_flight}
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        # http.server's names for its handlers
        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _forward  # noqa: N815

    return Handler


def _upstream(
    local: threading.local, host: str, request: BaseHTTPRequestHandler, body: bytes | None
) -> tuple[int, list[tuple[str, str]], bytes]:
    headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
    for attempt in range(2):  # a kept-alive connection the emulator closed is reopened once
        conn = getattr(local, "conn", None) or http.client.HTTPConnection(host, timeout=60)
        local.conn = conn
        try:
            conn.request(request.command, request.path, body=body, headers=headers)
            answer = conn.getresponse()
            return answer.status, answer.getheaders(), answer.read()
        except (http.client.HTTPException, OSError):
            conn.close()
            local.conn = None
            if attempt:
                raise
    raise AssertionError("unreachable")


def main(argv: list[str]) -> None:
    """``python -m bench.delay_proxy TARGET DELAY PORT``: serve until killed."""
    target, delay, port = argv[0], float(argv[1]), int(argv[2])
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(target, delay, Stats()))
    server.daemon_threads = True
    server.request_queue_size = 512
    server.serve_forever()


class ProxyStats:
    """The counters of a proxy running in another process."""

    def __init__(self, url: str) -> None:
        self.url = url

    def _call(self, what: str) -> dict[str, object]:
        with urllib.request.urlopen(f"{self.url}/_proxy/{what}", timeout=10) as answer:
            data: dict[str, object] = json.load(answer)
            return data

    def reset(self) -> None:
        self._call("reset")

    def read(self) -> tuple[int, int]:
        """Requests since the last reset, and the most that were in flight at once."""
        data = self._call("stats")
        requests = data["requests"]
        assert isinstance(requests, dict)
        in_flight = data["max_in_flight"]
        assert isinstance(in_flight, int)
        return sum(requests.values()), in_flight


@contextlib.contextmanager
def proxy_process(target: str, delay: float, workdir: Path) -> Iterator[tuple[str, ProxyStats]]:
    """The proxy in a process of its own (its threads must not share a GIL with the build's)."""
    from bench.servers import free_port, serve  # noqa: PLC0415

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # run as a script: it imports only the standard library
    cmd = [sys.executable, __file__, target, str(delay), str(port)]
    with serve(cmd, url + "/_proxy/stats", workdir / "proxy.log"):
        yield url, ProxyStats(url)


if __name__ == "__main__":
    main(sys.argv[1:])
