"""Scheduler benchmark: pods bound per second for 1,000 pending pods over 100 fake nodes, all real API objects.

A `kyb server` subprocess holds the Node and Pod objects; our scheduler runs in this process over
HTTPS with the admin kubeconfig, as it does inside `kyb server`. The figure is pods bound per
second from the scheduler's start (every pod already pending) until the last binding is seen by
a separate watch. The scheduling decision alone (no API calls) is measured too, to show where the
time goes.

Run: python bench/scheduler_bench.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.apiserver_bench import _free_port, start
from kybernetes.client.config import load_kubeconfig
from kybernetes.client.informer import Handlers, Informer, SharedInformerFactory
from kybernetes.client.rest import NAMESPACES, NODES, PODS, Client
from kybernetes.scheduler import Scheduler
from kybernetes.scheduler.framework import NodeInfo, PodInfo
from kybernetes.scheduler.runtime import Algorithm, Framework

SCHEDULER = "bench-scheduler"
"""Our own schedulerName, so a scheduler built into the server leaves the bench pods alone."""
NAMESPACE = "bench"
Obj = dict[str, Any]


def node(i: int) -> Obj:
    capacity = {"cpu": "32", "memory": "128Gi", "pods": "110", "ephemeral-storage": "500Gi"}
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": f"bench-node-{i:03}", "labels": {"kubernetes.io/hostname": f"bench-node-{i:03}",
                                                                 "topology.kubernetes.io/zone": f"zone-{i % 3}"}},
            "spec": {},
            "status": {"capacity": capacity, "allocatable": capacity,
                       "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "ok"}]}}


def pod(i: int) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"bench-pod-{i:04}", "namespace": NAMESPACE, "labels": {"app": f"app-{i % 10}"}},
            "spec": {"schedulerName": SCHEDULER,
                     "containers": [{"name": "c", "image": "busybox",
                                     "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]}}


async def _gather_limited(coros: list[Any], limit: int) -> None:
    gate = asyncio.Semaphore(limit)

    async def one(coro: Any) -> None:
        async with gate:
            await coro

    await asyncio.gather(*(one(c) for c in coros))


async def measure_end_to_end(kubeconfig: Path, *, nodes: int, pods: int) -> dict[str, Any]:
    """Create the nodes and pending pods, then time our scheduler binding all of them."""
    config = load_kubeconfig(kubeconfig)
    async with Client(config) as client, Client(config) as scheduler_client:
        await client.create(NAMESPACES, {"metadata": {"name": NAMESPACE}})
        await _gather_limited([client.create(NODES, node(i)) for i in range(nodes)], 32)
        await _gather_limited([client.create(PODS, pod(i), NAMESPACE) for i in range(pods)], 32)

        bound: set[str] = set()
        done = asyncio.Event()

        def seen(_old: Obj, new: Obj) -> None:
            if (new.get("spec") or {}).get("nodeName"):
                bound.add(new["metadata"]["name"])
                if len(bound) >= pods:
                    done.set()

        watcher = Informer(client, PODS, namespace=NAMESPACE)
        watcher.add_handlers(Handlers(on_update=seen))
        informers = SharedInformerFactory(scheduler_client)
        scheduler = Scheduler(scheduler_client, informers, name=SCHEDULER)
        async with asyncio.TaskGroup() as group:
            watch_task = group.create_task(watcher.run())
            await watcher.wait_synced()
            started, cpu_started = time.perf_counter(), time.process_time()
            informer_task = group.create_task(informers.run())
            scheduler_task = group.create_task(scheduler.run())
            await asyncio.wait_for(done.wait(), timeout=600)
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
            await asyncio.wait_for(scheduler.recorder.flush(), timeout=120)
            events_done = time.perf_counter() - started
            for task in (scheduler_task, informer_task, watch_task):
                task.cancel()
        per_node = [len(n.pods) for n in scheduler.cache.nodes()]
        return {
            "pods": pods, "nodes": nodes, "seconds": round(elapsed, 2),
            "value": round(pods / elapsed, 1),
            "seconds_until_events_written": round(events_done, 2),
            "client_cpu_share": round(cpu / elapsed, 2),
            "pods_per_node_min_max": [min(per_node), max(per_node)],
        }


def measure_decisions(*, nodes: int, pods: int) -> dict[str, Any]:
    """Time the scheduling cycle alone: filter and score every node, then assume the pod."""
    infos = []
    for i in range(nodes):
        info = NodeInfo(f"bench-node-{i:03}")
        info.set_node(node(i))
        infos.append(info)
    algorithm = Algorithm(Framework())
    started = time.perf_counter()
    for i in range(pods):
        wanted = PodInfo.of({**pod(i), "metadata": {**pod(i)["metadata"], "uid": f"u{i}"}})
        chosen = algorithm.schedule(wanted, infos).node
        next(n for n in infos if n.name == chosen).add_pod(wanted)
    elapsed = time.perf_counter() - started
    return {"pods": pods, "nodes": nodes, "value": round(pods / elapsed), "ms_per_pod": round(elapsed / pods * 1000, 3)}


def run(quick: bool = False) -> dict[str, Any]:
    nodes, pods = (20, 200) if quick else (100, 1000)
    results: dict[str, Any] = {"decisions_per_s": measure_decisions(nodes=nodes, pods=pods)}
    with tempfile.TemporaryDirectory() as d:
        data = Path(d) / "data"
        proc, _ = start(data, _free_port())
        try:
            results["pods_bound_per_s"] = asyncio.run(measure_end_to_end(data / "admin.kubeconfig", nodes=nodes, pods=pods))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait()
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="scheduler_bench")
    parser.add_argument("--quick", action="store_true", help="200 pods over 20 nodes")
    print(json.dumps(run(quick=parser.parse_args().quick), indent=2))
