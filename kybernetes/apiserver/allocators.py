"""Allocators: Service ClusterIPs from --service-cidr and NodePorts from --service-node-port-range.

The allocation state is rebuilt from the stored Services at start (the store is the truth);
an allocation is taken before the write and released if the write fails or the Service goes.
Messages are upstream's (pkg/registry/core/service/ipallocator, portallocator and the service
REST's alloc.go), because kubectl prints them verbatim.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from kybernetes.api import errors
from kybernetes.api.errors import FieldError
from kybernetes.apiserver.generic import Hooks, RequestInfo
from kybernetes.registry.base import Obj
from kybernetes.registry.catalog import Resource

ERR_FULL = "range is full"
ERR_IP_ALLOCATED = "provided IP is already allocated"
ERR_PORT_ALLOCATED = "provided port is already allocated"


class AllocationError(Exception):
    pass


@dataclass
class IPAllocator:
    """IPAllocator hands out addresses of a CIDR, never its network address (nor, for IPv4, its broadcast)."""

    cidr: ipaddress.IPv4Network | ipaddress.IPv6Network
    used: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._first = int(self.cidr.network_address) + 1
        # Upstream keeps the IPv4 broadcast address out of the range; IPv6 has none.
        self._last = int(self.cidr.broadcast_address) - (1 if self.cidr.version == 4 else 0)

    @property
    def size(self) -> int:
        return max(0, self._last - self._first + 1)

    def _parse(self, ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        try:
            return ipaddress.ip_address(ip)
        except ValueError:
            return None

    def contains(self, ip: str) -> bool:
        """Whether ip is one of the addresses this allocator may hand out."""
        address = self._parse(ip)
        return address is not None and address.version == self.cidr.version and self._first <= int(address) <= self._last

    def has(self, ip: str) -> bool:
        return self.contains(ip) and int(ipaddress.ip_address(ip)) in self.used

    def allocate(self, ip: str | None = None) -> str:
        if ip is not None:
            if not self.contains(ip):
                raise AllocationError(
                    f"the provided IP ({ip}) is not in the valid range. The range of valid IPs is {self.cidr}"
                )
            value = int(ipaddress.ip_address(ip))
            if value in self.used:
                raise AllocationError(ERR_IP_ALLOCATED)
            self.used.add(value)
            return ip
        size = self.size
        if len(self.used) >= size:
            raise AllocationError(ERR_FULL)
        start = random.randrange(size)
        for offset in range(size):
            value = self._first + (start + offset) % size
            if value not in self.used:
                self.used.add(value)
                return str(ipaddress.ip_address(value))
        raise AllocationError(ERR_FULL)

    def release(self, ip: str | None) -> None:
        if ip and self.contains(ip):
            self.used.discard(int(ipaddress.ip_address(ip)))


@dataclass
class PortAllocator:
    low: int
    high: int
    used: set[int] = field(default_factory=set)

    def contains(self, port: Any) -> bool:
        return isinstance(port, int) and not isinstance(port, bool) and self.low <= port <= self.high

    def allocate(self, port: int | None = None) -> int:
        if port is not None:
            if not self.contains(port):
                raise AllocationError(
                    f"provided port is not in the valid range. The range of valid ports is {self.low}-{self.high}"
                )
            if port in self.used:
                raise AllocationError(ERR_PORT_ALLOCATED)
            self.used.add(port)
            return port
        size = self.high - self.low + 1
        if len(self.used) >= size:
            raise AllocationError(ERR_FULL)
        start = random.randrange(size)
        for offset in range(size):
            candidate = self.low + (start + offset) % size
            if candidate not in self.used:
                self.used.add(candidate)
                return candidate
        raise AllocationError(ERR_FULL)

    def release(self, port: int | None) -> None:
        if port is not None:
            self.used.discard(port)


def _should_allocate_node_ports(spec: dict[str, Any]) -> bool:
    """shouldAllocateNodePorts: NodePort always, LoadBalancer unless allocateLoadBalancerNodePorts is false."""
    kind = spec.get("type")
    if kind == "NodePort":
        return True
    return kind == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is not False


def _may_hold_node_ports(spec: dict[str, Any]) -> bool:
    return spec.get("type") in ("NodePort", "LoadBalancer")


def _needs_health_check_port(spec: dict[str, Any]) -> bool:
    return spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"


def _needs_cluster_ip(spec: dict[str, Any]) -> bool:
    return spec.get("type", "ClusterIP") != "ExternalName" and spec.get("clusterIP") != "None"


def _node_ports(spec: dict[str, Any]) -> set[int]:
    return {p["nodePort"] for p in spec.get("ports") or [] if isinstance(p, dict) and p.get("nodePort")}


class ServiceAllocations(Hooks):
    """ServiceAllocations is the store hook that gives Services their ClusterIP and NodePorts."""

    def __init__(self, *, service_cidr: str, node_port_range: str) -> None:
        self.ips = IPAllocator(ipaddress.ip_network(service_cidr, strict=False))
        low, _, high = node_port_range.partition("-")
        self.ports = PortAllocator(int(low), int(high))

    @staticmethod
    def _is_service(resource: Resource) -> bool:
        return resource.strategy.kind == "Service" and resource.strategy.group == ""

    def restore(self, services: Iterable[Obj]) -> None:
        """Mark what stored Services hold (the repair loop's view); out-of-range values are ignored."""
        for svc in services:
            spec = svc.get("spec") or {}
            ip = spec.get("clusterIP")
            if ip and ip != "None" and self.ips.contains(ip):
                self.ips.used.add(int(ipaddress.ip_address(ip)))
            ports = set(_node_ports(spec))
            if spec.get("healthCheckNodePort"):
                ports.add(spec["healthCheckNodePort"])
            for port in ports:
                if self.ports.contains(port):
                    self.ports.used.add(port)

    def _allocate(self, svc: Obj, old: Obj | None) -> Callable[[], None]:
        spec = svc.setdefault("spec", {})
        old_spec = (old or {}).get("spec") or {}
        name = (svc.get("metadata") or {}).get("name", "")
        taken_ips: list[str] = []
        taken_ports: list[int] = []
        errs: list[FieldError] = []

        def undo() -> None:
            for ip in taken_ips:
                self.ips.release(ip)
            for port in taken_ports:
                self.ports.release(port)

        def fail(exc: errors.APIError) -> None:
            undo()
            raise exc

        if _needs_cluster_ip(spec):
            wanted = spec.get("clusterIP") or None
            if old is not None and wanted and wanted == old_spec.get("clusterIP"):
                pass
            elif wanted is None:
                try:
                    ip = self.ips.allocate()
                except AllocationError as exc:
                    fail(errors.internal_error(f"failed to allocate a serviceIP: {exc}"))
                taken_ips.append(ip)
                spec["clusterIP"] = ip
            else:
                try:
                    taken_ips.append(self.ips.allocate(wanted))
                except AllocationError as exc:
                    shown = spec.get("clusterIPs") or [wanted]
                    errs.append(errors.invalid("spec.clusterIPs", shown, f"failed to allocate IP {wanted}: {exc}"))
            if errs:
                # Upstream allocates in one transaction and answers the first failure.
                fail(errors.invalid_error("Service", name, errs))
            if spec.get("clusterIP"):
                spec["clusterIPs"] = [spec["clusterIP"]]
                family = "IPv6" if ":" in spec["clusterIP"] else "IPv4"
                spec.setdefault("ipFamilies", [family])
                spec.setdefault("ipFamilyPolicy", "SingleStack")
        elif spec.get("clusterIP") == "None":
            spec["clusterIPs"] = ["None"]
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")

        if _may_hold_node_ports(spec):
            errs.extend(self._allocate_node_ports(spec, old_spec if old is not None else None, taken_ports, fail))
        else:
            for port in spec.get("ports") or []:
                if isinstance(port, dict):
                    port.pop("nodePort", None)

        if errs:
            fail(errors.invalid_error("Service", name, errs))
        if _needs_health_check_port(spec):
            wanted_hc = spec.get("healthCheckNodePort") or None
            if old is not None and wanted_hc and wanted_hc == old_spec.get("healthCheckNodePort"):
                pass
            elif wanted_hc is None:
                try:
                    spec["healthCheckNodePort"] = self.ports.allocate()
                except AllocationError as exc:
                    fail(errors.internal_error(f"failed to allocate a nodePort: {exc}"))
                taken_ports.append(spec["healthCheckNodePort"])
            else:
                try:
                    taken_ports.append(self.ports.allocate(wanted_hc))
                except AllocationError as exc:
                    fail(errors.internal_error(f"failed to allocate requested HealthCheck NodePort {wanted_hc}: {exc}"))
        else:
            spec.pop("healthCheckNodePort", None)
        return undo

    def _allocate_node_ports(
        self,
        spec: dict[str, Any],
        old_spec: dict[str, Any] | None,
        taken_ports: list[int],
        fail: Callable[[errors.APIError], None],
    ) -> list[FieldError]:
        """initNodePorts / updateNodePorts: one nodePort per service port number, explicit values honoured."""
        held = _node_ports(old_spec) if old_spec is not None else set()
        ports = [p for p in spec.get("ports") or [] if isinstance(p, dict)]
        by_port_number: dict[Any, int] = {}
        allocated: set[int] = set()
        allocate_missing = _should_allocate_node_ports(spec)

        def take(value: int) -> None:
            if value in held or value in allocated:
                return
            self.ports.allocate(value)
            allocated.add(value)
            taken_ports.append(value)

        # Requested values first, so an automatic pick never takes a port asked for later in the list.
        for i, port in enumerate(ports):
            wanted = port.get("nodePort") or None
            if wanted is None:
                continue
            try:
                take(wanted)
            except AllocationError as exc:
                return [errors.invalid(f"spec.ports[{i}].nodePort", wanted, str(exc))]
            by_port_number.setdefault(port.get("port"), wanted)
        for port in ports:
            if port.get("nodePort") or not allocate_missing:
                continue
            # On create the same port number on another protocol (53/TCP and 53/UDP) shares its
            # nodePort; an update allocates each missing one anew (initNodePorts vs updateNodePorts).
            shared = by_port_number.get(port.get("port")) if old_spec is None else None
            if shared is not None:
                port["nodePort"] = shared
                continue
            try:
                value = self.ports.allocate()
            except AllocationError as exc:
                fail(errors.internal_error(f"failed to allocate a nodePort: {exc}"))
            allocated.add(value)
            taken_ports.append(value)
            port["nodePort"] = value
            by_port_number[port.get("port")] = value
        return []

    async def before_create(self, resource: Resource, obj: Obj, info: RequestInfo) -> Callable[[], None] | None:
        if not self._is_service(resource):
            return None
        return self._allocate(obj, None)

    def prepare_update(self, resource: Resource, new: Obj, old: Obj) -> None:
        """Carry allocated values a client left out (kubectl apply omits clusterIP and nodePorts)."""
        if not self._is_service(resource):
            return
        spec = new.setdefault("spec", {})
        old_spec = old.get("spec") or {}
        if _needs_cluster_ip(spec) or spec.get("type", "ClusterIP") == old_spec.get("type", "ClusterIP"):
            if not spec.get("clusterIP") and old_spec.get("clusterIP") and spec.get("type", "ClusterIP") != "ExternalName":
                spec["clusterIP"] = old_spec["clusterIP"]
            if not spec.get("clusterIPs") and old_spec.get("clusterIPs") and spec.get("clusterIP") == old_spec.get("clusterIP"):
                spec["clusterIPs"] = list(old_spec["clusterIPs"])
        if _may_hold_node_ports(spec) and _may_hold_node_ports(old_spec):
            by_port = {(p.get("port"), p.get("protocol", "TCP")): p.get("nodePort") for p in old_spec.get("ports") or []}
            for port in spec.get("ports") or []:
                if not port.get("nodePort"):
                    previous = by_port.get((port.get("port"), port.get("protocol", "TCP")))
                    if previous:
                        port["nodePort"] = previous
        if _needs_health_check_port(spec) and _needs_health_check_port(old_spec):
            if not spec.get("healthCheckNodePort") and old_spec.get("healthCheckNodePort"):
                spec["healthCheckNodePort"] = old_spec["healthCheckNodePort"]

    async def before_update(self, resource: Resource, new: Obj, old: Obj, info: RequestInfo) -> Callable[[], None] | None:
        if not self._is_service(resource):
            return None
        # Only new takes are undone on a failed write; releases wait for success (after_update).
        return self._allocate(new, old)

    def _released(self, new: Obj, old: Obj) -> tuple[list[str], list[int]]:
        new_spec = new.get("spec") or {}
        old_spec = old.get("spec") or {}
        ips = []
        if old_spec.get("clusterIP") not in (None, "", "None") and old_spec.get("clusterIP") != new_spec.get("clusterIP"):
            ips.append(old_spec["clusterIP"])
        new_ports = _node_ports(new_spec)
        if new_spec.get("healthCheckNodePort"):
            new_ports.add(new_spec["healthCheckNodePort"])
        old_ports = _node_ports(old_spec)
        if old_spec.get("healthCheckNodePort"):
            old_ports.add(old_spec["healthCheckNodePort"])
        return ips, sorted(old_ports - new_ports)

    def after_update(self, resource: Resource, new: Obj, old: Obj) -> None:
        if not self._is_service(resource):
            return
        ips, ports = self._released(new, old)
        for ip in ips:
            self.ips.release(ip)
        for port in ports:
            self.ports.release(port)

    def after_delete(self, resource: Resource, obj: Obj) -> None:
        if not self._is_service(resource):
            return
        spec = obj.get("spec") or {}
        self.ips.release(spec.get("clusterIP"))
        for port in _node_ports(spec):
            self.ports.release(port)
        self.ports.release(spec.get("healthCheckNodePort") or None)
