"""``pypapo wait TARGET PROJECT VERSION``: block until the index lists that version, e.g. in a
publishing pipeline that uploaded a file and lets the Cloud Function refresh the page."""

from __future__ import annotations

import time
from collections.abc import Callable

from packaging.utils import canonicalize_name
from packaging.version import Version

from pypapo.layout import page_path, sidecar_path
from pypapo.pages import PageError, records_of_page
from pypapo.storage import Storage


def version_listed(storage: Storage, project: str, version: Version) -> bool:
    """True once the project's JSON page lists a file of ``version`` whose advertised PEP 658
    sidecar exists. (The function writes sidecars before the pages that advertise them; the
    sidecar is checked anyway, with one ``stat``, so "listed" means "installable".)"""
    name = canonicalize_name(project)
    blob = storage.get(page_path(name, "json"))
    if blob is None:
        return False
    try:
        _name, files = records_of_page(blob.data)
    except PageError:
        return False  # not a page pypapo wrote: keep waiting, the timeout message names it
    return any(
        f.version == version
        and (f.record.metadata_sha256 is None or storage.stat(sidecar_path(f.record.path)))
        for f in files
    )


def wait_for(
    storage: Storage,
    project: str,
    version: Version,
    *,
    timeout: float,
    interval: float = 2.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    deadline = clock() + timeout
    while True:
        if version_listed(storage, project, version):
            return True
        if clock() >= deadline:
            return False
        sleep(min(interval, max(0.0, deadline - clock())))
