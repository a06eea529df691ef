"""``pypapo wait TARGET PROJECT VERSION``: block until the index lists that version."""

from __future__ import annotations

import argparse
import sys

from pypapo.cli.common import EXIT_FAILED, EXIT_OK, TARGET_HELP, existing_target
from pypapo.errors import UsageError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    help_ = "wait until the index lists PROJECT VERSION (after an upload to a bucket)"
    p = sub.add_parser("wait", help=help_, description=help_)
    p.add_argument("target", help=TARGET_HELP)
    p.add_argument("project", help="the project's name, in any spelling")
    p.add_argument("version", help="the version to wait for")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds (default: %(default)g)")
    p.add_argument(
        "--interval", type=float, default=2.0, help="seconds between looks (default: %(default)g)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from packaging.utils import canonicalize_name
    from packaging.version import InvalidVersion, Version

    from pypapo.layout import page_path
    from pypapo.storage import open_storage
    from pypapo.wait import wait_for

    try:
        version = Version(args.version)
    except InvalidVersion as e:
        raise UsageError(f"invalid version {args.version!r}") from e
    storage = open_storage(existing_target(args.target))
    if wait_for(storage, args.project, version, timeout=args.timeout, interval=args.interval):
        print(f"{canonicalize_name(args.project)} {version} is on the index")
        return EXIT_OK
    print(
        f"pypapo: timed out after {args.timeout:g}s: {args.project} {version} is not listed in "
        f"{storage.describe()}/{page_path(canonicalize_name(args.project), 'json')}",
        file=sys.stderr,
    )
    return EXIT_FAILED
