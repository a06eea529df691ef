"""A local folder as storage: the embedded default behind ``pypapo serve DIR``.

Writes go to a temporary file in the same directory and are renamed into place, so a reader
(NGINX, ``pypapo serve``) never sees a torn page. Conditional writes hold an ``flock`` on the
object's directory for the few microseconds of compare-and-rename; unconditional ones rename
without it, since pypapo never writes one object both ways (pages and sidecars unconditionally,
the state and the root JSON page only conditionally; a ``pypapo upload --force`` racing a plain
upload of the same file is the one mix, and either file may win it). A token is the sha256 of
the content, so it needs no clock and survives copies of the folder.

Object metadata (only the yank reason) lives in a sidecar ``<file>.yanked`` holding the reason,
which a person can also create by hand. Whoever can write the folder writes these markers, so
they are read as untrusted input: only a regular file is a marker (a FIFO of that name would
block a build, a device would never end), at most ``MAX_MARKER`` bytes of it are read, and bytes
that are not UTF-8 are replaced with U+FFFD: the file is there, so its publisher meant a yank,
and a garbled reason is better than serving the file as installable. A marker that cannot be
read at all (no permission) yanks without a reason, with a warning naming it.

A failed write (a full disk, a read-only folder) removes its temporary file and raises the
``OSError`` with the name of the file it was writing.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import stat
import time
import unicodedata
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

from pypapo.layout import TMP_PREFIX, YANK_MARKER_SUFFIX, tmp_name
from pypapo.storage import (
    ABSENT,
    EPOCH,
    YANK_KEY,
    Blob,
    ObjectChangedError,
    ObjectInfo,
    Selection,
    StorageError,
    selected,
)

CHUNK = 1 << 20
UPLOAD_CHUNK = 8 << 20
"""Bytes copied between two progress reports of an upload."""
MAX_MARKER = 4096
"""Bytes of a yank reason read from a marker: installers show the reason, nobody needs a book."""
_READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
"""Opening a FIFO without a writer, or a terminal, must neither block nor take it over."""

log = logging.getLogger(__name__)


def _token(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _generation(st: os.stat_result) -> str:
    return f"{st.st_mtime_ns}-{st.st_size}-{st.st_ino}"


def _may_hold(within: Selection | None, folder: str) -> bool:
    return within is None or any(part.may_hold_below(folder) for part in within)


def _object_info(path: str, st: os.stat_result, yank_reason: str | None) -> ObjectInfo:
    return ObjectInfo(
        path=path,
        size=st.st_size,
        generation=_generation(st),
        created=EPOCH + timedelta(microseconds=st.st_mtime_ns // 1000),
        metadata={} if yank_reason is None else {YANK_KEY: yank_reason.strip()},
    )


class LocalStorage:
    """A folder on disk; object paths are relative POSIX paths below it.

    Works on ``str`` paths with ``os`` calls: a full build makes tens of thousands of these
    calls, and building ``pathlib`` objects for each cost more than the system calls did.
    """

    waits_on_network = False
    """Independent calls go one after another: threads would only add to their CPU cost."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        self._root = str(self.root)

    def describe(self) -> str:
        return self._root

    def _fs(self, path: str) -> str:
        parts = [part for part in path.split("/") if part not in ("", ".")]
        if path.startswith("/") or ".." in parts or not parts:
            raise StorageError(f"object path must be relative and inside the root: {path!r}")
        if _has_control_character(path):
            # a NUL would make every os call raise ValueError; the others make names no one can
            # type or see, and no index link should lead to them
            raise StorageError(f"object path has a control character: {path!r}")
        return os.path.join(self._root, *parts)

    def _info(self, path: str, fs: str) -> ObjectInfo | None:
        try:
            st = os.stat(fs)
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not stat.S_ISREG(st.st_mode):
            return None
        return _object_info(path, st, _read_marker(fs + YANK_MARKER_SUFFIX))

    def list(self, prefix: str = "", *, within: Selection | None = None) -> Iterator[ObjectInfo]:
        # one scandir per directory and one stat per file: yank markers are found in the same
        # listing instead of being probed for every file; ``within`` is applied in the same
        # walk (a file's name decides before its stat, a folder no part can reach is skipped);
        # the walk starts in the deepest folder the prefix names (a project's queue is listed
        # after every release: the folder of every project must not be read for it)
        head = prefix.rpartition("/")[0]
        if not head or any(part in ("", ".", "..") for part in head.split("/")):
            head = ""  # no folder to start in: the walk from the root filters by name
        start = self._fs(head) if head else self._root
        yield from self._list_dir(start, head + "/" if head else "", prefix, within)

    def _list_dir(
        self, directory: str, base: str, prefix: str, within: Selection | None
    ) -> Iterator[ObjectInfo]:
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except FileNotFoundError:  # gone (or a root not created yet: an empty storage)
            return
        except OSError:
            # a folder below the root that cannot be read (a root-owned lost+found) is skipped,
            # as os.walk skips it; an unreadable root would make an empty index look fine
            if directory == self._root:
                raise
            return
        names = {e.name for e in entries}
        for entry in entries:
            path = base + entry.name
            if entry.is_dir(follow_symlinks=False):
                sub = path + "/"
                if (sub.startswith(prefix) or prefix.startswith(sub)) and _may_hold(within, sub):
                    yield from self._list_dir(entry.path, sub, prefix, within)
                continue
            if entry.name.startswith(TMP_PREFIX) or not path.startswith(prefix):
                continue
            if not selected(within, path):
                continue
            try:
                st = entry.stat()
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                marker = entry.name + YANK_MARKER_SUFFIX in names
                yield _object_info(
                    path, st, _read_marker(entry.path + YANK_MARKER_SUFFIX) if marker else None
                )

    def stat(self, path: str) -> ObjectInfo | None:
        return self._info(path, self._fs(path))

    def sweep_temporary(self, older_than: float = 3600.0) -> tuple[str, ...]:
        """Remove temporary files that writers killed mid-write left behind (never listed or
        served, only clutter); a live write's file is seconds old. Returns what was removed."""
        cutoff = time.time() - older_than
        removed: set[str] = set()
        for directory, _dirs, files in os.walk(self._root):
            for name in files:
                if not name.startswith(TMP_PREFIX):
                    continue
                fs = os.path.join(directory, name)
                # clutter another user left in a shared folder may not be ours to remove: the
                # sweep is housekeeping and must not fail the command that ran it
                with contextlib.suppress(OSError):
                    if os.stat(fs).st_mtime < cutoff:
                        os.unlink(fs)
                        removed.add(os.path.relpath(fs, self._root).replace(os.sep, "/"))
        return tuple(sorted(removed))

    @contextlib.contextmanager
    def _pinned(self, path: str, generation: str) -> Iterator[int]:
        try:
            # non-blocking: a FIFO swapped in since the listing fails the generation check
            # below instead of blocking the read
            fd = os.open(self._fs(path), _READ_FLAGS)
        except FileNotFoundError:
            raise ObjectChangedError(path, generation) from None
        try:
            if _generation(os.fstat(fd)) != generation:
                raise ObjectChangedError(path, generation)
            yield fd
        finally:
            os.close(fd)

    def read_range(self, path: str, start: int, end: int, generation: str) -> bytes:
        with self._pinned(path, generation) as fd, naming(self._fs(path)):
            return os.pread(fd, max(0, end - start), start)

    def stream(self, path: str, generation: str, sink: Callable[[bytes], object]) -> None:
        fs = self._fs(path)
        with self._pinned(path, generation) as fd:
            while True:
                with naming(fs):  # only the read: the sink's errors are about its own files
                    chunk = os.read(fd, CHUNK)
                if not chunk:
                    return
                sink(chunk)

    def get(self, path: str) -> Blob | None:
        data = _read(self._fs(path))
        return None if data is None else Blob(data, _token(data))

    @contextlib.contextmanager
    def _locked_dir(self, directory: str) -> Iterator[None]:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def put(
        self,
        path: str,
        data: bytes,
        *,
        content_type: str,
        cache_control: str = "",
        if_token: str | None = None,
    ) -> str | None:
        del content_type, cache_control  # a folder has no object metadata; NGINX sets headers
        fs = self._fs(path)
        with temporary_beside(fs) as tmp:
            _write_new(path, tmp, data)
            if if_token is None:
                # Pages and sidecars are only ever written unconditionally, the state and root
                # JSON only conditionally: a plain rename needs no lock (a build does thousands).
                os.replace(tmp, fs)
                return _token(data)
            with self._locked_dir(os.path.dirname(fs)):
                if _current_token(fs) != if_token:
                    _unlink(tmp)
                    return None
                os.replace(tmp, fs)
        return _token(data)

    def delete(self, path: str, *, if_token: str | None = None) -> bool:
        fs = self._fs(path)
        directory = os.path.dirname(fs)
        try:
            with self._locked_dir(directory):
                if if_token is not None and _current_token(fs) != if_token:
                    return False
                os.unlink(fs)  # ABSENT matched an absent object: nothing to delete, False below
        except (FileNotFoundError, NotADirectoryError):  # the object or its directory is gone
            return False
        if directory != self._root:
            with contextlib.suppress(OSError):  # only succeeds once the directory is empty
                os.rmdir(directory)
        return True

    def set_metadata(self, path: str, key: str, value: str | None) -> None:
        if key != YANK_KEY:
            raise StorageError(f"a local folder stores only the {YANK_KEY!r} metadata, not {key!r}")
        fs = self._fs(path)
        if not os.path.isfile(fs):
            raise StorageError(f"no such file: {path!r}")
        marker = fs + YANK_MARKER_SUFFIX
        if value is None:
            _unlink(marker)
            return
        with temporary_beside(marker) as tmp:
            _write_new(path, tmp, (value + "\n").encode())
            os.replace(tmp, marker)  # a concurrent stat never reads a half-written reason

    def upload_file(
        self,
        local: Path,
        path: str,
        *,
        create_only: bool,
        progress: Callable[[int], None] | None = None,
    ) -> str | None:
        # create-only is a hard link of the finished temporary file: link() fails when the name
        # exists, so two uploads of one name cannot both win and no reader sees a partial file
        fs = self._fs(path)
        with temporary_beside(fs) as tmp:
            token = _copy_new(path, tmp, local, progress or (lambda _done: None))
            if not create_only:
                os.replace(tmp, fs)
                return token
            try:
                os.link(tmp, fs)
            except FileExistsError:
                return None
            finally:
                _unlink(tmp)
        return token


