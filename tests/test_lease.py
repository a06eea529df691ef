"""The project lease and its hand-off queue: what a crash leaves behind is taken over by the
right refresh, and the queue's objects are checked like any state someone else could write."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest
from packaging.utils import NormalizedName

from pypapo.cli import main
from pypapo.errors import CorruptStateError
from pypapo.layout import page_path, state_path
from pypapo.lease import (
    LEASE_SECONDS,
    MAX_INTENT_BYTES,
    Intent,
    busy_record,
    enqueue,
    operator_holder,
    parse_marker,
    queue_prefix,
)
from pypapo.plan import marker_path
from pypapo.refresh import Report, refresh, update_project
from pypapo.roots import ROOT_LEASE, ROOT_QUEUE
from pypapo.storage import YANK_KEY
from pypapo.storage.counting import CountingStorage
from pypapo.storage.local import LocalStorage
from tests.support.tools import add_wheel


class CrashError(Exception):
    pass


def _crash_at_state_write(storage: LocalStorage) -> CountingStorage:
    counting = CountingStorage(storage)

    def before(method: str, path: str) -> None:
        if method == "put" and path == state_path("proj"):
            raise CrashError(path)

    counting.before = before
    return counting


def _listed(root: Path) -> list[object]:
    files: list[object] = json.loads((root / page_path("proj", "json")).read_bytes())["files"]
    return files


def test_a_rerun_of_the_command_line_takes_over_the_lease_its_crash_left(tmp_path: Path) -> None:
    wheel = add_wheel(tmp_path, "proj", "1.0").relative_to(tmp_path).as_posix()
    storage = LocalStorage(tmp_path)
    me = operator_holder(storage.describe())
    with pytest.raises(CrashError):
        refresh(_crash_at_state_write(storage), [wheel], holder=me)
    assert (tmp_path / marker_path("proj")).read_bytes().startswith(b"busy " + me.encode())
    started = time.monotonic()
    refresh(storage, [wheel], holder=me)
    assert time.monotonic() - started < 5  # taken over at once, not after the lease lapsed
    assert len(_listed(tmp_path)) == 1
    assert not (tmp_path / marker_path("proj")).read_bytes().startswith(b"busy")


def test_an_event_hands_over_to_a_live_lease_and_a_lapsed_one_is_taken_over(
    tmp_path: Path,
) -> None:
    wheel = add_wheel(tmp_path, "proj", "1.0").relative_to(tmp_path).as_posix()
    storage = LocalStorage(tmp_path)
    marker = tmp_path / marker_path("proj")
    marker.parent.mkdir(parents=True)
    marker.write_bytes(busy_record("someone", time.time()))  # a live holder (that died)
    report = refresh(storage, [wheel], event_id="one")
    assert report.handed_off == {"proj"}
    assert list(storage.list(queue_prefix("proj")))  # the intent waits
    marker.write_bytes(busy_record("someone", time.time() - LEASE_SECONDS - 1))  # lapsed
    report = refresh(storage, [wheel], event_id="two")
    assert report.handed_off == set()
    assert len(_listed(tmp_path)) == 1
    assert list(storage.list(queue_prefix("proj"))) == []  # drained


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("not-json", b"\xff not json"),
        ("not-an-object", b"[1, 2]"),
        ("extra-key", b'{"paths": [], "hints": {}, "verify": false, "x": 1}'),
        ("ill-typed", b'{"paths": "a", "hints": {}, "verify": false}'),
        ("unsafe-path", b'{"paths": ["../etc/passwd"], "hints": {}, "verify": false}'),
        ("control-char", b'{"paths": ["a\\u0000b.whl"], "hints": {}, "verify": false}'),
        ("hint-elsewhere", b'{"paths": [], "hints": {"x.whl": {}}, "verify": false}'),
        (
            "naive-time",
            b'{"paths": ["x.whl"], "hints": {"x.whl": {"size": 1, "generation": "1", '
            b'"created": "2020-01-01T00:00:00", "metadata": {}}}, "verify": false}',
        ),
        ("deep", b"[" * 100_000 + b"]" * 100_000),
        ("huge", b" " * (MAX_INTENT_BYTES + 1)),
    ],
)
def test_a_hostile_intent_is_reported_dropped_and_costs_nothing_else(
    tmp_path: Path, name: str, data: bytes
) -> None:
    wheel = add_wheel(tmp_path, "proj", "1.0").relative_to(tmp_path).as_posix()
    storage = LocalStorage(tmp_path)
    refresh(storage, [wheel])
    bad = tmp_path / queue_prefix("proj") / name
    bad.parent.mkdir(parents=True)
    bad.write_bytes(data)
    other = add_wheel(tmp_path, "proj", "2.0").relative_to(tmp_path).as_posix()
    report = refresh(storage, [other], event_id="event")
    assert [type(e) for e in report.errors] == [CorruptStateError]
    assert report.errors[0].path == queue_prefix("proj") + name
    assert not bad.exists()
    assert len(_listed(tmp_path)) == 2


def test_an_intent_reads_back_and_a_marker_parses_only_as_it_is_written() -> None:
    intent = Intent({"a/x-1.0.tar.gz"}, verify=True)
    assert Intent.from_json(intent.to_json()) == intent
    busy = parse_marker(busy_record("h1", 100.0), "token")
    assert (busy.holder, busy.expires) == ("h1", 100 + LEASE_SECONDS)
    for data in (b"busy h1\n", b"busy h1 x\n", b"busy h1 1 2\n", b"0123\n"):
        assert parse_marker(data, "token").holder is None  # a digest, of no known plan


def test_bad_input_gives_the_lease_back(tmp_path: Path) -> None:
    """A corrupt state stops the refresh, not the project: the next event is not handed to a
    holder that gave up (it reports the state too, and would index once it is rebuilt)."""
    first = add_wheel(tmp_path, "proj", "1.0").relative_to(tmp_path).as_posix()
    storage = LocalStorage(tmp_path)
    refresh(storage, [first])
    before = (tmp_path / marker_path("proj")).read_bytes()
    (tmp_path / state_path("proj")).write_bytes(b"{not json")
    for n, version in enumerate(["2.0", "3.0"]):
        wheel = add_wheel(tmp_path, "proj", version).relative_to(tmp_path).as_posix()
        hint = storage.stat(wheel)
        assert hint is not None  # an event's description: the lease is taken at once
        report = refresh(storage, [wheel], hints={wheel: hint}, event_id=str(n))
        assert [type(e) for e in report.errors] == [CorruptStateError]
        assert report.handed_off == set()
        assert (tmp_path / marker_path("proj")).read_bytes() == before


def _errors_by_path(reports: list[Report]) -> list[str]:
    return sorted(e.path for r in reports for e in r.errors)


def _first_after(state: dict[str, bool]) -> bool:
    if state["holder_ran"] or not state["enqueued"]:
        return False
    state["holder_ran"] = True
    return True


def test_a_handed_over_path_is_reported_once_by_whoever_drains_it(tmp_path: Path) -> None:
    """An event hands its (bad) file over; the holder drains the intent just before the event
    sees the lease come free and drains its own intent too. The file is looked at twice, but
    its error is reported once: by the refresh whose delete removed the intent."""
    good = add_wheel(tmp_path, "proj", "1.0").relative_to(tmp_path).as_posix()
    bad = tmp_path / "pkgs" / "proj-2.0.tar.gz"
    bad.write_bytes(b"")
    storage = LocalStorage(tmp_path)
    refresh(storage, [good])
    marker = tmp_path / marker_path("proj")
    marker.write_bytes(busy_record("holder", time.time()))  # a live holder, mid-publish
    reports: list[Report] = []
    counting = CountingStorage(storage)
    state = {"enqueued": False, "holder_ran": False}

    def before(method: str, path: str) -> None:
        if method == "put" and path.startswith(queue_prefix("proj")):
            state["enqueued"] = True
        elif method == "get" and path == marker_path("proj") and _first_after(state):
            # the holder releases, lists the queue and drains it, just before the event
            # reads the marker again
            reports.append(update_project(storage, NormalizedName("proj"), [], holder="holder"))

    counting.before = before
    reports.append(refresh(counting, ["pkgs/proj-2.0.tar.gz"], event_id="event"))
    assert state["holder_ran"]
    assert _errors_by_path(reports) == ["pkgs/proj-2.0.tar.gz"]
    assert list(storage.list(queue_prefix("proj"))) == []
    assert len(_listed(tmp_path)) == 1


def test_an_event_that_published_its_bad_file_reports_it_though_a_later_round_hands_over(
    tmp_path: Path,
) -> None:
    """The event publishes (its bad file left out), finds an intent in the queue, and another
    holder takes the lease before its next round: it hands over, and still reports its file."""
    good = add_wheel(tmp_path, "proj", "1.0").relative_to(tmp_path).as_posix()
    (tmp_path / "pkgs" / "proj-2.0.tar.gz").write_bytes(b"")
    storage = LocalStorage(tmp_path)
    refresh(storage, [good])
    other = add_wheel(tmp_path, "proj", "3.0").relative_to(tmp_path).as_posix()
    counting = CountingStorage(storage)
    arrived: list[str] = []

    def before(method: str, path: str) -> None:
        if method == "list" and path == queue_prefix("proj") and not arrived:
            arrived.append(enqueue(storage, "proj", Intent({other}), "late"))
            (tmp_path / marker_path("proj")).write_bytes(busy_record("late", time.time()))

    counting.before = before
    hint = storage.stat("pkgs/proj-2.0.tar.gz")
    assert hint is not None  # an event's description: the event takes the lease, publishes
    report = refresh(counting, ["pkgs/proj-2.0.tar.gz"], hints={hint.path: hint}, event_id="event")
    assert arrived
    assert report.handed_off == {"proj"}
    assert _errors_by_path([report]) == ["pkgs/proj-2.0.tar.gz"]


def test_a_command_line_says_whose_lease_it_waits_for(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A command line waits for a live holder (an event's publish, another operator's run)
    rather than handing over; it says so, once, instead of hanging silently."""
    wheel = add_wheel(tmp_path, "proj", "1.0").relative_to(tmp_path).as_posix()
    marker = tmp_path / marker_path("proj")
    marker.parent.mkdir(parents=True)
    marker.write_bytes(busy_record("someone", time.time() - LEASE_SECONDS + 1.5))  # lapses soon
    with caplog.at_level(logging.WARNING, logger="pypapo"):
        assert main(["refresh", str(tmp_path), wheel]) == 0
    waits = [r.getMessage() for r in caplog.records if "waiting" in r.getMessage()]
    assert len(waits) == 1
    assert marker_path("proj") in waits[0]
    assert "someone" in waits[0]
    assert len(_listed(tmp_path)) == 1


