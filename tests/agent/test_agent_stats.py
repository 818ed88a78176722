"""Resource figures on the node: cgroup and /proc readers (on fake trees), and the agent's `/metrics/resource` page."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from kybernetes.agent import resourcemetrics
from kybernetes.agent import server as agent_server
from kybernetes.agent.podstate import RuntimePodStatus
from kybernetes.agent.runtime import simulated, stats
from kybernetes.agent.runtime.simulated import SimulatedRuntime
from kybernetes.agent.runtime.types import ContainerConfig, ContainerStats, PodSandboxConfig
from kybernetes.aio.clock import FakeClock

Obj = dict[str, Any]

V1_MOUNTINFO = """\
25 30 0:23 / /sys rw,nosuid - sysfs sysfs rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
COMBINED_MOUNTINFO = """\
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:12 - cgroup cgroup rw,memory
"""
V2_MOUNTINFO = "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.parametrize(
    ("mountinfo", "expected"),
    [
        (V1_MOUNTINFO, stats.CgroupMounts(Path("/sys/fs/cgroup/cpuacct"), Path("/sys/fs/cgroup/memory"),
                                          Path("/sys/fs/cgroup/unified"))),
        (COMBINED_MOUNTINFO, stats.CgroupMounts(Path("/sys/fs/cgroup/cpu,cpuacct"), Path("/sys/fs/cgroup/memory"))),
        (V2_MOUNTINFO, stats.CgroupMounts(unified=Path("/sys/fs/cgroup"))),
    ],
    ids=["hybrid", "cpu-cpuacct-together", "v2"],
)
def test_the_accounting_hierarchies_are_found_in_mountinfo(mountinfo: str, expected: stats.CgroupMounts) -> None:
    assert stats.CgroupMounts.parse(mountinfo) == expected


@pytest.fixture
def v1(tmp_path: Path) -> stats.CgroupMounts:
    return stats.CgroupMounts(cpuacct=tmp_path / "cpuacct", memory=tmp_path / "memory", unified=tmp_path / "unified")


def test_a_v1_container_is_its_cpuacct_usage_and_memory_without_inactive_file_pages(v1: stats.CgroupMounts) -> None:
    assert v1.cpuacct is not None and v1.memory is not None
    write(v1.cpuacct / "kybernetes/podu1/c1/cpuacct.usage", "1500000000\n")
    write(v1.memory / "kybernetes/podu1/c1/memory.usage_in_bytes", "10485760\n")
    write(v1.memory / "kybernetes/podu1/c1/memory.stat",
          "cache 4194304\ninactive_file 1\ntotal_inactive_file 2097152\ntotal_active_file 0\n")
    got = stats.read_cgroup(v1, "/kybernetes/podu1/c1", now_ns=123)
    assert got == ContainerStats(timestamp=123, cpu_usage_core_nanoseconds=1_500_000_000,
                                 memory_working_set_bytes=10485760 - 2097152)


def test_a_working_set_never_goes_below_zero(v1: stats.CgroupMounts) -> None:
    assert v1.cpuacct is not None and v1.memory is not None
    write(v1.cpuacct / "c/cpuacct.usage", "7")
    write(v1.memory / "c/memory.usage_in_bytes", "4096")
    write(v1.memory / "c/memory.stat", "total_inactive_file 8192\n")
    got = stats.read_cgroup(v1, "c", now_ns=1)
    assert got is not None and got.memory_working_set_bytes == 0


def test_a_cgroup_that_is_gone_has_no_figures(v1: stats.CgroupMounts) -> None:
    assert stats.read_cgroup(v1, "/kybernetes/podu1/gone") is None
    assert stats.read_cgroup(stats.CgroupMounts(), "/anything") is None


def test_a_v2_container_is_its_cpu_stat_and_memory_current(tmp_path: Path) -> None:
    mounts = stats.CgroupMounts(unified=tmp_path)
    write(tmp_path / "kybernetes/podu1/c1/cpu.stat", "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n")
    write(tmp_path / "kybernetes/podu1/c1/memory.current", "8388608\n")
    write(tmp_path / "kybernetes/podu1/c1/memory.stat", "anon 4194304\nfile 4194304\ninactive_file 1048576\n")
    got = stats.read_cgroup(mounts, "/kybernetes/podu1/c1", now_ns=5)
    assert got == ContainerStats(5, 2_500_000_000, 8388608 - 1048576)


