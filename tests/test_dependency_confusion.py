"""Dependency confusion: each example and each configuration of docs/clients.md, replayed with
real pip, uv, poetry and pdm against a fake public index on the loopback that offers 99.0 of
every private name, installs only the private files.

The world (tests/support/confusion.py): a private index built by pypapo (``app`` depending on
``corp-lib`` and ``corp-secret``, ``my-private-lib`` depending on ``app``, and the public
``pubdep`` and a ``pytest`` stand-in mirrored into it), served by Debian's nginx with the
shipped config; a fake PyPI
built the same way and served by ``python -m http.server``, with every private name at 99.0;
and each client's own default index (PyPI) set to that fake PyPI, below what a command line or
a project file says. Any other host goes to a proxy that refuses: nothing leaves the loopback.

The commands and configurations are read from the example files and docs/clients.md and run as
written; only addresses change (the bucket becomes the built index's folder, ``/workspace`` and
``/tmp/venv`` temporary folders, port 3333 and ``INDEX`` the private server, pypi.org the fake
PyPI). The unsafe forms the examples and docs used to show are replayed too and must install
99.0: that is what proves the harness sees confusion when there is some.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from pypapo.build import build
from pypapo.storage.local import LocalStorage
from tests.support import process
from tests.support.confusion import (
    CONFUSED,
    INSTALLED,
    PRIVATE,
    PRIVATE_NAMES,
    Blackhole,
    base_python,
    client_env,
    fenced_blocks,
    installed,
    private_view,
    write_consumer,
    write_private,
    write_public,
)
from tests.support.nginx_server import NginxServer
from tests.support.tools import free_port, require_tool, run

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
CONSUMER = ROOT / "examples" / "cloudbuild-consumer.yaml"
ENVIRONMENT = ROOT / "examples" / "environment.yml"
CLIENTS_MD = ROOT / "docs" / "clients.md"
PYPI = "https://pypi.org/simple"
HTTP_SERVER = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1"]
ALL_CONFUSED = dict.fromkeys(PRIVATE_NAMES, CONFUSED)
# what one index installs: the private names and the mirrored public package's one version
ONE_INDEX = {**PRIVATE, "pubdep": "1.0"}
# installing app (docs/clients.md): app and its private dependencies
APP = {name: PRIVATE[name] for name in ("app", "corp-lib", "corp-secret")}
APP_ONE_INDEX = {**APP, "pubdep": "1.0"}


def _pypapo() -> str:
    """This checkout's ``pypapo`` command, next to the interpreter running the tests."""
    return str(Path(sys.executable).with_name("pypapo"))


def client(name: str) -> str:
    """poetry and pdm from ``$PYPAPO_CLIENTS_BIN`` (their own venv), else PATH; uv from PATH or
    this venv. Missing, they fail the test in CI and skip it elsewhere."""
    folder = os.environ.get("PYPAPO_CLIENTS_BIN")
    if folder and (Path(folder) / name).exists():
        return str(Path(folder) / name)
    return require_tool(name)


@dataclass
class World:
    bucket: Path  # the private index as a folder: the bucket the examples read
    private_url: str  # the private index served over HTTP (the port-forward, INDEX)
    public_url: str  # the fake PyPI
    proxy: str


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("confusion")
    bucket, public = tmp / "bucket", tmp / "public"
    write_private(bucket)
    write_public(public)
    assert build(LocalStorage(bucket)).errors == []
    assert build(LocalStorage(public)).errors == []
    blackhole = Blackhole()
    # the private index as the port-forward serves it: Debian's nginx with the shipped config
    private = NginxServer(bucket, tmp / "nginx")
    port, log = free_port(), tmp / "public.log"
    public_server: subprocess.Popen[bytes] | None = None
    try:
        private.start()
        public_server = process.start(
            [*HTTP_SERVER, "--directory", str(public), str(port)],
            log,
        )
        public_url = f"http://127.0.0.1:{port}/simple/"
        process.wait_ready(public_server, public_url, log, name="fake PyPI")
        yield World(bucket, private.index_url, public_url, blackhole.url)
    finally:
        process.stop(public_server)
        private.stop()
        blackhole.close()


