"""PEP 792 project status: recorded by operators under ``status/``, indexed like any change.

Quarantined lists no files and marks every file for NGINX to refuse; archived refuses files
uploaded after it; lifting a status restores every object byte for byte; every page is read
back with ``pypi-simple``.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pypi_simple import ProjectPage, ProjectStatus

from pypapo import cli
from pypapo.build import build
from pypapo.errors import ProjectStatusError
from pypapo.layout import is_own_write, quarantine_path, status_path
from pypapo.refresh import refresh
from pypapo.status import Status, parse_status_document, status_document
from pypapo.status_command import set_status
from pypapo.storage.counting import CountingStorage
from pypapo.storage.local import LocalStorage
from pypapo.upload import upload
from tests.support.index import snapshot, wipe_index
from tests.support.tools import add_wheel

SINCE = datetime(2022, 1, 1, tzinfo=UTC)
BEFORE = datetime(2020, 1, 1, tzinfo=UTC).timestamp()
AFTER = datetime(2024, 1, 1, tzinfo=UTC).timestamp()


@pytest.fixture
def index(tmp_path: Path) -> LocalStorage:
    for version in ("1.0", "1.1"):
        wheel = add_wheel(tmp_path, "held", version)
        os.utime(wheel, (BEFORE, BEFORE))
    add_wheel(tmp_path, "other", "1.0")
    storage = LocalStorage(tmp_path)
    assert build(storage).errors == []
    return storage


def _page(storage: LocalStorage, fmt: str) -> ProjectPage:
    blob = storage.get(f"simple/held/index.{fmt}")
    assert blob is not None
    if fmt == "json":
        return ProjectPage.from_json_data(json.loads(blob.data), "http://i/simple/held/")
    return ProjectPage.from_html("held", blob.data.decode(), "http://i/simple/held/")


def _set(storage: LocalStorage, status: str, reason: str | None = None) -> None:
    report = set_status(storage, "held", status, reason, now=SINCE)
    assert report is None or report.errors == []


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"{", "not JSON"),
        (b'{"status": "gone", "reason": null, "since": "2022-01-01T00:00:00.000000Z"}', "gone"),
        (b'{"status": "archived", "reason": 3, "since": "2022-01-01T00:00:00.000000Z"}', "reason"),
        (b'{"status": "archived", "reason": null}', "missing since"),
        (b'{"status": "archived", "reason": null, "since": "x", "extra": 1}', "extra"),
    ],
)
def test_a_bad_status_document_is_an_error_naming_the_object(data: bytes, problem: str) -> None:
    with pytest.raises(ProjectStatusError) as raised:
        parse_status_document("status/held.json", data)
    assert raised.value.path == "status/held.json"
    assert problem in str(raised.value)


def test_a_status_document_reads_back() -> None:
    status = Status("quarantined", "malware <b>", "2022-01-01T00:00:00.000000Z")
    assert parse_status_document("status/held.json", status_document(status)) == status


def test_status_objects_trigger_refreshes_and_markers_do_not() -> None:
    assert not is_own_write(status_path("held"))
    assert is_own_write(quarantine_path("pkgs/held-1.0-py3-none-any.whl"))


def test_quarantine_lists_no_files_and_lifting_it_restores_every_object(
    index: LocalStorage,
) -> None:
    before = snapshot(index)
    _set(index, "quarantined", "malware in 1.1")
    for fmt in ("json", "html"):
        page = _page(index, fmt)
        assert page.status is ProjectStatus.QUARANTINED
        assert page.status_reason == "malware in 1.1"
        assert page.packages == []
        assert page.repository_version == "1.4"
    for version in ("1.0", "1.1"):
        marker = quarantine_path(f"pkgs/held-{version}-py3-none-any.whl")
        assert index.get(marker) is not None
    assert b"quarantined" in (index.root / "browse/held/index.html").read_bytes()
    assert (index.root / "pkgs/held-1.0-py3-none-any.whl").exists()  # the bytes stay
    _set(index, "active")
    assert snapshot(index) == before


def test_other_projects_and_the_root_are_untouched_by_a_status(index: LocalStorage) -> None:
    before = snapshot(index)
    _set(index, "deprecated", "use other")
    after = snapshot(index)
    changed = {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}
    assert changed == {
        "simple/held/index.html",
        "simple/held/index.json",
        "simple/held/.state.json",
        "simple/held/.published",
        "browse/held/index.html",
    }
    assert _page(index, "json").status is ProjectStatus.DEPRECATED
    assert len(_page(index, "html").packages) == 2


def test_archived_reports_later_uploads_and_serves_earlier_ones(index: LocalStorage) -> None:
    _set(index, "archived")
    late = add_wheel(index.root, "held", "2.0")
    os.utime(late, (AFTER, AFTER))
    report = refresh(index, ["pkgs/held-2.0-py3-none-any.whl"])
    assert [e.kind for e in report.errors] == ["archived project"]
    assert "archived" in report.errors[0].reason
    page = _page(index, "json")
    assert [p.version for p in page.packages] == ["1.0", "1.1"]
    assert page.status is ProjectStatus.ARCHIVED
    assert index.get(quarantine_path("pkgs/held-2.0-py3-none-any.whl")) is not None
    incremental = snapshot(index)
    wipe_index(index)
    build(index)
    assert snapshot(index) == incremental


def test_a_scratch_build_gives_the_bytes_of_a_refreshed_status(index: LocalStorage) -> None:
    _set(index, "quarantined", "why")
    incremental = snapshot(index)
    wipe_index(index)
    assert build(index).errors == []
    assert snapshot(index) == incremental


def test_a_status_can_hold_a_project_before_its_first_file(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    set_status(storage, "future", "quarantined", "name squatting", now=SINCE)
    add_wheel(tmp_path, "future", "1.0")
    refresh(storage, ["pkgs/future-1.0-py3-none-any.whl"])
    blob = storage.get("simple/future/index.json")
    assert blob is not None
    assert json.loads(blob.data)["files"] == []
    assert storage.get(quarantine_path("pkgs/future-1.0-py3-none-any.whl")) is not None


def test_an_unreadable_status_object_quarantines_and_is_reported(index: LocalStorage) -> None:
    (index.root / "status").mkdir()
    (index.root / "status/held.json").write_text("not json")
    report = refresh(index, [status_path("held")])
    assert [e.kind for e in report.errors] == ["invalid project status"]
    assert _page(index, "json").status is ProjectStatus.QUARANTINED


def test_upload_refuses_a_file_of_an_archived_project(index: LocalStorage, tmp_path: Path) -> None:
    _set(index, "archived", "done")
    dist = add_wheel(tmp_path / "dist", "held", "3.0", sub=".")
    results = upload(index, [dist])
    assert [(r.status, r.reason) for r in results] == [("archived", "archived: done")]
    assert not (index.root / "packages" / dist.name).exists()


def test_the_status_command(index: LocalStorage, capsys: pytest.CaptureFixture[str]) -> None:
    root = str(index.root)
    assert cli.main(["status", root, "Held", "quarantined", "--reason", "bad"]) == 0
    assert _page(index, "json").status is ProjectStatus.QUARANTINED
    assert "held: quarantined (bad)" in capsys.readouterr().out
    assert cli.main(["status", root, "held", "active"]) == 0
    assert _page(index, "json").status is None
    assert not (index.root / "status/held.json").exists()
    with pytest.raises(SystemExit):
        cli.main(["status", root, "held", "paused"])
    assert cli.main(["status", root, "not a name!", "archived"]) == 2


def _upload_cost(storage: LocalStorage, version: str) -> Counter[str]:
    add_wheel(storage.root, "held", version)
    counting = CountingStorage(storage)
    refresh(counting, [f"pkgs/held-{version}-py3-none-any.whl"])
    return counting.calls


def test_an_upload_costs_the_same_requests_with_a_status(index: LocalStorage) -> None:
    """The status lives in the state: an upload into a project with one reads nothing more."""
    plain = _upload_cost(index, "2.0")
    _set(index, "deprecated", "use other")
    assert _upload_cost(index, "3.0") == plain


def test_a_status_event_costs_one_read_more_than_a_page_refresh(index: LocalStorage) -> None:
    counting = CountingStorage(index)
    index.put(
        status_path("held"),
        status_document(Status("deprecated", None, "2022-01-01T00:00:00.000000Z")),
        content_type="application/json",
    )
    refresh(counting, [status_path("held")])
    # marker, state, status object; then the lease taken, state PUT, 3 pages, the lease
    # released, and the queue listed
    assert counting.calls["get"] == 3
    assert counting.calls["stat"] == 0
