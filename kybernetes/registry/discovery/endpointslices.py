"""EndpointSlice: a slice of a Service's endpoints of one address type (discovery.k8s.io/v1)."""

from __future__ import annotations

import ipaddress
from typing import Any

from kybernetes.api import duration, validation
from kybernetes.api.errors import ErrorType, FieldError, duplicate, invalid, not_supported, required
from kybernetes.registry.base import AGE_COLUMN, NAME_COLUMN, Column, Obj, Strategy

ADDRESS_TYPES = ("FQDN", "IPv4", "IPv6")
PROTOCOLS = ("SCTP", "TCP", "UDP")
MAX_ENDPOINTS = 1000
MAX_ADDRESSES = 100
MAX_PORTS = 20000
MAX_TOPOLOGY_LABELS = 16
MAX_ZONE_HINTS = 8
ZONE_LABEL = "topology.kubernetes.io/zone"


def _too_many(path: str, actual: int, limit: int) -> FieldError:
    return FieldError(ErrorType.TOO_MANY, path, f"must have at most {limit} items", actual)


def _endpoint_ip_errors(address: str, path: str) -> list[FieldError]:
    """ValidateEndpointIP: no unspecified, loopback or link-local addresses."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return [invalid(path, address, "must be a valid IP address")]
    errs: list[FieldError] = []
    if ip.is_unspecified:
        errs.append(invalid(path, address, f"may not be unspecified ({address})"))
    if ip.is_loopback:
        errs.append(invalid(path, address, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
    if ip.is_link_local and not ip.is_multicast:
        errs.append(invalid(path, address, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
    if ip.is_multicast and (ip in ipaddress.ip_network("224.0.0.0/24") or ip in ipaddress.ip_network("ff02::/16")):
        errs.append(invalid(path, address, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"))
    return errs


def _fqdn_errors(name: str, path: str) -> list[FieldError]:
    """IsFullyQualifiedDomainName: at least two DNS labels, a trailing dot allowed."""
    if not name:
        return [required(path)]
    name = name[:-1] if name.endswith(".") else name
    msgs = validation.is_dns1123_subdomain(name)
    if msgs:
        return [invalid(path, name, ",".join(msgs))]
    labels = name.split(".")
    if len(labels) < 2:
        return [invalid(path, name, "should be a domain with at least two segments separated by dots")]
    for label in labels:
        msgs = validation.is_dns1123_label(label)
        if msgs:
            return [invalid(path, label, ",".join(msgs))]
    return []


def _address_errors(address: str, address_type: str, path: str) -> list[FieldError]:
    if address_type == "IPv4":
        errs = []
        try:
            valid = isinstance(ipaddress.ip_address(address), ipaddress.IPv4Address)
        except ValueError:
            valid = False
        if not valid:
            errs.append(invalid(path, address, "must be a valid IPv4 address"))
        return errs + _endpoint_ip_errors(address, path)
    if address_type == "IPv6":
        errs = []
        try:
            valid = isinstance(ipaddress.ip_address(address), ipaddress.IPv6Address)
        except ValueError:
            valid = False
        if not valid:
            errs.append(invalid(path, address, "must be a valid IPv6 address"))
        return errs + _endpoint_ip_errors(address, path)
    if address_type == "FQDN":
        return _fqdn_errors(address, path)
    return []


def _validate_endpoints(endpoints: list[Obj], address_type: str) -> list[FieldError]:
    if len(endpoints) > MAX_ENDPOINTS:
        return [_too_many("endpoints", len(endpoints), MAX_ENDPOINTS)]
    errs: list[FieldError] = []
    for i, endpoint in enumerate(endpoints):
        endpoint = endpoint or {}
        path = f"endpoints[{i}]"
        addresses = endpoint.get("addresses") or []
        if not addresses:
            errs.append(required(f"{path}.addresses", "must contain at least 1 address"))
        elif len(addresses) > MAX_ADDRESSES:
            errs.append(_too_many(f"{path}.addresses", len(addresses), MAX_ADDRESSES))
        for j, address in enumerate(addresses):
            errs.extend(_address_errors(address, address_type, f"{path}.addresses[{j}]"))
        node_name = endpoint.get("nodeName")
        if node_name is not None:
            errs.extend(invalid(f"{path}.nodeName", node_name, msg) for msg in validation.is_dns1123_subdomain(node_name))
        topology = endpoint.get("deprecatedTopology") or {}
        if len(topology) > MAX_TOPOLOGY_LABELS:
            errs.append(_too_many(f"{path}.deprecatedTopology", len(topology), MAX_TOPOLOGY_LABELS))
        errs.extend(validation.validate_labels(topology, f"{path}.deprecatedTopology"))
        if ZONE_LABEL in topology:
            zone_path = f"{path}.deprecatedTopology[{ZONE_LABEL}]"
            errs.append(FieldError(ErrorType.INTERNAL, zone_path, "reserved key was not removed in conversion"))
        hostname = endpoint.get("hostname")
        if hostname is not None:
            errs.extend(invalid(f"{path}.hostname", hostname, msg) for msg in validation.is_dns1123_label(hostname))
        hints = endpoint.get("hints")
        if hints is not None:
            errs.extend(_validate_hints(hints, f"{path}.hints"))
    return errs


def _validate_hints(hints: Obj, path: str) -> list[FieldError]:
    zones = hints.get("forZones") or []
    if len(zones) > MAX_ZONE_HINTS:
        return [_too_many(f"{path}.forZones", len(zones), MAX_ZONE_HINTS)]
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, zone in enumerate(zones):
        name = (zone or {}).get("name") or ""
        zone_path = f"{path}.forZones[{i}].name"
        if name in seen:
            errs.append(duplicate(zone_path, name))
        seen.add(name)
        errs.extend(invalid(zone_path, name, msg) for msg in validation.is_valid_label_value(name))
    return errs


def _validate_ports(ports: list[Obj]) -> list[FieldError]:
    if len(ports) > MAX_PORTS:
        return [_too_many("ports", len(ports), MAX_PORTS)]
    errs: list[FieldError] = []
    names: set[str] = set()
    for i, port in enumerate(ports):
        port = port or {}
        path = f"ports[{i}]"
        name = port.get("name") or ""
        if name:
            errs.extend(invalid(f"{path}.name", name, msg) for msg in validation.is_dns1123_label(name))
        if name in names:
            errs.append(duplicate(f"{path}.name", name))
        names.add(name)
        protocol = port.get("protocol")
        if protocol is None:
            errs.append(required(f"{path}.protocol"))
        elif protocol not in PROTOCOLS:
            errs.append(not_supported(f"{path}.protocol", protocol, list(PROTOCOLS)))
        app_protocol = port.get("appProtocol")
        if app_protocol is not None:
            for msg in validation.is_qualified_name(app_protocol):
                errs.append(invalid(f"{path}.appProtocol", app_protocol, msg))
    return errs


def _list_cell(items: list[str], count: int) -> str:
    """Up to three items, then `+ N more...`; `<unset>` when there are none."""
    text = ",".join(items[:3])
    if count > 3:
        return f"{text} + {count - 3} more..."
    return text or "<unset>"


def ports_cell(ports: list[Obj]) -> str:
    shown = []
    for port in ports:
        port = port or {}
        if port.get("port") is not None:
            shown.append(str(port["port"]))
        elif port.get("name") is not None:
            shown.append(port["name"])
        else:
            shown.append("*")
    return _list_cell(shown, len(shown))


def endpoints_cell(endpoints: list[Obj]) -> str:
    addresses = [a for e in endpoints for a in ((e or {}).get("addresses") or [])]
    return _list_cell(addresses, len(addresses))


class EndpointSliceStrategy(Strategy):
    """EndpointSliceStrategy: addressType is required and fixed; addresses must fit it."""

    group = "discovery.k8s.io"
    version = "v1"
    kind = "EndpointSlice"
    plural = "endpointslices"
    singular = "endpointslice"
    # Upstream bumps generation when anything but metadata (or the labels) changes.
    tracks_generation = True
    columns = (
        NAME_COLUMN,
        Column("AddressType", description="The kind of address every endpoint of the slice has."),
        Column("Ports", description="Ports each endpoint of the slice serves."),
        Column("Endpoints", description="Addresses of the endpoints in the slice."),
        AGE_COLUMN,
    )

    def default(self, obj: Obj) -> None:
        for port in obj.get("ports") or []:
            if isinstance(port, dict):
                if port.get("name") is None:
                    port["name"] = ""
                if port.get("protocol") is None:
                    port["protocol"] = "TCP"

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        labels_changed = (new.get("metadata") or {}).get("labels") != (old.get("metadata") or {}).get("labels")
        if labels_changed:
            generation = int((old.get("metadata") or {}).get("generation") or 0) + 1
            new.setdefault("metadata", {})["generation"] = generation

    def validate_fields(self, obj: Obj) -> list[FieldError]:
        address_type = obj.get("addressType") or ""
        errs: list[FieldError] = []
        if not address_type:
            errs.append(required("addressType"))
        elif address_type not in ADDRESS_TYPES:
            errs.append(not_supported("addressType", address_type, list(ADDRESS_TYPES)))
        errs.extend(_validate_endpoints(obj.get("endpoints") or [], address_type))
        errs.extend(_validate_ports(obj.get("ports") or []))
        return errs

    def validate_fields_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return validation.validate_immutable(new.get("addressType") or "", old.get("addressType") or "", "addressType")

    def row(self, obj: Obj) -> list[Any]:
        return [
            obj["metadata"]["name"],
            obj.get("addressType") or "",
            ports_cell(obj.get("ports") or []),
            endpoints_cell(obj.get("endpoints") or []),
            duration.age(obj),
        ]


STRATEGY = EndpointSliceStrategy()
