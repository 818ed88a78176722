"""Nodes: status kept on create (kubelets register with it), taints and CIDRs checked, and the Table row."""

from __future__ import annotations

import copy
import ipaddress
from typing import Any

from kybernetes.api import duration, validation
from kybernetes.api.errors import FieldError, duplicate, forbidden, invalid, not_supported, required
from kybernetes.registry.base import AGE_COLUMN, NAME_COLUMN, Column, Obj, Strategy
from kybernetes.registry.core.podtemplate import decoding, default_resource_list, validate_resource_quantity

ROLE_PREFIX = "node-role.kubernetes.io/"
ROLE_LABEL = "kubernetes.io/role"
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def _d(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _s(value: Any) -> str:
    return value if isinstance(value, str) else ""


NODE_INFO_FIELDS = (
    "architecture", "bootID", "containerRuntimeVersion", "kernelVersion", "kubeProxyVersion",
    "kubeletVersion", "machineID", "operatingSystem", "osImage", "systemUUID",
)


def default_node_status(status: Obj) -> None:
    """SetDefaults_NodeStatus: allocatable starts as capacity; quantities written canonically.

    nodeInfo and daemonEndpoints are plain structs upstream, so they are always written, with
    empty values; clients such as the Python one require all ten nodeInfo fields.
    """
    info = status.get("nodeInfo")
    if not isinstance(info, dict):
        info = status["nodeInfo"] = {}
    for key in NODE_INFO_FIELDS:
        info.setdefault(key, "")
    endpoints = status.get("daemonEndpoints")
    if not isinstance(endpoints, dict):
        endpoints = status["daemonEndpoints"] = {}
    kubelet = endpoints.get("kubeletEndpoint")
    if not isinstance(kubelet, dict):
        kubelet = endpoints["kubeletEndpoint"] = {}
    kubelet.setdefault("Port", 0)
    default_resource_list(status.get("capacity"))
    default_resource_list(status.get("allocatable"))
    if status.get("allocatable") is None and isinstance(status.get("capacity"), dict):
        status["allocatable"] = copy.deepcopy(status["capacity"])


def validate_taints(taints: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: dict[str, set[str]] = {}
    for i, taint in enumerate(_l(taints)):
        taint = _d(taint)
        idx = f"{path}[{i}]"
        key, value, effect = _s(taint.get("key")), _s(taint.get("value")), _s(taint.get("effect"))
        errs.extend(invalid(f"{idx}.key", key, m) for m in validation.is_qualified_name(key))
        msgs = validation.is_valid_label_value(value)
        if msgs:
            errs.append(invalid(f"{idx}.value", value, ";".join(msgs)))
        if not effect:
            errs.append(required(f"{idx}.effect"))
        elif effect not in TAINT_EFFECTS:
            errs.append(not_supported(f"{idx}.effect", effect, TAINT_EFFECTS))
        if key in seen.get(effect, set()):
            err = duplicate(idx, taint)
            err.detail = "taints must be unique by key and effect pair"
            errs.append(err)
            continue
        seen.setdefault(effect, set()).add(key)
    return errs


def _validate_resources(status: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    for key in ("capacity", "allocatable"):
        for name, value in _d(status.get(key)).items():
            errs.extend(validate_resource_quantity(name, value, f"status.{key}.{name}"))
    return errs


def _validate_update_rules(new: Obj, old: Obj) -> list[FieldError]:
    errs = _validate_resources(_d(new.get("status")))
    seen: list[Any] = []
    for i, address in enumerate(_l(_d(new.get("status")).get("addresses"))):
        if address in seen:
            errs.append(duplicate(f"status.addresses[{i}]", address))
        seen.append(address)
    spec, old_spec = _d(new.get("spec")), _d(old.get("spec"))
    old_cidrs, new_cidrs = _l(old_spec.get("podCIDRs")), _l(spec.get("podCIDRs"))
    if old_cidrs:
        message = 'node updates may not change podCIDR except from "" to valid'
        if len(old_cidrs) != len(new_cidrs):
            errs.append(forbidden("spec.podCIDRs", message))
        else:
            errs.extend(forbidden("spec.podCIDRs", message) for a, b in zip(old_cidrs, new_cidrs) if a != b)
    if old_spec.get("providerID") and old_spec.get("providerID") != spec.get("providerID"):
        errs.append(forbidden("spec.providerID", 'node updates may not change providerID except from "" to valid'))
    errs.extend(validate_taints(spec.get("taints"), "metadata.taints"))
    if spec.get("externalID") != old_spec.get("externalID"):
        errs.append(forbidden("spec.externalID", "may not be updated"))
    return errs


def _address(node: Obj, kind: str) -> str:
    for address in _l(_d(node.get("status")).get("addresses")):
        if _d(address).get("type") == kind:
            return _s(_d(address).get("address"))
    return "<none>"


def node_status_cell(node: Obj) -> str:
    """STATUS: Ready/NotReady from the Ready condition (Unknown without one), plus SchedulingDisabled."""
    states = []
    for condition in _l(_d(node.get("status")).get("conditions")):
        if _d(condition).get("type") == "Ready":
            states = ["Ready" if condition.get("status") == "True" else "NotReady"]
    if not states:
        states = ["Unknown"]
    if _d(node.get("spec")).get("unschedulable") is True:
        states.append("SchedulingDisabled")
    return ",".join(states)


def node_roles(node: Obj) -> str:
    roles = set()
    for key, value in _d(_d(node.get("metadata")).get("labels")).items():
        if key.startswith(ROLE_PREFIX) and key[len(ROLE_PREFIX):]:
            roles.add(key[len(ROLE_PREFIX):])
        elif key == ROLE_LABEL and value:
            roles.add(value)
    return ",".join(sorted(roles)) or "<none>"


class NodeStrategy(Strategy):
    """NodeStrategy is the per-kind behaviour of core/v1 Nodes."""

    kind = "Node"
    plural = "nodes"
    singular = "node"
    namespaced = False
    short_names = ("no",)
    subresources = ("status", "proxy")
    has_status = True
    name_rule = staticmethod(validation.is_dns1123_subdomain)
    columns = (
        NAME_COLUMN,
        Column("Status", "string", "", "Whether the node is Ready, and whether scheduling onto it is disabled."),
        Column("Roles", "string", "", "Roles taken from the node-role.kubernetes.io/ labels."),
        AGE_COLUMN,
        Column("Version", "string", "", "The kubelet version the node reports."),
        Column("Internal-IP", "string", "", "The node's first InternalIP address.", 1),
        Column("External-IP", "string", "", "The node's first ExternalIP address.", 1),
        Column("OS-Image", "string", "", "The operating system image the node runs.", 1),
        Column("Kernel-Version", "string", "", "The kernel version the node reports.", 1),
        Column("Container-Runtime", "string", "", "The container runtime and its version.", 1),
    )

    def default(self, obj: Obj) -> None:
        if not isinstance(obj.get("spec"), dict):
            obj["spec"] = {}
        status = obj.get("status")
        if not isinstance(status, dict):
            status = obj["status"] = {}
        with decoding(self.kind):
            default_node_status(status)

    def prepare_for_create(self, obj: Obj) -> None:
        """A kubelet registers its node with status filled in, so upstream keeps it on create."""

    def validate_fields(self, obj: Obj) -> list[FieldError]:
        spec = _d(obj.get("spec"))
        # Upstream reports taints under `metadata`; kept for fidelity.
        errs = validate_taints(spec.get("taints"), "metadata.taints")
        errs.extend(_validate_resources(_d(obj.get("status"))))
        cidrs = [_s(c) for c in _l(spec.get("podCIDRs"))]
        families = []
        for i, cidr in enumerate(cidrs):
            try:
                families.append(ipaddress.ip_network(cidr, strict=False).version)
            except ValueError:
                errs.append(invalid(f"spec.podCIDRs[{i}]", cidr, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"))
        if len(cidrs) > 1:
            if len(set(families)) != len(cidrs) or len(cidrs) > 2:
                errs.append(invalid("spec.podCIDRs", cidrs, "may specify no more than one CIDR for each IP family"))
            for i, cidr in enumerate(cidrs):
                if cidr in cidrs[:i]:
                    errs.append(duplicate(f"spec.podCIDRs[{i}]", cidr))
        return errs

    def validate_fields_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return _validate_update_rules(new, old)

    def prepare_for_status_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_status_update(new, old)
        status = new.get("status")
        if isinstance(status, dict):
            with decoding(self.kind):
                default_node_status(status)

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        errs = super().validate_status_update(new, old)
        errs.extend(_validate_update_rules(new, old))
        return errs

    def row(self, obj: Obj) -> list[Any]:
        info = _d(_d(obj.get("status")).get("nodeInfo"))
        return [
            _d(obj.get("metadata")).get("name", ""),
            node_status_cell(obj),
            node_roles(obj),
            duration.age(obj),
            _s(info.get("kubeletVersion")),
            _address(obj, "InternalIP"),
            _address(obj, "ExternalIP"),
            _s(info.get("osImage")) or "<unknown>",
            _s(info.get("kernelVersion")) or "<unknown>",
            _s(info.get("containerRuntimeVersion")) or "<unknown>",
        ]

    def selectable_fields(self, obj: Obj) -> dict[str, str]:
        return {"spec.unschedulable": "true" if _d(obj.get("spec")).get("unschedulable") is True else "false"}


STRATEGY = NodeStrategy()
