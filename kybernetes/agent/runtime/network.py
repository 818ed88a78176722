"""network: pod network namespaces, wired with the standard CNI plugins (bridge + host-local, loopback, portmap).

Each pod gets one network namespace, bind-mounted under /run/netns like `ip netns add` makes it,
and shared by all its containers. ADD runs `loopback` and `bridge` (with `host-local` IPAM over
the node's slice of the cluster CIDR), then `portmap` when the pod publishes host ports; the
bridge result is kept under `<data-dir>/agent/cni/results/` because DEL needs it as `prevResult`
(portmap) and because a restarted agent must report the pod IP. DEL runs in reverse order, and
releases the IP, the veth and the port-forwarding rules; then the namespace is deleted.

Plugins are driven by the CNI protocol: CNI_* environment variables, network config JSON on
stdin, result JSON on stdout, errors as JSON `{code, msg, details}`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from kybernetes.agent.runtime.protocol import RuntimeCommandError
from kybernetes.aio import process
from kybernetes.agent.runtime.types import PortMapping

CNI_VERSION = "1.0.0"
NETNS_DIR = Path("/run/netns")


@dataclass(frozen=True, slots=True)
class NetworkSettings:
    """NetworkSettings says how this node wires pods."""

    pod_cidr: str = "10.42.0.0/24"
    """This node's slice of the cluster CIDR; pod IPs come from it."""
    bridge: str = "kyb0"
    """The Linux bridge every pod's veth joins; its address is the pods' gateway."""
    network_name: str = "kybernetes"
    """The CNI network name: host-local keeps its allocations under `<state>/networks/<name>`."""
    plugin_dirs: tuple[Path, ...] = (Path("/usr/lib/cni"), Path("/opt/cni/bin"))
    mtu: int = 1500
    masquerade: bool = False
    """Source-NAT pod traffic leaving the pod CIDR (bridge plugin's ipMasq); off by default."""
    hairpin: bool = True
    """Let a pod reach itself through a Service (hairpin mode on its bridge port)."""
    extra_routes: tuple[str, ...] = ("0.0.0.0/0",)
    """Routes set inside the pod via the bridge's gateway."""
    netns_prefix: str = "kyb-"


@dataclass(frozen=True, slots=True)
class PodNetwork:
    """PodNetwork is the outcome of wiring one pod: its namespace and address."""

    netns: Path
    ip: str
    gateway: str = ""
    result: dict[str, Any] = field(default_factory=dict)


