"""``pypapo mirror``: full and partial copies, from a folder and from the GCS emulator, checked
link by link; the resolver's table; incremental runs; requirements files; ``pypapo wait``."""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from pypapo import render
from pypapo.build import build
from pypapo.cli import main
from pypapo.layout import TMP_PREFIX
from pypapo.mirror import MirrorError, mirror
from pypapo.model import ProjectState
from pypapo.pages import object_path, records_of_page
from pypapo.requirements import logical_lines, read_requirement_files
from pypapo.storage import Storage
from pypapo.storage.counting import CountingStorage
from pypapo.storage.gcs import GCSStorage
from pypapo.storage.local import LocalStorage
from pypapo.wait import wait_for
from tests.support.gcs_emulator import PREFIX, Emulator
from tests.support.mirror_source import PROJECTS, check_links, make_source
from tests.support.tools import run_pypapo


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_full_mirror_copies_pages_byte_for_byte(source: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    report = mirror(LocalStorage(source), dest)
    assert report.problems == []
    assert check_links(dest) == PROJECTS == report.projects
    for page in (source / "simple").rglob("index.*"):
        assert (dest / page.relative_to(source)).read_bytes() == page.read_bytes()
    wanted = {  # neither the private files (.state.json, .published, .yanked) nor browse/
        p
        for p in _files(source)
        if not posixpath.basename(p).startswith(".")
        and not p.endswith(".yanked")
        and not p.startswith("browse/")
    }
    assert _files(dest) == wanted
    assert len(report.copied) == 15


def test_pages_round_trip_through_their_records(source: Path) -> None:
    """A pruned page is rendered from the records read off the source's JSON page; with nothing
    pruned that rendering is the source's page, byte for byte."""
    for page in (source / "simple").glob("*/index.json"):
        name, files = records_of_page(page.read_bytes())
        state = ProjectState.of(name, [f.record for f in files])
        assert render.project_json(state) == page.read_bytes()
        assert render.project_html(state) == (page.parent / "index.html").read_bytes()


def test_partial_mirror_copies_what_requirements_need(source: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    report = mirror(LocalStorage(source), dest, [Requirement("app"), Requirement("yankee")])
    assert report.problems == []
    assert check_links(dest) == {"app", "lib-core", "yankee"} == report.projects
    assert _files(dest) == {
        "pkgs/app-1.0-py3-none-any.whl",
        "pkgs/app-1.0-py3-none-any.whl.metadata",
        "libs/lib_core-1.0-py3-none-any.whl",
        "libs/lib_core-1.0-py3-none-any.whl.metadata",
        "pkgs/yankee-1.0-py3-none-any.whl",
        "pkgs/yankee-1.0-py3-none-any.whl.metadata",
        "simple/index.html",
        "simple/index.json",
        *(f"simple/{p}/index.{f}" for p in ("app", "lib-core", "yankee") for f in ("html", "json")),
    }
    page = json.loads((dest / "simple" / "yankee" / "index.json").read_bytes())
    assert [f["filename"] for f in page["files"]] == ["yankee-1.0-py3-none-any.whl"]
    assert page["versions"] == ["1.0"]


@pytest.mark.parametrize(
    ("requirements", "versions"),
    [
        (["yankee"], {"yankee": "1.0"}),  # 2.0 is yanked
        (["yankee==2.0"], {"yankee": "2.0"}),  # ... unless pinned exactly
        (["yankee>1"], {}),
        (["py-limits"], {"py-limits": "1.0"}),  # 2.0 requires Python >= 4
        (["withextra"], {"withextra": "1.0"}),
        (["withextra[fast]"], {"withextra": "1.0", "extra-dep": "1.0"}),
        (["Lib.Core<1"], {"lib-core": "0.9"}),
        (['unused; python_version < "3"'], {}),
        (["cyc-a"], {"cyc-a": "1.0", "cyc-b": "1.0"}),  # a cycle through an extra ends
        (["only-sdist"], {"only-sdist": "1.5"}),
    ],
)
def test_resolution(
    source: Path, tmp_path: Path, requirements: list[str], versions: dict[str, str]
) -> None:
    dest = tmp_path / "d"
    report = mirror(LocalStorage(source), dest, [Requirement(r) for r in requirements])
    assert report.projects == set(versions)
    for name, version in versions.items():
        page = json.loads((dest / "simple" / name / "index.json").read_bytes())
        assert page["versions"] == [version]
    check_links(dest)


@pytest.mark.parametrize(("python", "pulled"), [("3.11", True), ("3.12.1", False)])
def test_markers_follow_python_version(
    source: Path, tmp_path: Path, python: str, pulled: bool
) -> None:
    report = mirror(LocalStorage(source), tmp_path / "d", [Requirement("old-py")],
                    python_version=python)  # fmt: skip
    assert ("unused" in report.projects) is pulled


def test_constraints_narrow_without_adding(source: Path, tmp_path: Path) -> None:
    report = mirror(LocalStorage(source), tmp_path / "d", [Requirement("app")],
                    constraints=[Requirement("lib-core<1"), Requirement("unused")])  # fmt: skip
    assert report.projects == {"app"}  # the constraint excludes what app needs; unused is not added
    assert len(report.problems) == 1
    assert report.problems[0].startswith("no version of lib-core in the index matches <1,>=1.0")


def test_problems_and_notes(source: Path, tmp_path: Path) -> None:
    report = mirror(
        LocalStorage(source),
        tmp_path / "d",
        [Requirement("nope>=1"), Requirement("yankee>=3"), Requirement("dyn")],
    )
    assert report.notes == [
        "nope is not in this index (left to other indexes)",
        "dyn 1.0: no metadata sidecar (sdist with dynamic metadata), its dependencies are not "
        "followed",
    ]
    assert len(report.problems) == 1
    assert report.problems[0].startswith("no version of yankee in the index matches >=3 (Python ")
    assert report.projects == {"dyn"}


def test_a_file_changed_after_indexing_is_reported_not_copied(source: Path, tmp_path: Path) -> None:
    (source / "libs" / "lib_core-1.0-py3-none-any.whl").write_bytes(b"not the indexed file")
    dest = tmp_path / "d"
    report = mirror(LocalStorage(source), dest, [Requirement("app")])
    assert report.problems == [
        "libs/lib_core-1.0-py3-none-any.whl: sha256 differs from the page's (overwritten since "
        "it was indexed? run pypapo check)"
    ]
    assert report.projects == {"app"}  # lib-core's page is not written: it would link nothing
    assert not (dest / "libs" / "lib_core-1.0-py3-none-any.whl").exists()
    assert not list(dest.rglob(".pypapo-tmp-*"))
    check_links(dest)


def test_no_index_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(MirrorError, match=r"no index in .*run pypapo build"):
        mirror(LocalStorage(tmp_path), tmp_path / "d", [Requirement("x")])


def test_mirror_is_incremental(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "dest"
    assert main(["mirror", str(source), str(dest)]) == 0
    assert "15 files copied, 0 already present" in capsys.readouterr().out
    counting = CountingStorage(LocalStorage(source))
    damaged = dest / "pkgs" / "app-1.0-py3-none-any.whl"
    damaged.write_bytes(damaged.read_bytes()[:-1] + b"!")  # same size, other content
    report = mirror(counting, dest)
    assert report.copied == ["pkgs/app-1.0-py3-none-any.whl"]
    assert len(report.present) == 14
    assert counting.calls["stream"] == 1  # only the damaged file is downloaded again
    check_links(dest)


def test_partial_mirrors_accumulate_projects(source: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    mirror(LocalStorage(source), dest, [Requirement("app")])
    mirror(LocalStorage(source), dest, [Requirement("yankee")])
    assert check_links(dest) == {"app", "lib-core", "yankee"}


def test_cli_reads_requirements_files(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "constraints.txt").write_text("lib-core==0.9  # old one\n")
    (tmp_path / "more.txt").write_text("-c constraints.txt\nyankee==2.0 \\\n  --hash=sha256:00\n")
    (tmp_path / "requirements.txt").write_text(
        "# private ones\n--index-url https://example.invalid/simple/\n-r more.txt\nlib-core\n-e .\n"
    )
    dest = tmp_path / "dest"
    assert main(["mirror", str(source), str(dest), "-r", str(tmp_path / "requirements.txt")]) == 0
    out, err = capsys.readouterr()
    assert check_links(dest) == {"lib-core", "yankee"}
    assert json.loads((dest / "simple/lib-core/index.json").read_bytes())["versions"] == ["0.9"]
    assert json.loads((dest / "simple/yankee/index.json").read_bytes())["versions"] == ["2.0"]
    assert "ignored option line" in err and "--index-url" in err and "-e ." in err
    assert f"pip install --index-url {dest.resolve().as_uri()}/simple/" in out


def test_cli_usage_errors(source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mirror", str(source), str(tmp_path / "d"), "not a requirement!"]) == 1
    assert "invalid requirement 'not a requirement!' (command line)" in capsys.readouterr().err
    assert main(["mirror", str(source), str(tmp_path / "d"), "-r", str(tmp_path / "none")]) == 1
    assert "cannot read requirements file" in capsys.readouterr().err
    assert main(["mirror", str(source), str(tmp_path / "d"), "nope"]) == 0  # left to PyPI
    assert "note: nope is not in this index" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        ("a\n# c\n\nb  # c\n", ["a", "b"]),
        ("a>=1 \\\n  ; python_version < '4'\n", ["a>=1    ; python_version < '4'"]),
        ("-r x.txt\n--constraint=y.txt\n", ["-r x.txt", "--constraint=y.txt"]),
    ],
)
def test_logical_lines(text: str, lines: list[str]) -> None:
    assert logical_lines(text) == lines


def test_nested_requirement_files_are_followed_once(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("-r b.txt\nx\n")
    (tmp_path / "b.txt").write_text("--requirement=a.txt\ny ; extra == 'z'\n")
    reqs = read_requirement_files([str(tmp_path / "a.txt")])
    assert [str(r) for r in reqs.requirements] == ['y; extra == "z"', "x"]


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("../../pkgs/a-1-py3-none-any.whl", "pkgs/a-1-py3-none-any.whl"),
        ("../../p%20q/a-1.tar.gz#sha256=00", "p q/a-1.tar.gz"),
        ("a-1.tar.gz", "simple/a/a-1.tar.gz"),
    ],
)
def test_object_path(url: str, path: str) -> None:
    assert object_path("a", url) == path  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("../../../etc/passwd", "leaves the index"),
        ("https://x/a.whl", "not a relative link"),
        ("/a.whl", "not a relative link"),
        ("", "empty link"),
        ("javascript:alert(1)", "not a relative link"),
        ("//evil.example/a.whl", "not a relative link"),
        ("a.whl?x=1", "query"),
        ("..\\..\\a.whl", "backslash"),
        ("%5C..%5Ca.whl", "backslash"),
        ("a%00.whl", "U+0000"),
        ("a%0A.whl", "U+000A"),
        ("a%2F..%2F..%2F..%2Fb.whl", "encoded '/'"),
        ("%2e%2e/%2e%2e/a.whl", "'..'"),
        ("../../pkgs//a.whl", "empty segment"),
        ("../../pkgs/", "empty segment"),
        ("%FF.whl", "UTF-8"),
        ("a" * 300 + "/b.whl", "longer than"),
    ],
)
def test_object_path_rejects_links_out_of_the_index(url: str, reason: str) -> None:
    with pytest.raises(ValueError, match="link") as caught:
        object_path("a", url)  # type: ignore[arg-type]
    assert reason in str(caught.value)


