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
