"""The scheduling queue (priority, backoff, retry on relevant events) and the cache (assume, confirm, forget)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kybernetes.aio.clock import FakeClock
from kybernetes.scheduler.cache import Cache, node_changes
from kybernetes.scheduler.framework import Event, PodInfo
from kybernetes.scheduler.queue import QueueSettings, SchedulingQueue
from kybernetes.scheduler.runtime import Framework

Obj = dict[str, Any]


def pod(name: str, *, priority: int = 0, node: str = "", cpu: str = "100m", labels: dict[str, str] | None = None) -> Obj:
    spec: Obj = {"containers": [{"name": "c", "image": "x", "resources": {"requests": {"cpu": cpu}}}], "priority": priority}
    if node:
        spec["nodeName"] = node
    return {"metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}", "labels": labels or {}}, "spec": spec}


def info(name: str, **kwargs: Any) -> PodInfo:
    return PodInfo.of(pod(name, **kwargs))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def queue(clock: FakeClock) -> SchedulingQueue:
    return SchedulingQueue(plugin_events=Framework().events, clock=clock)


async def pop_now(queue: SchedulingQueue) -> str | None:
    """Pop without waiting: the key of the next active pod, or None."""
    try:
        return (await asyncio.wait_for(queue.pop(), 0.01)).key
    except TimeoutError:
        return None


async def test_higher_priority_then_earlier_pods_come_first(queue: SchedulingQueue, clock: FakeClock) -> None:
    queue.add(info("old"))
    clock.step(1)
    queue.add(info("new"))
    queue.add(info("urgent", priority=1000))
    assert [await pop_now(queue) for _ in range(4)] == ["default/urgent", "default/old", "default/new", None]


async def test_an_unschedulable_pod_waits_for_an_event_its_plugins_care_about(queue: SchedulingQueue, clock: FakeClock) -> None:
    queue.add(info("p"))
    queued = await queue.pop()
    queue.unschedulable(queued, frozenset({"NodeAffinity"}))
    assert queue.where("default/p") == "unschedulable"
    assert queue.move(Event.POD_DELETE) == 0
    assert queue.where("default/p") == "unschedulable"
    clock.step(5)
    assert queue.move(Event.NODE_LABEL) == 1
    assert queue.where("default/p") == "active"


async def test_a_pod_moved_during_its_backoff_waits_for_it_to_end(queue: SchedulingQueue, clock: FakeClock) -> None:
    queue.add(info("p"))
    queue.unschedulable(await queue.pop(), frozenset({"NodeResourcesFit"}))
    clock.step(0.4)
    queue.move(Event.POD_DELETE)
    assert queue.where("default/p") == "backoff"
    clock.step(0.5)
    assert queue.where("default/p") == "backoff"
    clock.step(0.1)
    assert queue.where("default/p") == "active"


@pytest.mark.parametrize(("attempts", "seconds"), [(1, 1), (2, 2), (3, 4), (4, 8), (5, 10), (9, 10)])
def test_backoff_doubles_up_to_ten_seconds(queue: SchedulingQueue, attempts: int, seconds: float) -> None:
    assert queue.backoff_duration(attempts) == seconds


async def test_an_event_during_the_attempt_sends_the_failed_pod_to_backoff(queue: SchedulingQueue, clock: FakeClock) -> None:
    queue.add(info("p"))
    queued = await queue.pop()
    queue.move(Event.NODE_ADD)  # arrives while the pod is being scheduled
    queue.unschedulable(queued, frozenset({"NodeAffinity"}))
    assert queue.where("default/p") == "backoff"
    clock.step(1)
    assert await pop_now(queue) == "default/p"


async def test_errors_retry_after_backoff(queue: SchedulingQueue, clock: FakeClock) -> None:
    queue.add(info("p"))
    queue.retry(await queue.pop())
    assert queue.where("default/p") == "backoff"
    clock.step(1)
    assert queue.where("default/p") == "active"


async def test_a_changed_pod_is_retried_and_a_status_change_is_not(queue: SchedulingQueue, clock: FakeClock) -> None:
    queue.add(info("p"))
    queue.unschedulable(await queue.pop(), frozenset({"NodeAffinity"}))
    clock.step(2)
    queue.update(info("p"), changed=False)
    assert queue.where("default/p") == "unschedulable"
    queue.update(info("p", labels={"x": "y"}), changed=True)
    assert queue.where("default/p") == "active"


async def test_pods_left_unschedulable_for_five_minutes_are_retried(clock: FakeClock) -> None:
    queue = SchedulingQueue(plugin_events={}, clock=clock, settings=QueueSettings(flush_interval=30))
    queue.add(info("p"))
    queue.unschedulable(await queue.pop(), frozenset({"NodeAffinity"}))
    flusher = asyncio.create_task(queue.run())
    try:
        for _ in range(10):
            await asyncio.sleep(0)
            clock.step(30)
        await asyncio.sleep(0)
        assert queue.where("default/p") == "active"
    finally:
        flusher.cancel()


async def test_deleted_pods_leave_every_part_of_the_queue(queue: SchedulingQueue) -> None:
    queue.add(info("p"))
    queued = await queue.pop()
    queue.delete("default/p")
    queue.unschedulable(queued, frozenset())
    assert queue.where("default/p") is None and len(queue) == 0


# -- cache ------------------------------------------------------------------------------------------


def node(name: str, **status: Any) -> Obj:
    return {"metadata": {"name": name, "labels": {}}, "spec": {},
            "status": {"allocatable": {"cpu": "1", "memory": "1Gi", "pods": "10"},
                       "conditions": [{"type": "Ready", "status": "True"}], **status}}


def test_assumed_pods_count_until_forgotten_and_confirmed_pods_replace_them() -> None:
    cache = Cache()
    cache.set_node(node("a"))
    assumed = cache.assume(info("p", cpu="300m"), "a")
    assert assumed.spec["nodeName"] == "a" and cache.is_assumed("uid-p")
    assert cache.node("a").requested.milli_cpu == 300
    cache.forget("uid-p")
    assert cache.node("a").requested.milli_cpu == 0 and not cache.is_assumed("uid-p")
    cache.assume(info("p", cpu="300m"), "a")
    assert cache.set_pod(pod("p", node="a", cpu="300m")) is False  # known there already
    assert not cache.is_assumed("uid-p") and cache.node("a").requested.milli_cpu == 300
    cache.forget("uid-p")  # a confirmed pod is not undone
    assert cache.node("a").requested.milli_cpu == 300
    assert cache.remove_pod(pod("p", node="a")) and cache.node("a").requested.milli_cpu == 0


def test_pods_may_arrive_before_their_node_and_outlive_it() -> None:
    cache = Cache()
    cache.set_pod(pod("early", node="b", cpu="200m"))
    assert cache.nodes() == []
    cache.set_node(node("b"))
    assert [n.name for n in cache.nodes()] == ["b"] and cache.node("b").requested.milli_cpu == 200
    cache.remove_node(node("b"))
    assert cache.nodes() == [] and cache.node("b") is not None
    cache.remove_pod(pod("early", node="b"))
    assert cache.node("b") is None


@pytest.mark.parametrize(
    ("change", "event"),
    [
        (lambda n: n["metadata"].update(labels={"gpu": "true"}), Event.NODE_LABEL),
        (lambda n: n["spec"].update(taints=[{"key": "k", "effect": "NoSchedule"}]), Event.NODE_TAINT),
        (lambda n: n["spec"].update(unschedulable=True), Event.NODE_UNSCHEDULABLE),
        (lambda n: n["status"].update(allocatable={"cpu": "2"}), Event.NODE_ALLOCATABLE),
        (lambda n: n["status"].update(conditions=[{"type": "Ready", "status": "False"}]), Event.NODE_CONDITION),
        (lambda n: n["status"].update(conditions=[{"type": "Ready", "status": "True", "lastHeartbeatTime": "x"}]),
         Event.NONE),
    ],
    ids=["labels", "taints", "cordon", "allocatable", "not-ready", "heartbeat"],
)
def test_node_changes_name_what_matters_for_scheduling(change: Any, event: Event) -> None:
    old = node("a")
    new = node("a")
    change(new)
    assert node_changes(old, new) == event