# --- from the GCS emulator ---------------------------------------------------------------------


def _upload_tree(local: Path, storage: Storage) -> None:
    for path in sorted(_files(local)):
        data = (local / path).read_bytes()
        storage.put(path, data, content_type="application/octet-stream")


@pytest.fixture
def gcs_source(
    tmp_path: Path, gcs_prefixed_storage: GCSStorage, gcs_emulator: Emulator
) -> GCSStorage:
    local = tmp_path / "upload"
    make_source(local)
    for yank in local.rglob("*.yanked"):
        yank.unlink()
    _upload_tree(local, gcs_prefixed_storage)
    gcs_prefixed_storage.set_metadata("pkgs/yankee-2.0-py3-none-any.whl", "pypapo-yanked", "bad")
    assert build(gcs_prefixed_storage).errors == []
    return gcs_prefixed_storage


def test_full_mirror_from_the_emulator(
    gcs_source: GCSStorage,
    gcs_emulator: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator.url)
    url = f"gs://{gcs_source.bucket.name}/{PREFIX}"
    dest = tmp_path / "dest"
    assert main(["mirror", url, str(dest)]) == 0
    assert "15 files copied, 0 already present" in capsys.readouterr().out
    assert check_links(dest) == PROJECTS
    assert not list(dest.rglob(".state.json"))
    for path in ("simple/index.json", "simple/yankee/index.html", "simple/app/index.json"):
        blob = gcs_source.get(path)
        assert blob is not None
        assert (dest / path).read_bytes() == blob.data
    yankee = json.loads((dest / "simple/yankee/index.json").read_bytes())
    assert [f["yanked"] for f in yankee["files"]] == [False, "bad"]
    counting = CountingStorage(gcs_source)
    report = mirror(counting, dest)
    assert (len(report.copied), len(report.present)) == (0, 15)
    assert counting.calls["stream"] == counting.calls["stat"] == 0


