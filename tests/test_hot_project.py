"""A release of many files into one project, its events delivered concurrently, costs about
what the same number of events spread over as many projects costs, every event succeeds, and
the pages end byte-identical to a scratch build.

Storage calls are slowed a little so that events really overlap (the cost of a burst comes
from overlap); requests are counted, never timed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pypapo.build import build
from pypapo.refresh import refresh
from pypapo.sample import SampleProject, wheel_bytes
from pypapo.storage import ObjectInfo, Storage
from pypapo.storage.counting import CountingStorage
from pypapo.storage.local import LocalStorage
from tests.support.index import snapshot, wipe_index

FILES = 60


def _slowed(storage: Storage, seconds: float) -> CountingStorage:
    counting = CountingStorage(storage)
    counting.before = lambda method, path: time.sleep(seconds)
    return counting


def _deliver_all(
    storage: Storage, events: list[tuple[str, ObjectInfo | None]], concurrency: int
) -> None:
    def deliver(numbered: tuple[int, tuple[str, ObjectInfo | None]]) -> None:
        number, (path, hint) = numbered
        hints = {path: hint} if hint is not None else None
        refresh(storage, [path], hints=hints, event_id=f"event-{number}")

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(deliver, enumerate(events)))  # re-raises any event's failure


def _upload(root: Path, storage: Storage, path: str, data: bytes) -> tuple[str, ObjectInfo]:
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    info = storage.stat(path)
    assert info is not None
    return path, info


def _hot(root: Path, storage: Storage) -> list[tuple[str, ObjectInfo | None]]:
    """One version of one project, as many platform wheels as a cibuildwheel run makes."""
    project = SampleProject("hotpkg", "2.0")
    return [
        _upload(root, storage, f"packages/hotpkg/hotpkg-2.0-{tag}.whl", wheel_bytes(project, tag))
        for tag in [f"cp311-cp311-manylinux_2_17_x86_64_{n}" for n in range(FILES)]
    ]


def _spread(root: Path, storage: Storage) -> list[tuple[str, ObjectInfo | None]]:
    """A new version of each of as many existing projects."""
    events: list[tuple[str, ObjectInfo | None]] = []
    for n in range(FILES):
        old = SampleProject(f"quiet{n}", "1.0")
        path = f"packages/quiet{n}/quiet{n}-1.0-py3-none-any.whl"
        _upload(root, storage, path, wheel_bytes(old))
    build(storage)
    for n in range(FILES):
        new = SampleProject(f"quiet{n}", "2.0")
        path = f"packages/quiet{n}/quiet{n}-2.0-py3-none-any.whl"
        events.append(_upload(root, storage, path, wheel_bytes(new)))
    return events


def _new_projects(root: Path, storage: Storage) -> list[tuple[str, ObjectInfo | None]]:
    """As many new projects into an index of 300 (their root pages grow)."""
    for n in range(300):
        old = SampleProject(f"old{n}", "1.0")
        _upload(root, storage, f"packages/{old.stem}-py3-none-any.whl", wheel_bytes(old))
    build(storage)
    events: list[tuple[str, ObjectInfo | None]] = []
    for n in range(FILES):
        new = SampleProject(f"new{n}", "1.0")
        events.append(
            _upload(root, storage, f"packages/{new.stem}-py3-none-any.whl", wheel_bytes(new))
        )
    return events


def _requests_per_event(
    tmp_path: Path,
    corpus: Callable[[Path, Storage], list[tuple[str, ObjectInfo | None]]],
    concurrency: int,
) -> float:
    root = tmp_path / corpus.__name__.strip("_")
    storage = LocalStorage(root)
    events = corpus(root, storage)
    counting = _slowed(storage, 0.002)
    _deliver_all(counting, events, concurrency)
    after = snapshot(storage)
    wipe_index(storage)
    build(storage)
    assert after == snapshot(storage), "the burst left pages that differ from a scratch build"
    return counting.total / len(events)


@pytest.mark.slow
@pytest.mark.parametrize("concurrency", [8, 32])
@pytest.mark.parametrize("burst", [_hot, _new_projects], ids=["one-project", "new-projects"])
def test_a_burst_costs_at_most_twice_what_a_spread_burst_costs(
    tmp_path: Path,
    concurrency: int,
    burst: Callable[[Path, Storage], list[tuple[str, ObjectInfo | None]]],
) -> None:
    """Many files of one project contend for its pages; many new projects for the root pages:
    either is drained by one holder at a time while the other events hand over."""
    spread = _requests_per_event(tmp_path, _spread, concurrency)
    cost = _requests_per_event(tmp_path, burst, concurrency)
    assert cost <= 2 * spread, f"{cost:.1f} requests per event, spread {spread:.1f}"


@pytest.mark.slow
def test_every_event_of_a_large_burst_succeeds(tmp_path: Path) -> None:
    """120 events at 32 concurrent: none gives up because the others succeeded."""
    root = tmp_path / "many"
    storage = LocalStorage(root)
    project = SampleProject("hotpkg", "3.0")
    events: list[tuple[str, ObjectInfo | None]] = [
        _upload(root, storage, f"packages/hotpkg-3.0-cp312-cp312-linux_{n}.whl", data)
        for n in range(2 * FILES)
        for data in [wheel_bytes(project, f"cp312-cp312-linux_{n}")]
    ]
    _deliver_all(_slowed(storage, 0.002), events, 32)
    after = snapshot(storage)
    wipe_index(storage)
    build(storage)
    assert after == snapshot(storage)
