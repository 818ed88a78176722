"""agent: the node agent — registers the Node, heartbeats, watches its pods and hands them to pod workers.

`NodeAgent` is one node: registration (create, or reconcile an existing Node), the node status
loop (conditions every 10 s, written when they change or every 5 min), the Lease heartbeat, the
PLEG, the prober (a probe result that changes syncs its pod), and the pod workers fed from
informer events. It takes its pods either from its own
informer (`spec.nodeName=<node>`) or from a caller that dispatches one shared informer to many
agents (`simulated_nodes`). `run_agent` is the entry point for one real node.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Sequence

from kybernetes.agent import events as ev
from kybernetes.agent import node as nodeinfo
from kybernetes.agent.events import EventRecorder, node_reference
from kybernetes.agent.hooks import HookRunner, RuntimeHookRunner
from kybernetes.agent.housekeeping import run_housekeeping
from kybernetes.agent.images import ImageService
from kybernetes.agent.lease import DEFAULT_LEASE_DURATION, NodeLease
from kybernetes.agent.lifecycle import APIConfigSource, PodSyncer
from kybernetes.agent.pleg import watch_runtime
from kybernetes.agent.podspec import DNSSettings
from kybernetes.agent.podworkers import PodUpdate, PodWorkers, UpdateType
from kybernetes.agent.prober.manager import ProberManager
from kybernetes.agent.prober.probes import Prober, RuntimeProber, SimulatedProber
from kybernetes.agent.runtime.protocol import Runtime
from kybernetes.agent.runtime.simulated import RUNTIME_NAME as SIMULATED_RUNTIME
from kybernetes.agent.status import format_time
from kybernetes.agent.statusmanager import StatusManager
from kybernetes.agent.sync import NodeFacts, RuntimeManager
from kybernetes.aio.clock import Clock, RealClock
from kybernetes.client import errors
from kybernetes.client.config import Config
from kybernetes.client.informer import Informer
from kybernetes.client.rest import NODES, PODS, Client

log = logging.getLogger(__name__)

Obj = dict[str, Any]


@dataclass
class AgentSettings:
    """AgentSettings configure one node agent; every attribute has upstream's default."""

    node_name: str
    """The Node's name; `kyb agent` defaults it to the host name, lower-cased."""
    node_ips: tuple[str, ...] = ()
    """InternalIP addresses; empty means the machine's first non-loopback IPv4."""
    hostname: str = ""
    """The Hostname address; empty means the node name."""
    role: str = ""
    """`control-plane` on a server: adds k3s' role labels."""
    labels: dict[str, str] = field(default_factory=dict)
    """Extra node labels (`--node-label`)."""
    taints: tuple[Obj, ...] = ()
    """Taints to register with (`--node-taint`)."""
    pod_cidr: str = ""
    """The node's pod range, written to spec.podCIDR when set."""
    max_pods: int = nodeinfo.DEFAULT_MAX_PODS
    cluster_dns: tuple[str, ...] = ()
    cluster_domain: str = "cluster.local"
    data_dir: Path | None = None
    """Where the node file system is measured for ephemeral-storage and disk pressure."""
    lease_duration: int = DEFAULT_LEASE_DURATION
    node_status_update_frequency: float = 10.0
    """How often conditions are computed."""
    node_status_report_frequency: float = 300.0
    """How often the status is written when nothing changed."""
    resync_interval: float = 60.0
    """How often each pod is synced when nothing happens to it."""
    backoff_period: float = 10.0
    """First delay of container restart and image pull back-offs; also the error requeue."""
    max_backoff: float = 300.0
    relist_period: float = 1.0
    """How often a runtime without events is relisted (the generic PLEG)."""
    node_events: bool = True
    """Emit the node's own events (Starting, NodeReady, …); simulated fleets turn them off."""
    kubelet_port: int = nodeinfo.KUBELET_PORT
    """The agent's HTTPS port, published in the Node's daemonEndpoints."""
    measure_pressure: bool = True
    """Read memory, disk and PID pressure from this machine; simulated nodes report none."""


@dataclass(frozen=True)
class RuntimeInfo:
    """RuntimeInfo names the runtime in container IDs and in the Node's containerRuntimeVersion."""

    name: str
    version: str

    @property
    def runtime_version(self) -> str:
        return f"{self.name}://{self.version}"