class CNI:
    """CNI wires and unwires pod network namespaces with CNI plugin binaries."""

    def __init__(self, settings: NetworkSettings, *, state_dir: Path) -> None:
        self.settings = settings
        self.state_dir = state_dir
        self.results_dir = state_dir / "results"
        self.ipam_dir = state_dir / "networks"
        ipaddress.ip_network(settings.pod_cidr, strict=False)

    # -- configs -----------------------------------------------------------------------------

    def _bridge_config(self) -> dict[str, Any]:
        s = self.settings
        return {
            "cniVersion": CNI_VERSION,
            "name": s.network_name,
            "type": "bridge",
            "bridge": s.bridge,
            "isGateway": True,
            "ipMasq": s.masquerade,
            "hairpinMode": s.hairpin,
            "mtu": s.mtu,
            "ipam": {
                "type": "host-local",
                "ranges": [[{"subnet": str(ipaddress.ip_network(s.pod_cidr, strict=False))}]],
                "routes": [{"dst": r} for r in s.extra_routes],
                "dataDir": str(self.ipam_dir),
            },
        }

    def _loopback_config(self) -> dict[str, Any]:
        return {"cniVersion": CNI_VERSION, "name": "loopback", "type": "loopback"}

    def _portmap_config(self, ports: Sequence[PortMapping], prev: dict[str, Any] | None) -> dict[str, Any]:
        config: dict[str, Any] = {
            "cniVersion": CNI_VERSION,
            "name": self.settings.network_name,
            "type": "portmap",
            "capabilities": {"portMappings": True},
            "snat": True,
            "runtimeConfig": {
                "portMappings": [
                    {"hostPort": p.host_port, "containerPort": p.container_port, "protocol": p.protocol,
                     **({"hostIP": p.host_ip} if p.host_ip else {})}
                    for p in ports
                ]
            },
        }
        if prev is not None:
            config["prevResult"] = prev
        return config

    # -- plugin protocol ---------------------------------------------------------------------

    def _plugin(self, name: str) -> Path:
        for d in self.settings.plugin_dirs:
            if (d / name).is_file():
                return d / name
        raise RuntimeCommandError(f"CNI plugin {name!r} not found in {', '.join(map(str, self.settings.plugin_dirs))}")

    async def _invoke(self, command: str, config: dict[str, Any], *, container_id: str, netns: Path | None, ifname: str) -> dict[str, Any]:
        plugin = self._plugin(config["type"])
        env = {
            "CNI_COMMAND": command,
            "CNI_CONTAINERID": container_id,
            "CNI_NETNS": str(netns) if netns else "",
            "CNI_IFNAME": ifname,
            "CNI_PATH": ":".join(str(d) for d in self.settings.plugin_dirs),
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        }
        done = await process.run([str(plugin)], input=json.dumps(config).encode(), env=env)
        out, err = done.stdout, done.stderr
        if done.returncode != 0:
            message = err.decode(errors="replace")
            try:
                failure = json.loads(out)
                message = f"{failure.get('msg', '')} {failure.get('details', '')}".strip() or message
            except ValueError:
                message = (out + err).decode(errors="replace")
            raise RuntimeCommandError(f"CNI {config['type']} {command} failed", output=message)
        return json.loads(out) if out.strip() else {}

    # -- namespaces --------------------------------------------------------------------------

    def netns_path(self, sandbox_id: str) -> Path:
        return NETNS_DIR / f"{self.settings.netns_prefix}{sandbox_id[:16]}"

    async def create_netns(self, sandbox_id: str) -> Path:
        path = self.netns_path(sandbox_id)
        if not path.exists():
            await _run("ip", "netns", "add", path.name)
        return path

    async def delete_netns(self, path: Path) -> None:
        if path.exists():
            await _run("ip", "netns", "delete", path.name)

    # -- pod wiring --------------------------------------------------------------------------

    def _result_path(self, sandbox_id: str) -> Path:
        return self.results_dir / f"{sandbox_id}.json"

    async def add(self, sandbox_id: str, ports: Sequence[PortMapping] = ()) -> PodNetwork:
        """add creates the pod's namespace and wires it; on failure nothing is left behind."""
        netns = await self.create_netns(sandbox_id)
        self.results_dir.mkdir(parents=True, exist_ok=True)
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._invoke("ADD", self._loopback_config(), container_id=sandbox_id, netns=netns, ifname="lo"))
                bridge = tg.create_task(self._invoke("ADD", self._bridge_config(), container_id=sandbox_id, netns=netns, ifname="eth0"))
            result = bridge.result()
            # Recorded before portmap runs: if portmap fails, DEL still knows what to undo.
            record = {"netns": str(netns), "ports": [_port_dict(p) for p in ports], "result": result}
            _write_json(self._result_path(sandbox_id), record)
            if ports:
                await self._invoke("ADD", self._portmap_config(ports, result), container_id=sandbox_id, netns=netns, ifname="eth0")
        except BaseException:
            try:
                await self.delete(sandbox_id, netns=netns)
            except RuntimeCommandError:
                pass  # The ADD failure is the one worth reporting.
            raise
        return _pod_network(netns, result)

    def status(self, sandbox_id: str) -> PodNetwork | None:
        """status is the recorded wiring of the pod, or None if it has none."""
        try:
            record = json.loads(self._result_path(sandbox_id).read_text())
        except FileNotFoundError:
            return None
        return _pod_network(Path(record["netns"]), record["result"])

    async def delete(self, sandbox_id: str, *, netns: Path | None = None) -> None:
        """delete unwires the pod and deletes its namespace; idempotent, and runs every step it can."""
        try:
            record = json.loads(self._result_path(sandbox_id).read_text())
        except FileNotFoundError:
            record = {}
        netns = netns or (Path(record["netns"]) if record else self.netns_path(sandbox_id))
        ports = [PortMapping(**p) for p in record.get("ports", ())]
        errors: list[BaseException] = []
        steps: list[tuple[dict[str, Any], str]] = []
        if ports:
            steps.append((self._portmap_config(ports, record.get("result")), "eth0"))
        steps += [(self._bridge_config(), "eth0"), (self._loopback_config(), "lo")]
        for config, ifname in steps:
            try:
                # DEL with the namespace gone is still valid CNI: it releases the IP and firewall rules.
                await self._invoke("DEL", config, container_id=sandbox_id, netns=netns if netns.exists() else None, ifname=ifname)
            except RuntimeCommandError as exc:
                errors.append(exc)
        try:
            await self.delete_netns(netns)
        except RuntimeCommandError as exc:
            errors.append(exc)
        if errors:
            raise errors[0]
        self._result_path(sandbox_id).unlink(missing_ok=True)


def _port_dict(p: PortMapping) -> dict[str, Any]:
    return {"container_port": p.container_port, "host_port": p.host_port, "protocol": p.protocol, "host_ip": p.host_ip}


def _pod_network(netns: Path, result: dict[str, Any]) -> PodNetwork:
    ip, gateway = "", ""
    for entry in result.get("ips", ()):
        address = entry.get("address", "")
        if address:
            ip = address.split("/", 1)[0]
            gateway = entry.get("gateway", "")
            break
    return PodNetwork(netns=netns, ip=ip, gateway=gateway, result=result)


async def fence_ranges(cidrs: Sequence[str]) -> None:
    """Give the cluster's pod and Service ranges an unreachable route on this host.

    This node's pod bridge (a /24) and, later, Service rules are more specific and still win; what
    is left — an address of no pod here, a Service IP nothing answers — fails at once instead of
    following the default route off the machine (pods route these ranges to the host).
    """
    for cidr in cidrs:
        await _run("ip", "route", "replace", "unreachable", str(ipaddress.ip_network(cidr, strict=False)))


def _write_json(path: Path, value: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(value))
    os.replace(tmp, path)


async def _run(*argv: str) -> str:
    done = await process.run(argv, merge_stderr=True)
    if done.returncode != 0:
        raise RuntimeCommandError(" ".join(argv), output=done.stdout.decode(errors="replace"))
    return done.stdout.decode()
