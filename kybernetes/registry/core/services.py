"""Services: defaults, the clusterIP/clusterIPs/ipFamilies bookkeeping, validation and the Table row.

Allocation of cluster IPs and node ports happens after validation (apiserver/allocators.py); this
module only normalises what the client sent and keeps already allocated values on update, as
upstream's service REST does before validating (patchAllocatedValues, normalizeClusterIPs,
dropTypeDependentFields).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from kybernetes.api import duration, validation
from kybernetes.api.errors import FieldError, duplicate, forbidden, invalid, not_supported, required
from kybernetes.api.labels import format_labels
from kybernetes.registry.base import AGE_COLUMN, NAME_COLUMN, Column, Obj, Strategy
from kybernetes.registry.core.podtemplate import validate_port_num_or_name

TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
AFFINITIES = ("ClientIP", "None")
PROTOCOLS = ("SCTP", "TCP", "UDP")
DEFAULT_CLIENT_IP_TIMEOUT = 10800
MAX_CLIENT_IP_TIMEOUT = 86400
NONE = "None"
TOPOLOGY_HINTS = "service.kubernetes.io/topology-aware-hints"
TOPOLOGY_MODE = "service.kubernetes.io/topology-mode"
SOURCE_RANGES_ANNOTATION = "service.beta.kubernetes.io/load-balancer-source-ranges"


def _d(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _s(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def is_headless(spec: Obj) -> bool:
    """Headless: clusterIPs is exactly ["None"] (upstream does not look at the type here)."""
    ips = _l(spec.get("clusterIPs"))
    return len(ips) == 1 and ips[0] == NONE


def externally_accessible(spec: Obj) -> bool:
    kind = spec.get("type")
    return kind in ("LoadBalancer", "NodePort") or (kind == "ClusterIP" and bool(_l(spec.get("externalIPs"))))


def _needs_node_port(spec: Obj) -> bool:
    return spec.get("type") in ("NodePort", "LoadBalancer")


def _needs_health_check(spec: Obj) -> bool:
    return spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"


# ----- defaults and update bookkeeping -------------------------------------------------------


def default_service_spec(spec: Obj) -> None:
    """SetDefaults_Service plus the IP family defaults upstream's registry fills in."""
    if not spec.get("sessionAffinity"):
        spec["sessionAffinity"] = "None"
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        config = _d(_d(spec.get("sessionAffinityConfig")).get("clientIP"))
        if config.get("timeoutSeconds") is None:
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": DEFAULT_CLIENT_IP_TIMEOUT}}
    if not spec.get("type"):
        spec["type"] = "ClusterIP"
    for port in _l(spec.get("ports")):
        if not isinstance(port, dict):
            continue
        if not port.get("protocol"):
            port["protocol"] = "TCP"
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port")
    if externally_accessible(spec) and not spec.get("externalTrafficPolicy"):
        spec["externalTrafficPolicy"] = "Cluster"
    if spec.get("internalTrafficPolicy") is None and spec["type"] in ("NodePort", "LoadBalancer", "ClusterIP"):
        spec["internalTrafficPolicy"] = "Cluster"
    if spec["type"] == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        spec["allocateLoadBalancerNodePorts"] = True
    if spec["type"] == "ExternalName":
        return
    cluster_ip = _s(spec.get("clusterIP"))
    if cluster_ip == NONE and not spec.get("selector"):
        # Headless services without a selector take every family the cluster has.
        spec.setdefault("ipFamilyPolicy", "RequireDualStack")
    else:
        spec.setdefault("ipFamilyPolicy", "SingleStack")
    if not _l(spec.get("ipFamilies")):
        address = _ip(cluster_ip)
        spec["ipFamilies"] = ["IPv6" if address is not None and address.version == 6 else "IPv4"]


