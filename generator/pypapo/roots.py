"""The root pages: ``simple/index.json`` (their compare-and-swap object), then
``simple/index.html`` and ``browse/index.html`` rendered from the names it lists.

One loop serves a refresh (add or drop one project) and a build (the projects whose state
exists): the caller says which names it wants given the names listed now.
"""

from __future__ import annotations

from collections.abc import Callable

from pypapo import browse, render
from pypapo.cas import attempts, swap, token_of
from pypapo.layout import ROOT_HTML, ROOT_JSON
from pypapo.pages import parse_root_json
from pypapo.report import Report
from pypapo.storage import ABSENT, Blob, Storage

Names = frozenset[str]


def _names(blob: Blob | None) -> Names:
    return frozenset(parse_root_json(blob.data)) if blob is not None else frozenset()


def _html_pages(names: Names) -> tuple[tuple[str, bytes | None, str], ...]:
    return (
        (ROOT_HTML, render.root_html(names) if names else None, render.HTML_CONTENT_TYPE),
        (browse.ROOT_PAGE, browse.root_page(names) if names else None, browse.CONTENT_TYPE),
    )


def _write_html(
    storage: Storage,
    names: Names,
    report: Report,
    *,
    verify: bool,
    before_write: Callable[[], None],
) -> None:
    """The HTML root, then the browse root (never ahead of the machine pages)."""
    for path, data, content_type in _html_pages(names):
        if verify:
            blob = storage.get(path)
            if (blob.data if blob is not None else None) == data:
                continue
        before_write()
        if data is None:
            storage.delete(path)
        else:
            storage.put(path, data, content_type=content_type)
        report.writes += 1


def settle(
    storage: Storage,
    wanted: Callable[[Names], Names],
    report: Report,
    *,
    verify: bool,
    before_write: Callable[[], None] = lambda: None,
) -> None:
    """Make the root pages list ``wanted(listed now)``.

    The JSON page changes by compare-and-swap; the HTML pages follow it. After writing them
    the JSON page's token is read again: if another writer swapped it meanwhile, the HTML is
    written again from the newer names, so the last HTML written always matches the JSON.
    ``verify`` also compares the HTML pages when the JSON needs no change (a repair: an earlier
    writer may have died between the two). ``before_write`` runs before any write.
    """
    written_from: str | None = None
    for _ in attempts("root pages"):
        root = storage.get(ROOT_JSON)
        names, token = _names(root), (root.token if root is not None else ABSENT)
        want = wanted(names)
        if want != names:
            before_write()
            data = render.root_json(want) if want else None
            new_token = swap(storage, ROOT_JSON, data, token, content_type=render.JSON_CONTENT_TYPE)
            if new_token is None:
                report.conflicts += 1
                continue
            report.writes += 1
            token, names = new_token, want
            _write_html(storage, names, report, verify=False, before_write=before_write)
        elif written_from != token and (verify or written_from is not None):
            _write_html(storage, names, report, verify=True, before_write=before_write)
        else:
            return
        written_from = token
        if token_of(storage, ROOT_JSON) == token:
            return
        report.conflicts += 1
