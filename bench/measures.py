"""Each measure of issue 7, pypapo against its peer in the same run, several runs each.

Peers run as their own command-line tools from the bench venv (``sys.executable``'s folder);
pypapo runs as its CLI, as the bench's list adapter, or in-process where the Cloud Function
would call the library (a refresh).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import report
from bench.corpus import (
    Corpus,
    Spec,
    add_upload,
    copy_cold,
    generate,
    link_copy,
    write_big_wheel,
)
from bench.counting import HTTPCounter
from bench.report import Row, Samples
from bench.servers import REPO, gcs_emulator, is_tmpfs, nginx, pypiserver, wrk
from pypapo.build import build
from pypapo.refresh import refresh
from pypapo.storage.counting import CountingStorage
from pypapo.storage.emulator import EmulatorGCSStorage
from pypapo.storage.local import LocalStorage

BIN = Path(sys.executable).parent
UPLOAD_PROJECT = 7
"""The project every "new upload" goes to (its name has dots, dashes and underscores)."""


@dataclass
class Context:
    work: Path
    runs: int
    quick: bool
    log: Callable[[str], None] = print
    growth: list[tuple[int, float, float]] = field(default_factory=list)
    _corpora: dict[Spec, Corpus] = field(default_factory=dict)
    _built: dict[Spec, tuple[Path, Samples]] = field(default_factory=dict)

    def corpus(self, spec: Spec) -> Corpus:
        if spec not in self._corpora:
            name = f"corpus-{spec.projects}x{spec.versions}-{'-'.join(spec.kinds)}"
            start = time.perf_counter()
            self._corpora[spec] = generate(self.work / name, spec)
            self.log(f"  corpus {spec.files:,} files ready in {time.perf_counter() - start:.1f} s")
        return self._corpora[spec]

    def fresh(self, label: str) -> Path:
        path = self.work / "runs" / f"{label}-{uuid.uuid4().hex[:8]}"
        path.mkdir(parents=True)
        return path

    def built(self, spec: Spec, builds: int = 1) -> tuple[Path, Samples]:
        """A folder holding the corpus and its pypapo index, and the cold build times."""
        if spec not in self._built:
            corpus = self.corpus(spec)
            times = []
            for _ in range(builds):
                root = self.fresh(f"built-{spec.files}")
                link_copy(corpus.packages, root / "packages")
                times.append(timed([str(BIN / "pypapo"), "build", str(root)]))
            self._built[spec] = (root, Samples(tuple(times), "s"))
        return self._built[spec]


def timed(cmd: Sequence[str], *, env: dict[str, str] | None = None) -> float:
    """Wall time of a command that must succeed."""
    start = time.perf_counter()
    out = subprocess.run(list(cmd), capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - start
    if out.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({out.returncode}): {out.stderr[-2000:]}")
    return elapsed


def bench_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def alternate(runs: int) -> Iterator[bool]:
    """Which side goes first in each run (alternating, so neither always gets a warm cache)."""
    for r in range(runs):
        yield r % 2 == 0


def _dumb_pypi(listing: Path, out: Path, previous: Path | None = None) -> list[str]:
    cmd = [
        str(BIN / "dumb-pypi"), "--package-list-json", str(listing), "--output-dir", str(out),
        "--packages-url", "../../packages/", "--no-generate-timestamp", "--no-per-release-json",
    ]  # fmt: skip
    if previous is not None:
        cmd += ["--previous-package-list-json", str(previous)]
    return cmd


# -- 1. full build from a metadata list ------------------------------------------------------


def full_build_from_list(ctx: Context, spec: Spec) -> Row:
    corpus = ctx.corpus(spec)
    ours, theirs = [], []
    for pypapo_first in alternate(ctx.runs):
        run = ctx.fresh("list")
        (run / "pypapo").mkdir()
        (run / "pypapo" / "packages").symlink_to(corpus.packages)
        pypapo_cmd = [sys.executable, "-m", "bench.from_list", str(corpus.list_path),
                      str(run / "pypapo")]  # fmt: skip
        dumb_cmd = _dumb_pypi(corpus.list_path, run / "dumb-pypi")
        if pypapo_first:
            ours.append(timed(pypapo_cmd, env=bench_env()))
            theirs.append(timed(dumb_cmd))
        else:
            theirs.append(timed(dumb_cmd))
            ours.append(timed(pypapo_cmd, env=bench_env()))
        pages = len(list((run / "pypapo" / "simple").glob("*/index.json")))
        assert pages == spec.projects, f"adapter wrote {pages} project pages"
    return report.speedup(
        "list build",
        f"full build, {spec.files:,} files from a metadata list (HTML + JSON)",
        Samples(tuple(ours), "s"),
        "dumb-pypi",
        Samples(tuple(theirs), "s"),
        need=2,
        note="same JSON-lines list; pypapo via bench/from_list.py (its renderer, 2 processes); "
        "dumb-pypi with --no-per-release-json (the same page count; its default writes 10x more)",
    )


# -- 2. cold build of wheels with sha256 and PEP 658 sidecars --------------------------------


def cold_wheels(ctx: Context, spec: Spec) -> list[Row]:
    """On the work folder's disk, and again in memory (tmpfs) when there is one: on a disk the
    kernel's cost of creating files (inode allocation, journal) weighs on both sides and
    varies from run to run; tmpfs leaves what the tools themselves spend."""
    rows = [_cold_wheels_on(ctx, spec, ctx.work / "runs", "disk")]
    shm = Path("/dev/shm")  # noqa: S108 (memory is the point; the folder comes from mkdtemp)
    size = sum(p.stat().st_size for p in ctx.corpus(spec).packages.iterdir())
    if is_tmpfs(shm) and shutil.disk_usage(shm).free > 10 * size:
        memory = Path(tempfile.mkdtemp(prefix="pypapo-bench-", dir=shm))
        try:
            rows.append(_cold_wheels_on(ctx, spec, memory, "tmpfs"))
        finally:
            shutil.rmtree(memory, ignore_errors=True)
    return rows


def _cold_wheels_on(ctx: Context, spec: Spec, base: Path, medium: str) -> Row:
    corpus = ctx.corpus(spec)
    ours, theirs = [], []
    runs = []
    for pypapo_first in alternate(ctx.runs):
        run = base / f"wheels-{uuid.uuid4().hex[:8]}"
        runs.append(run)
        copy_cold(corpus.packages, run / "simple503")
        copy_cold(corpus.packages, run / "pypapo" / "packages")
        ours_cmd = [str(BIN / "pypapo"), "build", str(run / "pypapo")]
        theirs_cmd = [str(BIN / "simple503"), str(run / "simple503")]
        if pypapo_first:
            ours.append(timed(ours_cmd))
            theirs.append(timed(theirs_cmd))
        else:
            theirs.append(timed(theirs_cmd))
            ours.append(timed(ours_cmd))
        for side in (run / "simple503", run / "pypapo" / "packages"):
            sidecars = len(list(side.glob("*.whl.metadata")))
            assert sidecars == spec.files, f"{side}: {sidecars} sidecars"
    # removed only now: on ext4, creating files right after deleting thousands costs far more
    # (the inode allocator skips recently freed inodes), which would charge one run's
    # clean-up to the next run's tool
    for run in runs:
        shutil.rmtree(run)
    where = {"disk": f"on the work folder's disk ({_fs_type(base)})", "tmpfs": "in tmpfs"}
    return report.speedup(
        f"wheels cold {medium}",
        f"cold build of {spec.files:,} wheels incl. sha256 and PEP 658 sidecars, {medium}",
        Samples(tuple(ours), "s"),
        "simple503",
        Samples(tuple(theirs), "s"),
        need=2,
        note=f"both CLIs on a fresh copy {where[medium]}; pypapo also writes index.json, "
        "state and browse pages (2,500 more files, 1,000 more folders), one process per CPU",
    )


def _fs_type(path: Path) -> str:
    try:
        mounts = [m.split() for m in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        return "unknown"
    best = max(
        (m for m in mounts if len(m) > 2 and str(path.resolve()).startswith(m[1])),
        key=lambda m: len(m[1]),
        default=None,
    )
    return best[2] if best is not None else "unknown"


# -- 3. one new upload -----------------------------------------------------------------------

_DUMB_TIMER = """\
import sys, time
from dumb_pypi.main import main
start = time.perf_counter()
code = main(sys.argv[1:])
print(time.perf_counter() - start)
sys.exit(code or 0)
"""


def one_upload(ctx: Context, spec: Spec) -> list[Row]:
    corpus = ctx.corpus(spec)
    root, full = ctx.built(spec, builds=ctx.runs)
    dumb_out = ctx.fresh("upload-dumb")
    timed(_dumb_pypi(corpus.list_path, dumb_out))
    lines = corpus.lines()
    previous = dumb_out.parent / f"{dumb_out.name}.previous.jsonl"
    current = dumb_out.parent / f"{dumb_out.name}.current.jsonl"
    ours, theirs, ops = [], [], []
    for r in range(ctx.runs):
        path, line = add_upload(root / "packages", UPLOAD_PROJECT, 100 + r)
        counting = CountingStorage(LocalStorage(root))
        start = time.perf_counter()
        result = refresh(counting, [path])
        ours.append(time.perf_counter() - start)
        assert not result.errors, result.errors
        ops.append(float(counting.total))
        previous.write_text("".join(x + "\n" for x in lines))
        lines.append(line)
        current.write_text("".join(x + "\n" for x in lines))
        cmd = [sys.executable, "-c", _DUMB_TIMER, *_dumb_pypi(current, dumb_out, previous)[1:]]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        theirs.append(float(out.stdout.split()[-1]))
    path, _ = add_upload(root / "packages", UPLOAD_PROJECT, 100 + ctx.runs)
    cli = timed([str(BIN / "pypapo"), "refresh", str(root), path])
    refresh_s = Samples(tuple(ours), "s")
    return [
        report.fraction(
            "upload/dumb",
            f"one new upload into the {spec.files:,}-file repo",
            refresh_s,
            "dumb-pypi partial rebuild",
            Samples(tuple(theirs), "s"),
            bound=0.01,
            note="both timed in-process (pypapo.refresh(); dumb_pypi.main.main() with "
            "--previous-package-list-json), so neither pays interpreter start-up; "
            f"pypapo's CLI `pypapo refresh` takes {cli:.2f} s wall, mostly start-up",
        ),
        report.fraction(
            "upload/full",
            f"one new upload into the {spec.files:,}-file repo",
            refresh_s,
            "pypapo full build (cold)",
            full,
            bound=0.01,
        ),
        report.info(
            "upload ops",
            "storage operations per upload refresh (local folder)",
            Samples(tuple(ops), "ops"),
            note="existing project of 20 files; counted by pypapo.storage.counting",
        ),
    ]


# -- 4. growth -------------------------------------------------------------------------------


def growth(ctx: Context, specs: Sequence[Spec]) -> Row:
    points = []
    for spec in specs:
        root, full = ctx.built(spec)
        times = []
        for r in range(max(5, ctx.runs)):
            path, _ = add_upload(root / "packages", UPLOAD_PROJECT, 200 + r)
            start = time.perf_counter()
            result = refresh(LocalStorage(root), [path])
            times.append(time.perf_counter() - start)
            assert not result.errors, result.errors
        median = Samples(tuple(times), "s").median
        points.append((spec.files, median, full.median))
        ctx.log(f"  growth {spec.files:,} files: refresh {median * 1000:.1f} ms, "
                f"build {full.median:.1f} s")  # fmt: skip
    ctx.growth = points
    ratio = points[-1][1] / points[0][1]
    return report.bounded(
        "growth",
        f"refresh time growth, {points[0][0]:,} -> {points[-1][0]:,} files",
        Samples((ratio,), "x"),
        limit=1.5,
        target="<= 1.5x (flat)",
        note="medians of refresh times: "
        + ", ".join(f"{n:,} files {t * 1000:.1f} ms" for n, t, _ in points)
        + "; cold `pypapo build`: "
        + ", ".join(f"{n:,} files {b:.1f} s" for n, _, b in points),
    )


# -- 5. storage operations on the GCS emulator -----------------------------------------------


def _gcs_client(url: str) -> Any:
    from google.auth.credentials import AnonymousCredentials  # noqa: PLC0415
    from google.cloud import storage  # noqa: PLC0415

    return storage.Client(
        project="bench",
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": url},
    )


def _gcs_upload(gcs: Any, seed: Path, project: int, version: int) -> tuple[str, int, Any]:
    """Upload one sample wheel; its path, size, and the finalized event's object resource
    (which the Cloud Function hands to refresh; tests/test_gcs_refresh.py checks it equals a
    stat, taken here outside the counted requests)."""
    from bench.corpus import sample  # noqa: PLC0415
    from pypapo.sample import wheel_bytes  # noqa: PLC0415

    name = f"{sample(project, version).stem}-py3-none-any.whl"
    (seed / name).write_bytes(wheel_bytes(sample(project, version)))
    path = f"packages/{name}"
    gcs.upload_file(seed / name, path, create_only=True)
    event = gcs.stat(path)
    assert event is not None
    return path, event.size, event


def gcs_ops(ctx: Context) -> list[Row]:

    rows = []
    with gcs_emulator(ctx.fresh("gcs")) as url:
        client = _gcs_client(url)
        bucket = client.create_bucket(f"bench-{uuid.uuid4().hex[:12]}")
        gcs = EmulatorGCSStorage(bucket)
        seed = ctx.fresh("gcs-seed")
        for i in range(10):
            for v in range(10 if i == UPLOAD_PROJECT else 2):
                _gcs_upload(gcs, seed, i, v)
        assert not build(gcs).errors
        http = HTTPCounter()
        http.install(client._http)
        requests, overhead, sizes, seconds, unhinted = [], [], [], [], []
        for r in range(ctx.runs):
            path, size, event = _gcs_upload(gcs, seed, UPLOAD_PROJECT, 100 + r)
            counting = CountingStorage(gcs)
            http.reset()
            start = time.perf_counter()
            result = refresh(counting, [path], hints={path: event})
            seconds.append(time.perf_counter() - start)
            assert not result.errors, result.errors
            requests.append(float(http.total))
            overhead.append(float(counting.bytes_read - size))
            sizes.append(size)
            ctx.log(f"  gcs refresh: {dict(http.requests)}, {counting.bytes_read} B read")
            # another new version, refreshed as `pypapo refresh` does it (no event at hand)
            other, _, _ = _gcs_upload(gcs, seed, UPLOAD_PROJECT, 200 + r)
            http.reset()
            assert not refresh(gcs, [other]).errors
            unhinted.append(float(http.total))
        # a brand-new project also updates the root pages
        path, size, event = _gcs_upload(gcs, seed, 900, 0)
        counting = CountingStorage(gcs)
        http.reset()
        refresh(counting, [path], hints={path: event})
        new_project = (http.total, counting.bytes_read - size)
    rows.append(report.bounded(
        "gcs requests",
        "HTTP requests per refresh (new version of a 10-version project, GCS emulator)",
        Samples(tuple(requests), "requests"),
        limit=11,
        target="<= 11 requests",
        note="as the Cloud Function runs it, with the finalized event's description of the "
        "object (no stat); 8 before the project lease (its marker's read, take and release and "
        "the queue's listing, where the state was read again); `pypapo refresh` without an "
        "event: "
        f"{Samples(tuple(unhinted), 'requests').show()}; "
        f"a brand-new project also rewrites the root pages: {new_project[0]} requests, "
        f"{new_project[1]:,} bytes beyond the file (10 projects in the bucket); "
        f"refresh took {Samples(tuple(seconds), 's').show()} on the emulator",
    ))  # fmt: skip
    rows.append(report.bounded(
        "gcs bytes",
        "bytes read per refresh beyond the file itself (GCS emulator)",
        Samples(tuple(overhead), "B"),
        limit=64 * 1024,
        target="<= 64 KiB",
        note=f"file sizes {min(sizes):,}-{max(sizes):,} B; bytes counted at the storage "
        "protocol (content), requests at the client's HTTP session",
    ))  # fmt: skip
    return rows


# -- 6. peak RSS refreshing a huge wheel -----------------------------------------------------


def peak_rss(ctx: Context, size: int) -> Row:
    big = ctx.work / f"big-{size}"
    wheel = next(big.glob("packages/*.whl"), None) if big.exists() else None
    if wheel is None:
        start = time.perf_counter()
        wheel = write_big_wheel(big / "packages", size)
        ctx.log(f"  {size >> 20} MiB wheel written in {time.perf_counter() - start:.1f} s")
    path = f"packages/{wheel.name}"
    local: list[float] = []
    remote: list[float] = []
    seconds: list[float] = []
    baseline = 0.0
    for _ in range(ctx.runs):
        for index in list((big / "simple").glob("*/.state.json")):
            index.unlink()  # every run parses the wheel again
        body = _rss_child(["local", str(big), path])
        local.append(body["peak_kib"] / 1024)
        baseline = body["baseline_kib"] / 1024
        seconds.append(body["seconds"])
    with gcs_emulator(ctx.fresh("gcs-big")) as url:
        client = _gcs_client(url)
        bucket = client.create_bucket(f"big-{uuid.uuid4().hex[:12]}")
        EmulatorGCSStorage(bucket).upload_file(wheel, path, create_only=True)
        for _ in range(min(2, ctx.runs)):
            for blob in client.list_blobs(bucket, prefix="simple/"):
                blob.delete()
            body = _rss_child(["gcs", url, bucket.name, path])
            remote.append(body["peak_kib"] / 1024)
    return report.bounded(
        "rss",
        f"peak RSS refreshing a {size / (1 << 30):.3g} GiB wheel (local folder)",
        Samples(tuple(local), "MB"),
        limit=80,
        target="<= 80 MB",
        note=f"on the GCS emulator: {Samples(tuple(remote), 'MB').show()}; local refresh took "
        f"{Samples(tuple(seconds), 's').show()}; peak RSS (VmHWM, MiB) of a fresh process, "
        f"including its imports ({baseline:.0f} MB before the refresh, local)",
    )


def _rss_child(args: Sequence[str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.rss_child", *args],
        capture_output=True,
        text=True,
        env=bench_env(),
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"rss child failed: {out.stdout}{out.stderr[-2000:]}")
    body: dict[str, Any] = json.loads(out.stdout.splitlines()[-1])
    return body


# -- 7. serving project pages ----------------------------------------------------------------


def serving(ctx: Context, spec: Spec, seconds: int, connections: int = 16) -> Row:
    root, _ = ctx.built(spec)
    paths = sorted(f"/simple/{p.parent.name}/" for p in (root / "simple").glob("*/index.html"))
    ours: list[float] = []
    theirs: list[float] = []
    work = ctx.fresh("serve")
    with (
        nginx(root, work / "nginx") as ours_url,
        pypiserver(root / "packages", work / "pypiserver", sys.executable) as theirs_url,
    ):
        for url in (ours_url, theirs_url):  # warm caches (pypiserver's listing, page cache)
            wrk(url, paths, work, seconds=2, connections=connections)
        timeouts = 0
        for nginx_first in alternate(ctx.runs):
            order = [(ours_url, ours), (theirs_url, theirs)]
            for url, into in order if nginx_first else order[::-1]:
                result = wrk(url, paths, work, seconds=seconds, connections=connections)
                if result.failed:
                    raise RuntimeError(f"{url}: {result.failed} requests failed")
                timeouts += result.timeouts if url == theirs_url else 0
                into.append(result.requests_per_s)
    return report.speedup(
        "serving",
        f"project pages served per second ({len(paths):,} projects, HTML)",
        Samples(tuple(ours), "req/s"),
        "pypiserver (waitress, cached-dir)",
        Samples(tuple(theirs), "req/s"),
        need=20,
        note=f"wrk -t2 -c{connections} -d{seconds}s on loopback cycling through every "
        "/simple/<project>/ (HTML); NGINX runs nginx/nginx.conf (access log off) over the built "
        f"folder, pypiserver over its packages/ ({timeouts} pypiserver requests timed out at "
        "30 s and are not counted)",
    )


def clean(ctx: Context) -> None:
    shutil.rmtree(ctx.work / "runs", ignore_errors=True)
