"""A Google Cloud Storage bucket (optionally below a prefix) as storage.

Request map (each line one HTTP request):
- ``stat``: objects.get (metadata); ``get``: one media GET (the generation comes back in the
  ``x-goog-generation`` header); ``stream``: one media GET pinned to the generation, written to
  the sink as it arrives; ``read_range``: one ranged media GET pinned to the generation.
- ``put``: one multipart upload carrying Content-Type and Cache-Control, with
  ``if_generation_match`` when a token is given (``0`` = create-only); ``delete`` likewise.
- ``list``: objects.list pages with prefix, asking only for the fields ``ObjectInfo`` needs.

Retries use the client's policy: reads always; conditional writes (guarded by a precondition)
always; unconditional page writes too, because a page write is idempotent in effect — retrying
it writes the same bytes, and a newer page is protected by refresh's reconcile-and-verify loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from google.api_core import exceptions
from google.cloud import storage
from google.cloud.storage.retry import DEFAULT_RETRY

from pypapo.storage import (
    ABSENT,
    FILE_CACHE_CONTROL,
    PAGE_CACHE_CONTROL,
    Blob,
    ObjectChangedError,
    ObjectInfo,
    StorageError,
)

_LIST_FIELDS = "items(name,size,generation,timeCreated,metadata),nextPageToken"
_PRECONDITION_FAILED = (exceptions.PreconditionFailed, exceptions.Conflict)


class _SinkWriter:
    """A write-only file object that hands each chunk to the sink (no buffering)."""

    def __init__(self, sink: Callable[[bytes], object]) -> None:
        self._sink = sink

    def write(self, data: bytes) -> int:
        self._sink(bytes(data))
        return len(data)

    def flush(self) -> None:
        return None


def _created(blob: Any) -> datetime:
    when = blob.time_created
    if when is None:
        return datetime(1970, 1, 1, tzinfo=UTC)
    result: datetime = when.astimezone(UTC)
    return result


class GCSStorage:
    """Objects of one bucket below ``prefix``; object paths are relative to the prefix."""

    def __init__(self, bucket: Any, prefix: str = "", *, retry_timeout: float = 60.0) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        # how long one call keeps retrying transient errors before giving up (and failing the
        # refresh, so that the event is redelivered)
        self.retry = DEFAULT_RETRY.with_timeout(retry_timeout)

    @classmethod
    def from_url(
        cls, url: str, client: Any | None = None, *, retry_timeout: float = 60.0
    ) -> GCSStorage:
        if not url.startswith("gs://"):
            raise StorageError(f"not a gs:// URL: {url!r}")
        bucket_name, _, prefix = url[len("gs://") :].partition("/")
        if not bucket_name:
            raise StorageError(f"no bucket in {url!r}")
        client = client if client is not None else storage.Client()
        return cls(client.bucket(bucket_name), prefix, retry_timeout=retry_timeout)

    def describe(self) -> str:
        return f"gs://{self.bucket.name}/{self.prefix}".rstrip("/")

    def _name(self, path: str) -> str:
        if not path or path.startswith("/") or ".." in path.split("/"):
            raise StorageError(f"object path must be relative and inside the index: {path!r}")
        return self.prefix + path

    def _info(self, blob: Any) -> ObjectInfo:
        return ObjectInfo(
            path=blob.name[len(self.prefix) :],
            size=int(blob.size or 0),
            generation=str(blob.generation),
            created=_created(blob),
            metadata=dict(blob.metadata or {}),
        )

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        blobs = self.bucket.client.list_blobs(
            self.bucket, prefix=self.prefix + prefix, fields=_LIST_FIELDS, retry=self.retry
        )
        for blob in blobs:
            yield self._info(blob)

    def stat(self, path: str) -> ObjectInfo | None:
        blob = self.bucket.get_blob(self._name(path), retry=self.retry)
        return None if blob is None else self._info(blob)

    def _pinned(self, path: str, generation: str) -> Any:
        return self.bucket.blob(self._name(path), generation=int(generation))

    def read_range(self, path: str, start: int, end: int, generation: str) -> bytes:
        if end <= start:
            return b""
        try:
            data: bytes = self._pinned(path, generation).download_as_bytes(
                start=start, end=end - 1, checksum=None, retry=self.retry
            )
        except exceptions.NotFound as e:
            raise ObjectChangedError(path, generation) from e
        return data

    def stream(self, path: str, generation: str, sink: Callable[[bytes], object]) -> None:
        try:
            self._pinned(path, generation).download_to_file(
                _SinkWriter(sink), checksum=None, retry=self.retry
            )
        except exceptions.NotFound as e:
            raise ObjectChangedError(path, generation) from e

    def get(self, path: str) -> Blob | None:
        blob = self.bucket.blob(self._name(path))
        try:
            data: bytes = blob.download_as_bytes(checksum=None, retry=self.retry)
        except exceptions.NotFound:
            return None
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
        kwargs: dict[str, Any] = {"content_type": content_type, "retry": self.retry}
        if if_token is not None:
            kwargs["if_generation_match"] = int(if_token)
        try:
            blob.upload_from_string(data, **kwargs)
        except _PRECONDITION_FAILED:
            return None
        return str(blob.generation)

    def delete(self, path: str, *, if_token: str | None = None) -> bool:
        blob = self.bucket.blob(self._name(path))
        kwargs: dict[str, Any] = {"retry": self.retry}
        if if_token is not None:
            if if_token == ABSENT:
                return False
            kwargs["if_generation_match"] = int(if_token)
            # GCS enforces the precondition; some emulators ignore it on deletes, so look first
            # too (one more request) — it narrows their race window to the two calls' gap.
            current = self.bucket.get_blob(blob.name, retry=self.retry)
            if current is None or str(current.generation) != if_token:
                return False
        try:
            blob.delete(**kwargs)
        except (exceptions.NotFound, *_PRECONDITION_FAILED):
            return False
        return True

    def set_metadata(self, path: str, key: str, value: str | None) -> None:
        blob = self.bucket.get_blob(self._name(path), retry=self.retry)
        if blob is None:
            raise StorageError(f"no such object: {self.describe()}/{path}")
        metadata = dict(blob.metadata or {})
        if value is None:
            if key not in metadata:
                return
            del metadata[key]
        else:
            metadata[key] = value
        # a full update (not a patch) replaces the metadata map, which removes a key on GCS
        # and on emulators that keep keys patched to null; the metageneration guards the swap
        blob.metadata = metadata
        blob.update(if_metageneration_match=blob.metageneration, retry=self.retry)

    def upload_file(self, path: str, local: Path, *, create_only: bool = True) -> str | None:
        """Upload a distribution (resumable above 8 MiB); ``None`` if it exists and create_only."""
        blob = self.bucket.blob(self._name(path))
        blob.cache_control = FILE_CACHE_CONTROL
        kwargs: dict[str, Any] = {"retry": self.retry}
        if create_only:
            kwargs["if_generation_match"] = 0
        try:
            blob.upload_from_filename(str(local), **kwargs)
        except _PRECONDITION_FAILED:
            return None
        return str(blob.generation)
