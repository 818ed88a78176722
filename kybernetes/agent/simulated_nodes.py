"""simulated_nodes: many simulated nodes in one process (like kwok), for controller tests and scale work.

Every node is a full `NodeAgent` — registration, lease, conditions, pod workers, status — over a
`SimulatedRuntime`, so pods go through the same lifecycle as on a real node, but nothing runs.
To reach thousands of nodes and tens of thousands of pods in one process the nodes share what
can be shared: one API client, one pod informer dispatching by `spec.nodeName`, one status
manager writing all pods' statuses through a bounded pool, and one rate-limited event recorder.
No pod has a task of its own while idle, and containers exit on timers, not polls.

Each node gets a pod range carved from the top of `cluster_cidr` (/24 when it fits, smaller for large
fleets) and an InternalIP from `node_ip_range` (loopback by default: the address is a label, and
anything that does try to reach it stays on this machine).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
from dataclasses import dataclass, field, replace
from typing import Any

from kybernetes.agent.agent import AgentSettings, NodeAgent, RuntimeInfo
from kybernetes.agent.events import EventRecorder
from kybernetes.agent.hooks import SimulatedHookRunner
from kybernetes.agent.images import SimulatedImageService
from kybernetes.agent.node import simulated_machine_info
from kybernetes.agent.runtime.simulated import RUNTIME_NAME, RUNTIME_VERSION, SimulatedRuntime, SimulatedSettings
from kybernetes.agent.statusmanager import StatusManager
from kybernetes.aio.clock import Clock, RealClock
from kybernetes.client.config import Config
from kybernetes.client.informer import Informer
from kybernetes.client.rest import PODS, Client

log = logging.getLogger(__name__)

Obj = dict[str, Any]

SIMULATED_LABEL = "kybernetes.io/simulated"


@dataclass
class FleetSettings:
    """FleetSettings configure a fleet of simulated nodes."""

    cluster_cidr: str = "10.42.0.0/16"
    """Pod ranges of all nodes are carved from here."""
    node_ip_range: str = "127.64.0.0/10"
    """Node InternalIPs come from here, one per node."""
    template: AgentSettings = field(default_factory=lambda: AgentSettings(
        node_name="", node_events=False, measure_pressure=False, resync_interval=300.0))
    """Settings every node starts from; name, IPs, pod range and labels are filled per node."""
    status_writers: int = 32
    """Concurrent pod status writes for the whole fleet."""
    event_qps: float = 100.0
    """Events written per second for the whole fleet; the rest wait, then drop when the queue is full."""
    event_burst: int = 200
    event_queue: int = 5000
    register_concurrency: int = 64
    """Nodes registering at once."""
    init_container_seconds: float = 0.0
    """How long unscripted init containers run."""


def node_cidrs(cluster_cidr: str, count: int) -> list[str]:
    """One pod range per node: /24s (IPv6: /64s) if the cluster range has room, else the largest equal split."""
    network = ipaddress.ip_network(cluster_cidr, strict=False)
    bits = math.ceil(math.log2(count)) if count > 1 else 0
    prefix = max(network.max_prefixlen - 8 if network.version == 4 else 64, network.prefixlen + bits)
    if prefix > network.max_prefixlen - 2:
        raise ValueError(f"{cluster_cidr} is too small for {count} nodes")
    # From the top of the range down: the server's own node takes the first /24 and joining nodes
    # the lowest free ones, so a fleet beside them does not hand out the same pod IPs.
    size = 2 ** (network.max_prefixlen - prefix)
    first = 2 ** (prefix - network.prefixlen) - count
    return [str(ipaddress.ip_network((int(network.network_address) + (first + i) * size, prefix)))
            for i in range(count)]


def node_addresses(node_ip_range: str, count: int) -> list[str]:
    network = ipaddress.ip_network(node_ip_range, strict=False)
    hosts = network.hosts()
    return [str(next(hosts)) for _ in range(count)]


class Fleet:
    """Fleet is the simulated nodes of one process and what they share."""

    def __init__(self, client: Client, *, count: int, prefix: str = "sim-node", settings: FleetSettings | None = None,
                 clock: Clock | None = None) -> None:
        self.client = client
        self.settings = settings or FleetSettings()
        self.clock: Clock = clock or RealClock()
        self.recorder = EventRecorder(client, clock=self.clock, qps=self.settings.event_qps,
                                      burst=self.settings.event_burst, queue_size=self.settings.event_queue)
        self.status = StatusManager(client, clock=self.clock, writers=self.settings.status_writers)
        self.agents: dict[str, NodeAgent] = {}
        cidrs = node_cidrs(self.settings.cluster_cidr, count)
        ips = node_addresses(self.settings.node_ip_range, count)
        info = RuntimeInfo(RUNTIME_NAME, RUNTIME_VERSION)
        images = SimulatedImageService()
        for i in range(count):
            name = f"{prefix}-{i}"
            agent_settings = replace(self.settings.template, node_name=name, node_ips=(ips[i],), pod_cidr=cidrs[i],
                                     labels={**self.settings.template.labels, SIMULATED_LABEL: "true"})
            runtime = SimulatedRuntime(SimulatedSettings(pod_cidr=cidrs[i],
                                                         init_container_seconds=self.settings.init_container_seconds),
                                       clock=self.clock)
            self.agents[name] = NodeAgent(
                client, agent_settings, runtime=runtime, runtime_info=info, images=images,
                machine=simulated_machine_info(name), recorder=self.recorder, status_manager=self.status,
                hooks=SimulatedHookRunner(clock=self.clock), clock=self.clock)
        self.informer = Informer(client, PODS, clock=self.clock)
        self.informer.add_handlers(on_add=self._on_add, on_update=self._on_update, on_delete=self._on_delete)

    def _agent(self, pod: Obj) -> NodeAgent | None:
        return self.agents.get(str((pod.get("spec") or {}).get("nodeName") or ""))

    def _on_add(self, pod: Obj) -> None:
        if (agent := self._agent(pod)) is not None:
            agent.on_pod_add(pod)

    def _on_update(self, old: Obj, new: Obj) -> None:
        agent = self._agent(new)
        if agent is None:
            return
        if self._agent(old) is not agent:
            agent.on_pod_add(new)
        else:
            agent.on_pod_update(old, new)

    def _on_delete(self, pod: Obj) -> None:
        if (agent := self._agent(pod)) is not None:
            agent.on_pod_delete(pod)

    async def wait_registered(self) -> None:
        for agent in self.agents.values():
            await agent.registered.wait()

    async def _run_agent(self, agent: NodeAgent, gate: asyncio.Semaphore) -> None:
        async with gate:
            await agent.runtime.adopt()
            await agent.register_until_done()
        await agent.run(watch_pods=False, registered=True)

    async def run(self) -> None:
        """Run every node until cancelled."""
        gate = asyncio.Semaphore(self.settings.register_concurrency)
        async with asyncio.TaskGroup() as group:
            group.create_task(self.recorder.run(), name="events")
            group.create_task(self.status.run(), name="pod status")
            group.create_task(self.informer.run(), name="pods")
            for agent in self.agents.values():
                group.create_task(self._run_agent(agent, gate), name=f"agent {agent.name}")


async def run_simulated_nodes(config: Config, *, count: int, prefix: str = "sim-node",
                              settings: FleetSettings | None = None, stop: asyncio.Event | None = None) -> None:
    """Run `count` simulated nodes named `<prefix>-0` … against the API server of `config`."""
    async with Client(config, user_agent=f"kyb-agent/simulated-{prefix}") as client:
        fleet = Fleet(client, count=count, prefix=prefix, settings=settings)
        log.info("simulating %d nodes %s-0 … %s-%d", count, prefix, prefix, count - 1)
        task = asyncio.ensure_future(fleet.run())
        try:
            if stop is None:
                await task
            else:
                stopped = asyncio.ensure_future(stop.wait())
                await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
                stopped.cancel()
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