@dataclass
class Machine:
    """One client's isolated machine: HOME, caches and config, a PATH holding ``python`` and
    the installers, and the environment whose default index is the fake PyPI."""

    tmp: Path
    env: dict[str, str]

    def sh(self, script: str, cwd: Path, what: str) -> subprocess.CompletedProcess[str]:
        """Run ``script`` as the example's step runs it (``bash -c``); it must succeed."""
        out = run(["bash", "-c", script], self.env, cwd=cwd)
        assert out.returncode == 0, f"{what}\n{script}\n{out.stdout}\n{out.stderr}"
        return out

    def versions(self, python: Path) -> dict[str, str]:
        out = run([str(python), "-c", INSTALLED], self.env)
        assert out.returncode == 0, out.stderr
        return installed(out.stdout)


def _machine(world: World, tmp: Path, *tools: str) -> Machine:
    bin_dir = tmp / "bin"
    bin_dir.mkdir(parents=True)
    links = {"python": base_python(), "python3": base_python(), "bash": require_tool("bash")}
    links |= {tool: client(tool) for tool in tools}
    for name, target in links.items():
        (bin_dir / name).symlink_to(target)
    env = client_env(tmp / "home", world.public_url, world.proxy, bin_dir)
    env["POETRY_VIRTUALENVS_IN_PROJECT"] = "true"  # where to look; not how it resolves
    return Machine(tmp, env)


# ---------------------------------------------------------------- examples/cloudbuild-consumer


_SUBSTITUTION = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def _steps() -> dict[str, str]:
    """Each step's script as Cloud Build hands it to bash: ``$$`` made ``$``, the bucket
    substitution made ``gs://BUCKET``."""
    data: dict[str, Any] = yaml.safe_load(CONSUMER.read_text())
    values = {"_BUCKET": "BUCKET", "_PYPAPO_WHEEL": "packages/pypapo.whl"}

    def one(m: re.Match[str]) -> str:
        return "$" if m.group(0) == "$$" else values[m.group(1) or m.group(2)]

    return {s["id"]: _SUBSTITUTION.sub(one, str(s["args"][-1])) for s in data["steps"]}


def _poetry_source() -> str:
    """The source the test-poetry step's comment says the project's pyproject.toml holds."""
    m = re.search(r"^( *#   )\[\[tool\.poetry\.source\]\]\n(?:\1.*\n)+", CONSUMER.read_text(), re.M)
    assert m, "the test-poetry step shows its [[tool.poetry.source]] as TOML in a comment"
    return "".join(line.removeprefix(m.group(1)) + "\n" for line in m.group(0).splitlines())


@dataclass
class Workspace:
    """Cloud Build's /workspace: the consuming repository, after the fetch-index step."""

    root: Path
    port: int  # where the poetry step serves the copy (3333 in the example)

    def localize(self, script: str, venv: Path) -> str:
        return (
            re.sub(r"\b3333\b", str(self.port), script)
            .replace("/workspace", str(self.root))
            .replace("/tmp/venv", str(venv))  # noqa: S108 (the example's path, replaced)
        )


def _fetch_index(world: World, machine: Machine, mirror_line: str) -> Workspace:
    """The consuming repository, and the fetch-index step's ``pypapo mirror`` line run with the
    bucket replaced by the built index's folder. The lines before it install pypapo's wheel from
    the bucket with its gcs extra from PyPI, which cannot be replayed here: this checkout's
    pypapo runs instead."""
    workspace = Workspace(machine.tmp / "workspace", free_port())
    write_consumer(workspace.root, workspace.localize(_poetry_source(), Path()))
    (Path(machine.env["PATH"].split(":")[0]) / "pypapo").symlink_to(_pypapo())
    line = workspace.localize(mirror_line, Path()).replace("gs://BUCKET", str(world.bucket))
    machine.sh(line, workspace.root, "fetch-index")
    return workspace


def _mirror_line(script: str) -> str:
    (line,) = [s.strip() for s in script.splitlines() if s.strip().startswith("pypapo mirror")]
    return line


