"""What an index holds, as bytes: for comparing an incremental index with a scratch build."""

from __future__ import annotations

from pypapo.layout import is_own_write
from pypapo.storage import Storage


def snapshot(storage: Storage) -> dict[str, bytes]:
    """Every object pypapo wrote: pages (machine and browse), states, markers and sidecars.
    Yank markers of a folder are the operator's input, not pypapo's output."""
    result: dict[str, bytes] = {}
    for info in storage.list():
        if is_own_write(info.path) and not info.path.endswith(".yanked"):
            blob = storage.get(info.path)
            assert blob is not None
            result[info.path] = blob.data
    return result


def wipe_index(storage: Storage) -> None:
    """Remove everything pypapo wrote, leaving the distributions and their yanks."""
    for path in snapshot(storage):
        storage.delete(path)
