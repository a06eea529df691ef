"""What each install pulls: a lean core, extras per command, one list for the function."""

from __future__ import annotations

import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

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


@dataclass(frozen=True)
class Pin:
    name: NormalizedName
    version: Version
    hashes: tuple[str, ...]
    direct: bool  # required by pyproject.toml itself, not only by another pin


def _locked(text: str) -> dict[NormalizedName, Pin]:
    """The pins of a ``uv pip compile --generate-hashes`` file, by name."""
    pins: dict[NormalizedName, Pin] = {}
    for block in re.split(r"\n(?=\S)", text):
        if block.startswith("#"):
            continue
        head = re.match(r"([A-Za-z0-9._-]+)==(\S+)", block)
        assert head is not None, f"not pinned with ==: {block[:80]!r}"
        name = canonicalize_name(head.group(1))
        hashes = tuple(re.findall(r"--hash=sha256:([0-9a-f]{64})", block))
        pins[name] = Pin(name, Version(head.group(2)), hashes, "pypapo (pyproject.toml)" in block)
    return pins


def _function_inputs() -> dict[NormalizedName, Requirement]:
    """pyproject's core dependencies and the function extra, by name (self-references expanded)."""
    specs = set(PYPROJECT["dependencies"]) | _expand(PYPROJECT["optional-dependencies"]["function"])
    return {canonicalize_name(r.name): r for r in map(Requirement, specs)}


def test_the_functions_requirements_are_the_core_and_the_function_extra_hash_locked() -> None:
    """function/requirements.txt is scripts/lock-function.sh's output for today's pyproject: the
    packages pyproject names directly are exactly its core and function extra, each pin meets
    pyproject's specifier, and every package (dependencies of dependencies too) carries hashes,
    so pip's --require-hashes installs nothing else."""
    text = (REPO / "function" / "requirements.txt").read_text()
    assert "#    bash scripts/lock-function.sh" in text
    pins, inputs = _locked(text), _function_inputs()
    assert {name for name, pin in pins.items() if pin.direct} == set(inputs)
    for name, requirement in inputs.items():
        assert requirement.specifier.contains(pins[name].version, prereleases=True), name
    assert [name for name, pin in pins.items() if not pin.hashes] == []


def test_the_lock_check_sees_a_dependency_pyproject_dropped() -> None:
    text = (REPO / "function" / "requirements.txt").read_text()
    stale = _locked(text.replace("# via pypapo (pyproject.toml)", "# via nothing", 1))
    assert {name for name, pin in stale.items() if pin.direct} != set(_function_inputs())


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