@contextlib.contextmanager
def temporary_beside(target: str) -> Iterator[str]:
    """A temporary name in ``target``'s directory for an atomic write; the block writes it and
    renames it into place (or removes it). When the block fails, the temporary file is removed
    here: a full disk must not leave it behind until the sweep an hour later. An ``OSError``
    that names no file (a failed ``write`` or ``close``) is raised again naming ``target``, so
    the one-line message says which write failed."""
    directory, name = os.path.split(target)
    tmp = os.path.join(directory, tmp_name(name))
    try:
        with naming(target):
            yield tmp
    except BaseException:
        with contextlib.suppress(OSError):  # the error that matters is the one being raised
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def naming(fs: str) -> Iterator[None]:
    """Raise an ``OSError`` that names no file (a failed ``read``, ``write`` or ``close``)
    again naming ``fs``: a one-line message must say which file failed."""
    try:
        yield
    except OSError as e:
        if e.errno is None or e.filename is not None:
            raise
        raise OSError(e.errno, e.strerror, fs) from e


def _has_control_character(text: str) -> bool:
    return any(unicodedata.category(c) == "Cc" for c in text)


def _read(fs: str, limit: int = -1) -> bytes | None:
    """The first ``limit`` bytes (all with -1) of the regular file at ``fs``; ``None`` when
    there is none there: absent, or a directory, FIFO, socket or device, which ``stat`` and
    ``list`` do not count as objects either."""
    try:
        fd = os.open(fs, _READ_FLAGS)
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        with open(fd, "rb", closefd=False) as f, naming(fs):
            return f.read(limit)
    finally:
        os.close(fd)


