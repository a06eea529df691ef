"""Every kind of hostile or broken upload (tests/badcorpus.py) through a local ``build`` and a
local ``refresh``: no crash, exactly one error naming the object and the reason, the healthy
projects untouched, and every page valid (pypi-simple) and free of injected markup.

``page_problems`` and ``index_pages`` are shared with the GCS and crash-safety tests.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from pathlib import Path

import pytest
from pypi_simple import ProjectPage

from pypapo.build import build
from pypapo.cli import main
from pypapo.errors import BadDistributionError, InputError
from pypapo.layout import (
    is_own_write,
    sidecar_path,
    unserved_distribution_reason,
)
from pypapo.refresh import refresh
from pypapo.report import Report
from pypapo.sample import SampleProject
from pypapo.storage.local import LocalStorage
from tests.support import badcorpus
from tests.support.badcorpus import (
    BASELINE_PROJECTS,
    BUCKET_ONLY_KINDS,
    GOOD_WHEEL,
    KINDS,
    SLOW_KINDS,
    Case,
)
from tests.support.page_checks import (
    REPAIRED_BY_BUILD,
    all_page_problems,
    index_pages,
    page_problems,
    project_pages,
)

# -- shared checks -------------------------------------------------------------------------


def assert_reported(report: Report, case: Case) -> None:
    """Exactly one structured error, naming the object and containing the expected reason."""
    if case.expected is None:
        assert report.errors == [], [str(e) for e in report.errors]
        return
    assert len(report.errors) == 1, [str(e) for e in report.errors]
    [error] = report.errors
    assert isinstance(error, InputError)
    assert type(error) not in (InputError, BadDistributionError)  # a kind of its own
    assert error.path == case.path
    assert case.expected in error.reason
    assert str(error) == f"{case.path}: {error.reason}"


# -- fixtures ------------------------------------------------------------------------------


def _write(root: Path, objects: Iterable[tuple[str, bytes]]) -> None:
    for path, data in objects:
        target = root.joinpath(*path.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


@pytest.fixture(scope="module")
def baseline_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The healthy index alone, built: what every case must leave its projects looking like."""
    root = tmp_path_factory.mktemp("baseline")
    _write(root, badcorpus.baseline())
    assert build(LocalStorage(root)).errors == []
    return root


@pytest.fixture(scope="module")
def reference(baseline_root: Path) -> dict[str, bytes]:
    return project_pages(index_pages(LocalStorage(baseline_root)), BASELINE_PROJECTS)


def _copy_baseline(baseline_root: Path, dest: Path) -> Path:
    # copy2 keeps mtimes, so upload times (and pages) match the reference byte for byte
    shutil.copytree(baseline_root, dest, copy_function=shutil.copy2)
    return dest


def _kinds(*, local_only: bool = False) -> list[object]:
    return [
        pytest.param(kind, marks=pytest.mark.slow) if kind in SLOW_KINDS else kind
        for kind in KINDS
        if kind not in BUCKET_ONLY_KINDS or not local_only
    ]


@pytest.mark.slow
def test_bucket_only_kinds_are_the_ones_a_folder_cannot_hold() -> None:
    # collection reads BUCKET_ONLY_KINDS instead of building every case (seconds of bombs)
    assert {kind for kind, make in KINDS.items() if not make().local} == BUCKET_ONLY_KINDS


# -- per-kind checks -----------------------------------------------------------------------


def _after(kind: str, case: Case, root: Path, pages: dict[str, bytes], *, built: bool) -> None:
    """What each accepted or repaired kind must look like afterwards."""
    storage = LocalStorage(root)
    if kind == "forged_sidecar" and built:
        wheel = storage.stat(GOOD_WHEEL)
        assert wheel is not None
        real = SampleProject("good", "1.0", requires_python=">=3.8").metadata()
        assert (root / sidecar_path(GOOD_WHEEL)).read_bytes() == real
    if kind == "orphan_sidecar" and built:
        assert not (root / case.path).exists()
    if kind == "requires_python_with_angle_brackets":
        page = ProjectPage.from_html("angles", pages["simple/angles/index.html"])
        assert [p.requires_python for p in page.packages] == [">=3.8,<4"]
        assert b'data-requires-python="&gt;=3.8,&lt;4"' in pages["simple/angles/index.html"]
    if kind == "html_in_summary":
        assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in pages["browse/xsssum/index.html"]
    if kind == "html_in_yank_reason":
        page = ProjectPage.from_html("xssyank", pages["simple/xssyank/index.html"])
        assert [p.yanked_reason for p in page.packages] == [f"{badcorpus.SCRIPT} & more"]
    if kind == "html_in_directory_name":
        page = ProjectPage.from_json_data(json.loads(pages["simple/xssdir/index.json"]))
        assert page.packages[0].url.startswith("../../up/%22%3E%3Cscript%3Ealert%281%29%3C/")
    if kind == "spaces_and_unicode_in_path":
        page = ProjectPage.from_json_data(json.loads(pages["simple/spaced/index.json"]))
        assert page.packages[0].url == "../../team%20a/%C3%BC%20%E6%96%87%E4%BB%B6/" + (
            "spaced-1.0-py3-none-any.whl"
        )
    if kind == "long_project_name":
        assert f"simple/{'l' * 200}/index.json" in pages
    if kind == "zip_bomb_member":
        assert "simple/zeros/index.json" in pages
    if kind == "thousands_of_files":
        page = ProjectPage.from_json_data(json.loads(pages["simple/many/index.json"]))
        assert len(page.packages) == 2000
    if kind in {"upload_into_simple", "upload_into_browse"}:
        assert not any(p.startswith(("simple/intruder/", "browse/browser/")) for p in pages)


