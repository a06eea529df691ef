"""Compare-and-swap on one object, and the one retry loop every writer that can lose shares.

Every conditional write pypapo makes (a project's state, the root pages, a project's publish
marker) goes through ``swap``; every loop that retries after losing goes through ``attempts``,
so attempt counting, back-off and giving up live here only.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator

from pypapo.errors import ConflictError
from pypapo.storage import ABSENT, PAGE_CACHE_CONTROL, Storage

MAX_ATTEMPTS = 40


def attempts(what: str) -> Iterator[int]:
    """0, 1, 2, ... with full-jitter back-off before each retry; ``ConflictError`` once the
    budget is spent (a loop that succeeds simply stops asking)."""
    for attempt in range(MAX_ATTEMPTS):
        if attempt:
            # full jitter keeps colliding writers from retrying in lockstep
            time.sleep(random.uniform(0, min(0.5, 0.005 * 2**attempt)))  # noqa: S311
        yield attempt
    raise ConflictError(what, MAX_ATTEMPTS)


def swap(
    storage: Storage,
    path: str,
    data: bytes | None,
    token: str,
    *,
    content_type: str,
    cache_control: str = PAGE_CACHE_CONTROL,
) -> str | None:
    """Make ``path`` hold ``data`` (``None``: not exist) if it still has ``token``. Returns the
    new token (``ABSENT`` for a deletion), or ``None`` when someone else changed it first."""
    if data is None:
        if token == ABSENT:
            return ABSENT
        return ABSENT if storage.delete(path, if_token=token) else None
    return storage.put(
        path, data, content_type=content_type, cache_control=cache_control, if_token=token
    )
