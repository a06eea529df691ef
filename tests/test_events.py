"""CloudEvent -> ObjectEvent conversion (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from pypapo.events import EventError, ObjectEvent, from_cloudevent, object_path

ATTRS = {
    "id": "42",
    "type": "google.cloud.storage.object.v1.finalized",
    "source": "//storage.googleapis.com/projects/_/buckets/bkt",
    "subject": "objects/pkgs/foo-1.0.tar.gz",
}


@pytest.mark.parametrize("kind", ["finalized", "deleted", "archived", "metadataUpdated"])
def test_object_events(kind: str) -> None:
    attrs = {**ATTRS, "type": f"google.cloud.storage.object.v1.{kind}"}
    event = from_cloudevent(attrs, {"bucket": "bkt", "name": "a b/ü.whl", "generation": 7})
    assert event == ObjectEvent(kind, "bkt", "a b/ü.whl", "7", "42")


def test_falls_back_to_subject_and_source() -> None:
    event = from_cloudevent(ATTRS, None)
    assert (event.bucket, event.name, event.generation) == ("bkt", "pkgs/foo-1.0.tar.gz", None)


@pytest.mark.parametrize(
    ("attrs", "data", "message"),
    [
        (
            {**ATTRS, "type": "google.cloud.pubsub.topic.v1.messagePublished"},
            {},
            "not a Cloud Storage",
        ),
        ({**ATTRS, "type": "google.cloud.storage.object.v1.exploded"}, {}, "not a Cloud Storage"),
        ({"id": "1", "type": ATTRS["type"]}, {}, "names no bucket and object"),
    ],
)
def test_rejects(attrs: dict[str, Any], data: dict[str, Any], message: str) -> None:
    with pytest.raises(EventError, match=message):
        from_cloudevent(attrs, data)


@pytest.mark.parametrize(
    ("name", "prefix", "expected"),
    [
        ("pkgs/a.whl", "", "pkgs/a.whl"),
        ("idx/pkgs/a.whl", "idx", "pkgs/a.whl"),
        ("idx/pkgs/a.whl", "idx/", "pkgs/a.whl"),
        ("other/a.whl", "idx", None),
        ("idxx/a.whl", "idx", None),
    ],
)
def test_object_path(name: str, prefix: str, expected: str | None) -> None:
    assert object_path(ObjectEvent("finalized", "b", name, None, "1"), prefix) == expected
