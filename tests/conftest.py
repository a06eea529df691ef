"""Shared fixtures: sample distributions, tool discovery, isolated installer environments."""

from __future__ import annotations

import venv
from collections.abc import Iterator
from pathlib import Path

import pytest

from pypapo.sample import SampleProject


@pytest.fixture
def make_project() -> type[SampleProject]:
    return SampleProject


@pytest.fixture(scope="session")
def fresh_venv_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A template venv with pip, copied per test (creating one costs seconds)."""
    template = tmp_path_factory.mktemp("venv-template") / "venv"
    venv.EnvBuilder(with_pip=True, symlinks=True).create(template)
    yield template


pytest_plugins = ["tests.support.gcs_emulator", "tests.support.mirror_source"]

# the fixtures that start a real server: a test using one belongs to the end-to-end tier, so
# that `pytest -m "not e2e"` (the fast tier) runs on folders and in-process code alone
_SERVER_FIXTURES = frozenset({"gcs_emulator", "gcs_bucket", "gcs_storage", "gcs_prefixed_storage"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.e2e)
