"""CloudEvent -> ObjectEvent conversion (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from pypapo.events import EventError, ObjectEvent, from_cloudevent, object_hint, object_path
from pypapo.storage import ObjectInfo

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


RESOURCE = {
    "bucket": "bkt",
    "name": "idx/pkgs/foo-1.0.tar.gz",
    "generation": "1732525200123456",
    "size": "1234",
    "timeCreated": "2026-11-25T09:00:00.123Z",
    "metadata": {"pypapo-yanked": "broken", "other": "x"},
}


def test_a_finalized_event_describes_the_object() -> None:
    event = from_cloudevent(ATTRS, RESOURCE)
    assert object_hint(event, "pkgs/foo-1.0.tar.gz") == ObjectInfo(
        path="pkgs/foo-1.0.tar.gz",
        size=1234,
        generation="1732525200123456",
        created=datetime(2026, 11, 25, 9, 0, 0, 123000, tzinfo=UTC),
        metadata={"pypapo-yanked": "broken", "other": "x"},
    )


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("2026-11-25T09:00:00Z", datetime(2026, 11, 25, 9, tzinfo=UTC)),
        ("2026-11-25T09:00:00.5Z", datetime(2026, 11, 25, 9, 0, 0, 500000, tzinfo=UTC)),
        # nanoseconds are cut to microseconds, as the storage client does for a stat
        ("2026-11-25T09:00:00.123456789Z", datetime(2026, 11, 25, 9, 0, 0, 123456, tzinfo=UTC)),
        ("2026-11-25T10:00:00.000001+01:00", datetime(2026, 11, 25, 9, 0, 0, 1, tzinfo=UTC)),
    ],
)
def test_creation_times(stamp: str, expected: datetime) -> None:
    event = from_cloudevent(ATTRS, {**RESOURCE, "timeCreated": stamp})
    hint = object_hint(event, "p")
    assert hint is not None
    assert hint.created == expected


@pytest.mark.parametrize(
    ("kind", "change"),
    [
        ("deleted", {}),  # a deleted object's description says nothing of what is there now
        ("metadataUpdated", {}),  # may be older than a later patch
        ("finalized", {"size": None}),
        ("finalized", {"size": "-1"}),
        ("finalized", {"size": "many"}),
        ("finalized", {"timeCreated": "yesterday"}),
        ("finalized", {"timeCreated": "2026-13-45T09:00:00Z"}),
        ("finalized", {"timeCreated": "2026-11-25T09:00:00"}),  # no zone: not guessed
        ("finalized", {"generation": None}),
    ],
)
def test_no_description_unless_complete_and_finalized(kind: str, change: dict[str, Any]) -> None:
    attrs = {**ATTRS, "type": f"google.cloud.storage.object.v1.{kind}"}
    resource = {k: v for k, v in {**RESOURCE, **change}.items() if v is not None}
    assert object_hint(from_cloudevent(attrs, resource), "p") is None


# -- events are input: a field of the wrong shape is no hint, never an exception --------------


@pytest.mark.parametrize(
    "change",
    [
        {"timeCreated": "99999-01-01T00:00:00Z"},
        {"timeCreated": "0001-01-01T00:00:00+01:00"},  # UTC would be before year 1
        {"timeCreated": "9999-12-31T23:59:59-01:00"},  # UTC would be after year 9999
        {"timeCreated": "0001-01-01T00:00:00Z"},  # before GCS: no upload time a page can show
        {"timeCreated": 1732525200},
        {"timeCreated": ["2026-11-25T09:00:00Z"]},
        {"timeCreated": {"seconds": 1}},
        {"timeCreated": ""},
        {"timeCreated": "2026-11-25T09:00:00Z" + " " * 10_000},
        {"generation": "abc"},
        {"generation": "1.5"},
        {"generation": "-7"},
        {"generation": True},
        {"generation": 1.5},
        {"generation": ["1"]},
        {"generation": "9" * 30},  # past int64
        {"generation": " 12"},
        {"generation": "١٢"},  # decimal digits, but not ASCII ones
        {"size": True},
        {"size": 12.5},
        {"size": "9" * 5000},
        {"size": 1 << 70},
        {"size": {"bytes": 1}},
        {"metadata": ["pypapo-yanked"]},
        {"metadata": "pypapo-yanked=x"},
        {"metadata": 5},
        {"metadata": {"pypapo-yanked": 5}},
        {"metadata": {"pypapo-yanked": ["x"]}},
        {"metadata": {"pypapo-yanked": "x" * 10_000}},
    ],
    ids=lambda v: repr(v)[:50],
)
def test_a_bad_field_is_no_hint(change: dict[str, Any]) -> None:
    event = from_cloudevent(ATTRS, {**RESOURCE, **change})
    assert object_hint(event, "p") is None


@pytest.mark.parametrize(("field", "value"), [("generation", 1732525200123456), ("size", 1234)])
def test_json_numbers_are_read_like_strings(field: str, value: int) -> None:
    hint = object_hint(from_cloudevent(ATTRS, {**RESOURCE, field: value}), "p")
    assert hint is not None
    assert str(getattr(hint, field)) == str(value)


def test_metadata_without_a_value_is_dropped() -> None:
    """GCS sends a removed key as null in some notifications; it is not a yank."""
    hint = object_hint(from_cloudevent(ATTRS, {**RESOURCE, "metadata": {"a": None}}), "p")
    assert hint is not None
    assert hint.metadata == {}


@pytest.mark.parametrize(
    ("attrs", "data"),
    [
        ({**ATTRS, "type": 5}, RESOURCE),
        ({k: v for k, v in ATTRS.items() if k != "type"}, RESOURCE),
        ({**ATTRS, "subject": None}, {"bucket": "bkt", "name": 5}),
        ({**ATTRS, "subject": None}, {"bucket": "bkt", "name": ["a"]}),
        ({**ATTRS, "subject": None}, {"bucket": "bkt", "name": ""}),
        ({**ATTRS, "source": None}, {"bucket": 5, "name": "a.whl"}),
        ({**ATTRS, "source": "//storage/buckets/UPPER"}, {"name": "a.whl"}),
        (ATTRS, {"bucket": "../etc", "name": "a.whl"}),
        (ATTRS, {"bucket": "a", "name": "a.whl"}),
        (ATTRS, {"bucket": "b" * 300, "name": "a.whl"}),
        (ATTRS, {"bucket": "bkt/other", "name": "a.whl"}),
        ({**ATTRS, "subject": "objects/"}, {}),
    ],
    ids=lambda v: repr(v)[:50],
)
def test_not_an_object_event(attrs: dict[str, Any], data: dict[str, Any]) -> None:
    with pytest.raises(EventError):
        from_cloudevent(attrs, data)


@pytest.mark.parametrize(
    "data", [None, [], "text", b"bytes", 5, [RESOURCE]], ids=lambda v: repr(v)[:50]
)
def test_data_of_another_shape_falls_back_to_the_attributes(data: object) -> None:
    event = from_cloudevent(ATTRS, data)
    assert (event.bucket, event.name) == ("bkt", "pkgs/foo-1.0.tar.gz")
    assert object_hint(event, "p") is None
