"""The whole single-node cluster on runc: cold start, idle cost, pod start latency and a burst of 100 pods.

One `kyb server` process with its node agent (runc, the example image built into its store
beforehand), driven over HTTPS from this process as kubectl would:
- cold start: process spawned on a fresh data dir → API ready → node Ready → a first pod Running
  (created once the node is Ready); targets ≤ 1.5 s to node Ready, ≤ 2 s to the pod;
- idle: RSS and CPU of the server (with agent) with nothing running; targets ≤ 120 MB, ≤ 1 %;
- start latency: 20 pods/s created for a minute (each deleted once Running), create → Running as
  seen by a watch; targets p50 ≤ 150 ms, p99 ≤ 500 ms; also as a ratio to the runc+CNI floor
  (bench/runtime_bench.py's `Floor`) measured in the same run;
- burst: 100 pods created at once, all Running; target ≤ 10 s.

Run: python -m bench.cluster_bench [--quick]      (root)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.apiserver_bench import _free_port, rss_mb  # noqa: E402
from kybernetes.client import errors  # noqa: E402
from kybernetes.client.config import load_kubeconfig  # noqa: E402
from kybernetes.client.rest import NAMESPACES, NODES, PODS, Client  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "busybox-httpd"
IMAGE = "busybox-httpd:1"


def _pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"terminationGracePeriodSeconds": 1, "containers": [{"name": "web", "image": IMAGE}]}}


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of every CPU, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def _running(pod: dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running"


async def _wait_api(kubeconfig: Path, proc: subprocess.Popen[bytes]) -> Client:
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"kyb server exited with {proc.returncode}")
        if kubeconfig.exists():
            client = Client(load_kubeconfig(kubeconfig))
            await client.__aenter__()
            try:
                await client.list(NAMESPACES)
                return client
            except (errors.ClientError, OSError):
                await client.__aexit__(None, None, None)
        await asyncio.sleep(0.005)


async def _cold_start(kubeconfig: Path, proc: subprocess.Popen[bytes], node: str, t0: float) -> tuple[Client, dict[str, Any]]:
    """Spawn → API answering → node Ready → a first pod Running.

    The pod is created the moment the node is Ready, as a script would after `kubectl wait`. (Created
    earlier, before any node exists, it fails scheduling once and waits out the scheduler's 1 s
    back-off for unschedulable pods, as upstream's does.)
    """
    client = await _wait_api(kubeconfig, proc)
    api_ready = time.monotonic() - t0
    node_ready = first_pod = None
    while node_ready is None:
        with contextlib.suppress(errors.NotFoundError):
            n = await client.get(NODES, node)
            if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"].get("conditions") or []):
                node_ready = time.monotonic() - t0
        if time.monotonic() - t0 > 60:
            raise RuntimeError("the node was not Ready within 60 s")
        await asyncio.sleep(0.005)
    while True:
        try:
            await client.create(PODS, _pod("first"), "default")
            break
        except errors.ClientError:  # the default namespace may not exist yet
            await asyncio.sleep(0.005)
    while first_pod is None:
        if _running(await client.get(PODS, "first", "default")):
            first_pod = time.monotonic() - t0
        if time.monotonic() - t0 > 60:
            raise RuntimeError("the first pod was not Running within 60 s")
        await asyncio.sleep(0.005)
    return client, {"api_ready_s": round(api_ready, 3), "node_ready_s": round(node_ready, 3),
                    "node_ready_target_s": 1.5, "first_pod_running_s": round(first_pod, 3),
                    "first_pod_target_s": 2.0}


async def _delete_and_wait(client: Client, namespace: str, data_dir: Path) -> None:
    await client.delete_collection(PODS, namespace)
    sandboxes = data_dir / "agent" / "sandboxes"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        left = (await client.list(PODS, namespace)).get("items") or []
        if not left and not (sandboxes.exists() and any(sandboxes.iterdir())):
            return
        await asyncio.sleep(0.2)


async def _idle(client: Client, pid: int, data_dir: Path, seconds: float) -> dict[str, Any]:
    await _delete_and_wait(client, "default", data_dir)
    await asyncio.sleep(3)
    cpu0, t0 = _cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(seconds)
    cpu = (_cpu_seconds(pid) - cpu0) / (time.monotonic() - t0)
    return {"idle_rss_mb": round(rss_mb(pid), 1), "idle_rss_target_mb": 120,
            "idle_cpu_percent": round(cpu * 100, 2), "idle_cpu_target_percent": 1.0, "idle_window_s": seconds}


async def _latency(client: Client, data_dir: Path, rate: float, seconds: float, *,
                   namespace: str = "latency") -> dict[str, Any]:
    await client.create(NAMESPACES, {"metadata": {"name": namespace}})
    sent: dict[str, float] = {}
    latencies: dict[str, float] = {}
    deletions: set[asyncio.Task[Any]] = set()
    total = int(rate * seconds)
    done = asyncio.Event()

    async def delete(name: str) -> None:
        with contextlib.suppress(errors.ClientError):
            await client.delete(PODS, name, namespace)

    async def watch() -> None:
        listed = await client.list(PODS, namespace)
        rv = listed["metadata"]["resourceVersion"]
        while len(latencies) < total:
            async for event in client.watch(PODS, namespace, resource_version=rv):
                obj = event.object
                rv = obj["metadata"].get("resourceVersion", rv)
                name = obj["metadata"].get("name", "")
                if event.type != "DELETED" and name in sent and name not in latencies and _running(obj):
                    latencies[name] = time.monotonic() - sent[name]
                    task = asyncio.create_task(delete(name))
                    deletions.add(task)
                    task.add_done_callback(deletions.discard)
                    if len(latencies) >= total:
                        break
        done.set()

    async def create() -> None:
        start = time.monotonic()
        for i in range(total):
            await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
            name = f"lat-{i}"
            sent[name] = time.monotonic()
            await client.create(PODS, _pod(name), namespace)

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.2)
    busy0, total0 = _machine_busy()
    await create()
    busy1, total1 = _machine_busy()
    try:
        await asyncio.wait_for(done.wait(), 120)
    except TimeoutError:
        watcher.cancel()
    if deletions:
        await asyncio.gather(*deletions)
    await _delete_and_wait(client, namespace, data_dir)
    values = sorted(v * 1000 for v in latencies.values())
    if not values:
        return {"pods": total, "running": 0}
    return {"rate_per_s": rate, "seconds": seconds, "pods": total, "running": len(values),
            "p50_ms": round(statistics.median(values), 1), "p50_target_ms": 150,
            "p99_ms": round(values[min(len(values) - 1, int(len(values) * 0.99))], 1), "p99_target_ms": 500,
            "max_ms": round(values[-1], 1),
            # How busy the whole machine (server, agent, runc, CNI plugins, containers) was meanwhile.
            "machine_cpu_busy_percent": round(100 * (busy1 - busy0) / max(1, total1 - total0), 1)}


async def _burst(client: Client, data_dir: Path, count: int) -> dict[str, Any]:
    namespace = "burst"
    await client.create(NAMESPACES, {"metadata": {"name": namespace}})
    started = time.monotonic()
    semaphore = asyncio.Semaphore(32)

    async def create(i: int) -> None:
        async with semaphore:
            await client.create(PODS, _pod(f"burst-{i}"), namespace)

    await asyncio.gather(*(create(i) for i in range(count)))
    created = time.monotonic() - started
    running_s = None
    while time.monotonic() - started < 120:
        pods = (await client.list(PODS, namespace)).get("items") or []
        if sum(1 for p in pods if _running(p)) >= count:
            running_s = time.monotonic() - started
            break
        await asyncio.sleep(0.05)
    await _delete_and_wait(client, namespace, data_dir)
    return {"pods": count, "created_s": round(created, 2),
            "all_running_s": None if running_s is None else round(running_s, 2), "target_s": 10}


def _floor_ms(rounds: int) -> float:
    """The runc+CNI floor of bench/runtime_bench.py, measured now (same machine state)."""
    from bench import runtime_bench

    return float(asyncio.run(runtime_bench._measure(rounds))["floor_ms_median"])


def _pick_ranges() -> tuple[str, str]:
    from tests.e2e.conftest import pick_ranges

    return pick_ranges()


def run(*, quick: bool = False) -> dict[str, Any]:
    if os.geteuid() != 0:
        return {"skipped": "needs root (runc)"}
    seconds = 10.0 if quick else 60.0
    base = Path(tempfile.mkdtemp(prefix="kyb-cluster-bench-"))
    data = base / "data"
    subprocess.run([str(EXAMPLE / "prepare.sh")], check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "kybernetes", "build", "-q", "-t", IMAGE, "--data-dir", str(data),
                    str(EXAMPLE)], check=True, capture_output=True, cwd=REPO)
    cluster_cidr, service_cidr = _pick_ranges()
    from tests.e2e.conftest import keep_pulls_local

    offline = keep_pulls_local(data)  # the benchmark's pods use the local image; nothing may be pulled from outside
    node = f"bench-{uuid.uuid4().hex[:6]}"
    port = _free_port()
    log = open(base / "server.log", "wb")
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "kybernetes", "server", "--data-dir", str(data), "--https-listen-port", str(port),
         "--agent-runtime", "runc", "--node-name", node, "--node-ip", "127.0.0.1", "--kubelet-port", str(_free_port()),
         "--cluster-cidr", cluster_cidr, "--service-cidr", service_cidr, "--pod-egress", "cluster", *offline],
        stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
    )

    async def measure() -> dict[str, Any]:
        client, cold = await _cold_start(data / "admin.kubeconfig", proc, node, t0)
        try:
            figures: dict[str, Any] = {"cold_start": cold}
            figures["idle"] = await _idle(client, proc.pid, data, 5.0 if quick else 20.0)
            # Half the rate first (the machine is not saturated there), then the 20 pods/s.
            figures["start_latency_10_per_s"] = await _latency(client, data, 10.0, seconds / 2, namespace="latency-10")
            figures["start_latency"] = await _latency(client, data, 20.0, seconds)
            figures["burst"] = await _burst(client, data, 100)
            return figures
        finally:
            await client.__aexit__(None, None, None)

    try:
        figures = asyncio.run(measure())
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        from kybernetes.daemons.node import NodeSettings

        settings = NodeSettings(data_dir=data)
        subprocess.run(["ip", "link", "del", settings.bridge_name], capture_output=True)
        shutil.rmtree(settings.runc_root, ignore_errors=True)
        shutil.rmtree(base, ignore_errors=True)
        for cidr in (cluster_cidr, service_cidr):
            subprocess.run(["ip", "route", "del", "unreachable", cidr], capture_output=True)
    floor = _floor_ms(5 if quick else 10)
    for key in ("start_latency", "start_latency_10_per_s"):
        latency = figures[key]
        if "p50_ms" in latency:
            latency["floor_ms"] = round(floor, 1)
            latency["p50_ratio_to_floor"] = round(latency["p50_ms"] / floor, 2)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(prog="cluster_bench")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(json.dumps(run(quick=args.quick), indent=2))


if __name__ == "__main__":
    main()
