"""Full builds: deterministic, idempotent, repairing, and never stopped by one bad file."""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import pytest
from pypi_simple import ProjectPage

from pypapo.build import Shard, _root_names, build, executor
from pypapo.layout import ROOT_JSON, page_path, state_path
from pypapo.storage.counting import CountingStorage
from pypapo.storage.local import LocalStorage
from tests.support.installs import make_corpus
from tests.support.tools import add_sdist, add_wheel


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ("simple" in p.parts or p.name.endswith(".metadata"))
    }


def _corpus(root: Path) -> None:
    add_wheel(root, "Alpha", "1.0", requires_dist=["beta"])
    add_wheel(root, "Alpha", "1.1", requires_python=">=3.10")
    add_sdist(root, "Alpha", "1.1")
    add_wheel(root, "beta", "2.0", sub="x/y")
    add_sdist(root, "gamma.delta", "0.1", metadata_version="2.1")
    (root / "pkgs" / "README.txt").write_text("not a distribution")
    (root / "pkgs" / "broken-1.0-py3-none-any.whl").write_bytes(b"PK\x03\x04broken")


def test_build_is_deterministic_and_idempotent(tmp_path: Path) -> None:
    _corpus(tmp_path)
    first = build(LocalStorage(tmp_path))
    assert first.projects == {"alpha", "beta", "gamma-delta"}
    assert first.files == 5
    assert [e.path for e in first.errors] == ["pkgs/broken-1.0-py3-none-any.whl"]
    pages = _tree(tmp_path)
    storage = CountingStorage(LocalStorage(tmp_path))
    second = build(storage)
    assert second.writes == 0
    assert storage.calls["put"] == 0
    assert storage.calls["stream"] == 1  # only the bad file is re-read; indexed ones are cached
    assert _tree(tmp_path) == pages


def test_build_of_a_copy_gives_identical_pages(tmp_path: Path) -> None:
    _corpus(tmp_path / "a")
    shutil.copytree(tmp_path / "a", tmp_path / "b")  # same bytes and mtimes: same upload times
    build(LocalStorage(tmp_path / "a"))
    build(LocalStorage(tmp_path / "b"))
    a = {k: v for k, v in _tree(tmp_path / "a").items() if not k.endswith(".state.json")}
    b = {k: v for k, v in _tree(tmp_path / "b").items() if not k.endswith(".state.json")}
    assert a == b
    assert any(k.endswith("/index.json") for k in a)  # pages, not just files, compared


def test_every_advertised_sidecar_exists_and_matches(tmp_path: Path) -> None:
    _corpus(tmp_path)
    build(LocalStorage(tmp_path))
    checked = 0
    for project in ("alpha", "beta", "gamma-delta"):
        html = (tmp_path / page_path(project, "html")).read_text()
        page = ProjectPage.from_html(project, html, base_url=f"file://{tmp_path}/simple/{project}/")
        for package in page.packages:
            sidecar = Path(package.url.removeprefix("file://") + ".metadata")
            if package.has_metadata:
                digest = hashlib.sha256(sidecar.read_bytes()).hexdigest()
                assert package.metadata_digests == {"sha256": digest}
                checked += 1
            else:
                assert not sidecar.exists()
    assert checked == 4  # three wheels and the 2.3 sdist; the 2.1 sdist has none


def test_build_repairs_damage(tmp_path: Path) -> None:
    _corpus(tmp_path)
    build(LocalStorage(tmp_path))
    pages = _tree(tmp_path)
    (tmp_path / page_path("alpha", "html")).write_text("torn")
    (tmp_path / page_path("beta", "json")).unlink()
    next((tmp_path / "pkgs").glob("alpha-1.0-*.metadata")).write_bytes(b"wrong")
    (tmp_path / ROOT_JSON).write_text('{"meta":{"api-version":"1.1"},"projects":[]}')
    report = build(LocalStorage(tmp_path))
    # alpha's page and sidecar; beta's page; the three root pages (the HTML pages follow the
    # JSON page they are rendered from); the markers went busy and came back as they were
    assert report.writes == 6
    assert _tree(tmp_path) == pages


def test_build_removes_projects_whose_files_vanished(tmp_path: Path) -> None:
    _corpus(tmp_path)
    build(LocalStorage(tmp_path))
    for wheel in (tmp_path / "x").rglob("beta-*"):
        wheel.unlink()
    build(LocalStorage(tmp_path))
    assert not (tmp_path / "simple" / "beta").exists()
    names = [p["name"] for p in json.loads((tmp_path / ROOT_JSON).read_bytes())["projects"]]
    assert names == ["alpha", "gamma-delta"]
    assert not list((tmp_path / "x").rglob("*.metadata"))


