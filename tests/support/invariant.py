"""The refresh invariant as a reusable check: apply user actions to any storage, deliver their
events duplicated, shuffled and concurrent, and compare with a from-scratch build."""

from __future__ import annotations

import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from hypothesis import strategies as st

from pypapo.build import build
from pypapo.layout import SIDECAR_SUFFIX
from pypapo.refresh import refresh
from pypapo.sample import SampleProject, sdist_bytes, wheel_bytes
from pypapo.storage import YANK_KEY, ObjectInfo, Storage
from tests.support.index import snapshot, wipe_index

PROJECTS = ["alpha", "Beta.Two", "gamma_x"]
VERSIONS = ["1.0", "1.1", "2.0rc1"]
DIRS = ["", "pkgs/", "team a/ü/"]


@dataclass(frozen=True)
class Upload:
    project: str
    version: str
    sdist: bool
    directory: str
    variant: int  # a different variant is an overwrite with other bytes
    bad: bool = False

    @property
    def path(self) -> str:
        stem = SampleProject(self.project, self.version).stem
        return self.directory + (f"{stem}.tar.gz" if self.sdist else f"{stem}-py3-none-any.whl")

    def data(self) -> bytes:
        if self.bad:
            return b"not an archive " * self.variant
        project = SampleProject(
            self.project,
            self.version,
            summary=f"variant {self.variant}",
            requires_python=">=3.8" if self.variant % 2 else None,
        )
        return sdist_bytes(project) if self.sdist else wheel_bytes(project)


@dataclass(frozen=True)
class Delete:
    target: Upload


@dataclass(frozen=True)
class Yank:
    target: Upload
    reason: str | None  # None: unyank


Op = Upload | Delete | Yank

uploads = st.builds(
    Upload,
    project=st.sampled_from(PROJECTS),
    version=st.sampled_from(VERSIONS),
    sdist=st.booleans(),
    directory=st.sampled_from(DIRS),
    variant=st.integers(1, 3),
    bad=st.sampled_from([False, False, False, True]),
)
operations = st.one_of(
    uploads,
    uploads.map(Delete),
    st.builds(Yank, uploads, st.sampled_from([None, "", 'security <fix> & "quotes"'])),
)


def apply(storage: Storage, put_file: Callable[[str, bytes], None], op: Op) -> str:
    """Apply one user action to the storage; return the object path its event names."""
    if isinstance(op, Upload):
        put_file(op.path, op.data())
        return op.path
    if isinstance(op, Delete):
        storage.delete(op.target.path)
        return op.target.path
    if storage.stat(op.target.path) is not None:
        storage.set_metadata(op.target.path, YANK_KEY, op.reason)
    return op.target.path


def check_invariant(
    storage: Storage,
    put_file: Callable[[str, bytes], None],
    ops: list[Op],
    seed: int,
    threads: int,
) -> None:
    rng = random.Random(seed)
    events: list[tuple[str, ObjectInfo | None]] = []
    for op in ops:
        path = apply(storage, put_file, op)
        # an upload's event describes the object as it was then (a hint that may be stale
        # by delivery time); the function passes that description to refresh
        events.append((path, storage.stat(path) if isinstance(op, Upload) else None))
        if rng.random() < 0.5:  # some events arrive while uploads are still going on
            _deliver(storage, (len(events) - 1, events[-1]))
    # every event is delivered at least once, some several times (at once, maybe)
    deliveries = [e for e in enumerate(events) for _ in range(rng.randint(1, 3))]
    rng.shuffle(deliveries)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(lambda e: _deliver(storage, e), deliveries))
    incremental = snapshot(storage)

    wipe_index(storage)
    build(storage)
    from_scratch = snapshot(storage)
    assert incremental.keys() == from_scratch.keys()
    for path, data in from_scratch.items():
        assert incremental[path] == data, f"{path} differs from a from-scratch build"
    for path in from_scratch:
        if path.endswith(SIDECAR_SUFFIX):  # every advertised sidecar exists, and only those
            assert storage.stat(path.removesuffix(SIDECAR_SUFFIX)) is not None


def _deliver(storage: Storage, event: tuple[int, tuple[str, ObjectInfo | None]]) -> None:
    number, (path, hint) = event
    hints = {path: hint} if hint is not None else None
    refresh(storage, [path], hints=hints, event_id=f"event-{number}")


def local_put(root: Path) -> Callable[[str, bytes], None]:
    def put(path: str, data: bytes) -> None:
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".upload")
        tmp.write_bytes(data)
        tmp.replace(target)  # like an upload: the object appears whole

    return put
