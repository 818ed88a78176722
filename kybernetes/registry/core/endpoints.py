"""Endpoints: the legacy list of addresses behind a Service, its defaults, validation and ENDPOINTS cell."""

from __future__ import annotations

from typing import Any

from kybernetes.api import duration, validation
from kybernetes.api.errors import FieldError, invalid, not_supported, required
from kybernetes.registry.base import AGE_COLUMN, NAME_COLUMN, Column, Obj, Strategy
from kybernetes.registry.core.services import PROTOCOLS, non_special_ip_errors

MAX_SHOWN = 3


def _d(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _s(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _host_port(ip: str, port: Any) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def endpoints_cell(obj: Obj) -> str:
    """ENDPOINTS: up to three ready `ip:port` pairs, then `+ N more...`; `<none>` without subsets."""
    subsets = _l(obj.get("subsets"))
    if not subsets:
        return "<none>"
    shown: list[str] = []
    more = False
    count = 0
    for subset in subsets:
        subset = _d(subset)
        addresses = [_s(_d(a).get("ip")) for a in _l(subset.get("addresses"))]
        ports = _l(subset.get("ports"))
        # Headless services may have endpoints without ports: then only the IPs are listed.
        targets = [None] if not ports else [_d(p).get("port") for p in ports]
        for port in targets:
            count += len(addresses)
            for ip in addresses:
                if len(shown) == MAX_SHOWN:
                    more = True
                    break
                shown.append(ip if port is None else _host_port(ip, port))
    text = ",".join(shown)
    return f"{text} + {count - MAX_SHOWN} more..." if more else text


def _validate_address(address: Obj, path: str) -> list[FieldError]:
    ip = _s(address.get("ip"))
    errs = [invalid(f"{path}.ip", ip, m) for m in validation.is_valid_ip(ip)]
    hostname = _s(address.get("hostname"))
    if hostname:
        errs.extend(invalid(f"{path}.hostname", hostname, m) for m in validation.is_dns1123_label(hostname))
    node_name = address.get("nodeName")
    if node_name is not None:
        errs.extend(invalid(f"{path}.nodeName", node_name, m) for m in validation.is_dns1123_subdomain(_s(node_name)))
    errs.extend(non_special_ip_errors(ip, f"{path}.ip"))
    return errs


def _validate_port(port: Obj, require_name: bool, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    name = _s(port.get("name"))
    if require_name and not name:
        errs.append(required(f"{path}.name"))
    elif name:
        errs.extend(invalid(f"{path}.name", name, m) for m in validation.is_dns1123_label(name))
    number = port.get("port") if isinstance(port.get("port"), int) else 0
    errs.extend(invalid(f"{path}.port", number, m) for m in validation.is_valid_port_num(number))
    protocol = _s(port.get("protocol"))
    if not protocol:
        errs.append(required(f"{path}.protocol"))
    elif protocol not in PROTOCOLS:
        errs.append(not_supported(f"{path}.protocol", protocol, PROTOCOLS))
    if port.get("appProtocol") is not None:
        app = _s(port.get("appProtocol"))
        errs.extend(invalid(f"{path}.appProtocol", app, m) for m in validation.is_qualified_name(app))
    return errs


def validate_subsets(subsets: Any) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, subset in enumerate(_l(subsets)):
        subset = _d(subset)
        path = f"subsets[{i}]"
        if not _l(subset.get("addresses")) and not _l(subset.get("notReadyAddresses")):
            errs.append(required(path, "must specify `addresses` or `notReadyAddresses`"))
        for key in ("addresses", "notReadyAddresses"):
            for j, address in enumerate(_l(subset.get(key))):
                errs.extend(_validate_address(_d(address), f"{path}.{key}[{j}]"))
        ports = _l(subset.get("ports"))
        for j, port in enumerate(ports):
            errs.extend(_validate_port(_d(port), len(ports) > 1, f"{path}.ports[{j}]"))
    return errs


class EndpointsStrategy(Strategy):
    """EndpointsStrategy is the per-kind behaviour of core/v1 Endpoints."""

    kind = "Endpoints"
    plural = "endpoints"
    singular = "endpoints"
    namespaced = True
    short_names = ("ep",)
    allow_create_on_update = True
    columns = (
        NAME_COLUMN,
        Column("Endpoints", "string", "", "Ready addresses with their ports; only the first three are listed."),
        AGE_COLUMN,
    )

    def default(self, obj: Obj) -> None:
        for subset in _l(obj.get("subsets")):
            for port in _l(_d(subset).get("ports")):
                if isinstance(port, dict) and not port.get("protocol"):
                    port["protocol"] = "TCP"

    def validate_fields(self, obj: Obj) -> list[FieldError]:
        return validate_subsets(obj.get("subsets"))

    def row(self, obj: Obj) -> list[Any]:
        return [_d(obj.get("metadata")).get("name", ""), endpoints_cell(obj), duration.age(obj)]


STRATEGY = EndpointsStrategy()
