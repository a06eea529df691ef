"""``pypapo status TARGET PROJECT STATUS [--reason TEXT]``: set a PEP 792 project status."""

from __future__ import annotations

import argparse

from pypapo.cli.common import EXIT_OK, TARGET_HELP, existing_target
from pypapo.status import STATUSES


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    help_ = "set a project's PEP 792 status (quarantined: no file served) and refresh it"
    p = sub.add_parser("status", help=help_, description=help_)
    p.add_argument("target", help=TARGET_HELP)
    p.add_argument("project", help="the project's name, in any spelling")
    p.add_argument("status", choices=STATUSES, help="one of %(choices)s")
    p.add_argument("--reason", help="shown to installers and on the browse page")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from pypapo.status_command import project_name, set_status
    from pypapo.storage import open_storage

    project = project_name(args.project)
    storage = open_storage(existing_target(args.target))
    report = set_status(storage, project, args.status, args.reason, now=datetime.now(UTC))
    for error in report.errors:
        print(f"reported {error.path}: {error.reason}")
    shown = f" ({args.reason})" if args.reason is not None else ""
    print(f"{project}: {args.status}{shown}")
    return EXIT_OK
