"""Events and objects are input: a battery of hostile ones POSTed to the real Cloud Function
(functions-framework serving ``function/main.py``, the GCS emulator behind it). Every one whose
cause is the input is acknowledged (2xx: a retry could not fix it, and a non-2xx answer would be
redelivered for days), bad input is logged as an ERROR naming it, and the index stays whole: a
good package uploaded alongside is indexed, and every page is valid.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from pypapo.layout import state_path
from pypapo.sample import SampleProject, wheel_bytes
from pypapo.storage import FILE_CACHE_CONTROL
from pypapo.storage.emulator import EmulatorGCSStorage
from pypapo.storage.gcs import GCSStorage
from tests.support.function_server import EVENT_TYPE, FunctionServer, post
from tests.support.gcs_emulator import Emulator
from tests.support.page_checks import all_page_problems, index_pages

pytestmark = pytest.mark.e2e
PREFIX = "idx"


@dataclass
class Battery:
    """The function under fire, its bucket, and what it answered to each hostile input."""

    function: FunctionServer
    bucket: Any
    statuses: dict[str, int]
    names: dict[str, str]
    """Object names of the unsafe-name cases, by case."""

    @property
    def storage(self) -> GCSStorage:
        return EmulatorGCSStorage(self.bucket, PREFIX)

    # -- ways to deliver ---------------------------------------------------------------------

    def attributes(self, kind: str, name: str) -> dict[str, str]:
        return {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "type": EVENT_TYPE + kind,
            "source": f"//storage.googleapis.com/projects/_/buckets/{self.bucket.name}",
            "subject": f"objects/{name}",
        }

    def raw(self, headers: dict[str, str], body: bytes) -> int:
        return post(self.function.url, headers, body)

    def binary(self, attributes: dict[str, str], data: object) -> int:
        """A binary-mode CloudEvent: attributes in ``ce-`` headers, the data as the body."""
        headers = {f"ce-{k}": v for k, v in attributes.items()}
        headers["Content-Type"] = "application/json"
        return self.raw(headers, json.dumps(data).encode())

    def structured(self, attributes: dict[str, str], data: object) -> int:
        """A structured-mode CloudEvent: all of it JSON in the body (a name with a control
        character cannot travel in a header)."""
        envelope = {**attributes, "datacontenttype": "application/json", "data": data}
        body = json.dumps(envelope).encode()
        return self.raw({"Content-Type": "application/cloudevents+json"}, body)

    def upload(self, path: str, data: bytes) -> str:
        blob = self.bucket.blob(f"{PREFIX}/{path}")
        blob.cache_control = FILE_CACHE_CONTROL
        blob.upload_from_string(data, content_type="application/octet-stream")
        return f"{PREFIX}/{path}"

    def finalized(self, name: str, **changes: Any) -> int:
        """The event Eventarc sends for ``name``, its resource changed by ``changes``."""
        resource = {**self.function.object_resource(name), "name": name, **changes}
        return self.structured(self.attributes("finalized", name), resource)


def _wheel(project: str, version: str = "1.0") -> tuple[str, bytes]:
    sample = SampleProject(project, version)
    return f"{sample.stem}-py3-none-any.whl", wheel_bytes(sample)


# -- the battery -----------------------------------------------------------------------------

UNSAFE_NAMES = {
    "'..' segment": "x/../{wheel}",
    "'..' into simple/": "simple/../{wheel}",
    "leading '/'": "/{wheel}",
    "empty segment": "packages//{wheel}",
    "'.' segment": "./{wheel}",
    "NUL": "nul\x00/{wheel}",
    "newline": "line\n/{wheel}",
    "carriage return": "cr\r/{wheel}",
    "DEL": "del\x7f/{wheel}",
    "escape sequence": "esc\x1b[2J/{wheel}",
    "backslash": "win\\..\\{wheel}",
    "bidi override": "bidi\u202e/{wheel}",
    "line separator": "ls\u2028/{wheel}",
    "yank marker of '..'": "x/../{wheel}.yanked",
}


def _unsafe_name(what: str, template: str, i: int) -> Callable[[Battery], int]:
    def post(b: Battery) -> int:
        filename, data = _wheel(f"unsafe{i}")
        b.names[what] = name = f"{PREFIX}/{template.format(wheel=filename)}"
        b.bucket.blob(name).upload_from_string(data)
        return b.finalized(name)

    return post


def _event_only(name: str) -> Callable[[Battery], int]:
    """An event for an object no bucket holds (a forged or stale one)."""

    def post(b: Battery) -> int:
        data = {"bucket": b.bucket.name, "name": name}
        return b.structured(b.attributes("finalized", name), data)

    return post


def _bad_hint(**changes: Any) -> Callable[[Battery], int]:
    """The good package's event again, one field of its resource spoiled."""
    return lambda b: b.finalized(f"{PREFIX}/pkgs/{_wheel('good')[0]}", **changes)