def test_partial_mirror_from_the_emulator(
    gcs_source: GCSStorage,
    gcs_emulator: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator.url)
    url = f"gs://{gcs_source.bucket.name}/{PREFIX}"
    (tmp_path / "requirements.txt").write_text("app\n")
    dest = tmp_path / "dest"
    assert main(["mirror", url, str(dest), "-r", str(tmp_path / "requirements.txt")]) == 0
    assert check_links(dest) == {"app", "lib-core"}
    assert len([p for p in _files(dest) if p.endswith(".whl")]) == 2


# --- pypapo wait -------------------------------------------------------------------------------


def test_wait_sees_the_version_appear(source: Path) -> None:
    storage = LocalStorage(source)
    assert wait_for(storage, "App", Version("1.0.0"), timeout=0) is True
    now = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    found = wait_for(
        storage, "app", Version("9"), timeout=2.5, interval=1, clock=lambda: now[0], sleep=sleep
    )
    assert found is False
    assert sleeps == [1.0, 1.0, 0.5]


def test_wait_needs_the_sidecar(source: Path) -> None:
    (source / "pkgs" / "app-1.0-py3-none-any.whl.metadata").unlink()
    assert wait_for(LocalStorage(source), "app", Version("1.0"), timeout=0) is False
    assert wait_for(LocalStorage(source), "only-sdist", Version("1.5"), timeout=0) is True


