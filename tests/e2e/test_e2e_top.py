"""`kubectl top node` and `kubectl top pod` show figures measured from the node's cgroups (runc) or made up (simulated).

On the runc cluster one namespace holds a pod that spins on a CPU limit of 100m and one whose
`dd` holds a 24 MiB buffer while it waits on a pipe nobody reads; both are created once for the
module and removed at its end, so the spinner does not burn CPU for the rest of the session.
"""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import Kubectl
from tests.e2e.conftest import EXAMPLE_IMAGE, Cluster, wait_for

PODS = f"""\
apiVersion: v1
kind: Pod
metadata: {{name: spinner, labels: {{app: spinner}}}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: spin
    image: {EXAMPLE_IMAGE}
    command: ["sh", "-c", "while :; do :; done"]
    resources: {{limits: {{cpu: 100m}}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: holder, labels: {{app: holder}}}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: hold
    image: {EXAMPLE_IMAGE}
    command: ["sh", "-c", "dd if=/dev/zero bs=24M count=1 | sleep 3600"]
  - name: idle
    image: {EXAMPLE_IMAGE}
    command: ["sleep", "3600"]
"""


def _admin(cluster: Cluster, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["kubectl", "--kubeconfig", str(cluster.server.kubeconfig), *args], input=input,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def workload(cluster: Cluster) -> Iterator[str]:
    """The namespace of the spinner and the holder, both Running."""
    namespace = f"top-{uuid.uuid4().hex[:8]}"
    assert _admin(cluster, "create", "namespace", namespace).returncode == 0
    created = _admin(cluster, "-n", namespace, "apply", "-f", "-", input=PODS)
    assert created.returncode == 0, created.stderr

    def running() -> bool:
        pods = json.loads(_admin(cluster, "-n", namespace, "get", "pods", "-o", "json").stdout)["items"]
        return len(pods) == 2 and all(p["status"].get("phase") == "Running" for p in pods)

    wait_for(running, 60, "the spinner and the holder Running")
    yield namespace
    _admin(cluster, "delete", "namespace", namespace, "--wait=false")
    _admin(cluster, "-n", namespace, "delete", "pods", "--all", "--grace-period=1", "--wait=false")


def _rows(output: str) -> list[list[str]]:
    return [line.split() for line in output.splitlines() if line.strip()]


def _millicores(text: str) -> int:
    assert re.fullmatch(r"\d+m", text), text
    return int(text[:-1])


def _mebibytes(text: str) -> int:
    assert re.fullmatch(r"\d+Mi", text), text
    return int(text[:-2])


def _top_pods(kubectl: Kubectl, namespace: str, *args: str) -> dict[str, list[str]]:
    """`kubectl top pod` rows by pod name (or by `pod/container` with --containers), once every pod has figures."""
    result = kubectl("top", "pod", "-n", namespace, *args, namespaced=False, check=False)
    if result.returncode != 0:
        return {}
    rows = _rows(result.stdout)
    if "--containers" in args:
        return {f"{r[0]}/{r[1]}": r for r in rows[1:]}
    return {r[0]: r for r in rows[1:]}


def test_top_node_shows_the_nodes_cpu_and_memory_with_percentages(cluster: Cluster, e2e_kubectl: Kubectl) -> None:
    result = wait_for(lambda: e2e_kubectl("top", "node", namespaced=False, check=False).stdout, 30, "node figures")
    rows = _rows(str(result))
    # 1.27 writes CPU% and MEMORY%, later versions CPU(%) and MEMORY(%).
    assert rows[0][0] == "NAME" and rows[0][1] == "CPU(cores)" and rows[0][3] == "MEMORY(bytes)"
    row = next(r for r in rows[1:] if r[0] == cluster.node)
    assert _millicores(row[1]) > 0
    assert re.fullmatch(r"\d+%", row[2]) and re.fullmatch(r"\d+%", row[4])
    # A running node agent and API server alone hold tens of MiB.
    assert _mebibytes(row[3]) > 20


def test_top_pod_shows_the_spinner_near_its_limit_and_the_holder_with_its_buffer(
        workload: str, e2e_kubectl: Kubectl) -> None:
    def measured() -> dict[str, list[str]]:
        rows = _top_pods(e2e_kubectl, workload)
        return rows if {"spinner", "holder"} <= set(rows) and 50 <= _millicores(rows["spinner"][1]) else {}

    rows = wait_for(measured, 60, "both pods measured, the spinner busy")
    assert isinstance(rows, dict)
    # The CFS quota holds the spinner at 100m; a busy machine may give it less, never much more.
    assert 50 <= _millicores(rows["spinner"][1]) <= 130
    assert _mebibytes(rows["spinner"][2]) < 16
    assert _mebibytes(rows["holder"][2]) >= 24
    assert _millicores(rows["holder"][1]) < 20


def test_top_pod_containers_selectors_names_and_all_namespaces(workload: str, e2e_kubectl132: Kubectl) -> None:
    containers = wait_for(lambda: _top_pods(e2e_kubectl132, workload, "--containers"), 60, "container figures")
    assert isinstance(containers, dict)
    assert set(containers) == {"spinner/spin", "holder/hold", "holder/idle"}
    assert _mebibytes(containers["holder/hold"][3]) >= 24 and _mebibytes(containers["holder/idle"][3]) < 8

    selected = _top_pods(e2e_kubectl132, workload, "-l", "app=spinner")
    assert set(selected) == {"spinner"}
    one = _top_pods(e2e_kubectl132, workload, "holder")
    assert set(one) == {"holder"}

    everywhere = e2e_kubectl132("top", "pod", "-A", namespaced=False).stdout
    header, *rows = _rows(everywhere)
    assert header[:2] == ["NAMESPACE", "NAME"]
    assert {(r[0], r[1]) for r in rows} >= {(workload, "spinner"), (workload, "holder")}

    missing = e2e_kubectl132("top", "pod", "-n", workload, "nope", namespaced=False, check=False)
    assert missing.returncode == 1
    assert missing.stderr.strip() == 'Error from server (NotFound): pods "nope" not found'


def test_kubectl_get_reads_the_metrics_objects(workload: str, e2e_kubectl132: Kubectl) -> None:
    wait_for(lambda: _top_pods(e2e_kubectl132, workload), 60, "pod figures")
    holder = json.loads(e2e_kubectl132("get", "podmetrics", "holder", "-n", workload, "-o", "json",
                                       namespaced=False).stdout)
    assert (holder["kind"], holder["apiVersion"]) == ("PodMetrics", "metrics.k8s.io/v1beta1")
    assert [c["name"] for c in holder["containers"]] == ["hold", "idle"]
    assert re.fullmatch(r"\d+(\.\d+)?(ms|s)|\d+m[\d.]+s", holder["window"])
    table = _rows(e2e_kubectl132("get", "nodemetrics", namespaced=False).stdout)
    assert table[0] == ["NAME", "CPU", "MEMORY", "WINDOW"]


def test_a_simulated_node_reports_its_steady_made_up_figures(sim_cluster: Cluster, tmp_path: Path) -> None:
    kubectl = sim_cluster.kubectl("1.32", tmp_path)
    kubectl("run", "web", f"--image={EXAMPLE_IMAGE}")
    wait_for(lambda: kubectl("get", "pod", "web", "-o", "jsonpath={.status.phase}").stdout == "Running", 20,
             "pod web Running")
    rows = wait_for(lambda: _top_pods(kubectl, kubectl.namespace), 30, "simulated pod figures")
    assert isinstance(rows, dict)
    assert rows["web"][1:] == ["1m", "4Mi"]
    nodes = _rows(kubectl("top", "node", namespaced=False).stdout)
    row = next(r for r in nodes[1:] if r[0] == sim_cluster.node)
    # 100m and 512Mi of its own, plus 1m and 4Mi per running container.
    assert _millicores(row[1]) >= 101 and _mebibytes(row[3]) >= 516
