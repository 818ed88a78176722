"""node: assemble the node side for `kyb agent` and `kyb server` — one node on runc or simulated, or a simulated fleet.

The CLI turns flags into `NodeSettings` and calls `run_node`; everything the agent needs (the
runtime, the image service, the machine facts) is built here, so the agent package stays free of
process assembly. A simulated node needs no root and runs nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import shutil
import socket
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Awaitable, Callable, Literal

from kybernetes.agent.agent import AgentSettings, NodeAgent, RuntimeInfo, run_agent
from kybernetes.agent.hooks import SimulatedHookRunner
from kybernetes.agent.images import SimulatedImageService, StoreImageService
from kybernetes.agent.node import read_machine_info, simulated_machine_info
from kybernetes.agent.simulated_nodes import FleetSettings, run_simulated_nodes
from kybernetes.apiserver.pki import NodeTLSFiles
from kybernetes.client.config import Config

log = logging.getLogger("kybernetes")

RuntimeKind = Literal["runc", "simulated"]
AgentService = Callable[[NodeAgent], Awaitable[None]]
PodEgress = Literal["cluster", "all"]
DEFAULT_DATA_DIR = Path("/var/lib/kybernetes")


def default_node_name() -> str:
    """The host name, lower-cased, as upstream's kubelet names its node."""
    return socket.gethostname().lower()


@dataclass
class NodeSettings:
    """NodeSettings are the flags of `kyb agent` (and of the agent inside `kyb server`)."""

    data_dir: Path
    """The node's data directory: runtime state, images, logs."""
    node_name: str = field(default_factory=default_node_name)
    runtime: RuntimeKind = "runc"
    """`runc` runs containers (root); `simulated` runs nothing (no root)."""
    simulated_nodes: int = 0
    """Run this many simulated nodes instead of one node (`--simulated-nodes N`)."""
    simulated_prefix: str = "sim-node"
    """Simulated nodes are named `<prefix>-0` … `<prefix>-<N-1>`."""
    node_ips: tuple[str, ...] = ()
    """`--node-ip`; empty means the machine's first non-loopback IPv4."""
    labels: dict[str, str] = field(default_factory=dict)
    """`--node-label key=value`, repeatable."""
    taints: tuple[dict[str, str], ...] = ()
    """`--node-taint key=value:Effect`, repeatable."""
    role: str = ""
    """`control-plane` when the agent runs inside `kyb server`."""
    pod_cidr: str = "10.42.0.0/24"
    """This node's pod range (a single node's slice of the cluster CIDR)."""
    cluster_cidr: str = "10.42.0.0/16"
    """Where simulated fleets carve their nodes' pod ranges."""
    service_cidr: str = "10.43.0.0/16"
    """The Service range: with pod egress `cluster`, pods get a route to it and to the cluster CIDR only."""
    cluster_dns: tuple[str, ...] = ("10.43.0.10",)
    cluster_domain: str = "cluster.local"
    runc_binary: str = "runc"
    pod_egress: PodEgress = "cluster"
    """`cluster`: pods route only to the cluster and Service ranges (nothing leaves the machine through
    them); `all`: a default route and masquerading, as k3s gives pods."""
    kubelet_port: int = 10250
    """The agent's HTTPS port (logs, exec, attach, port-forward), as upstream's kubelet."""
    bridge: str = ""
    """The pod bridge; empty means `kyb0` for the default data dir, a name derived from it otherwise."""
    runtime_root: Path | None = None
    """runc's state directory; empty means one derived from the data dir (on tmpfs under /run)."""
    disable_default_registry_endpoint: bool = False
    """Pull mirrored registries through their mirrors only (k3s' flag of the same name)."""
    tls: NodeTLSFiles | None = None
    """The node's certificates (serving, client, CA) for its HTTPS port; none for simulated fleets."""

    def _suffix(self) -> str:
        """Nodes with their own data dir on one machine (tests, a second agent) must not share bridge or runc state."""
        if self.data_dir.resolve() == DEFAULT_DATA_DIR:
            return ""
        return hashlib.sha256(str(self.data_dir.resolve()).encode()).hexdigest()[:8]

    @property
    def bridge_name(self) -> str:
        suffix = self._suffix()
        return self.bridge or (f"kyb{suffix}" if suffix else "kyb0")

    @property
    def runc_root(self) -> Path:
        suffix = self._suffix()
        return self.runtime_root or Path("/run/kybernetes") / (f"runc-{suffix}" if suffix else "runc")

    def pod_routes(self) -> tuple[str, ...]:
        if self.pod_egress == "all":
            return ("0.0.0.0/0",)
        return (self.cluster_cidr, self.service_cidr)


