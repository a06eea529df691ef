"""A storage that counts: wraps any ``Storage``, counting each call and the content bytes read
and written, and the objects listings return. The tests assert request budgets with it and
the benchmark reports them."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

from pypapo.storage import PAGE_CACHE_CONTROL, Blob, ObjectInfo, Selection, Storage, waits


class CountingStorage:
    """Delegates to ``inner``. ``calls`` counts each method; ``bytes_read`` is the content that
    came back (``get``, ``stream``, ``read_range``), ``bytes_written`` the content of ``put``
    and ``upload_file``; ``listed`` the objects that listings returned. ``before(method, path)``,
    when set, runs before each call (tests use it to force interleavings)."""

    def __init__(self, inner: Storage) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()
        self.bytes_read = 0
        self.bytes_written = 0
        self.listed = 0
        self.before: Callable[[str, str], None] | None = None
        self._lock = threading.Lock()

    def _call(self, method: str, path: str) -> None:
        with self._lock:
            self.calls[method] += 1
        if self.before is not None:
            self.before(method, path)

    def _read(self, nbytes: int) -> None:
        with self._lock:
            self.bytes_read += nbytes

    @property
    def waits_on_network(self) -> bool:
        return waits(self.inner)

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.bytes_read = self.bytes_written = self.listed = 0

    def describe(self) -> str:
        return self.inner.describe()

    def list(self, prefix: str = "", *, within: Selection | None = None) -> Iterator[ObjectInfo]:
        self._call("list", prefix)
        return self._counted(self.inner.list(prefix, within=within))

    def _counted(self, infos: Iterator[ObjectInfo]) -> Iterator[ObjectInfo]:
        for info in infos:
            with self._lock:
                self.listed += 1
            yield info

    def stat(self, path: str) -> ObjectInfo | None:
        self._call("stat", path)
        return self.inner.stat(path)

    def read_range(self, path: str, start: int, end: int, generation: str) -> bytes:
        self._call("read_range", path)
        data = self.inner.read_range(path, start, end, generation)
        self._read(len(data))
        return data

    def stream(self, path: str, generation: str, sink: Callable[[bytes], object]) -> None:
        self._call("stream", path)

        def counting_sink(chunk: bytes) -> None:
            self._read(len(chunk))
            sink(chunk)

        self.inner.stream(path, generation, counting_sink)

    def get(self, path: str) -> Blob | None:
        self._call("get", path)
        blob = self.inner.get(path)
        if blob is not None:
            self._read(len(blob.data))
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
        self._call("put", path)
        with self._lock:
            self.bytes_written += len(data)
        return self.inner.put(
            path, data, content_type=content_type, cache_control=cache_control, if_token=if_token
        )

    def delete(self, path: str, *, if_token: str | None = None) -> bool:
        self._call("delete", path)
        return self.inner.delete(path, if_token=if_token)

    def set_metadata(self, path: str, key: str, value: str | None) -> None:
        self._call("set_metadata", path)
        self.inner.set_metadata(path, key, value)

    def upload_file(
        self,
        local: Path,
        path: str,
        *,
        create_only: bool,
        progress: Callable[[int], None] | None = None,
    ) -> str | None:
        self._call("upload_file", path)
        token = self.inner.upload_file(local, path, create_only=create_only, progress=progress)
        if token is not None:
            with self._lock:
                self.bytes_written += local.stat().st_size
        return token
