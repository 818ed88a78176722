"""node: the agent's Node object — machine facts, capacity and allocatable, addresses, conditions, nodeInfo.

Capacity comes from the machine (CPU count, MemTotal, the data directory's file system) plus
110 pods; allocatable subtracts upstream's default hard eviction thresholds (100Mi of memory,
10 % of the node file system). Conditions follow upstream's setters: MemoryPressure,
DiskPressure, PIDPressure, then Ready, each keeping its transition time while its status holds.
"""

from __future__ import annotations

import os
import platform
import secrets
import socket
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Obj = dict[str, Any]

KUBELET_VERSION = "v1.32.0+kyb"
"""The version the agent reports; the API server reports the same (apiserver.app.VersionInfo)."""
DEFAULT_MAX_PODS = 110
EVICTION_MEMORY_AVAILABLE = 100 * 1024 * 1024
EVICTION_NODEFS_AVAILABLE = 0.10
KUBELET_PORT = 10250

HOSTNAME_LABEL = "kubernetes.io/hostname"
OS_LABEL = "kubernetes.io/os"
ARCH_LABEL = "kubernetes.io/arch"
BETA_OS_LABEL = "beta.kubernetes.io/os"
BETA_ARCH_LABEL = "beta.kubernetes.io/arch"
INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
CONTROL_PLANE_ROLE = "node-role.kubernetes.io/control-plane"
MASTER_ROLE = "node-role.kubernetes.io/master"


def go_arch(machine: str) -> str:
    """Go's GOARCH name for a kernel machine name."""
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x",
            "riscv64": "riscv64"}.get(machine, machine)


@dataclass(frozen=True)
class MachineInfo:
    """MachineInfo is what the Node reports about the machine it runs on."""

    cpus: int
    memory_bytes: int
    ephemeral_storage_bytes: int
    machine_id: str
    system_uuid: str
    boot_id: str
    kernel_version: str
    os_image: str
    architecture: str
    operating_system: str = "linux"
    hugepage_sizes: tuple[str, ...] = ()
    """Resource names such as `hugepages-2Mi`, reported with capacity 0."""


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def _meminfo(key: str) -> int:
    for line in _read("/proc/meminfo").splitlines():
        name, _, rest = line.partition(":")
        if name == key:
            return int(rest.split()[0]) * 1024
    return 0


def _os_image() -> str:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.partition("=")[2].strip().strip('"')
    return "Linux"


def _hugepage_sizes() -> tuple[str, ...]:
    try:
        names = os.listdir("/sys/kernel/mm/hugepages")
    except OSError:
        return ()
    out = []
    for name in sorted(names):
        kib = int(name.removeprefix("hugepages-").removesuffix("kB") or 0)
        if kib % (1024 * 1024) == 0:
            out.append(f"hugepages-{kib // (1024 * 1024)}Gi")
        elif kib % 1024 == 0:
            out.append(f"hugepages-{kib // 1024}Mi")
    return tuple(out)


def read_machine_info(data_dir: Path) -> MachineInfo:
    """Read the machine's facts from /proc, /sys, /etc and the data directory's file system."""
    data_dir.mkdir(parents=True, exist_ok=True)
    fs = os.statvfs(data_dir)
    machine_id = _read("/etc/machine-id") or _read("/var/lib/dbus/machine-id")
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return MachineInfo(
        cpus=cpus, memory_bytes=_meminfo("MemTotal"), ephemeral_storage_bytes=fs.f_blocks * fs.f_frsize,
        machine_id=machine_id, system_uuid=_read("/sys/class/dmi/id/product_uuid") or machine_id,
        boot_id=_read("/proc/sys/kernel/random/boot_id"), kernel_version=platform.release(), os_image=_os_image(),
        architecture=go_arch(platform.machine()), hugepage_sizes=_hugepage_sizes(),
    )


SIMULATED_BOOT_ID = str(uuid.UUID(bytes=secrets.token_bytes(16), version=4))


