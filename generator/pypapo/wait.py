"""``pypapo wait TARGET PROJECT VERSION``: block until the index lists that version, e.g. in a
publishing pipeline that uploaded a file and lets the Cloud Function refresh the page."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from pypapo.errors import InvalidFilenameError
from pypapo.layout import page_path, sidecar_path
from pypapo.mirror import records_of_page
from pypapo.storage import Storage, StorageError, open_storage


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
    except (ValueError, KeyError, TypeError, InvalidFilenameError):
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


def cmd_wait(args: argparse.Namespace) -> int:
    try:
        version = Version(args.version)
    except InvalidVersion as e:
        raise StorageError(f"invalid version {args.version!r}") from e
    storage = open_storage(args.target)
    if wait_for(storage, args.project, version, timeout=args.timeout, interval=args.interval):
        print(f"{canonicalize_name(args.project)} {version} is on the index")
        return 0
    print(
        f"pypapo: timed out after {args.timeout:g}s: {args.project} {version} is not listed in "
        f"{storage.describe()}/{page_path(canonicalize_name(args.project), 'json')}",
        file=sys.stderr,
    )
    return 1


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("wait", help="wait until the index lists PROJECT VERSION")
    p.add_argument("target", help="a folder or gs://bucket[/prefix]")
    p.add_argument("project")
    p.add_argument("version")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds (default 120)")
    p.add_argument("--interval", type=float, default=2.0, help="seconds between looks")
    p.set_defaults(func=cmd_wait)