def _current_token(fs: str) -> str:
    data = _read(fs)
    return ABSENT if data is None else _token(data)


def _read_marker(fs: str) -> str | None:
    """The yank reason a marker holds, ``None`` when there is no marker (see the module doc)."""
    try:
        data = _read(fs, MAX_MARKER)
    except OSError as e:
        log.warning("yanked without a reason, the marker cannot be read: %s: %s", fs, e.strerror)
        return ""
    return None if data is None else data.decode("utf-8", errors="replace")


def _unlink(fs: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(fs)


def _create(path: str, tmp: str) -> int:
    """A descriptor of the new file ``tmp``, creating its directory when needed."""
    for _ in range(5):  # a concurrent delete may remove the emptied directory under us
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
        except FileNotFoundError:
            with contextlib.suppress(FileNotFoundError, FileExistsError):
                os.makedirs(os.path.dirname(tmp), exist_ok=True)
    raise StorageError(f"cannot create {path!r}: its directory keeps disappearing")


def _write_new(path: str, tmp: str, data: bytes) -> None:
    fd = _create(path, tmp)
    try:
        _write_all(fd, data)
    finally:
        os.close(fd)


def _copy_new(path: str, tmp: str, local: Path, progress: Callable[[int], None]) -> str:
    """Copy ``local`` into the new file ``tmp`` chunk by chunk; the content's token."""
    digest = hashlib.sha256()
    done = 0
    fd = _create(path, tmp)
    try:
        with local.open("rb") as src:
            while chunk := src.read(UPLOAD_CHUNK):
                _write_all(fd, chunk)
                digest.update(chunk)
                done += len(chunk)
                progress(done)
    finally:
        os.close(fd)
    if done == 0:
        progress(0)  # an empty file is never read: still say it is done
    return digest.hexdigest()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:  # a write may take only part of the data (a signal, a nearly full disk)
        view = view[os.write(fd, view) :]
