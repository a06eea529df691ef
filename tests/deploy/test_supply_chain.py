"""The shipped pipeline and docs pin what they run and grant only what each identity needs:
builder images by version, no `latest` anywhere, hash-locked installs, the image deployed by
digest, and IAM bindings narrowed per identity (docs/deploy.md), publishers held to the upload
prefix by an IAM condition."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import K8S, REPO

CLOUDBUILD = REPO / "cloudbuild.yaml"
DEPLOY_DOC = REPO / "docs" / "deploy.md"
EXAMPLES = sorted((REPO / "examples").glob("cloudbuild-*.yaml"))
PINNED_FILES = [CLOUDBUILD, *EXAMPLES, REPO / "nginx" / "Dockerfile", *sorted(K8S.rglob("*.yaml"))]
VERSION_TAG = re.compile(r":v?\d+(\.\d+)+[\w.-]*(@sha256:[0-9a-f]{64})?$")
# roles no identity of the index needs, anywhere
FORBIDDEN_ROLES = {
    "roles/owner",
    "roles/editor",
    "roles/run.admin",
    "roles/eventarc.admin",
    "roles/container.developer",
    "roles/container.admin",
    "roles/cloudfunctions.admin",
    "roles/storage.admin",
    "roles/storage.objectAdmin",
    "roles/iam.serviceAccountAdmin",
}


def _steps(path: Path) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = yaml.safe_load(path.read_text())["steps"]
    return steps


@pytest.mark.parametrize("path", PINNED_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_nothing_floats_on_latest(path: Path) -> None:
    text = re.sub(r"(?m)#.*$", "", path.read_text())
    assert not re.search(r":latest\b|newTag:\s*['\"]?latest", text), path


@pytest.mark.parametrize("path", [CLOUDBUILD, *EXAMPLES], ids=lambda p: p.name)
def test_builder_images_are_pinned_by_version(path: Path) -> None:
    unpinned = [s["name"] for s in _steps(path) if not VERSION_TAG.search(s["name"])]
    assert unpinned == []


def _scripts(path: Path) -> str:
    return "\n".join(" ".join(map(str, step.get("args", []))) for step in _steps(path))


def test_the_pipeline_installs_only_hash_locked_packages() -> None:
    installs = re.findall(r"pip install[^\n;&|]*", _scripts(CLOUDBUILD))
    assert installs
    for command in installs:
        assert "--require-hashes" in command, command
        assert "-r function/requirements.txt" in command, command
        assert not re.search(r"\s\.(\[|\s|$)|'\.\[", command), f"installs the checkout: {command}"


def test_the_cluster_runs_the_image_by_the_digest_the_build_pushed() -> None:
    [step] = [s for s in _steps(CLOUDBUILD) if s["id"] == "deploy-k8s"]
    script = step["args"][-1]
    assert "image_summary.digest" in script
    assert "image=${_REGION}-docker.pkg.dev/${PROJECT_ID}/${_REPOSITORY}/pypapo-nginx" in script
    assert '"nginx=$$image@$${digest}"' in script


# --- IAM in docs/deploy.md ---------------------------------------------------------------------


def _commands() -> list[list[str]]:
    """Every gcloud command in docs/deploy.md's sh blocks, continuation lines joined."""
    blocks = re.findall(r"```sh\n(.*?)```", DEPLOY_DOC.read_text(), flags=re.DOTALL)
    text = "\n".join(blocks).replace("\\\n", " ")
    return [
        shlex.split(line.strip(), comments=True)
        for line in text.splitlines()
        if line.strip().startswith("gcloud ")
    ]


def _bindings() -> list[dict[str, str]]:
    found = []
    for command in _commands():
        if "add-iam-policy-binding" in command:
            flags = dict(a[2:].split("=", 1) for a in command if a.startswith("--") and "=" in a)
            found.append({"on": " ".join(command[1:4]), **flags})
    return found


def test_docs_grant_no_broad_role() -> None:
    bindings = _bindings()
    assert len(bindings) >= 10
    assert [b for b in bindings if not re.fullmatch(r"roles/[\w.]+", b.get("role", ""))] == []
    assert [b for b in bindings if b.get("role") in FORBIDDEN_ROLES] == []


def test_every_granted_role_is_in_the_docs_table() -> None:
    table = DEPLOY_DOC.read_text().split("## 3.", 1)[1].split("```", 1)[0]
    for binding in _bindings():
        assert f"`{binding['role']}`" in table, binding


def test_publishers_may_create_only_under_the_upload_prefix() -> None:
    [publishers] = [b for b in _bindings() if "PUBLISHERS_GROUP" in b.get("member", "")]
    assert publishers["role"] == "roles/storage.objectCreator"
    condition = publishers["condition"]
    assert 'resource.name.startsWith("projects/_/buckets/$BUCKET/objects/packages/")' in condition
    assert "title=" in condition


def test_the_build_account_holds_nothing_project_wide_beyond_deploying() -> None:
    build = [b for b in _bindings() if "$CB" in b.get("member", "")]
    project_wide = {b["role"] for b in build if b["on"].startswith("projects add-iam")}
    assert project_wide <= {
        "roles/cloudfunctions.developer",  # create and update the function
        "roles/eventarc.developer",  # create and update its two extra triggers
        "roles/container.clusterViewer",  # fetch cluster credentials; RBAC does the rest
        "roles/logging.logWriter",  # the build's own logs
    }, project_wide
