"""The scheduling cycle: pod requests as upstream computes them, the FailedScheduling message, node selection."""

from __future__ import annotations

import random
from typing import Any

import pytest

from kybernetes.scheduler.framework import Code, NodeInfo, PodInfo, Status
from kybernetes.scheduler.resources import Resource, pod_non_zero_requests, pod_requests
from kybernetes.scheduler.runtime import (
    Algorithm,
    Diagnosis,
    FitError,
    Framework,
    NoNodesAvailable,
    feasible_nodes_to_find,
    fit_error_message,
    preemption_message,
)

Obj = dict[str, Any]
MI = 2**20


def container(cpu: str | None = None, memory: str | None = None, **extra: Any) -> Obj:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    return {"name": "c", "image": "x", "resources": {"requests": requests}, **extra}


@pytest.mark.parametrize(
    ("spec", "cpu", "memory"),
    [
        ({"containers": [container("100m", "64Mi"), container("250m", "1Gi")]}, 350, 64 * MI + 1024 * MI),
        ({"containers": [container("100m")], "initContainers": [container("1", "16Mi")]}, 1000, 16 * MI),
        ({"containers": [container("2")], "initContainers": [container("1"), container("500m")]}, 2000, 0),
        ({"containers": [container("100m")], "initContainers": [container("200m", restartPolicy="Always"), container("1")]},
         1200, 0),
        ({"containers": [container("100m")], "initContainers": [container("200m", restartPolicy="Always")]}, 300, 0),
        ({"containers": [container("100m", "10Mi")], "overhead": {"cpu": "50m", "memory": "5Mi"}}, 150, 15 * MI),
        ({"containers": [container("0.5"), container("1m")]}, 501, 0),
    ],
    ids=["sum", "init-max", "init-below-app", "sidecar-adds-to-later-init", "sidecar-adds-to-app", "overhead", "units"],
)
def test_pod_requests_as_upstream_computes_them(spec: Obj, cpu: int, memory: int) -> None:
    requests = pod_requests(spec)
    assert (requests.milli_cpu, requests.memory) == (cpu, memory)


def test_non_zero_requests_default_missing_cpu_and_memory_only() -> None:
    spec = {"containers": [container(), container("0"), container(memory="1Gi")]}
    requests = pod_non_zero_requests(spec)
    assert requests.milli_cpu == 100 + 0 + 100
    assert requests.memory == 200 * MI + 200 * MI + 1024 * MI


def test_extended_resources_and_hugepages_are_scalars() -> None:
    spec = {"containers": [{"name": "c", "image": "x", "resources": {"requests": {
        "example.com/gpu": "2", "hugepages-2Mi": "4Mi", "cpu": "1"}}}]}
    assert pod_requests(spec).scalars == {"example.com/gpu": 2, "hugepages-2Mi": 4 * MI}


# -- the FailedScheduling message ----------------------------------------------------------------

AFFINITY = "node(s) didn't match Pod's node affinity/selector"


def diagnosis(*statuses: Status) -> Diagnosis:
    return Diagnosis({f"n{i}": s for i, s in enumerate(statuses)})


def test_the_aggregated_message_counts_reasons_and_sorts_them_as_strings() -> None:
    found = diagnosis(Status(Code.UNSCHEDULABLE, ("Insufficient memory",)),
                      Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (AFFINITY,)),
                      Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (AFFINITY,)))
    assert fit_error_message(3, found, "preemption: x") == (
        f"0/3 nodes are available: 1 Insufficient memory, 2 {AFFINITY}. preemption: x")


def test_counts_sort_as_text_so_ten_comes_before_two() -> None:
    found = diagnosis(*[Status(Code.UNSCHEDULABLE, ("b",))] * 2, *[Status(Code.UNSCHEDULABLE, ("a",))] * 10)
    assert fit_error_message(12, found) == "0/12 nodes are available: 10 a, 2 b."


def test_every_reason_of_a_node_counts() -> None:
    found = diagnosis(Status(Code.UNSCHEDULABLE, ("Insufficient cpu", "Insufficient memory")))
    assert fit_error_message(1, found) == "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory."


def test_a_pre_filter_message_replaces_the_reasons() -> None:
    found = Diagnosis(pre_filter_message="pod has unbound immediate PersistentVolumeClaims")
    assert fit_error_message(3, found) == "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims."


