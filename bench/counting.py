"""Count what a refresh costs: storage calls and content bytes (any backend), HTTP requests and
response bytes (the GCS client's session)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from pypapo.storage import PAGE_CACHE_CONTROL, Blob, ObjectInfo, Storage


class CountingStorage:
    """Delegates every call of the ``Storage`` protocol to ``inner`` and counts it.

    ``calls`` counts each method; ``bytes_read`` is the content that came back (``get``,
    ``stream``, ``read_range``); ``bytes_written`` the content of ``put``.
    """

    def __init__(self, inner: Storage) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()
        self.bytes_read = 0
        self.bytes_written = 0
        self._lock = threading.Lock()

    def _count(self, method: str, read: int = 0, written: int = 0) -> None:
        with self._lock:
            self.calls[method] += 1
            self.bytes_read += read
            self.bytes_written += written

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.bytes_read = self.bytes_written = 0

    def describe(self) -> str:
        return self.inner.describe()

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        self._count("list")
        return self.inner.list(prefix)

    def stat(self, path: str) -> ObjectInfo | None:
        self._count("stat")
        return self.inner.stat(path)

    def read_range(self, path: str, start: int, end: int, generation: str) -> bytes:
        data = self.inner.read_range(path, start, end, generation)
        self._count("read_range", read=len(data))
        return data

    def stream(self, path: str, generation: str, sink: Callable[[bytes], object]) -> None:
        total = 0

        def counting_sink(chunk: bytes) -> None:
            nonlocal total
            total += len(chunk)
            sink(chunk)

        self.inner.stream(path, generation, counting_sink)
        self._count("stream", read=total)

    def get(self, path: str) -> Blob | None:
        blob = self.inner.get(path)
        self._count("get", read=len(blob.data) if blob is not None else 0)
        return blob

    def put(
        self,
        path: str,
        data: bytes,
        *,
        content_type: str,
        cache_control: str = PAGE_CACHE_CONTROL,
        if_token: str | None = None,
    ) -> str | None:
        self._count("put", written=len(data))
        return self.inner.put(
            path, data, content_type=content_type, cache_control=cache_control, if_token=if_token
        )

    def delete(self, path: str, *, if_token: str | None = None) -> bool:
        self._count("delete")
        return self.inner.delete(path, if_token=if_token)

    def set_metadata(self, path: str, key: str, value: str | None) -> None:
        self._count("set_metadata")
        self.inner.set_metadata(path, key, value)


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
