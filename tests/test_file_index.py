"""The built tree is a complete index with no server at all: pip and uv install from a file://
copy of it (full, and partial with pruned pages), which no server serves and nothing rewrote."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.requirements import Requirement

from pypapo.build import build
from pypapo.mirror import mirror
from pypapo.storage.local import LocalStorage
from tests.support.installs import copy_venv, install, installed, make_corpus
from tests.support.tools import client_env, require_tool, run

pytestmark = pytest.mark.e2e
CLIENTS = ["pip", "uv"]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("built")
    make_corpus(root)
    build(LocalStorage(root))
    return root


@pytest.fixture(scope="module")
def file_index(built: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    # a copy somewhere else, as a build step would have it: relative links need no rewriting
    copy = tmp_path_factory.mktemp("copy") / "index with space"
    assert mirror(LocalStorage(built), copy).problems == []
    return copy


@pytest.fixture(scope="module")
def partial_index(built: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("partial") / "index"
    report = mirror(LocalStorage(built), copy, [Requirement("app"), Requirement("yankee==2.0")])
    assert report.problems == []
    return copy


@pytest.mark.parametrize("client", CLIENTS)
def test_install_from_file_url(
    client: str, file_index: Path, fresh_venv_factory: Path, tmp_path: Path
) -> None:
    python = copy_venv(fresh_venv_factory, tmp_path / "venv")
    url = file_index.resolve().as_uri()
    install(client, python, url, ["app", "py-limits", "yankee"], tmp_path)
    assert installed(python, "app", tmp_path) == "1.0"
    assert installed(python, "lib-core", tmp_path) == "1.0"  # through the dependency
    assert installed(python, "py-limits", tmp_path) == "1.0"  # 2.0 needs Python >= 4
    assert installed(python, "yankee", tmp_path) == "1.0"  # 2.0 is yanked


def test_copied_pages_are_byte_identical(built: Path, file_index: Path) -> None:
    pages = sorted((built / "simple").rglob("index.*"))
    assert len(pages) == 2 + 2 * 5
    for page in pages:
        assert (file_index / page.relative_to(built)).read_bytes() == page.read_bytes()
    assert not list(file_index.rglob(".state.json"))


@pytest.mark.parametrize("client", CLIENTS)
def test_install_from_partial_copy(
    client: str, partial_index: Path, fresh_venv_factory: Path, tmp_path: Path
) -> None:
    python = copy_venv(fresh_venv_factory, tmp_path / "venv")
    url = partial_index.resolve().as_uri()
    install(client, python, url, ["app", "yankee==2.0"], tmp_path)
    assert installed(python, "lib-core", tmp_path) == "1.0"
    assert installed(python, "yankee", tmp_path) == "2.0"  # pinned: a yanked file is copied
    # the pruned pages list only what was copied: an installer finds nothing else, and says so
    cmd = {
        "pip": [str(python), "-m", "pip", "install", "--isolated", "--no-cache-dir"],
        "uv": [require_tool("uv"), "pip", "install", "--python", str(python), "--no-cache"],
    }[client]
    out = run([*cmd, "--index-url", f"{url}/simple/", "py-limits"],
              client_env(tmp_path))  # fmt: skip
    assert out.returncode != 0
    assert "py-limits" in out.stdout + out.stderr
