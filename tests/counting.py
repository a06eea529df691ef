"""A storage wrapper that counts calls and bytes, and can pause between calls."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator

from pypapo.storage import PAGE_CACHE_CONTROL, Blob, ObjectInfo, Storage


class CountingStorage:
    """Delegates to ``inner``; ``calls`` counts each method, ``bytes_read`` the content read."""

    def __init__(self, inner: Storage) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()
        self.bytes_read = 0
        self.before: Callable[[str, str], None] | None = None
        self._lock = threading.Lock()

    def _count(self, method: str, path: str, nbytes: int = 0) -> None:
        with self._lock:
            self.calls[method] += 1
            self.bytes_read += nbytes
        if self.before is not None:
            self.before(method, path)

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def reset(self) -> None:
        self.calls.clear()
        self.bytes_read = 0

    def describe(self) -> str:
        return self.inner.describe()

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        self._count("list", prefix)
        return self.inner.list(prefix)

    def stat(self, path: str) -> ObjectInfo | None:
        self._count("stat", path)
        return self.inner.stat(path)

    def read_range(self, path: str, start: int, end: int, generation: str) -> bytes:
        data = self.inner.read_range(path, start, end, generation)
        self._count("read_range", path, len(data))
        return data

    def stream(self, path: str, generation: str, sink: Callable[[bytes], object]) -> None:
        total = 0

        def counting_sink(chunk: bytes) -> None:
            nonlocal total
            total += len(chunk)
            sink(chunk)

        self.inner.stream(path, generation, counting_sink)
        self._count("stream", path, total)

    def get(self, path: str) -> Blob | None:
        self._count("get", path)
        blob = self.inner.get(path)
        if blob is not None:
            with self._lock:
                self.bytes_read += len(blob.data)
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
        self._count("put", path)
        return self.inner.put(
            path, data, content_type=content_type, cache_control=cache_control, if_token=if_token
        )

    def delete(self, path: str, *, if_token: str | None = None) -> bool:
        self._count("delete", path)
        return self.inner.delete(path, if_token=if_token)

    def set_metadata(self, path: str, key: str, value: str | None) -> None:
        self._count("set_metadata", path)
        self.inner.set_metadata(path, key, value)