def _uid(pod: Obj) -> str:
    return str((pod.get("metadata") or {}).get("uid", ""))


def differs_semantically(old: Obj, new: Obj) -> bool:
    """Whether a pod update is more than a status change (upstream's podsDifferSemantically).

    The agent's own status writes come back as updates; syncing on them would loop.
    """
    old_meta, new_meta = old.get("metadata") or {}, new.get("metadata") or {}
    return (old.get("spec") != new.get("spec")
            or any(old_meta.get(k) != new_meta.get(k)
                   for k in ("labels", "annotations", "deletionTimestamp", "deletionGracePeriodSeconds")))


class NodeAgent:
    """NodeAgent is one node's agent."""

    def __init__(self, client: Client, settings: AgentSettings, *, runtime: Runtime, runtime_info: RuntimeInfo,
                 images: ImageService, machine: nodeinfo.MachineInfo, recorder: EventRecorder,
                 status_manager: StatusManager, hooks: HookRunner | None = None, prober: Prober | None = None,
                 clock: Clock | None = None) -> None:
        self.client = client
        self.settings = settings
        self.runtime = runtime
        self.runtime_info = runtime_info
        self.machine = machine
        self.recorder = recorder
        self.status_manager = status_manager
        self.clock: Clock = clock or RealClock()
        self.name = settings.node_name
        ips = settings.node_ips or nodeinfo.node_ips()
        self.node_spec = nodeinfo.NodeSpec(
            name=self.name,
            addresses=tuple(("InternalIP", ip) for ip in ips) + (("Hostname", settings.hostname or self.name),),
            runtime_version=runtime_info.runtime_version,
            labels={**nodeinfo.default_labels(self.name, machine, role=settings.role), **settings.labels},
            pod_cidr=settings.pod_cidr, max_pods=settings.max_pods, taints=settings.taints,
            kubelet_port=settings.kubelet_port,
        )
        self.node_uid = ""
        self.registered = asyncio.Event()
        self.pods: dict[str, Obj] = {}
        """The pods bound to this node, by UID, as last seen from the API."""
        if prober is None:
            # A simulated pod's IP is on no interface: probing it for real would send packets off
            # this machine (or time out). Simulated runtimes get answers, not connections.
            prober = SimulatedProber() if runtime_info.name == SIMULATED_RUNTIME else RuntimeProber(runtime)
        self.prober = ProberManager(prober=prober, recorder=recorder, statuses=status_manager.cached, clock=self.clock,
                                    node_name=self.name, on_result=self.on_probe_result)
        facts = NodeFacts(node_name=self.name, host_ips=ips,
                          allocatable=nodeinfo.allocatable(machine, settings.max_pods),
                          memory_capacity=machine.memory_bytes,
                          dns=DNSSettings(settings.cluster_dns, settings.cluster_domain))
        self.manager = RuntimeManager(
            runtime=runtime, runtime_name=runtime_info.name, images=images,
            hooks=hooks or RuntimeHookRunner(runtime, clock=self.clock), recorder=recorder,
            config_source=APIConfigSource(client), clock=self.clock, node=facts,
            backoff_period=settings.backoff_period, max_backoff=settings.max_backoff, health=self.prober,
        )
        self.syncer = PodSyncer(manager=self.manager, status=status_manager, config_source=APIConfigSource(client),
                                host_ips=ips, backoff_period=settings.backoff_period, probes=self.prober)
        self.workers = PodWorkers(self.syncer, clock=self.clock, resync_interval=settings.resync_interval,
                                  error_backoff=settings.backoff_period, max_error_backoff=settings.max_backoff)
        self.lease = NodeLease(client, self.name, clock=self.clock, duration=settings.lease_duration,
                               node_uid=lambda: self.node_uid)
        self._reported: Obj | None = None
        self._reported_at = 0.0

    # -- pods ------------------------------------------------------------------------------------

    def on_pod_add(self, pod: Obj) -> None:
        self.pods[_uid(pod)] = pod
        self.status_manager.observe(pod)
        self.workers.update(PodUpdate(UpdateType.CREATE, pod))

    def on_pod_update(self, old: Obj, new: Obj) -> None:
        self.pods[_uid(new)] = new
        self.status_manager.observe(new)
        if differs_semantically(old, new):
            self.workers.update(PodUpdate(UpdateType.UPDATE, new))
        else:
            self.workers.refresh(new)

    def on_pod_delete(self, pod: Obj) -> None:
        self.pods.pop(_uid(pod), None)
        self.workers.removed(pod)

    def on_probe_result(self, uid: str) -> None:
        """A probe's verdict on one of the pod's containers changed: sync the pod (upstream's handleProbeSync)."""
        pod = self.pods.get(uid)
        if pod is not None:
            self.workers.update(PodUpdate(UpdateType.SYNC, pod))

    def on_runtime_change(self, uid: str) -> None:
        """The PLEG saw this pod's containers change: sync it with the newest pod object."""
        pod = self.pods.get(uid)
        if pod is not None:
            self.workers.update(PodUpdate(UpdateType.SYNC, pod))

    # -- the Node ----------------------------------------------------------------------------------

    def _health(self) -> nodeinfo.Health:
        if not self.settings.measure_pressure:
            return nodeinfo.Health()
        return nodeinfo.pressure_now(self.machine, self.settings.data_dir)

    async def register(self) -> None:
        """Create the Node, or take over an existing one of the same name (upstream's tryRegisterWithAPIServer)."""
        now = format_time(self.clock.now())
        wanted = nodeinfo.node_object(self.node_spec, self.machine, self._health(), now)
        try:
            created = await self.client.create(NODES, wanted)
            self.node_uid = str(created["metadata"]["uid"])
            self._reported = created.get("status") or wanted["status"]
        except errors.AlreadyExistsError:
            existing = await self.client.get(NODES, self.name)
            labels = {**(existing["metadata"].get("labels") or {}), **wanted["metadata"]["labels"]}
            annotations = {**(existing["metadata"].get("annotations") or {}), **wanted["metadata"]["annotations"]}
            patch: Obj = {"metadata": {"labels": labels, "annotations": annotations}}
            if wanted["spec"].get("podCIDR") and not existing.get("spec", {}).get("podCIDR"):
                patch["spec"] = {"podCIDR": wanted["spec"]["podCIDR"], "podCIDRs": wanted["spec"]["podCIDRs"]}
            updated = await self.client.patch(NODES, self.name, patch)
            self.node_uid = str(updated["metadata"]["uid"])
            old_conditions = (existing.get("status") or {}).get("conditions") or []
            status = nodeinfo.node_status(self.node_spec, self.machine, self._health(), old_conditions, now)
            await self.client.patch(NODES, self.name, {"status": status}, subresource="status")
            self._reported = status
        self._reported_at = self.clock.monotonic()
        self.registered.set()
        log.info("node %s registered", self.name)
        if self.settings.node_events:
            ref = node_reference(self.name)
            self.recorder.record(ref, ev.NORMAL, ev.STARTING_KUBELET, "Starting kubelet.", host=self.name)
            for reason in ("NodeHasSufficientMemory", "NodeHasNoDiskPressure", "NodeHasSufficientPID"):
                self.recorder.record(ref, ev.NORMAL, reason, f"Node {self.name} status is now: {reason}", host=self.name)
            self.recorder.record(ref, ev.NORMAL, ev.NODE_ALLOCATABLE_ENFORCED,
                                 "Updated Node Allocatable limit across pods", host=self.name)
            self.recorder.record(ref, ev.NORMAL, ev.NODE_READY, f"Node {self.name} status is now: NodeReady", host=self.name)

    async def update_node_status(self) -> bool:
        """Compute the status; write it if it changed or the report interval passed. True if written."""
        old = self._reported or {}
        now = format_time(self.clock.now())
        status = nodeinfo.node_status(self.node_spec, self.machine, self._health(), old.get("conditions") or [], now)
        due = self.clock.monotonic() - self._reported_at >= self.settings.node_status_report_frequency
        if not due and nodeinfo.heartbeat_free(status) == nodeinfo.heartbeat_free(old):
            return False
        await self.client.patch(NODES, self.name, {"status": status}, subresource="status")
        if self.settings.node_events:
            was = {c.get("type"): c.get("status") for c in old.get("conditions") or []}
            for condition in status["conditions"]:
                if condition["type"] == "Ready" and was.get("Ready") != condition["status"]:
                    reason = ev.NODE_READY if condition["status"] == "True" else ev.NODE_NOT_READY
                    self.recorder.record(node_reference(self.name), ev.NORMAL, reason,
                                         f"Node {self.name} status is now: {reason}", host=self.name)
        self._reported = status
        self._reported_at = self.clock.monotonic()
        return True

    async def _node_status_loop(self) -> None:
        while True:
            await self.clock.sleep(self.settings.node_status_update_frequency)
            try:
                await self.update_node_status()
            except errors.ClientError as err:
                log.warning("node %s: updating status failed: %s", self.name, err)

    async def register_until_done(self) -> None:
        """Register, retrying with back-off until the API server accepts the Node."""
        attempt = 0
        while True:
            try:
                await self.register()
                return
            except errors.ClientError as err:
                delay = min(7.0, 0.1 * 2**attempt)
                attempt += 1
                log.warning("node %s: registering failed, retrying in %.1fs: %s", self.name, delay, err)
                await self.clock.sleep(delay)

    # -- running ------------------------------------------------------------------------------------

    def pod_informer(self) -> Informer:
        """An informer of the pods bound to this node, feeding this agent."""
        informer = Informer(self.client, PODS, field_selector=f"spec.nodeName={self.name}", clock=self.clock)
        informer.add_handlers(on_add=self.on_pod_add, on_update=self.on_pod_update, on_delete=self.on_pod_delete)
        return informer

    async def run(self, *, watch_pods: bool = True, registered: bool = False) -> None:
        """Run until cancelled: register (unless the caller did), then heartbeat, report status and run pods."""
        if not registered:
            await self.runtime.adopt()
            await self.register_until_done()
        async with asyncio.TaskGroup() as group:
            group.create_task(self.lease.run(), name=f"lease {self.name}")
            group.create_task(self._node_status_loop(), name=f"node status {self.name}")
            group.create_task(self.workers.run(), name=f"pod workers {self.name}")
            group.create_task(self.prober.run(), name=f"prober {self.name}")
            group.create_task(watch_runtime(self.runtime, self.on_runtime_change, clock=self.clock,
                                            period=self.settings.relist_period), name=f"pleg {self.name}")
            if watch_pods:
                informer = self.pod_informer()
                group.create_task(informer.run(), name=f"pods of {self.name}")
                group.create_task(run_housekeeping(self, lambda: informer.has_synced), name=f"housekeeping {self.name}")


