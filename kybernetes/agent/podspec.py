"""podspec: translate a Pod's spec into the runtime's sandbox and container configs.

Upstream's generatePodSandboxConfig and generateContainerConfig: DNS by dnsPolicy, hostPorts,
cgroup CPU shares and quota from requests and limits, the OOM score by QoS class, and the merged
pod and container security contexts. The result holds no API dictionaries.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

import orjson

from kybernetes.agent.images import ImageInfo
from kybernetes.agent.podstate import (
    CONTAINER_HASH_ANNOTATION,
    CONTAINER_NAME_LABEL,
    CONTAINER_TYPE_LABEL,
    IMAGE_REF_ANNOTATION,
    POD_NAME_LABEL,
    POD_NAMESPACE_LABEL,
    POD_UID_LABEL,
)
from kybernetes.agent.runtime.types import (
    ContainerConfig,
    DNSConfig,
    HostAlias,
    PodSandboxConfig,
    PortMapping,
    Resources,
    Security,
)
from kybernetes.agent.status import qos_class
from kybernetes.api import quantity

Obj = dict[str, Any]

MIN_SHARES = 2
SHARES_PER_CPU = 1024
QUOTA_PERIOD = 100_000
MIN_QUOTA = 1000
GUARANTEED_OOM_SCORE_ADJ = -997
BEST_EFFORT_OOM_SCORE_ADJ = 1000


@dataclass(frozen=True)
class DNSSettings:
    """DNSSettings are the node's cluster DNS parameters (kubelet's --cluster-dns, --cluster-domain)."""

    cluster_dns: tuple[str, ...] = ()
    cluster_domain: str = "cluster.local"


def _d(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def container_hash(container: Obj) -> str:
    """A stable hash of the container's spec: a change means the container must be replaced."""
    return hashlib.sha256(orjson.dumps(container, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def dns_config(pod: Obj, settings: DNSSettings) -> DNSConfig:
    """The pod's resolv.conf by dnsPolicy; an empty config means "copy the node's"."""
    spec = _d(pod.get("spec"))
    namespace = str(_d(pod.get("metadata")).get("namespace") or "default")
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    if policy == "ClusterFirst" and spec.get("hostNetwork"):
        policy = "Default"
    if policy == "ClusterFirstWithHostNet":
        policy = "ClusterFirst"
    servers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    if policy == "ClusterFirst" and settings.cluster_dns:
        domain = settings.cluster_domain
        servers = list(settings.cluster_dns)
        searches = [f"{namespace}.svc.{domain}", f"svc.{domain}", domain]
        options = ["ndots:5"]
    extra = _d(spec.get("dnsConfig"))
    servers += [str(s) for s in _l(extra.get("nameservers"))]
    searches += [str(s) for s in _l(extra.get("searches")) if str(s) not in searches]
    for option in _l(extra.get("options")):
        name = str(_d(option).get("name", ""))
        if not name:
            continue
        value = _d(option).get("value")
        options = [o for o in options if o.split(":")[0] != name]
        options.append(f"{name}:{value}" if value is not None else name)
    return DNSConfig(tuple(servers), tuple(searches), tuple(options))


def sandbox_config(pod: Obj, dns: DNSSettings) -> PodSandboxConfig:
    meta, spec = _d(pod.get("metadata")), _d(pod.get("spec"))
    uid, name, namespace = str(meta.get("uid", "")), str(meta.get("name", "")), str(meta.get("namespace") or "default")
    ports = []
    for container in _l(spec.get("containers")):
        for port in _l(_d(container).get("ports")):
            port = _d(port)
            if port.get("hostPort"):
                ports.append(PortMapping(int(port.get("containerPort", 0)), int(port["hostPort"]),
                                         str(port.get("protocol") or "TCP").lower(), str(port.get("hostIP") or "")))  # type: ignore[arg-type]
    aliases = tuple(HostAlias(str(_d(a).get("ip", "")), tuple(str(h) for h in _l(_d(a).get("hostnames"))))
                    for a in _l(spec.get("hostAliases")))
    labels = {**{str(k): str(v) for k, v in _d(meta.get("labels")).items()},
              POD_UID_LABEL: uid, POD_NAME_LABEL: name, POD_NAMESPACE_LABEL: namespace}
    return PodSandboxConfig(
        uid=uid, name=name, namespace=namespace, hostname=str(spec.get("hostname") or ""),
        subdomain=str(spec.get("subdomain") or ""), cluster_domain=dns.cluster_domain, dns=dns_config(pod, dns),
        port_mappings=tuple(ports), host_aliases=aliases, labels=labels,
        annotations={str(k): str(v) for k, v in _d(meta.get("annotations")).items()},
    )


def _milli(value: Any) -> int:
    try:
        return math.ceil(quantity.parse_quantity(value) * 1000)
    except ValueError:
        return 0


def _bytes(value: Any) -> int:
    try:
        return math.ceil(quantity.parse_quantity(value))
    except ValueError:
        return 0


def container_resources(pod: Obj, container: Obj, memory_capacity: int) -> Resources:
    resources = _d(container.get("resources"))
    requests, limits = _d(resources.get("requests")), _d(resources.get("limits"))
    cpu_request = _milli(requests.get("cpu", limits.get("cpu", 0)))
    shares = max(MIN_SHARES, cpu_request * SHARES_PER_CPU // 1000) if cpu_request else MIN_SHARES
    quota = None
    period = None
    if "cpu" in limits:
        quota = max(MIN_QUOTA, _milli(limits["cpu"]) * QUOTA_PERIOD // 1000)
        period = QUOTA_PERIOD
    memory_limit = _bytes(limits["memory"]) if "memory" in limits else None
    qos = qos_class(pod)
    if qos == "Guaranteed":
        oom = GUARANTEED_OOM_SCORE_ADJ
    elif qos == "BestEffort":
        oom = BEST_EFFORT_OOM_SCORE_ADJ
    else:
        memory_request = _bytes(requests.get("memory", 0))
        oom = 1000 - (1000 * memory_request) // memory_capacity if memory_capacity else 999
        oom = min(max(2, oom), 999)
    return Resources(memory_limit_bytes=memory_limit, cpu_shares=shares, cpu_quota=quota, cpu_period=period,
                     oom_score_adj=oom)


def container_security(pod: Obj, container: Obj) -> Security:
    pod_sc, sc = _d(_d(pod.get("spec")).get("securityContext")), _d(container.get("securityContext"))

    def pick(key: str) -> Any:
        return sc[key] if sc.get(key) is not None else pod_sc.get(key)

    groups = [int(g) for g in _l(pod_sc.get("supplementalGroups"))]
    if pod_sc.get("fsGroup") is not None:
        groups.append(int(pod_sc["fsGroup"]))
    caps = _d(sc.get("capabilities"))
    return Security(
        run_as_user=pick("runAsUser"), run_as_group=pick("runAsGroup"), supplemental_groups=tuple(groups),
        privileged=bool(sc.get("privileged")),
        capabilities_add=tuple(str(c) for c in _l(caps.get("add"))),
        capabilities_drop=tuple(str(c) for c in _l(caps.get("drop"))),
        read_only_root_filesystem=bool(sc.get("readOnlyRootFilesystem")),
        no_new_privileges=sc.get("allowPrivilegeEscalation") is False,
    )


def container_config(pod: Obj, container: Obj, *, image: ImageInfo, env: list[tuple[str, str]], attempt: int,
                     memory_capacity: int, init: bool = False) -> ContainerConfig:
    meta = _d(pod.get("metadata"))
    name = str(container.get("name", ""))
    labels = {POD_UID_LABEL: str(meta.get("uid", "")), POD_NAME_LABEL: str(meta.get("name", "")),
              POD_NAMESPACE_LABEL: str(meta.get("namespace") or "default"), CONTAINER_NAME_LABEL: name,
              CONTAINER_TYPE_LABEL: "init" if init else "regular"}
    annotations = {CONTAINER_HASH_ANNOTATION: container_hash(container), IMAGE_REF_ANNOTATION: image.image_ref}
    policy = container.get("terminationMessagePolicy") or "File"
    return ContainerConfig(
        name=name, lowerdirs=image.lowerdirs, image_config=dict(image.config), image=image.reference,
        command=tuple(str(c) for c in _l(container.get("command"))), args=tuple(str(a) for a in _l(container.get("args"))),
        env=tuple(env), working_dir=str(container.get("workingDir") or ""),
        resources=container_resources(pod, container, memory_capacity), security=container_security(pod, container),
        tty=bool(container.get("tty")), stdin=bool(container.get("stdin")),
        termination_message_path=str(container.get("terminationMessagePath") or "/dev/termination-log"),
        termination_message_policy=policy if policy in ("File", "FallbackToLogsOnError") else "File",
        attempt=attempt, labels=labels, annotations=annotations,
    )
