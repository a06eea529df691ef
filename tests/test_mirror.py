"""``pypapo mirror`` (full, partial, incremental; from a folder and from the GCS emulator) and
``pypapo wait``, ending with real installs from the copy."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from pypapo.cli import main
from pypapo.mirror import mirror
from pypapo.refresh import build
from pypapo.sample import SampleProject, wheel_bytes
from pypapo.storage.gcs import GCSStorage
from pypapo.storage.local import LocalStorage
from pypapo.wait import wait_for
from tests.conftest import add_wheel
from tests.function_server import FunctionServer
from tests.gcs_emulator import Emulator
from tests.test_e2e_install import _install, _installed, _venv, make_corpus


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def source(tmp_path: Path) -> Path:
    root = tmp_path / "source"
    make_corpus(root)
    add_wheel(root, "extra-dep", "1.0")
    add_wheel(root, "withextra", "1.0", requires_dist=['extra-dep; extra == "fast"'])
    add_wheel(root, "unused", "3.0")
    build(LocalStorage(root))
    return root


def test_partial_mirror_copies_what_requirements_need(source: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    report = mirror(LocalStorage(source), dest, [Requirement("app"), Requirement("yankee")])
    assert report.problems == []
    assert report.projects == {"app", "lib-core", "yankee"}
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


@pytest.mark.parametrize(
    ("requirement", "expected"),
    [
        ("yankee==2.0", {"yankee"}),  # a yanked file when pinned exactly
        ("withextra", {"withextra"}),
        ("withextra[fast]", {"withextra", "extra-dep"}),
        ("lib.core<1", {"lib-core"}),
        ('unused; python_version < "3"', set()),
    ],
)
def test_resolution(source: Path, tmp_path: Path, requirement: str, expected: set[str]) -> None:
    report = mirror(LocalStorage(source), tmp_path / "d", [Requirement(requirement)])
    assert report.projects == expected
    if requirement == "lib.core<1":
        assert (tmp_path / "d" / "libs" / "lib_core-0.9-py3-none-any.whl").exists()


def test_unknown_requirement_is_a_problem(source: Path, tmp_path: Path) -> None:
    report = mirror(LocalStorage(source), tmp_path / "d", [Requirement("nope>=1")])
    assert report.problems == ["no version of nope matches >=1"]


def test_mirror_is_incremental(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "dest"
    assert main(["mirror", str(source), str(dest)]) == 0
    first = capsys.readouterr().out
    assert "0 already present" in first
    assert main(["mirror", str(source), str(dest)]) == 0
    assert " 0 files copied" in capsys.readouterr().out


def test_wait_sees_the_version_appear(source: Path) -> None:
    storage = LocalStorage(source)
    from packaging.version import Version  # noqa: PLC0415

    assert wait_for(storage, "App", Version("1.0"), timeout=0) is True
    ticks = iter(range(100))
    assert (
        wait_for(
            storage,
            "app",
            Version("9"),
            timeout=3,
            interval=1,
            clock=lambda: float(next(ticks)),
            sleep=lambda _s: None,
        )
        is False
    )


def test_wait_cli_exit_codes(source: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["wait", str(source), "app", "1.0", "--timeout", "0"]) == 0
    assert main(["wait", str(source), "app", "7.0", "--timeout", "0"]) == 1
    assert "timed out" in capsys.readouterr().err


@pytest.mark.e2e
def test_publish_flow_on_the_emulator(
    gcs_emulator: Emulator,
    tmp_path: Path,
    fresh_venv_factory: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Upload (create-only) -> CloudEvent -> function -> wait -> partial mirror -> pip install."""
    bucket = gcs_emulator.client().create_bucket(f"pub-{uuid.uuid4().hex[:16]}")
    storage = GCSStorage(bucket, "index")
    with FunctionServer(gcs_emulator.url, bucket.name, tmp_path / "fn.log", "index") as function:
        for name, version, deps in [("lib", "1.0", []), ("tool", "2.0", ["lib>=1"])]:
            local = tmp_path / f"{name}-{version}-py3-none-any.whl"
            local.write_bytes(wheel_bytes(SampleProject(name, version, requires_dist=deps)))
            assert storage.upload_file(f"dist/{local.name}", local, create_only=True) is not None
            assert storage.upload_file(f"dist/{local.name}", local, create_only=True) is None
            assert function.post_event("finalized", f"index/dist/{local.name}") == 200
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator.url)
        target = f"gs://{bucket.name}/index"
        assert main(["wait", target, "tool", "2.0", "--timeout", "10", "--interval", "0.2"]) == 0
    dest = tmp_path / "mirror"
    assert main(["mirror", target, str(dest), "tool"]) == 0
    report = mirror(storage, dest, [Requirement("tool")])
    assert report.problems == []
    assert report.projects == {"tool", "lib"}
    python = _venv(fresh_venv_factory, tmp_path / "venv")
    _install("pip", python, dest.resolve().as_uri(), ["tool"], tmp_path)
    assert _installed(python, "tool", tmp_path) == "2.0"
    assert _installed(python, "lib", tmp_path) == "1.0"
