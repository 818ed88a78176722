"""stats: a container's and the node's CPU and memory use, read from cgroups and /proc as cadvisor reads them.

CPU is cumulative core-nanoseconds (a rate needs two readings); memory is the working set: usage
minus the inactive file-backed pages, which the kernel can drop before anything else, so that
page cache a container merely read through does not count (cadvisor's `working_set`, which
upstream's `kubectl top` shows).

    cgroup v1   cpuacct.usage                     memory.usage_in_bytes − total_inactive_file
    cgroup v2   cpu.stat usage_usec               memory.current − inactive_file
    node        the root cgroup's figures; where the root has none (v2): /proc/stat and
                /proc/meminfo (MemTotal − MemFree − Inactive(file))

A container's cgroup is `<pod cgroup parent>/<container id>` in every hierarchy (the bundle's
`cgroupsPath`); on hybrid machines the v1 controllers are the ones that account.
"""

from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass
from pathlib import Path

from kybernetes.agent.runtime.types import ContainerStats, PodSandboxConfig

PROC = Path("/proc")


@dataclass(frozen=True, slots=True)
class NodeStats:
    """NodeStats is one reading of the whole node's CPU and memory use."""

    timestamp: int
    """When it was read, UTC nanoseconds since the epoch."""
    cpu_usage_core_nanoseconds: int
    """CPU time used since boot, all cores together (cumulative)."""
    memory_working_set_bytes: int


@dataclass(frozen=True, slots=True)
class CgroupMounts:
    """CgroupMounts say where the v1 cpuacct and memory controllers are mounted, and the v2 hierarchy if any."""

    cpuacct: Path | None = None
    memory: Path | None = None
    unified: Path | None = None

    @classmethod
    def parse(cls, mountinfo: str) -> CgroupMounts:
        """Read the mounts from /proc/self/mountinfo's text."""
        cpuacct = memory = unified = None
        for line in mountinfo.splitlines():
            left, _, right = line.partition(" - ")
            fields, rest = left.split(" "), right.split(" ")
            if len(fields) < 5 or len(rest) < 3:
                continue
            mount_point = Path(fields[4])
            if rest[0] == "cgroup2":
                unified = unified or mount_point
            elif rest[0] == "cgroup":
                options = rest[2].split(",")
                if "cpuacct" in options:
                    cpuacct = cpuacct or mount_point
                if "memory" in options:
                    memory = memory or mount_point
        return cls(cpuacct=cpuacct, memory=memory, unified=unified)

    @classmethod
    @functools.cache
    def of_this_machine(cls) -> CgroupMounts:
        """The mounts of this machine, read once: cgroup hierarchies are mounted at boot and stay."""
        try:
            return cls.parse((PROC / "self" / "mountinfo").read_text())
        except OSError:
            return cls()

    @property
    def v1(self) -> bool:
        return self.cpuacct is not None and self.memory is not None


def container_cgroup(sandbox: PodSandboxConfig, container_id: str) -> str:
    """The container's cgroup path below each hierarchy's root, as the bundle gives it to runc."""
    return f"{sandbox.effective_cgroup_parent.rstrip('/')}/{container_id}"


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _read_keyed(path: Path) -> dict[str, int]:
    """A flat-keyed cgroup file (`memory.stat`, `cpu.stat`): one `key value` per line."""
    out: dict[str, int] = {}
    try:
        text = path.read_text()
    except OSError:
        return out
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        try:
            out[key] = int(value)
        except ValueError:
            continue
    return out


def working_set(usage: int, inactive_file: int) -> int:
    """cadvisor's working set: usage without inactive file pages, never below zero."""
    return usage - inactive_file if usage > inactive_file else 0


def read_cgroup(mounts: CgroupMounts, path: str, *, now_ns: int | None = None) -> ContainerStats | None:
    """The use accounted to cgroup `path` (relative to the hierarchy roots); None if it is gone."""
    rel = path.strip("/")
    timestamp = now_ns if now_ns is not None else time.time_ns()
    if mounts.v1:
        assert mounts.cpuacct is not None and mounts.memory is not None
        cpu = _read_int(mounts.cpuacct / rel / "cpuacct.usage")
        usage = _read_int(mounts.memory / rel / "memory.usage_in_bytes")
        if cpu is None or usage is None:
            return None
        inactive = _read_keyed(mounts.memory / rel / "memory.stat").get("total_inactive_file", 0)
        return ContainerStats(timestamp, cpu, working_set(usage, inactive))
    if mounts.unified is not None:
        directory = mounts.unified / rel
        cpu_stat = _read_keyed(directory / "cpu.stat")
        usage = _read_int(directory / "memory.current")
        if "usage_usec" not in cpu_stat or usage is None:
            return None
        inactive = _read_keyed(directory / "memory.stat").get("inactive_file", 0)
        return ContainerStats(timestamp, cpu_stat["usage_usec"] * 1000, working_set(usage, inactive))
    return None


def _proc_cpu_ns(proc: Path) -> int | None:
    """Busy CPU time since boot from /proc/stat's `cpu` line (all but idle and iowait), in nanoseconds."""
    try:
        first = (proc / "stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    if not first or first[0] != "cpu":
        return None
    try:
        ticks = [int(v) for v in first[1:9]]
    except ValueError:
        return None
    # user nice system idle iowait irq softirq steal: guest time is already inside user and nice.
    busy = sum(ticks) - ticks[3] - (ticks[4] if len(ticks) > 4 else 0)
    return busy * 1_000_000_000 // os.sysconf("SC_CLK_TCK")


def _proc_memory_working_set(proc: Path) -> int | None:
    """MemTotal − MemFree − Inactive(file) from /proc/meminfo (libcontainer's root figures), in bytes."""
    values: dict[str, int] = {}
    try:
        text = (proc / "meminfo").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts:
            try:
                values[key] = int(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
            except ValueError:
                continue
    if "MemTotal" not in values or "MemFree" not in values:
        return None
    return working_set(values["MemTotal"] - values["MemFree"], values.get("Inactive(file)", 0))


def read_node(mounts: CgroupMounts, *, proc: Path = PROC, now_ns: int | None = None) -> NodeStats | None:
    """The whole node's use: the root cgroup's where it has figures, else the kernel's totals in /proc."""
    timestamp = now_ns if now_ns is not None else time.time_ns()
    root = read_cgroup(mounts, "/", now_ns=timestamp) if mounts.v1 else None
    if root is not None:
        return NodeStats(timestamp, root.cpu_usage_core_nanoseconds, root.memory_working_set_bytes)
    # The v2 root cgroup has cpu.stat but no memory.current.
    cpu: int | None = None
    if mounts.unified is not None:
        usec = _read_keyed(mounts.unified / "cpu.stat").get("usage_usec")
        cpu = usec * 1000 if usec is not None else None
    if cpu is None:
        cpu = _proc_cpu_ns(proc)
    memory = _proc_memory_working_set(proc)
    if cpu is None or memory is None:
        return None
    return NodeStats(timestamp, cpu, memory)