def test_wait_cli_exit_codes(source: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["wait", str(source), "app", "1.0", "--timeout", "0"]) == 0
    assert capsys.readouterr().out == "app 1.0 is on the index\n"
    assert main(["wait", str(source), "app", "7.0", "--timeout", "0"]) == 1
    assert capsys.readouterr().err == (
        f"pypapo: timed out after 0s: app 7.0 is not listed in {source}/simple/app/index.json\n"
    )
    assert main(["wait", str(source), "app", "x.y", "--timeout", "0"]) == 2  # a usage error
    assert "invalid version 'x.y'" in capsys.readouterr().err


# --- hostile pages -----------------------------------------------------------------------------
# The pages of another index are input like any upload: a bad link is reported naming its page
# and href, and the rest of the mirror goes on.

SHA = "0" * 64
HOSTILE = [
    ("../../libs/%00lib_core-9.0-py3-none-any.whl", "lib_core-9.0-py3-none-any.whl", "U+0000"),
    ("../../libs%2Flib_core-9.1-py3-none-any.whl", "lib_core-9.1-py3-none-any.whl", "'/'"),
    ("%2E%2E/%2E%2E/lib_core-9.2-py3-none-any.whl", "lib_core-9.2-py3-none-any.whl", "'..'"),
    ("../../../../etc/lib_core-9.3-py3-none-any.whl", "lib_core-9.3-py3-none-any.whl", "leaves"),
    ("https://evil.example/lib_core-9.4-py3-none-any.whl", "lib_core-9.4-py3-none-any.whl",
     "not a relative link"),
    ("javascript:alert(1)", "lib_core-9.5-py3-none-any.whl", "not a relative link"),
    ("//evil.example/lib_core-9.6-py3-none-any.whl", "lib_core-9.6-py3-none-any.whl",
     "not a relative link"),
    ("../.state.json", "lib_core-9.7-py3-none-any.whl", "not a distribution"),
    ("../../pkgs/app-1.0-py3-none-any.whl", "app-1.0-py3-none-any.whl", "project 'app'"),
    ("../../libs/lib_core-1.0-py3-none-any.whl", "lib_core-9.9-py3-none-any.whl",
     "file name 'lib_core-9.9-py3-none-any.whl'"),
    ("../../libs/%FFlib_core-9.10-py3-none-any.whl", "lib_core-9.10-py3-none-any.whl", "UTF-8"),
]  # fmt: skip


