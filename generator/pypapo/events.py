"""Cloud Storage object events as typed values. Pure: the Cloud Function adapter feeds it the
CloudEvent's attributes and data, and only ever acts on the result.

The event kind is a hint: refresh looks at the object as it is now. A finalized event's object
resource (generation, size, creation time, metadata) spares refresh one stat of a new upload;
refresh never trusts it further than a read pinned to that generation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pypapo.model import MAX_SIZE
from pypapo.storage import ObjectInfo

EVENT_PREFIX = "google.cloud.storage.object.v1."
KINDS = frozenset({"finalized", "deleted", "archived", "metadataUpdated"})
MAX_METADATA = 8 << 10
"""GCS's limit on an object's custom metadata (keys and values): more is no object's."""
_BUCKET = re.compile(r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]")
"""GCS bucket names: lowercase letters, digits, dots, dashes and underscores, 3 to 222 long."""
_GENERATION = re.compile(r"[0-9]{1,19}")
"""An int64, as the JSON API writes one (a string of ASCII digits)."""


class EventError(ValueError):
    """A CloudEvent that is not a Cloud Storage object event pypapo can act on."""


@dataclass(frozen=True)
class ObjectEvent:
    """What an event says. The hint fields (generation, size, created, metadata) are ``None``
    when the event did not carry them in a usable shape: refresh then stats the object."""

    kind: str
    bucket: str
    name: str
    generation: str | None
    event_id: str
    size: int | None = None
    created: datetime | None = None
    metadata: Mapping[str, str] | None = field(default_factory=dict)


def from_cloudevent(attributes: Mapping[str, Any], data: object) -> ObjectEvent:
    """Build an ``ObjectEvent`` from a CloudEvent's attributes (``type``, ``id``, ``source``,
    ``subject``) and its data (the object resource). Everything in them is input: a field of
    the wrong shape is dropped (its hint goes unused), and an event that names no object of a
    valid bucket is an ``EventError``."""
    event_type = attributes.get("type")
    kind = event_type[len(EVENT_PREFIX) :] if isinstance(event_type, str) else ""
    if (
        not isinstance(event_type, str)
        or not event_type.startswith(EVENT_PREFIX)
        or kind not in KINDS
    ):
        raise EventError(f"not a Cloud Storage object event: type {_clip(event_type)}")
    payload: Mapping[str, Any] = data if isinstance(data, Mapping) else {}
    name = _object_name(attributes, payload)
    bucket = _bucket(attributes, payload)
    if name is None or bucket is None:
        raise EventError(f"event {_clip(attributes.get('id'))} names no bucket and object")
    return ObjectEvent(
        kind=kind,
        bucket=bucket,
        name=name,
        generation=_generation(payload.get("generation")),
        event_id=str(attributes.get("id", "")),
        size=_int(payload.get("size")),
        created=_timestamp(payload.get("timeCreated")),
        metadata=_metadata(payload.get("metadata")),
    )


def _clip(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _object_name(attributes: Mapping[str, Any], payload: Mapping[str, Any]) -> str | None:
    name = payload.get("name")
    if isinstance(name, str) and name:
        return name
    subject = attributes.get("subject")
    if isinstance(subject, str) and subject.startswith("objects/") and len(subject) > 8:
        return subject.removeprefix("objects/")
    return None


def _bucket(attributes: Mapping[str, Any], payload: Mapping[str, Any]) -> str | None:
    bucket = payload.get("bucket")
    if not isinstance(bucket, str) or not bucket:
        source = attributes.get("source")
        bucket = (
            source.rsplit("/buckets/", 1)[1]
            if isinstance(source, str) and "/buckets/" in source
            else None
        )
    # a name no bucket can have would only fail every storage call, and be retried forever
    return bucket if bucket is not None and _BUCKET.fullmatch(bucket) else None


def _generation(value: object) -> str | None:
    if type(value) is int:  # not a bool, which is an int to Python
        value = str(value)
    return value if isinstance(value, str) and _GENERATION.fullmatch(value) else None


def _int(value: object) -> int | None:
    """A size: the JSON API sends int64 fields as strings, other senders as numbers."""
    if type(value) is int:
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdecimal() and len(value) <= 19:
        number = int(value)
    else:
        return None
    return number if 0 <= number <= MAX_SIZE else None


def _timestamp(value: object) -> datetime | None:
    """RFC 3339 as GCS writes it; fractions past microseconds are cut, as the storage client
    cuts them for a stat. A time without a zone is not GCS's and is not guessed at, nor is one
    outside 1970-9999 (an upload time a page shows as yyyy-mm-dd...)."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        when = datetime.fromisoformat(value)
        if when.tzinfo is None:
            return None
        when = when.astimezone(UTC)
    except (ValueError, OverflowError):  # not a time, or its UTC falls off the calendar
        return None
    return when if 1970 <= when.year <= 9999 else None


def _metadata(value: object) -> dict[str, str] | None:
    """The object's custom metadata; None when it has a shape no object's metadata has."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        return None
    # GCS sends a key being removed as null: it is not there
    entries = {k: v for k, v in value.items() if v is not None}
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in entries.items()):
        return None
    if sum(len(k) + len(v) for k, v in entries.items()) > MAX_METADATA:
        return None
    return entries


def object_hint(event: ObjectEvent, path: str) -> ObjectInfo | None:
    """What a finalized event says of the new object, as ``refresh`` takes it (``path`` is the
    object's path below the index prefix); None for other events or an incomplete resource."""
    if event.kind != "finalized" or event.generation is None:
        return None
    if event.size is None or event.created is None or event.metadata is None:
        return None
    return ObjectInfo(
        path=path,
        size=event.size,
        generation=event.generation,
        created=event.created,
        metadata=dict(event.metadata),
    )


def object_path(event: ObjectEvent, prefix: str) -> str | None:
    """The object's path relative to the index's prefix, or None when it lies outside it."""
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    if not event.name.startswith(prefix):
        return None
    return event.name[len(prefix) :]
