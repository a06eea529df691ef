"""An HTTP proxy on 127.0.0.1 in front of the storage emulator that breaks requests as GCS and
the network do: 503 or 429, connections dropped before or after the emulator acted, bodies cut
short, stalls, and 400 for requests GCS would refuse."""

from __future__ import annotations

import http.client
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

FAULTS = ("503", "429", "drop-before", "drop-after", "truncate", "slow")
_HOP = {"connection", "keep-alive", "transfer-encoding", "host", "content-length"}


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        return None  # resets are what this proxy is for


class FaultProxy:
    """Forwards every request to ``upstream``; ``rate`` of them meet one of ``FAULTS``, and
    those ``refuse`` picks are answered 400."""

    def __init__(
        self,
        upstream: str,
        rate: float,
        seed: int = 1,
        refuse: Callable[[str], bool] = lambda path: False,
    ) -> None:
        self.upstream = urlsplit(upstream)
        self.refuse = refuse
        """Requests (by path and query) answered 400, as GCS answers what it cannot parse."""
        self.rate = rate
        self.enabled = True
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.injected: Counter[str] = Counter()
        self.requests = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return None

            def _any(self) -> None:
                proxy.handle(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _any  # noqa: N815

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self) -> FaultProxy:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    def _pick(self) -> str | None:
        with self.lock:
            self.requests += 1
            if not self.enabled or self.rng.random() >= self.rate:
                return None
            fault = self.rng.choice(FAULTS)
            self.injected[fault] += 1
            return fault

    def _forward(
        self, h: BaseHTTPRequestHandler, body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection(self.upstream.netloc, timeout=30)
        try:
            headers = {k: v for k, v in h.headers.items() if k.lower() not in _HOP}
            conn.request(h.command, h.path, body=body or None, headers=headers)
            response = conn.getresponse()
            data = response.read()
            kept = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP]
            return response.status, kept, data
        finally:
            conn.close()

    @staticmethod
    def _drop(h: BaseHTTPRequestHandler) -> None:
        h.close_connection = True
        # RST instead of FIN: the client sees a reset connection, as from a dying front end
        h.connection.setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
        )

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        fault = self._pick()
        if self.refuse(h.path):
            fault = "400"
            with self.lock:
                self.injected[fault] += 1
        if fault in {"503", "429", "400"}:
            payload = b'{"error": {"code": %s, "message": "injected"}}' % fault.encode()
            h.send_response(int(fault or 0))
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(payload)))
            h.end_headers()
            h.wfile.write(payload)
            return
        if fault == "drop-before":
            self._drop(h)
            return
        if fault == "slow":
            time.sleep(0.3)
        status, headers, data = self._forward(h, body)
        if fault == "drop-after":  # the emulator acted; the client never hears about it
            self._drop(h)
            return
        h.send_response(status)
        for key, value in headers:
            h.send_header(key, value)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if h.command == "HEAD":
            return
        if fault == "truncate" and len(data) > 1:
            h.wfile.write(data[: len(data) // 2])
            h.wfile.flush()
            self._drop(h)
            return
        h.wfile.write(data)
