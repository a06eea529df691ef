"""Deployment artefacts, validated offline: Kubernetes manifests against the API schemas and the
restricted Pod Security Standard, Cloud Build config against its schema, the Dockerfile with
hadolint, the NGINX config with `nginx -t` and gixy, and the image against the manifests."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import require_tool

REPO = Path(__file__).resolve().parent.parent
K8S_VERSION = "1.31"


def _tool(name: str) -> str:
    return require_tool(name)


@pytest.fixture(scope="module")
def manifests() -> list[dict[str, Any]]:
    out = subprocess.run(
        [_tool("kubectl"), "kustomize", str(REPO / "k8s" / "overlays" / "example")],
        capture_output=True,
        text=True,
        check=True,
    )
    docs = [d for d in yaml.safe_load_all(out.stdout) if d]
    assert len(docs) >= 8
    return docs


def _one(manifests: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    [found] = [m for m in manifests if m["kind"] == kind]
    return found


def test_manifests_validate_strictly(manifests: list[dict[str, Any]]) -> None:
    import kubernetes_validate  # noqa: PLC0415

    for manifest in manifests:
        kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)


def test_everything_lives_in_the_pypapo_namespace(manifests: list[dict[str, Any]]) -> None:
    for manifest in manifests:
        if manifest["kind"] == "Namespace":
            assert manifest["metadata"]["name"] == "pypapo"
            labels = manifest["metadata"]["labels"]
            assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
        else:
            assert manifest["metadata"]["namespace"] == "pypapo", manifest["metadata"]["name"]


def test_installation_values_are_substituted(manifests: list[dict[str, Any]]) -> None:
    text = yaml.safe_dump_all(manifests)
    for placeholder in ("BUCKET_NAME", "GSA_EMAIL", "USERS_GROUP"):
        assert placeholder not in text
    volume = _one(manifests, "Deployment")["spec"]["template"]["spec"]["volumes"][0]
    assert volume["csi"]["volumeAttributes"]["bucketName"] == "my-project-pypapo"


def test_pod_meets_restricted_standard(manifests: list[dict[str, Any]]) -> None:
    pod = _one(manifests, "Deployment")["spec"]["template"]
    spec = pod["spec"]
    assert pod["metadata"]["annotations"]["gke-gcsfuse/volumes"] == "true"
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert not spec.get("hostNetwork") and not spec.get("hostPID") and not spec.get("hostIPC")
    for volume in spec["volumes"]:  # restricted allows only these volume types
        assert set(volume) - {"name"} <= {
            "csi",
            "emptyDir",
            "configMap",
            "secret",
            "projected",
            "downwardAPI",
            "persistentVolumeClaim",
            "ephemeral",
        }
    for container in spec["containers"]:
        sc = container["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["runAsNonRoot"] is True
        assert sc.get("privileged", False) is False
        assert sc["capabilities"]["drop"] == ["ALL"]
        assert not sc["capabilities"].get("add")
        assert sc.get("runAsUser", spec["securityContext"]["runAsUser"]) != 0
        assert not any(p.get("hostPort") for p in container["ports"])
        assert container["ports"] == [{"name": "http", "containerPort": 3333, "protocol": "TCP"}]
        assert container["resources"]["limits"] and container["resources"]["requests"]
        for probe in ("readinessProbe", "livenessProbe"):
            assert container[probe]["httpGet"]["path"] == "/healthz"
    index = next(v for v in spec["volumes"] if v["name"] == "index")
    assert index["csi"]["driver"] == "gcsfuse.csi.storage.gke.io"
    assert index["csi"]["readOnly"] is True
    options = index["csi"]["volumeAttributes"]["mountOptions"].split(",")
    assert "metadata-cache:negative-ttl-secs:0" in options
    assert "metadata-cache:ttl-secs:1" in options


def test_access_is_iam_and_port_forward_only(manifests: list[dict[str, Any]]) -> None:
    sa = _one(manifests, "ServiceAccount")
    assert sa["metadata"]["annotations"]["iam.gke.io/gcp-service-account"].endswith(
        ".iam.gserviceaccount.com"
    )
    role = _one(manifests, "Role")
    granted = {(r, v) for rule in role["rules"] for r in rule["resources"] for v in rule["verbs"]}
    assert granted == {
        ("services", "get"),
        ("pods", "get"),
        ("pods", "list"),
        ("pods/portforward", "create"),
    }
    binding = _one(manifests, "RoleBinding")
    assert [s["kind"] for s in binding["subjects"]] == ["Group"]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    service = _one(manifests, "Service")
    assert service["spec"]["type"] == "ClusterIP"
    policy = _one(manifests, "NetworkPolicy")
    assert policy["spec"]["ingress"] == [{"ports": [{"port": 3333, "protocol": "TCP"}]}]


@pytest.mark.parametrize("config", ["cloudbuild.yaml"])
def test_cloud_build_config_validates(config: str) -> None:
    result = subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.cloudbuild", str(REPO / config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_cloud_build_shell_variables_are_escaped() -> None:
    """Cloud Build substitutes every $NAME it sees; bash variables must be written $$NAME."""
    config = yaml.safe_load((REPO / "cloudbuild.yaml").read_text())
    known = set(config["substitutions"]) | {"PROJECT_ID", "SHORT_SHA", "BUILD_ID", "LOCATION"}
    text = (REPO / "cloudbuild.yaml").read_text().replace("$$", "")
    used = set(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", text))
    assert used <= known, used - known


def test_cloud_build_deploys_what_the_issue_needs() -> None:
    config = yaml.safe_load((REPO / "cloudbuild.yaml").read_text())
    function = next(s for s in config["steps"] if s["id"] == "function")
    triggers = next(s for s in config["steps"] if s["id"] == "triggers")
    finalized = "--trigger-event-filters=type=google.cloud.storage.object.v1.finalized"
    assert finalized in function["args"]
    assert "for kind in deleted metadataUpdated; do" in triggers["args"][1]
    assert "google.cloud.storage.object.v1.$$kind" in triggers["args"][1]
    assert "--gen2" in function["args"] and "--runtime=python312" in function["args"]
    assert "--retry" in function["args"]
    assert "--entry-point=on_storage_event" in function["args"]
    ids = [s["id"] for s in config["steps"]]
    assert {"image", "push", "function", "triggers", "repair-index", "deploy-k8s"} <= set(ids)


def test_dockerfile_is_hadolint_clean() -> None:
    result = subprocess.run(
        [_tool("hadolint"), str(REPO / "nginx" / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_runs_the_tested_config_where_the_pod_mounts() -> None:
    dockerfile = (REPO / "nginx" / "Dockerfile").read_text()
    assert "COPY nginx/nginx.conf /etc/nginx/nginx.conf" in dockerfile
    assert "COPY nginx/pypapo-page.conf /etc/nginx/pypapo-page.conf" in dockerfile
    assert '"-p", "/tmp/nginx/"' in dockerfile
    conf = (REPO / "nginx" / "nginx.conf").read_text()
    assert "root /srv/pypapo;  # PYPAPO_ROOT" in conf
    assert "listen 3333;  # PYPAPO_LISTEN" in conf
    deployment = yaml.safe_load((REPO / "k8s" / "base" / "deployment.yaml").read_text())
    mounts = {
        m["name"]: m["mountPath"]
        for m in deployment["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    }
    assert mounts == {"index": "/srv/pypapo", "nginx-tmp": "/tmp/nginx"}  # noqa: S108


def test_nginx_t_on_the_config_as_shipped(tmp_path: Path) -> None:
    for name in ("nginx.conf", "pypapo-page.conf"):
        shutil.copy(REPO / "nginx" / name, tmp_path / name)
    result = subprocess.run(
        [_tool("nginx"), "-t", "-p", f"{tmp_path}/", "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "[warn]" not in result.stderr


def test_gixy_finds_nothing() -> None:
    result = subprocess.run(
        [_tool("gixy"), "nginx.conf"],
        cwd=REPO / "nginx",
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "High: 0" in result.stdout and "Medium: 0" in result.stdout
