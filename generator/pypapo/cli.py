"""The ``pypapo`` command: parse arguments, call the library, report. Exit codes:
0 all well; 1 something was skipped or failed: each skipped file with its reason, or one line
``pypapo: error: WHAT: REASON`` for an error that stopped the command (a full disk, a folder
that cannot be read or written, a storage request that failed); 2 usage error; 130 interrupted
(Ctrl-C). An error of the environment never shows a traceback; only a bug in pypapo does.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import os
import posixpath
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from pypapo import __version__
from pypapo.build import build
from pypapo.errors import ConflictError
from pypapo.layout import looks_like_distribution
from pypapo.refresh import refresh
from pypapo.report import Report
from pypapo.storage import YANK_KEY, Storage, StorageError, open_storage
from pypapo.storage.local import LocalStorage

log = logging.getLogger("pypapo")

EXIT_OK, EXIT_SKIPPED, EXIT_USAGE = 0, 1, 2
EXIT_FAILED = EXIT_SKIPPED  # one code for "not everything was done", whatever stopped it
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
MAX_PORT = 65535


class UsageError(Exception):
    """An argument argparse cannot check (a command checks it before doing anything)."""


def describe_os_error(e: OSError) -> str:
    """``WHAT: REASON`` for an ``OSError``: the file it names (the destination, for a rename
    or link), then the system's reason; just the reason when it names nothing."""
    what = e.filename2 if e.filename2 is not None else e.filename
    reason = e.strerror or str(e)
    if what is None:
        return reason
    return f"{os.fsdecode(what) if isinstance(what, str | bytes) else what}: {reason}"


def describe_error(e: Exception) -> str:
    """One line for an error that stopped a command (not a bug in pypapo)."""
    return describe_os_error(e) if isinstance(e, OSError) else str(e)


def _summary(report: Report, what: str) -> str:
    line = f"{what}: {len(report.projects)} projects, {report.files} files"
    if report.errors:
        line += f", {len(report.errors)} skipped"
    return line + f" ({report.writes} objects written)"


def _print_errors(report: Report) -> None:
    for error in report.errors:
        print(f"skipped {error.path}: {error.reason}", file=sys.stderr)


class _Progress:
    """Progress on stderr for long builds: at most one line a second, only on a terminal."""

    def __init__(self) -> None:
        self._last = 0.0
        self._enabled = sys.stderr.isatty()

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if self._enabled and (now - self._last >= 1 or done == total):
            self._last = now
            end = "\n" if done == total else ""
            print(f"\rindexed {done}/{total} projects", end=end, file=sys.stderr, flush=True)


