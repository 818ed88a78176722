"""The README's walkthrough, as a new user types it: a server with default node settings, `kyb build`
of the example image into the running node, `kubectl run web`, then `kubectl port-forward`.

Unlike the shared `cluster` fixture this server is started without --agent-runtime, --node-name or
--node-ip: the node agent must come up by itself (runc as root), named after the host, on the
machine's own address. Only the data dir, ports and address ranges differ from `make run`, so that
it cannot collide with a cluster already running here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, Kubectl, _make_kubectl, free_port, start_server
from tests.e2e.conftest import EXAMPLE, keep_pulls_local, pick_ranges, remove_fences, runc_available, wait_for
from tests.e2e.streamingkit import fetch, port_forward


@pytest.fixture
def fresh_server(tmp_path: Path):
    reason = runc_available()
    if reason is not None:
        pytest.skip(reason)
    cluster_cidr, service_cidr = pick_ranges()
    data = tmp_path / "data"
    server = start_server(data, *keep_pulls_local(data), "--kubelet-port", str(free_port()), "--cluster-cidr", cluster_cidr,
                          "--service-cidr", service_cidr, control_plane_only=False)
    try:
        yield server
    finally:
        subprocess.run(["kubectl", "--kubeconfig", str(server.kubeconfig), "delete", "pods", "--all", "-A",
                        "--grace-period=1", "--timeout=60s"], capture_output=True, timeout=90)
        sandboxes = data / "agent" / "sandboxes"
        wait_for(lambda: not sandboxes.exists() or not any(sandboxes.iterdir()), 30, "the pods' sandboxes removed")
        server.stop(timeout=30)
        from kybernetes.daemons.node import NodeSettings

        node = NodeSettings(data_dir=data)
        subprocess.run(["ip", "link", "del", node.bridge_name], capture_output=True)
        subprocess.run(["rm", "-rf", str(node.runc_root)], capture_output=True)
        remove_fences(cluster_cidr, service_cidr)


def test_make_run_build_run_and_port_forward(fresh_server, tmp_path: Path) -> None:
    kubectl: Kubectl = _make_kubectl(fresh_server, "1.32", tmp_path)
    # The server is a node by default, and says how to use kubectl.
    assert "to use kubectl: export KUBECONFIG=" in fresh_server.log()
    nodes = json.loads(kubectl("get", "nodes", "-o", "json", namespaced=False).stdout)["items"]
    assert len(nodes) == 1
    node = nodes[0]
    assert node["metadata"]["labels"]["node-role.kubernetes.io/control-plane"] == "true"
    wait_for(lambda: any(c["type"] == "Ready" and c["status"] == "True" for c in json.loads(
        kubectl("get", "node", node["metadata"]["name"], "-o", "json", namespaced=False).stdout)["status"]["conditions"]),
        20, "the node Ready")

    subprocess.run([str(EXAMPLE / "prepare.sh")], check=True, capture_output=True)
    built = subprocess.run([sys.executable, "-m", "kybernetes", "build", "-t", "busybox-httpd:1",
                            "--data-dir", str(fresh_server.data_dir), str(EXAMPLE)],
                           capture_output=True, text=True, cwd=REPO, timeout=120)
    assert built.returncode == 0, built.stderr
    assert "Successfully tagged busybox-httpd:1" in built.stdout or "busybox-httpd:1" in built.stdout

    kubectl("run", "web", "--image=busybox-httpd:1", "--", "httpd", "-f", "-p", "8080")
    wait_for(lambda: kubectl("get", "pod", "web", "--no-headers").stdout.split()[2:3] == ["Running"], 30,
             "pod web Running")
    with port_forward(kubectl, "pod/web", 8080) as (local, _):
        page = wait_for(lambda: _try_fetch(local), 10, "the page through port-forward")
    assert "Hello from an image built by <code>kyb build</code>." in str(page)


def _try_fetch(port: int) -> str:
    try:
        return fetch(port)
    except OSError:
        return ""
