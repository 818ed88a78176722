"""Tests for the garbage collector: caches filled from a fake API, `sync` driven by hand, actions counted."""

import asyncio

import pytest

from kybernetes.aio.clock import FakeClock
from kybernetes.client.config import Config
from kybernetes.client.informer import SharedInformerFactory
from kybernetes.client.rest import Client
from kybernetes.controllers.garbagecollector import GarbageCollector
from tests.controllers.fakeapi import CONFIGMAPS, DEPLOYMENTS, EVENTS, NAMESPACES, NODES, PODS, REPLICASETS, Driver, FakeAPI, owner_ref


async def collector(api: FakeAPI) -> tuple[GarbageCollector, Driver]:
    client = Client(Config("https://fake"), transport=api)
    gc = GarbageCollector(client, SharedInformerFactory(client))
    await gc.resync_monitors()
    driver = Driver(api, gc.informers, gc.queue, gc.sync)
    driver.mirror()
    return gc, driver


async def test_it_watches_every_deletable_resource_but_events(api: FakeAPI) -> None:
    gc, _ = await collector(api)
    assert {r.plural for r in gc.monitored} == {"namespaces", "configmaps", "pods", "nodes", "deployments",
                                                "replicasets", "widgets"}
    assert EVENTS not in gc.monitored


async def test_live_owners_cause_no_requests(api: FakeAPI) -> None:
    owner = api.add(CONFIGMAPS, "owner", "n")
    api.add(CONFIGMAPS, "dep", "n", owners=[owner_ref(owner)])
    gc, driver = await collector(api)
    api.actions.clear()
    await driver.settle()
    assert api.actions == []


async def test_dependents_of_a_deleted_owner_are_deleted_in_background(api: FakeAPI) -> None:
    owner = api.add(CONFIGMAPS, "owner", "n")
    dep = api.add(CONFIGMAPS, "dep", "n", owners=[owner_ref(owner)])
    gc, driver = await collector(api)
    api.delete_now(CONFIGMAPS, "owner", "n")
    api.actions.clear()
    await driver.settle()
    assert api.names(CONFIGMAPS) == []
    deletes = [a for a in api.actions if a[0] == "DELETE"]
    assert deletes == [("DELETE", "configmaps", "n/dep", "Background")]
    # the owner was verified by a live GET before acting, as upstream does
    assert ("GET", "configmaps", "n/owner", None) in api.actions
    assert dep["metadata"]["uid"]


async def test_an_owner_that_never_existed_is_dangling(api: FakeAPI) -> None:
    ghost = {"apiVersion": "v1", "kind": "ConfigMap", "name": "ghost", "uid": "never-was"}
    api.add(PODS, "orphan-pod", "n", owners=[ghost])
    gc, driver = await collector(api)
    await driver.settle()
    assert api.names(PODS) == []


async def test_a_namesake_with_another_uid_does_not_keep_dependents_alive(api: FakeAPI) -> None:
    old = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": "old-uid"}
    api.add(CONFIGMAPS, "owner", "n", uid="new-uid")
    api.add(CONFIGMAPS, "dep", "n", owners=[old])
    gc, driver = await collector(api)
    await driver.settle()
    assert api.names(CONFIGMAPS) == ["owner"]


async def test_a_dependent_with_another_live_owner_only_loses_the_dead_reference(api: FakeAPI) -> None:
    alive = api.add(CONFIGMAPS, "alive", "n")
    dead = api.add(CONFIGMAPS, "dead", "n")
    api.add(CONFIGMAPS, "dep", "n", owners=[owner_ref(dead), owner_ref(alive, controller=False)])
    gc, driver = await collector(api)
    api.delete_now(CONFIGMAPS, "dead", "n")
    api.actions.clear()
    await driver.settle()
    assert api.names(CONFIGMAPS) == ["alive", "dep"]
    refs = api.get(CONFIGMAPS, "dep", "n")["metadata"]["ownerReferences"]
    assert [r["name"] for r in refs] == ["alive"]
    assert [a[0] for a in api.writes()] == ["PATCH"]
    patch = api.writes()[0][3]
    assert patch["metadata"]["resourceVersion"]  # optimistic concurrency on the dependent