def test_consumer_example_installs_only_private_files(world: World, tmp_path: Path) -> None:
    """fetch-index, test-pip, test-uv and test-poetry, each step's script as bash runs it."""
    steps = _steps()
    machine = _machine(world, tmp_path, "uv", "poetry")
    workspace = _fetch_index(world, machine, _mirror_line(steps["fetch-index"]))

    for step in ("test-pip", "test-uv"):
        venv = tmp_path / step
        out = machine.sh(workspace.localize(steps[step], venv), workspace.root, step)
        assert "stand-in pytest: ok" in out.stdout
        versions = machine.versions(venv / "bin" / "python")
        assert versions | ONE_INDEX == versions, f"{step} installed {versions}"
        assert versions["consumer"] == "0.1.0"

    # The step installs poetry with pip from PyPI and meanwhile its background http.server
    # comes up; here poetry is already installed, so that line becomes a wait for the server.
    # The trap stops the server (by its PID) when the script ends, as the build's end would.
    script = steps["test-poetry"]
    pip_poetry = re.compile(r"^( *)pip install --quiet poetry==\S+$", re.M)
    assert pip_poetry.search(script), script
    wait = (
        "python -c 'import socket, sys, time\n"
        "for _ in range(200):\n"
        '    try: socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close(); break\n'
        "    except OSError: time.sleep(0.05)' 3333"
    )
    script = "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n" + pip_poetry.sub(
        lambda m: m.group(1) + wait, script
    )
    out = machine.sh(workspace.localize(script, Path()), workspace.root, "test-poetry")
    assert "stand-in pytest: ok" in out.stdout
    versions = machine.versions(workspace.root / ".venv" / "bin" / "python")
    assert versions | ONE_INDEX == versions, f"poetry installed {versions}"
    lock = (workspace.root / "poetry.lock").read_text()
    assert f"127.0.0.1:{workspace.port}/simple" in lock


def test_consumer_example_old_form_installs_99(world: World, tmp_path: Path) -> None:
    """The harness sees confusion: the consumer example as it was before it read one index,
    rebuilt from today's file, installs 99.0 with pip, which with ``--extra-index-url`` takes
    the highest version across both indexes. uv with the copy as a second ``--index`` next to
    PyPI takes only what the copy lacks from PyPI, and the partial copy (``pypapo mirror ...
    . -r requirements.txt``) lacks nothing: mirror follows the local project's dependencies, so
    the private ``my-private-lib`` that only ``-e .`` needs is in it."""
    steps = _steps()
    machine = _machine(world, tmp_path, "uv")
    workspace = _fetch_index(
        world, machine, _mirror_line(steps["fetch-index"]) + " . -r requirements.txt"
    )
    assert (workspace.root / ".pypapo" / "index" / "simple" / "my-private-lib").exists()

    index = "--index-url file:///workspace/.pypapo/index/simple/"
    assert index in steps["test-pip"]
    pip = steps["test-pip"].replace(index, f"{index} --extra-index-url {PYPI}/")
    venv = tmp_path / "test-pip"
    machine.sh(workspace.localize(pip, venv).replace(PYPI, world.public_url.rstrip("/")),
               workspace.root, "old test-pip")  # fmt: skip
    assert private_view(machine.versions(venv / "bin" / "python")) == ALL_CONFUSED

    default = "--default-index file:///workspace/.pypapo/index/simple/"
    assert default in steps["test-uv"]
    uv = steps["test-uv"].replace(default, "--index pypapo=file:///workspace/.pypapo/index/simple/")
    venv = tmp_path / "test-uv"
    machine.sh(workspace.localize(uv, venv), workspace.root, "old test-uv")
    assert private_view(machine.versions(venv / "bin" / "python")) == PRIVATE


# ------------------------------------------------------------------- conda: environment.yml


def _conda_pip_lines(text: str) -> list[str]:
    env: dict[str, Any] = yaml.safe_load(text)
    (section,) = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    return [str(line) for line in section]


def _venv(template: Path, dest: Path) -> Path:
    """A fresh venv with pip (a copy of the session's template: creating one costs seconds),
    its ``pip`` scripts pointed at the copy's interpreter rather than the template's."""
    shutil.copytree(template, dest, symlinks=True)
    for script in (dest / "bin").glob("pip*"):
        lines = script.read_text().split("\n", 1)
        if lines[0].startswith("#!"):
            script.write_text(f"#!{dest}/bin/python\n{lines[1]}")
    return dest


def _conda_replay(
    world: World, machine: Machine, lines: list[str], template: Path
) -> dict[str, str]:
    """What ``conda env create`` does with the ``pip:`` section, without conda (not installed
    here, and its channels are not reachable): the environment's pip runs
    ``python -m pip install -U -r FILE`` over a file holding the section's lines."""
    venv = _venv(template, machine.tmp / "env")
    requirements = machine.tmp / "condaenv.requirements.txt"
    text = "\n".join(lines) + "\n"
    requirements.write_text(
        text.replace("http://127.0.0.1:3333/simple/", world.private_url).replace(
            PYPI, world.public_url.rstrip("/")
        )
    )
    machine.sh(f"{venv}/bin/python -m pip install -U -r {requirements}", machine.tmp, "pip")
    return machine.versions(venv / "bin" / "python")