def simulated_machine_info(node_name: str, *, cpus: int = 32, memory_bytes: int = 256 * 2**30,
                           storage_bytes: int = 2**40) -> MachineInfo:
    """A large made-up machine for a simulated node; IDs derive from its name, the boot ID from the process."""
    ident = uuid.uuid5(uuid.NAMESPACE_DNS, f"{node_name}.simulated.kybernetes.io")
    return MachineInfo(
        cpus=cpus, memory_bytes=memory_bytes, ephemeral_storage_bytes=storage_bytes, machine_id=ident.hex,
        system_uuid=str(ident), boot_id=SIMULATED_BOOT_ID, kernel_version=platform.release(),
        os_image="Kybernetes simulated node", architecture=go_arch(platform.machine()),
    )


def node_ips() -> tuple[str, ...]:
    """The machine's first non-loopback IPv4 address, as a node's InternalIP (empty if it has none)."""
    import ipaddress

    candidates: list[str] = []
    try:
        candidates += [info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)]
    except OSError:
        pass
    candidates += _interface_ipv4s()
    for ip in candidates:
        if not ipaddress.ip_address(ip).is_loopback:
            return (ip,)
    return ("127.0.0.1",)


def _interface_ipv4s() -> list[str]:
    """Each interface's IPv4 address, asked of the kernel with SIOCGIFADDR (no packet involved)."""
    import fcntl
    import struct

    out = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _, name in socket.if_nameindex():
            try:
                answer = fcntl.ioctl(sock.fileno(), 0x8915, struct.pack("256s", name.encode()[:15]))
            except OSError:
                continue
            out.append(socket.inet_ntoa(answer[20:24]))
    return out


def capacity(machine: MachineInfo, max_pods: int) -> dict[str, str]:
    out = {
        "cpu": str(machine.cpus),
        "ephemeral-storage": f"{machine.ephemeral_storage_bytes // 1024}Ki",
        "memory": f"{machine.memory_bytes // 1024}Ki",
        "pods": str(max_pods),
    }
    for name in machine.hugepage_sizes:
        out[name] = "0"
    return dict(sorted(out.items()))


def allocatable(machine: MachineInfo, max_pods: int) -> dict[str, str]:
    """Capacity less the hard eviction thresholds (no kube-reserved or system-reserved by default)."""
    out = capacity(machine, max_pods)
    storage = machine.ephemeral_storage_bytes
    out["ephemeral-storage"] = str(int(storage - storage * EVICTION_NODEFS_AVAILABLE))
    out["memory"] = f"{max(0, machine.memory_bytes - EVICTION_MEMORY_AVAILABLE) // 1024}Ki"
    return out


@dataclass(frozen=True)
class Health:
    """Health is what the conditions report; all False pressures and ready=True is a healthy node."""

    ready: bool = True
    not_ready_message: str = ""
    memory_pressure: bool = False
    disk_pressure: bool = False
    pid_pressure: bool = False


_CONDITIONS = (
    ("MemoryPressure", "memory_pressure",
     ("KubeletHasInsufficientMemory", "kubelet has insufficient memory available"),
     ("KubeletHasSufficientMemory", "kubelet has sufficient memory available")),
    ("DiskPressure", "disk_pressure",
     ("KubeletHasDiskPressure", "kubelet has disk pressure"),
     ("KubeletHasNoDiskPressure", "kubelet has no disk pressure")),
    ("PIDPressure", "pid_pressure",
     ("KubeletHasInsufficientPID", "kubelet has insufficient PID available"),
     ("KubeletHasSufficientPID", "kubelet has sufficient PID available")),
)


def conditions(health: Health, old: list[Obj], now: str) -> list[Obj]:
    """The node's four conditions; a condition keeps its lastTransitionTime while its status holds."""
    before = {c.get("type"): c for c in old if isinstance(c, dict)}

    def make(kind: str, status: str, reason: str, message: str) -> Obj:
        previous = before.get(kind)
        transition = previous.get("lastTransitionTime") if previous and previous.get("status") == status else now
        return {"type": kind, "status": status, "lastHeartbeatTime": now, "lastTransitionTime": transition or now,
                "reason": reason, "message": message}

    out = []
    for kind, attr, bad, good in _CONDITIONS:
        pressure = getattr(health, attr)
        out.append(make(kind, "True" if pressure else "False", *(bad if pressure else good)))
    if health.ready:
        out.append(make("Ready", "True", "KubeletReady", "kubelet is posting ready status"))
    else:
        out.append(make("Ready", "False", "KubeletNotReady", health.not_ready_message or "kubelet is not ready"))
    return out