async def run_agent(config: Config, *, node_name: str, runtime: Runtime, images: ImageService,
                    runtime_info: RuntimeInfo, settings: AgentSettings | None = None, hooks: HookRunner | None = None,
                    prober: Prober | None = None, machine: nodeinfo.MachineInfo | None = None,
                    clock: Clock | None = None, stop: asyncio.Event | None = None,
                    services: Sequence[Callable[[NodeAgent], Awaitable[None]]] = ()) -> None:
    """Run one node agent against the API server of `config` until `stop` is set or the task is cancelled.

    `services` run alongside the agent for as long as it runs (the agent's HTTPS port).
    """
    settings = settings or AgentSettings(node_name=node_name)
    settings.node_name = node_name
    clock = clock or RealClock()
    machine = machine or nodeinfo.read_machine_info(settings.data_dir or Path.cwd())
    async with Client(config, user_agent=f"kyb-agent/{node_name}") as client:
        recorder = EventRecorder(client, clock=clock)
        status = StatusManager(client, clock=clock)
        agent = NodeAgent(client, settings, runtime=runtime, runtime_info=runtime_info, images=images, machine=machine,
                          recorder=recorder, status_manager=status, hooks=hooks, prober=prober, clock=clock)
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(recorder.run(), name="events"),
                         group.create_task(status.run(), name="pod status"),
                         group.create_task(agent.run(), name=f"agent {node_name}")]
                tasks += [group.create_task(service(agent), name="agent service") for service in services]
                if stop is not None:
                    await stop.wait()
                    for task in tasks:
                        task.cancel()
        finally:
            await runtime.close()
