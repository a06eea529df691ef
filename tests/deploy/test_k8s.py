"""k8s/: strict schema validation, one namespace, the restricted Pod Security Standard, the GCS
FUSE volume, Workload Identity, port-forward-only RBAC and the network policy."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import kubernetes_validate
import pytest

from tests.deploy.conftest import (
    BASE,
    K8S,
    NAMESPACE,
    OVERLAY,
    Manifest,
    base_manifests,
    kustomize,
    load_documents,
    only,
)
from tests.deploy.pss import restricted_violations

# the oldest and the newest minor GKE offers around this release, both shipped in the package
K8S_VERSIONS = ["1.32", "1.35"]
BASE_FILES = sorted(p.name for p in BASE.glob("*.yaml") if p.name != "kustomization.yaml")


def _named(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    [found] = [m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name]
    return found


def _pod(manifests: list[Manifest]) -> Manifest:
    template: Manifest = only(manifests, "Deployment")["spec"]["template"]
    return template


# --- schemas -----------------------------------------------------------------------------------


def test_base_kustomization_lists_every_manifest_and_nothing_else() -> None:
    kustomization = load_documents(BASE / "kustomization.yaml")[0]
    assert kustomization["kind"] == "Kustomization"
    assert sorted(kustomization["resources"]) == BASE_FILES
    assert all((BASE / name).is_file() for name in kustomization["resources"])


def test_overlay_builds_on_the_base() -> None:
    kustomization = load_documents(OVERLAY / "kustomization.yaml")[0]
    assert kustomization["resources"] == ["../../base"]
    for resource in kustomization["resources"]:
        assert (OVERLAY / resource / "kustomization.yaml").is_file()


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("name", BASE_FILES)
def test_base_files_validate_strictly(name: str, version: str) -> None:
    for doc in load_documents(BASE / name):
        kubernetes_validate.validate(doc, version, strict=True)


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_rendered_overlay_validates_strictly(rendered: list[Manifest], version: str) -> None:
    for doc in rendered:
        kubernetes_validate.validate(doc, version, strict=True)


def test_strict_validation_rejects_an_unknown_field() -> None:
    """The validator really is strict: a misspelt field in the Deployment fails."""
    deployment = copy.deepcopy(only([d for _, d in base_manifests()], "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSIONS[-1], strict=True)


def test_rendered_objects_are_exactly_the_base_objects(rendered: list[Manifest]) -> None:
    """The overlay's values ConfigMap is local-config: only the base's objects reach the cluster."""
    assert sorted((m["kind"], m["metadata"]["name"]) for m in rendered) == sorted(
        (d["kind"], d["metadata"]["name"]) for _, d in base_manifests()
    )


# --- namespace ---------------------------------------------------------------------------------


def test_namespace_enforces_restricted() -> None:
    namespace = only([d for _, d in base_manifests()], "Namespace")
    assert namespace["metadata"]["name"] == NAMESPACE
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


@pytest.mark.parametrize("source", ["base", "rendered"])
def test_every_object_names_the_namespace(rendered: list[Manifest], source: str) -> None:
    manifests = [d for _, d in base_manifests()] if source == "base" else rendered
    assert manifests
    for manifest in manifests:
        metadata = manifest["metadata"]
        if manifest["kind"] == "Namespace":
            assert "namespace" not in metadata
        else:
            assert metadata.get("namespace") == NAMESPACE, (manifest["kind"], metadata["name"])


def test_overlay_generated_objects_name_the_namespace_too() -> None:
    kustomization = load_documents(OVERLAY / "kustomization.yaml")[0]
    for generator in kustomization.get("configMapGenerator", []):
        assert generator["namespace"] == NAMESPACE


# --- per-installation values -------------------------------------------------------------------


def test_installation_values_live_only_in_the_overlay(rendered: list[Manifest]) -> None:
    placeholders = {"BUCKET_NAME", "GSA_EMAIL", "USERS_GROUP", "BUILD_SA_EMAIL"}
    base_text = "".join((BASE / name).read_text() for name in BASE_FILES)
    assert all(p in base_text for p in placeholders)
    rendered_text = repr(rendered)
    assert not [p for p in placeholders if p in rendered_text]
    pod = _pod(rendered)
    [index] = [v for v in pod["spec"]["volumes"] if v["name"] == "index"]
    assert index["csi"]["volumeAttributes"]["bucketName"] == "my-project-pypapo"
    sa = only(rendered, "ServiceAccount")
    assert sa["metadata"]["annotations"]["iam.gke.io/gcp-service-account"] == (
        "pypapo-reader@my-project.iam.gserviceaccount.com"
    )
    assert _named(rendered, "RoleBinding", "pypapo-users")["subjects"][0]["name"] == (
        "pypapo-users@example.com"
    )
    assert _named(rendered, "RoleBinding", "pypapo-build")["subjects"][0]["name"] == (
        "pypapo-build@my-project.iam.gserviceaccount.com"
    )
    [container] = pod["spec"]["containers"]
    assert "-docker.pkg.dev/my-project/pypapo/pypapo-nginx" in container["image"]


# --- the restricted Pod Security Standard ------------------------------------------------------


@pytest.mark.parametrize("source", ["base", "rendered"])
def test_pod_meets_the_restricted_standard(rendered: list[Manifest], source: str) -> None:
    manifests = [d for _, d in base_manifests()] if source == "base" else rendered
    assert restricted_violations(_pod(manifests)["spec"]) == []


def _set(path: str, value: Any) -> Callable[[Manifest], None]:
    """A mutation that sets a dotted path (list items by index) in a PodSpec."""

    def mutate(spec: Manifest) -> None:
        *parents, last = path.split(".")
        node: Any = spec
        for part in parents:
            node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
        node[int(last) if last.isdigit() else last] = value

    return mutate


def _drop(path: str) -> Callable[[Manifest], None]:
    def mutate(spec: Manifest) -> None:
        *parents, last = path.split(".")
        node: Any = spec
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        del node[last]

    return mutate


MUTATIONS: list[tuple[str, Callable[[Manifest], None], str]] = [
    ("host network", _set("hostNetwork", True), "spec.hostNetwork"),
    ("host PID", _set("hostPID", True), "spec.hostPID"),
    ("privileged", _set("containers.0.securityContext.privileged", True), "privileged"),
    (
        "added capability",
        _set("containers.0.securityContext.capabilities.add", ["NET_ADMIN"]),
        "capabilities.add",
    ),
    ("no drop ALL", _drop("containers.0.securityContext.capabilities"), "drop must include ALL"),
    (
        "privilege escalation unset",
        _drop("containers.0.securityContext.allowPrivilegeEscalation"),
        "allowPrivilegeEscalation",
    ),
    ("root user", _set("containers.0.securityContext.runAsUser", 0), "runAsUser must not be 0"),
    (
        "runAsNonRoot false",
        _set("containers.0.securityContext.runAsNonRoot", False),
        "runAsNonRoot",
    ),
    (
        "unconfined seccomp",
        _set("containers.0.securityContext.seccompProfile", {"type": "Unconfined"}),
        "seccompProfile",
    ),
    ("host path", _set("volumes.0", {"name": "h", "hostPath": {"path": "/"}}), "hostPath"),
    ("host port", _set("containers.0.ports.0.hostPort", 3333), "hostPort"),
    (
        "unsafe sysctl",
        _set("securityContext.sysctls", [{"name": "kernel.msgmax", "value": "1"}]),
        "sysctls",
    ),
    ("proc mount", _set("containers.0.securityContext.procMount", "Unmasked"), "procMount"),
    (
        "SELinux user",
        _set("securityContext.seLinuxOptions", {"user": "system_u"}),
        "seLinuxOptions.user",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "expected"), [m[1:] for m in MUTATIONS], ids=[m[0] for m in MUTATIONS]
)
def test_restricted_check_catches(mutate: Callable[[Manifest], None], expected: str) -> None:
    """Each check of the standard fails on a pod spec that breaks it (and only then)."""
    spec = copy.deepcopy(_pod([d for _, d in base_manifests()])["spec"])
    mutate(spec)
    problems = restricted_violations(spec)
    assert any(expected in p for p in problems), problems


def test_pod_hardening_beyond_the_standard() -> None:
    pod = _pod([d for _, d in base_manifests()])
    spec = pod["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == 101
    [container] = spec["containers"]
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    for kind in ("requests", "limits"):
        assert set(container["resources"][kind]) == {"cpu", "memory"}
    assert container["ports"] == [{"name": "http", "containerPort": 3333, "protocol": "TCP"}]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["index"] == {"name": "index", "mountPath": "/srv/pypapo", "readOnly": True}
    assert mounts["nginx-tmp"]["mountPath"] == "/tmp/nginx"  # noqa: S108
    [tmp] = [v for v in spec["volumes"] if v["name"] == "nginx-tmp"]
    assert "emptyDir" in tmp


# --- the Cloud Storage FUSE volume -------------------------------------------------------------


def test_bucket_is_mounted_read_only_with_short_metadata_caches() -> None:
    pod = _pod([d for _, d in base_manifests()])
    assert pod["metadata"]["annotations"]["gke-gcsfuse/volumes"] == "true"
    [index] = [v for v in pod["spec"]["volumes"] if v["name"] == "index"]
    csi = index["csi"]
    assert csi["driver"] == "gcsfuse.csi.storage.gke.io"
    assert csi["readOnly"] is True
    options = dict(
        (o.rsplit(":", 1) if o.startswith(("metadata-cache:", "file-cache:")) else (o, ""))
        for o in csi["volumeAttributes"]["mountOptions"].split(",")
    )
    assert "implicit-dirs" in options  # pages are written without directory placeholder objects
    assert options["metadata-cache:negative-ttl-secs"] == "0"  # a new page is seen at once
    assert 0 <= int(options["metadata-cache:ttl-secs"]) <= 5  # a replaced page within seconds
    assert csi["volumeAttributes"].get("fileCacheCapacity", "0") == "0"  # no stale file cache


# --- access: Workload Identity, RBAC, Service, NetworkPolicy -----------------------------------


def test_service_account_uses_workload_identity() -> None:
    manifests = [d for _, d in base_manifests()]
    sa = only(manifests, "ServiceAccount")
    assert "iam.gke.io/gcp-service-account" in sa["metadata"]["annotations"]
    assert _pod(manifests)["spec"]["serviceAccountName"] == sa["metadata"]["name"]


def test_role_grants_exactly_port_forward() -> None:
    manifests = [d for _, d in base_manifests()]
    role = _named(manifests, "Role", "pypapo-port-forward")
    granted = {
        (group, resource, verb, tuple(rule.get("resourceNames", ())))
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    assert granted == {
        ("", "services", "get", ("pypapo",)),
        ("", "pods", "get", ()),
        ("", "pods", "list", ()),
        ("", "pods/portforward", "create", ()),
    }
    assert not [m for m in manifests if m["kind"] in {"ClusterRole", "ClusterRoleBinding"}]


def test_the_build_may_only_roll_the_deployments_image() -> None:
    """Cloud Build changes the image of the one Deployment and watches the rollout; the
    manifests themselves (RBAC, NetworkPolicy) are applied by an operator, never by CI."""
    manifests = [d for _, d in base_manifests()]
    role = _named(manifests, "Role", "pypapo-deployer")
    granted = {
        (resource, verb, tuple(rule.get("resourceNames", ())))
        for rule in role["rules"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    assert granted == {
        ("deployments", "get", ("pypapo",)),
        ("deployments", "patch", ("pypapo",)),
        ("deployments", "list", ()),
        ("deployments", "watch", ()),
        ("replicasets", "get", ()),
        ("replicasets", "list", ()),
        ("replicasets", "watch", ()),
    }
    binding = _named(manifests, "RoleBinding", "pypapo-build")
    assert binding["roleRef"]["name"] == "pypapo-deployer"
    [subject] = binding["subjects"]
    assert (subject["kind"], subject["name"]) == ("User", "BUILD_SA_EMAIL")


def test_role_binding_names_one_google_group() -> None:
    manifests = [d for _, d in base_manifests()]
    binding = _named(manifests, "RoleBinding", "pypapo-users")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "pypapo-port-forward",
    }
    [subject] = binding["subjects"]
    assert subject["kind"] == "Group"
    assert subject["apiGroup"] == "rbac.authorization.k8s.io"


def test_service_is_cluster_ip_on_3333_to_the_pods() -> None:
    manifests = [d for _, d in base_manifests()]
    service = only(manifests, "Service")
    assert service["metadata"]["name"] == "pypapo"  # kubectl port-forward svc/pypapo
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 3333, "targetPort": "http", "protocol": "TCP"}
    ]
    pod_labels = _pod(manifests)["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()


def open_ingress(policy: Manifest) -> list[str]:
    """Why a NetworkPolicy admits traffic from every source (empty when it does not).

    A rule without ``from`` (or with an empty ``from``) admits every source; so does a peer that
    is empty, selects every namespace (``namespaceSelector: {}`` without a ``podSelector``
    narrowing it), or whose ``ipBlock`` is a default route.
    """
    problems = []
    for number, rule in enumerate(policy["spec"].get("ingress") or []):
        peers = rule.get("from")
        if not peers:
            problems.append(f"ingress rule {number} has no 'from': every source")
        for peer in peers or []:
            if not peer or (peer.get("namespaceSelector") == {} and not peer.get("podSelector")):
                problems.append(f"ingress rule {number}: peer {peer!r} selects every namespace")
            cidr = (peer.get("ipBlock") or {}).get("cidr", "")
            if cidr.endswith("/0"):
                problems.append(f"ingress rule {number}: ipBlock {cidr} is every address")
    return problems


def _policies() -> list[tuple[str, Manifest]]:
    """Every NetworkPolicy of the base and of every overlay, rendered as kustomize renders it."""
    found = [("base", d) for _, d in base_manifests() if d["kind"] == "NetworkPolicy"]
    for overlay in sorted((K8S / "overlays").iterdir()):
        found += [(overlay.name, d) for d in kustomize(overlay) if d["kind"] == "NetworkPolicy"]
    return found


def test_ingress_is_denied_by_default() -> None:
    """Port-forward does not pass through NetworkPolicy; nothing else may reach the pod."""
    manifests = [d for _, d in base_manifests()]
    policy = only(manifests, "NetworkPolicy")
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    assert policy["spec"].get("ingress", []) == []
    pod_labels = _pod(manifests)["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= pod_labels.items()


@pytest.mark.parametrize(("source", "policy"), _policies(), ids=lambda v: str(v)[:20])
def test_no_policy_admits_every_source(source: str, policy: Manifest) -> None:
    assert source
    assert open_ingress(policy) == []


OPEN_RULES: list[tuple[str, Manifest]] = [
    ("ports only", {"ports": [{"port": 3333, "protocol": "TCP"}]}),
    ("empty rule", {}),
    ("empty from", {"from": []}),
    ("empty peer", {"from": [{}]}),
    ("every namespace", {"from": [{"namespaceSelector": {}}]}),
    ("every namespace, every pod", {"from": [{"namespaceSelector": {}, "podSelector": {}}]}),
    ("every IPv4 address", {"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}),
    ("every IPv6 address", {"from": [{"ipBlock": {"cidr": "::/0"}}]}),
]


@pytest.mark.parametrize("rule", [r[1] for r in OPEN_RULES], ids=[r[0] for r in OPEN_RULES])
def test_the_check_catches_every_open_rule(rule: Manifest) -> None:
    policy = copy.deepcopy(only([d for _, d in base_manifests()], "NetworkPolicy"))
    policy["spec"]["ingress"] = [rule]
    assert open_ingress(policy)


def test_the_check_accepts_a_named_namespace() -> None:
    """What docs/deploy.md shows for opening the pod to one namespace passes."""
    policy = copy.deepcopy(only([d for _, d in base_manifests()], "NetworkPolicy"))
    peer = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ci"}}}
    policy["spec"]["ingress"] = [{"from": [peer], "ports": [{"port": 3333, "protocol": "TCP"}]}]
    assert open_ingress(policy) == []


def test_no_service_account_token_is_mounted() -> None:
    """The pod calls no Kubernetes API; the FUSE driver gets its token from the kubelet."""
    manifests = [d for _, d in base_manifests()]
    assert _pod(manifests)["spec"]["automountServiceAccountToken"] is False
    assert only(manifests, "ServiceAccount")["automountServiceAccountToken"] is False


def test_no_other_k8s_files_lie_around() -> None:
    """Everything under k8s/ is either the base or an overlay that kustomize can build."""
    for path in K8S.rglob("*"):
        if path.is_file():
            assert path.suffix == ".yaml", path
            assert path.parent in {BASE} or path.parent.parent == K8S / "overlays", path
