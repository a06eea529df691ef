"""``pypapo upload TARGET FILE...``: validate, upload create-only, refresh unless told not to
(by default a folder only: a bucket's Cloud Function refreshes it)."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path

from pypapo.cli.common import EXIT_OK, EXIT_SKIPPED, TARGET_HELP, print_errors
from pypapo.errors import UsageError

PROGRESS_FROM = 32 << 20  # bytes: smaller uploads end before a progress line helps
UPLOAD_EXTRA_NOTE = (
    "note: long descriptions are not checked to render (as twine check does) without "
    "pypapo's 'upload' extra: pip install 'pypapo[upload]'"
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    help_ = "validate files with the indexer's own checks and upload them create-only"
    p = sub.add_parser("upload", help=help_, description=help_)
    p.add_argument("target", help=TARGET_HELP)
    p.add_argument("files", nargs="+", metavar="FILE", help="wheels and sdists to upload")
    p.add_argument("--to", default="packages", help="folder inside TARGET (default: %(default)s)")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.add_argument(
        "--refresh",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="refresh the uploaded files' pages (default: for a folder; a bucket's Cloud "
        "Function refreshes it)",
    )
    p.set_defaults(func=run)


def _progress(name: str, total: int) -> Callable[[int], None]:
    enabled = sys.stderr.isatty() and total >= PROGRESS_FROM

    def show(done: int) -> None:
        if enabled:
            end = "\n" if done >= total else ""
            percent = done * 100 // max(total, 1)
            line = f"\r{name}: {percent}% of {total >> 20} MiB"
            print(line, end=end, file=sys.stderr, flush=True)

    return show


def run(args: argparse.Namespace) -> int:
    from pypapo.storage import open_storage
    from pypapo.upload import DestinationError, destination, upload

    try:
        destination(args.to)  # before the storage is even opened
    except DestinationError as e:
        raise UsageError(str(e)) from e
    storage = open_storage(args.target)
    if importlib.util.find_spec("readme_renderer") is None:
        print(UPLOAD_EXTRA_NOTE, file=sys.stderr)
    files = [Path(f) for f in args.files]
    results = upload(storage, files, to=args.to, force=args.force, progress=_progress)
    where = storage.describe()
    for r in results:
        line = _LINES[r.status].format(local=r.local, where=where, path=r.path, reason=r.reason)
        print(line, file=sys.stdout if r.status == "uploaded" else sys.stderr)
    uploaded = [r.path for r in results if r.status == "uploaded"]
    refresh_after = not args.target.startswith("gs://") if args.refresh is None else args.refresh
    if uploaded and refresh_after:
        from pypapo.lease import operator_holder
        from pypapo.refresh import refresh

        holder = operator_holder(storage.describe())
        print_errors(refresh(storage, uploaded, holder=holder))
    elif uploaded and args.target.startswith("gs://"):
        print("the Cloud Function refreshes the index; `pypapo wait` waits for it")
    elif uploaded:
        print(f"not refreshed: `pypapo refresh {args.target} PATH...` lists them")
    return EXIT_OK if all(r.status == "uploaded" for r in results) else EXIT_SKIPPED


_LINES = {
    "invalid": "invalid {local}: {reason}",
    "duplicate": "duplicate {local}: the index already serves this file as {where}/{reason}; "
    "not uploaded",
    "archived": "refused {local}: the project is {reason}; not uploaded",
    "exists": "exists {where}/{path}: not overwritten (use --force)",
    "uploaded": "uploaded {local} -> {where}/{path}",
}
