"""A local folder as storage: the embedded default behind ``pypapo serve DIR``.

Writes go to a temporary file in the same directory and are renamed into place, so a reader
(NGINX, ``pypapo serve``) never sees a torn page. Conditional writes hold an ``flock`` on the
object's directory for the few microseconds of compare-and-rename; a token is the sha256 of the
content, so it needs no clock and survives copies of the folder.

Object metadata (only the yank reason) lives in a sidecar ``<file>.yanked`` holding the reason,
which a person can also create by hand.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath

from pypapo.storage import YANK_KEY, Blob, ObjectChangedError, ObjectInfo, StorageError

CHUNK = 1 << 20
YANK_SUFFIX = ".yanked"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _token(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _tmp_name(name: str) -> str:
    """A hidden temporary name beside ``name``, unique per thread, short enough for any
    file name (only a prefix of ``name`` is kept: the target may be 255 bytes long already)."""
    stem = name.encode()[:100].decode(errors="ignore")
    return f".pypapo-tmp-{stem}-{os.getpid()}-{threading.get_ident():x}"


def _generation(st: os.stat_result) -> str:
    return f"{st.st_mtime_ns}-{st.st_size}-{st.st_ino}"


class LocalStorage:
    """A folder on disk; object paths are relative POSIX paths below it."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()

    def describe(self) -> str:
        return str(self.root)

    def _fs(self, path: str) -> Path:
        pure = PurePosixPath(path)
        if pure.is_absolute() or ".." in pure.parts or not pure.parts:
            raise StorageError(f"object path must be relative and inside the root: {path!r}")
        return self.root.joinpath(*pure.parts)

    def _info(self, path: str, fs: Path) -> ObjectInfo | None:
        try:
            st = fs.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not fs.is_file():
            return None
        metadata: dict[str, str] = {}
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            metadata[YANK_KEY] = fs.with_name(fs.name + YANK_SUFFIX).read_text("utf-8").strip()
        return ObjectInfo(
            path=path,
            size=st.st_size,
            generation=_generation(st),
            created=_EPOCH + timedelta(microseconds=st.st_mtime_ns // 1000),
            metadata=metadata,
        )

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        top = self.root
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames.sort()
            rel_dir = Path(dirpath).relative_to(top).as_posix()
            base = "" if rel_dir == "." else rel_dir + "/"
            if not (base.startswith(prefix) or prefix.startswith(base)):
                dirnames.clear()
                continue
            for name in sorted(filenames):
                path = base + name
                if name.startswith(".pypapo-tmp-") or not path.startswith(prefix):
                    continue
                info = self._info(path, Path(dirpath, name))
                if info is not None:
                    yield info

    def stat(self, path: str) -> ObjectInfo | None:
        return self._info(path, self._fs(path))

    @contextlib.contextmanager
    def _pinned(self, path: str, generation: str) -> Iterator[int]:
        try:
            fd = os.open(self._fs(path), os.O_RDONLY)
        except FileNotFoundError:
            raise ObjectChangedError(path, generation) from None
        try:
            if _generation(os.fstat(fd)) != generation:
                raise ObjectChangedError(path, generation)
            yield fd
        finally:
            os.close(fd)

    def read_range(self, path: str, start: int, end: int, generation: str) -> bytes:
        with self._pinned(path, generation) as fd:
            return os.pread(fd, max(0, end - start), start)

    def stream(self, path: str, generation: str, sink: Callable[[bytes], object]) -> None:
        with self._pinned(path, generation) as fd:
            while chunk := os.read(fd, CHUNK):
                sink(chunk)

    def get(self, path: str) -> Blob | None:
        try:
            data = self._fs(path).read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        return Blob(data, _token(data))

    @contextlib.contextmanager
    def _locked_dir(self, directory: Path) -> Iterator[None]:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _current_token(self, fs: Path) -> str | None:
        try:
            return _token(fs.read_bytes())
        except FileNotFoundError:
            return None

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
        tmp = fs.with_name(_tmp_name(fs.name))
        for _ in range(5):  # a concurrent delete may remove the emptied directory under us
            try:
                fs.parent.mkdir(parents=True, exist_ok=True)
                tmp.write_bytes(data)
                break
            except (FileNotFoundError, FileExistsError):
                continue
        else:
            raise StorageError(f"cannot create {path!r}: its directory keeps disappearing")
        try:
            with self._locked_dir(fs.parent):
                if if_token is not None:
                    current = self._current_token(fs)
                    if (current or "0") != if_token:
                        return None
                tmp.replace(fs)
        finally:
            tmp.unlink(missing_ok=True)
        return _token(data)

    def delete(self, path: str, *, if_token: str | None = None) -> bool:
        fs = self._fs(path)
        try:
            with self._locked_dir(fs.parent):
                if if_token is not None and self._current_token(fs) != if_token:
                    return False
                fs.unlink()
        except (FileNotFoundError, NotADirectoryError):  # the object or its directory is gone
            return False
        with contextlib.suppress(OSError):  # only succeeds once the directory is empty
            fs.parent.rmdir()
        return True

    def set_metadata(self, path: str, key: str, value: str | None) -> None:
        if key != YANK_KEY:
            raise StorageError(f"a local folder stores only the {YANK_KEY!r} metadata, not {key!r}")
        fs = self._fs(path)
        if not fs.is_file():
            raise StorageError(f"no such file: {path!r}")
        marker = fs.with_name(fs.name + YANK_SUFFIX)
        if value is None:
            marker.unlink(missing_ok=True)
            return
        tmp = marker.with_name(_tmp_name(marker.name))
        tmp.write_text(value + "\n", "utf-8")
        tmp.replace(marker)  # a concurrent stat never reads a half-written reason
