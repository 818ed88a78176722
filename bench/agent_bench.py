"""Simulated nodes at scale: how long 1,000 nodes take to be Ready, and N pods bound to them to be Running.

Three processes share the machine as they would in a cluster: `kyb server`, one process of
simulated nodes (`run_simulated_nodes`, on uvloop like `kyb`), and this one creating pods with
`spec.nodeName` spread round-robin over the nodes (no scheduler involved) and polling the API.
Targets (issue 4): 1,000 nodes Ready ≤ 10 s; 10,000 pods bound and Running ≤ 60 s.

Run: python -m bench.agent_bench [--quick]      (no root needed)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.apiserver_bench import _free_port, rss_mb, start  # noqa: E402
from kybernetes.client.config import load_kubeconfig  # noqa: E402
from kybernetes.client.rest import NAMESPACES, NODES, PODS, Client  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
PREFIX = "bench-node"


def fleet_main(kubeconfig: str, count: int, prefix: str) -> None:
    """The simulated nodes' process (run as a child of the benchmark)."""
    import logging

    from kybernetes.agent.simulated_nodes import run_simulated_nodes

    logging.basicConfig(level=logging.WARNING)
    config = load_kubeconfig(kubeconfig)
    stop = asyncio.Event()

    async def main() -> None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await run_simulated_nodes(config, count=count, prefix=prefix, stop=stop)

    try:
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(main())
    except ImportError:
        asyncio.run(main())


async def _ready_nodes(client: Client) -> int:
    nodes = await client.list(NODES, label_selector="kybernetes.io/simulated=true")
    ready = 0
    for node in nodes.get("items") or []:
        if any(c.get("type") == "Ready" and c.get("status") == "True" for c in node["status"].get("conditions") or []):
            ready += 1
    return ready


async def _running_pods(client: Client, namespace: str) -> int:
    pods = await client.list(PODS, namespace, field_selector="status.phase=Running")
    return len(pods.get("items") or [])


async def _wait(check: Any, target: int, timeout: float, period: float = 0.25) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if await check() >= target:
            return time.monotonic() - started
        await asyncio.sleep(period)
    return None


async def _create_pods(client: Client, namespace: str, count: int, nodes: int, concurrency: int = 32) -> float:
    started = time.monotonic()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)

    async def worker() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            await client.create(PODS, {
                "apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p{i}"},
                "spec": {"nodeName": f"{PREFIX}-{i % nodes}", "terminationGracePeriodSeconds": 0,
                         "containers": [{"name": "app", "image": "registry.example/app:1"}]},
            }, namespace)

    async with asyncio.TaskGroup() as group:
        for _ in range(concurrency):
            group.create_task(worker())
    return time.monotonic() - started


async def _measure(kubeconfig: Path, nodes: int, pods: int, fleet_pid: int) -> dict[str, Any]:
    config = load_kubeconfig(kubeconfig)
    async with Client(config) as client:
        fleet_started = time.monotonic()
        ready_s = await _wait(lambda: _ready_nodes(client), nodes, timeout=120)
        ready_s = ready_s if ready_s is None else time.monotonic() - fleet_started
        await client.create(NAMESPACES, {"metadata": {"name": "agent-bench"}})
        started = time.monotonic()
        create_s = await _create_pods(client, "agent-bench", pods, nodes)
        running_s = await _wait(lambda: _running_pods(client, "agent-bench"), pods, timeout=300, period=1.0)
        total = None if running_s is None else time.monotonic() - started
        return {
            "nodes": nodes,
            "nodes_ready_s": None if ready_s is None else round(ready_s, 2),
            "nodes_ready_target_s": 10,
            "pods": pods,
            "pods_created_s": round(create_s, 2),
            "pods_running_s": None if total is None else round(total, 2),
            "pods_running_target_s": 60,
            "fleet_rss_mb": round(rss_mb(fleet_pid), 1),
        }


def run(quick: bool = False) -> dict[str, Any]:
    nodes, pods = (100, 1000) if quick else (1000, 10000)
    with tempfile.TemporaryDirectory() as d:
        data = Path(d) / "data"
        port = _free_port()
        server, _ = start(data, port)
        kubeconfig = data / "admin.kubeconfig"
        fleet = subprocess.Popen(
            [sys.executable, "-m", "bench.agent_bench", "fleet", "--kubeconfig", str(kubeconfig),
             "--count", str(nodes), "--prefix", PREFIX],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        try:
            results = asyncio.run(_measure(kubeconfig, nodes, pods, fleet.pid))
            results["server_rss_mb"] = round(rss_mb(server.pid), 1)
            return results
        finally:
            fleet.send_signal(signal.SIGTERM)
            try:
                fleet.wait(20)
            except subprocess.TimeoutExpired:
                fleet.kill()
                fleet.wait()
            server.send_signal(signal.SIGTERM)
            server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="agent_bench")
    sub = parser.add_subparsers(dest="command")
    child = sub.add_parser("fleet", help="run the simulated nodes (used by the benchmark itself)")
    child.add_argument("--kubeconfig", required=True)
    child.add_argument("--count", type=int, required=True)
    child.add_argument("--prefix", default=PREFIX)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.command == "fleet":
        fleet_main(args.kubeconfig, args.count, args.prefix)
        return
    print(json.dumps(run(quick=args.quick), indent=2))


if __name__ == "__main__":
    main()
