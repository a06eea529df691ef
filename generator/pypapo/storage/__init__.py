"""The one small storage protocol the core is handed: a local folder or a GCS bucket.

Paths are relative POSIX object names ("pkgs/foo-1.0-py3-none-any.whl"), never OS paths.

Tokens: ``get`` and ``put`` return an opaque *token* for small objects (pages, state). A ``put``
may be conditioned on a token (compare-and-swap) or on ``ABSENT`` (create-only), mirroring GCS
``if_generation_match`` — ``ABSENT`` is GCS's own ``0``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, TypeVar, runtime_checkable

from pypapo.errors import MissingExtraError, PypapoError

__all__ = ["MissingExtraError"]  # re-exported: open_storage raises it

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""Creation time of an object whose storage tells none."""

ABSENT = "0"
"""Precondition for ``put``/``delete``: the object must not exist."""

YANK_KEY = "pypapo-yanked"
"""Object metadata key holding the yank reason ("" for a yank without reason)."""

PAGE_CACHE_CONTROL = "public, max-age=10"
FILE_CACHE_CONTROL = "public, max-age=31536000, immutable"


class StorageError(PypapoError):
    """A storage request failed for a reason other than a precondition."""


class ObjectChangedError(StorageError):
    """The object no longer has the generation a read was pinned to."""

    def __init__(self, path: str, generation: str) -> None:
        super().__init__(
            f"object changed while reading (expected generation {generation}): {path!r}"
        )
        self.path = path
        self.generation = generation

    def __reduce__(self) -> tuple[type[ObjectChangedError], tuple[str, str]]:
        return type(self), (self.path, self.generation)


@dataclass(frozen=True)
class ObjectInfo:
    """What the storage knows of one object, without reading its content."""

    path: str
    size: int
    generation: str
    created: datetime
    metadata: Mapping[str, str] = field(default_factory=dict)
    checksum: str | None = field(default=None, compare=False)
    """The content's checksum as a listing reports it (``md5:<hex>`` or ``crc32c:<hex>``), or
    ``None`` where listing gives none (a folder): lets a build compare without reading. Not
    part of equality: an event's description of an object is the same object without one."""


KEY_ALPHABET = "-0123456789abcdefghijklmnopqrstuvwxyz"
"""A basename key's characters, in order: ``-`` stands for any other character."""
KEY_LENGTH = 3


def basename_key(name: str) -> str:
    """The first ``KEY_LENGTH`` characters of a file name as a project name's key: ASCII letters
    lowercased, digits kept, anything else (``_``, ``.``, the name's end) ``-``. Every file of
    a project has the key of the project's normalized name (the version follows a ``-``)."""
    head = (c.lower() if c.isascii() and c.isalnum() else "-" for c in name[:KEY_LENGTH])
    return "".join(head).ljust(KEY_LENGTH, "-")


@dataclass(frozen=True)
class Part:
    """Part of a listing: the objects whose path lies in ``[start, end)`` (``end`` ``None``: no
    end) and, unless ``initials`` is ``None``, whose basename's key (``basename_key``) starts
    with one of ``initials``, case-insensitively as the key is. In an initial, ``-`` (not a
    letter or digit, or the name's end) may only come last: ``a-`` is the project ``a`` and the
    projects ``a-…``, and ``a-b`` would need a storage to collapse ``a__b`` as names do."""

    start: str = ""
    end: str | None = None
    initials: frozenset[str] | None = None

    def __post_init__(self) -> None:
        for initial in self.initials or ():
            if len(initial) > KEY_LENGTH or "-" in initial[:-1] or initial.strip(KEY_ALPHABET):
                raise ValueError(f"not an initial: {initial!r}")

    def matches(self, path: str) -> bool:
        if path < self.start or (self.end is not None and path >= self.end):
            return False
        if self.initials is None:
            return True
        key = basename_key(path.rpartition("/")[2])
        return any(key.startswith(initial) for initial in self.initials)

    def may_hold_below(self, folder: str) -> bool:
        """Whether any path below ``folder`` (ending in ``/``) can lie in ``[start, end)``."""
        if self.end is not None and self.end <= folder:
            return False
        return self.start <= folder or self.start.startswith(folder)