def _cpus() -> int:
    """The CPUs this process may run on (its affinity, as a container's cpuset sets it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def _sweep(storage: Storage) -> None:
    if isinstance(storage, LocalStorage):
        for path in storage.sweep_temporary():
            print(f"removed {path}, left by an interrupted write", file=sys.stderr)


def cmd_build(args: argparse.Namespace) -> int:
    storage = open_storage(args.target)
    # a folder's build is CPU work (archives, metadata), a bucket's is waiting on requests
    local = not args.target.startswith("gs://")
    workers = args.workers if args.workers is not None else _cpus() if local else 8
    report = build(storage, workers=workers, progress=_Progress(), processes=local)
    _print_errors(report)
    _sweep(storage)
    print(_summary(report, f"built {storage.describe()}"))
    return EXIT_SKIPPED if report.errors else EXIT_OK


def cmd_refresh(args: argparse.Namespace) -> int:
    storage = open_storage(args.target)
    report = refresh(storage, args.paths)
    _print_errors(report)
    print(_summary(report, "refreshed"))
    return EXIT_SKIPPED if report.errors else EXIT_OK


def resolve_file(storage: Storage, name: str) -> str:
    """An object path from a path or a bare file name (searched for when unambiguous)."""
    if storage.stat(name) is not None:
        return name
    matches = [
        i.path
        for i in storage.list()
        if posixpath.basename(i.path) == name and looks_like_distribution(i.path)
    ]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise StorageError(f"no such distribution in {storage.describe()}: {name!r}")
    raise StorageError(f"{name!r} is ambiguous, give its path: {', '.join(sorted(matches))}")


def _set_yank(args: argparse.Namespace, reason: str | None) -> int:
    storage = open_storage(args.target)
    path = resolve_file(storage, args.file)
    storage.set_metadata(path, YANK_KEY, reason)
    report = refresh(storage, [path])
    _print_errors(report)
    print(f"{'yanked' if reason is not None else 'unyanked'} {path}")
    return EXIT_SKIPPED if report.errors else EXIT_OK


def cmd_yank(args: argparse.Namespace) -> int:
    return _set_yank(args, args.reason or "")


def cmd_unyank(args: argparse.Namespace) -> int:
    return _set_yank(args, None)


def _report_refresh(report: Report) -> None:
    _print_errors(report)
    print(_summary(report, "refreshed"), flush=True)


def cmd_serve(args: argparse.Namespace) -> int:
    from pypapo.sample import write_demo  # noqa: PLC0415 (only serve --demo needs it)
    from pypapo.serve import IndexServer  # noqa: PLC0415 (keeps watchfiles off other commands)

    root = Path(args.dir)
    _make_folder(root)
    if args.demo and not any(looks_like_distribution(p.name) for p in root.rglob("*")):
        for written in write_demo(root / "demo"):
            print(f"wrote demo package {written}")
    storage = open_storage(str(root))
    report = build(storage, workers=_cpus(), progress=_Progress(), processes=True)
    _print_errors(report)
    _sweep(storage)
    print(_summary(report, f"built {storage.describe()}"))
    server = IndexServer(root, args.host, args.port)
    server.on_refresh = _report_refresh
    server.start()
    print(f"serving {root} at {server.url}/simple/  (Ctrl-C to stop)", flush=True)
    print(f"  pip install --index-url {server.url}/simple/ PACKAGE", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return EXIT_OK


def _make_folder(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:  # a file of that name: say what is wrong with it, not "exists"
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path)) from None


EXTRA_COMMANDS: tuple[str, ...] = (
    "pypapo.upload",
    "pypapo.check",
    "pypapo.mirror",
    "pypapo.wait",
    "pypapo.status_command",
)
"""Modules that add subcommands: each has ``register(subparsers)`` setting ``func`` defaults."""


def _port(text: str) -> int:
    # checked here: out of range, the socket's bind raises OverflowError, no OSError
    port = int(text)
    if not 0 <= port <= MAX_PORT:
        raise argparse.ArgumentTypeError(f"{text!r} is no TCP port (0 to {MAX_PORT})")
    return port


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pypapo", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"pypapo {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(
        name: str, func: Callable[[argparse.Namespace], int], help_: str
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(func=func)
        return p

    p = command("build", cmd_build, "index everything in TARGET from scratch (also repairs)")
    p.add_argument("target", help="a folder or gs://bucket[/prefix]")
    p.add_argument(
        "--workers",
        type=int,
        help="projects indexed in parallel (default: one process per CPU for a folder, "
        "8 threads for a bucket)",
    )

    p = command("refresh", cmd_refresh, "update the index for changed object paths only")
    p.add_argument("target")
    p.add_argument("paths", nargs="+", metavar="PATH", help="object paths relative to TARGET")

    p = command("yank", cmd_yank, "mark a file yanked (PEP 592) and refresh its project")
    p.add_argument("target")
    p.add_argument("file", help="object path, or a file name found in TARGET")
    p.add_argument("--reason", default="", help="why it is yanked (shown to installers)")

    p = command("unyank", cmd_unyank, "undo a yank and refresh its project")
    p.add_argument("target")
    p.add_argument("file")

    p = command("serve", cmd_serve, "build DIR's index, serve it over HTTP and keep it current")
    p.add_argument("dir", help="the folder holding the distributions")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=_port, default=3333)
    p.add_argument("--demo", action="store_true", help="seed an empty folder with a demo package")
    for module in EXTRA_COMMANDS:
        importlib.import_module(module).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except UsageError as e:
        return _error(str(e), EXIT_USAGE)
    except (OSError, StorageError, ConflictError) as e:
        # the environment failed (a full disk, a refused permission), not pypapo: one line
        return _error(describe_error(e), EXIT_FAILED)
    except KeyboardInterrupt:
        # every write is atomic and every step repeatable: the next run picks up from here
        print("pypapo: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _error(line: str, code: int) -> int:
    print(f"pypapo: error: {line}", file=sys.stderr)
    return code


if __name__ == "__main__":
    # run the package's module, not this copy named __main__: the subcommands raise
    # pypapo.cli.UsageError, which this copy's main would not catch
    from pypapo.cli import main as package_main

    sys.exit(package_main())
