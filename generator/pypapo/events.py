"""Cloud Storage object events as typed values. Pure: the Cloud Function adapter feeds it the
CloudEvent's attributes and data, and only ever acts on the result.

The event kind is a hint: refresh looks at the object as it is now. A finalized event's object
resource (generation, size, creation time, metadata) spares refresh one stat of a new upload;
refresh never trusts it further than a read pinned to that generation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pypapo.storage import ObjectInfo

EVENT_PREFIX = "google.cloud.storage.object.v1."
KINDS = frozenset({"finalized", "deleted", "archived", "metadataUpdated"})


class EventError(ValueError):
    """A CloudEvent that is not a Cloud Storage object event pypapo can act on."""


@dataclass(frozen=True)
class ObjectEvent:
    kind: str
    bucket: str
    name: str
    generation: str | None
    event_id: str
    size: int | None = None
    created: datetime | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


def from_cloudevent(attributes: Mapping[str, Any], data: Mapping[str, Any] | None) -> ObjectEvent:
    """Build an ``ObjectEvent`` from a CloudEvent's attributes (``type``, ``id``, ``source``,
    ``subject``) and its data (the object resource)."""
    event_type = str(attributes.get("type", ""))
    if not event_type.startswith(EVENT_PREFIX) or event_type[len(EVENT_PREFIX) :] not in KINDS:
        raise EventError(f"not a Cloud Storage object event: type {event_type!r}")
    payload = data or {}
    name = payload.get("name")
    if not name:
        subject = str(attributes.get("subject", ""))
        name = subject.removeprefix("objects/") if subject.startswith("objects/") else None
    bucket = payload.get("bucket")
    if not bucket:
        source = str(attributes.get("source", ""))
        bucket = source.rsplit("/buckets/", 1)[1] if "/buckets/" in source else None
    if not name or not bucket:
        raise EventError(f"event {attributes.get('id')!r} names no bucket and object")
    generation = payload.get("generation")
    metadata = payload.get("metadata")
    return ObjectEvent(
        kind=event_type[len(EVENT_PREFIX) :],
        bucket=str(bucket),
        name=str(name),
        generation=str(generation) if generation is not None else None,
        event_id=str(attributes.get("id", "")),
        size=_int(payload.get("size")),
        created=_timestamp(payload.get("timeCreated")),
        metadata=(
            {str(k): str(v) for k, v in metadata.items() if v is not None}
            if isinstance(metadata, Mapping)
            else {}
        ),
    )


def _int(value: Any) -> int | None:
    # the JSON API sends int64 fields as strings
    try:
        number = int(str(value))
    except ValueError:
        return None
    return number if number >= 0 else None


def _timestamp(value: Any) -> datetime | None:
    """RFC 3339 as GCS writes it; fractions past microseconds are cut, as the storage client
    cuts them for a stat. A time without a zone is not GCS's and is not guessed at."""
    try:
        when = datetime.fromisoformat(str(value)) if value is not None else None
    except ValueError:
        return None
    return when.astimezone(UTC) if when is not None and when.tzinfo is not None else None


def object_hint(event: ObjectEvent, path: str) -> ObjectInfo | None:
    """What a finalized event says of the new object, as ``refresh`` takes it (``path`` is the
    object's path below the index prefix); None for other events or an incomplete resource."""
    if event.kind != "finalized" or event.generation is None:
        return None
    if event.size is None or event.created is None:
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