def test_empty_folder_builds_nothing(tmp_path: Path) -> None:
    report = build(LocalStorage(tmp_path))
    assert (report.projects, report.files, report.errors) == (set(), 0, [])
    assert not (tmp_path / "simple").exists()


def test_worker_processes_build_the_same_bytes_as_threads(tmp_path: Path) -> None:
    """A folder's build forks workers; reports (bad files included) come back through pickling,
    and the pages are the ones a threaded build writes."""
    roots = [tmp_path / "threads", tmp_path / "processes"]
    make_corpus(roots[0])
    (roots[0] / "pkgs" / "broken-1.0-py3-none-any.whl").write_bytes(b"not a zip")
    shutil.copytree(roots[0], roots[1])  # the same files, mtimes (upload times) included
    pool = executor(2, processes=True)
    assert isinstance(pool, ProcessPoolExecutor)
    pool.shutdown()
    threads = build(LocalStorage(roots[0]), workers=2)
    processes = build(LocalStorage(roots[1]), workers=2, processes=True)
    assert [(e.kind, e.path, e.reason) for e in processes.errors] == [
        (e.kind, e.path, e.reason) for e in threads.errors
    ]
    assert [e.path for e in processes.errors] == ["pkgs/broken-1.0-py3-none-any.whl"]
    assert (processes.files, processes.projects) == (threads.files, threads.projects)
    assert _everything_but_states(roots[0]) == _everything_but_states(roots[1])


def test_no_fork_while_other_threads_run() -> None:
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert isinstance(executor(2, processes=True), ThreadPoolExecutor)
    finally:
        stop.set()
        other.join()
    assert isinstance(executor(1, processes=True), ThreadPoolExecutor)


def _everything_but_states(root: Path) -> dict[str, bytes]:
    """Every file but the states (theirs name each file's inode, which a copy changes)."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and p.name != ".state.json"
    }


def test_build_rewrites_a_state_in_an_older_encoding(tmp_path: Path) -> None:
    """Equal content, other bytes (an older pypapo indented its states): a build converges to
    the bytes a fresh build writes, and then writes nothing."""
    add_wheel(tmp_path, "proj", "1.0")
    storage = LocalStorage(tmp_path)
    build(storage)
    state = tmp_path / "simple" / "proj" / ".state.json"
    fresh = state.read_bytes()
    state.write_text(json.dumps(json.loads(fresh), indent=1, sort_keys=True) + "\n")
    assert build(storage).writes == 1
    assert state.read_bytes() == fresh
    assert build(storage).writes == 0


@pytest.mark.parametrize("processes", [False, True], ids=["threads", "processes"])
def test_an_interrupted_build_stops_soon_and_the_next_one_finishes(
    tmp_path: Path, processes: bool
) -> None:
    for i in range(200):
        add_wheel(tmp_path, f"p{i:03d}", "1.0")
    storage = LocalStorage(tmp_path)

    def interrupt(done: int, total: int) -> None:
        raise KeyboardInterrupt  # what Ctrl-C raises in the main thread

    with pytest.raises(KeyboardInterrupt):
        build(storage, workers=2, progress=interrupt, processes=processes)
    indexed = len(list((tmp_path / "simple").glob("*/index.json")))
    assert 0 < indexed < 200  # projects not yet started were not started
    assert build(storage).files == 200
    assert len(list((tmp_path / "simple").glob("*/index.json"))) == 200


def test_orphan_sidecars_go_even_when_no_project_can_own_their_name(tmp_path: Path) -> None:
    _corpus(tmp_path)
    stray = tmp_path / "pkgs" / "noversion.whl.metadata"
    owned = tmp_path / "pkgs" / "alpha-9.9-py3-none-any.whl.metadata"
    stray.write_bytes(b"orphan")
    owned.write_bytes(b"orphan")
    build(LocalStorage(tmp_path))
    assert not stray.exists()
    assert not owned.exists()


def test_a_shard_settles_only_its_own_names_in_the_root_pages(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    storage.put(state_path("made-since"), b"{}", content_type="application/json")
    listed = frozenset({"mine", "made-since", "gone", "theirs"})
    whole = _root_names(storage, Shard(), frozenset({"mine"}), listed)
    # a project a refresh created after the build looked stays; one without a state goes
    assert whole == {"mine", "made-since"}
    shard = next(Shard(i, 2) for i in range(2) if Shard(i, 2).owns("mine"))
    others = {n for n in listed if not shard.owns(n)}
    assert _root_names(storage, shard, frozenset({"mine"}), listed) >= others | {"mine"}
