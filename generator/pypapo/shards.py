"""Name ranges for a build split over ``count`` tasks (Cloud Run Jobs), decided by each task
alone from its index and the count: no plan shared beforehand, nothing read from the bucket.

A project's *key* is its normalized name's first ``KEY_LENGTH`` characters over
``KEY_ALPHABET`` (``storage.basename_key``); every file of the project has a basename with the
same key, whatever its folder or spelling (``Foo_Bar-1.0.tar.gz`` and ``foo.bar-1.0.zip`` are
``fo``…), so a task can ask storage for its own objects only. The keys are cut into *leaves*
(``name_weights.json``: name-prefix frequencies of public PyPI project names, measured 2026-12):
an initial is a leaf, or is split into two-character leaves, and a popular two-character prefix
(``py``) into three-character ones; a task owns a contiguous run of leaves of about
``1/count`` of the weight.

A leaf never ends in ``-`` followed by more: the one-letter project ``a`` and the projects
``a-…`` share the leaf ``a-`` (a file ``a-1.0.tar.gz`` does not tell which one it is), and so
the order of the index's own folders (``simple/a/`` sorts after ``simple/a-b/``) never puts a
boundary between them.
"""

from __future__ import annotations

import bisect
import functools
import json
from dataclasses import dataclass
from importlib import resources

from packaging.utils import canonicalize_name

from pypapo.layout import BROWSE_PREFIX, INDEX_PREFIX, QUARANTINE_PREFIX
from pypapo.storage import KEY_ALPHABET, KEY_LENGTH, Part, basename_key

_WEIGHTS = "name_weights.json"


@functools.cache
def leaves() -> tuple[tuple[str, int], ...]:
    """The committed leaves in key order, with their weights."""
    raw = json.loads(resources.files("pypapo").joinpath(_WEIGHTS).read_text("utf-8"))
    return tuple(sorted((str(k), int(v)) for k, v in raw["leaves"].items()))


@functools.cache
def starts(count: int) -> tuple[str, ...]:
    """The first key of each of ``count`` tasks' ranges (``""`` for task 0): cut where the
    running weight is nearest to each task's even share."""
    table = leaves()
    total = sum(w for _, w in table) or 1
    running = [0]
    for _, weight in table:
        running.append(running[-1] + weight)
    cuts = [""]
    at = 0
    for task in range(1, count):
        target = task * total / count
        # the leaf start whose running weight is nearest to the target, never going back
        at = min(range(at, len(table)), key=lambda j: (abs(running[j] - target), j))
        cuts.append(table[at][0])
    return tuple(cuts)


def _ends(count: int) -> tuple[str | None, ...]:
    return (*starts(count)[1:], None)


def project_key(project: str) -> str:
    return basename_key(canonicalize_name(project))


@dataclass(frozen=True)
class Range:
    """Keys ``[low, high)`` (``high`` ``None``: no end)."""

    low: str
    high: str | None

    def holds(self, key: str) -> bool:
        return self.low <= key and (self.high is None or key < self.high)


@functools.cache
def key_range(index: int, count: int) -> Range:
    return Range(starts(count)[index], _ends(count)[index])


def owner(key: str, count: int) -> int:
    """The task whose range holds ``key`` (of equal starts, the last: the others are empty)."""
    return bisect.bisect_right(starts(count), key) - 1


@functools.cache
def initials(index: int, count: int) -> frozenset[str]:
    """The leaves of task ``index``, merged into their parent where all its children are
    there: the fewest prefixes, so the fewest glob alternatives."""
    span = key_range(index, count)
    found = {leaf for leaf, _ in leaves() if span.holds(leaf)}
    for length in range(KEY_LENGTH - 1, -1, -1):
        parents = {p[:length] for p in found if len(p) == length + 1}
        for parent in parents:
            children = {parent + c for c in KEY_ALPHABET}
            if children <= found:
                found = (found - children) | {parent}
    return frozenset(found)


# Where pypapo's own pages live: listed by name range; everything else (distributions anywhere,
# their sidecars, quarantine markers, status files) by basename key.
_PAGE_ZONES = (  # (folder, start, end): the quarantine is not a project's folder
    (BROWSE_PREFIX, BROWSE_PREFIX, BROWSE_PREFIX[:-1] + "0"),
    (INDEX_PREFIX, INDEX_PREFIX, QUARANTINE_PREFIX),
    (INDEX_PREFIX, QUARANTINE_PREFIX[:-1] + "0", INDEX_PREFIX[:-1] + "0"),
)
_BASENAME_ZONES = (
    ("", BROWSE_PREFIX),
    (BROWSE_PREFIX[:-1] + "0", INDEX_PREFIX),
    (QUARANTINE_PREFIX, QUARANTINE_PREFIX[:-1] + "0"),
    (INDEX_PREFIX[:-1] + "0", None),
)


def _clip(start: str, end: str | None, low: str, high: str | None) -> tuple[str, str | None] | None:
    """``[start, end)`` ∩ ``[low, high)``, or ``None`` when empty."""
    lo = max(start, low)
    hi = end if high is None else high if end is None else min(end, high)
    return None if hi is not None and hi <= lo else (lo, hi)


@functools.cache
def page_parts(index: int, count: int) -> tuple[Part, ...]:
    """Task ``index``'s folders of pages: ``simple/<p>/`` and ``browse/<p>/`` for the projects
    of its range (every project folder name starts with a key character, and sorts between the
    range's ends exactly as its key does: see the module's note on leaves)."""
    span = key_range(index, count)
    parts = []
    for folder, start, end in _PAGE_ZONES:
        low = folder + span.low if span.low else start
        high = None if span.high is None else folder + span.high
        clipped = _clip(start, end, low, high)
        if clipped is not None:
            parts.append(Part(*clipped))
    return tuple(parts)


@functools.cache
def selection(index: int, count: int) -> tuple[Part, ...]:
    """Everything task ``index`` of ``count`` lists: the tasks' selections split the object
    names between them, each name to exactly one task."""
    keys = initials(index, count)
    named = tuple(Part(start, end, keys) for start, end in _BASENAME_ZONES) if keys else ()
    return named + page_parts(index, count)
