"""The scheduler loop without a server: informer stores filled by hand, a transport function answering bindings."""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator

import orjson
import pytest

from kybernetes.client.config import Config
from kybernetes.client.informer import SharedInformerFactory
from kybernetes.client.rest import Client, Request, Response
from kybernetes.scheduler import Scheduler
from kybernetes.scheduler.framework import SUCCESS, Event, Status
from kybernetes.scheduler.runtime import Framework
from kybernetes.scheduler.scheduler import truncate_message

Obj = dict[str, Any]


class API:
    """API answers bindings, events and status patches, refusing bindings on demand."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, Obj]] = []
        self.refuse_bindings = 0

    async def __call__(self, request: Request) -> Response:
        body = orjson.loads(request.body) if request.body else {}
        self.requests.append((request.method, request.path, body))
        if request.path.endswith("/binding") and self.refuse_bindings:
            self.refuse_bindings -= 1
            return Response(500, orjson.dumps({"kind": "Status", "status": "Failure", "reason": "InternalError",
                                               "message": "etcd is sad", "code": 500}))
        return Response(201, orjson.dumps(body))

    def sent(self, method: str, suffix: str) -> list[Obj]:
        return [b for m, p, b in self.requests if m == method and p.endswith(suffix)]


def node(name: str, *, cpu: str = "1", labels: dict[str, str] | None = None) -> Obj:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels or {}, "resourceVersion": "1"},
            "spec": {}, "status": {"allocatable": {"cpu": cpu, "memory": "1Gi", "pods": "110"},
                                   "conditions": [{"type": "Ready", "status": "True"}]}}


def pod(name: str, *, cpu: str = "100m", scheduler: str = "default-scheduler", node_name: str = "", rv: str = "1",
        **spec: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}", "resourceVersion": rv},
            "spec": {"schedulerName": scheduler, "nodeName": node_name,
                     "containers": [{"name": "c", "image": "x", "resources": {"requests": {"cpu": cpu}}}], **spec},
            "status": {"phase": "Pending"}}


@pytest.fixture
def api() -> API:
    return API()


@pytest.fixture
async def scheduler(api: API) -> AsyncIterator[Scheduler]:
    client = Client(Config(server="https://127.0.0.1:1"), transport=api)
    yield Scheduler(client, SharedInformerFactory(client))


async def running(scheduler: Scheduler, pods: list[Obj], nodes: list[Obj]) -> asyncio.Task[None]:
    scheduler.namespaces.replace([], "1")
    scheduler.nodes.replace(nodes, "1")
    scheduler.pods.replace(pods, "1")
    task = asyncio.create_task(scheduler.run())
    await settle()
    return task


async def settle() -> None:
    for _ in range(50):
        await asyncio.sleep(0)


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass


def test_only_our_pending_pods_are_queued_and_bound_pods_are_cached(scheduler: Scheduler) -> None:
    scheduler.nodes.replace([node("a")], "1")
    scheduler.pods.replace([
        pod("mine"), pod("theirs", scheduler="other"), pod("gated", schedulingGates=[{"name": "wait"}]),
        pod("bound", node_name="a", cpu="300m"), {**pod("done", node_name="a"), "status": {"phase": "Succeeded"}},
    ], "1")
    assert scheduler.queue.where("default/mine") == "active"
    assert all(scheduler.queue.where(f"default/{n}") is None for n in ("theirs", "gated", "bound", "done"))
    assert scheduler.cache.node("a").requested.milli_cpu == 300


async def test_a_pod_is_bound_and_gets_a_scheduled_event(scheduler: Scheduler, api: API) -> None:
    task = await running(scheduler, [pod("web")], [node("node1")])
    await stop(task)
    [binding] = api.sent("POST", "/namespaces/default/pods/web/binding")
    assert binding["target"] == {"apiVersion": "v1", "kind": "Node", "name": "node1"}
    assert binding["metadata"] == {"name": "web", "namespace": "default", "uid": "uid-web"}
    [event] = api.sent("POST", "/namespaces/default/events")
    assert (event["reason"], event["message"]) == ("Scheduled", "Successfully assigned default/web to node1")
    assert scheduler.cache.is_assumed("uid-web")
    scheduler._pod_updated(pod("web"), pod("web", node_name="node1", rv="2"))
    assert not scheduler.cache.is_assumed("uid-web")


async def test_a_misfit_gets_failed_scheduling_and_an_unschedulable_condition(scheduler: Scheduler, api: API) -> None:
    task = await running(scheduler, [pod("big", cpu="2")], [node("node1")])
    await stop(task)
    message = ("0/1 nodes are available: 1 Insufficient cpu. "
               "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.")
    [event] = api.sent("POST", "/events")
    assert (event["type"], event["reason"], event["message"]) == ("Warning", "FailedScheduling", message)
    [patch] = api.sent("PATCH", "/pods/big/status")
    [condition] = patch["status"]["conditions"]
    assert {k: condition[k] for k in ("type", "status", "reason", "message")} == {
        "type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message}
    assert scheduler.queue.where("default/big") == "unschedulable"
    assert not api.sent("POST", "/binding")


async def test_a_burst_is_placed_without_overcommitting(scheduler: Scheduler, api: API) -> None:
    task = await running(scheduler, [pod(f"p{i}") for i in range(50)], [node("a"), node("b")])
    await stop(task)
    bindings = api.sent("POST", "/binding")
    targets = [b["target"]["name"] for b in bindings]
    assert len(targets) == 20 and targets.count("a") == targets.count("b") == 10
    assert all(n.requested.milli_cpu <= n.allocatable.milli_cpu for n in scheduler.cache.nodes())
    assert len([p for p in api.sent("PATCH", "/status")]) == 30


async def test_a_failed_binding_forgets_the_assumed_pod_and_retries_after_backoff(scheduler: Scheduler, api: API) -> None:
    api.refuse_bindings = 1
    task = await running(scheduler, [pod("web")], [node("node1")])
    try:
        assert not scheduler.cache.is_assumed("uid-web")
        assert scheduler.cache.node("node1").requested.milli_cpu == 0
        assert scheduler.queue.where("default/web") == "backoff"
        [event] = api.sent("POST", "/events")
        assert event["reason"] == "FailedScheduling"
        assert event["message"].startswith('running Bind plugin "DefaultBinder": 500 InternalError')
        [patch] = api.sent("PATCH", "/status")
        assert patch["status"]["conditions"][0]["reason"] == "SchedulerError"
        await asyncio.sleep(1.1)
        await settle()
        assert len(api.sent("POST", "/binding")) == 2 and scheduler.cache.is_assumed("uid-web")
    finally:
        await stop(task)


async def test_labelling_a_node_retries_the_waiting_pod(scheduler: Scheduler, api: API) -> None:
    task = await running(scheduler, [pod("gpu", nodeSelector={"gpu": "true"})], [node("a")])
    try:
        assert scheduler.queue.where("default/gpu") == "unschedulable"
        await asyncio.sleep(1.0)  # let the first attempt's backoff run out
        labelled = node("a", labels={"gpu": "true"})
        labelled["metadata"]["resourceVersion"] = "2"
        scheduler.nodes.replace([labelled], "2")
        await settle()
        [binding] = api.sent("POST", "/binding")
        assert binding["target"]["name"] == "a"
    finally:
        await stop(task)


def test_long_messages_are_cut_as_upstream_does() -> None:
    assert truncate_message("x" * 1024) == "x" * 1024
    assert truncate_message("x" * 2000) == "x" * 1020 + " ..."


class Exploding:
    """Exploding is a filter with a bug for pods named "odd"."""

    name = "Exploding"
    events = Event.NODE_ADD

    def filter(self, state: Any, pod: Any, node: Any) -> Status:
        if pod.name == "odd":
            raise ValueError("plugin bug")
        return SUCCESS


async def test_a_plugin_error_retries_that_pod_and_spares_the_others(api: API) -> None:
    client = Client(Config(server="https://127.0.0.1:1"), transport=api)
    framework = Framework(filters=["Exploding"], scores={}, plugins={"Exploding": lambda handle: Exploding()})
    scheduler = Scheduler(client, SharedInformerFactory(client), framework=framework)
    task = await running(scheduler, [pod("odd"), pod("fine")], [node("a")])
    await stop(task)
    assert [b["metadata"]["name"] for b in api.sent("POST", "/binding")] == ["fine"]
    assert scheduler.queue.where("default/odd") == "backoff"
    [patch] = api.sent("PATCH", "/pods/odd/status")
    assert patch["status"]["conditions"][0]["reason"] == "SchedulerError"
