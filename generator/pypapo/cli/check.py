"""``pypapo check TARGET [--fix]``: report drift between files and pages; --fix rebuilds."""

from __future__ import annotations

import argparse
import sys

from pypapo.cli.common import (
    EXIT_OK,
    EXIT_SKIPPED,
    PUBLIC_URL_HELP,
    TARGET_HELP,
    existing_target,
    printable,
    public_url,
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    help_ = "report drift between files and pages, bad and overwritten files; --fix rebuilds"
    p = sub.add_parser("check", help=help_, description=help_)
    p.add_argument("target", help=TARGET_HELP)
    p.add_argument("--fix", action="store_true", help="rebuild, then check again")
    p.add_argument(
        "--workers",
        type=int,
        default=4,
        metavar="N",
        help="projects checked in parallel (default: %(default)s)",
    )
    p.add_argument("--public-url", metavar="URL", help=PUBLIC_URL_HELP)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pypapo.build import build
    from pypapo.check import check
    from pypapo.storage import open_storage

    url = public_url(args.public_url)
    storage = open_storage(existing_target(args.target))
    findings, _ = check(storage, workers=args.workers, public_url=url)
    for finding in findings:
        sys.stdout.write(f"{printable(str(finding))}\n")
    if args.fix and any(f.kind != "bad file" for f in findings):
        report = build(storage, workers=args.workers, public_url=url)
        sys.stdout.write(f"fixed: rebuilt {storage.describe()} ({report.writes} objects written)\n")
        findings, _ = check(storage, workers=args.workers, public_url=url)
        for finding in findings:
            sys.stdout.write(f"still: {printable(str(finding))}\n")
    bad = sum(f.kind == "bad file" for f in findings)
    drift = len(findings) - bad
    if not findings:
        sys.stdout.write(f"ok: {storage.describe()} matches its files\n")
        return EXIT_OK
    sys.stdout.write(
        f"problems: {drift} drift, {bad} bad files"
        + ("" if args.fix or not drift else " (pypapo check --fix rebuilds)")
        + "\n"
    )
    return EXIT_SKIPPED