async def test_background_deletion_cascades_down_a_chain(api: FakeAPI) -> None:
    deploy = api.add(DEPLOYMENTS, "web", "n")
    rs = api.add(REPLICASETS, "web-1", "n", owners=[owner_ref(deploy, block=True)])
    for i in range(3):
        api.add(PODS, f"web-1-{i}", "n", owners=[owner_ref(rs, block=True)])
    gc, driver = await collector(api)
    api.delete_now(DEPLOYMENTS, "web", "n")
    await driver.settle()
    assert api.names(REPLICASETS) == [] and api.names(PODS) == []


async def test_foreground_deletes_blocking_dependents_before_the_owner(api: FakeAPI) -> None:
    deploy = api.add(DEPLOYMENTS, "web", "n")
    rs = api.add(REPLICASETS, "web-1", "n", owners=[owner_ref(deploy, block=True)])
    api.add(PODS, "web-1-a", "n", owners=[owner_ref(rs, block=True)])
    gc, driver = await collector(api)
    api.delete_now(DEPLOYMENTS, "web", "n", policy="Foreground")
    assert api.get(DEPLOYMENTS, "web", "n")["metadata"]["finalizers"] == ["foregroundDeletion"]
    api.actions.clear()
    await driver.settle()
    assert api.names(DEPLOYMENTS) == [] and api.names(REPLICASETS) == [] and api.names(PODS) == []
    writes = [(a[0], a[2], a[3] if a[0] == "DELETE" else None) for a in api.writes()]
    # the ReplicaSet has a dependent of its own, so it too goes in foreground; the pod first,
    # then the ReplicaSet's finalizer, then the Deployment's.
    assert writes == [
        ("DELETE", "n/web-1", "Foreground"),
        ("DELETE", "n/web-1-a", "Background"),
        ("PATCH", "n/web-1", None),
        ("PATCH", "n/web", None),
    ]


async def test_foreground_waits_while_a_blocking_dependent_is_still_terminating(api: FakeAPI) -> None:
    owner = api.add(CONFIGMAPS, "owner", "n")
    api.add(PODS, "slow", "n", owners=[owner_ref(owner, block=True)], finalizers=["example.com/slow"])
    gc, driver = await collector(api)
    api.delete_now(CONFIGMAPS, "owner", "n", policy="Foreground")
    await driver.settle()
    assert api.names(CONFIGMAPS) == ["owner"]  # held by its terminating pod
    assert api.get(PODS, "slow", "n")["metadata"]["deletionTimestamp"]
    pod = api.get(PODS, "slow", "n")
    pod["metadata"]["finalizers"] = []
    api._store(PODS, "n", pod)  # the pod's own finalizer goes away
    await driver.settle()
    assert api.names(CONFIGMAPS) == [] and api.names(PODS) == []


async def test_non_blocking_dependents_do_not_hold_the_owner(api: FakeAPI) -> None:
    owner = api.add(CONFIGMAPS, "owner", "n")
    api.add(PODS, "loose", "n", owners=[owner_ref(owner, block=False)], finalizers=["example.com/slow"])
    gc, driver = await collector(api)
    api.delete_now(CONFIGMAPS, "owner", "n", policy="Foreground")
    await driver.settle()
    assert api.names(CONFIGMAPS) == []
    assert api.get(PODS, "loose", "n")["metadata"]["deletionTimestamp"]


async def test_orphan_removes_references_then_the_finalizer(api: FakeAPI) -> None:
    owner = api.add(REPLICASETS, "rs", "n")
    other = api.add(CONFIGMAPS, "other", "n")
    api.add(PODS, "p1", "n", owners=[owner_ref(owner, block=True)])
    api.add(PODS, "p2", "n", owners=[owner_ref(owner), owner_ref(other, controller=False)])
    gc, driver = await collector(api)
    api.delete_now(REPLICASETS, "rs", "n", policy="Orphan")
    api.actions.clear()
    await driver.settle()
    assert api.names(REPLICASETS) == [] and api.names(PODS) == ["p1", "p2"]
    assert "ownerReferences" not in api.get(PODS, "p1", "n")["metadata"]
    assert [r["name"] for r in api.get(PODS, "p2", "n")["metadata"]["ownerReferences"]] == ["other"]
    writes = [(a[0], a[1], a[2]) for a in api.writes()]
    assert writes[-1] == ("PATCH", "replicasets", "n/rs")  # the finalizer goes last
    assert sorted(writes[:-1]) == [("PATCH", "pods", "n/p1"), ("PATCH", "pods", "n/p2")]


