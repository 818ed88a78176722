"""runtimekit: what the runtime's root tests and benchmark need: a busybox image layer, a fenced test network, leftovers.

The test network is a bridge of its own on a random /24 that is not routed anywhere yet. Because
the bridge plugin turns IPv4 forwarding on, a guard nftables table drops anything forwarded from
the bridge that is not addressed to the test subnet, so no pod packet can leave the machine; the
previous forwarding setting is restored afterwards.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import random
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator

from kybernetes.agent.runtime.network import NETNS_DIR, NetworkSettings
from kybernetes.agent.runtime.runc import RuncRuntime, RuncSettings
from kybernetes.agent.runtime.types import ContainerConfig, PodSandboxConfig

BUSYBOX = Path("/usr/bin/busybox")
CNI_DIR = Path("/usr/lib/cni")
IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")


def missing_prerequisites() -> str:
    """missing_prerequisites is why the root tests cannot run here, or ''."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, mounts, cgroups)"
    for tool in ("runc", "ip", "nft"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if not BUSYBOX.exists():
        return f"{BUSYBOX} (busybox-static) is not installed"
    for plugin in ("bridge", "host-local", "loopback", "portmap"):
        if not (CNI_DIR / plugin).exists():
            return f"CNI plugin {plugin} missing from {CNI_DIR}"
    return ""


def build_busybox_layer(dest: Path) -> Path:
    """build_busybox_layer makes an image layer: /bin/busybox with every applet, users, a work dir."""
    (dest / "bin").mkdir(parents=True)
    shutil.copy2(BUSYBOX, dest / "bin" / "busybox")
    applets = subprocess.run([str(BUSYBOX), "--list"], capture_output=True, text=True, check=True).stdout.split()
    for applet in applets:
        if applet != "busybox":
            (dest / "bin" / applet).symlink_to("busybox")
    (dest / "etc").mkdir()
    (dest / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\n"
        "app:x:1000:1000:app:/home/app:/bin/sh\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
    )
    (dest / "etc" / "group").write_text("root:x:0:\napp:x:1000:\nextra:x:2000:app\nnogroup:x:65534:\n")
    for d in ("tmp", "root", "home/app", "srv", "proc", "sys", "dev"):
        (dest / d).mkdir(parents=True, exist_ok=True)
    (dest / "tmp").chmod(0o1777)
    os.chown(dest / "home" / "app", 1000, 1000)
    (dest / "srv" / "from-image.txt").write_text("layer\n")
    return dest


def _routed_networks() -> list[ipaddress.IPv4Network]:
    out = subprocess.run(["ip", "-j", "-4", "route", "show", "table", "all"], capture_output=True, text=True, check=True).stdout
    nets = []
    for route in json.loads(out or "[]"):
        dst = route.get("dst", "")
        if dst and dst != "default":
            try:
                nets.append(ipaddress.ip_network(dst if "/" in dst else f"{dst}/32", strict=False))
            except ValueError:
                continue
    return [n for n in nets if isinstance(n, ipaddress.IPv4Network)]


@dataclass
class TestNetwork:
    """TestNetwork is one fenced bridge network for a test session."""

    settings: NetworkSettings
    guard_table: str
    saved_ip_forward: str
    nat_tables_before: frozenset[str] = frozenset()

    @property
    def subnet(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.settings.pod_cidr)


def open_test_network() -> TestNetwork:
    routed = _routed_networks()
    for _ in range(100):
        subnet = ipaddress.IPv4Network(f"10.199.{random.randint(1, 254)}.0/24")
        if not any(subnet.overlaps(n) for n in routed):
            break
    else:
        raise RuntimeError("no free 10.199.x.0/24 for a test network")
    tag = secrets.token_hex(3)
    bridge = f"kybt{tag}"
    table = f"kybt_guard_{tag}"
    saved = IP_FORWARD.read_text().strip()
    rules = f"""
table inet {table} {{
  chain forward {{
    type filter hook forward priority -300; policy accept;
    iifname "{bridge}" ip daddr != {subnet} drop
    oifname "{bridge}" ip saddr != {subnet} drop
    iifname "{bridge}" meta nfproto ipv6 drop
  }}
}}
"""
    subprocess.run(["nft", "-f", "-"], input=rules, text=True, check=True)
    settings = NetworkSettings(pod_cidr=str(subnet), bridge=bridge, network_name=f"kybt-{tag}", netns_prefix=f"kybt{tag}-")
    return TestNetwork(settings=settings, guard_table=table, saved_ip_forward=saved, nat_tables_before=_nat_tables())


def _nat_tables() -> frozenset[str]:
    out = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    return frozenset(line.removeprefix("table ").strip() for line in out.splitlines() if line.endswith(" nat"))


# The node-wide chains the portmap plugin creates on first use and never removes.
_PORTMAP_JUMPS = (
    ("PREROUTING", ["-m", "addrtype", "--dst-type", "LOCAL", "-j", "CNI-HOSTPORT-DNAT"]),
    ("OUTPUT", ["-m", "addrtype", "--dst-type", "LOCAL", "-j", "CNI-HOSTPORT-DNAT"]),
    ("POSTROUTING", ["-m", "comment", "--comment", "CNI portfwd requiring masquerade", "-j", "CNI-HOSTPORT-MASQ"]),
)


def _remove_portmap_chains() -> None:
    for tool in ("iptables", "ip6tables"):
        rules = subprocess.run([tool, "-t", "nat", "-S", "CNI-HOSTPORT-DNAT"], capture_output=True, text=True)
        if rules.returncode != 0 or len(rules.stdout.splitlines()) > 1:
            continue  # absent, or still publishing someone's ports
        for chain, rule in _PORTMAP_JUMPS:
            subprocess.run([tool, "-t", "nat", "-D", chain, *rule], capture_output=True)
        for chain in ("CNI-HOSTPORT-MASQ", "CNI-HOSTPORT-SETMARK", "CNI-HOSTPORT-DNAT"):
            subprocess.run([tool, "-t", "nat", "-F", chain], capture_output=True)
            subprocess.run([tool, "-t", "nat", "-X", chain], capture_output=True)


def close_test_network(net: TestNetwork) -> None:
    # Namespaces with this session's prefix are ours alone; a failed test may have left one.
    for name in netns_names(net.settings.netns_prefix):
        subprocess.run(["ip", "netns", "delete", name], capture_output=True)
    subprocess.run(["ip", "link", "delete", net.settings.bridge], capture_output=True)
    IP_FORWARD.write_text(net.saved_ip_forward + "\n")
    subprocess.run(["nft", "delete", "table", "inet", net.guard_table], capture_output=True)
    if not net.nat_tables_before:
        # portmap ran here first: put the firewall back as it was, empty nat tables included.
        _remove_portmap_chains()
        for table in _nat_tables():
            listing = subprocess.run(["nft", "list", "table", *table.split()], capture_output=True, text=True).stdout
            rules = [
                line for line in (raw.strip() for raw in listing.splitlines())
                if line and line != "}" and not line.startswith(("table ", "chain ", "type "))
            ]
            if not rules:
                subprocess.run(["nft", "delete", "table", *table.split()], capture_output=True)


def netns_names(prefix: str) -> list[str]:
    try:
        return sorted(p.name for p in NETNS_DIR.iterdir() if p.name.startswith(prefix))
    except FileNotFoundError:
        return []


def bridge_ports(bridge: str) -> list[str]:
    out = subprocess.run(["ip", "-j", "link", "show", "master", bridge], capture_output=True, text=True).stdout
    return [link["ifname"] for link in json.loads(out or "[]")]


def ip_allocations(ipam_dir: Path) -> list[str]:
    """ip_allocations lists host-local's reserved-address files (its bookkeeping files excluded)."""
    found = []
    for p in ipam_dir.rglob("*"):
        try:
            ipaddress.ip_address(p.name)
        except ValueError:
            continue
        found.append(str(p))
    return found


def mounts_under(root: Path) -> list[str]:
    prefix = str(root.resolve())
    with open("/proc/self/mountinfo") as f:
        points = [line.split(" ")[4] for line in f]
    return [p for p in points if p == prefix or p.startswith(prefix + "/")]


def cgroup_dirs(relative: str) -> list[str]:
    rel = relative.strip("/")
    return [str(root / rel) for root in Path("/sys/fs/cgroup").iterdir() if (root / rel).is_dir()]


def runc_containers(runtime: str, root: Path) -> list[str]:
    out = subprocess.run([runtime, "--root", str(root), "list", "-q"], capture_output=True, text=True).stdout
    return out.split()


class Harness:
    """Harness is a runtime on a private data dir, plus the helpers the tests share."""

    def __init__(self, runtime: RuncRuntime, base: Path, layer: Path, net: TestNetwork, cgroup_root: str) -> None:
        self.runtime = runtime
        self.base = base
        self.layer = layer
        self.net = net
        self.cgroup_root = cgroup_root

    def sandbox_config(self, name: str = "pod", **kw: object) -> PodSandboxConfig:
        uid = secrets.token_hex(8)
        kw.setdefault("cgroup_parent", f"{self.cgroup_root}/pod{uid}")
        return PodSandboxConfig(uid=uid, name=name, namespace="test", **kw)  # type: ignore[arg-type]

    def container_config(self, name: str, *command: str, **kw: object) -> ContainerConfig:
        kw.setdefault("lowerdirs", (self.layer,))
        return ContainerConfig(name=name, command=tuple(command), **kw)  # type: ignore[arg-type]

    async def run(self, sandbox_id: str, name: str, *command: str, **kw: object) -> str:
        cid = await self.runtime.create_container(sandbox_id, self.container_config(name, *command, **kw))  # type: ignore[arg-type]
        await self.runtime.start_container(cid)
        return cid

    async def exec(self, cid: str, *command: str, stdin: bytes | None = None) -> tuple[int, bytes, bytes]:
        out: list[bytes] = []
        err: list[bytes] = []

        async def collect_out(b: bytes) -> None:
            out.append(b)

        async def collect_err(b: bytes) -> None:
            err.append(b)

        async def feed() -> AsyncIterator[bytes]:
            assert stdin is not None
            yield stdin

        code = await self.runtime.exec(
            cid, list(command), stdout=collect_out, stderr=collect_err,  # type: ignore[arg-type]
            stdin=feed() if stdin is not None else None,
        )
        return code, b"".join(out), b"".join(err)

    async def wait_for_log(self, cid: str, text: str, timeout: float = 5.0) -> str:
        status = await self.runtime.container_status(cid)  # type: ignore[arg-type]
        assert status.log_path is not None
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            content = status.log_path.read_text() if status.log_path.exists() else ""
            if text in content:
                return content
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{text!r} not logged in {timeout}s; log:\n{content}")
            await asyncio.sleep(0.02)


def make_runtime(base: Path, net: TestNetwork, **kw: object) -> RuncRuntime:
    return RuncRuntime(RuncSettings(data_dir=base / "data", runtime_root=base / "runc", network=net.settings, **kw))  # type: ignore[arg-type]


async def teardown_everything(runtime: RuncRuntime, base: Path) -> None:
    """Remove every sandbox and container the test made, then kill stragglers by id."""
    await runtime.close()
    for sandbox in await runtime.list_sandboxes():
        await runtime.remove_pod_sandbox(sandbox.id)
    for container in await runtime.list_containers():
        await runtime.remove_container(container.id)
    for binary in ("runc", "crun"):
        if shutil.which(binary):
            for cid in runc_containers(binary, base / "runc"):
                subprocess.run([binary, "--root", str(base / "runc"), "delete", "--force", cid], capture_output=True)
    for point in sorted(mounts_under(base), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True)
    await runtime.close()