def default_load_balancer_status(obj: Obj) -> None:
    """LoadBalancerIPMode: an ingress IP without ipMode is a VIP."""
    if _s(_d(obj.get("spec")).get("type")) != "LoadBalancer":
        return
    for ingress in _l(_d(_d(obj.get("status")).get("loadBalancer")).get("ingress")):
        if isinstance(ingress, dict) and ingress.get("ip") and ingress.get("ipMode") is None:
            ingress["ipMode"] = "VIP"


def normalize_cluster_ips(new: Obj, old: Obj | None) -> None:
    """Keep clusterIP and clusterIPs in step when the client set only one of them."""
    if old is not None:
        old_ip, old_ips = _s(old.get("clusterIP")), _l(old.get("clusterIPs"))
        new_ip = _s(new.get("clusterIP"))
        same_plural = _l(new.get("clusterIPs")) == old_ips
        if old_ip and not new_ip and same_plural:
            new.pop("clusterIPs", None)
        if old_ip and new_ip and old_ip != new_ip and same_plural:
            new["clusterIPs"] = [new_ip]
    if new.get("clusterIP") and not _l(new.get("clusterIPs")):
        new["clusterIPs"] = [new["clusterIP"]]


def patch_allocated_values(new: Obj, old: Obj) -> None:
    """Values the server allocated before are kept when an update leaves them out (for idempotent replace)."""
    if new.get("type") != "ExternalName" and old.get("type") != "ExternalName":
        if not new.get("clusterIP") and old.get("clusterIP"):
            new["clusterIP"] = old["clusterIP"]
        if not _l(new.get("clusterIPs")) and _l(old.get("clusterIPs")):
            new["clusterIPs"] = list(old["clusterIPs"])
    if _needs_node_port(old) and _needs_node_port(new):
        def used(spec: Obj) -> set[int]:
            return {p["nodePort"] for p in _l(spec.get("ports")) if isinstance(p, dict) and p.get("nodePort")}

        taken = used(old) & used(new)
        by_name = {_s(_d(p).get("name")): _d(p).get("nodePort") or 0 for p in _l(old.get("ports"))}
        for port in _l(new.get("ports")):
            if isinstance(port, dict) and not port.get("nodePort"):
                value = by_name.get(_s(port.get("name")), 0)
                if value and value not in taken:
                    port["nodePort"] = value
    if _needs_health_check(old) and _needs_health_check(new) and not new.get("healthCheckNodePort"):
        if old.get("healthCheckNodePort"):
            new["healthCheckNodePort"] = old["healthCheckNodePort"]


def drop_type_dependent_fields(new: Obj, old: Obj, new_status: Obj) -> None:
    """On a type change, clear what the old type needed if the client left it as it was."""
    def needs_cluster_ip(spec: Obj) -> bool:
        return spec.get("type") != "ExternalName"

    if needs_cluster_ip(old) and not needs_cluster_ip(new):
        if new.get("clusterIP", "") == old.get("clusterIP", "") and _l(new.get("clusterIPs")) == _l(old.get("clusterIPs")):
            new.pop("clusterIP", None)
            new.pop("clusterIPs", None)
        if _l(new.get("ipFamilies")) == _l(old.get("ipFamilies")):
            new.pop("ipFamilies", None)
        if new.get("ipFamilyPolicy") == old.get("ipFamilyPolicy"):
            new.pop("ipFamilyPolicy", None)
    if _needs_node_port(old) and not _needs_node_port(new):
        old_ports = {_d(p).get("nodePort") for p in _l(old.get("ports")) if _d(p).get("nodePort")}
        new_ports = {_d(p).get("nodePort") for p in _l(new.get("ports")) if _d(p).get("nodePort")}
        if new_ports <= old_ports:
            for port in _l(new.get("ports")):
                if isinstance(port, dict):
                    port.pop("nodePort", None)
    if _needs_health_check(old) and not _needs_health_check(new):
        if new.get("healthCheckNodePort") == old.get("healthCheckNodePort"):
            new.pop("healthCheckNodePort", None)
    if old.get("type") == "LoadBalancer" and new.get("type") != "LoadBalancer":
        if new.get("allocateLoadBalancerNodePorts") is not None and new.get("allocateLoadBalancerNodePorts") == old.get(
            "allocateLoadBalancerNodePorts"
        ):
            new.pop("allocateLoadBalancerNodePorts", None)
        if new.get("loadBalancerClass") == old.get("loadBalancerClass"):
            new.pop("loadBalancerClass", None)
    if externally_accessible(old) and not externally_accessible(new):
        if new.get("externalTrafficPolicy") == old.get("externalTrafficPolicy"):
            new.pop("externalTrafficPolicy", None)
    if new.get("type") != "LoadBalancer":
        new_status["loadBalancer"] = {}


