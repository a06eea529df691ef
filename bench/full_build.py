"""Full builds of a bucket (issue 18): cold, warm (nothing changed) and sharded over parallel
task processes, on the GCS emulator behind a proxy that adds GCS's latency to every request and
counts requests from every process.

The corpus is uploaded straight to the emulator; the builds go through the proxy. A sharded
build runs ``pypapo build gs://...`` N times at once with ``CLOUD_RUN_TASK_INDEX`` and
``CLOUD_RUN_TASK_COUNT`` set, as a Cloud Run Job's tasks do, on an index cleared of everything
a build writes; the bench fails unless its objects equal the one-process build's.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

from bench import report
from bench.corpus import Spec
from bench.delay_proxy import ProxyStats, proxy_process
from bench.report import Row, Samples
from bench.servers import gcs_emulator
from pypapo import shards
from pypapo.build import build
from pypapo.cli.build import BUCKET_WORKERS
from pypapo.layout import is_own_write
from pypapo.refresh import MAX_IN_FLIGHT
from pypapo.storage.emulator import EmulatorGCSStorage

DELAY = 0.030
"""Seconds added to every request: GCS's latency from a nearby region."""

SHARDS = (1, 2, 4)
BIN = Path(sys.executable).parent


def _client(url: str) -> Any:
    from google.auth.credentials import AnonymousCredentials  # noqa: PLC0415
    from google.cloud import storage  # noqa: PLC0415

    return storage.Client(
        project="bench",
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": url},
    )


def _storage(url: str, bucket: str) -> EmulatorGCSStorage:
    storage = EmulatorGCSStorage(_client(url).bucket(bucket))
    storage.allow_connections(BUCKET_WORKERS * MAX_IN_FLIGHT)  # as `pypapo build gs://…`
    return storage


def _each(work: Callable[[str], object], paths: list[str]) -> None:
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(work, paths))


def _upload(direct: EmulatorGCSStorage, packages: Path) -> int:
    files = sorted(packages.iterdir())
    _each(lambda p: direct.upload_file(packages / p, f"packages/{p}", create_only=True),
          [f.name for f in files])  # fmt: skip
    return len(files)


def _index(direct: EmulatorGCSStorage) -> dict[str, str | None]:
    """What a build wrote, by checksum (from one listing: no object is read)."""
    return {
        i.path: i.checksum
        for i in direct.list()
        if is_own_write(i.path) or i.path.endswith(".metadata")
    }


def _clear(direct: EmulatorGCSStorage) -> None:
    _each(direct.delete, list(_index(direct)))


def _tasks(url: str, bucket: str, count: int, log: Path) -> float:
    """Wall time of ``count`` task processes building their shards at once."""
    start = time.perf_counter()
    procs = []
    for index in range(count):
        env = {**os.environ, "STORAGE_EMULATOR_HOST": url}
        env |= {"CLOUD_RUN_TASK_INDEX": str(index), "CLOUD_RUN_TASK_COUNT": str(count)}
        with (log / f"task-{count}-{index}.log").open("wb") as out:
            cmd = [str(BIN / "pypapo"), "build", f"gs://{bucket}"]
            procs.append(subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT))
    if any(p.wait() != 0 for p in procs):
        raise RuntimeError(f"a shard failed; see {log}")
    return time.perf_counter() - start


Measured = tuple[float, int, int, float]
"""Wall seconds, requests, the most in flight at once, CPU seconds of the build."""


