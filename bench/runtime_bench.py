"""Pod start latency: a sandbox plus one container through `RuncRuntime`, against the raw floor in the same run.

The floor is what no runtime can skip: `ip netns add`, CNI ADD (loopback and bridge, run
concurrently) and `runc run -d` of the same OCI spec on the same busybox layer. The runtime adds
the overlay mount, the pod files, the state records and the shim. Rounds alternate between the
two so that drift on the machine hits both alike; the figure is the median of each.

Run: python bench/runtime_bench.py [--rounds 20]   (root; uses a fenced test network, cleans up)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kybernetes.agent.runtime.bundle import BundlePaths, build_spec
from kybernetes.agent.runtime.runc import RuncRuntime, RuncSettings
from kybernetes.agent.runtime.types import ContainerConfig, PodSandboxConfig
from tests.agent.runtime import runtimekit as kit

COMMAND = ("sleep", "1000")


async def _run(argv: list[str], *, stdin: bytes | None = None, env: dict[str, str] | None = None, detached: bool = False) -> bytes:
    # A detached container inherits runc's stdio: a pipe there would never reach EOF.
    out = asyncio.subprocess.DEVNULL if detached else asyncio.subprocess.PIPE
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=out, stderr=out, env=env,
    )
    out, err = await proc.communicate(stdin)
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed: {((out or b'') + (err or b'')).decode(errors='replace')}")
    return out or b""


class Floor:
    """Floor starts a container the shortest way: netns, CNI ADD, `runc run -d`."""

    def __init__(self, base: Path, layer: Path, net: kit.TestNetwork) -> None:
        self.base = base
        self.layer = layer
        self.net = net
        self.runc_root = base / "floor-runc"
        self.ipam = base / "floor-ipam"
        self.files = base / "floor-files"
        self.files.mkdir(parents=True)
        for name in ("hosts", "hostname", "resolv.conf", "termination-log"):
            (self.files / name).write_text("")
        (self.files / "shm").mkdir()

    def _configs(self) -> list[tuple[dict[str, Any], str]]:
        s = self.net.settings
        bridge = {
            "cniVersion": "1.0.0", "name": f"{s.network_name}-floor", "type": "bridge", "bridge": s.bridge,
            "isGateway": True, "ipMasq": False, "hairpinMode": True,
            "ipam": {"type": "host-local", "ranges": [[{"subnet": s.pod_cidr}]], "routes": [{"dst": "0.0.0.0/0"}],
                     "dataDir": str(self.ipam)},
        }
        return [({"cniVersion": "1.0.0", "name": "lo", "type": "loopback"}, "lo"), (bridge, "eth0")]

    def _cni(self, command: str, config: dict[str, Any], ifname: str, cid: str, netns: str) -> Any:
        env = {"CNI_COMMAND": command, "CNI_CONTAINERID": cid, "CNI_NETNS": netns, "CNI_IFNAME": ifname,
               "CNI_PATH": str(kit.CNI_DIR), "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")}
        return _run([str(kit.CNI_DIR / config["type"])], stdin=json.dumps(config).encode(), env=env)

    async def start(self, cid: str) -> None:
        netns = f"{self.net.settings.netns_prefix}f{cid[:8]}"
        bundle = self.base / "floor-bundles" / cid
        bundle.mkdir(parents=True)
        sandbox = PodSandboxConfig(uid=cid, name="floor", namespace="bench", cgroup_parent=f"/kybbench/floor{cid}")
        paths = BundlePaths(
            rootfs=self.layer, netns=Path("/run/netns") / netns, hosts=self.files / "hosts",
            hostname=self.files / "hostname", resolv_conf=self.files / "resolv.conf", shm=self.files / "shm",
            termination_log=self.files / "termination-log",
        )
        spec = build_spec(ContainerConfig(name="c", lowerdirs=(self.layer,), command=COMMAND), sandbox,
                          container_id=cid, paths=paths, memory_swap_supported=False)
        spec["root"]["readonly"] = True
        (bundle / "config.json").write_text(json.dumps(spec))
        started = time.perf_counter()
        await _run(["ip", "netns", "add", netns])
        await asyncio.gather(*(self._cni("ADD", c, ifname, cid, f"/run/netns/{netns}") for c, ifname in self._configs()))
        wired = time.perf_counter()
        await _run(["runc", "--root", str(self.runc_root), "run", "-d", "--bundle", str(bundle), cid], detached=True)
        self.elapsed = time.perf_counter() - started
        self.network_elapsed = wired - started

    async def stop(self, cid: str) -> None:
        netns = f"{self.net.settings.netns_prefix}f{cid[:8]}"
        await _run(["runc", "--root", str(self.runc_root), "delete", "--force", cid])
        for config, ifname in reversed(self._configs()):
            await self._cni("DEL", config, ifname, cid, f"/run/netns/{netns}")
        await _run(["ip", "netns", "delete", netns])
        shutil.rmtree(self.base / "floor-bundles" / cid)
        for d in kit.cgroup_dirs(f"/kybbench/floor{cid}"):
            os.rmdir(d)


async def _measure(rounds: int) -> dict[str, Any]:
    base = Path(tempfile.mkdtemp(prefix="kyb-runtime-bench-"))
    net = kit.open_test_network()
    layer = kit.build_busybox_layer(base / "layer")
    runtime = RuncRuntime(RuncSettings(data_dir=base / "data", runtime_root=base / "runc", network=net.settings))
    await runtime.adopt()
    floor = Floor(base, layer, net)
    floor_ms: list[float] = []
    ours_ms: list[float] = []
    phases: dict[str, list[float]] = {"sandbox": [], "create": [], "start": []}
    floor_phases: dict[str, list[float]] = {"netns+cni": [], "runc run": []}
    try:
        for i in range(rounds + 1):
            cid = secrets.token_hex(16)
            await floor.start(cid)
            await floor.stop(cid)
            uid = secrets.token_hex(8)
            t0 = time.perf_counter()
            sid = await runtime.run_pod_sandbox(
                PodSandboxConfig(uid=uid, name="bench", namespace="bench", cgroup_parent=f"/kybbench/pod{uid}")
            )
            t1 = time.perf_counter()
            container = await runtime.create_container(sid, ContainerConfig(name="c", lowerdirs=(layer,), command=COMMAND))
            t2 = time.perf_counter()
            await runtime.start_container(container)
            t3 = time.perf_counter()
            await runtime.remove_pod_sandbox(sid)
            if i == 0:
                continue  # warm-up: first exec of every binary, page cache
            floor_ms.append(floor.elapsed * 1e3)
            floor_phases["netns+cni"].append(floor.network_elapsed * 1e3)
            floor_phases["runc run"].append((floor.elapsed - floor.network_elapsed) * 1e3)
            ours_ms.append((t3 - t0) * 1e3)
            phases["sandbox"].append((t1 - t0) * 1e3)
            phases["create"].append((t2 - t1) * 1e3)
            phases["start"].append((t3 - t2) * 1e3)
    finally:
        await runtime.close()
        for sandbox in await runtime.list_sandboxes():
            await runtime.remove_pod_sandbox(sandbox.id)
        for cid in kit.runc_containers("runc", floor.runc_root):
            subprocess.run(["runc", "--root", str(floor.runc_root), "delete", "--force", cid], capture_output=True)
        kit.close_test_network(net)
        for d in kit.cgroup_dirs("/kybbench"):
            subprocess.run(["find", d, "-depth", "-type", "d", "-exec", "rmdir", "{}", ";"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
    floor_median = statistics.median(floor_ms)
    ours_median = statistics.median(ours_ms)
    return {
        "rounds": rounds,
        "floor_ms_median": round(floor_median, 1),
        "runtime_ms_median": round(ours_median, 1),
        "ratio": round(ours_median / floor_median, 2),
        "target_ratio": 2.0,
        "runtime_phases_ms_median": {k: round(statistics.median(v), 1) for k, v in phases.items()},
        "floor_phases_ms_median": {k: round(statistics.median(v), 1) for k, v in floor_phases.items()},
        "floor_ms_min": round(min(floor_ms), 1),
        "runtime_ms_min": round(min(ours_ms), 1),
    }


def run(*, quick: bool = False, rounds: int = 20) -> dict[str, Any]:
    """run measures sandbox+container start against the floor; needs root, runc and the CNI plugins."""
    reason = kit.missing_prerequisites()
    if reason:
        return {"skipped": reason}
    return asyncio.run(_measure(5 if quick else rounds))


def main() -> None:
    parser = argparse.ArgumentParser(prog="runtime_bench")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    print(json.dumps(run(rounds=args.rounds), indent=2))


if __name__ == "__main__":
    main()
