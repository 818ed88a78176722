"""Tests for the node lifecycle controller's NoSchedule pass: cordon and conditions become taints, others stay."""

from __future__ import annotations

import pytest

from kybernetes.aio.clock import FakeClock
from kybernetes.client.config import Config
from kybernetes.client.informer import SharedInformerFactory
from kybernetes.client.rest import Client
from kybernetes.controllers.nodelifecycle import NodeLifecycleController, reconciled_taints, wanted_keys
from tests.controllers.fakeapi import NODES, Driver, FakeAPI

READY = {"type": "Ready", "status": "True"}


def controller(api: FakeAPI) -> tuple[NodeLifecycleController, Driver]:
    client = Client(Config("https://fake"), transport=api)
    informers = SharedInformerFactory(client)
    ctl = NodeLifecycleController(client, informers, clock=FakeClock())
    driver = Driver(api, informers, ctl.queue, ctl.sync)
    driver.mirror()
    return ctl, driver


def _node(spec: dict | None = None, conditions: list[dict] | None = None) -> dict:
    return {"metadata": {"name": "n"}, "spec": spec or {}, "status": {"conditions": conditions or [READY]}}


@pytest.mark.parametrize("node, keys", [
    (_node(), []),
    (_node({"unschedulable": True}), ["node.kubernetes.io/unschedulable"]),
    (_node(conditions=[{"type": "Ready", "status": "False"}]), ["node.kubernetes.io/not-ready"]),
    (_node(conditions=[{"type": "Ready", "status": "Unknown"}, {"type": "DiskPressure", "status": "True"}]),
     ["node.kubernetes.io/unreachable", "node.kubernetes.io/disk-pressure"]),
    (_node({"unschedulable": True}, [READY, {"type": "MemoryPressure", "status": "True"},
                                     {"type": "PIDPressure", "status": "False"}]),
     ["node.kubernetes.io/memory-pressure", "node.kubernetes.io/unschedulable"]),
], ids=["healthy", "cordoned", "not-ready", "unreachable-disk", "memory-and-cordoned"])
def test_wanted_taints_follow_upstreams_condition_map(node: dict, keys: list[str]) -> None:
    assert wanted_keys(node) == keys


def test_other_taints_stay_and_kept_taints_keep_their_time() -> None:
    own = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}
    execute = {"key": "node.kubernetes.io/unschedulable", "effect": "NoExecute"}
    old = {"key": "node.kubernetes.io/memory-pressure", "effect": "NoSchedule", "timeAdded": "2020-01-01T00:00:00Z"}
    node = _node({"unschedulable": True, "taints": [own, execute, old]},
                 [READY, {"type": "MemoryPressure", "status": "True"}])
    taints = reconciled_taints(node, "2030-01-01T00:00:00Z")
    assert taints == [own, execute, old, {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule",
                                          "timeAdded": "2030-01-01T00:00:00Z"}]
    node["spec"]["taints"] = taints
    assert reconciled_taints(node, "2031-01-01T00:00:00Z") is None


async def test_cordon_adds_the_unschedulable_taint_and_uncordon_removes_it(api: FakeAPI) -> None:
    api.add(NODES, "worker", spec={"taints": [{"key": "dedicated", "effect": "NoSchedule"}]},
            status={"conditions": [READY]})
    ctl, driver = controller(api)
    await driver.settle()
    assert api.writes() == []  # nothing to change on a healthy, schedulable node

    node = api.get(NODES, "worker")
    api.objects[NODES][("", "worker")] = {**node, "spec": {**node["spec"], "unschedulable": True}}
    ctl.queue.add("worker")
    await driver.settle()
    taints = api.get(NODES, "worker")["spec"]["taints"]
    assert [(t["key"], t["effect"]) for t in taints] == [("dedicated", "NoSchedule"),
                                                         ("node.kubernetes.io/unschedulable", "NoSchedule")]
    assert taints[1]["timeAdded"].endswith("Z")

    node = api.get(NODES, "worker")
    api.objects[NODES][("", "worker")] = {**node, "spec": {**node["spec"], "unschedulable": False}}
    ctl.queue.add("worker")
    await driver.settle()
    assert api.get(NODES, "worker")["spec"]["taints"] == [{"key": "dedicated", "effect": "NoSchedule"}]


async def test_the_last_managed_taint_going_leaves_no_taints_field(api: FakeAPI) -> None:
    api.add(NODES, "worker", spec={"taints": [{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]},
            status={"conditions": [READY]})
    ctl, driver = controller(api)
    ctl.queue.add("worker")
    await driver.settle()
    assert "taints" not in api.get(NODES, "worker")["spec"]
