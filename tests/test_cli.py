"""The command line: exit codes, summaries, one line per skipped file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pypapo import cli
from pypapo.cli import main
from pypapo.layout import page_path
from tests.conftest import add_wheel


def test_build_summary_and_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_wheel(tmp_path, "ok", "1.0")
    assert main(["build", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "1 projects, 1 files" in out


def test_build_with_bad_file_exits_one_and_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_wheel(tmp_path, "ok", "1.0")
    (tmp_path / "pkgs" / "bad-1.0.tar.gz").write_bytes(b"nope")
    assert main(["build", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "skipped pkgs/bad-1.0.tar.gz: not a tar archive" in captured.err
    assert "1 skipped" in captured.out
    assert (tmp_path / page_path("ok", "html")).exists()


def test_refresh_yank_unyank(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wheel = add_wheel(tmp_path, "ok", "1.0")
    assert main(["refresh", str(tmp_path), "pkgs/" + wheel.name]) == 0
    assert main(["yank", str(tmp_path), wheel.name, "--reason", "CVE-1"]) == 0
    files = json.loads((tmp_path / page_path("ok", "json")).read_bytes())["files"]
    assert files[0]["yanked"] == "CVE-1"
    assert "yanked pkgs/" + wheel.name in capsys.readouterr().out
    assert main(["unyank", str(tmp_path), "pkgs/" + wheel.name]) == 0
    files = json.loads((tmp_path / page_path("ok", "json")).read_bytes())["files"]
    assert files[0]["yanked"] is False


def test_yank_unknown_file_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["yank", str(tmp_path), "nope-1.0.tar.gz"]) == 1
    assert "no such distribution" in capsys.readouterr().err


def test_usage_error_exits_two(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["frobnicate"])
    assert caught.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_ctrl_c_exits_130_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build", interrupted)
    assert cli.main(["build", str(tmp_path)]) == 130
    assert capsys.readouterr().err == "pypapo: interrupted\n"
