"""A Google Cloud Storage bucket (optionally below a prefix) as storage.

docs/storage.md is the one description of what each call sends (one JSON API request per call,
retries aside), how answers map to the protocol, and why every request is safe to retry with
``DEFAULT_RETRY``; ``tests/test_storage_contract.py`` counts the requests.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Iterator
from datetime import UTC
from pathlib import Path, PurePosixPath
from typing import IO, Any

import requests
import requests.adapters
from google.api_core import exceptions
from google.cloud import storage
from google.cloud.storage.exceptions import DataCorruption, InvalidResponse
from google.cloud.storage.retry import DEFAULT_RETRY

from pypapo.storage import (
    EPOCH,
    FILE_CACHE_CONTROL,
    KEY_ALPHABET,
    PAGE_CACHE_CONTROL,
    Blob,
    ObjectChangedError,
    ObjectInfo,
    Part,
    Selection,
    StorageError,
)

UPLOAD_CHUNK = 8 << 20
"""Bytes per request of a resumable upload (a multiple of 256 KiB, as GCS requires)."""

LIST_PAGE_SIZE = 1000
"""Names per objects.list request (the JSON API's maximum)."""

# md5Hash and crc32c let a build compare what it would write with what is stored, unread
_LIST_FIELDS = "items(name,size,generation,timeCreated,metadata,md5Hash,crc32c),nextPageToken"
_PRECONDITION_FAILED: tuple[type[Exception], ...] = (exceptions.PreconditionFailed,)
# what the client raises once retries are exhausted or for a non-retryable answer
_CLIENT_ERRORS = (exceptions.GoogleAPIError, requests.RequestException, InvalidResponse)


def new_client(project: str | None = None, credentials: Any = None) -> Any:
    """A ``storage.Client`` (default credentials, or ``STORAGE_EMULATOR_HOST``) for pypapo.

    The client's bucket-metadata cache is switched off: it only labels OpenTelemetry spans,
    and to fill it the client sends a background bucket GET per bucket and another after every
    404 — doubling the cost of the misses refresh relies on (and needing buckets.get).
    """
    client = storage.Client(project=project, credentials=credentials)
    if hasattr(client, "_bucket_metadata_cache"):
        # private, but the only other switch is an environment variable
        client._bucket_metadata_cache = None
    return client


class _SinkWriter:
    """A write-only file object that hands each chunk to the sink as it arrives."""

    def __init__(self, sink: Callable[[bytes], object]) -> None:
        self._sink = sink

    def write(self, data: bytes) -> int:
        self._sink(bytes(data))
        return len(data)

    def flush(self) -> None:
        return None


def _checksum(blob: Any) -> str | None:
    """``md5:<hex>``, or ``crc32c:<hex>`` for a composite object (which has no MD5)."""
    for kind, value in (("md5", blob.md5_hash), ("crc32c", blob.crc32c)):
        if value:
            return f"{kind}:{base64.b64decode(value).hex()}"
    return None


_GLOB_SPECIAL = frozenset("*?[]{},\\!")
_ALNUM_CLASS = "0-9A-Za-z"


def _letter(c: str) -> str:
    return f"[{c.upper()}{c}]" if c.isalpha() else c


def _next_class(chars: set[str]) -> tuple[str, bool]:
    """A glob class for a basename character among ``chars`` (key characters), and whether
    the name may also end there (``-`` is any other character or the end)."""
    alnum = sorted(c for c in chars if c != "-")
    if "-" not in chars:
        return "[" + "".join(c + c.upper() if c.isalpha() else c for c in alnum) + "]", False
    others = [c for c in KEY_ALPHABET if c != "-" and c not in chars]
    # "/" too: whether a negated class may match it is not written down; here it must not
    return "[!/" + "".join(c + c.upper() if c.isalpha() else c for c in others) + "]", True


def basename_glob(prefix: str, initials: frozenset[str]) -> str | None:
    """A ``matchGlob`` for the objects below ``prefix`` whose basename key starts with one of
    ``initials`` (``Part``), or ``None`` where a glob cannot say it (a prefix with a glob
    character, no initials): the listing then filters alone. Tested against a model of the
    documented semantics (``tests/test_shard.py``); GCS's own evaluation is not verified."""
    if not initials or _GLOB_SPECIAL & set(prefix):
        return None
    by_parent: dict[str, set[str]] = {}
    for initial in initials:
        by_parent.setdefault(initial[:-1], set()).add(initial[-1])
    names = []
    for parent, chars in sorted(by_parent.items()):
        head = "".join(map(_letter, parent))
        cls, may_end = _next_class(chars)
        names.append(head + cls + "*")
        if may_end and head:
            names.append(head)
    # "**/" needs a folder: an object right at the prefix is the alternative without it
    options = [prefix + "**/" + name for name in names] + [prefix + name for name in names]
    return options[0] if len(options) == 1 else "{" + ",".join(options) + "}"


def _generation_number(token: str) -> int | None:
    """The generation a token names, or ``None`` for a token no GCS object can have."""
    return int(token) if token.isascii() and token.isdecimal() else None


class GCSStorage:
    """Objects of one bucket below ``prefix``; object paths are relative to the prefix.

    This class speaks GCS as documented; what fake-gcs-server does differently is handled in
    ``pypapo.storage.emulator``, which ``from_url`` picks when ``STORAGE_EMULATOR_HOST`` is
    set."""

    precondition_failed = _PRECONDITION_FAILED

    def _moved(self) -> tuple[type[Exception], ...]:
        """What a read pinned to a generation raises once that generation is gone."""
        return (exceptions.NotFound, *self.precondition_failed)

    def __init__(
        self,
        bucket: Any,
        prefix: str = "",
        *,
        retry_timeout: float = 60.0,
        retry: Any = None,
        page_size: int = LIST_PAGE_SIZE,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        # how long one call keeps retrying transient errors before giving up (and failing the
        # refresh, so that the event is redelivered)
        self.retry = retry if retry is not None else DEFAULT_RETRY.with_timeout(retry_timeout)
        self.page_size = page_size

    @classmethod
    def from_url(
        cls, url: str, client: Any | None = None, *, retry_timeout: float = 60.0
    ) -> GCSStorage:
        """``gs://bucket[/prefix]``; without ``client`` one is made with default credentials."""
        if not url.startswith("gs://"):
            raise StorageError(f"not a gs:// URL: {url!r}")
        bucket_name, _, prefix = url[len("gs://") :].partition("/")
        if not bucket_name:
            raise StorageError(f"no bucket in {url!r}")
        client = client if client is not None else new_client()
        kind = cls
        if cls is GCSStorage and os.environ.get("STORAGE_EMULATOR_HOST"):
            from pypapo.storage.emulator import EmulatorGCSStorage  # noqa: PLC0415 (tests only)

            kind = EmulatorGCSStorage
        return kind(client.bucket(bucket_name), prefix, retry_timeout=retry_timeout)

    def allow_connections(self, count: int) -> None:
        """Keep up to ``count`` connections open to the API, for that many threads: the
        client's session keeps 10, and a thread beyond them would open (and, on GCS, TLS
        handshake) a connection for each request."""
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=count)
        session = self.bucket.client._http  # the client's authorized requests session
        session.mount("https://", adapter)
        session.mount("http://", adapter)

    def describe(self) -> str:
        return f"gs://{self.bucket.name}/{self.prefix}".rstrip("/")

    def _url(self, path: str) -> str:
        return f"gs://{self.bucket.name}/{self.prefix}{path}"

    def _failure(self, action: str, path: str, error: Exception) -> StorageError:
        return StorageError(
            f"cannot {action} ({type(error).__name__}: {error}): {self._url(path)!r}"
        )

    def _name(self, path: str) -> str:
        """The object name of ``path``, normalised like a local path (``a//b``, ``./a``)."""
        pure = PurePosixPath(path)
        if pure.is_absolute() or ".." in pure.parts or not pure.parts:
            raise StorageError(f"object path must be relative and inside the index: {path!r}")
        return self.prefix + "/".join(pure.parts)

    def _info(self, blob: Any, path: str) -> ObjectInfo:
        created = blob.time_created
        return ObjectInfo(
            path=path,
            size=int(blob.size or 0),
            generation=str(blob.generation),
            created=created.astimezone(UTC) if created is not None else EPOCH,
            metadata=dict(blob.metadata or {}),
            checksum=_checksum(blob),
        )

    def list(self, prefix: str = "", *, within: Selection | None = None) -> Iterator[ObjectInfo]:
        if within is None:
            yield from self._list(prefix, {})
            return
        for n, part in enumerate(within):
            # the server's answer only narrows what comes back: the part decides here (an
            # emulator ignores matchGlob), and an object of two parts is listed once
            for info in self._list_part(prefix, part):
                if part.matches(info.path) and not any(p.matches(info.path) for p in within[:n]):
                    yield info

    def _list_part(self, prefix: str, part: Part) -> Iterator[ObjectInfo]:
        """One part's listing; a glob the server refuses (400, before anything came back) is
        dropped: it only ever narrows what the part filters again here."""
        query = self._part_query(part)
        listed = False
        try:
            for info in self._list(prefix, query):
                listed = True
                yield info
        except StorageError as e:
            refused = isinstance(e.__cause__, exceptions.BadRequest) and "match_glob" in query
            if listed or not refused:
                raise
            query.pop("match_glob")
            yield from self._list(prefix, query)

    def _part_query(self, part: Part) -> dict[str, str]:
        """``startOffset``, ``endOffset`` and ``matchGlob`` for one part of a listing."""
        query = {"start_offset": self.prefix + part.start}
        if part.end is not None:
            query["end_offset"] = self.prefix + part.end
        glob = basename_glob(self.prefix, part.initials) if part.initials is not None else None
        if glob is not None:
            query["match_glob"] = glob
        return query

    def _list(self, prefix: str, query: dict[str, str]) -> Iterator[ObjectInfo]:
        blobs = self.bucket.client.list_blobs(
            self.bucket,
            prefix=self.prefix + prefix,
            fields=_LIST_FIELDS,
            page_size=self.page_size,
            retry=self.retry,
            **query,
        )
        try:
            for blob in blobs:
                path = blob.name[len(self.prefix) :]
                # console "folders" ("a/") hold nothing; every other name is listed as it is,
                # so that unsafe ones ("a//b.whl", "x/../y.whl") are reported, not unseen
                if path and not path.endswith("/"):
                    yield self._info(blob, path)
        except _CLIENT_ERRORS as e:
            raise self._failure("list", prefix, e) from e

    def stat(self, path: str) -> ObjectInfo | None:
        name = self._name(path)
        try:
            blob = self.bucket.get_blob(name, retry=self.retry)
        except _CLIENT_ERRORS as e:
            raise self._failure("stat", path, e) from e
        return None if blob is None else self._info(blob, path)

    def _live(self, path: str, generation: str) -> tuple[Any, int]:
        """A handle on the live object and the generation it must have. No ``generation=``:
        with a versioned bucket that would select an old generation, and whether GCS then
        weighs ``ifGenerationMatch`` against the live one is not written down anywhere."""
        number = _generation_number(generation)
        if number is None:
            raise ObjectChangedError(path, generation)
        return self.bucket.blob(self._name(path)), number

    @staticmethod
    def _check_served(blob: Any, number: int, path: str, generation: str) -> None:
        # GCS refuses with 412 before sending; fake-gcs-server ignores the precondition on
        # downloads, so also compare the generation the answer says it served
        if blob.generation != number:
            raise ObjectChangedError(path, generation)

    def read_range(self, path: str, start: int, end: int, generation: str) -> bytes:
        blob, number = self._live(path, generation)
        if end <= start:
            return b""
        try:
            data: bytes = blob.download_as_bytes(
                start=start,
                end=end - 1,
                checksum=None,
                retry=self.retry,
                if_generation_match=number,
            )
        except self._moved() as e:
            raise ObjectChangedError(path, generation) from e
        except exceptions.RequestRangeNotSatisfiable:
            return b""  # start at or past the end: nothing there, as in a file
        except _CLIENT_ERRORS as e:
            raise self._failure("read", path, e) from e
        self._check_served(blob, number, path, generation)
        return data

    def stream(self, path: str, generation: str, sink: Callable[[bytes], object]) -> None:
        blob, number = self._live(path, generation)
        try:
            # "auto": crc32c (md5 without the C extension), updated chunk by chunk and checked
            # at the end; a mismatch raises DataCorruption after the sink saw the bytes. An
            # interrupted body resumes with a range request the client pins to the generation
            # of the first answer.
            blob.download_to_file(
                _SinkWriter(sink),
                checksum="auto",
                retry=self.retry,
                if_generation_match=number,
            )
        except self._moved() as e:
            raise ObjectChangedError(path, generation) from e
        except (*_CLIENT_ERRORS, DataCorruption) as e:
            raise self._failure("read", path, e) from e
        self._check_served(blob, number, path, generation)

    def get(self, path: str) -> Blob | None:
        blob = self.bucket.blob(self._name(path))
        try:
            data: bytes = blob.download_as_bytes(checksum="auto", retry=self.retry)
        except exceptions.NotFound:
            return None
        except (*_CLIENT_ERRORS, DataCorruption) as e:
            raise self._failure("read", path, e) from e
        # the client fills the generation from the response's X-Goog-Generation header
        return Blob(data, str(blob.generation))

    def put(
        self,
        path: str,
        data: bytes,
        *,
        content_type: str,
        cache_control: str = PAGE_CACHE_CONTROL,
        if_token: str | None = None,
    ) -> str | None:
        blob = self.bucket.blob(self._name(path))
        blob.cache_control = cache_control
        kwargs: dict[str, Any] = {}
        if if_token is not None:
            kwargs["if_generation_match"] = _generation_number(if_token)
            if kwargs["if_generation_match"] is None:
                return None  # a token of another storage matches no generation
        try:
            blob.upload_from_string(data, content_type=content_type, retry=self.retry, **kwargs)
        except self.precondition_failed as e:
            if if_token is None:  # no precondition was sent: a 409 is a failure, not "no match"
                raise self._failure("write", path, e) from e
            return None
        except _CLIENT_ERRORS as e:
            raise self._failure("write", path, e) from e
        return str(blob.generation)

    def delete(self, path: str, *, if_token: str | None = None) -> bool:
        name = self._name(path)
        kwargs: dict[str, Any] = {}
        if if_token is not None:
            generation = _generation_number(if_token)
            if not generation:  # ABSENT ("0"): an absent object cannot be deleted
                return False
            kwargs["if_generation_match"] = generation
        try:
            self.bucket.blob(name).delete(retry=self.retry, **kwargs)
        except exceptions.NotFound:
            return False
        except self.precondition_failed as e:
            if if_token is None:
                raise self._failure("delete", path, e) from e
            return False
        except _CLIENT_ERRORS as e:
            raise self._failure("delete", path, e) from e
        return True

    def set_metadata(self, path: str, key: str, value: str | None) -> None:
        blob = self.bucket.blob(self._name(path))
        # a patch merges into the object's metadata: {key: value} sets one key, {key: None}
        # is sent as JSON null, which removes it; the generation (and the content) stay
        blob.metadata = {key: value}
        try:
            blob.patch(retry=self.retry)
            self._patched(blob, key, value)
        except exceptions.NotFound as e:
            raise StorageError(f"no such object: {self._url(path)!r}") from e
        except _CLIENT_ERRORS as e:
            raise self._failure("update metadata of", path, e) from e

    def _patched(self, blob: Any, key: str, value: str | None) -> None:
        """After a metadata patch, with the object as the answer described it (a hook for
        storages that do not apply the patch as GCS does)."""

    def upload_file(
        self,
        local: Path,
        path: str,
        *,
        create_only: bool,
        progress: Callable[[int], None] | None = None,
        content_type: str = "application/octet-stream",
        cache_control: str = FILE_CACHE_CONTROL,
    ) -> str | None:
        """Upload a distribution from disk: multipart up to 8 MiB, resumable in 8 MiB chunks
        above (constant memory; ``progress`` hears the bytes sent so far after each chunk).
        Returns the new generation, or ``None`` when ``create_only`` and the object exists
        (``ifGenerationMatch=0``; GCS checks it on both kinds of upload, fake-gcs-server only on
        multipart ones)."""
        blob = self.bucket.blob(self._name(path), chunk_size=UPLOAD_CHUNK)
        blob.cache_control = cache_control
        kwargs: dict[str, Any] = {"if_generation_match": 0} if create_only else {}
        size = local.stat().st_size
        told = progress or (lambda _done: None)
        try:
            with local.open("rb") as raw:
                source = _CountingReader(raw, told)
                blob.upload_from_file(
                    source, size=size, content_type=content_type, retry=self.retry, **kwargs
                )
        except self.precondition_failed as e:
            if not create_only:
                raise self._failure("upload", path, e) from e
            return None
        except _CLIENT_ERRORS as e:
            raise self._failure("upload", path, e) from e
        if source.told != size:  # an empty file is never read
            told(size)
        return str(blob.generation)


class _CountingReader:
    """A file object for the client's uploads that reports how far the upload has read
    (a chunk is read just before it is sent; a retried chunk seeks back and is counted again
    from there)."""

    def __init__(self, raw: IO[bytes], progress: Callable[[int], None]) -> None:
        self._raw = raw
        self._progress = progress
        self.told = -1

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        if data:
            self.told = self._raw.tell()
            self._progress(self.told)
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()