def _bad_data(data: object) -> Callable[[Battery], int]:
    return lambda b: b.binary(b.attributes("finalized", f"{PREFIX}/x-1.0.tar.gz"), data)


def _bad_attributes(**changes: str | None) -> Callable[[Battery], int]:
    def post(b: Battery) -> int:
        attributes = {**b.attributes("finalized", f"{PREFIX}/x-1.0.tar.gz"), **changes}
        kept = {k: v for k, v in attributes.items() if v is not None}
        return b.binary(kept, {"bucket": b.bucket.name, "name": f"{PREFIX}/x-1.0.tar.gz"})

    return post


def _raw_body(content_type: str, body: bytes, **headers: str) -> Callable[[Battery], int]:
    def post(b: Battery) -> int:
        ce = {f"ce-{k}": v for k, v in b.attributes("finalized", f"{PREFIX}/x.whl").items()}
        return b.raw({**ce, "Content-Type": content_type, **headers}, body)

    return post


def _structured(envelope: object) -> Callable[[Battery], int]:
    def post(b: Battery) -> int:
        body = json.dumps(envelope).encode()
        return b.raw({"Content-Type": "application/cloudevents+json"}, body)

    return post


STATES: dict[str, bytes] = {
    "a list": b"[]",
    "null": b"null",
    "not JSON": b"{",
    "nested 50,000 deep": b'{"records":' + b"[" * 50_000 + b"]" * 50_000 + b"}",
    "records an object": b'{"format":1,"name":"victim","records":{}}',
    "a record of numbers": b'{"format":1,"name":"victim","records":[{"path":1,"size":"x"}]}',
    "a bool format": b'{"format":true,"name":"victim","records":[]}',
}


def _ill_typed_state(state: bytes, i: int) -> Callable[[Battery], int]:
    """A state overwritten by hand, then a new file of its project arrives."""

    def post(b: Battery) -> int:
        b.storage.put(state_path("victim"), state, content_type="application/json")
        filename, data = _wheel("victim", f"2.{i}")
        return b.finalized(b.upload(f"pkgs/{filename}", data))

    return post


def _not_a_zip(b: Battery) -> int:
    return b.finalized(b.upload("pkgs/notzip-1.0-py3-none-any.whl", b"<html>404</html>"))


def _reserved(prefix: str) -> Callable[[Battery], int]:
    def post(b: Battery) -> int:
        filename, data = _wheel("intruder")
        return b.finalized(b.upload(f"{prefix}/{filename}", data))

    return post


def _other_bucket(b: Battery) -> int:
    name = f"{PREFIX}/pkgs/x-1.0-py3-none-any.whl"
    attributes = {**b.attributes("finalized", name), "source": "//x/buckets/someone-else"}
    return b.binary(attributes, {"bucket": "someone-else", "name": name})


