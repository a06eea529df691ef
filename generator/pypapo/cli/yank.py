"""``pypapo yank TARGET FILE`` and ``pypapo unyank TARGET FILE`` (PEP 592)."""

from __future__ import annotations

import argparse
import posixpath

from pypapo.cli.common import EXIT_SKIPPED, TARGET_HELP, existing_target, print_errors
from pypapo.errors import UsageError
from pypapo.storage import Storage


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    help_ = "mark a file yanked (PEP 592) and refresh its project"
    p = sub.add_parser("yank", help=help_, description=help_)
    p.add_argument("target", help=TARGET_HELP)
    p.add_argument("file", help="object path, or a file name found in TARGET")
    p.add_argument("--reason", default="", help="why it is yanked, shown to installers")
    p.set_defaults(func=run_yank)

    help_ = "undo a yank and refresh its project"
    p = sub.add_parser("unyank", help=help_, description=help_)
    p.add_argument("target", help=TARGET_HELP)
    p.add_argument("file", help="object path, or a file name found in TARGET")
    p.set_defaults(func=run_unyank)


def resolve_file(storage: Storage, name: str) -> str:
    """An object path from a path or a bare file name (searched for when unambiguous)."""
    from pypapo.layout import looks_like_distribution

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
        raise NoSuchFileError(f"no such distribution in {storage.describe()}: {name!r}")
    raise NoSuchFileError(f"{name!r} is ambiguous, give its path: {', '.join(sorted(matches))}")


class NoSuchFileError(UsageError):
    """FILE names no distribution, or more than one."""

    exit_code = EXIT_SKIPPED  # as before: the target was read, the file was not in it


def _set_yank(args: argparse.Namespace, reason: str | None) -> int:
    from pypapo.lease import operator_holder
    from pypapo.refresh import refresh
    from pypapo.storage import YANK_KEY, open_storage

    storage = open_storage(existing_target(args.target))
    path = resolve_file(storage, args.file)
    storage.set_metadata(path, YANK_KEY, reason)
    report = refresh(storage, [path], holder=operator_holder(storage.describe()))
    code = print_errors(report)
    print(f"{'yanked' if reason is not None else 'unyanked'} {path}")
    return code


def run_yank(args: argparse.Namespace) -> int:
    return _set_yank(args, args.reason)


def run_unyank(args: argparse.Namespace) -> int:
    return _set_yank(args, None)
