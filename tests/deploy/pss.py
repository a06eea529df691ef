"""The Kubernetes "restricted" Pod Security Standard, checked field by field on a pod spec.

Written from the Pod Security Standards page (baseline + restricted, policy version latest): each
check names the field it looked at, so a failing test says what to fix.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

RESTRICTED_VOLUME_TYPES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
ALLOWED_ADDED_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)
SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t"})
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


def _containers(spec: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for key in CONTAINER_LISTS:
        for container in spec.get(key) or []:
            yield f"{key}[{container.get('name')}]", container


def _seccomp_ok(context: Mapping[str, Any] | None) -> bool | None:
    """True: RuntimeDefault/Localhost; False: anything else; None: not set here."""
    profile = (context or {}).get("seccompProfile")
    if profile is None:
        return None
    return profile.get("type") in {"RuntimeDefault", "Localhost"}


def restricted_violations(spec: Mapping[str, Any]) -> list[str]:
    """Every way ``spec`` (a PodSpec) breaks the restricted standard; empty when it complies."""
    pod_sc: Mapping[str, Any] = spec.get("securityContext") or {}
    problems = _pod_problems(spec, pod_sc)
    for where, container in _containers(spec):
        sc: Mapping[str, Any] = container.get("securityContext") or {}
        problems += _container_baseline_problems(where, container, sc)
        problems += _container_restricted_problems(where, sc, pod_sc)
    return problems


def _pod_problems(spec: Mapping[str, Any], pod_sc: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    # baseline: host namespaces, host process, sysctls, SELinux, AppArmor
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            problems.append(f"spec.{field} must be unset or false")
    if (pod_sc.get("windowsOptions") or {}).get("hostProcess"):
        problems.append("spec.securityContext.windowsOptions.hostProcess must not be true")
    for sysctl in pod_sc.get("sysctls") or []:
        if sysctl.get("name") not in SAFE_SYSCTLS:
            problems.append(f"spec.securityContext.sysctls: {sysctl.get('name')!r} is not safe")
    problems += _selinux_problems("spec.securityContext", pod_sc)
    problems += _apparmor_problems("spec.securityContext", pod_sc)
    # restricted: volume types (hostPath among the refused), root user, seccomp
    for volume in spec.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUME_TYPES:
            problems.append(f"volume {volume.get('name')!r}: type {sorted(kinds)} not allowed")
    if pod_sc.get("runAsUser") == 0:
        problems.append("spec.securityContext.runAsUser must not be 0")
    if _seccomp_ok(pod_sc) is False:
        problems.append("spec.securityContext.seccompProfile must be RuntimeDefault or Localhost")
    return problems


def _container_baseline_problems(
    where: str, container: Mapping[str, Any], sc: Mapping[str, Any]
) -> list[str]:
    problems: list[str] = []
    if sc.get("privileged"):
        problems.append(f"{where}.securityContext.privileged must not be true")
    if (sc.get("windowsOptions") or {}).get("hostProcess"):
        problems.append(f"{where}.securityContext.windowsOptions.hostProcess must not be true")
    if sc.get("procMount", "Default") != "Default":
        problems.append(f"{where}.securityContext.procMount must be Default")
    for port in container.get("ports") or []:
        if port.get("hostPort"):
            problems.append(f"{where}.ports: hostPort {port['hostPort']} not allowed")
    problems += _selinux_problems(f"{where}.securityContext", sc)
    problems += _apparmor_problems(f"{where}.securityContext", sc)
    return problems


def _container_restricted_problems(
    where: str, sc: Mapping[str, Any], pod_sc: Mapping[str, Any]
) -> list[str]:
    problems: list[str] = []
    if sc.get("allowPrivilegeEscalation") is not False:
        problems.append(f"{where}.securityContext.allowPrivilegeEscalation must be false")
    if sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is not True:
        problems.append(f"{where}: runAsNonRoot must be true (container or pod)")
    if sc.get("runAsUser") == 0:
        problems.append(f"{where}.securityContext.runAsUser must not be 0")
    seccomp = _seccomp_ok(sc)
    if seccomp is False or (seccomp is None and _seccomp_ok(pod_sc) is not True):
        problems.append(f"{where}: seccompProfile must be RuntimeDefault or Localhost")
    capabilities: Mapping[str, Any] = sc.get("capabilities") or {}
    if "ALL" not in (capabilities.get("drop") or []):
        problems.append(f"{where}.securityContext.capabilities.drop must include ALL")
    added = set(capabilities.get("add") or []) - ALLOWED_ADDED_CAPABILITIES
    if added:
        problems.append(f"{where}.securityContext.capabilities.add: {sorted(added)}")
    return problems


def _selinux_problems(where: str, context: Mapping[str, Any]) -> list[str]:
    options: Mapping[str, Any] = context.get("seLinuxOptions") or {}
    problems = []
    if options.get("type", "") not in SELINUX_TYPES:
        problems.append(f"{where}.seLinuxOptions.type {options['type']!r} not allowed")
    for field in ("user", "role"):
        if options.get(field):
            problems.append(f"{where}.seLinuxOptions.{field} must be unset")
    return problems


def _apparmor_problems(where: str, context: Mapping[str, Any]) -> list[str]:
    profile = context.get("appArmorProfile")
    if profile is not None and profile.get("type") not in {"RuntimeDefault", "Localhost"}:
        return [f"{where}.appArmorProfile must be RuntimeDefault or Localhost"]
    return []
