"""End to end: the shared `kyb server`, Node objects created through the API, and our scheduler in-process over HTTPS.

Each test runs its own scheduler under a unique schedulerName, and its pods ask for it, so pods
of other tests are left alone. Test nodes carry a NoSchedule taint only our pods tolerate, so a
scheduler inside the server cannot put foreign pods on them either. The messages assume our
nodes are the only nodes in the cluster while a test runs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable

import pytest

from kybernetes.client import errors
from kybernetes.client.config import load_kubeconfig
from kybernetes.client.informer import SharedInformerFactory
from kybernetes.client.rest import EVENTS, NAMESPACES, NODES, PODS, REPLICASETS, Client
from kybernetes.scheduler import Scheduler, run
from tests.conftest import Kubectl, RunningServer

Obj = dict[str, Any]
FENCE = "e2e.kybernetes.io/scheduler"


@dataclass
class Cluster:
    """Cluster is a test's view: a client, its namespace, its scheduler's name and the nodes it made."""

    client: Client
    namespace: str
    scheduler: str
    nodes: list[str] = field(default_factory=list)

    def node_name(self, label: str) -> str:
        return f"{label}-{uuid.uuid4().hex[:6]}"

    async def node(self, name: str, *, cpu: str = "4", memory: str = "8Gi", pods: str = "110",
                   labels: dict[str, str] | None = None, taints: list[Obj] | None = None) -> Obj:
        capacity = {"cpu": cpu, "memory": memory, "pods": pods, "ephemeral-storage": "100Gi"}
        body = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
            "spec": {"taints": [{"key": FENCE, "value": self.scheduler, "effect": "NoSchedule"}, *(taints or [])]},
            "status": {"capacity": capacity, "allocatable": capacity,
                       "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                       "message": "kubelet is posting ready status"}]},
        }
        created = await self.client.create(NODES, body)
        self.nodes.append(name)
        return created

    def pod_body(self, name: str, *, cpu: str | None = None, memory: str | None = None, **spec: Any) -> Obj:
        requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
        container: Obj = {"name": "c", "image": "busybox", **({"resources": {"requests": requests}} if requests else {})}
        tolerations = [{"key": FENCE, "operator": "Exists", "effect": "NoSchedule"}, *spec.pop("tolerations", [])]
        metadata = {"name": name, "namespace": self.namespace, **spec.pop("metadata", {})}
        return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata,
                "spec": {"schedulerName": self.scheduler, "containers": [container], "tolerations": tolerations, **spec}}

    async def pod(self, name: str, **kwargs: Any) -> Obj:
        return await self.client.create(PODS, self.pod_body(name, **kwargs), self.namespace)

    async def get_pod(self, name: str) -> Obj:
        return await self.client.get(PODS, name, self.namespace)

    async def events(self, name: str) -> list[Obj]:
        listed = await self.client.list(EVENTS, self.namespace, field_selector=f"involvedObject.name={name}")
        return listed.get("items") or []


async def eventually(check: Callable[[], Awaitable[Any]], what: str, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting until {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def cluster(server: RunningServer) -> AsyncIterator[Cluster]:
    """Our scheduler running in-process against the shared server, a fresh namespace, and node cleanup."""
    config = load_kubeconfig(server.kubeconfig)
    name = f"e2e-scheduler-{uuid.uuid4().hex[:6]}"
    async with Client(config) as scheduler_client, Client(config) as client:
        informers = SharedInformerFactory(scheduler_client)
        scheduler = Scheduler(scheduler_client, informers, name=name)

        async def both() -> None:
            async with asyncio.TaskGroup() as group:
                group.create_task(informers.run())
                group.create_task(scheduler.run())

        task = asyncio.create_task(both())
        namespace = f"sched-{uuid.uuid4().hex[:8]}"
        await client.create(NAMESPACES, {"metadata": {"name": namespace}})
        test = Cluster(client, namespace, name)
        try:
            await require_binding(client, namespace)
            yield test
        finally:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            for node in test.nodes:
                try:
                    await client.delete(NODES, node)
                except errors.NotFoundError:
                    pass
            await client.delete(NAMESPACES, namespace)


async def require_binding(client: Client, namespace: str) -> None:
    """Fail at once, saying why, if the server cannot bind pods at all (nothing else here could pass)."""
    probe = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "binding-probe"},
             "spec": {"schedulerName": "nobody", "containers": [{"name": "c", "image": "busybox"}]}}
    await client.create(PODS, probe, namespace)
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "binding-probe"},
               "target": {"apiVersion": "v1", "kind": "Node", "name": "probe-node"}}
    try:
        await client.request("POST", PODS.path(namespace, "binding-probe", "binding"), body=binding)
    except errors.APIStatusError as err:
        pytest.fail(f"the API server refuses POST pods/binding, so no pod can be scheduled: {err}")
    finally:
        await client.delete(PODS, "binding-probe", namespace, body={"gracePeriodSeconds": 0})


async def bound_to(cluster: Cluster, pod: str) -> str:
    return str((await cluster.get_pod(pod)).get("spec", {}).get("nodeName") or "")


async def event_with(cluster: Cluster, pod: str, reason: str) -> Obj | None:
    return next((e for e in await cluster.events(pod) if e.get("reason") == reason), None)


async def test_a_pod_is_bound_to_a_fitting_node_with_a_scheduled_event(cluster: Cluster) -> None:
    node = cluster.node_name("node1")
    await cluster.node(node)
    await cluster.pod("web", cpu="100m", memory="64Mi")
    assert await eventually(lambda: bound_to(cluster, "web"), "web is bound") == node
    event = await eventually(lambda: event_with(cluster, "web", "Scheduled"), "the Scheduled event exists")
    assert event["type"] == "Normal"
    assert event["message"] == f"Successfully assigned {cluster.namespace}/web to {node}"
    assert event["source"] == {"component": cluster.scheduler}
    assert event["involvedObject"]["kind"] == "Pod" and event["involvedObject"]["name"] == "web"
    pod = await cluster.get_pod("web")
    scheduled = [c for c in pod["status"].get("conditions", []) if c["type"] == "PodScheduled"]
    assert scheduled and scheduled[0]["status"] == "True"


async def test_a_node_selector_pod_waits_then_binds_within_a_second_of_kubectl_label(cluster: Cluster,
                                                                                    kubectl132: Kubectl) -> None:
    node = cluster.node_name("plain")
    await cluster.node(node)
    await cluster.pod("trainer", nodeSelector={"gpu": "true"})
    expected = ("0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. "
                "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.")
    event = await eventually(lambda: event_with(cluster, "trainer", "FailedScheduling"), "FailedScheduling is recorded")
    assert event["type"] == "Warning" and event["message"] == expected

    async def condition() -> Obj | None:
        pod = await cluster.get_pod("trainer")
        return next((c for c in pod["status"].get("conditions", []) if c["type"] == "PodScheduled"), None)

    scheduled = await eventually(condition, "PodScheduled is written")
    assert (scheduled["status"], scheduled["reason"], scheduled["message"]) == ("False", "Unschedulable", expected)
    described = kubectl132("describe", "pod", "trainer", "-n", cluster.namespace, namespaced=False).stdout
    assert "FailedScheduling" in described and "didn't match Pod's node affinity/selector" in described

    await asyncio.sleep(0.3)
    assert await bound_to(cluster, "trainer") == ""
    await asyncio.to_thread(kubectl132, "label", "node", node, "gpu=true", namespaced=False)
    labelled = time.monotonic()
    assert await eventually(lambda: bound_to(cluster, "trainer"), "trainer is bound after the label", timeout=5) == node
    assert time.monotonic() - labelled < 1.0


async def test_a_pod_asking_for_more_memory_than_any_node_has_stays_pending(cluster: Cluster) -> None:
    await cluster.node(cluster.node_name("small"), memory="1Gi")
    await cluster.pod("hog", memory="64Gi")
    event = await eventually(lambda: event_with(cluster, "hog", "FailedScheduling"), "FailedScheduling is recorded")
    assert event["message"] == ("0/1 nodes are available: 1 Insufficient memory. "
                                "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.")
    pod = await cluster.get_pod("hog")
    assert pod["status"]["phase"] == "Pending" and not pod["spec"].get("nodeName")


async def test_a_full_node_leaves_a_pod_pending_until_another_pod_goes(cluster: Cluster) -> None:
    node = cluster.node_name("busy")
    await cluster.node(node, cpu="1")
    await cluster.pod("first", cpu="700m")
    assert await eventually(lambda: bound_to(cluster, "first"), "first is bound") == node
    await cluster.pod("second", cpu="700m")
    event = await eventually(lambda: event_with(cluster, "second", "FailedScheduling"), "second fails to fit")
    assert event["message"] == ("0/1 nodes are available: 1 Insufficient cpu. "
                                "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.")
    await cluster.client.delete(PODS, "first", cluster.namespace, body={"gracePeriodSeconds": 0})
    assert await eventually(lambda: bound_to(cluster, "second"), "second is bound once first is gone") == node


async def test_taints_keep_out_pods_that_do_not_tolerate_them(cluster: Cluster) -> None:
    node = cluster.node_name("tainted")
    await cluster.node(node, taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}])
    await cluster.pod("plain")
    await cluster.pod("tolerant", tolerations=[{"key": "dedicated", "operator": "Equal", "value": "gpu",
                                                "effect": "NoSchedule"}])
    assert await eventually(lambda: bound_to(cluster, "tolerant"), "tolerant is bound") == node
    event = await eventually(lambda: event_with(cluster, "plain", "FailedScheduling"), "plain fails")
    assert event["message"] == ("0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}. "
                                "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.")
    assert await bound_to(cluster, "plain") == ""


async def test_a_not_ready_node_counts_as_tainted_not_ready(cluster: Cluster) -> None:
    node = cluster.node_name("down")
    created = await cluster.node(node)
    created["status"]["conditions"] = [{"type": "Ready", "status": "False", "reason": "KubeletNotReady", "message": "x"}]
    await cluster.client.update_status(NODES, created)
    await cluster.pod("waiting")
    message = ("0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }. "
               "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.")

    async def failed_as_not_ready() -> bool:
        return any(e.get("message") == message for e in await cluster.events("waiting"))

    await eventually(failed_as_not_ready, "the pod fails on the not-ready taint")
    ready = await cluster.client.get(NODES, node)
    ready["status"]["conditions"] = [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "ok"}]
    await cluster.client.update_status(NODES, ready)
    assert await eventually(lambda: bound_to(cluster, "waiting"), "waiting is bound once the node is Ready") == node


async def test_a_replicasets_pods_spread_over_two_nodes(cluster: Cluster) -> None:
    first, second = cluster.node_name("left"), cluster.node_name("right")
    await cluster.node(first)
    await cluster.node(second)
    template = cluster.pod_body("template")
    template["metadata"] = {"labels": {"app": "spread"}}
    rs = await cluster.client.create(REPLICASETS, {
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "spread", "namespace": cluster.namespace},
        "spec": {"replicas": 6, "selector": {"matchLabels": {"app": "spread"}}, "template": template},
    }, cluster.namespace)
    owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "spread", "uid": rs["metadata"]["uid"],
             "controller": True, "blockOwnerDeletion": True}
    for i in range(6):
        await cluster.pod(f"spread-{i}", cpu="10m", metadata={"labels": {"app": "spread"}, "ownerReferences": [owner]})

    async def placement() -> dict[str, int] | None:
        nodes = [await bound_to(cluster, f"spread-{i}") for i in range(6)]
        if not all(nodes):
            return None
        return {n: nodes.count(n) for n in (first, second)}

    assert await eventually(placement, "all six are bound") == {first: 3, second: 3}


async def test_a_burst_of_fifty_pods_does_not_overcommit_the_nodes(cluster: Cluster) -> None:
    nodes = [cluster.node_name("burst-a"), cluster.node_name("burst-b")]
    for node in nodes:
        await cluster.node(node, cpu="1")
    await asyncio.gather(*(cluster.pod(f"burst-{i}", cpu="100m") for i in range(50)))

    async def settled() -> list[Obj] | None:
        pods = (await cluster.client.list(PODS, cluster.namespace)).get("items") or []
        bound = [p for p in pods if p["spec"].get("nodeName")]
        refused = [p for p in pods if any(c.get("type") == "PodScheduled" and c.get("status") == "False"
                                          for c in p.get("status", {}).get("conditions", []))]
        return pods if len(bound) == 20 and len(refused) == 30 else None

    pods = await eventually(settled, "20 pods are bound and 30 refused", timeout=20)
    per_node = {n: sum(1 for p in pods if p["spec"].get("nodeName") == n) for n in nodes}
    assert per_node == {nodes[0]: 10, nodes[1]: 10}
    await asyncio.sleep(0.5)
    pods = (await cluster.client.list(PODS, cluster.namespace)).get("items") or []
    assert sum(1 for p in pods if p["spec"].get("nodeName")) == 20
    refusal = json.dumps([c for p in pods for c in p.get("status", {}).get("conditions", [])
                          if c.get("type") == "PodScheduled" and c.get("status") == "False"][:1])
    assert "0/2 nodes are available: 2 Insufficient cpu." in refusal


async def test_run_is_the_entry_point_and_logs_one_line(server: RunningServer, caplog: pytest.LogCaptureFixture) -> None:
    name = f"e2e-run-{uuid.uuid4().hex[:6]}"
    config = load_kubeconfig(server.kubeconfig)
    caplog.set_level(logging.INFO, logger="kybernetes.scheduler")
    async with Client(config) as client:
        test = Cluster(client, f"sched-{uuid.uuid4().hex[:8]}", name)
        await client.create(NAMESPACES, {"metadata": {"name": test.namespace}})
        await require_binding(client, test.namespace)
        task = asyncio.create_task(run(config, name=name))
        try:
            node = test.node_name("entry")
            await test.node(node)
            await test.pod("hello")
            assert await eventually(lambda: bound_to(test, "hello"), "hello is bound") == node
        finally:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            for created in test.nodes:
                await client.delete(NODES, created)
            await client.delete(NAMESPACES, test.namespace)
    started = [r.getMessage() for r in caplog.records if "started" in r.getMessage()]
    assert len(started) == 1 and started[0].startswith(f"scheduler: started as {name} (")