def _add_links(root: Path, project: str, entries: list[dict[str, object]]) -> None:
    """Append ``entries`` to a project's JSON page, and their links to its HTML page, so the two
    pages still agree (as a hostile index serves them)."""
    page = root / "simple" / project / "index.json"
    body = json.loads(page.read_bytes())
    body["files"] += entries
    page.write_text(json.dumps(body))
    html = root / "simple" / project / "index.html"
    anchors = "".join(
        f'<a href="{e["url"]}#sha256={e["hashes"]["sha256"]}">x</a>'  # type: ignore[index]
        for e in entries
    )
    html.write_text(html.read_text().replace("</body>", anchors + "</body>"))


@pytest.fixture
def hostile(source: Path) -> Path:
    entries: list[dict[str, object]] = [
        {"filename": name, "url": url, "hashes": {"sha256": SHA}, "size": 1}
        for url, name, _ in HOSTILE
    ]
    _add_links(source, "lib-core", entries)
    return source


def _bad_link_problems(problems: list[str]) -> None:
    page = "simple/lib-core/index.json"
    assert len(problems) == len(HOSTILE), problems
    for (url, _, reason), problem in zip(HOSTILE, problems, strict=True):
        assert problem.startswith(f"{page}: bad link {url!r}: "), problem
        assert reason in problem, problem


def test_a_full_mirror_reports_each_bad_link_and_copies_the_rest(
    hostile: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "dest"
    before = _files(tmp_path)
    report = mirror(LocalStorage(hostile), dest)
    _bad_link_problems(report.problems)
    # the page with bad links is not copied (it would link what is not there); the rest is
    assert report.projects == PROJECTS - {"lib-core"}
    assert {p for p in _files(tmp_path) - before if not p.startswith("dest/")} == set()
    assert not (dest / "simple" / "lib-core").exists()


def test_a_partial_mirror_reports_each_bad_link_and_picks_among_the_good_ones(
    hostile: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "dest"
    report = mirror(LocalStorage(hostile), dest, [Requirement("app")])
    _bad_link_problems(report.problems)
    assert check_links(dest) == {"app", "lib-core"} == report.projects
    assert json.loads((dest / "simple/lib-core/index.json").read_bytes())["versions"] == ["1.0"]


@pytest.mark.parametrize("case", HOSTILE, ids=[url for url, _, _ in HOSTILE])
def test_one_bad_link_is_one_problem_naming_page_and_href(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: tuple[str, str, str]
) -> None:
    url, filename, reason = case
    _add_links(source, "lib-core", [{"filename": filename, "url": url, "hashes": {"sha256": SHA}}])
    assert main(["mirror", str(source), str(tmp_path / "dest")]) == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"problem: simple/lib-core/index.json: bad link {url!r}: ")
    assert reason in line


def test_the_command_reports_bad_links_one_line_each(
    hostile: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["mirror", str(hostile), str(tmp_path / "dest")]) == 1
    err = capsys.readouterr().err
    assert err.count("problem: simple/lib-core/index.json: bad link ") == len(HOSTILE)
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "names",
    [["x\x00y"], [5], ["../../etc"], [None]],
)
def test_bad_project_names_on_the_root_page_are_reported(
    source: Path, tmp_path: Path, names: list[object]
) -> None:
    root = source / "simple" / "index.json"
    body = json.loads(root.read_bytes())
    body["projects"] += [{"name": n} for n in names]
    root.write_text(json.dumps(body))
    report = mirror(LocalStorage(source), tmp_path / "dest")
    assert [p.split(": ")[:2] for p in report.problems] == [
        ["simple/index.json", f"bad project name {n!r}"] for n in names
    ]
    assert report.projects == PROJECTS


def test_a_page_that_is_not_utf8_is_reported(source: Path, tmp_path: Path) -> None:
    page = source / "simple" / "yankee" / "index.html"
    page.write_bytes(page.read_bytes() + b"\xff")
    report = mirror(LocalStorage(source), tmp_path / "dest")
    assert report.problems == ["unreadable page simple/yankee/index.html: not UTF-8"]
    assert report.projects == PROJECTS - {"yankee"}


def test_a_page_naming_another_project_is_reported(source: Path, tmp_path: Path) -> None:
    page = source / "simple" / "yankee" / "index.json"
    page.write_bytes(page.read_bytes().replace(b'"name":"yankee"', b'"name":"app"'))
    report = mirror(LocalStorage(source), tmp_path / "dest", [Requirement("yankee")])
    assert report.problems == [
        "unreadable page simple/yankee/index.json: it names project 'app', not 'yankee'"
    ]
    assert report.projects == set()


