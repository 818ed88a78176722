"""Tests for the namespace controller: sweep, wait, report conditions, finalize."""

import pytest

from kybernetes.aio.clock import FakeClock
from kybernetes.client import errors
from kybernetes.client.config import Config
from kybernetes.client.informer import SharedInformerFactory
from kybernetes.client.rest import Client
from kybernetes.controllers.namespace import NamespaceController, conditions, Content
from tests.controllers.fakeapi import CONFIGMAPS, EVENTS, NAMESPACES, NODES, PODS, WIDGETS, Driver, FakeAPI


def controller(api: FakeAPI) -> tuple[NamespaceController, Driver]:
    client = Client(Config("https://fake"), transport=api)
    informers = SharedInformerFactory(client)
    ctl = NamespaceController(client, informers, clock=FakeClock())
    driver = Driver(api, informers, ctl.queue, ctl.sync)
    driver.mirror()
    return ctl, driver


def condition(ns: dict, kind: str) -> dict:
    return next(c for c in ns["status"]["conditions"] if c["type"] == kind)


async def test_an_active_namespace_is_left_alone(api: FakeAPI) -> None:
    api.add(NAMESPACES, "team")
    api.add(CONFIGMAPS, "cm", "team")
    ctl, driver = controller(api)
    await driver.settle()
    assert api.writes() == [] and len(ctl.queue) == 0


async def test_a_terminating_namespace_is_emptied_then_finalized(api: FakeAPI) -> None:
    api.add(NAMESPACES, "team")
    api.add(NAMESPACES, "other")
    api.add(CONFIGMAPS, "cm", "team")
    api.add(CONFIGMAPS, "keep", "other")
    api.add(PODS, "p", "team")
    api.add(EVENTS, "e", "team")
    api.add(WIDGETS, "w1", "team")
    api.add(NODES, "node1")
    ctl, driver = controller(api)
    api.delete_now(NAMESPACES, "team")
    assert api.get(NAMESPACES, "team")["status"]["phase"] == "Terminating"
    api.actions.clear()
    await driver.settle()

    assert api.get(NAMESPACES, "team") is None
    assert api.names(CONFIGMAPS) == ["keep"] and api.names(PODS) == [] and api.names(EVENTS) == []
    assert api.names(WIDGETS) == [] and api.names(NODES) == ["node1"] and api.names(NAMESPACES) == ["other"]
    writes = [(a[0], a[1], a[2], a[3]) for a in api.writes()]
    collections = {(plural, policy) for verb, plural, where, policy in writes if verb == "DELETE" and where == "team"}
    assert collections >= {("configmaps", "Background"), ("pods", "Background"), ("events", "Background")}
    assert ("DELETE", "widgets", "team/w1", "Background") in writes  # no deletecollection: one by one
    finalize = writes.index(("PUT", "namespaces", "team", "finalize"))
    assert all(w[1] != "namespaces" or w[3] in ("status", "finalize") for w in writes[:finalize])
    assert writes[finalize + 1:] in ([], [("DELETE", "namespaces", "team", None)])


async def test_remaining_content_requeues_and_is_reported(api: FakeAPI) -> None:
    api.add(NAMESPACES, "team")
    api.add(PODS, "stuck", "team", finalizers=["example.com/hold"])
    ctl, driver = controller(api)
    api.delete_now(NAMESPACES, "team")
    driver.mirror()
    assert await ctl.sync("team") == ctl.settings.recheck
    ns = api.get(NAMESPACES, "team")
    assert ns["spec"]["finalizers"] == ["kubernetes"]
    assert condition(ns, "NamespaceContentRemaining")["status"] == "True"
    assert condition(ns, "NamespaceContentRemaining")["message"] == "Some resources are remaining: pods has 1 resource instances"
    assert condition(ns, "NamespaceFinalizersRemaining")["message"].endswith("example.com/hold in 1 resource instances")
    assert condition(ns, "NamespaceDeletionDiscoveryFailure")["status"] == "False"

    # a second sweep with nothing new does not write the status again
    before = len(api.writes())
    assert await ctl.sync("team") == ctl.settings.recheck
    assert [w for w in api.writes()[before:] if w[3] == "status"] == []

    pod = api.get(PODS, "stuck", "team")
    pod["metadata"]["finalizers"] = []
    api._store(PODS, "team", pod)
    driver.mirror()
    assert await ctl.sync("team") is None
    assert api.get(NAMESPACES, "team") is None


async def test_discovery_failure_is_reported_and_retried(api: FakeAPI) -> None:
    api.add(NAMESPACES, "team")
    api.add(CONFIGMAPS, "cm", "team")
    ctl, driver = controller(api)
    api.delete_now(NAMESPACES, "team")
    driver.mirror()
    api.failing_paths.add("/apis/example.com/v1")
    with pytest.raises(errors.ServiceUnavailableError):
        await ctl.sync("team")
    ns = api.get(NAMESPACES, "team")
    assert condition(ns, "NamespaceDeletionDiscoveryFailure")["status"] == "True"
    assert api.names(CONFIGMAPS) == ["cm"]  # nothing deleted on a partial view
    api.failing_paths.clear()
    await driver.settle()
    assert api.get(NAMESPACES, "team") is None


async def test_a_namespace_without_finalizers_that_lingers_is_deleted_again(api: FakeAPI) -> None:
    ns = api.add(NAMESPACES, "team")
    ns["spec"]["finalizers"] = []
    ns["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    ctl, driver = controller(api)
    await driver.settle()
    assert ("DELETE", "namespaces", "team", None) in api.writes()


def test_conditions_are_false_when_all_is_well() -> None:
    result = conditions(discovery_error=None, content=Content())
    assert [(c["type"], c["status"], c["reason"]) for c in result] == [
        ("NamespaceDeletionDiscoveryFailure", "False", "ResourcesDiscovered"),
        ("NamespaceDeletionGroupVersionParsingFailure", "False", "ParsedGroupVersions"),
        ("NamespaceDeletionContentFailure", "False", "ContentDeleted"),
        ("NamespaceContentRemaining", "False", "ContentRemoved"),
        ("NamespaceFinalizersRemaining", "False", "ContentHasNoFinalizers"),
    ]