@pytest.mark.parametrize("kind", _kinds(local_only=True))  # the others: test_bad_input_gcs
def test_build(kind: str, baseline_root: Path, reference: dict[str, bytes], tmp_path: Path) -> None:
    case = KINDS[kind]()
    root = _copy_baseline(baseline_root, tmp_path / "index")
    _write(root, [(case.path, case.data), *case.extra])
    storage = LocalStorage(root)
    report = build(storage)
    assert_reported(report, case)
    pages = index_pages(storage)
    assert all_page_problems(pages) == []
    assert project_pages(pages, BASELINE_PROJECTS) == reference
    _after(kind, case, root, pages, built=True)
    assert build(storage).writes == 0  # a second build finds nothing to fix


@pytest.mark.parametrize("kind", _kinds())
def test_refresh(
    kind: str, baseline_root: Path, reference: dict[str, bytes], tmp_path: Path
) -> None:
    case = KINDS[kind]()
    root = _copy_baseline(baseline_root, tmp_path / "index")
    if case.local:
        _write(root, [(case.path, case.data), *case.extra])
    storage = LocalStorage(root)
    report = refresh(storage, [case.path, *(p for p, _ in case.extra)])
    assert_reported(report, case)
    pages = index_pages(storage)
    if kind in REPAIRED_BY_BUILD or kind == "not_a_distribution_suffix":
        assert case.path in report.ignored  # pypapo's own namespace, or not a distribution
    if kind not in REPAIRED_BY_BUILD:  # those stay forged until the next build (or check --fix)
        assert all_page_problems(pages) == []
        assert project_pages(pages, BASELINE_PROJECTS) == reference
    _after(kind, case, root, pages, built=False)
    if not case.local:
        return
    # the refreshed index is what a from-scratch build of the same files gives
    scratch = tmp_path / "scratch"
    shutil.copytree(
        root, scratch, copy_function=shutil.copy2, ignore=shutil.ignore_patterns("simple", "browse")
    )
    build(LocalStorage(scratch))
    build(storage)  # repairs what a refresh may not (forged pages and sidecars)
    assert index_pages(storage) == index_pages(LocalStorage(scratch))
    assert all_page_problems(index_pages(storage)) == []


def test_every_kind_at_once_through_the_cli(
    baseline_root: Path,
    reference: dict[str, bytes],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """One build over all local kinds together: each reported once, on its own line."""
    root = _copy_baseline(baseline_root, tmp_path / "index")
    cases = [KINDS[k]() for k in KINDS if k not in SLOW_KINDS]
    for case in cases:
        if case.local:
            _write(root, [(case.path, case.data), *case.extra])
    assert main(["build", str(root)]) == 1
    err = capsys.readouterr().err.splitlines()
    expected = [c for c in cases if c.local and c.expected is not None]
    # formats the index does not serve are no bad files, but the CLI says it skipped them
    unserved = [c for c in cases if c.local and unserved_distribution_reason(c.path)]
    assert unserved  # the corpus has one, so the count below is about something
    assert len(err) == len(expected) + len(unserved)
    for case in expected:
        [line] = [line for line in err if line.startswith(f"skipped {case.path}: ")]
        assert case.expected is not None and case.expected in line
    pages = index_pages(LocalStorage(root))
    assert all_page_problems(pages) == []
    assert project_pages(pages, BASELINE_PROJECTS) == reference


def test_corpus_has_enough_kinds() -> None:
    assert len(KINDS) >= 30
    rejected = [k for k in KINDS if KINDS[k]().expected is not None]
    assert len(rejected) >= 30


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("simple/x/index.html", b"<!DOCTYPE html><html><body><script>x</script></body></html>"),
        ("browse/x/index.html", b'<!DOCTYPE html><html><body><a onclick="x">a</a></body></html>'),
        ("browse/index.html", b'<!DOCTYPE html><html><a href="javascript:x">a</a></html>'),
        ("simple/x/index.html", b"<!DOCTYPE html><html><body><a href="),
        ("simple/x/index.json", b'{"meta": {"api-version": "1.1"}, "name": "x", "files": [{'),
        (
            "simple/x/index.json",
            b'{"meta":{"api-version":"1.1"},"name":"x","files":[{"filename"'
            b':"x-1.0.tar.gz","url":"https://evil/x-1.0.tar.gz","hashes":{}}]}',
        ),
    ],
)
def test_page_checks_can_fail(path: str, data: bytes) -> None:
    """The checks above catch injected markup, torn pages and absolute links."""
    assert page_problems(path, data) != []


def test_own_writes_are_recognised() -> None:
    """The corpus's reserved-namespace kinds are pypapo's own paths, as the function sees them."""
    for kind in ("upload_into_simple", "upload_into_browse", *sorted(REPAIRED_BY_BUILD)):
        assert is_own_write(KINDS[kind]().path)