def parse_taint(text: str) -> dict[str, str]:
    """`key=value:Effect` or `key:Effect` → a taint."""
    spec, sep, effect = text.rpartition(":")
    if not sep or not spec:
        raise ValueError(f"taint {text!r}: want key[=value]:Effect")
    key, _, value = spec.partition("=")
    taint = {"key": key, "effect": effect}
    if value:
        taint["value"] = value
    return taint


def _agent_settings(settings: NodeSettings) -> AgentSettings:
    return AgentSettings(
        node_name=settings.node_name, node_ips=settings.node_ips, role=settings.role, labels=dict(settings.labels),
        taints=tuple(settings.taints), pod_cidr=settings.pod_cidr, cluster_dns=settings.cluster_dns,
        cluster_domain=settings.cluster_domain, data_dir=settings.data_dir, kubelet_port=settings.kubelet_port,
    )


async def _runc_version(binary: str) -> str:
    path = shutil.which(binary) or binary
    try:
        proc = await asyncio.create_subprocess_exec(path, "--version", stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.DEVNULL)
        out, _ = await proc.communicate()
    except OSError:
        return "unknown"
    first = out.decode(errors="replace").splitlines()[:1]
    # "runc version 1.1.5" → "1.1.5"
    return first[0].split()[-1] if first and first[0].split() else "unknown"


def _agent_services(settings: NodeSettings) -> tuple[AgentService, ...]:
    """The agent's HTTPS port (logs, exec, attach, port-forward) when the node has its serving certificate."""
    tls = settings.tls
    if tls is None:
        return ()
    from kybernetes.agent import server

    paths = server.TLSPaths(cert=tls.serving_cert, key=tls.serving_key, ca=tls.ca_cert)

    async def serve(agent: NodeAgent) -> None:
        await server.serve(server.AgentHost(agent), port=settings.kubelet_port, tls=paths)

    return (serve,)


async def run_node(settings: NodeSettings, *, config: Config, stop: asyncio.Event | None = None) -> None:
    """Run the node side until `stop` is set or the task is cancelled."""
    if settings.simulated_nodes > 0:
        template = replace(FleetSettings().template, role=settings.role, labels=dict(settings.labels),
                           taints=tuple(settings.taints), cluster_dns=settings.cluster_dns,
                           cluster_domain=settings.cluster_domain)
        fleet = FleetSettings(cluster_cidr=settings.cluster_cidr, template=template)
        await run_simulated_nodes(config, count=settings.simulated_nodes, prefix=settings.simulated_prefix,
                                  settings=fleet, stop=stop)
        return
    agent_settings = _agent_settings(settings)
    if settings.runtime == "simulated":
        from kybernetes.agent.runtime.simulated import RUNTIME_NAME, RUNTIME_VERSION, SimulatedRuntime, SimulatedSettings

        agent_settings.measure_pressure = False
        log.info("node %s: simulated runtime (nothing runs)", settings.node_name)
        await run_agent(config, node_name=settings.node_name,
                        runtime=SimulatedRuntime(SimulatedSettings(pod_cidr=settings.pod_cidr)),
                        images=SimulatedImageService(), runtime_info=RuntimeInfo(RUNTIME_NAME, RUNTIME_VERSION),
                        settings=agent_settings, hooks=SimulatedHookRunner(),
                        machine=simulated_machine_info(settings.node_name), stop=stop,
                        services=_agent_services(settings))
        return
    from kybernetes.agent.runtime.network import NetworkSettings, fence_ranges
    from kybernetes.agent.runtime.runc import RuncRuntime, RuncSettings
    from kybernetes.images.pull import Puller
    from kybernetes.images.registry import RegistryConfig
    from kybernetes.images.store import ImageStore

    await fence_ranges((settings.cluster_cidr, settings.service_cidr))
    network = NetworkSettings(pod_cidr=settings.pod_cidr, bridge=settings.bridge_name,
                              extra_routes=settings.pod_routes(), masquerade=settings.pod_egress == "all")
    runtime = RuncRuntime(RuncSettings(data_dir=settings.data_dir, runtime_binary=settings.runc_binary,
                                       runtime_root=settings.runc_root, network=network))
    store = ImageStore.for_data_dir(settings.data_dir)
    registries = RegistryConfig.for_data_dir(settings.data_dir)
    if settings.disable_default_registry_endpoint:
        registries = replace(registries, disable_default_endpoint=True)
    async with Puller(store, registries) as puller:
        await run_agent(config, node_name=settings.node_name, runtime=runtime,
                        images=StoreImageService(store, puller),
                        runtime_info=RuntimeInfo("runc", await _runc_version(settings.runc_binary)),
                        settings=agent_settings, machine=read_machine_info(settings.data_dir), stop=stop,
                        services=_agent_services(settings))
