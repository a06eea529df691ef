"""``pypapo mirror SOURCE DIR [REQ...]``: copy an index, or what requirements need, into a
folder usable as ``file://``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from urllib.parse import quote

from pypapo.cli.common import EXIT_OK, EXIT_SKIPPED, TARGET_HELP, existing_target
from pypapo.errors import UsageError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "mirror",
        help="copy the index, or what requirements need, into a folder usable as file://",
        description="Copy an index (a folder or gs://bucket[/prefix]) into DIR so that "
        "pip/uv install from file:///DIR/simple/ with no server. With requirements, copy only "
        "the versions they need and list only those on the copied pages.",
    )
    p.add_argument("source", help=TARGET_HELP + " holding an index")
    p.add_argument("dir", help="destination folder (created; files already there are reused)")
    p.add_argument("requirements", nargs="*", metavar="REQ", help="only what these need")
    p.add_argument(
        "-r",
        "--requirement",
        dest="requirement_files",
        action="append",
        default=[],
        metavar="FILE",
        help="read requirements from a pip requirements file (-r and -c inside are followed)",
    )
    p.add_argument(
        "--python-version",
        metavar="X.Y[.Z]",
        help="resolve markers and Requires-Python for this Python (default: the running one)",
    )
    p.add_argument(
        "--jobs", type=int, default=8, metavar="N", help="parallel downloads (default: %(default)s)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pypapo.layout import INDEX_PREFIX
    from pypapo.mirror import (
        MirrorError,
        is_version,
        mirror,
        parse_requirement,
        read_requirement_files,
    )
    from pypapo.storage import open_storage

    reqs = read_requirement_files(args.requirement_files)
    reqs.requirements += [parse_requirement(r) for r in args.requirements]
    if args.python_version is not None and not is_version(args.python_version):
        raise UsageError(f"invalid --python-version {args.python_version!r}")
    for ignored in reqs.ignored:
        print(f"note: ignored option line {ignored}", file=sys.stderr)
    if args.requirement_files and not reqs.requirements:
        raise MirrorError("the requirements files name no requirements (a full mirror needs none)")
    storage = open_storage(existing_target(args.source))
    dest = Path(args.dir)
    report = mirror(
        storage,
        dest,
        reqs.requirements,
        constraints=reqs.constraints,
        python_version=args.python_version,
        jobs=args.jobs,
    )
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    for problem in report.problems:
        print(f"problem: {problem}", file=sys.stderr)
    url = dest.resolve().as_uri() + "/" + quote(INDEX_PREFIX)
    print(
        f"mirrored {len(report.projects)} projects from {storage.describe()} into {dest}: "
        f"{len(report.copied)} files copied, {len(report.present)} already present; "
        f"pip install --index-url {url}"
    )
    return EXIT_SKIPPED if report.problems else EXIT_OK
