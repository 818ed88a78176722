"""End to end: a real `kyb server` subprocess, our controllers in-process over HTTPS, and §9.4's deletion rules.

The server runs with its own garbage collector and namespace controller disabled, so everything
observed here is done by the controllers this test starts.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator

import pytest

from kybernetes.client import errors
from kybernetes.client.config import load_kubeconfig
from kybernetes.client.rest import CONFIGMAPS, NAMESPACES, REPLICASETS, SECRETS, Client
from kybernetes.controllers.manager import run_controllers
from tests.conftest import RunningServer, start_server

Obj = dict[str, Any]


@pytest.fixture(scope="module")
def kyb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    data_dir = tmp_path_factory.mktemp("kyb-gc") / "data"
    try:
        server = start_server(data_dir, "--disable", "garbagecollector", "--disable", "namespace", timeout=30)
    except RuntimeError as err:
        last = [line for line in str(err).splitlines() if line.strip()][-1:]
        pytest.skip(f"kyb server does not start yet, so no end-to-end deletion test: {last[0] if last else err}")
    yield server
    server.stop()


@pytest.fixture
async def client(kyb: RunningServer) -> AsyncIterator[Client]:
    """A client plus our controllers, both speaking HTTPS to the server with the admin kubeconfig."""
    config = load_kubeconfig(kyb.kubeconfig)
    stop = asyncio.Event()
    async with Client(config) as controllers_client, Client(config) as test_client:
        task = asyncio.create_task(run_controllers(controllers_client, controllers=["garbagecollector", "namespace"],
                                                   stop=stop))
        try:
            yield test_client
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)


@pytest.fixture
async def namespace(client: Client) -> str:
    name = f"gc-{uuid.uuid4().hex[:8]}"
    await client.create(NAMESPACES, {"metadata": {"name": name}})
    return name


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting until {what}")
        await asyncio.sleep(0.1)


async def gone(client: Client, ref: Any, name: str, namespace: str | None = None) -> bool:
    try:
        await client.get(ref, name, namespace)
    except errors.NotFoundError:
        return True
    return False


def owner_ref(owner: Obj, *, block: bool = False) -> Obj:
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": False, "blockOwnerDeletion": block}


async def configmap(client: Client, namespace: str, name: str, *owners: Obj, block: bool = False,
                    finalizers: list[str] | None = None) -> Obj:
    meta: Obj = {"name": name, "namespace": namespace}
    if owners:
        meta["ownerReferences"] = [owner_ref(o, block=block) for o in owners]
    if finalizers:
        meta["finalizers"] = finalizers
    obj = await client.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": "v"}})
    obj.setdefault("apiVersion", "v1")
    obj.setdefault("kind", "ConfigMap")
    return obj


async def test_background_deletion_removes_dependents_down_the_chain(client: Client, namespace: str) -> None:
    owner = await configmap(client, namespace, "owner")
    other = await configmap(client, namespace, "other")
    child = await configmap(client, namespace, "child", owner)
    await configmap(client, namespace, "grandchild", child)
    await configmap(client, namespace, "shared", owner, other)

    await client.delete(CONFIGMAPS, "owner", namespace, propagation_policy="Background")

    await eventually(lambda: gone(client, CONFIGMAPS, "grandchild", namespace), "the grandchild is collected")
    assert await gone(client, CONFIGMAPS, "child", namespace)

    async def shared_lost_owner() -> bool:
        shared = await client.get(CONFIGMAPS, "shared", namespace)
        return [r["name"] for r in shared["metadata"].get("ownerReferences") or []] == ["other"]

    await eventually(shared_lost_owner, "the shared dependent keeps only its live owner")


async def test_deleting_a_replicaset_removes_what_it_owns(client: Client, namespace: str) -> None:
    labels = {"app": "web"}
    rs = await client.create(REPLICASETS, {
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web", "namespace": namespace},
        "spec": {"replicas": 0, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}})
    rs.setdefault("apiVersion", "apps/v1")
    rs.setdefault("kind", "ReplicaSet")
    await configmap(client, namespace, "web-config", rs, block=True)

    await client.delete(REPLICASETS, "web", namespace)

    await eventually(lambda: gone(client, CONFIGMAPS, "web-config", namespace), "the ReplicaSet's ConfigMap is collected")


async def test_foreground_deletion_waits_for_blocking_dependents(client: Client, namespace: str) -> None:
    owner = await configmap(client, namespace, "owner")
    await configmap(client, namespace, "held", owner, block=True, finalizers=["example.com/hold"])

    await client.delete(CONFIGMAPS, "owner", namespace, propagation_policy="Foreground")

    async def dependent_terminating() -> bool:
        held = await client.get(CONFIGMAPS, "held", namespace)
        return bool(held["metadata"].get("deletionTimestamp"))

    await eventually(dependent_terminating, "the blocking dependent is being deleted")
    waiting = await client.get(CONFIGMAPS, "owner", namespace)
    assert waiting["metadata"]["deletionTimestamp"] and "foregroundDeletion" in waiting["metadata"]["finalizers"]
    await asyncio.sleep(1)
    assert not await gone(client, CONFIGMAPS, "owner", namespace), "the owner went before its blocking dependent"

    await client.patch(CONFIGMAPS, "held", {"metadata": {"finalizers": None}}, namespace=namespace)
    await eventually(lambda: gone(client, CONFIGMAPS, "held", namespace), "the dependent is gone")
    await eventually(lambda: gone(client, CONFIGMAPS, "owner", namespace), "the owner follows its dependents")


async def test_orphan_deletion_keeps_dependents_without_the_reference(client: Client, namespace: str) -> None:
    owner = await configmap(client, namespace, "owner")
    for name in ("a", "b"):
        await configmap(client, namespace, name, owner, block=True)

    await client.delete(CONFIGMAPS, "owner", namespace, propagation_policy="Orphan")

    await eventually(lambda: gone(client, CONFIGMAPS, "owner", namespace), "the owner is removed")
    for name in ("a", "b"):
        orphan = await client.get(CONFIGMAPS, name, namespace)
        assert not orphan["metadata"].get("ownerReferences")


async def test_deleting_a_namespace_removes_its_contents_then_the_namespace(client: Client, namespace: str) -> None:
    for i in range(3):
        await configmap(client, namespace, f"cm-{i}")
    await client.create(SECRETS, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": namespace},
                                  "stringData": {"a": "b"}})

    await client.delete(NAMESPACES, namespace)
    terminating = await client.get(NAMESPACES, namespace)
    assert terminating["status"]["phase"] == "Terminating"

    async def emptied() -> bool:
        return not (await client.list(CONFIGMAPS, namespace))["items"] and not (await client.list(SECRETS, namespace))["items"]

    await eventually(emptied, "the namespace's contents are deleted")
    await eventually(lambda: gone(client, NAMESPACES, namespace), "the namespace is removed")
