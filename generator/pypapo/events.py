"""Cloud Storage object events as typed values. Pure: the Cloud Function adapter feeds it the
CloudEvent's attributes and data, and only ever acts on the result.

The event kind is a hint for logs only: refresh looks at the object as it is now.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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
    return ObjectEvent(
        kind=event_type[len(EVENT_PREFIX) :],
        bucket=str(bucket),
        name=str(name),
        generation=str(generation) if generation is not None else None,
        event_id=str(attributes.get("id", "")),
    )


def object_path(event: ObjectEvent, prefix: str) -> str | None:
    """The object's path relative to the index's prefix, or None when it lies outside it."""
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    if not event.name.startswith(prefix):
        return None
    return event.name[len(prefix) :]
