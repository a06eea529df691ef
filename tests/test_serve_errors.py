"""``pypapo serve`` runs until stopped: an error of the environment while it runs (a full disk
during a refresh, a client that hangs up) is one log line, never a traceback."""

from __future__ import annotations

import errno
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pypapo import serve
from pypapo.serve import IndexServer
from tests.support.tools import add_wheel


@pytest.fixture
def server(tmp_path: Path) -> Iterator[IndexServer]:
    server = IndexServer(tmp_path, port=0)
    yield server
    server.stop()


def _wait_for_record(caplog: pytest.LogCaptureFixture, text: str) -> logging.LogRecord:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for record in caplog.records:
            if text in record.getMessage():
                return record
        time.sleep(0.05)
    pytest.fail(f"no log record with {text!r}: {caplog.text}")


def test_a_failed_refresh_is_one_line_and_the_watcher_goes_on(
    server: IndexServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def full_disk(*args: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(server.root / "simple"))

    monkeypatch.setattr(serve, "refresh", full_disk)
    caplog.set_level(logging.INFO, logger="pypapo")
    server.start()
    time.sleep(0.5)  # the watcher is set up
    add_wheel(server.root, "late", "1.0")
    record = _wait_for_record(caplog, "No space left on device")
    assert record.exc_info is None
    assert record.getMessage() == (
        f"refresh of pkgs/late-1.0-py3-none-any.whl failed: {server.root / 'simple'}: "
        "No space left on device"
    )
    assert all(t.is_alive() for t in server._threads)


@pytest.mark.parametrize(
    ("error", "level"),
    [
        (BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE)), logging.DEBUG),
        (ConnectionResetError(errno.ECONNRESET, os.strerror(errno.ECONNRESET)), logging.DEBUG),
        (OSError(errno.EIO, os.strerror(errno.EIO), "/srv/a.whl"), logging.WARNING),
    ],
)
def test_an_os_error_while_answering_is_one_line(
    server: IndexServer,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    error: OSError,
    level: int,
) -> None:
    caplog.set_level(logging.DEBUG, logger="pypapo")
    try:
        raise error
    except OSError:
        server.httpd.handle_error(None, ("127.0.0.1", 5555))
    assert capsys.readouterr().err == ""  # socketserver's default prints a traceback there
    [record] = [r for r in caplog.records if r.name == "pypapo.serve"]
    assert (record.levelno, record.exc_info) == (level, None)
    assert record.getMessage().startswith("127.0.0.1:5555: ")