async def test_cluster_scoped_dependents_of_namespaced_owners_are_dangling(api: FakeAPI) -> None:
    owner = api.add(CONFIGMAPS, "owner", "n")
    api.add(NODES, "node1", owners=[owner_ref(owner)])
    gc, driver = await collector(api)
    await driver.settle()
    assert api.names(NODES) == []


async def test_cluster_scoped_owners_are_looked_up_without_a_namespace(api: FakeAPI) -> None:
    ns = api.add(NAMESPACES, "team")
    api.add(CONFIGMAPS, "cm", "n", owners=[owner_ref(ns)])
    gc, driver = await collector(api)
    api.objects[NAMESPACES].clear()
    await driver.settle()
    assert ("GET", "namespaces", "team", None) in api.actions
    assert api.names(CONFIGMAPS) == []


async def test_a_dependent_recreated_under_the_same_name_is_not_deleted(api: FakeAPI) -> None:
    owner = api.add(CONFIGMAPS, "owner", "n")
    api.add(CONFIGMAPS, "dep", "n", owners=[owner_ref(owner)])
    gc, driver = await collector(api)
    api.delete_now(CONFIGMAPS, "owner", "n")
    driver.mirror()
    api.objects[CONFIGMAPS].clear()
    api.add(CONFIGMAPS, "dep", "n")  # a new incarnation, no owners
    key = await gc.queue.get()
    await gc.sync(key)
    gc.queue.done(key)
    await driver.settle()
    assert api.names(CONFIGMAPS) == ["dep"]


async def test_foreground_and_orphan_wait_for_all_caches(api: FakeAPI) -> None:
    owner = api.add(CONFIGMAPS, "owner", "n")
    gc, driver = await collector(api)
    api.delete_now(CONFIGMAPS, "owner", "n", policy="Foreground")
    driver.mirror()
    gc.informers.informer(PODS)._synced.clear()
    assert await gc.sync(owner["metadata"]["uid"]) == gc.settings.unsynced_retry
    assert api.writes() == []


async def test_unknown_owner_kinds_are_retried_not_guessed(api: FakeAPI) -> None:
    strange = {"apiVersion": "nowhere.io/v1", "kind": "Thing", "name": "t", "uid": "t-uid"}
    dep = api.add(CONFIGMAPS, "dep", "n", owners=[strange])
    gc, driver = await collector(api)
    with pytest.raises(LookupError):
        await gc.sync(dep["metadata"]["uid"])
    assert api.names(CONFIGMAPS) == ["dep"]


async def test_rediscovery_adds_and_drops_monitors(api: FakeAPI) -> None:
    gc, _ = await collector(api)
    api.refs.remove(NODES)
    await gc.resync_monitors()
    assert NODES not in gc.monitored and gc.informers.get(NODES) is None
    api.failing_paths.add("/apis/apps/v1")
    api.refs.append(NODES)
    await gc.resync_monitors()  # incomplete discovery adds but never drops
    assert NODES in gc.monitored and REPLICASETS in gc.monitored


async def test_a_failing_first_discovery_is_retried_not_fatal(api: FakeAPI) -> None:
    clock = FakeClock()
    client = Client(Config("https://fake"), transport=api)
    gc = GarbageCollector(client, SharedInformerFactory(client), clock=clock)
    api.failing_paths.add("/api")
    task = asyncio.create_task(gc.run())
    await asyncio.sleep(0.01)
    assert not task.done() and len(clock.pending()) == 1
    api.failing_paths.clear()
    clock.step(clock.pending()[0])
    for _ in range(100):
        if gc.monitored:
            break
        await asyncio.sleep(0.001)
    assert CONFIGMAPS in gc.monitored
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