@pytest.mark.parametrize("source", ["examples/environment.yml", "docs/clients.md"])
def test_conda_environment_installs_only_private_files(
    world: World, tmp_path: Path, source: str, fresh_venv_factory: Path
) -> None:
    if source == "docs/clients.md":
        (block,) = [
            t for lang, t in fenced_blocks(CLIENTS_MD.read_text(), "conda") if lang == "yaml"
        ]
        lines = [
            line.replace("INDEX", "http://127.0.0.1:3333/simple/")
            for line in _conda_pip_lines(block)
        ]
    else:
        lines = _conda_pip_lines(ENVIRONMENT.read_text())
    versions = _conda_replay(world, _machine(world, tmp_path), lines, fresh_venv_factory)
    expected = APP_ONE_INDEX if source == "docs/clients.md" else ONE_INDEX
    assert versions | expected == versions, versions
    assert private_view(versions) == private_view(expected), versions


def test_conda_environment_with_extra_index_installs_99(
    world: World, tmp_path: Path, fresh_venv_factory: Path
) -> None:
    """What examples/environment.yml used to advise for public packages: the harness sees it."""
    lines = _conda_pip_lines(ENVIRONMENT.read_text())
    lines.insert(1, f"--extra-index-url {PYPI}/")
    versions = _conda_replay(world, _machine(world, tmp_path), lines, fresh_venv_factory)
    assert private_view(versions) == ALL_CONFUSED


# ---------------------------------------------------------------------- docs/clients.md


def _project(block: str, world: World) -> str:
    """A consumer's pyproject.toml holding a docs/clients.md block (``INDEX`` and pypi.org
    replaced); when the block has no ``[project]`` table the project depends on ``app``."""
    text = block.replace("INDEX", world.private_url).replace(PYPI, world.public_url.rstrip("/"))
    header = 'name = "consumer"\nversion = "0.1.0"\nrequires-python = ">=3.11"\n'
    if "[project]\n" in text:
        text = text.replace("[project]\n", "[project]\n" + header, 1)
    else:
        text = f'[project]\n{header}dependencies = ["app"]\n\n{text}'
    return text + "\n[tool.poetry]\npackage-mode = false\n\n[tool.pdm]\ndistribution = false\n"


def _blocks(heading: str) -> list[tuple[str, str]]:
    return fenced_blocks(CLIENTS_MD.read_text(), heading)


def _in_project(machine: Machine, pyproject: str, commands: str, what: str) -> dict[str, str]:
    project = machine.tmp / "project"
    project.mkdir(parents=True)
    (project / "pyproject.toml").write_text(pyproject)
    machine.sh(commands, project, what)
    return machine.versions(project / ".venv" / "bin" / "python")


def test_docs_pip(world: World, tmp_path: Path, fresh_venv_factory: Path) -> None:
    (lang, command), (ini_lang, ini) = _blocks("pip")[:2]
    assert (lang, ini_lang) == ("sh", "ini")
    machine = _machine(world, tmp_path)
    venv = _venv(fresh_venv_factory, tmp_path / "venv")
    machine.env["PATH"] = f"{venv}/bin:{machine.env['PATH']}"
    machine.sh(command.replace("INDEX", world.private_url), tmp_path, "pip install")
    versions = machine.versions(venv / "bin" / "python")
    assert versions | APP_ONE_INDEX == versions, versions

    # pip.conf: the user's config file, above the machine's (the fake PyPI)
    shutil.rmtree(venv)
    _venv(fresh_venv_factory, venv)
    conf = Path(machine.env["XDG_CONFIG_HOME"]) / "pip" / "pip.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text(ini.replace("INDEX", world.private_url))
    machine.sh("pip install app", tmp_path, "pip install with pip.conf")
    versions = machine.versions(venv / "bin" / "python")
    assert versions | APP_ONE_INDEX == versions, versions


UV_PINNED_APP_ONLY = """\
[[tool.uv.index]]
name = "private"
url = "INDEX"
explicit = true

[tool.uv.sources]
app = { index = "private" }
"""


