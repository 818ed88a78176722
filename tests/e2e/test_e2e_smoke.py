"""The smallest end-to-end check: a pod created with kubectl runs on the node and reports Running."""

from __future__ import annotations

import json

from tests.conftest import Kubectl
from tests.e2e.conftest import EXAMPLE_IMAGE, Cluster, wait_for


def _pod(kubectl: Kubectl, name: str) -> dict:
    return json.loads(kubectl("get", "pod", name, "-o", "json").stdout)


def test_a_pod_runs_and_reports_running(any_cluster: Cluster, any_kubectl: Kubectl) -> None:
    any_kubectl("run", "web", f"--image={EXAMPLE_IMAGE}", "--", "httpd", "-f", "-p", "8080")
    wait_for(lambda: _pod(any_kubectl, "web")["status"].get("phase") == "Running", 20, "pod web Running")
    pod = _pod(any_kubectl, "web")
    assert pod["spec"]["nodeName"] == any_cluster.node
    status = pod["status"]["containerStatuses"][0]
    assert status["ready"] and status["started"] and "running" in status["state"]
    assert pod["status"]["podIP"].startswith(any_cluster.cluster_cidr.split(".0.0/")[0] + ".")
    row = any_kubectl("get", "pod", "web", "--no-headers").stdout.split()
    assert row[1:3] == ["1/1", "Running"]


def test_the_cluster_ranges_are_fenced_on_the_node(cluster: Cluster, e2e_kubectl132: Kubectl) -> None:
    """Pods route the cluster's ranges to the node; what no pod or Service answers must end there."""
    import ipaddress
    import subprocess

    fences = subprocess.run(["ip", "-4", "route", "show", "type", "unreachable"], capture_output=True, text=True).stdout
    assert cluster.cluster_cidr in fences and cluster.service_cidr in fences
    e2e_kubectl132("run", "probe", f"--image={EXAMPLE_IMAGE}")
    wait_for(lambda: _pod(e2e_kubectl132, "probe")["status"].get("phase") == "Running", 20, "pod probe Running")
    nowhere = str(ipaddress.ip_network(cluster.service_cidr).network_address + 4321)
    result = e2e_kubectl132("exec", "probe", "--", "nc", "-w", "3", nowhere, "80", check=False, input="")
    assert result.returncode != 0
    # The host answers at once (ICMP unreachable from the fence), rather than a timeout somewhere outside.
    assert "unreachable" in result.stderr.lower() or "no route" in result.stderr.lower(), result.stderr