def test_a_sidecar_with_bad_requirements_is_reported(source: Path, tmp_path: Path) -> None:
    sidecar = source / "pkgs" / "app-1.0-py3-none-any.whl.metadata"
    old = hashlib.sha256(sidecar.read_bytes()).hexdigest()
    sidecar.write_bytes(sidecar.read_bytes().replace(b"\n", b"\nRequires-Dist: !!!\n", 1))
    new = hashlib.sha256(sidecar.read_bytes()).hexdigest()
    for page in (source / "simple" / "app").glob("index.*"):
        page.write_text(page.read_text().replace(old, new))
    report = mirror(LocalStorage(source), tmp_path / "dest", [Requirement("app")])
    [problem] = report.problems
    assert problem.startswith("pkgs/app-1.0-py3-none-any.whl.metadata: unreadable metadata (")
    assert report.projects == {"app"}  # its dependencies are not followed


def test_a_full_disk_stops_the_mirror_with_one_line(source: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    done = run_pypapo("mirror", str(source), str(dest), file_size_limit=300)
    assert done.returncode == 1
    assert re.fullmatch(
        rf"pypapo: error: {re.escape(str(dest))}/\S+: File too large\n", done.stderr
    )
    assert [p for p in dest.rglob("*") if p.name.startswith(TMP_PREFIX)] == []


# --- local projects and locks ------------------------------------------------------------------


def _local_project(root: Path, dependencies: str, extra: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(
        f'[project]\nname = "consumer"\nversion = "0.1"\ndependencies = {dependencies}\n{extra}'
    )
    return root


def test_an_editable_line_follows_the_local_projects_dependencies(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``pip install -e .`` asks the index for the project's dependencies: a partial mirror
    for that requirements file holds them, or an installer looks for them elsewhere."""
    extra = '[project.optional-dependencies]\nfast = ["withextra[fast]"]\n'
    project = _local_project(tmp_path / "consumer", '["app"]', extra)
    (project / "requirements.txt").write_text("-e .[fast]\nyankee\n")
    dest = tmp_path / "dest"
    assert main(["mirror", str(source), str(dest), "-r", str(project / "requirements.txt")]) == 0
    assert "the dependencies of the local project" in capsys.readouterr().err
    assert check_links(dest) == {"app", "lib-core", "yankee", "withextra", "extra-dep"}


def test_a_path_argument_is_a_local_project(source: Path, tmp_path: Path) -> None:
    project = _local_project(tmp_path / "consumer", '["yankee==2.0"]')
    assert main(["mirror", str(source), str(tmp_path / "d"), str(project)]) == 0
    assert check_links(tmp_path / "d") == {"yankee"}


def test_dynamic_dependencies_are_an_error(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _local_project(tmp_path / "consumer", "[]", 'dynamic = ["dependencies"]\n')
    assert main(["mirror", str(source), str(tmp_path / "d"), str(project)]) == 1
    assert "dependencies are dynamic" in capsys.readouterr().err


def test_a_lock_is_copied_exactly(source: Path, tmp_path: Path) -> None:
    """A PEP 751 lock names every package an installer resolved: those versions, no others
    (app's dependency lib-core is not added, as the lock chose to leave it out)."""
    pytest.importorskip("packaging.pylock")
    lock = tmp_path / "pylock.toml"
    lock.write_text(
        'lock-version = "1.0"\ncreated-by = "test"\n'
        '[[packages]]\nname = "app"\nversion = "1.0"\n'
        '[[packages.wheels]]\nname = "app-1.0-py3-none-any.whl"\n'
        'url = "https://example.invalid/app-1.0-py3-none-any.whl"\nhashes = {sha256 = "00"}\n'
        '[[packages]]\nname = "yankee"\nversion = "2.0"\nmarker = "python_version >= \'3\'"\n'
        '[[packages.wheels]]\nname = "yankee-2.0-py3-none-any.whl"\n'
        'url = "https://example.invalid/yankee-2.0-py3-none-any.whl"\nhashes = {sha256 = "00"}\n'
    )
    assert main(["mirror", str(source), str(tmp_path / "d"), "-r", str(lock)]) == 0
    assert check_links(tmp_path / "d") == {"app", "yankee"}


def test_locked_requirements_are_copied_exactly(source: Path, tmp_path: Path) -> None:
    report = mirror(LocalStorage(source), tmp_path / "d",
                    [Requirement("app==1.0"), Requirement("unused")], locked=True)  # fmt: skip
    assert report.projects == {"app"}
    assert report.problems == ["unused: not pinned with == in the lock"]
