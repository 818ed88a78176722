"""A second node joins the runc cluster with `kyb agent --server --token-file`; kubectl schedules, cordons and drains.

The second agent is its own process with its own data dir, so its pod bridge, runc state and
image store are its own; the server gives it the next /24 of the cluster CIDR. Both nodes share
this machine; pods on different nodes need not reach each other here. The module's fixture
removes the node again (pods, agent, Node object, bridge, runc state), so later tests see the
single-node cluster they expect.
"""

from __future__ import annotations

import ipaddress
import json
import signal
import subprocess
import sys
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import REPO, Kubectl, free_port
from tests.e2e.conftest import EXAMPLE_IMAGE, Cluster, _node_ready, build_example, wait_for, keep_pulls_local


@dataclass
class JoinedNode:
    """The second node: its name, data dir and agent process."""

    name: str
    data_dir: Path
    proc: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _admin(cluster: Cluster, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["kubectl", "--kubeconfig", str(cluster.server.kubeconfig), *args],
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def node2(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[JoinedNode]:
    data_dir = tmp_path_factory.mktemp("e2e-node2") / "data"
    data_dir.mkdir()
    build_example(data_dir)
    name = f"e2e-n2-{uuid.uuid4().hex[:6]}"
    log_path = data_dir.parent / "agent.log"
    cmd = [sys.executable, "-m", "kybernetes", "agent",
           "--server", cluster.server.url, "--token-file", str(cluster.server.data_dir / "server" / "token"),
           "--data-dir", str(data_dir), "--node-name", name, "--node-ip", "127.0.0.1",
           "--kubelet-port", str(free_port()), "--cluster-cidr", cluster.cluster_cidr,
           "--service-cidr", cluster.service_cidr, "--pod-egress", "cluster", *keep_pulls_local(data_dir)]
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    node = JoinedNode(name, data_dir, proc, log_path)
    try:
        wait_for(lambda: proc.poll() is None and _node_ready(cluster.server, name), 30, f"node {name} Ready")
        yield node
    finally:
        _remove(cluster, node)


def _remove(cluster: Cluster, node: JoinedNode) -> None:
    """Pods first (the agent tears down their containers and netns), then the agent, the Node, the host leftovers."""
    from kybernetes.daemons.node import NodeSettings

    for first_node in (cluster.node, node.name):
        _admin(cluster, "uncordon", first_node)
    if node.proc.poll() is None:
        _admin(cluster, "delete", "pods", "-A", "--field-selector", f"spec.nodeName={node.name}",
               "--grace-period=1", "--timeout=60s")
        node.proc.send_signal(signal.SIGTERM)
        try:
            node.proc.wait(30)
        except subprocess.TimeoutExpired:
            node.proc.kill()
            node.proc.wait()
    _admin(cluster, "delete", "node", node.name, "--wait=false")
    settings = NodeSettings(data_dir=node.data_dir)
    subprocess.run(["ip", "link", "del", settings.bridge_name], capture_output=True)
    import shutil

    shutil.rmtree(settings.runc_root, ignore_errors=True)


def _pod_manifest(name: str, node_selector: str | None = None) -> str:
    spec: dict = {"terminationGracePeriodSeconds": 1,
                  "containers": [{"name": "web", "image": EXAMPLE_IMAGE, "imagePullPolicy": "Never"}]}
    if node_selector:
        spec["nodeSelector"] = {"kubernetes.io/hostname": node_selector}
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec})


def _pod(kubectl: Kubectl, name: str) -> dict:
    return json.loads(kubectl("get", "pod", name, "-o", "json").stdout)


def _running(kubectl: Kubectl, name: str) -> dict | None:
    pod = _pod(kubectl, name)
    return pod if pod.get("status", {}).get("phase") == "Running" else None


def _node_obj(kubectl: Kubectl, name: str) -> dict:
    return json.loads(kubectl("get", "node", name, "-o", "json", namespaced=False).stdout)


