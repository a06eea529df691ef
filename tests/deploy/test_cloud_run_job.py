"""deploy/cloud-run-job.yaml and deploy/Dockerfile: the sharded full build as a Cloud Run Job,
pinned (image by digest, base by version, packages by hash), non-root, as its own service account
whose only grant is the bucket's objects."""

from __future__ import annotations

import re
from typing import Any

from tests.deploy.conftest import REPO, load_documents

JOB = REPO / "deploy" / "cloud-run-job.yaml"
DOCKERFILE = REPO / "deploy" / "Dockerfile"
DEPLOY_DOC = REPO / "docs" / "deploy.md"
PLACEHOLDERS = ("REGION", "PROJECT_ID", "BUCKET", "JOB_IMAGE_DIGEST")


def _job() -> dict[str, Any]:
    [job] = load_documents(JOB)
    return job


def _task() -> dict[str, Any]:
    spec: dict[str, Any] = _job()["spec"]["template"]["spec"]["template"]["spec"]
    return spec


def test_the_job_runs_pypapo_build_on_the_bucket_in_parallel_tasks() -> None:
    job = _job()
    assert (job["apiVersion"], job["kind"]) == ("run.googleapis.com/v1", "Job")
    execution = job["spec"]["template"]["spec"]
    # every task runs at once: a shard waits for nothing, and the root pages settle by CAS
    assert execution["taskCount"] == execution["parallelism"] > 1
    [container] = _task()["containers"]
    assert container["args"] == ["build", "gs://${BUCKET}"]
    assert _task()["maxRetries"] >= 1  # a build is idempotent: a failed task is run again


def test_the_image_is_pinned_by_digest() -> None:
    [container] = _task()["containers"]
    image = container["image"]
    assert image.endswith("@${JOB_IMAGE_DIGEST}"), image
    assert image.startswith("${REGION}-docker.pkg.dev/${PROJECT_ID}/pypapo/")


def test_the_job_runs_as_its_own_account_granted_only_the_buckets_objects() -> None:
    assert _task()["serviceAccountName"] == "pypapo-job@${PROJECT_ID}.iam.gserviceaccount.com"
    grants = re.findall(
        r'--member="serviceAccount:\$\(SA pypapo-job\)" --role=(\S+)', DEPLOY_DOC.read_text()
    )
    assert grants == ["roles/storage.objectUser"]
    assert (
        'add-iam-policy-binding "gs://$BUCKET" \\\n  --member="serviceAccount:$(SA pypapo-job)"'
        in (DEPLOY_DOC.read_text())
    )


def test_every_placeholder_is_one_the_docs_substitute() -> None:
    found = set(re.findall(r"\$\{(\w+)\}", JOB.read_text().split("apiVersion", 1)[1]))
    assert found == set(PLACEHOLDERS)
    assert "envsubst '" + " ".join(f"${{{p}}}" for p in PLACEHOLDERS) + "'" in (
        DEPLOY_DOC.read_text()
    )


def test_the_image_installs_only_hash_locked_packages_and_runs_as_non_root() -> None:
    text = DOCKERFILE.read_text()
    [base] = re.findall(r"^FROM (\S+)$", text, re.MULTILINE)
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+", base), base  # a release, not a tag
    assert "--require-hashes" in text and "-r /opt/pypapo/requirements.txt" in text
    [user] = re.findall(r"^USER (\S+)$", text, re.MULTILINE)
    assert not user.startswith(("0", "root"))
