"""``pypapo check``: drift, sidecars, overwritten and bad files; nothing written without --fix."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from pypapo.build import build
from pypapo.check import Finding, check
from pypapo.cli import main
from pypapo.refresh import refresh
from pypapo.sample import SampleProject, wheel_bytes
from pypapo.storage.local import LocalStorage
from tests.support.tools import add_sdist, add_wheel


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _run(argv: list[str]) -> int:
    return main(argv)


@pytest.fixture
def index(tmp_path: Path) -> Path:
    add_wheel(tmp_path, "alpha", "1.0")
    add_sdist(tmp_path, "alpha", "1.0")
    add_wheel(tmp_path, "beta", "2.0", sub="b")
    assert build(LocalStorage(tmp_path)).errors == []
    return tmp_path


def _kinds(findings: list[Finding]) -> set[tuple[str, str]]:
    return {(f.kind, f.path) for f in findings}


def test_a_built_index_is_clean(index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = _tree(index)
    assert check(LocalStorage(index))[0] == []
    assert _run(["check", str(index)]) == 0
    assert "ok: " in capsys.readouterr().out
    assert _tree(index) == before


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        ("rm simple/alpha/index.html", {("missing page", "simple/alpha/index.html")}),
        ("rm browse/beta/index.html", {("missing page", "browse/beta/index.html")}),
        ("rm pkgs/alpha-1.0-py3-none-any.whl.metadata", {
            ("missing sidecar", "pkgs/alpha-1.0-py3-none-any.whl.metadata"),
        }),
        ("forge pkgs/alpha-1.0-py3-none-any.whl.metadata", {
            ("mismatched sidecar", "pkgs/alpha-1.0-py3-none-any.whl.metadata"),
        }),
        ("forge pkgs/ghost-1.0-py3-none-any.whl.metadata", {
            ("orphan sidecar", "pkgs/ghost-1.0-py3-none-any.whl.metadata"),
        }),
        ("forge simple/beta/index.json", {("outdated page", "simple/beta/index.json")}),
        ("forge simple/gone/index.html", {("stale page", "simple/gone/index.html")}),
        ("unindexed b/beta-3.0-py3-none-any.whl", {
            ("unindexed file", "b/beta-3.0-py3-none-any.whl"),
            ("stale state", "simple/beta/.state.json"),
            ("outdated page", "simple/beta/index.html"),
            ("outdated page", "simple/beta/index.json"),
            ("outdated page", "browse/beta/index.html"),
            ("missing sidecar", "b/beta-3.0-py3-none-any.whl.metadata"),
        }),
        ("rm b/beta-2.0-py3-none-any.whl", {
            ("deleted file", "b/beta-2.0-py3-none-any.whl"),
            ("orphan sidecar", "b/beta-2.0-py3-none-any.whl.metadata"),
            ("stale state", "simple/beta/.state.json"),
            ("stale page", "simple/beta/index.html"),
            ("stale page", "simple/beta/index.json"),
            ("stale page", "browse/beta/index.html"),
            ("outdated page", "simple/index.html"),
            ("outdated page", "simple/index.json"),
            ("outdated page", "browse/index.html"),
        }),
        ("bad pkgs/broken-1.0-py3-none-any.whl", {
            ("bad file", "pkgs/broken-1.0-py3-none-any.whl"),
        }),
    ],
)  # fmt: skip
def test_damage_is_reported_then_fixed(
    index: Path, damage: str, expected: set[tuple[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    action, path = damage.split(" ")
    target = index / path
    if action == "rm":
        target.unlink()
    elif action == "forge":
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"forged")
    elif action == "unindexed":
        target.write_bytes(wheel_bytes(SampleProject("beta", "3.0")))
    else:
        target.write_bytes(b"PK\x03\x04 broken")
    before = _tree(index)
    findings, _ = check(LocalStorage(index))
    assert _kinds(findings) == expected
    assert _tree(index) == before  # a check writes nothing
    assert _run(["check", str(index)]) == 1
    out = capsys.readouterr().out
    assert f": {path}: " in out
    fixable = action != "bad"
    assert _run(["check", str(index), "--fix"]) == (0 if fixable else 1)
    assert _kinds(check(LocalStorage(index))[0]) == (set() if fixable else expected)


def test_overwritten_file_is_reported(index: Path) -> None:
    wheel = index / "pkgs" / "alpha-1.0-py3-none-any.whl"
    old = hashlib.sha256(wheel.read_bytes()).hexdigest()
    new_bytes = wheel_bytes(SampleProject("alpha", "1.0", summary="rebuilt, same version"))
    wheel.write_bytes(new_bytes)
    findings, _ = check(LocalStorage(index))
    [overwritten] = [f for f in findings if f.kind == "overwritten"]
    assert overwritten.path == "pkgs/alpha-1.0-py3-none-any.whl"
    assert old in overwritten.detail
    assert hashlib.sha256(new_bytes).hexdigest() in overwritten.detail


def test_refresh_leaves_nothing_to_report(index: Path) -> None:
    wheel = add_wheel(index, "gamma", "0.1")
    refresh(LocalStorage(index), [wheel.relative_to(index).as_posix()])
    assert check(LocalStorage(index))[0] == []