def test_docs_uv(world: World, tmp_path: Path) -> None:
    blocks = _blocks("uv")
    assert [lang for lang, _ in blocks] == ["sh", "toml", "toml"]
    (_, command), (_, default), (_, explicit) = blocks
    machine = _machine(world, tmp_path, "uv")

    venv = tmp_path / "venv"
    machine.sh(f"uv venv {venv}", tmp_path, "uv venv")
    machine.env["VIRTUAL_ENV"] = str(venv)
    machine.sh(command.replace("INDEX", world.private_url), tmp_path, "uv pip install")
    del machine.env["VIRTUAL_ENV"]
    versions = machine.versions(venv / "bin" / "python")
    assert versions | APP_ONE_INDEX == versions, versions

    for name, block in [("default", default), ("explicit", explicit)]:
        machine.tmp = tmp_path / name
        versions = _in_project(machine, _project(block, world), "uv sync", f"uv sync ({name})")
        assert private_view(versions) == APP, f"{name}: {versions}"
    assert versions["pubdep"] == "1.1"  # the explicit form takes public names from PyPI

    # the form docs/clients.md showed before: only app pinned, so its private dependencies,
    # which uv never looks up on an explicit index, come from PyPI
    machine.tmp = tmp_path / "app-only"
    versions = _in_project(machine, _project(UV_PINNED_APP_ONLY, world), "uv sync", "uv sync")
    assert versions["corp-lib"] == versions["corp-secret"] == CONFUSED, versions


POETRY_PINNED_APP_ONLY = """\
[tool.poetry.dependencies]
app = { source = "private" }

[[tool.poetry.source]]
name = "PyPI"
priority = "primary"

[[tool.poetry.source]]
name = "private"
url = "INDEX"
priority = "explicit"
"""
# poetry's PyPI source is pypi.org's JSON API and takes no URL: the fake PyPI stands in for it
# as a PEP 503 source with PyPI's priority, the closest equivalent
POETRY_PYPI = 'name = "PyPI"\npriority = "primary"\n'


def _poetry_pypi(block: str, world: World) -> str:
    assert POETRY_PYPI in block
    return block.replace(
        POETRY_PYPI, f'name = "public"\nurl = "{world.public_url}"\npriority = "primary"\n'
    )


def test_docs_poetry(world: World, tmp_path: Path) -> None:
    blocks = _blocks("poetry (2.x)")
    assert [lang for lang, _ in blocks] == ["toml", "toml"]
    (_, primary), (_, explicit) = blocks
    machine = _machine(world, tmp_path, "poetry")
    commands = "poetry lock && poetry install"  # the commands docs/clients.md gives

    machine.tmp = tmp_path / "primary"
    versions = _in_project(machine, _project(primary, world), commands, "poetry (primary)")
    assert versions | APP_ONE_INDEX == versions, versions

    machine.tmp = tmp_path / "explicit"
    project = _project(_poetry_pypi(explicit, world), world)
    versions = _in_project(machine, project, commands, "poetry (explicit)")
    assert private_view(versions) == APP, versions
    assert versions["pubdep"] == "1.1"  # public names from the PyPI stand-in

    # the form docs/clients.md showed before: only app pinned to the explicit source, so its
    # private dependencies are looked up on PyPI alone
    machine.tmp = tmp_path / "app-only"
    project = _project(_poetry_pypi(POETRY_PINNED_APP_ONLY, world), world)
    versions = _in_project(machine, project, commands, "poetry (app only)")
    assert versions["corp-lib"] == versions["corp-secret"] == CONFUSED, versions


PDM_UNRESTRICTED = """\
[[tool.pdm.source]]
name = "private"
url = "INDEX"
"""


def test_docs_pdm(world: World, tmp_path: Path) -> None:
    blocks = _blocks("pdm")
    assert [lang for lang, _ in blocks] == ["toml", "toml"]
    (_, replace_pypi), (_, restricted) = blocks
    machine = _machine(world, tmp_path, "pdm")
    commands = "pdm lock && pdm install"  # the commands docs/clients.md gives

    machine.tmp = tmp_path / "pypi"
    versions = _in_project(machine, _project(replace_pypi, world), commands, "pdm (pypi)")
    assert versions | APP_ONE_INDEX == versions, versions

    machine.tmp = tmp_path / "restricted"
    versions = _in_project(machine, _project(restricted, world), commands, "pdm (restricted)")
    assert private_view(versions) == APP, versions

    # a private source under another name, unrestricted: pdm takes the highest version
    machine.tmp = tmp_path / "unrestricted"
    versions = _in_project(machine, _project(PDM_UNRESTRICTED, world), commands, "pdm")
    assert versions["app"] == CONFUSED, versions
