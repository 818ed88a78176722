"""End to end: simulated nodes in this process against a real `kyb server`, observed with the real kubectl.

No root is needed: the nodes run a `SimulatedRuntime`. The fleet runs on its own event loop in a
thread for the whole module; each test works in a fresh namespace and binds its pods to a node
by `spec.nodeName`, as there is no scheduler here.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from typing import Any, Callable, Iterator

import kubernetes
import pytest

from kybernetes.agent.agent import AgentSettings
from kybernetes.agent.simulated_nodes import FleetSettings, run_simulated_nodes
from kybernetes.client.config import load_kubeconfig
from tests.conftest import Kubectl, RunningServer

Obj = dict[str, Any]
PREFIX = f"e2e-{uuid.uuid4().hex[:6]}"
NODE = f"{PREFIX}-0"


@pytest.fixture(scope="module")
def fleet(server: RunningServer) -> Iterator[str]:
    """Two simulated nodes with short back-offs (1 s doubling to 8 s) and a 4 s lease."""
    template = AgentSettings(node_name="", node_events=True, measure_pressure=False, backoff_period=1.0,
                             max_backoff=8.0, lease_duration=4, node_status_update_frequency=2.0)
    settings = FleetSettings(template=template)
    config = load_kubeconfig(server.kubeconfig)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    failure: list[BaseException] = []

    def main() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(run_simulated_nodes(config, count=2, prefix=PREFIX, settings=settings, stop=stop))
        except BaseException as err:  # noqa: BLE001 - reported by the fixture
            failure.append(err)

    thread = threading.Thread(target=main, name="simulated-fleet", daemon=True)
    thread.start()
    try:
        yield NODE
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(15)
        loop.close()
        asyncio.run(_forget_nodes(config))
    assert not failure, failure


async def _forget_nodes(config: Any, prefix: str = PREFIX) -> None:
    """Remove this module's nodes and leases: later tests on the shared server must not schedule onto them."""
    from kybernetes.agent.lease import LEASES, NODE_LEASE_NAMESPACE
    from kybernetes.client import errors
    from kybernetes.client.rest import NODES, Client

    async with Client(config) as client:
        for node in (await client.list(NODES))["items"]:
            name = node["metadata"]["name"]
            if name.startswith(prefix):
                for ref, namespace in ((NODES, None), (LEASES, NODE_LEASE_NAMESPACE)):
                    try:
                        await client.delete(ref, name, namespace)
                    except errors.NotFoundError:
                        pass


