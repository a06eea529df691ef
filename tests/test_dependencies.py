"""What each install pulls: a lean core, extras per command, one list for the function."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

import pytest

from pypapo.storage import MissingExtraError, open_storage

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def _expand(requirements: list[str]) -> set[str]:
    """Requirements with ``pypapo[...]`` self-references replaced by those extras' lists."""
    result: set[str] = set()
    for req in requirements:
        own = re.fullmatch(r"pypapo\[([a-z,]+)\]", req)
        if own is None:
            result.add(req)
            continue
        for extra in own.group(1).split(","):
            result |= _expand(PYPROJECT["optional-dependencies"][extra])
    return result


def test_the_core_is_what_the_index_needs_and_nothing_more() -> None:
    names = {re.split(r"[<>=\[;]", r)[0] for r in PYPROJECT["dependencies"]}
    assert names == {"packaging", "pkginfo", "jinja2"}


def test_the_functions_requirements_are_the_core_and_the_function_extra() -> None:
    lines = (REPO / "function" / "requirements.txt").read_text().splitlines()
    pinned = {line.strip() for line in lines if line.strip() and not line.startswith("#")}
    expected = set(PYPROJECT["dependencies"]) | _expand(
        PYPROJECT["optional-dependencies"]["function"]
    )
    assert pinned == expected


def test_the_test_extra_holds_every_extra() -> None:
    test = _expand(PYPROJECT["optional-dependencies"]["test"])
    for extra in ("gcs", "function", "serve", "upload"):
        assert _expand(PYPROJECT["optional-dependencies"][extra]) <= test, extra


def test_a_bucket_target_without_the_gcs_extra_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # as in an install without google-cloud-storage: importing the GCS backend fails
    monkeypatch.setitem(sys.modules, "pypapo.storage.gcs", None)
    with pytest.raises(MissingExtraError) as caught:
        open_storage("gs://bucket/prefix")
    assert "pip install 'pypapo[gcs]'" in str(caught.value)
    assert str(caught.value).startswith("gs://bucket/prefix: ")