Selection = tuple[Part, ...]
"""The union of its parts (which may overlap: each object is listed once)."""


def selected(within: Selection | None, path: str) -> bool:
    return within is None or any(part.matches(path) for part in within)


_T = TypeVar("_T")


def waits(storage: object) -> bool:
    """Whether a storage's calls wait on a network, so that independent ones are worth sending
    at once; a folder's cost CPU, which threads only add to. A storage says so with
    ``waits_on_network`` (one that does not say is taken to wait)."""
    return bool(getattr(storage, "waits_on_network", True))


def at_once(storage: object, call: Callable[[_T], object], items: Sequence[_T]) -> None:
    """``call`` on every item: at once on a storage that waits on a network, else in turn."""
    if len(items) < 2 or not waits(storage):
        for item in items:
            call(item)
        return
    with ThreadPoolExecutor(len(items)) as pool:
        for _ in pool.map(call, items):
            pass


@dataclass(frozen=True)
class Blob:
    """A small object's bytes together with the token a conditional ``put`` can match."""

    data: bytes
    token: str


@runtime_checkable
class Storage(Protocol):
    """Everything pypapo needs from a place that holds distributions and pages."""

    def describe(self) -> str:
        """A short human name for messages: a folder path or ``gs://bucket/prefix``."""
        ...

    def list(self, prefix: str = "", *, within: Selection | None = None) -> Iterator[ObjectInfo]:
        """Every object whose path starts with ``prefix``, recursively, in any order; with
        ``within``, only those of its parts (a sharded build's own objects)."""
        ...

    def stat(self, path: str) -> ObjectInfo | None:
        """The object's info, or ``None`` when it does not exist."""
        ...

    def read_range(self, path: str, start: int, end: int, generation: str) -> bytes:
        """Bytes ``[start, end)`` of that generation of the object; ``ObjectChangedError``
        unless it is still the live one (a stale event's generation never gets indexed)."""
        ...

    def stream(self, path: str, generation: str, sink: Callable[[bytes], object]) -> None:
        """Feed the whole object, pinned to ``generation`` (which must be the live one, as for
        ``read_range``), to ``sink`` in bounded chunks. The sink must not act on what it saw
        before this returns: a change of generation may be noticed only at the end."""
        ...

    def get(self, path: str) -> Blob | None:
        """A small object's bytes and token, or ``None`` when it does not exist."""
        ...

    def put(
        self,
        path: str,
        data: bytes,
        *,
        content_type: str,
        cache_control: str = PAGE_CACHE_CONTROL,
        if_token: str | None = None,
    ) -> str | None:
        """Write atomically; return the new token, or ``None`` if ``if_token`` did not match."""
        ...

    def delete(self, path: str, *, if_token: str | None = None) -> bool:
        """Remove; ``False`` when the object is absent or ``if_token`` did not match."""
        ...

    def set_metadata(self, path: str, key: str, value: str | None) -> None:
        """Set (or with ``None`` remove) one custom metadata entry of an existing object."""
        ...

    def upload_file(
        self,
        local: Path,
        path: str,
        *,
        create_only: bool,
        progress: Callable[[int], None] | None = None,
    ) -> str | None:
        """Copy a distribution from disk in bounded chunks (constant memory), atomically: a
        reader sees the whole file or none. ``progress`` hears the bytes sent so far. Returns
        the new token, or ``None`` when ``create_only`` and the object exists (it is then left
        as it was)."""
        ...


def open_storage(target: str) -> Storage:
    """The storage a CLI ``TARGET`` names: ``gs://bucket[/prefix]`` or a local folder."""
    if target.startswith("gs://"):
        try:
            # the GCS client is an extra: a local index needs none of it
            from pypapo.storage.gcs import GCSStorage  # noqa: PLC0415
        except ImportError as e:
            raise MissingExtraError(f"{target}: a Cloud Storage target", "gcs") from e
        return GCSStorage.from_url(target)
    from pypapo.storage.local import LocalStorage  # noqa: PLC0415

    return LocalStorage(target)
