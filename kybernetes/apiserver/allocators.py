"""Allocators: Service ClusterIPs from --service-cidr and NodePorts from --service-node-port-range.

The allocation state is rebuilt from the stored Services at start (the store is the truth);
an allocation is taken before the write and released if the write fails or the Service goes.
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


class AllocationError(Exception):
    pass


@dataclass
class IPAllocator:
    """IPAllocator hands out addresses of a CIDR, skipping the network and broadcast addresses."""

    cidr: ipaddress.IPv4Network
    used: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._first = int(self.cidr.network_address) + 1
        self._last = int(self.cidr.broadcast_address) - 1

    def contains(self, ip: str) -> bool:
        try:
            return ipaddress.ip_address(ip) in self.cidr
        except ValueError:
            return False

    def allocate(self, ip: str | None = None) -> str:
        if ip is not None:
            value = int(ipaddress.ip_address(ip))
            if not self._first <= value <= self._last:
                raise AllocationError(f"the provided IP ({ip}) is not in the valid range. The range of valid IPs is {self.cidr}")
            if value in self.used:
                raise AllocationError(f"failed to allocate IP {ip}: provided IP is already allocated")
            self.used.add(value)
            return ip
        size = self._last - self._first + 1
        if len(self.used) >= size:
            raise AllocationError("range is full")
        start = random.randrange(size)
        for offset in range(size):
            value = self._first + (start + offset) % size
            if value not in self.used:
                self.used.add(value)
                return str(ipaddress.ip_address(value))
        raise AllocationError("range is full")

    def release(self, ip: str | None) -> None:
        if ip and self.contains(ip):
            self.used.discard(int(ipaddress.ip_address(ip)))


@dataclass
class PortAllocator:
    low: int
    high: int
    used: set[int] = field(default_factory=set)

    def allocate(self, port: int | None = None) -> int:
        if port is not None:
            if not self.low <= port <= self.high:
                raise AllocationError(
                    f"provided port is not in the valid range. The range of valid ports is {self.low}-{self.high}"
                )
            if port in self.used:
                raise AllocationError("provided port is already allocated")
            self.used.add(port)
            return port
        free = self.high - self.low + 1 - len(self.used)
        if free <= 0:
            raise AllocationError("range is full")
        while True:
            candidate = random.randint(self.low, self.high)
            if candidate not in self.used:
                self.used.add(candidate)
                return candidate

    def release(self, port: int | None) -> None:
        if port is not None:
            self.used.discard(port)


def _needs_node_ports(spec: dict[str, Any]) -> bool:
    return spec.get("type") in ("NodePort", "LoadBalancer")


def _needs_cluster_ip(spec: dict[str, Any]) -> bool:
    return spec.get("type", "ClusterIP") != "ExternalName" and spec.get("clusterIP") != "None"


class ServiceAllocations(Hooks):
    """ServiceAllocations is the store hook that gives Services their ClusterIP and NodePorts."""

    def __init__(self, *, service_cidr: str, node_port_range: str) -> None:
        self.ips = IPAllocator(ipaddress.ip_network(service_cidr, strict=False))  # type: ignore[arg-type]
        low, _, high = node_port_range.partition("-")
        self.ports = PortAllocator(int(low), int(high))

    @staticmethod
    def _is_service(resource: Resource) -> bool:
        return resource.strategy.kind == "Service" and resource.strategy.group == ""

    def restore(self, services: Iterable[Obj]) -> None:
        for svc in services:
            spec = svc.get("spec") or {}
            ip = spec.get("clusterIP")
            if ip and ip != "None" and self.ips.contains(ip):
                self.ips.used.add(int(ipaddress.ip_address(ip)))
            for port in spec.get("ports") or []:
                if port.get("nodePort"):
                    self.ports.used.add(int(port["nodePort"]))

    def _allocate(self, svc: Obj, old: Obj | None) -> Callable[[], None]:
        spec = svc.setdefault("spec", {})
        old_spec = (old or {}).get("spec") or {}
        taken_ips: list[str] = []
        taken_ports: list[int] = []
        errs: list[FieldError] = []

        def undo() -> None:
            for ip in taken_ips:
                self.ips.release(ip)
            for port in taken_ports:
                self.ports.release(port)

        if _needs_cluster_ip(spec):
            wanted = spec.get("clusterIP") or None
            if old is not None and wanted and wanted == old_spec.get("clusterIP"):
                pass
            else:
                try:
                    ip = self.ips.allocate(wanted)
                    taken_ips.append(ip)
                    spec["clusterIP"] = ip
                except AllocationError as exc:
                    errs.append(errors.invalid("spec.clusterIPs", [wanted] if wanted else [], str(exc)))
            if spec.get("clusterIP"):
                spec["clusterIPs"] = [spec["clusterIP"]]
                spec.setdefault("ipFamilies", ["IPv4"])
                spec.setdefault("ipFamilyPolicy", "SingleStack")
        elif spec.get("clusterIP") == "None":
            spec["clusterIPs"] = ["None"]
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
        old_ports = {p.get("nodePort") for p in old_spec.get("ports") or [] if p.get("nodePort")}
        if _needs_node_ports(spec):
            for i, port in enumerate(spec.get("ports") or []):
                wanted_port = port.get("nodePort") or None
                if wanted_port is not None and wanted_port in old_ports:
                    continue
                try:
                    port["nodePort"] = self.ports.allocate(wanted_port)
                    taken_ports.append(port["nodePort"])
                except AllocationError as exc:
                    errs.append(errors.invalid(f"spec.ports[{i}].nodePort", wanted_port, str(exc)))
        else:
            for port in spec.get("ports") or []:
                port.pop("nodePort", None)
        if errs:
            undo()
            raise errors.invalid_error("Service", (svc.get("metadata") or {}).get("name", ""), errs)
        return undo

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
        if _needs_node_ports(spec) and _needs_node_ports(old_spec):
            by_port = {(p.get("port"), p.get("protocol", "TCP")): p.get("nodePort") for p in old_spec.get("ports") or []}
            for port in spec.get("ports") or []:
                if not port.get("nodePort"):
                    previous = by_port.get((port.get("port"), port.get("protocol", "TCP")))
                    if previous:
                        port["nodePort"] = previous

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
        new_ports = {p.get("nodePort") for p in new_spec.get("ports") or []}
        ports = [p["nodePort"] for p in old_spec.get("ports") or [] if p.get("nodePort") and p["nodePort"] not in new_ports]
        return ips, ports

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
        for port in spec.get("ports") or []:
            self.ports.release(port.get("nodePort"))