def eventually(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting until {what}; last: {last!r}")


def get_json(kubectl: Kubectl, *args: str, namespaced: bool = True) -> Obj:
    return json.loads(kubectl("get", *args, "-o", "json", namespaced=namespaced).stdout)


def pod_manifest(name: str, *, node: str = NODE, annotations: dict[str, str] | None = None, restart: str = "Always",
                 image: str = "busybox:1.36", inits: list[str] | None = None, grace: int | None = None) -> str:
    spec: Obj = {"nodeName": node, "restartPolicy": restart,
                 "containers": [{"name": "app", "image": image, "env": [
                     {"name": "MY_POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]}]}
    if inits:
        spec["initContainers"] = [{"name": n, "image": image} for n in inits]
    if grace is not None:
        spec["terminationGracePeriodSeconds"] = grace
    return json.dumps({"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"name": name, "annotations": annotations or {}}, "spec": spec})


def table_row(kubectl: Kubectl, name: str) -> list[str]:
    out = kubectl("get", "pod", name, "--no-headers", check=False).stdout.split()
    return out


def events_of(kubectl: Kubectl, name: str) -> list[tuple[str, str, str]]:
    items = get_json(kubectl, "events", "--field-selector", f"involvedObject.name={name}")["items"]
    return [(e["type"], e["reason"], e["message"]) for e in items]


def test_a_simulated_node_registers_ready_and_valid_for_clients(fleet: str, kubectl132: Kubectl) -> None:
    node = eventually(lambda: kubectl132("get", "node", fleet, "-o", "json", namespaced=False, check=False).stdout,
                      "the node exists")
    obj = json.loads(node)
    ready = {c["type"]: c["status"] for c in obj["status"]["conditions"]}
    assert ready == {"MemoryPressure": "False", "DiskPressure": "False", "PIDPressure": "False", "Ready": "True"}
    assert obj["metadata"]["labels"]["kubernetes.io/hostname"] == fleet
    assert obj["status"]["allocatable"]["pods"] == "110"
    assert obj["status"]["nodeInfo"]["containerRuntimeVersion"] == "simulated://0.1.0"
    decoded = kubernetes.client.ApiClient().deserialize(node, "V1Node", "application/json")
    assert decoded.metadata.name == fleet
    described = kubectl132("describe", "node", fleet, namespaced=False).stdout
    assert "KubeletReady" in described and "kubelet is posting ready status" in described
    row = kubectl132("get", "node", fleet, "--no-headers", namespaced=False).stdout.split()
    assert row[1] == "Ready"


def test_the_node_lease_is_renewed(fleet: str, kubectl132: Kubectl) -> None:
    first = eventually(lambda: kubectl132("get", "lease", fleet, "-n", "kube-node-lease", "-o", "json",
                                          namespaced=False, check=False).stdout, "the lease exists")
    lease = json.loads(first)
    assert lease["spec"]["holderIdentity"] == fleet and lease["spec"]["leaseDurationSeconds"] == 4
    assert lease["metadata"]["ownerReferences"][0]["kind"] == "Node"

    def renewed() -> bool:
        again = get_json(kubectl132, "lease", fleet, "-n", "kube-node-lease", namespaced=False)
        return again["spec"]["renewTime"] > lease["spec"]["renewTime"]

    eventually(renewed, "renewTime moves on", timeout=10)


def test_a_bound_pod_runs_with_upstream_status_and_events(fleet: str, kubectl132: Kubectl) -> None:
    kubectl132.create_yaml(pod_manifest("web"))
    eventually(lambda: table_row(kubectl132, "web")[1:3] == ["1/1", "Running"], "kubectl shows 1/1 Running")
    pod = get_json(kubectl132, "pod", "web")
    status = pod["status"]
    assert status["phase"] == "Running" and status["qosClass"] == "BestEffort"
    assert status["podIP"].startswith("10.42.") and status["hostIP"].startswith("127.")
    assert status["startTime"]
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "PodReadyToStartContainers": "True", "Initialized": "True", "Ready": "True", "ContainersReady": "True",
        "PodScheduled": "True"}
    app = status["containerStatuses"][0]
    assert app["ready"] is True and app["started"] is True and app["restartCount"] == 0
    assert app["image"] == "docker.io/library/busybox:1.36" and app["imageID"].startswith("docker.io/library/busybox@sha256:")
    assert app["containerID"].startswith("simulated://") and "running" in app["state"]
    reasons = eventually(lambda: [r for _, r, _ in events_of(kubectl132, "web")] if len(events_of(kubectl132, "web")) >= 4 else None,
                         "four events")
    assert reasons[:4] == ["Pulling", "Pulled", "Created", "Started"] or set(reasons) >= {"Pulled", "Created", "Started"}
    described = kubectl132("describe", "pod", "web").stdout
    assert "Started container app" in described and "Created container: app" in described


def test_a_crashing_container_goes_to_crash_loop_back_off(fleet: str, kubectl132: Kubectl) -> None:
    kubectl132.create_yaml(pod_manifest("crash", annotations={"kybernetes.io/simulate-exit": "app=1@0.3"}))

    def looping() -> Obj | None:
        app = get_json(kubectl132, "pod", "crash")["status"].get("containerStatuses", [{}])[0]
        waiting = (app.get("state") or {}).get("waiting") or {}
        return app if waiting.get("reason") == "CrashLoopBackOff" and app.get("restartCount", 0) >= 2 else None

    app = eventually(looping, "CrashLoopBackOff with restarts", timeout=40)
    assert app["lastState"]["terminated"]["exitCode"] == 1
    assert app["lastState"]["terminated"]["reason"] == "Error"
    assert "restarting failed container=app pod=crash_" in app["state"]["waiting"]["message"]
    assert table_row(kubectl132, "crash")[2] in ("CrashLoopBackOff", "Error")
    assert any(r == "BackOff" for _, r, _ in events_of(kubectl132, "crash"))


def test_a_container_that_exits_zero_under_never_completes_the_pod(fleet: str, kubectl132: Kubectl) -> None:
    kubectl132.create_yaml(pod_manifest("once", restart="Never", annotations={"kybernetes.io/simulate-exit": "app=0@0.5"}))
    eventually(lambda: get_json(kubectl132, "pod", "once")["status"].get("phase") == "Succeeded", "phase Succeeded")
    app = get_json(kubectl132, "pod", "once")["status"]["containerStatuses"][0]
    assert app["state"]["terminated"]["reason"] == "Completed" and app["state"]["terminated"]["exitCode"] == 0
    assert table_row(kubectl132, "once")[1:3] == ["0/1", "Completed"]


def test_init_containers_run_first(fleet: str, kubectl132: Kubectl) -> None:
    kubectl132.create_yaml(pod_manifest("init", inits=["setup"], annotations={"kybernetes.io/simulate-exit": "setup=0@2"}))
    eventually(lambda: table_row(kubectl132, "init")[2:3] == ["Init:0/1"], "kubectl shows Init:0/1")
    eventually(lambda: table_row(kubectl132, "init")[1:3] == ["1/1", "Running"], "then Running")
    status = get_json(kubectl132, "pod", "init")["status"]
    setup = status["initContainerStatuses"][0]
    assert setup["state"]["terminated"]["reason"] == "Completed" and setup["ready"] is True
    started_init = setup["state"]["terminated"]["finishedAt"]
    assert status["containerStatuses"][0]["state"]["running"]["startedAt"] >= started_init


def test_deleting_a_pod_waits_for_its_containers_then_removes_it(fleet: str, kubectl132: Kubectl) -> None:
    kubectl132.create_yaml(pod_manifest("bye", grace=20, annotations={"kybernetes.io/simulate-termination": "app=2"}))
    eventually(lambda: table_row(kubectl132, "bye")[1:3] == ["1/1", "Running"], "running")
    started = time.monotonic()
    kubectl132("delete", "pod", "bye", "--wait=false")
    eventually(lambda: table_row(kubectl132, "bye")[2:3] == ["Terminating"], "kubectl shows Terminating", timeout=5)
    kubectl132("wait", "--for=delete", "pod/bye", "--timeout=30s")
    took = time.monotonic() - started
    assert 1.5 < took < 15, f"removed after {took:.1f}s: the container takes 2 s to stop"
    assert kubectl132("get", "pod", "bye", check=False).returncode != 0
    assert any(r == "Killing" and m == "Stopping container app" for _, r, m in events_of(kubectl132, "bye"))


def test_kubectl_delete_returns_once_the_pod_is_gone(fleet: str, kubectl132: Kubectl) -> None:
    kubectl132.create_yaml(pod_manifest("quick"))
    eventually(lambda: table_row(kubectl132, "quick")[1:3] == ["1/1", "Running"], "running")
    started = time.monotonic()
    kubectl132("delete", "pod", "quick", timeout=30)
    assert time.monotonic() - started < 10
    assert kubectl132("get", "pod", "quick", check=False).returncode != 0


def test_a_missing_image_fails_to_pull_then_backs_off(fleet: str, kubectl132: Kubectl) -> None:
    kubectl132.create_yaml(pod_manifest("missing", image="example.com/doesnotexist:1"))
    seen: set[str] = set()

    def reasons() -> bool:
        app = get_json(kubectl132, "pod", "missing")["status"].get("containerStatuses", [{}])[0]
        reason = ((app.get("state") or {}).get("waiting") or {}).get("reason")
        if reason:
            seen.add(reason)
        return {"ErrImagePull", "ImagePullBackOff"} <= seen

    eventually(reasons, "ErrImagePull then ImagePullBackOff", timeout=30)
    found = events_of(kubectl132, "missing")
    assert ("Warning", "Failed", "Error: ErrImagePull") in found
    assert ("Normal", "BackOff", 'Back-off pulling image "example.com/doesnotexist:1"') in found
    assert any(r == "Failed" and m.startswith('Failed to pull image "example.com/doesnotexist:1"') for _, r, m in found)
    assert get_json(kubectl132, "pod", "missing")["status"]["phase"] == "Pending"


def test_pods_of_other_nodes_are_left_alone(fleet: str, kubectl132: Kubectl) -> None:
    kubectl132.create_yaml(pod_manifest("elsewhere", node="no-such-node"))
    time.sleep(1.5)
    assert get_json(kubectl132, "pod", "elsewhere")["status"].get("containerStatuses") is None




async def test_run_node_with_the_simulated_runtime_runs_one_node(server: RunningServer, tmp_path) -> None:
    from kybernetes.client import errors
    from kybernetes.client.rest import NODES, Client
    from kybernetes.daemons.node import NodeSettings, run_node

    name = f"{PREFIX}-single"
    config = load_kubeconfig(server.kubeconfig)
    stop = asyncio.Event()
    task = asyncio.create_task(run_node(NodeSettings(data_dir=tmp_path, node_name=name, runtime="simulated",
                                                     role="control-plane"), config=config, stop=stop))
    async with Client(config) as client:
        deadline = time.monotonic() + 20
        node: Obj | None = None
        while time.monotonic() < deadline and node is None:
            try:
                node = await client.get(NODES, name)
            except errors.NotFoundError:
                await asyncio.sleep(0.2)
        assert node is not None, "the node registered"
        assert node["metadata"]["labels"]["node-role.kubernetes.io/control-plane"] == "true"
        assert node["spec"]["podCIDR"] == "10.42.0.0/24"
    stop.set()
    await asyncio.wait_for(task, 10)
    await _forget_nodes(config, name)
