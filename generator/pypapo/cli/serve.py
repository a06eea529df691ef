"""``pypapo serve DIR``: build a folder's index, serve it and keep it current."""

from __future__ import annotations

import argparse
import errno
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from pypapo.cli.common import (
    EXIT_OK,
    Progress,
    cpus,
    existing_target,
    plural,
    print_errors,
    summary,
)
from pypapo.errors import MissingExtraError, UsageError

if TYPE_CHECKING:
    from pypapo.report import Report
    from pypapo.serve import IndexServer
    from pypapo.storage import Storage

MAX_PORT = 65535
Versions = Mapping[str, Mapping[str, int]]
"""Per project, the number of files of each version: what the serve log compares."""


def _port(text: str) -> int:
    # checked here: out of range, the socket's bind raises OverflowError, no OSError
    port = int(text)
    if not 0 <= port <= MAX_PORT:
        raise argparse.ArgumentTypeError(f"{text!r} is no TCP port (0 to {MAX_PORT})")
    return port


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    help_ = "build DIR's index, serve it over HTTP and keep it current"
    p = sub.add_parser("serve", help=help_, description=help_)
    p.add_argument("dir", help="the folder holding the distributions")
    p.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    p.add_argument(
        "--port", type=_port, default=3333, help="TCP port, 0 for any (default: %(default)s)"
    )
    p.add_argument(
        "--demo", action="store_true", help="create DIR if needed and seed it with a demo package"
    )
    p.set_defaults(func=run)


def prepare_folder(root: Path, *, demo: bool) -> None:
    """DIR must exist (a typo must not serve an empty index), unless --demo may create it."""
    if demo:
        try:
            root.mkdir(parents=True, exist_ok=True)
        except FileExistsError:  # a file of that name: say what is wrong with it, not "exists"
            raise UsageError(f"{root}: {os.strerror(errno.ENOTDIR)}") from None
    existing_target(str(root))


def _server(root: Path, host: str, port: int) -> IndexServer:
    """Listening already: a busy port fails before any work is done."""
    try:
        from pypapo.serve import IndexServer
    except ImportError as e:  # watchfiles, which keeps the index current, is an extra
        raise MissingExtraError("pypapo serve", "serve") from e
    return IndexServer(root, host, port)


def run(args: argparse.Namespace) -> int:
    from pypapo.build import build
    from pypapo.cli.build import sweep
    from pypapo.storage import open_storage

    root = Path(args.dir)
    prepare_folder(root, demo=args.demo)
    server = _server(root, args.host, args.port)
    try:
        if args.demo:
            _seed(root)
        storage = open_storage(str(root))
        report = build(storage, workers=cpus(), progress=Progress(), processes=True)
        print_errors(report)
        sweep(storage)
        print(summary(report, f"built {storage.describe()}"))
        _serve(server, storage)
    finally:
        server.stop()
    return EXIT_OK


def _seed(root: Path) -> None:
    from pypapo.layout import looks_like_distribution
    from pypapo.sample import write_demo

    if not any(looks_like_distribution(p.name) for p in root.rglob("*")):
        for written in write_demo(root / "demo"):
            print(f"wrote demo package {written}")


def _serve(server: IndexServer, storage: Storage) -> None:
    known = [versions(storage)]

    def report(done: Report) -> None:
        print_errors(done)
        now = versions(storage)
        for line in changelog(known[0], now):
            print(line, flush=True)
        known[0] = now

    server.on_refresh = report
    server.start()
    print(f"serving {server.root} at {server.url}/  (Ctrl-C to stop)", flush=True)
    print(f"  pip install --index-url {server.url}/simple/ PACKAGE", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


def versions(storage: Storage) -> dict[str, dict[str, int]]:
    """What the index lists now, read from the project states (one small read per project)."""
    from packaging.utils import canonicalize_name

    from pypapo.errors import CorruptStateError
    from pypapo.layout import INDEX_PREFIX, STATE_NAME
    from pypapo.state import load_state

    found: dict[str, dict[str, int]] = {}
    for info in storage.list(INDEX_PREFIX):
        project, _, name = info.path.removeprefix(INDEX_PREFIX).partition("/")
        if name != STATE_NAME:
            continue
        try:
            state = load_state(storage, canonicalize_name(project)).state
        except CorruptStateError:
            continue  # reported by the refresh that met it
        counts: dict[str, int] = {}
        for record in state.records:
            counts[record.version] = counts.get(record.version, 0) + 1
        if counts:
            found[project] = counts
    return found


def changelog(before: Versions, after: Versions) -> list[str]:
    """What a refresh changed, as a changelog reads: ``added foo 1.2 (2 files)``,
    ``removed foo 1.0``, ``removed bar`` (its last file)."""
    lines = []
    for project in sorted(before.keys() | after.keys()):
        old, new = before.get(project, {}), after.get(project, {})
        if old and not new:
            lines.append(f"removed {project}")
            continue
        for version in sorted(old.keys() | new.keys()):
            was, now = old.get(version, 0), new.get(version, 0)
            if was == now:
                continue
            if not was:
                lines.append(f"added {project} {version} ({plural(now, 'file')})")
            elif not now:
                lines.append(f"removed {project} {version}")
            else:
                lines.append(f"updated {project} {version} ({plural(now, 'file')})")
    return lines