def _battery() -> dict[str, Callable[[Battery], int]]:
    cases: dict[str, Callable[[Battery], int]] = {}
    for i, (what, template) in enumerate(UNSAFE_NAMES.items()):
        cases[f"name: {what}"] = _unsafe_name(f"name: {what}", template, i)
    cases |= {
        "name: 2,000 bytes": _event_only(f"{PREFIX}/" + "d/" * 1000 + _wheel("long")[0]),
        "name: 1 MB": _event_only(f"{PREFIX}/" + "x" * (1 << 20) + ".whl"),
        "name: lone surrogate": _event_only(f"{PREFIX}/\ud800/{_wheel('s')[0]}"),
        "name: the prefix alone": _event_only(f"{PREFIX}/"),
        "name: '..', deleted": lambda b: b.structured(
            b.attributes("deleted", f"{PREFIX}/a/../{_wheel('gone')[0]}"),
            {"bucket": b.bucket.name, "name": f"{PREFIX}/a/../{_wheel('gone')[0]}"},
        ),
        "name: in simple/": _reserved("simple/intruder"),
        "name: in browse/": _reserved("browse"),
        "name: another bucket": _other_bucket,
        "wheel that is not a zip": _not_a_zip,
        "hint: timeCreated year 99999": _bad_hint(timeCreated="99999-01-01T00:00:00Z"),
        "hint: timeCreated before year 1 in UTC": _bad_hint(
            timeCreated="0001-01-01T00:00:00+01:00"
        ),
        "hint: timeCreated garbage": _bad_hint(timeCreated="soon"),
        "hint: timeCreated a number": _bad_hint(timeCreated=1732525200),
        "hint: generation not a number": _bad_hint(generation="latest"),
        "hint: generation a list": _bad_hint(generation=[1]),
        "hint: size not a number": _bad_hint(size="big"),
        "hint: size negative": _bad_hint(size=-5),
        "hint: metadata a list": _bad_hint(metadata=["pypapo-yanked"]),
        "hint: metadata values not strings": _bad_hint(metadata={"pypapo-yanked": {"x": 1}}),
        "hint: metadata of 1 MB": _bad_hint(metadata={"pypapo-yanked": "y" * (1 << 20)}),
        "data: a list": _bad_data([1, 2]),
        "data: a string": _bad_data("idx/x-1.0.tar.gz"),
        "data: null": _bad_data(None),
        "data: name a number": _bad_data({"bucket": "b", "name": 5}),
        "data: bucket with a slash": _bad_data({"bucket": "../b", "name": "idx/x.whl"}),
        "attributes: unknown object event": _bad_attributes(
            type=EVENT_TYPE + "exploded", subject=None
        ),
        "attributes: a Pub/Sub event": _bad_attributes(
            type="google.cloud.pubsub.topic.v1.messagePublished"
        ),
        "attributes: no subject, no source": _bad_attributes(subject=None, source="nowhere"),
        "attributes: no type": _bad_attributes(type=None),
        "attributes: no id": _bad_attributes(id=None),
        "attributes: spec version 9.9": _bad_attributes(specversion="9.9"),
        "body: not JSON": _raw_body("application/json", b"{not json"),
        "body: not UTF-8": _raw_body("application/json", b'{"name": "\xff"}'),
        "body: empty": _raw_body("application/json", b""),
        "body: nested 100,000 deep": _raw_body("application/json", b"[" * 100_000),
        "body: structured, nested 100,000 deep": _raw_body(
            "application/cloudevents+json", b'{"data":' + b"[" * 100_000
        ),
        "body: plain text": _raw_body("text/plain", b"hello"),
        "body: a structured event that is not JSON": _raw_body(
            "application/cloudevents+json", b"{nope"
        ),
        "structured: no attributes": _structured({"data": {"name": "x"}}),
        "structured: a list": _structured([1, 2, 3]),
        "structured: data_base64 garbage": _structured(
            {
                "specversion": "1.0",
                "id": "1",
                "source": "//s/buckets/b",
                "type": EVENT_TYPE + "finalized",
                "data_base64": "!!!not base64!!!",
            }
        ),
        "no CloudEvent headers at all": lambda b: b.raw(
            {"Content-Type": "application/json"}, b'{"name": "x"}'
        ),
    }
    for i, (what, state) in enumerate(STATES.items()):
        cases[f"state: {what}"] = _ill_typed_state(state, i)
    return cases


BATTERY = _battery()


@pytest.fixture(scope="module")
def battery(gcs_emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Battery]:
    bucket = gcs_emulator.new_bucket("hostile")
    log = tmp_path_factory.mktemp("fn") / "function.log"
    with FunctionServer(gcs_emulator.url, bucket.name, log, PREFIX) as function:
        b = Battery(function, bucket, {}, {})
        for project in ("good", "victim"):
            filename, data = _wheel(project)
            assert b.finalized(b.upload(f"pkgs/{filename}", data)) == 200
        for what, post in BATTERY.items():
            b.statuses[what] = post(b)
        # a good package uploaded after all that
        filename, data = _wheel("late")
        b.statuses["late good package"] = b.finalized(b.upload(f"pkgs/{filename}", data))
        yield b


def test_the_battery_is_large() -> None:
    assert len(BATTERY) >= 30


@pytest.mark.parametrize("what", list(BATTERY))
def test_hostile_input_is_acknowledged(battery: Battery, what: str) -> None:
    assert 200 <= battery.statuses[what] < 300, battery.function.log_path.read_text()[-3000:]


def test_the_index_stays_whole(battery: Battery) -> None:
    assert battery.statuses["late good package"] == 200
    pages = index_pages(battery.storage)
    assert all_page_problems(pages) == []
    root = json.loads(pages["simple/index.json"])
    assert {p["name"] for p in root["projects"]} == {"good", "victim", "late"}
    for project in ("good", "late"):
        files = json.loads(pages[f"simple/{project}/index.json"])["files"]
        assert [f["filename"] for f in files] == [_wheel(project)[0]]


def test_bad_names_are_logged_as_bad_input(battery: Battery) -> None:
    errors = [line for line in battery.function.log_lines() if line["severity"] == "ERROR"]
    assert {line.get("outcome") for line in errors} == {"bad-input"}  # no bug met
    reported = {line["object"] for line in errors if line["kind"] == "invalid filename"}
    for what, name in battery.names.items():
        assert f"gs://{battery.bucket.name}/{name}" in reported, what
    assert all(len(json.dumps(line)) < 16_384 for line in errors)  # a 1 MB name is not echoed


def test_ill_typed_states_are_reported_as_corrupt(battery: Battery) -> None:
    corrupt = [
        line
        for line in battery.function.log_lines()
        if line.get("kind") == "corrupt state" and line["severity"] == "ERROR"
    ]
    assert len(corrupt) == len(STATES)