def test_the_container_cgroup_is_the_pod_parent_and_the_container_id() -> None:
    assert stats.container_cgroup(PodSandboxConfig(uid="u1", name="p", namespace="n"), "abc") == "/kybernetes/podu1/abc"
    custom = PodSandboxConfig(uid="u1", name="p", namespace="n", cgroup_parent="/custom/")
    assert stats.container_cgroup(custom, "abc") == "/custom/abc"


def test_a_v1_node_is_its_root_cgroup(v1: stats.CgroupMounts) -> None:
    assert v1.cpuacct is not None and v1.memory is not None
    write(v1.cpuacct / "cpuacct.usage", "9000000000000\n")
    write(v1.memory / "memory.usage_in_bytes", "2147483648\n")
    write(v1.memory / "memory.stat", "total_inactive_file 1073741824\n")
    assert stats.read_node(v1, now_ns=9) == stats.NodeStats(9, 9_000_000_000_000, 1073741824)


def test_a_v2_node_takes_cpu_from_the_root_and_memory_from_meminfo(tmp_path: Path) -> None:
    mounts = stats.CgroupMounts(unified=tmp_path / "cgroup")
    write(tmp_path / "cgroup/cpu.stat", "usage_usec 4000000\n")
    write(tmp_path / "proc/meminfo",
          "MemTotal:       16000000 kB\nMemFree:         6000000 kB\nMemAvailable:   12000000 kB\n"
          "Inactive(file):  1000000 kB\n")
    got = stats.read_node(mounts, proc=tmp_path / "proc", now_ns=3)
    assert got == stats.NodeStats(3, 4_000_000_000, (16000000 - 6000000 - 1000000) * 1024)


def test_without_cgroups_the_node_cpu_is_the_busy_time_in_proc_stat(tmp_path: Path) -> None:
    # user nice system idle iowait irq softirq steal, in clock ticks: idle and iowait are not busy.
    write(tmp_path / "stat", "cpu  100 20 30 5000 70 1 2 3 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n")
    write(tmp_path / "meminfo", "MemTotal: 2048 kB\nMemFree: 1024 kB\n")
    got = stats.read_node(stats.CgroupMounts(), proc=tmp_path, now_ns=1)
    ticks = 100 + 20 + 30 + 1 + 2 + 3
    assert got is not None
    assert got.cpu_usage_core_nanoseconds == ticks * 1_000_000_000 // os.sysconf("SC_CLK_TCK")
    assert got.memory_working_set_bytes == 1024 * 1024


# ----- the Prometheus page -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.0, "0"), (10.0, "10"), (1000.0, "1000"), (1e6, "1e+06"), (285761536.0, "2.85761536e+08"),
     (9475.046395264, "9475.046395264"), (1.6243962483020916e09, "1.6243962483020916e+09"), (0.0001, "0.0001"),
     (0.00001, "1e-05"), (-2.5, "-2.5")],
    ids=["zero", "ten", "thousand", "million", "memory", "cpu-seconds", "start-time", "small", "tiny", "negative"],
)
def test_sample_values_are_written_as_gos_shortest_g_format(value: float, text: str) -> None:
    assert resourcemetrics.go_float(value) == text


def test_the_page_has_upstreams_names_labels_and_millisecond_timestamps() -> None:
    at = 1_624_396_278_302_091_597
    page = resourcemetrics.render(
        stats.NodeStats(at, 10_000_000_000, 1000),
        [resourcemetrics.ContainerSample("namespace_a", "pod_a", "container_a", at - 30_000_000_000,
                                         ContainerStats(at, 10_000_000_000, 1000))],
    )
    assert page == """\
# HELP node_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the node in core-seconds
# TYPE node_cpu_usage_seconds_total counter
node_cpu_usage_seconds_total 10 1624396278302
# HELP node_memory_working_set_bytes [STABLE] Current working set of the node in bytes
# TYPE node_memory_working_set_bytes gauge
node_memory_working_set_bytes 1000 1624396278302
# HELP container_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the container in core-seconds
# TYPE container_cpu_usage_seconds_total counter
container_cpu_usage_seconds_total{container="container_a",namespace="namespace_a",pod="pod_a"} 10 1624396278302
# HELP container_memory_working_set_bytes [STABLE] Current working set of the container in bytes
# TYPE container_memory_working_set_bytes gauge
container_memory_working_set_bytes{container="container_a",namespace="namespace_a",pod="pod_a"} 1000 1624396278302
# HELP container_start_time_seconds [STABLE] Start time of the container since unix epoch in seconds
# TYPE container_start_time_seconds gauge
container_start_time_seconds{container="container_a",namespace="namespace_a",pod="pod_a"} 1.6243962483020916e+09
# HELP resource_scrape_error [STABLE] 1 if there was an error while getting container metrics, 0 otherwise
# TYPE resource_scrape_error gauge
resource_scrape_error 0
"""


