"""Count what a refresh costs in HTTP requests and response bytes (the GCS client's session).
Storage calls are counted by ``pypapo.storage.counting.CountingStorage``."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any


class HTTPCounter:
    """Counts the requests a ``requests``-style session sends, and the body bytes that come back.

    Installed on the GCS client's authorized session (``client._http``) by wrapping its
    ``request`` method; response bytes are taken from ``Content-Length`` (or the body's length),
    so a streamed download counts what the server sent.
    """

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.response_bytes = 0
        self._lock = threading.Lock()

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.response_bytes = 0

    def install(self, session: Any) -> None:
        original: Callable[..., Any] = session.request

        def request(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            response = original(method, url, *args, **kwargs)
            length = response.headers.get("Content-Length")
            if length is not None:
                size = int(length)
            else:  # never read a streamed body here: the download is still to consume it
                size = 0 if kwargs.get("stream") else len(response.content or b"")
            kind = "upload" if "/upload/" in url else "media" if "alt=media" in url else "json"
            with self._lock:
                self.requests[f"{method} {kind}"] += 1
                self.response_bytes += size
            return response

        session.request = request