def _cpu() -> float:
    """CPU seconds of this process (every thread) and of its finished children (shards)."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _counted(stats: ProxyStats, work: Callable[[], object]) -> Measured:
    stats.reset()
    start, cpu = time.perf_counter(), _cpu()
    work()
    seconds, cpu = time.perf_counter() - start, _cpu() - cpu
    requests, in_flight = stats.read()
    return seconds, requests, in_flight, cpu


def gcs_builds(ctx: Any, spec: Spec) -> list[Row]:
    """Cold and warm builds in this process, then sharded cold builds as task processes."""
    corpus = ctx.corpus(spec)
    work = ctx.fresh("gcs-build")
    emulated = gcs_emulator(work, tmpfs=True)
    with emulated as emulator, proxy_process(emulator, DELAY, work) as (url, stats):
        name = f"bench-{uuid.uuid4().hex[:12]}"
        _client(emulator).create_bucket(name)
        direct, slow = _storage(emulator, name), _storage(url, name)
        files = _upload(direct, corpus.packages)
        cold = _counted(stats, lambda: build(slow, workers=BUCKET_WORKERS))
        ctx.log(
            f"  cold build: {cold[0]:.1f} s, {cold[1]:,} requests, {cold[2]} in flight, "
            f"{cold[3]:.1f} s CPU"
        )
        one = _index(direct)
        warm = [_counted(stats, lambda: build(slow, workers=BUCKET_WORKERS))
                for _ in range(ctx.runs)]  # fmt: skip
        ctx.log(f"  warm builds: {[(round(m[0], 1), m[1], round(m[3], 1)) for m in warm]}")
        sharded, listed = {}, {}
        for count in SHARDS:
            _clear(direct)
            listed[count] = _listed_per_task(direct, count)
            sharded[count] = _counted(stats, partial(_tasks, url, name, count, work))
            if _index(direct) != one:
                raise RuntimeError(f"{count} shards wrote other objects than one build")
            ctx.log(f"  {count} shard(s): {sharded[count]}")
    return _rows(files, cold, warm, sharded, listed)


def _listed_per_task(storage: EmulatorGCSStorage, count: int) -> list[int]:
    """The objects each task's listing returns from this bucket: what GCS answers to its
    offsets and matchGlob (the emulator ignores the glob and answers more, which the task's
    own filter drops)."""
    paths = [info.path for info in storage.list()]
    return [
        sum(any(part.matches(p) for part in shards.selection(i, count)) for p in paths)
        if count > 1
        else len(paths)
        for i in range(count)
    ]


def _rows(
    files: int,
    cold: Measured,
    warm: list[Measured],
    sharded: dict[int, Measured],
    listed: dict[int, list[int]],
) -> list[Row]:
    where = f"{files:,} files, GCS emulator + {DELAY * 1000:.0f} ms per request"
    rows = [
        report.info("gcs cold build", f"cold build, requests per file ({where})",
                    Samples((cold[1] / files,), "requests"),
                    note=f"{cold[1]:,} requests in {cold[0]:.1f} s, at most {cold[2]} in flight "
                    f"({BUCKET_WORKERS} threads, one process), {cold[3] / files * 1000:.1f} ms "
                    "of the build's CPU per file; was 3.9 per file"),
        report.bounded("gcs warm build",
                       f"warm build, nothing changed: requests per file ({where})",
                       Samples(tuple(m[1] / files for m in warm), "requests"),
                       limit=0.2, target="<= 0.2 requests",
                       note="the listing, one state read per project and the root pages; "
                       f"took {Samples(tuple(m[0] for m in warm), 's').show()}, "
                       f"{Samples(tuple(m[3] for m in warm), 's').show()} of CPU; "
                       "was 2.5 per file (every sidecar and page read), 126 s for 3,000 files"),
    ]  # fmt: skip
    for count, (seconds, requests, in_flight, cpu) in sharded.items():
        rows.append(report.info(
            f"gcs shards {count}",
            f"cold build as {count} parallel task process(es) ({where}): wall time",
            Samples((seconds,), "s"),
            note=f"{requests:,} requests ({requests / files:.2f} per file), at most {in_flight} "
            f"in flight, {cpu:.1f} s of the tasks' CPU; objects identical to one process's "
            "build; the 2 cores are shared by the tasks, the emulator and the proxy; objects "
            f"each task's listing returned: {', '.join(f'{n:,}' for n in listed[count])} objects",
        ))  # fmt: skip
    return rows
