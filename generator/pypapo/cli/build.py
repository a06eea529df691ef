"""``pypapo build TARGET`` and ``pypapo refresh TARGET PATH...``."""

from __future__ import annotations

import argparse
import sys

from pypapo.cli.common import (
    PUBLIC_URL_HELP,
    TARGET_HELP,
    Progress,
    cpus,
    existing_target,
    print_errors,
    public_url,
    summary,
)
from pypapo.storage import Storage

BUCKET_WORKERS = 64
"""Threads of a bucket's build: each waits on one request at a time, and at GCS's 20-50 ms a
request, 64 in flight is what keeps a task's one process busy without a second one."""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    help_ = "index everything in TARGET from scratch (also repairs a damaged index)"
    p = sub.add_parser("build", help=help_, description=help_)
    p.add_argument("target", help=TARGET_HELP)
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="projects indexed in parallel (default: one process per CPU for a folder, "
        f"{BUCKET_WORKERS} threads for a bucket); in a Cloud Run Jobs task "
        "(CLOUD_RUN_TASK_INDEX of CLOUD_RUN_TASK_COUNT), the task's share of the projects",
    )
    p.add_argument("--public-url", metavar="URL", help=PUBLIC_URL_HELP)
    p.set_defaults(func=run_build)

    help_ = "update the index for changed object paths only"
    p = sub.add_parser("refresh", help=help_, description=help_)
    p.add_argument("target", help=TARGET_HELP)
    p.add_argument("paths", nargs="+", metavar="PATH", help="object paths relative to TARGET")
    p.add_argument("--public-url", metavar="URL", help=PUBLIC_URL_HELP)
    p.set_defaults(func=run_refresh)


def run_build(args: argparse.Namespace) -> int:
    import os

    from pypapo.build import build, shard_from_env
    from pypapo.storage import open_storage

    shard = shard_from_env(os.environ)
    url = public_url(args.public_url)
    storage = open_storage(existing_target(args.target))
    # a folder's build is CPU work (archives, metadata), a bucket's is waiting on requests
    local = not args.target.startswith("gs://")
    workers = args.workers if args.workers is not None else cpus() if local else BUCKET_WORKERS
    if hasattr(storage, "allow_connections"):
        from pypapo.refresh import MAX_IN_FLIGHT

        # connections kept open for every request in flight: beyond them the client opens
        # (and on GCS handshakes) a connection per request, and warns of each
        storage.allow_connections(workers * MAX_IN_FLIGHT)
    report = build(
        storage,
        workers=workers,
        progress=Progress(),
        processes=local,
        shard=shard,
        public_url=url,
    )
    code = print_errors(report)
    sweep(storage)
    print(summary(report, f"built {storage.describe()}"))
    return code


def sweep(storage: Storage) -> None:
    """Remove what interrupted writes left in a folder (a bucket has no temporary files)."""
    from pypapo.storage.local import LocalStorage

    if isinstance(storage, LocalStorage):  # the CLI picked the backend from the target
        for path in storage.sweep_temporary():
            print(f"removed {path}, left by an interrupted write", file=sys.stderr)


def run_refresh(args: argparse.Namespace) -> int:
    from pypapo.lease import operator_holder
    from pypapo.refresh import refresh
    from pypapo.storage import open_storage

    url = public_url(args.public_url)
    storage = open_storage(existing_target(args.target))
    report = refresh(
        storage, args.paths, public_url=url, holder=operator_holder(storage.describe())
    )
    code = print_errors(report)
    print(summary(report, "refreshed"))
    return code
