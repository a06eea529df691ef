"""What only the folder storage has: yank markers are files anyone who can write the folder
writes, and atomic writes go through temporary files that a failed write must not leave."""

from __future__ import annotations

import errno
import os
import pickle
import resource
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pypapo.layout import TMP_PREFIX
from pypapo.storage import ABSENT, YANK_KEY, StorageError
from pypapo.storage.local import MAX_MARKER, LocalStorage

WHEEL = "pkgs/a-1.0-py3-none-any.whl"


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    storage = LocalStorage(tmp_path)
    storage.put(WHEEL, b"wheel", content_type="application/zip")
    return storage


def _marker(storage: LocalStorage) -> Path:
    return storage.root / (WHEEL + ".yanked")


def _yanks(storage: LocalStorage) -> dict[str, str]:
    """The yank metadata as both stat and list see it (they must agree)."""
    info = storage.stat(WHEEL)
    assert info is not None
    [listed] = [i for i in storage.list() if i.path == WHEEL]
    assert listed.metadata == info.metadata
    return dict(info.metadata)


def _temporaries(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.startswith(TMP_PREFIX)]


# -- yank markers ----------------------------------------------------------------------------


def test_a_marker_that_is_not_utf8_still_yanks_with_the_bytes_replaced(
    storage: LocalStorage,
) -> None:
    _marker(storage).write_bytes(b"CVE \xff\xfe here\n")
    assert _yanks(storage) == {YANK_KEY: "CVE \ufffd\ufffd here"}


def test_a_marker_is_read_only_up_to_its_limit(storage: LocalStorage) -> None:
    _marker(storage).write_bytes(b"x" * (MAX_MARKER * 4))
    assert _yanks(storage) == {YANK_KEY: "x" * MAX_MARKER}


def _in_thread(call: Callable[[], object], unblock: Callable[[], None]) -> object:
    """``call``'s result, failing (and unblocking it) when it does not return in time."""
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(call()), daemon=True)
    thread.start()
    thread.join(timeout=10)
    if thread.is_alive():
        unblock()
        thread.join(timeout=10)
        pytest.fail("blocked")
    return result[0]


def _open_writer(fifo: Path) -> None:
    # a reader blocked in open() on a FIFO is released by a writer
    os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_a_marker_that_is_no_regular_file_is_no_marker(storage: LocalStorage, kind: str) -> None:
    marker = _marker(storage)
    if kind == "fifo":
        os.mkfifo(marker)
    else:
        marker.mkdir()
    assert _in_thread(lambda: _yanks(storage), lambda: _open_writer(marker)) == {}


def test_an_unreadable_marker_yanks_without_a_reason(
    storage: LocalStorage, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    marker = _marker(storage)
    marker.write_text("secret reason")
    real_open = os.open

    def denying_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if os.fspath(path) == str(marker):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", denying_open)
    assert _yanks(storage) == {YANK_KEY: ""}
    assert f"{marker}: Permission denied" in caplog.text


# -- failed writes ---------------------------------------------------------------------------


def _with_small_disk(call: Callable[[], object]) -> tuple[int | None, str | None]:
    """Run ``call`` in a forked child whose files may not grow past 16 bytes, as on a full disk
    (the kernel answers EFBIG; SIGXFSZ ignored, no root needed); the errno and file name of
    the ``OSError`` it raised."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report and leave without running any of pytest's cleanup
        outcome: tuple[int | None, str | None] = (None, None)
        try:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (16, resource.RLIM_INFINITY))
            call()
        except OSError as e:
            outcome = (e.errno, e.filename)
        finally:
            os.write(write_end, pickle.dumps(outcome))
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    result: tuple[int | None, str | None] = pickle.loads(data)  # noqa: S301 (our own child)
    return result


BIG = b"x" * 64


@pytest.mark.parametrize(
    ("path", "write"),
    [
        ("simple/a/index.html", lambda s: s.put("simple/a/index.html", BIG, content_type="")),
        (
            "simple/a/.state.json",
            lambda s: s.put("simple/a/.state.json", BIG, content_type="", if_token=ABSENT),
        ),
        (WHEEL + ".yanked", lambda s: s.set_metadata(WHEEL, YANK_KEY, BIG.decode())),
    ],
)
def test_a_failed_write_names_its_file_and_leaves_no_temporary_file(
    storage: LocalStorage, path: str, write: Callable[[LocalStorage], object]
) -> None:
    assert _with_small_disk(lambda: write(storage)) == (errno.EFBIG, str(storage.root / path))
    assert _temporaries(storage.root) == []
    assert not (storage.root / path).exists()


# -- paths and listing -----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["a\x00b.whl", "pkgs/a\nb.whl", "pkgs/\x7f.whl"])
def test_paths_with_control_characters_are_refused(storage: LocalStorage, path: str) -> None:
    with pytest.raises(StorageError, match="control character"):
        storage.stat(path)
    with pytest.raises(StorageError, match="control character"):
        storage.put(path, b"", content_type="")


def test_an_unreadable_root_fails_the_listing(
    storage: LocalStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder below the root that cannot be read is skipped (a root-owned lost+found); the
    root itself cannot be skipped: a build would index nothing and say all is well."""
    real_scandir = os.scandir

    def scandir(path: Any) -> Any:
        if os.fspath(path) == str(storage.root):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(PermissionError) as caught:
        list(storage.list())
    assert caught.value.filename == str(storage.root)


def test_a_failed_read_names_its_file(
    storage: LocalStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = storage.stat(WHEEL)
    assert info is not None

    def broken_disk(*args: object) -> bytes:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "read", broken_disk)
    monkeypatch.setattr(os, "pread", broken_disk)
    for read in (
        lambda: storage.stream(WHEEL, info.generation, lambda _: None),
        lambda: storage.read_range(WHEEL, 0, 1, info.generation),
    ):
        with pytest.raises(OSError, match="Input/output error") as caught:
            read()
        assert caught.value.filename == str(storage.root / WHEEL)


def test_a_failing_sink_keeps_its_own_error(storage: LocalStorage) -> None:
    info = storage.stat(WHEEL)
    assert info is not None

    def full_disk(chunk: bytes) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(OSError, match="No space left on device") as caught:
        storage.stream(WHEEL, info.generation, full_disk)
    assert caught.value.filename is None  # the sink's writer names its own file


@pytest.mark.parametrize(
    "prefix",
    ["simple/p7/.queue/", "simple/p7/.qu", "simple/p7/", "simple/p", "simple/", "sim", "", "x/y/"],
)
def test_a_listing_reads_only_the_folders_its_prefix_can_reach(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefix: str
) -> None:
    """A refresh lists its project's queue after every release: that must not read the
    folder of every project (it did, and a refresh grew with the index)."""
    storage = LocalStorage(tmp_path)
    for n in range(20):
        storage.put(f"simple/p{n}/index.html", b"x", content_type="text/html")
        storage.put(f"simple/p{n}/.queue/i{n}", b"{}", content_type="application/json")
    storage.put("top.whl", b"w", content_type="application/octet-stream")
    everything = sorted(info.path for info in storage.list())
    scanned: list[str] = []
    real = os.scandir

    def scandir(path: str) -> Any:
        scanned.append(os.path.relpath(path, tmp_path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    listed = sorted(info.path for info in storage.list(prefix))
    assert listed == [p for p in everything if p.startswith(prefix)]
    head = prefix.rpartition("/")[0]
    assert scanned
    assert [s for s in scanned if not head or s == head or s.startswith(head + "/")] == scanned
