"""poetry and pdm lock and install from a built index served by NGINX, configured as
docs/clients.md says: the private index is the only source, so no other index can shadow it.

The tools come from ``$PYPAPO_CLIENTS_BIN`` (a directory, e.g. a separate venv's ``bin``: they
pin their own dependencies) or from PATH; missing, they fail the test in CI and skip elsewhere.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from pypapo.build import build
from pypapo.mirror import mirror
from pypapo.storage.local import LocalStorage
from tests.support import process
from tests.support.installs import make_corpus
from tests.support.tools import client_env, free_port, require_tool, run

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _tool(name: str) -> str:
    folder = os.environ.get("PYPAPO_CLIENTS_BIN")
    if folder and (Path(folder) / name).exists():
        return str(Path(folder) / name)
    return require_tool(name)


@pytest.fixture(scope="module", params=["nginx", "http.server mirror"])
def index_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The built index behind NGINX, or — as examples/cloudbuild-consumer.yaml does for poetry —
    a partial ``pypapo mirror`` of it served by ``python -m http.server``."""
    root = tmp_path_factory.mktemp("clients-index")
    make_corpus(root)
    assert build(LocalStorage(root)).errors == []
    if request.param == "nginx":
        require_tool("nginx")
        from tests.support.nginx_server import start_nginx  # noqa: PLC0415 (only with nginx)

        server = start_nginx(root, tmp_path_factory.mktemp("clients-nginx"))
        try:
            yield server.url + "/simple/"
        finally:
            server.stop()
        return
    copy = tmp_path_factory.mktemp("clients-mirror")
    report = mirror(LocalStorage(root), copy, [Requirement("app"), Requirement("yankee")])
    assert report.problems == []
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = copy.parent / "http-server.log"
    cmd = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory", str(copy)]
    server_process = process.start([*cmd, str(port)], log)
    try:
        process.wait_ready(server_process, url + "/simple/", log, name="http.server")
        yield url + "/simple/"
    finally:
        process.stop(server_process)


def _base_python() -> str:
    """A real interpreter (not this venv's) for the tools to build project venvs from."""
    return str(Path(getattr(sys, "_base_executable", sys.executable)))


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = client_env(home)
    env.update(extra)
    return env


def _installed(project: Path, env: dict[str, str]) -> dict[str, str]:
    python = project / ".venv" / "bin" / "python"
    out = run(
        [
            str(python),
            "-c",
            "import importlib.metadata as m\n"
            "for d in m.distributions(): print(d.metadata['Name'], d.version)",
        ],
        env,
    )
    assert out.returncode == 0, out.stderr
    return dict(line.split(" ", 1) for line in out.stdout.splitlines())


def _check(result: object, what: str) -> None:
    out = result  # a CompletedProcess
    assert getattr(out, "returncode", 1) == 0, (
        f"{what}\n{getattr(out, 'stdout', '')}\n{getattr(out, 'stderr', '')}"
    )


POETRY_PROJECT = """\
[project]
name = "consumer"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["app", "yankee"]

[tool.poetry]
package-mode = false

# A primary source disables PyPI: every package resolves from the private index only.
[[tool.poetry.source]]
name = "private"
url = "{url}"
priority = "primary"
"""


def test_poetry_locks_and_installs(index_url: str, tmp_path: Path) -> None:
    poetry = _tool("poetry")
    project = tmp_path / "consumer"
    project.mkdir()
    (project / "pyproject.toml").write_text(POETRY_PROJECT.format(url=index_url))
    env = _env(
        tmp_path,
        POETRY_VIRTUALENVS_IN_PROJECT="true",
        POETRY_CACHE_DIR=str(tmp_path / "poetry-cache"),
        POETRY_CONFIG_DIR=str(tmp_path / "poetry-config"),
        POETRY_NO_INTERACTION="1",
    )
    _check(run([poetry, "env", "use", _base_python()], env, cwd=project), "poetry env use")
    _check(run([poetry, "lock"], env, cwd=project), "poetry lock")
    lock = (project / "poetry.lock").read_text()
    assert "pypi.org" not in lock and "files.pythonhosted.org" not in lock
    # app, lib-core, yankee: each locked to the private source
    assert lock.count(f'url = "{index_url.rstrip("/")}"\nreference = "private"') == 3
    _check(run([poetry, "install"], env, cwd=project), "poetry install")
    installed = _installed(project, env)
    assert installed["app"] == "1.0"
    assert installed["Lib.Core"] == "1.0"
    assert installed["yankee"] == "1.0"  # 2.0 is yanked


PDM_PROJECT = """\
[project]
name = "consumer"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["app", "yankee"]

[tool.pdm]
distribution = false

# A source named "pypi" replaces PyPI itself: nothing else is ever asked.
[[tool.pdm.source]]
name = "pypi"
url = "{url}"
"""


def test_pdm_locks_and_installs(index_url: str, tmp_path: Path) -> None:
    pdm = _tool("pdm")
    project = tmp_path / "consumer"
    project.mkdir()
    (project / "pyproject.toml").write_text(PDM_PROJECT.format(url=index_url))
    env = _env(
        tmp_path,
        PDM_HOME=str(tmp_path / "pdm-home"),
        PDM_CACHE_DIR=str(tmp_path / "pdm-cache"),
        PDM_CHECK_UPDATE="false",
        PDM_IGNORE_SAVED_PYTHON="1",
        PDM_PYTHON=_base_python(),
        PDM_NON_INTERACTIVE="1",
    )
    _check(run([pdm, "lock", "--static-urls"], env, cwd=project), "pdm lock")
    lock = (project / "pdm.lock").read_text()
    assert "pypi.org" not in lock and "files.pythonhosted.org" not in lock
    assert index_url.removesuffix("simple/") in lock  # file URLs point at the private index
    _check(run([pdm, "install", "--frozen-lockfile"], env, cwd=project), "pdm install")
    installed = _installed(project, env)
    assert installed["app"] == "1.0"
    assert installed["Lib.Core"] == "1.0"
    assert installed["yankee"] == "1.0"
