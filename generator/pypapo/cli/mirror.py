"""``pypapo mirror SOURCE DIR [REQ...]``: copy an index, or what requirements need, into a
folder usable as ``file://``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from pypapo.cli.common import EXIT_OK, EXIT_SKIPPED, TARGET_HELP, existing_target
from pypapo.errors import UsageError

if TYPE_CHECKING:
    from pypapo.requirements import RequirementSet


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "mirror",
        help="copy the index, or what requirements need, into a folder usable as file://",
        description="Copy an index (a folder, gs://bucket[/prefix], or any index over HTTP(S) "
        "speaking PEP 691 JSON or PEP 503 HTML) into DIR so that pip/uv install from "
        "file:///DIR/simple/ with no server. With requirements, copy only the versions they "
        "need and list only those on the copied pages.",
    )
    p.add_argument(
        "source", help=TARGET_HELP + " holding an index, or its http(s)://.../simple/ URL"
    )
    p.add_argument("dir", help="destination folder (created; files already there are reused)")
    p.add_argument(
        "requirements",
        nargs="*",
        metavar="REQ",
        help="only what these need; a path (.) is a local project: its dependencies",
    )
    p.add_argument(
        "-r",
        "--requirement",
        dest="requirement_files",
        action="append",
        default=[],
        metavar="FILE",
        help="read requirements from a pip requirements file (-r, -c and -e PATH inside are "
        "followed) or a PEP 751 pylock.toml (copied exactly)",
    )
    p.add_argument(
        "--locked",
        action="store_true",
        help="the requirements are a lock (each pinned with ==): copy exactly those versions, "
        "follow no dependencies",
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
    from pypapo.mirror import mirror
    from pypapo.resolve import is_version
    from pypapo.source import open_source

    reqs = _requirements(args)
    if args.python_version is not None and not is_version(args.python_version):
        raise UsageError(f"invalid --python-version {args.python_version!r}")
    source = open_source(_source(args.source))
    dest = Path(args.dir)
    report = mirror(
        source,
        dest,
        reqs.requirements,
        constraints=reqs.constraints,
        python_version=args.python_version,
        locked=args.locked or reqs.locked,
        jobs=args.jobs,
    )
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    for problem in report.problems:
        print(f"problem: {problem}", file=sys.stderr)
    url = dest.resolve().as_uri() + "/" + quote(INDEX_PREFIX)
    print(
        f"mirrored {len(report.projects)} projects from {source.describe()} into {dest}: "
        f"{len(report.copied)} files copied, {len(report.present)} already present; "
        f"pip install --index-url {url}"
    )
    return EXIT_SKIPPED if report.problems else EXIT_OK


def _source(text: str) -> str:
    """An ``http(s)://`` URL as it is; anything else must be an existing storage target."""
    return text if text.startswith(("http://", "https://")) else existing_target(text)


def _requirements(args: argparse.Namespace) -> RequirementSet:
    from pypapo.mirror import MirrorError
    from pypapo.requirements import (
        looks_like_path,
        parse_requirement,
        read_local_project,
        read_requirement_files,
    )

    reqs = read_requirement_files(args.requirement_files)
    for text in args.requirements:
        if looks_like_path(text) and read_local_project(text, Path(), reqs):
            continue
        reqs.requirements.append(parse_requirement(text))
    for ignored in reqs.ignored:
        print(f"note: ignored option line {ignored}", file=sys.stderr)
    for project in reqs.projects:
        print(f"note: the dependencies of the local project {project}", file=sys.stderr)
    if (args.requirement_files or reqs.projects) and not reqs.requirements:
        raise MirrorError("the requirements name no requirements (a full mirror needs none)")
    return reqs