def _statuses(kubectl: Kubectl) -> dict[str, str]:
    rows = kubectl("get", "nodes", "--no-headers", namespaced=False).stdout.splitlines()
    return {row.split()[0]: row.split()[1] for row in rows}


def test_the_joined_node_is_ready_with_its_own_pod_range(cluster: Cluster, node2: JoinedNode,
                                                         e2e_kubectl132: Kubectl) -> None:
    statuses = _statuses(e2e_kubectl132)
    assert statuses[cluster.node] == "Ready" and statuses[node2.name] == "Ready"
    first = ipaddress.ip_network(_node_obj(e2e_kubectl132, cluster.node)["spec"]["podCIDR"])
    second = ipaddress.ip_network(_node_obj(e2e_kubectl132, node2.name)["spec"]["podCIDR"])
    cluster_range = ipaddress.ip_network(cluster.cluster_cidr)
    assert first != second and not first.overlaps(second)
    assert first.subnet_of(cluster_range) and second.subnet_of(cluster_range)  # type: ignore[arg-type]
    assert second.prefixlen == 24
    assert f"join: node {node2.name} joined {cluster.server.url}" in node2.log()


def test_a_pod_for_the_joined_node_runs_there(node2: JoinedNode, e2e_kubectl132: Kubectl) -> None:
    kubectl = e2e_kubectl132
    kubectl("apply", "-f", "-", input=_pod_manifest("on-node2", node2.name))
    pod = wait_for(lambda: _running(kubectl, "on-node2"), 60, "pod on-node2 Running")
    assert isinstance(pod, dict)
    assert pod["spec"]["nodeName"] == node2.name
    ip = ipaddress.ip_address(pod["status"]["podIP"])
    assert ip in ipaddress.ip_network(_node_obj(kubectl, node2.name)["spec"]["podCIDR"])
    # The pod's server answers on its address (the route to node2's range goes to node2's bridge).
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    body = wait_for(lambda: _fetch(opener, f"http://{ip}:8080/"), 20, "the pod's httpd to answer")
    assert "html" in str(body).lower()
    kubectl("delete", "pod", "on-node2", "--grace-period=1")


def _fetch(opener: urllib.request.OpenerDirector, url: str) -> str | None:
    try:
        with opener.open(url, timeout=2) as resp:
            return resp.read().decode(errors="replace")
    except OSError:
        return None


def _failed_scheduling(kubectl: Kubectl, pod: str) -> str:
    events = json.loads(kubectl("get", "events", "--field-selector", f"involvedObject.name={pod}", "-o", "json").stdout)
    return " | ".join(e.get("message", "") for e in events["items"] if e.get("reason") == "FailedScheduling")


@pytest.mark.parametrize("version", ["1.27", "1.33"])
def test_cordon_steers_pods_and_all_cordoned_leaves_them_pending(
        cluster: Cluster, node2: JoinedNode, version: str, tmp_path: Path) -> None:
    kubectl = cluster.kubectl(version, tmp_path)
    try:
        assert "cordoned" in kubectl("cordon", cluster.node, namespaced=False).stdout
        assert _statuses(kubectl)[cluster.node] == "Ready,SchedulingDisabled"
        assert _node_obj(kubectl, cluster.node)["spec"]["unschedulable"] is True
        # With the first node cordoned, a pod without a selector can only go to the joined node.
        kubectl("apply", "-f", "-", input=_pod_manifest("steered"))
        pod = wait_for(lambda: _running(kubectl, "steered"), 60, "pod steered Running")
        assert isinstance(pod, dict) and pod["spec"]["nodeName"] == node2.name

        kubectl("cordon", node2.name, namespaced=False)
        assert _statuses(kubectl) == {cluster.node: "Ready,SchedulingDisabled", node2.name: "Ready,SchedulingDisabled"}
        kubectl("apply", "-f", "-", input=_pod_manifest("stuck"))
        message = wait_for(lambda: _failed_scheduling(kubectl, "stuck"), 30, "a FailedScheduling event")
        assert "0/2 nodes are available: 2 node(s) were unschedulable." in str(message)
        pending = _pod(kubectl, "stuck")
        assert pending["status"]["phase"] == "Pending" and not pending["spec"].get("nodeName")
        row = kubectl("get", "pod", "stuck", "--no-headers").stdout.split()
        assert row[2] == "Pending"

        assert "uncordoned" in kubectl("uncordon", node2.name, namespaced=False).stdout
        assert _statuses(kubectl)[node2.name] == "Ready"
        pod = wait_for(lambda: _running(kubectl, "stuck"), 60, "pod stuck Running after uncordon")
        assert isinstance(pod, dict) and pod["spec"]["nodeName"] == node2.name
    finally:
        kubectl("uncordon", cluster.node, namespaced=False, check=False)
        kubectl("uncordon", node2.name, namespaced=False, check=False)
        kubectl("delete", "pods", "--all", "--grace-period=1", check=False)


