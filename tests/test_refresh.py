"""Incremental refresh: what it writes, what it never touches, and how it survives races."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath

import pytest
from pypi_simple import ProjectPage

from pypapo.build import build
from pypapo.errors import CorruptStateError, DuplicateFileError, InvalidArchiveError
from pypapo.layout import ROOT_HTML, ROOT_JSON, page_path, state_path
from pypapo.lease import queue_prefix
from pypapo.plan import marker_path
from pypapo.refresh import refresh
from pypapo.roots import ROOT_QUEUE
from pypapo.storage import YANK_KEY
from pypapo.storage.counting import CountingStorage
from pypapo.storage.local import LocalStorage
from tests.support.tools import add_sdist, add_wheel


def _json(root: Path, project: str) -> dict[str, object]:
    data: dict[str, object] = json.loads((root / page_path(project, "json")).read_bytes())
    return data


def _page(root: Path, project: str) -> ProjectPage:
    html = (root / page_path(project, "html")).read_text()
    return ProjectPage.from_html(project, html, base_url=f"https://x/simple/{project}/")


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def test_new_upload_indexes_only_its_project(tmp_path: Path) -> None:
    add_wheel(tmp_path, "other", "1.0")
    build(LocalStorage(tmp_path))
    other_before = (tmp_path / page_path("other", "html")).stat().st_mtime_ns
    wheel = add_wheel(tmp_path, "New.Project", "1.0")
    storage = CountingStorage(LocalStorage(tmp_path))
    listed: list[str] = []
    storage.before = lambda method, path: listed.append(path) if method == "list" else None
    report = refresh(storage, [_rel(tmp_path, wheel)])
    assert report.errors == []
    assert report.projects == {"new-project"}
    # never reads the rest of the repository: lists only the hand-off queues of the root
    # pages (their lease was taken to list the new project) and of the project
    assert listed == [ROOT_QUEUE, queue_prefix("new-project")]
    assert (tmp_path / page_path("other", "html")).stat().st_mtime_ns == other_before
    assert json.loads((tmp_path / ROOT_JSON).read_bytes())["projects"] == [
        {"name": "new-project"},
        {"name": "other"},
    ]
    sidecar = wheel.with_name(wheel.name + ".metadata")
    assert sidecar.read_bytes().startswith(b"Metadata-Version: 2.3\nName: New.Project\n")


def test_upload_into_existing_project_costs_at_most_twelve_operations(tmp_path: Path) -> None:
    add_wheel(tmp_path, "proj", "1.0")
    build(LocalStorage(tmp_path))
    wheel = add_wheel(tmp_path, "proj", "1.1")
    storage = CountingStorage(LocalStorage(tmp_path))
    refresh(storage, [_rel(tmp_path, wheel)])
    # the lease taken (marker busy), state, sidecar, index.html, index.json, browse page,
    # the lease released (the marker's new digest)
    assert storage.calls["put"] == 7
    assert storage.calls["stream"] == 1
    assert storage.calls["read_range"] == 0
    assert storage.calls["delete"] == 0
    # gets: marker, state; a stat (no event described the object); the queue listed once
    assert storage.total <= 12, storage.calls
    assert storage.bytes_read <= wheel.stat().st_size + 64 * 1024


def test_duplicate_event_writes_nothing(tmp_path: Path) -> None:
    wheel = add_wheel(tmp_path, "proj", "1.0")
    refresh(LocalStorage(tmp_path), [_rel(tmp_path, wheel)])
    storage = CountingStorage(LocalStorage(tmp_path))
    report = refresh(storage, [_rel(tmp_path, wheel)])
    assert report.writes == 0
    assert storage.calls["put"] == storage.calls["delete"] == 0
    assert storage.calls["stream"] == 0  # the generation matched: nothing re-read


def test_a_redelivered_upload_event_reads_the_marker_the_state_a_stat_and_the_queue(
    tmp_path: Path,
) -> None:
    """At-least-once delivery: the event's description names a generation already indexed,
    so no lease is taken and the object is not read again (a stat re-reads its yank)."""
    wheel = _rel(tmp_path, add_wheel(tmp_path, "proj", "1.0"))
    refresh(LocalStorage(tmp_path), [wheel])
    storage = CountingStorage(LocalStorage(tmp_path))
    hint = storage.inner.stat(wheel)
    assert hint is not None
    report = refresh(storage, [wheel], hints={wheel: hint}, event_id="again")
    assert report.writes == 0
    assert storage.calls == {"get": 2, "stat": 1, "list": 1}


def test_retried_event_repairs_a_crashed_refresh(tmp_path: Path) -> None:
    wheel = add_wheel(tmp_path, "proj", "1.0")
    refresh(LocalStorage(tmp_path), [_rel(tmp_path, wheel)])
    expected = (tmp_path / page_path("proj", "json")).read_bytes()
    # as if killed before the last write: the marker went first, the page never came
    (tmp_path / page_path("proj", "json")).unlink()
    (tmp_path / marker_path("proj")).unlink()
    refresh(LocalStorage(tmp_path), [_rel(tmp_path, wheel)])
    assert (tmp_path / page_path("proj", "json")).read_bytes() == expected


def test_own_writes_are_ignored(tmp_path: Path) -> None:
    wheel = add_wheel(tmp_path, "proj", "1.0")
    refresh(LocalStorage(tmp_path), [_rel(tmp_path, wheel)])
    storage = CountingStorage(LocalStorage(tmp_path))
    own = [
        page_path("proj", "html"),
        state_path("proj"),
        ROOT_JSON,
        _rel(tmp_path, wheel) + ".metadata",
        "browse/proj/index.html",
        "notes.txt",
    ]
    report = refresh(storage, own)
    assert storage.total == 0
    assert sorted(report.ignored) == sorted(own)


def test_deleting_last_file_removes_project_and_root_pages(tmp_path: Path) -> None:
    wheel = add_wheel(tmp_path, "proj", "1.0")
    storage = LocalStorage(tmp_path)
    refresh(storage, [_rel(tmp_path, wheel)])
    wheel.unlink()
    refresh(storage, [_rel(tmp_path, wheel)])
    assert not (tmp_path / "simple" / "proj").exists()
    assert not (tmp_path / ROOT_JSON).exists()
    assert not (tmp_path / ROOT_HTML).exists()
    assert not wheel.with_name(wheel.name + ".metadata").exists()


def test_yank_and_unyank_show_on_both_pages(tmp_path: Path) -> None:
    wheel = add_wheel(tmp_path, "proj", "1.0")
    storage = LocalStorage(tmp_path)
    path = _rel(tmp_path, wheel)
    refresh(storage, [path])
    storage.set_metadata(path, YANK_KEY, 'bad <build> & "worse"')
    refresh(storage, [path])
    [dist] = _page(tmp_path, "proj").packages
    assert dist.is_yanked
    assert dist.yanked_reason == 'bad <build> & "worse"'
    assert b"&lt;build&gt;" in (tmp_path / page_path("proj", "html")).read_bytes()
    files = _json(tmp_path, "proj")["files"]
    assert isinstance(files, list)
    assert files[0]["yanked"] == 'bad <build> & "worse"'
    storage.set_metadata(path, YANK_KEY, None)
    refresh(storage, [path])
    assert not _page(tmp_path, "proj").packages[0].is_yanked


def test_overwrite_updates_hash_and_sidecar(tmp_path: Path) -> None:
    wheel = add_wheel(tmp_path, "proj", "1.0", summary="first")
    storage = LocalStorage(tmp_path)
    refresh(storage, [_rel(tmp_path, wheel)])
    add_wheel(tmp_path, "proj", "1.0", summary="second", requires_python=">=3.9")
    refresh(storage, [_rel(tmp_path, wheel)])
    [dist] = _page(tmp_path, "proj").packages
    assert dist.requires_python == ">=3.9"
    sidecar = wheel.with_name(wheel.name + ".metadata").read_bytes()
    assert b"Summary: second" in sidecar
    assert dist.metadata_digests == {"sha256": hashlib.sha256(sidecar).hexdigest()}
    assert dist.digests == {"sha256": hashlib.sha256(wheel.read_bytes()).hexdigest()}


def test_bad_file_is_reported_and_fixing_it_indexes_it(tmp_path: Path) -> None:
    good = add_wheel(tmp_path, "proj", "1.0")
    bad = tmp_path / "pkgs" / "proj-2.0-py3-none-any.whl"
    bad.write_bytes(b"\x00" * 10)
    storage = LocalStorage(tmp_path)
    report = refresh(storage, [_rel(tmp_path, good), _rel(tmp_path, bad)])
    [error] = report.errors
    assert isinstance(error, InvalidArchiveError)
    assert str(error).startswith("pkgs/proj-2.0-py3-none-any.whl: not a zip archive")
    assert [p.filename for p in _page(tmp_path, "proj").packages] == [good.name]
    add_wheel(tmp_path, "proj", "2.0")
    assert refresh(storage, [_rel(tmp_path, bad)]).errors == []
    assert len(_page(tmp_path, "proj").packages) == 2


def test_same_file_name_twice_serves_the_lowest_path(tmp_path: Path) -> None:
    first = add_wheel(tmp_path, "proj", "1.0", sub="a")
    second = add_wheel(tmp_path, "proj", "1.0", sub="b", summary="other bytes")
    storage = LocalStorage(tmp_path)
    report = refresh(storage, [_rel(tmp_path, second), _rel(tmp_path, first)])
    [error] = report.errors
    assert isinstance(error, DuplicateFileError)
    assert error.path == "b/proj-1.0-py3-none-any.whl"
    assert _page(tmp_path, "proj").packages[0].url.endswith("/a/proj-1.0-py3-none-any.whl")
    first.unlink()
    refresh(storage, [_rel(tmp_path, first)])
    assert _page(tmp_path, "proj").packages[0].url.endswith("/b/proj-1.0-py3-none-any.whl")


def test_an_event_meeting_a_publisher_hands_its_file_over(tmp_path: Path) -> None:
    """The second event finds the project's lease held: it queues its path and returns; the
    holder drains the queue after releasing, so no update is lost and nobody retries."""
    one = _rel(tmp_path, add_wheel(tmp_path, "proj", "1.0"))
    two = _rel(tmp_path, add_sdist(tmp_path, "proj", "1.1"))
    storage = CountingStorage(LocalStorage(tmp_path))
    handed_over = threading.Event()

    def hold_the_holder(method: str, path: str) -> None:
        if method == "put" and path == state_path("proj"):
            assert handed_over.wait(10)  # the holder is mid-publish while the second event runs

    storage.before = hold_the_holder
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(refresh, storage, [one], event_id="one")
        marker = tmp_path / marker_path("proj")
        while not marker.exists() or not marker.read_bytes().startswith(b"busy"):
            time.sleep(0.001)  # the lease is taken before the state is written
        reports = [refresh(storage, [two], event_id="two")]
        handed_over.set()
        reports.insert(0, first.result())
    assert reports[1].handed_off == {"proj"}
    assert sum(r.conflicts for r in reports) == 0
    names = sorted(p.filename for p in _page(tmp_path, "proj").packages)
    assert names == sorted([PurePosixPath(one).name, PurePosixPath(two).name])
    assert list(storage.list(queue_prefix("proj"))) == []


@pytest.mark.parametrize("threads", [4, 8])
def test_many_concurrent_refreshes_of_one_project(tmp_path: Path, threads: int) -> None:
    paths = [_rel(tmp_path, add_wheel(tmp_path, "proj", f"1.{i}")) for i in range(24)]
    storage = LocalStorage(tmp_path)
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda p: refresh(storage, [p]), paths * 2))
    assert len(_page(tmp_path, "proj").packages) == 24
    before = {p: (tmp_path / p).read_bytes() for p in ("simple/proj/index.html", ROOT_JSON)}
    build(storage)
    assert before == {p: (tmp_path / p).read_bytes() for p in before}


@pytest.mark.parametrize(
    "garbage", [b"not json", b'{"format": 99}', b'{"format":1,"name":"other","records":[]}']
)
def test_corrupt_state_is_reported_and_build_repairs_it(tmp_path: Path, garbage: bytes) -> None:
    wheel = add_wheel(tmp_path, "proj", "1.0")
    other = add_wheel(tmp_path, "fine", "1.0")
    storage = LocalStorage(tmp_path)
    build(storage)
    expected = (tmp_path / page_path("proj", "json")).read_bytes()
    (tmp_path / state_path("proj")).write_bytes(garbage)
    report = refresh(storage, [_rel(tmp_path, wheel), _rel(tmp_path, other)])
    [error] = report.errors
    assert error.path == state_path("proj")
    assert "run `pypapo build`" in error.reason
    assert report.projects == {"fine"}  # the other project was still refreshed
    assert build(storage).errors == []
    assert (tmp_path / page_path("proj", "json")).read_bytes() == expected
    assert refresh(storage, [_rel(tmp_path, wheel)]).errors == []


def test_an_events_description_saves_the_stat_of_a_new_upload(tmp_path: Path) -> None:
    add_wheel(tmp_path, "proj", "1.0")
    build(LocalStorage(tmp_path))
    path = _rel(tmp_path, add_wheel(tmp_path, "proj", "1.1"))
    hint = LocalStorage(tmp_path).stat(path)
    assert hint is not None
    storage = CountingStorage(LocalStorage(tmp_path))
    assert refresh(storage, [path], hints={path: hint}).errors == []
    assert storage.calls["stat"] == 0
    assert storage.total <= 11, storage.calls
    assert [p.version for p in _page(tmp_path, "proj").packages] == ["1.0", "1.1"]


def test_a_stale_events_description_is_not_indexed(tmp_path: Path) -> None:
    """An event delivered after the object was overwritten names a generation that is gone:
    the pinned read fails and the object is looked at as it is now."""
    wheel = add_wheel(tmp_path, "proj", "1.0", summary="first")
    storage = LocalStorage(tmp_path)
    path = _rel(tmp_path, wheel)
    stale = storage.stat(path)
    assert stale is not None
    add_wheel(tmp_path, "proj", "1.0", summary="second")
    report = refresh(storage, [path], hints={path: stale})
    assert report.errors == []
    sidecar = wheel.with_name(wheel.name + ".metadata").read_bytes()
    assert b"Summary: second" in sidecar
    [dist] = _page(tmp_path, "proj").packages
    assert dist.digests == {"sha256": hashlib.sha256(wheel.read_bytes()).hexdigest()}
    [record] = json.loads((tmp_path / state_path("proj")).read_bytes())["records"]
    assert record["generation"] == storage.stat(path).generation != stale.generation  # type: ignore[union-attr]
    # and an event for a file deleted since then indexes nothing
    deleted = _rel(tmp_path, add_wheel(tmp_path, "proj", "2.0"))
    hint = storage.stat(deleted)
    assert hint is not None
    (tmp_path / deleted).unlink()
    refresh(storage, [deleted], hints={deleted: hint})
    assert [p.version for p in _page(tmp_path, "proj").packages] == ["1.0"]


def test_an_old_description_of_an_indexed_file_does_not_undo_a_yank(tmp_path: Path) -> None:
    """A late finalized event carries the metadata from before a yank: for a generation the
    state already has, refresh stats instead of believing it."""
    wheel = add_wheel(tmp_path, "proj", "1.0")
    storage = LocalStorage(tmp_path)
    path = _rel(tmp_path, wheel)
    before_yank = storage.stat(path)
    assert before_yank is not None
    storage.set_metadata(path, YANK_KEY, "broken")
    refresh(storage, [path])
    refresh(storage, [path], hints={path: before_yank})
    assert _page(tmp_path, "proj").packages[0].yanked_reason == "broken"


@pytest.mark.parametrize(
    ("spelling", "kind"),
    [
        ("Proj-1.0-py3-none-any.whl", "wheel"),  # case
        ("proj-1.0.0-py3-none-any.whl", "wheel"),  # the same version, written longer
        ("proj-1.0-py3-none-any.whl", "wheel"),  # the very same name
        ("PROJ-1.0.tar.gz", "sdist"),
        ("proj-1.0.0.tar.gz", "sdist"),
    ],
)
def test_one_distribution_under_two_spellings_is_served_once(
    tmp_path: Path, spelling: str, kind: str
) -> None:
    """An installer treats both names as one file; serving both would offer it two."""
    first = (add_wheel if kind == "wheel" else add_sdist)(tmp_path, "proj", "1.0", sub="a")
    other = tmp_path / "b" / spelling
    other.parent.mkdir()
    other.write_bytes(first.read_bytes())
    report = refresh(LocalStorage(tmp_path), [_rel(tmp_path, other), _rel(tmp_path, first)])
    [error] = report.errors
    assert isinstance(error, DuplicateFileError)
    assert error.path == f"b/{spelling}"
    assert repr(_rel(tmp_path, first)) in error.reason
    [dist] = _page(tmp_path, "proj").packages
    assert dist.url.endswith(f"/a/{first.name}")
    assert len(_json(tmp_path, "proj")["files"]) == 1  # type: ignore[arg-type]


def test_different_tags_are_different_files(tmp_path: Path) -> None:
    first = add_wheel(tmp_path, "proj", "1.0")
    other = first.with_name("proj-1.0-py2.py3-none-any.whl")
    other.write_bytes(first.read_bytes())
    report = refresh(LocalStorage(tmp_path), [_rel(tmp_path, first), _rel(tmp_path, other)])
    assert report.errors == []
    assert len(_page(tmp_path, "proj").packages) == 2


def test_a_state_naming_a_file_now_rejected_is_rebuilt(tmp_path: Path) -> None:
    """A state written by an older pypapo may hold a file name today's rules reject. It is not
    a state today's pypapo writes, so a refresh reports it as corrupt (the pages stay as they
    were) and a build rebuilds it from the files."""
    wheel = add_wheel(tmp_path, "proj", "1.0")
    storage = LocalStorage(tmp_path)
    refresh(storage, [_rel(tmp_path, wheel)])
    state = json.loads((tmp_path / state_path("proj")).read_bytes())
    odd = dict(state["records"][0], path="old/prój-1.0.tar.gz", filename="prój-1.0.tar.gz")
    state["records"].append(odd)
    (tmp_path / state_path("proj")).write_text(json.dumps(state))
    add_wheel(tmp_path, "proj", "1.1")
    report = refresh(storage, [f"pkgs/{wheel.name.replace('1.0', '1.1')}"])
    [error] = report.errors
    assert isinstance(error, CorruptStateError)
    assert "'old/prój-1.0.tar.gz': invalid project name" in error.reason
    assert len(_page(tmp_path, "proj").packages) == 1
    build(storage)  # the odd object is gone: its record goes, the new file comes
    assert len(_page(tmp_path, "proj").packages) == 2


class _Remote(CountingStorage):
    """A folder taken for a network storage: a refresh sends independent calls at once."""

    waits_on_network = True


@pytest.mark.parametrize("remote", [True, False], ids=["at-once", "in-turn"])
@pytest.mark.parametrize("described", [True, False], ids=["event", "command-line"])
def test_a_root_page_names_a_new_project_only_once_its_pages_and_sidecar_are_in_place(
    tmp_path: Path, described: bool, remote: bool
) -> None:
    """A client that finds a name in a root page follows it at once (the JSON root to the
    project's JSON page): the root pages are written meanwhile, but never before."""
    add_wheel(tmp_path, "old", "1.0")
    storage = LocalStorage(tmp_path)
    build(storage)
    wheel = add_wheel(tmp_path, "fresh", "1.0").relative_to(tmp_path).as_posix()
    own = [
        wheel + ".metadata",
        page_path("fresh", "html"),
        page_path("fresh", "json"),
        "browse/fresh/index.html",
    ]
    missing: dict[str, list[str]] = {}
    counting = _Remote(storage) if remote else CountingStorage(storage)

    def before(method: str, path: str) -> None:
        if method == "put" and path in (ROOT_JSON, ROOT_HTML, "browse/index.html"):
            missing[path] = [p for p in own if not (tmp_path / p).exists()]

    counting.before = before
    hint = storage.stat(wheel) if described else None
    refresh(counting, [wheel], hints={wheel: hint} if hint is not None else None)
    assert sorted(missing) == sorted([ROOT_JSON, ROOT_HTML, "browse/index.html"])
    assert all(not absent for absent in missing.values()), missing