def test_an_event_never_waits_for_the_root_pages_lease(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A new project's event hands its membership over; if the root lease comes free just
    then and someone else takes it before the event can, the event hands over again rather
    than waiting for that holder."""
    add_wheel(tmp_path, "old", "1.0")
    storage = LocalStorage(tmp_path)
    refresh(storage, ["pkgs/old-1.0-py3-none-any.whl"])
    lease_file = tmp_path / ROOT_LEASE
    lease_file.write_bytes(busy_record("first", time.time()))
    wheel = add_wheel(tmp_path, "fresh", "1.0").relative_to(tmp_path).as_posix()
    reads = []

    def before(method: str, path: str) -> None:
        if method != "get" or path != ROOT_LEASE:
            return
        reads.append(path)
        if len(reads) == 2:  # the first holder releases as the event hands over
            lease_file.unlink()
        elif len(reads) == 3:  # and a second takes the lease before the event reads again
            lease_file.write_bytes(busy_record("second", time.time() - LEASE_SECONDS + 3))

    counting = CountingStorage(storage)
    counting.before = before
    hint = storage.stat(wheel)
    assert hint is not None
    with caplog.at_level(logging.WARNING, logger="pypapo"):
        report = refresh(counting, [wheel], hints={wheel: hint}, event_id="event")
    assert len(reads) >= 3
    assert [r.getMessage() for r in caplog.records if "waiting" in r.getMessage()] == []
    assert report.errors == []
    assert (tmp_path / ROOT_QUEUE / "fresh").read_bytes() == b"listed\n"  # for "second"


def test_a_sidecar_deleted_in_one_drain_round_is_written_again_in_a_later_one(
    tmp_path: Path,
) -> None:
    """One holder drains a delete of a file and then its upload again (same bytes): the
    sidecar it wrote, then deleted, must not pass as still in place."""
    wheel = add_wheel(tmp_path, "proj", "1.0")
    path = wheel.relative_to(tmp_path).as_posix()
    data = wheel.read_bytes()
    storage = LocalStorage(tmp_path)
    counting = CountingStorage(storage)

    def upload_again() -> None:
        wheel.parent.mkdir(exist_ok=True)  # the folder went with its last file
        wheel.write_bytes(data)

    steps = [wheel.unlink, upload_again]

    def before(method: str, path_: str) -> None:
        if method == "list" and path_ == queue_prefix("proj") and steps:
            steps.pop(0)()  # the file goes (then comes back); its event hands it over
            enqueue(storage, "proj", Intent({path}), f"event-{len(steps)}")

    counting.before = before
    refresh(counting, [path], holder="holder")
    assert not steps
    assert len(_listed(tmp_path)) == 1
    assert (tmp_path / (path + ".metadata")).exists()


@pytest.mark.parametrize("holders", [("a", "b"), ("b", "a"), ("c", "d"), ("d", "c")])
def test_two_handed_over_descriptions_of_one_object_that_disagree_are_not_believed(
    tmp_path: Path, holders: tuple[str, str]
) -> None:
    """A finalized event described the new file before it was yanked, its metadataUpdated
    event after: both handed over, drained in one round. Whichever comes last, the index
    must show the object as it is (yanked), not as one description said."""
    wheel = add_wheel(tmp_path, "proj", "1.0").relative_to(tmp_path).as_posix()
    storage = LocalStorage(tmp_path)
    before = storage.stat(wheel)
    assert before is not None
    storage.set_metadata(wheel, YANK_KEY, "broken")
    after = storage.stat(wheel)
    assert after is not None and after.metadata.get(YANK_KEY) == "broken"
    for holder, hint in zip(holders, (before, after), strict=True):
        enqueue(storage, "proj", Intent({wheel}, {wheel: hint}), holder)
    update_project(storage, NormalizedName("proj"), [], holder="holder")
    [listed] = _listed(tmp_path)
    assert isinstance(listed, dict)
    assert listed["yanked"] == "broken"