def pressure_now(machine: MachineInfo, data_dir: Path | None) -> Health:
    """Measure memory and disk against the hard eviction thresholds."""
    memory = _meminfo("MemAvailable")
    disk = False
    if data_dir is not None:
        try:
            fs = os.statvfs(data_dir)
            disk = fs.f_blocks > 0 and fs.f_bavail / fs.f_blocks < EVICTION_NODEFS_AVAILABLE
        except OSError:
            pass
    pid_max = int(_read("/proc/sys/kernel/pid_max") or 0)
    pids = sum(1 for entry in os.scandir("/proc") if entry.name.isdigit()) if pid_max else 0
    return Health(memory_pressure=0 < memory < EVICTION_MEMORY_AVAILABLE, disk_pressure=disk,
                  pid_pressure=bool(pid_max) and pids > pid_max * 0.9)


@dataclass(frozen=True)
class NodeSpec:
    """NodeSpec is how the agent describes its node apart from the machine."""

    name: str
    addresses: tuple[tuple[str, str], ...]
    """(type, address) pairs: InternalIP, Hostname."""
    runtime_version: str
    """`<runtime>://<version>`, e.g. `runc://1.1.12`."""
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    pod_cidr: str = ""
    max_pods: int = DEFAULT_MAX_PODS
    taints: tuple[Obj, ...] = ()
    kubelet_version: str = KUBELET_VERSION
    kubelet_port: int = KUBELET_PORT
    """Where the agent's HTTPS server listens; the API server reaches logs, exec and port-forward there."""


def default_labels(name: str, machine: MachineInfo, *, role: str = "") -> dict[str, str]:
    """Upstream's default node labels, plus k3s' role labels on servers."""
    labels = {
        BETA_ARCH_LABEL: machine.architecture, BETA_OS_LABEL: machine.operating_system,
        ARCH_LABEL: machine.architecture, HOSTNAME_LABEL: name, OS_LABEL: machine.operating_system,
    }
    if role == "control-plane":
        labels[CONTROL_PLANE_ROLE] = "true"
        labels[MASTER_ROLE] = "true"
    return labels


def node_status(spec: NodeSpec, machine: MachineInfo, health: Health, old_conditions: list[Obj], now: str) -> Obj:
    return {
        "capacity": capacity(machine, spec.max_pods),
        "allocatable": allocatable(machine, spec.max_pods),
        "conditions": conditions(health, old_conditions, now),
        "addresses": [{"type": kind, "address": address} for kind, address in spec.addresses],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": spec.kubelet_port}},
        "nodeInfo": {
            "architecture": machine.architecture,
            "bootID": machine.boot_id,
            "containerRuntimeVersion": spec.runtime_version,
            "kernelVersion": machine.kernel_version,
            "kubeProxyVersion": "",
            "kubeletVersion": spec.kubelet_version,
            "machineID": machine.machine_id,
            "operatingSystem": machine.operating_system,
            "osImage": machine.os_image,
            "systemUUID": machine.system_uuid,
        },
    }


def node_object(spec: NodeSpec, machine: MachineInfo, health: Health, now: str) -> Obj:
    """The Node the agent registers."""
    node_spec: Obj = {}
    if spec.pod_cidr:
        node_spec["podCIDR"] = spec.pod_cidr
        node_spec["podCIDRs"] = [spec.pod_cidr]
    if spec.taints:
        node_spec["taints"] = [dict(t) for t in spec.taints]
    annotations = {"node.alpha.kubernetes.io/ttl": "0",
                   "volumes.kubernetes.io/controller-managed-attach-detach": "true", **spec.annotations}
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": spec.name, "labels": dict(spec.labels), "annotations": annotations},
        "spec": node_spec,
        "status": node_status(spec, machine, health, [], now),
    }


def heartbeat_free(status: Obj) -> Obj:
    """The status without heartbeat times, to tell whether anything changed."""
    out = dict(status)
    out["conditions"] = [{k: v for k, v in c.items() if k != "lastHeartbeatTime"} for c in status.get("conditions") or []]
    return out
