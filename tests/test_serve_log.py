"""``pypapo serve``'s log reads like a changelog: what a refresh added and removed."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pypapo.build import build
from pypapo.cli.serve import changelog, versions
from pypapo.refresh import refresh
from pypapo.storage.local import LocalStorage
from tests.support.pypapo_server import PypapoServer
from tests.support.tools import add_sdist, add_wheel


def test_changelog_lines() -> None:
    before = {"bar": {"1.0": 1}, "foo": {"1.0": 2}}
    after = {"foo": {"1.0": 2, "1.2": 2}, "new": {"0.1": 1}}
    assert changelog(before, after) == [
        "removed bar",
        "added foo 1.2 (2 files)",
        "added new 0.1 (1 file)",
    ]
    assert changelog(after, after) == []  # no line when nothing changed
    assert changelog({"foo": {"1.0": 2, "1.2": 1}}, {"foo": {"1.0": 2}}) == ["removed foo 1.2"]


def test_versions_follow_refreshes(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    add_wheel(tmp_path, "foo", "1.0")
    gone = add_wheel(tmp_path, "bar", "1.0")
    build(storage)
    before = versions(storage)
    assert before == {"bar": {"1.0": 1}, "foo": {"1.0": 1}}
    wheel, sdist = add_wheel(tmp_path, "foo", "1.2"), add_sdist(tmp_path, "foo", "1.2")
    gone.unlink()
    paths = [p.relative_to(tmp_path).as_posix() for p in (wheel, sdist, gone)]
    refresh(storage, paths)
    assert changelog(before, versions(storage)) == ["removed bar", "added foo 1.2 (2 files)"]


def _wait_for(log: Path, text: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = log.read_text()
        if text in content:
            return content
        time.sleep(0.1)
    pytest.fail(f"{text!r} never logged: {log.read_text()}")


@pytest.mark.e2e
def test_serve_logs_a_changelog(tmp_path: Path) -> None:
    root = tmp_path / "packages"
    root.mkdir()
    gone = add_wheel(root, "bar", "1.0")
    log = tmp_path / "serve.log"
    with PypapoServer(root, log):
        _wait_for(log, "serving ")
        add_wheel(root, "foo", "1.2")
        add_sdist(root, "foo", "1.2")
        _wait_for(log, "added foo 1.2 (2 files)")
        gone.unlink()
        content = _wait_for(log, "removed bar\n")
    assert "built " in content
    assert "refreshed:" not in content  # one line per change, no second summary
    assert "1 projects" not in content
