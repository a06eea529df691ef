"""SIGKILL at random points of ``build`` and ``refresh``, over and over: no torn page is ever
visible, temporary files left behind are never listed or served, and the next build converges
to a from-scratch build byte for byte.

A worker process imports everything once, then forks one child per round; the child mutates a
small repository (uploads, overwrites, deletes, yanks; files written non-atomically, as a local
``cp`` does) and runs refresh or build in a loop until the test kills it by PID after a random
delay. Run as ``python -m tests.test_crash_safety ROOT`` it is that worker.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest

from pypapo.build import build
from pypapo.check import check
from pypapo.layout import is_own_write
from pypapo.refresh import refresh
from pypapo.sample import SampleProject, sdist_bytes, wheel_bytes
from pypapo.storage import YANK_KEY
from pypapo.storage.local import LocalStorage
from tests.support.page_checks import page_problems
from tests.support.tools import add_wheel, require_tool

KILLS = int(os.environ.get("PYPAPO_CRASH_KILLS", "110"))
PROJECTS = ["alpha", "Beta.Two", "gamma"]
VERSIONS = ["1.0", "1.1", "2.0"]
REPO = Path(__file__).resolve().parent.parent


# -- the worker ----------------------------------------------------------------------------


def _file(rng: random.Random) -> tuple[str, SampleProject, bool]:
    project = SampleProject(
        rng.choice(PROJECTS), rng.choice(VERSIONS), summary=f"variant {rng.randint(1, 3)}"
    )
    sdist = rng.random() < 0.3
    name = f"{project.stem}.tar.gz" if sdist else f"{project.stem}-py3-none-any.whl"
    return f"pkgs/{rng.choice(['', 'x/'])}{name}", project, sdist


def workload(root: Path, seed: int) -> None:
    """Mutate and re-index forever (until killed)."""
    rng = random.Random(seed)
    storage = LocalStorage(root)
    while True:
        if rng.random() < 0.2:
            build(storage, workers=2)
            continue
        path, project, sdist = _file(rng)
        target = root / path
        action = rng.random()
        if action < 0.6:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(sdist_bytes(project) if sdist else wheel_bytes(project))
        elif action < 0.8:
            target.unlink(missing_ok=True)
            target.with_name(target.name + ".yanked").unlink(missing_ok=True)
        elif target.exists():
            storage.set_metadata(path, YANK_KEY, rng.choice([None, "", "broken <b>build</b>"]))
        refresh(storage, [path])


def serve_forks(root: Path) -> None:
    """Read ``go SEED`` lines; fork a child running the workload, print its PID, and print
    ``dead`` once it has been killed (the test kills it; the worker reaps it)."""
    for line in sys.stdin:
        seed = int(line.split()[1])
        pid = os.fork()
        if pid == 0:  # the child: never returns
            try:
                workload(root, seed)
            finally:
                os._exit(3)
        sys.stdout.write(f"{pid}\n")
        sys.stdout.flush()
        _, status = os.waitpid(pid, 0)
        sys.stdout.write(f"dead {status}\n")
        sys.stdout.flush()


# -- the test ------------------------------------------------------------------------------


@dataclass
class Crashes:
    root: Path
    kills: int = 0
    pages_checked: int = 0
    problems: list[str] = field(default_factory=list)
    leftovers: set[str] = field(default_factory=set)
    listed_tmp: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _visible(root: Path) -> dict[str, bytes]:
    """What a server hands out: every file with no dot-named part, and no yank marker."""
    return {
        rel: p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
        and not (rel := p.relative_to(root).as_posix()).endswith(".yanked")
    }


def _inspect(crashes: Crashes) -> None:
    root = crashes.root
    for path, data in _visible(root).items():
        if path.endswith(("/index.html", "/index.json")) and path.startswith(
            ("simple/", "browse/")
        ):
            crashes.pages_checked += 1
            crashes.problems += page_problems(path, data)
    crashes.leftovers |= {
        p.relative_to(root).as_posix() for p in root.rglob(".pypapo-tmp-*") if p.is_file()
    }
    crashes.listed_tmp += [i.path for i in LocalStorage(root).list() if ".pypapo-tmp-" in i.path]


@pytest.fixture(scope="module")
def crashes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crashes]:
    root = tmp_path_factory.mktemp("crash") / "index"
    root.mkdir()
    log = root.parent / "worker.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "generator")])}
    with log.open("wb") as err:
        worker = subprocess.Popen(
            [sys.executable, "-m", "tests.test_crash_safety", str(root)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            cwd=REPO,
            env=env,
            text=True,
        )
    assert worker.stdin is not None and worker.stdout is not None
    result = Crashes(root)
    rng = random.Random(20240601)
    started = time.monotonic()
    try:
        for round_ in range(KILLS):
            worker.stdin.write(f"go {round_}\n")
            worker.stdin.flush()
            line = worker.stdout.readline()
            assert line, f"worker died: {log.read_text()}"
            child = int(line)
            time.sleep(rng.uniform(0.0, 0.25))
            os.kill(child, signal.SIGKILL)
            status = worker.stdout.readline().split()
            assert status[0] == "dead", status
            # killed by us: a child that exited by itself crashed (status 3 << 8)
            assert os.WIFSIGNALED(int(status[1])), f"child crashed: {log.read_text()}"
            result.kills += 1
            _inspect(result)
    finally:
        worker.stdin.close()
        worker.wait(timeout=30)
        worker.stdout.close()
    result.seconds = time.monotonic() - started
    sys.stderr.write(
        f"\n{result.kills} kills in {result.seconds:.1f}s, {result.pages_checked} pages checked, "
        f"{len(result.leftovers)} temporary files left behind\n"
    )
    yield result


@pytest.mark.slow
def test_no_torn_page_is_ever_visible(crashes: Crashes) -> None:
    assert crashes.kills >= 100
    assert crashes.pages_checked > crashes.kills  # pages existed to be checked
    assert crashes.problems == []
    assert crashes.listed_tmp == []  # builds and refreshes never see temporary files


@pytest.mark.slow
def test_next_build_converges_to_a_from_scratch_build(crashes: Crashes, tmp_path: Path) -> None:
    storage = LocalStorage(crashes.root)
    build(storage)
    assert [f for f in check(storage)[0] if f.kind != "bad file"] == []
    scratch = tmp_path / "scratch"
    for info in storage.list():
        if not is_own_write(info.path) or info.path.endswith(".yanked"):
            dest = scratch / info.path
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(crashes.root / info.path, dest)  # same mtime: same upload time
    build(LocalStorage(scratch))
    assert _visible(crashes.root) == _visible(scratch)


@pytest.mark.slow
@pytest.mark.parametrize("server", ["nginx", "pypapo"])
def test_leftover_temporary_files_are_never_served(
    crashes: Crashes, server: str, tmp_path: Path
) -> None:
    # one made the way a killed put leaves it, so the test has something to ask for
    synthetic = crashes.root / "simple" / ".pypapo-tmp-index.html-1-1"
    synthetic.parent.mkdir(parents=True, exist_ok=True)
    synthetic.write_bytes(b"<!DOCTYPE html><html><body>torn")
    leftovers = sorted(crashes.leftovers | {"simple/.pypapo-tmp-index.html-1-1"})
    if server == "nginx":
        require_tool("nginx")
        from tests.support.nginx_server import start_nginx  # noqa: PLC0415 (only with nginx)

        running = start_nginx(crashes.root, tmp_path)
    else:
        from tests.support.pypapo_server import PypapoServer  # noqa: PLC0415

        running = PypapoServer(crashes.root, tmp_path / "serve.log").start()  # type: ignore[assignment]
    try:
        for path in leftovers:
            url = running.url + "/" + quote(path)
            with pytest.raises(urllib.error.HTTPError) as caught:
                urllib.request.urlopen(url, timeout=10)
            caught.value.close()
            assert caught.value.code == 404, path
        with urllib.request.urlopen(running.url + "/simple/", timeout=10) as response:
            assert page_problems("simple/index.html", response.read()) == []
    finally:
        running.stop()


if __name__ == "__main__":
    serve_forks(Path(sys.argv[1]))


def test_build_sweeps_old_temporary_files_only(tmp_path: Path) -> None:
    """What a killed writer leaves behind goes with the next `pypapo build`; a file a live
    writer may still be renaming (recent) stays."""
    add_wheel(tmp_path, "proj", "1.0")
    old = tmp_path / "simple" / "proj" / ".pypapo-tmp-index.html-7-7"
    recent = tmp_path / "pkgs" / ".pypapo-tmp-proj-1.0-py3-none-any.whl.metadata-8-8"
    for leftover in (old, recent):
        leftover.parent.mkdir(parents=True, exist_ok=True)
        leftover.write_bytes(b"torn")
    an_hour_ago = time.time() - 3601
    os.utime(old, (an_hour_ago, an_hour_ago))
    result = subprocess.run(
        [sys.executable, "-m", "pypapo.cli", "build", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "removed simple/proj/.pypapo-tmp-index.html-7-7" in result.stderr
    assert not old.exists()
    assert recent.exists()
    assert (tmp_path / "simple" / "proj" / "index.html").exists()