# ----- validation ----------------------------------------------------------------------------


def _validate_port(port: Obj, require_name: bool, names: set[str], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    name = _s(port.get("name"))
    if require_name and not name:
        errs.append(required(f"{path}.name"))
    elif name:
        errs.extend(invalid(f"{path}.name", name, m) for m in validation.is_dns1123_label(name))
        if name in names:
            errs.append(duplicate(f"{path}.name", name))
        else:
            names.add(name)
    number = port.get("port") if isinstance(port.get("port"), int) else 0
    errs.extend(invalid(f"{path}.port", number, m) for m in validation.is_valid_port_num(number))
    protocol = _s(port.get("protocol"))
    if not protocol:
        errs.append(required(f"{path}.protocol"))
    elif protocol not in PROTOCOLS:
        errs.append(not_supported(f"{path}.protocol", protocol, PROTOCOLS))
    errs.extend(validate_port_num_or_name(port.get("targetPort"), f"{path}.targetPort"))
    if port.get("appProtocol") is not None:
        app = _s(port.get("appProtocol"))
        errs.extend(invalid(f"{path}.appProtocol", app, m) for m in validation.is_qualified_name(app))
    return errs


def non_special_ip_errors(value: str, path: str) -> list[FieldError]:
    address = _ip(value)
    if address is None:
        return [invalid(path, value, "must be a valid IP address")]
    errs: list[FieldError] = []
    if address.is_unspecified:
        errs.append(invalid(path, value, f"may not be unspecified ({value})"))
    if address.is_loopback:
        errs.append(invalid(path, value, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
    if address.is_link_local:
        errs.append(invalid(path, value, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
    if address.is_multicast and (
        (address.version == 4 and address in ipaddress.ip_network("224.0.0.0/24"))
        or (address.version == 6 and address in ipaddress.ip_network("ff02::/16"))
    ):
        errs.append(invalid(path, value, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"))
    return errs


def _cidr_errors(value: str, path: str) -> list[FieldError]:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return [invalid(path, value, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")]
    return []


def validate_cluster_ips_related(spec: Obj) -> list[FieldError]:
    """ValidateServiceClusterIPsRelatedFields: clusterIP/clusterIPs agree, families and policy are valid."""
    if spec.get("type") == "ExternalName":
        return []
    errs: list[FieldError] = []
    ips = [_s(ip) for ip in _l(spec.get("clusterIPs"))]
    cluster_ip = _s(spec.get("clusterIP"))
    if cluster_ip:
        if not ips:
            errs.append(required("spec.clusterIPs"))
        elif ips[0] != cluster_ip:
            errs.append(invalid("spec.clusterIPs", ips, "first value must match `clusterIP`"))
    elif ips:
        errs.append(invalid("spec.clusterIPs", ips, "must be empty when `clusterIP` is not specified"))
    seen: set[str] = set()
    for i, family in enumerate(_l(spec.get("ipFamilies"))):
        if family not in ("IPv4", "IPv6"):
            errs.append(not_supported(f"spec.ipFamilies[{i}]", family, ["IPv4", "IPv6"]))
        if family in seen:
            errs.append(duplicate(f"spec.ipFamilies[{i}]", family))
        seen.add(family)
    policy = spec.get("ipFamilyPolicy")
    if policy is not None and policy not in ("PreferDualStack", "RequireDualStack", "SingleStack"):
        errs.append(not_supported("spec.ipFamilyPolicy", policy, ["PreferDualStack", "RequireDualStack", "SingleStack"]))
    bad_ips = False
    for i, ip in enumerate(ips):
        if i == 0 and ip == NONE:
            if len(ips) > 1:
                bad_ips = True
                errs.append(invalid("spec.clusterIPs", ips, "'None' must be the first and only value"))
            continue
        msgs = validation.is_valid_ip(ip)
        bad_ips = bad_ips or bool(msgs)
        errs.extend(invalid(f"spec.clusterIPs[{i}]", ip, m) for m in msgs)
    if len(ips) > 2:
        errs.append(invalid("spec.clusterIPs", ips, "may only hold up to 2 values"))
    if bad_ips:
        return errs
    if len(ips) > 1 and len({_ip(ip).version for ip in ips if _ip(ip)}) != len(ips):  # type: ignore[union-attr]
        errs.append(invalid("spec.clusterIPs", ips, "may specify no more than one IP for each IP family"))
    families = _l(spec.get("ipFamilies"))
    if not is_headless(spec) and ips and families:
        for i, ip in enumerate(ips[: len(families)]):
            address = _ip(ip)
            is_v6 = address is not None and address.version == 6
            if families[i] == "IPv4" and is_v6:
                errs.append(invalid(f"spec.clusterIPs[{i}]", ip, f"expected an IPv4 value as indicated by `ipFamilies[{i}]`"))
            if families[i] == "IPv6" and not is_v6:
                errs.append(invalid(f"spec.clusterIPs[{i}]", ip, f"expected an IPv6 value as indicated by `ipFamilies[{i}]`"))
    return errs


def _validate_load_balancer_class(spec: Obj, old: Obj | None) -> list[FieldError]:
    errs: list[FieldError] = []
    value = spec.get("loadBalancerClass")
    if old is not None and old.get("type") == "LoadBalancer" and spec.get("type") == "LoadBalancer":
        if value != old.get("loadBalancerClass"):
            errs.append(invalid("spec.loadBalancerClass", value, "may not change once set"))
    if spec.get("type") == "LoadBalancer":
        if value is not None:
            errs.extend(invalid("spec.loadBalancerClass", value, m) for m in validation.is_qualified_name(_s(value)))
    elif value is not None:
        errs.append(forbidden("spec.loadBalancerClass", "may only be used when `type` is 'LoadBalancer'"))
    return errs


def validate_service_spec(metadata: Obj, spec: Obj) -> list[FieldError]:
    """ValidateService without the metadata part, in upstream's order."""
    errs: list[FieldError] = []
    annotations = _d(metadata.get("annotations"))
    if TOPOLOGY_MODE in annotations and TOPOLOGY_HINTS in annotations and annotations[TOPOLOGY_MODE] != annotations[TOPOLOGY_HINTS]:
        errs.append(invalid(f"metadata.annotations[{TOPOLOGY_MODE}]", annotations[TOPOLOGY_MODE], f"must match annotations[{TOPOLOGY_HINTS}] when both are specified"))
    kind = _s(spec.get("type"))
    ports = [_d(p) for p in _l(spec.get("ports"))]
    headless = is_headless(spec)
    if not ports and not headless and kind != "ExternalName":
        errs.append(required("spec.ports"))
    if kind in ("LoadBalancer", "NodePort") and headless:
        errs.append(invalid("spec.clusterIPs[0]", NONE, f"may not be set to 'None' for {kind} services"))
    elif kind == "ExternalName":
        for key in ("clusterIPs", "ipFamilies"):
            if _l(spec.get(key)):
                errs.append(forbidden(f"spec.{key}", "may not be set for ExternalName services"))
        if spec.get("ipFamilyPolicy") is not None:
            errs.append(forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services"))
        cname = _s(spec.get("externalName")).removesuffix(".")
        if cname:
            errs.extend(invalid("spec.externalName", cname, m) for m in validation.is_dns1123_subdomain(cname))
        else:
            errs.append(required("spec.externalName"))
    names: set[str] = set()
    for i, port in enumerate(ports):
        errs.extend(_validate_port(port, len(ports) > 1, names, f"spec.ports[{i}]"))
    if spec.get("selector") is not None:
        errs.extend(validation.validate_labels(spec.get("selector"), "spec.selector"))
    affinity = _s(spec.get("sessionAffinity"))
    if not affinity:
        errs.append(required("spec.sessionAffinity"))
    elif affinity not in AFFINITIES:
        errs.append(not_supported("spec.sessionAffinity", affinity, AFFINITIES))
    config = spec.get("sessionAffinityConfig")
    if affinity == "ClientIP":
        path = "spec.sessionAffinityConfig"
        if not isinstance(config, dict):
            errs.append(required(path, "when session affinity type is ClientIP"))
        elif not isinstance(config.get("clientIP"), dict):
            errs.append(required(f"{path}.clientIP", "when session affinity type is ClientIP"))
        elif config["clientIP"].get("timeoutSeconds") is None:
            errs.append(required(f"{path}.clientIP.timeoutSeconds", "when session affinity type is ClientIP"))
        else:
            timeout = config["clientIP"]["timeoutSeconds"]
            if not isinstance(timeout, int) or not 0 < timeout <= MAX_CLIENT_IP_TIMEOUT:
                errs.append(invalid(f"{path}.clientIP.timeoutSeconds", timeout, f"must be greater than 0 and less than {MAX_CLIENT_IP_TIMEOUT}"))
    elif affinity == "None" and config is not None:
        errs.append(forbidden("spec.sessionAffinityConfig", "must not be set when session affinity is None"))
    errs.extend(validate_cluster_ips_related(spec))
    for i, ip in enumerate(_l(spec.get("externalIPs"))):
        path = f"spec.externalIPs[{i}]"
        msgs = validation.is_valid_ip(_s(ip))
        if msgs:
            errs.extend(invalid(path, ip, m) for m in msgs)
        else:
            errs.extend(non_special_ip_errors(_s(ip), path))
    if not kind:
        errs.append(required("spec.type"))
    elif kind not in TYPES:
        errs.append(not_supported("spec.type", kind, TYPES))
    if kind == "ClusterIP":
        for i, port in enumerate(ports):
            if port.get("nodePort"):
                errs.append(forbidden(f"spec.ports[{i}].nodePort", "may not be used when `type` is 'ClusterIP'"))
    node_ports: set[tuple[str, Any]] = set()
    for i, port in enumerate(ports):
        if not port.get("nodePort"):
            continue
        key = (_s(port.get("protocol")), port["nodePort"])
        if key in node_ports:
            errs.append(duplicate(f"spec.ports[{i}].nodePort", port["nodePort"]))
        node_ports.add(key)
    seen_ports: set[tuple[str, Any]] = set()
    for i, port in enumerate(ports):
        key = (_s(port.get("protocol")), port.get("port"))
        if key in seen_ports:
            errs.append(duplicate(f"spec.ports[{i}]", {"protocol": key[0], "port": key[1]}))
        seen_ports.add(key)
    ranges = _l(spec.get("loadBalancerSourceRanges"))
    if ranges:
        # Upstream spells this path with a capital L.
        path = "spec.LoadBalancerSourceRanges"
        if kind != "LoadBalancer":
            errs.append(forbidden(path, "may only be used when `type` is 'LoadBalancer'"))
        for i, value in enumerate(ranges):
            errs.extend(_cidr_errors(_s(value).strip(), f"{path}[{i}]"))
    elif SOURCE_RANGES_ANNOTATION in annotations:
        path = f"metadata.annotations[{SOURCE_RANGES_ANNOTATION}]"
        if kind != "LoadBalancer":
            errs.append(forbidden(path, "may only be used when `type` is 'LoadBalancer'"))
        value = _s(annotations[SOURCE_RANGES_ANNOTATION]).strip()
        if value:
            for cidr in value.split(","):
                errs.extend(_cidr_errors(cidr.strip(), path))
    if spec.get("allocateLoadBalancerNodePorts") is not None and kind != "LoadBalancer":
        errs.append(forbidden("spec.allocateLoadBalancerNodePorts", "may only be used when `type` is 'LoadBalancer'"))
    if kind == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        # Upstream reports this one without the `spec` segment.
        errs.append(required("allocateLoadBalancerNodePorts"))
    errs.extend(_validate_load_balancer_class(spec, None))
    policy = spec.get("externalTrafficPolicy") or ""
    if not externally_accessible(spec):
        if policy:
            errs.append(invalid("spec.externalTrafficPolicy", policy, "may only be set for externally-accessible services"))
    elif not policy:
        errs.append(required("spec.externalTrafficPolicy"))
    elif policy not in ("Cluster", "Local"):
        errs.append(not_supported("spec.externalTrafficPolicy", policy, ["Cluster", "Local"]))
    health = spec.get("healthCheckNodePort") or 0
    if not _needs_health_check(spec):
        if health:
            errs.append(invalid("spec.healthCheckNodePort", health, "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"))
    elif health:
        # Left unset it is allocated after validation, so only a set value is checked here.
        errs.extend(invalid("spec.healthCheckNodePort", health, m) for m in validation.is_valid_port_num(health))
    internal = spec.get("internalTrafficPolicy")
    if internal is None and kind in ("NodePort", "LoadBalancer", "ClusterIP"):
        errs.append(required("spec.internalTrafficPolicy"))
    if internal is not None and internal not in ("Cluster", "Local"):
        errs.append(not_supported("spec.internalTrafficPolicy", internal, ["Cluster", "Local"]))
    distribution = spec.get("trafficDistribution")
    if distribution is not None and distribution != "PreferClose":
        errs.append(not_supported("spec.trafficDistribution", distribution, ["PreferClose"]))
    return errs


def _validate_cluster_ips_update(new: Obj, old: Obj) -> list[FieldError]:
    if "ExternalName" in (new.get("type"), old.get("type")):
        return []
    if is_headless(new) and is_headless(old):
        return []
    errs: list[FieldError] = []
    new_ips, old_ips = _l(new.get("clusterIPs")), _l(old.get("clusterIPs"))
    if len(old_ips) == len(new_ips):
        for i, ip in enumerate(old_ips):
            if ip != new_ips[i]:
                errs.append(invalid(f"spec.clusterIPs[{i}]", new_ips, "may not change once set"))
    elif len(old_ips) > len(new_ips):
        if not new_ips:
            errs.append(invalid("spec.clusterIPs[0]", new_ips, "primary clusterIP can not be unset"))
        if old_ips and new_ips and new_ips[0] != old_ips[0]:
            errs.append(invalid("spec.clusterIPs[0]", new_ips, "may not change once set"))
        if len(new_ips) == 1 and new.get("ipFamilyPolicy") != "SingleStack":
            errs.append(invalid("spec.clusterIPs[0]", new_ips, "`ipFamilyPolicy` must be set to 'SingleStack' when releasing the secondary clusterIP"))
    elif old_ips and new_ips[0] != old_ips[0]:
        errs.append(invalid("spec.clusterIPs[0]", new_ips, "may not change once set"))
    return errs


def _validate_ip_families_update(new: Obj, old: Obj) -> list[FieldError]:
    if "ExternalName" in (new.get("type"), old.get("type")):
        return []
    if is_headless(new) or is_headless(old):
        return []
    errs: list[FieldError] = []
    new_f, old_f = _l(new.get("ipFamilies")), _l(old.get("ipFamilies"))
    ips = _l(new.get("clusterIPs"))
    if len(old_f) == len(new_f):
        for i, family in enumerate(old_f):
            if family != new_f[i]:
                errs.append(invalid("spec.ipFamilies[0]", new_f, "may not change once set"))
    elif len(old_f) > len(new_f):
        if not new_f:
            errs.append(invalid("spec.ipFamilies[0]", new_f, "primary ipFamily can not be unset"))
        if new_f and new_f[0] != old_f[0]:
            errs.append(invalid("spec.ipFamilies[0]", ips, "may not change once set"))
        if len(new_f) == 1 and new.get("ipFamilyPolicy") != "SingleStack":
            errs.append(invalid("spec.clusterIPs[0]", ips, "`ipFamilyPolicy` must be set to 'SingleStack' when releasing the secondary ipFamily"))
    elif old_f and new_f[0] != old_f[0]:
        errs.append(invalid("spec.ipFamilies[0]", ips, "may not change once set"))
    return errs


def _load_balancer_ingress(status: Obj) -> str:
    found = set()
    for ingress in _l(_d(status.get("loadBalancer")).get("ingress")):
        ingress = _d(ingress)
        if ingress.get("ip"):
            found.add(ingress["ip"])
        elif ingress.get("hostname"):
            found.add(ingress["hostname"])
    return ",".join(sorted(found))


def external_ip_cell(spec: Obj, status: Obj) -> str:
    """EXTERNAL-IP: external IPs, the load balancer's address (or `<pending>`), or the external name."""
    kind = spec.get("type")
    external = [_s(ip) for ip in _l(spec.get("externalIPs"))]
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) if external else "<none>"
    if kind == "LoadBalancer":
        # The server renders tables as for -o wide, so the address is never shortened.
        balancer = _load_balancer_ingress(status)
        if external:
            return ",".join(([*balancer.split(",")] if balancer else []) + external)
        return balancer or "<pending>"
    if kind == "ExternalName":
        return _s(spec.get("externalName"))
    return "<unknown>"


def ports_cell(spec: Obj) -> str:
    pieces = []
    for port in _l(spec.get("ports")):
        port = _d(port)
        number, protocol, node_port = port.get("port", 0), _s(port.get("protocol")), port.get("nodePort") or 0
        pieces.append(f"{number}:{node_port}/{protocol}" if node_port > 0 else f"{number}/{protocol}")
    return ",".join(pieces) or "<none>"


class ServiceStrategy(Strategy):
    """ServiceStrategy is the per-kind behaviour of core/v1 Services."""

    kind = "Service"
    plural = "services"
    singular = "service"
    namespaced = True
    short_names = ("svc",)
    categories = ("all",)
    subresources = ("status", "proxy")
    has_status = True
    allow_create_on_update = True
    return_deleted_object = True
    name_rule = staticmethod(validation.is_dns1035_label)
    columns = (
        NAME_COLUMN,
        Column("Type", "string", "", "How the service is exposed: ClusterIP, NodePort, LoadBalancer or ExternalName."),
        Column("Cluster-IP", "string", "", "The virtual IP inside the cluster, or None for a headless service."),
        Column("External-IP", "string", "", "Addresses outside the cluster that reach the service."),
        Column("Port(s)", "string", "", "Service ports with their node ports and protocols."),
        AGE_COLUMN,
        Column("Selector", "string", "", "Labels of the pods that back the service.", 1),
    )

    def default(self, obj: Obj) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            spec = obj["spec"] = {}
        default_service_spec(spec)
        default_load_balancer_status(obj)

    def initial_status(self, obj: Obj) -> Obj:
        return {"loadBalancer": {}}

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        normalize_cluster_ips(_d(obj.get("spec")), None)

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        spec, old_spec = _d(new.get("spec")), _d(old.get("spec"))
        patch_allocated_values(spec, old_spec)
        normalize_cluster_ips(spec, old_spec)
        status = new.get("status")
        if not isinstance(status, dict):
            status = new["status"] = {"loadBalancer": {}}
        drop_type_dependent_fields(spec, old_spec, status)

    def validate_fields(self, obj: Obj) -> list[FieldError]:
        return validate_service_spec(_d(obj.get("metadata")), _d(obj.get("spec")))

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        # Upstream checks the update rules before the create rules; the order shows in the 422 text.
        spec, old_spec = _d(new.get("spec")), _d(old.get("spec"))
        errs = validation.validate_object_meta_update(_d(new.get("metadata")), _d(old.get("metadata")))
        errs.extend(_validate_cluster_ips_update(spec, old_spec))
        errs.extend(_validate_ip_families_update(spec, old_spec))
        errs.extend(_validate_load_balancer_class(spec, old_spec))
        if _needs_health_check(old_spec) and _needs_health_check(spec):
            if spec.get("healthCheckNodePort") != old_spec.get("healthCheckNodePort"):
                errs.append(forbidden("spec.healthCheckNodePort", "field is immutable"))
        errs.extend(self.validate(new))
        return errs

    def prepare_for_status_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_status_update(new, old)
        default_load_balancer_status(new)

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        errs = super().validate_status_update(new, old)
        for i, ingress in enumerate(_l(_d(_d(new.get("status")).get("loadBalancer")).get("ingress"))):
            ingress = _d(ingress)
            path = f"status.loadBalancer.ingress[{i}]"
            if ingress.get("ip"):
                errs.extend(invalid(f"{path}.ip", ingress["ip"], m) for m in validation.is_valid_ip(_s(ingress["ip"])))
            if ingress.get("ipMode") is not None:
                if not ingress.get("ip"):
                    errs.append(forbidden(f"{path}.ipMode", "may not be set when `ip` is not set"))
                elif ingress["ipMode"] not in ("Proxy", "VIP"):
                    errs.append(not_supported(f"{path}.ipMode", ingress["ipMode"], ["Proxy", "VIP"]))
            if ingress.get("hostname"):
                hostname = _s(ingress["hostname"])
                errs.extend(invalid(f"{path}.hostname", hostname, m) for m in validation.is_dns1123_subdomain(hostname))
                if _ip(hostname) is not None:
                    errs.append(invalid(f"{path}.hostname", hostname, "must be a DNS name, not an IP address"))
        return errs

    def warnings(self, obj: Obj) -> list[str]:
        spec, annotations = _d(obj.get("spec")), _d(_d(obj.get("metadata")).get("annotations"))
        found = []
        if TOPOLOGY_HINTS in annotations:
            found.append(f"annotation {TOPOLOGY_HINTS} is deprecated, please use {TOPOLOGY_MODE} instead")
        if spec.get("type") == "ExternalName" and _l(spec.get("externalIPs")):
            found.append('spec.externalIPs is ignored when spec.type is "ExternalName"')
        if spec.get("type") != "ExternalName" and spec.get("externalName"):
            found.append('spec.externalName is ignored when spec.type is not "ExternalName"')
        return found

    def row(self, obj: Obj) -> list[Any]:
        spec, status = _d(obj.get("spec")), _d(obj.get("status"))
        ips = _l(spec.get("clusterIPs"))
        return [
            _d(obj.get("metadata")).get("name", ""),
            _s(spec.get("type")),
            _s(ips[0]) if ips else "<none>",
            external_ip_cell(spec, status),
            ports_cell(spec),
            duration.age(obj),
            format_labels(spec.get("selector")),
        ]

    def selectable_fields(self, obj: Obj) -> dict[str, str]:
        spec = _d(obj.get("spec"))
        return {"spec.clusterIP": _s(spec.get("clusterIP")), "spec.type": _s(spec.get("type"))}


STRATEGY = ServiceStrategy()
