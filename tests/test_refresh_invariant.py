"""The refresh invariant: whatever events arrive — duplicated, shuffled, concurrent — the index
converges to exactly the bytes of a from-scratch build of the same final files.

The check itself (``tests/support/invariant.py``) is storage-agnostic: the GCS tests run it
against the emulator.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pypapo.build import build
from pypapo.refresh import refresh
from pypapo.storage.local import LocalStorage
from tests.support.index import snapshot, wipe_index
from tests.support.invariant import Op, Upload, check_invariant, local_put, operations

EXAMPLES = int(os.environ.get("PYPAPO_INVARIANT_EXAMPLES", "300"))


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    ops=st.lists(operations, min_size=1, max_size=14),
    seed=st.integers(0, 2**32 - 1),
    threads=st.integers(1, 4),
)
def test_refresh_converges_to_full_build_locally(ops: list[Op], seed: int, threads: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        check_invariant(LocalStorage(root), local_put(root), ops, seed, threads)


def test_invariant_detects_a_stale_page(tmp_path: Path) -> None:
    """The comparison above can fail: a page left stale by a missed event is caught."""
    storage = LocalStorage(tmp_path)
    put = local_put(tmp_path)
    first = Upload("alpha", "1.0", sdist=False, directory="", variant=1)
    put(first.path, first.data())
    refresh(storage, [first.path])
    second = Upload("alpha", "1.1", sdist=False, directory="", variant=1)
    put(second.path, second.data())  # no event delivered for this one
    stale = snapshot(storage)
    wipe_index(storage)
    build(storage)
    assert snapshot(storage) != stale
