"""The command line: exit codes, summaries, one line per skipped file."""

from __future__ import annotations

import argparse
import errno
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pypapo import cli
from pypapo.cli import main
from pypapo.errors import ConflictError
from pypapo.layout import TMP_PREFIX, page_path
from tests.support.tools import add_wheel, run_pypapo


def test_build_summary_and_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_wheel(tmp_path, "ok", "1.0")
    assert main(["build", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "1 project, 1 file (" in out  # singular nouns for one


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

    monkeypatch.setattr(sys.modules["pypapo.build"], "build", interrupted)
    assert cli.main(["build", str(tmp_path)]) == 130
    assert capsys.readouterr().err == "pypapo: interrupted\n"


# -- errors that stop a command: one line each, never a traceback ----------------------------


def _temporaries(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.startswith(TMP_PREFIX)]


def test_a_full_disk_is_one_line_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    add_wheel(tmp_path, "ok", "1.0")
    done = run_pypapo("build", str(tmp_path), file_size_limit=300)
    assert done.returncode == cli.EXIT_FAILED
    assert re.fullmatch(
        rf"pypapo: error: {re.escape(str(tmp_path))}/\S+: File too large\n", done.stderr
    )
    assert _temporaries(tmp_path) == []


def test_broken_yank_markers_neither_crash_nor_hang_a_build(tmp_path: Path) -> None:
    bad = add_wheel(tmp_path, "bad", "1.0")
    Path(f"{bad}.yanked").write_bytes(b"\xff\xfe CVE-1\n")
    fifo = add_wheel(tmp_path, "fifo", "1.0")
    os.mkfifo(f"{fifo}.yanked")
    done = run_pypapo("build", str(tmp_path))
    assert (done.returncode, done.stderr) == (0, "")
    [bad_file] = json.loads((tmp_path / page_path("bad", "json")).read_bytes())["files"]
    assert bad_file["yanked"] == "\ufffd\ufffd CVE-1"
    [fifo_file] = json.loads((tmp_path / page_path("fifo", "json")).read_bytes())["files"]
    assert fifo_file["yanked"] is False


def _refuse_root(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The root folder cannot be read (as root, chmod would not stop the tests)."""
    real_scandir = os.scandir

    def scandir(path: Any) -> Any:
        if os.fspath(path) == str(root):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)


def test_an_unreadable_folder_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    add_wheel(tmp_path, "ok", "1.0")
    _refuse_root(tmp_path, monkeypatch)
    assert main(["build", str(tmp_path)]) == cli.EXIT_FAILED
    assert capsys.readouterr().err == f"pypapo: error: {tmp_path}: Permission denied\n"
    assert not (tmp_path / "simple").exists()  # no empty index that looks fine


def test_serve_on_a_file_is_one_line(tmp_path: Path) -> None:
    file = tmp_path / "file"
    file.write_text("not a folder")
    done = run_pypapo("serve", str(file))
    assert (done.returncode, done.stderr) == (
        cli.EXIT_USAGE,
        f"pypapo: error: {file}: not a folder\n",
    )


def test_serve_on_a_busy_port_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", str(tmp_path), "--port", str(port)]) == cli.EXIT_FAILED
    assert capsys.readouterr().err == (f"pypapo: error: 127.0.0.1:{port}: Address already in use\n")


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (OSError(errno.EROFS, "Read-only file system", "/x/a"), "/x/a: Read-only file system"),
        (OSError(errno.ENOSPC, "No space left on device"), "No space left on device"),
        (
            OSError(errno.EACCES, "Permission denied", "/x/.tmp", None, "/x/a"),
            "/x/a: Permission denied",
        ),
        (ConflictError("simple/a/.state.json", 8), "gave up after 8 conflicting attempts"),
    ],
)
def test_any_os_error_of_a_command_is_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    error: Exception,
    line: str,
) -> None:
    def failing(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(sys.modules["pypapo.build"], "build", failing)
    assert main(["build", str(tmp_path)]) == cli.EXIT_FAILED
    err = capsys.readouterr().err
    assert err.startswith(f"pypapo: error: {line}")
    assert err.count("\n") == 1


def test_a_port_out_of_range_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The socket would raise OverflowError, which is no OSError: argparse checks the range."""
    with pytest.raises(SystemExit) as caught:
        main(["serve", str(tmp_path), "--port", "70000"])
    assert caught.value.code == cli.EXIT_USAGE
    assert "argument --port: '70000' is no TCP port (0 to 65535)" in capsys.readouterr().err


def test_python_dash_m_reports_a_subcommand_usage_error_in_one_line(tmp_path: Path) -> None:
    """Run as ``python -m pypapo.cli``, the module is ``__main__``: its ``main`` must still
    catch the ``UsageError`` a subcommand module raises (that of ``pypapo.cli``)."""
    wheel = add_wheel(tmp_path, "ok", "1.0")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pypapo.cli",
            "upload",
            str(tmp_path / "i"),
            str(wheel),
            "--to",
            "..",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == cli.EXIT_USAGE
    assert done.stderr.startswith("pypapo: error: --to '..': ")
    assert done.stderr.count("\n") == 1


# -- a new user's first commands: honest help, typos caught before any work -------------------

COMMANDS = ["build", "refresh", "yank", "unyank", "serve", "upload", "check", "mirror", "wait"]


def _help(*argv: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as caught:
        main([*argv, "--help"])
    assert caught.value.code == 0
    return capsys.readouterr().out


def test_top_level_help_is_plain_text(capsys: pytest.CaptureFixture[str]) -> None:
    text = _help(capsys=capsys)
    assert "``" not in text
    assert not re.search(r"[:,]\s*$", text.strip().splitlines()[1])  # no sentence cut short
    assert "exit codes: 0 ok, 1 something skipped or failed, 2 usage error, 130 interrupted" in (
        " ".join(text.split())
    )
    for command in COMMANDS:
        assert re.search(rf"^\s+{command}\s+\S", text, re.MULTILINE), command


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    [sub] = [a for a in cli.parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_help_explains_every_argument_and_its_default(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _help(command, capsys=capsys)
    assert "``" not in text
    for action in _subparsers()[command]._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        assert action.help, f"{command} {action.dest}: no help"
        shown = action.default not in (None, False, [], "", argparse.SUPPRESS)
        if action.option_strings and shown:
            assert "%(default)" in action.help, f"{command} {action.dest}: default not shown"


def test_every_command_is_tested() -> None:
    assert sorted(_subparsers()) == sorted([*COMMANDS, "status"])


@pytest.mark.parametrize("command", ["build", "serve", "check"])
def test_a_missing_folder_is_a_usage_error_before_any_work(command: str, tmp_path: Path) -> None:
    typo = tmp_path / "no" / "such" / "dir"
    done = run_pypapo(command, str(typo))
    assert (done.returncode, done.stdout) == (cli.EXIT_USAGE, "")
    assert done.stderr == f"pypapo: error: {typo}: no such folder\n"
    assert not (tmp_path / "no").exists()  # serve /typo no longer creates it


def test_serve_on_a_busy_port_fails_before_building(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_wheel(tmp_path, "ok", "1.0")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", str(tmp_path), "--port", str(port)]) == cli.EXIT_FAILED
    assert capsys.readouterr().out == ""
    assert not (tmp_path / "simple").exists()


def test_serve_demo_creates_its_folder(tmp_path: Path) -> None:
    """--demo is the README's first command: it may create the folder it seeds."""
    from pypapo.cli.serve import prepare_folder  # noqa: PLC0415

    prepare_folder(tmp_path / "packages", demo=True)
    assert (tmp_path / "packages").is_dir()


def test_python_dash_m_pypapo_cli_runs_main() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pypapo.cli", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout.split()[0]) == (0, "pypapo")


@pytest.mark.parametrize(
    "name", ["ok-0.9.tgz", "ok-0.8.tar.bz2", "ok-0.7.tar.xz", "ok-0.6.tar", "ok-0.5-py2.7.egg"]
)
def test_a_distribution_format_the_index_does_not_serve_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    """pip installs .tgz and .tar.bz2 sdists, and old releases use them: silently not listing
    one would look like success. The index serves PEP 625's formats only and says so."""
    add_wheel(tmp_path, "ok", "1.0")
    (tmp_path / "pkgs" / name).write_bytes(b"old")
    (tmp_path / "pkgs" / "README.txt").write_bytes(b"not a distribution, not reported")
    assert main(["build", str(tmp_path)]) == cli.EXIT_SKIPPED
    captured = capsys.readouterr()
    hint = "build a wheel" if name.endswith(".egg") else "repack it as a .tar.gz sdist"
    assert captured.err == (
        f"skipped pkgs/{name}: not indexed: the index serves wheels and .tar.gz or .zip "
        f"sdists (PEP 625); {hint}\n"
    )
    assert "1 project, 1 file, 1 skipped" in captured.out


def test_a_hostile_name_cannot_write_escape_sequences_to_the_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Object names are input: the skipped line shows control characters escaped."""
    add_wheel(tmp_path, "good", "1.0")
    evil = tmp_path / "up" / "evil\x1b[2J\x1b]0;owned\x07-1.0-py3-none-any.whl"
    evil.parent.mkdir(parents=True)
    evil.write_bytes(b"not a zip")
    assert main(["build", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x07" not in err
    assert "skipped up/evil\\x1b[2J\\x1b]0;owned\\x07-1.0-py3-none-any.whl: " in err
