"""Read one distribution from storage in a single streaming pass: hash, size and core metadata.

The stream feeds sha256 while keeping the first ``HEAD`` and last ``TAIL`` bytes. Zips (wheels,
zip sdists) keep their central directory and ``.dist-info`` at the end, so the archive parser
almost always finds what it needs in those buffers; anything else is fetched with a ranged read
pinned to the same generation. A ``.tar.gz`` can only be read forwards, so it is parsed during
the stream itself (``also``), keeping no buffer. Memory stays bounded for any file size.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass

HEAD = 4 << 20
TAIL = 256 << 10
FETCH = 1 << 20


class StreamDigest:
    """A sink for ``Storage.stream``: sha256, size, and the head and tail of the bytes."""

    def __init__(
        self, head: int = HEAD, tail: int = TAIL, also: Callable[[bytes], None] | None = None
    ) -> None:
        self._sha = hashlib.sha256()
        self._head_limit = head
        self._tail_limit = tail
        self._also = also
        self.size = 0
        self.head = bytearray()
        self._tail = bytearray()

    def __call__(self, chunk: bytes) -> None:
        self._sha.update(chunk)
        self.size += len(chunk)
        if self._also is not None:
            self._also(chunk)
        if len(self.head) < self._head_limit:
            self.head += chunk[: self._head_limit - len(self.head)]
        self._tail += chunk
        if len(self._tail) > self._tail_limit:
            del self._tail[: len(self._tail) - self._tail_limit]

    @property
    def tail(self) -> bytes:
        return bytes(self._tail)

    def hexdigest(self) -> str:
        return self._sha.hexdigest()


class SparseFile(io.RawIOBase):
    """A read-only seekable view of an object, served from the head and tail buffers and
    from ranged reads (``fetch(start, end)``) for what lies between."""

    def __init__(
        self, size: int, head: bytes, tail: bytes, fetch: Callable[[int, int], bytes]
    ) -> None:
        super().__init__()
        self._size = size
        self._head = head
        self._tail = tail
        self._tail_start = size - len(tail)
        self._fetch = fetch
        self._pos = 0
        self._cache: tuple[int, bytes] = (0, b"")
        self.fetches = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        n = min(len(buffer), self._size - self._pos)
        if n <= 0:
            return 0
        data = self._slice(self._pos, self._pos + n)
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def _slice(self, start: int, end: int) -> bytes:
        if end <= len(self._head):
            return self._head[start:end]
        if start >= self._tail_start:
            return self._tail[start - self._tail_start : end - self._tail_start]
        cache_start, cache = self._cache
        if not (cache_start <= start and end <= cache_start + len(cache)):
            stop = min(self._size, max(end, start + FETCH))
            self.fetches += 1
            cache_start, cache = start, self._fetch(start, stop)
            self._cache = (cache_start, cache)
        return cache[start - cache_start : end - cache_start]


@dataclass(frozen=True)
class Digested:
    sha256: str
    size: int
    view: SparseFile