@pytest.mark.parametrize("version", ["1.27", "1.33"])
def test_drain_evicts_the_nodes_pods_and_waits_for_them(
        cluster: Cluster, node2: JoinedNode, version: str, tmp_path: Path) -> None:
    kubectl = cluster.kubectl(version, tmp_path)
    try:
        for name in ("bare-a", "bare-b"):
            kubectl("apply", "-f", "-", input=_pod_manifest(name, node2.name))
        for name in ("bare-a", "bare-b"):
            wait_for(lambda: _running(kubectl, name), 60, f"pod {name} Running")
        # Pods without a controller are not evicted without --force: drain stops and says why.
        refused = kubectl("drain", node2.name, "--grace-period=1", "--timeout=60s", namespaced=False, check=False)
        assert refused.returncode != 0
        assert "use --force to override" in refused.stderr
        assert f"{kubectl.namespace}/bare-a" in refused.stderr
        assert {_pod(kubectl, n)["status"]["phase"] for n in ("bare-a", "bare-b")} == {"Running"}

        drained = kubectl("drain", node2.name, "--force", "--grace-period=1", "--timeout=90s", namespaced=False)
        out = drained.stdout + drained.stderr
        for name in ("bare-a", "bare-b"):
            assert f"evicting pod {kubectl.namespace}/{name}" in out
            assert f"pod/{name} evicted" in out
        assert f"node/{node2.name} drained" in out
        # drain waited for the pods to be gone.
        assert kubectl("get", "pods", "--no-headers", "--ignore-not-found").stdout.strip() == ""
        assert _statuses(kubectl)[node2.name] == "Ready,SchedulingDisabled"
    finally:
        kubectl("uncordon", node2.name, namespaced=False, check=False)
        kubectl("delete", "pods", "--all", "--grace-period=1", check=False)


def _taints(kubectl: Kubectl, node: str) -> list[tuple[str, str]]:
    spec = _node_obj(kubectl, node)["spec"]
    return [(t["key"], t["effect"]) for t in spec.get("taints") or []]


def test_a_cordoned_node_carries_the_unschedulable_taint(node2: JoinedNode, e2e_kubectl132: Kubectl) -> None:
    """Upstream's node lifecycle controller turns spec.unschedulable into a NoSchedule taint (kybernetes/controllers/nodelifecycle.py)."""
    kubectl = e2e_kubectl132
    taint = ("node.kubernetes.io/unschedulable", "NoSchedule")
    try:
        kubectl("cordon", node2.name, namespaced=False)
        wait_for(lambda: taint in _taints(kubectl, node2.name), 20, "the unschedulable taint")
        described = kubectl("describe", "node", node2.name, namespaced=False).stdout
        assert "node.kubernetes.io/unschedulable:NoSchedule" in described
        kubectl("uncordon", node2.name, namespaced=False)
        wait_for(lambda: taint not in _taints(kubectl, node2.name), 20, "the unschedulable taint to go")
    finally:
        kubectl("uncordon", node2.name, namespaced=False, check=False)
