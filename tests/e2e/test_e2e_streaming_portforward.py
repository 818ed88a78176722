"""`kubectl port-forward` (SPDY, and SPDY inside a WebSocket) and the Python client's port-forward, to ports inside the pod."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubernetes.client.exceptions import ApiException
from kubernetes.stream import portforward

from tests.conftest import Kubectl
from tests.e2e.conftest import Cluster, wait_for
from tests.e2e.streamingkit import IMAGE, fetch, port_forward, python_client, wait_running

LOCALHOST_ONLY = f"""
apiVersion: v1
kind: Pod
metadata: {{name: hidden}}
spec:
  containers:
  - {{name: web, image: "{IMAGE}", command: ["httpd", "-f", "-p", "127.0.0.1:8080", "-h", "/www"]}}
"""


def test_port_forward_reaches_the_pods_http_server(e2e_kubectl: Kubectl) -> None:
    e2e_kubectl("run", "web", f"--image={IMAGE}")
    wait_running(e2e_kubectl, "web")
    with port_forward(e2e_kubectl, "pod/web", 8080) as (local, log):
        assert "<title>busybox-httpd</title>" in fetch(local)
        # Every local connection is a new pair of streams on the same session.
        assert "<title>busybox-httpd</title>" in fetch(local, "/index.html")
        assert log.read_text().count("Handling connection") == 2


def test_port_forward_reaches_servers_bound_to_the_pods_localhost(e2e_kubectl: Kubectl) -> None:
    e2e_kubectl.apply_yaml(LOCALHOST_ONLY)
    wait_running(e2e_kubectl, "hidden")
    with port_forward(e2e_kubectl, "hidden", 8080) as (local, _):
        assert "<title>busybox-httpd</title>" in fetch(local)


def test_a_port_nobody_listens_on_is_reported(e2e_kubectl132: Kubectl) -> None:
    e2e_kubectl132("run", "web", f"--image={IMAGE}")
    wait_running(e2e_kubectl132, "web")
    with port_forward(e2e_kubectl132, "web", 9999) as (local, log):
        with pytest.raises(OSError):
            fetch(local)
        wait_for(lambda: "error forwarding port 9999" in log.read_text(), 30, "the forwarding error")
    assert "failed to connect to localhost:9999" in log.read_text()


def test_port_forward_to_a_pod_that_is_not_running_is_refused(e2e_kubectl: Kubectl) -> None:
    e2e_kubectl("run", "pending", "--image=127.0.0.1:1/no-such-image:1")
    result = e2e_kubectl("port-forward", "pending", "18080:8080", check=False, timeout=60)
    assert result.returncode != 0
    assert "unable to forward port because pod is not running. Current status=Pending" in result.stderr


def test_the_python_client_forwards_a_port(cluster: Cluster, e2e_kubectl132: Kubectl) -> None:
    e2e_kubectl132.apply_yaml(LOCALHOST_ONLY)
    wait_running(e2e_kubectl132, "hidden")
    core = python_client(cluster)
    forward = portforward(core.connect_get_namespaced_pod_portforward, "hidden", e2e_kubectl132.namespace, ports="8080")
    sock = forward.socket(8080)
    sock.settimeout(30)
    sock.sendall(b"GET / HTTP/1.0\r\nHost: pod\r\n\r\n")
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    sock.close()
    assert answer.startswith(b"HTTP/1.1 200 OK")
    assert b"<title>busybox-httpd</title>" in answer
    assert forward.error(8080) is None


def test_the_python_client_cannot_forward_to_a_pod_without_a_node(cluster: Cluster, e2e_kubectl132: Kubectl) -> None:
    e2e_kubectl132.apply_yaml(f"""
apiVersion: v1
kind: Pod
metadata: {{name: nowhere}}
spec:
  nodeSelector: {{no-such-label: "x"}}
  containers:
  - {{name: app, image: "{IMAGE}"}}
""")
    core = python_client(cluster)
    with pytest.raises(ApiException) as raised:
        portforward(core.connect_get_namespaced_pod_portforward, "nowhere", e2e_kubectl132.namespace, ports="8080")
    # The client wraps a refused handshake as status 0; the reason holds the server's answer.
    assert "Handshake status 400" in str(raised.value.reason)
    assert "pod nowhere does not have a host assigned" in str(raised.value.reason)


def test_the_simulated_runtime_says_nothing_listens(sim_cluster: Cluster, tmp_path: Path) -> None:
    kubectl = sim_cluster.kubectl("1.32", tmp_path)
    kubectl("run", "web", f"--image={IMAGE}")
    wait_running(kubectl, "web")
    # Simulated containers print nothing, and nothing listens in them.
    assert kubectl("logs", "web").stdout == ""
    with port_forward(kubectl, "web", 8080) as (local, log):
        with pytest.raises(OSError):
            fetch(local)
        wait_for(lambda: "nothing listens in a simulated pod" in log.read_text(), 30, "the forwarding error")