def test_the_preemption_suffix_splits_resolvable_and_unresolvable_nodes() -> None:
    nodes = [NodeInfo(f"n{i}") for i in range(3)]
    found = diagnosis(Status(Code.UNSCHEDULABLE, ("Insufficient memory",)),
                      Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (AFFINITY,)),
                      Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (AFFINITY,)))
    pod = PodInfo.of({"metadata": {"name": "p", "namespace": "d"}, "spec": {}})
    assert preemption_message(pod, nodes, found) == (
        "preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, "
        "2 Preemption is not helpful for scheduling.")
    never = PodInfo.of({"metadata": {"name": "p"}, "spec": {"preemptionPolicy": "Never"}})
    assert preemption_message(never, nodes, found) == "preemption: not eligible due to preemptionPolicy=Never."


# -- choosing a node -------------------------------------------------------------------------------


def node(name: str, *, cpu: str = "4", memory: str = "8Gi", labels: dict[str, str] | None = None) -> NodeInfo:
    info = NodeInfo(name)
    info.set_node({"metadata": {"name": name, "labels": labels or {}}, "spec": {},
                   "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": "110"},
                              "conditions": [{"type": "Ready", "status": "True"}]}})
    return info


def pod(name: str = "p", **spec: Any) -> PodInfo:
    spec.setdefault("containers", [container()])
    return PodInfo.of({"metadata": {"name": name, "namespace": "default", "uid": name}, "spec": spec})


def test_the_least_requested_node_wins() -> None:
    busy, idle = node("busy"), node("idle")
    busy.add_pod(pod("x", containers=[container("3", "6Gi")]))
    algorithm = Algorithm(Framework(), rng=random.Random(1))
    assert algorithm.schedule(pod(), [busy, idle]).node == "idle"


def test_a_misfit_raises_fit_error_with_the_full_message() -> None:
    nodes = [node("a", memory="3Gi", labels={"gpu": "false"}), node("b"), node("c")]
    nodes[0].add_pod(pod("resident", containers=[container(memory="2Gi")]))
    hog = pod(containers=[container(memory="2Gi")], nodeSelector={"gpu": "false"})
    with pytest.raises(FitError) as raised:
        Algorithm(Framework()).schedule(hog, nodes)
    assert raised.value.message == (
        f"0/3 nodes are available: 1 Insufficient memory, 2 {AFFINITY}. preemption: 0/3 nodes are available: "
        "1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling.")
    assert raised.value.diagnosis.rejected_by == {"NodeAffinity", "NodeResourcesFit"}


def test_no_nodes_at_all_is_its_own_error() -> None:
    with pytest.raises(NoNodesAvailable, match="^no nodes available to schedule pods$"):
        Algorithm(Framework()).schedule(pod(), [])


def test_ties_are_broken_at_random() -> None:
    algorithm = Algorithm(Framework(), rng=random.Random(7))
    picks = {algorithm.select({"a": 10, "b": 10, "c": 3}) for _ in range(50)}
    assert picks == {"a", "b"}


@pytest.mark.parametrize(("nodes", "wanted"), [(5, 5), (99, 99), (100, 50), (1000, 420), (5000, 500), (6000, 300)],
                         ids=["tiny", "below-minimum", "hundred", "thousand", "five-thousand", "floor-five-percent"])
def test_big_clusters_stop_filtering_early(nodes: int, wanted: int) -> None:
    assert feasible_nodes_to_find(nodes) == max(wanted, min(nodes, 100))


def test_the_node_scan_resumes_where_the_last_one_stopped() -> None:
    nodes = [node(f"n{i:03}") for i in range(200)]
    algorithm = Algorithm(Framework())
    first = algorithm.schedule(pod(), nodes)
    assert first.evaluated == feasible_nodes_to_find(200) == 100
    assert algorithm._next_start == 100


def test_a_burst_does_not_overcommit_once_pods_are_placed() -> None:
    nodes = [node("a", cpu="1"), node("b", cpu="1")]
    algorithm = Algorithm(Framework())
    placed = []
    for i in range(25):
        wanted = pod(f"p{i}", containers=[container("100m")])
        try:
            chosen = algorithm.schedule(wanted, nodes).node
        except FitError:
            continue
        next(n for n in nodes if n.name == chosen).add_pod(wanted)
        placed.append(chosen)
    assert len(placed) == 20 and placed.count("a") == placed.count("b") == 10
    assert all(n.requested.milli_cpu <= n.allocatable.milli_cpu for n in nodes)


def test_resources_add_and_subtract() -> None:
    total = Resource(milli_cpu=1, scalars={"x/y": 1})
    total.add(Resource(memory=2, scalars={"x/y": 2}))
    total.sub(Resource(milli_cpu=1, scalars={"x/y": 1}))
    assert total == Resource(memory=2, scalars={"x/y": 2})