def test_a_page_without_readings_says_only_whether_scraping_failed() -> None:
    assert resourcemetrics.render(None, [], scrape_error=True).splitlines()[-1] == "resource_scrape_error 1"
    assert "node_" not in resourcemetrics.render(None, [])


# ----- the simulated runtime's figures and the agent's endpoint ------------------------------------


@dataclass
class Host:
    """A Host over the simulated runtime, as the agent server sees it."""

    runtime: SimulatedRuntime
    pods: list[Obj] = field(default_factory=list)

    def pod_by_name(self, namespace: str, name: str) -> Obj | None:
        return None

    def pod_status(self, pod: Obj) -> Obj:
        return {}

    async def runtime_pod(self, uid: str) -> RuntimePodStatus:
        return RuntimePodStatus.of(uid, await self.runtime.list_sandboxes(), await self.runtime.list_containers())

    def node_stats(self) -> stats.NodeStats | None:
        return self.runtime.node_stats()


async def test_simulated_containers_use_a_steady_millicore_and_four_mebibytes_while_running() -> None:
    clock = FakeClock()
    runtime = SimulatedRuntime(clock=clock)
    sandbox = await runtime.run_pod_sandbox(PodSandboxConfig(uid="u1", name="web", namespace="ns"))
    app = await runtime.create_container(sandbox, ContainerConfig(name="app", lowerdirs=()))
    assert await runtime.container_stats(app) is None  # created, not running
    await runtime.start_container(app)
    first = await runtime.container_stats(app)
    clock.step(10)
    second = await runtime.container_stats(app)
    assert first is not None and second is not None
    assert second.memory_working_set_bytes == 4 * 2**20
    window = second.timestamp - first.timestamp
    assert (second.cpu_usage_core_nanoseconds - first.cpu_usage_core_nanoseconds) * 10**9 // window == 1_000_000
    await runtime.stop_container(app, timeout=0)
    assert await runtime.container_stats(app) is None


async def test_the_simulated_node_counts_its_containers_and_its_cpu_never_goes_back() -> None:
    clock = FakeClock()
    runtime = SimulatedRuntime(clock=clock)
    idle = runtime.node_stats()
    assert idle.memory_working_set_bytes == simulated.NODE_MEMORY_BYTES
    sandbox = await runtime.run_pod_sandbox(PodSandboxConfig(uid="u1", name="web", namespace="ns"))
    app = await runtime.create_container(sandbox, ContainerConfig(name="app", lowerdirs=()))
    await runtime.start_container(app)
    clock.step(5)
    busy = runtime.node_stats()
    assert busy.memory_working_set_bytes == simulated.NODE_MEMORY_BYTES + simulated.CONTAINER_MEMORY_BYTES
    await runtime.remove_pod_sandbox(sandbox)
    after = runtime.node_stats()
    assert after.cpu_usage_core_nanoseconds >= busy.cpu_usage_core_nanoseconds > idle.cpu_usage_core_nanoseconds
    assert after.memory_working_set_bytes == simulated.NODE_MEMORY_BYTES


async def test_the_agent_serves_the_node_and_its_running_containers_only() -> None:
    runtime = SimulatedRuntime()
    sandbox = await runtime.run_pod_sandbox(PodSandboxConfig(uid="u1", name="web", namespace="ns"))
    app = await runtime.create_container(sandbox, ContainerConfig(name="app", lowerdirs=()))
    await runtime.start_container(app)
    await runtime.create_container(sandbox, ContainerConfig(name="later", lowerdirs=()))
    async with TestServer(agent_server.AgentServer(Host(runtime)).application()) as srv:
        async with aiohttp.ClientSession() as session:
            async with session.get(srv.make_url("/metrics/resource")) as resp:
                assert resp.status == 200
                assert resp.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
                page = await resp.text()
    samples = [line for line in page.splitlines() if line and not line.startswith("#")]
    names = sorted(line.split("{")[0].split(" ")[0] for line in samples)
    assert names == ["container_cpu_usage_seconds_total", "container_memory_working_set_bytes",
                     "container_start_time_seconds", "node_cpu_usage_seconds_total", "node_memory_working_set_bytes",
                     "resource_scrape_error"]
    assert 'container_memory_working_set_bytes{container="app",namespace="ns",pod="web"} 4.194304e+06 ' in page
    assert 'container="later"' not in page
    assert "resource_scrape_error 0" in page
