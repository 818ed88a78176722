"""Plugin tables: each plugin's pure check or score against upstream's behaviour and wording."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.scheduler.framework import Code, HostPort, NodeInfo, PodInfo
from kybernetes.scheduler.plugins import (
    inter_pod_affinity,
    least_allocated,
    node_affinity,
    node_name,
    node_ports,
    node_resources_fit,
    node_unschedulable,
    selector_spread,
    taint_toleration,
)
from kybernetes.scheduler.resources import Resource

Obj = dict[str, Any]


def pod(name: str = "p", *, namespace: str = "default", labels: dict[str, str] | None = None, cpu: str | None = None,
        memory: str | None = None, owner: str = "", **spec: Any) -> PodInfo:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    meta: Obj = {"name": name, "namespace": namespace, "uid": f"uid-{name}", "labels": labels or {}}
    if owner:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": owner, "controller": True}]
    container: Obj = {"name": "c", "image": "busybox", "resources": {"requests": requests}}
    return PodInfo.of({"metadata": meta, "spec": {"containers": [container], **spec}})


def node(name: str = "n1", *, labels: dict[str, str] | None = None, cpu: str = "4", memory: str = "8Gi", pods: str = "110",
         taints: list[Obj] | None = None, unschedulable: bool = False, ready: str = "True") -> NodeInfo:
    info = NodeInfo(name)
    info.set_node({
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"taints": taints or [], "unschedulable": unschedulable},
        "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": pods},
                   "conditions": [{"type": "Ready", "status": ready}]},
    })
    return info


# -- NodeName, NodeUnschedulable -----------------------------------------------------------------


@pytest.mark.parametrize(("wanted", "node_name_", "fits"), [("", "a", True), ("a", "a", True), ("a", "b", False)],
                         ids=["unset", "same", "other"])
def test_node_name_fits_only_the_named_node(wanted: str, node_name_: str, fits: bool) -> None:
    assert node_name.fits(wanted, node_name_) is fits


@pytest.mark.parametrize(
    ("unschedulable", "tolerations", "fits"),
    [
        (False, [], True),
        (True, [], False),
        (True, [{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}], True),
        (True, [{"operator": "Exists"}], True),
        (True, [{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoExecute"}], False),
    ],
    ids=["schedulable", "cordoned", "tolerates-taint", "tolerates-everything", "wrong-effect"],
)
def test_node_unschedulable_takes_only_pods_tolerating_the_cordon(unschedulable: bool, tolerations: list[Obj], fits: bool) -> None:
    assert node_unschedulable.fits(unschedulable, tolerations) is fits


def test_node_unschedulable_reason_is_upstreams() -> None:
    status = node_unschedulable.NodeUnschedulable().filter({}, pod(), node(unschedulable=True))
    assert status.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE and status.reasons == ("node(s) were unschedulable",)


# -- NodeAffinity ---------------------------------------------------------------------------------

LABELS = {"zone": "a", "gpu": "true", "cores": "8"}


@pytest.mark.parametrize(
    ("operator", "key", "values", "matches"),
    [
        ("In", "zone", ["a", "b"], True),
        ("In", "zone", ["b"], False),
        ("In", "missing", ["a"], False),
        ("NotIn", "zone", ["b"], True),
        ("NotIn", "zone", ["a"], False),
        ("NotIn", "missing", ["a"], True),
        ("Exists", "gpu", [], True),
        ("Exists", "missing", [], False),
        ("DoesNotExist", "missing", [], True),
        ("DoesNotExist", "gpu", [], False),
        ("Gt", "cores", ["4"], True),
        ("Gt", "cores", ["8"], False),
        ("Lt", "cores", ["16"], True),
        ("Lt", "cores", ["8"], False),
        ("Gt", "zone", ["1"], False),
        ("Gt", "cores", ["x"], False),
        ("Gt", "cores", ["1", "2"], False),
        ("Gt", "missing", ["1"], False),
        ("Like", "zone", ["a"], False),
    ],
    ids=["in", "in-miss", "in-absent", "notin", "notin-miss", "notin-absent", "exists", "exists-absent",
         "doesnotexist", "doesnotexist-present", "gt", "gt-equal", "lt", "lt-equal", "gt-not-a-number",
         "gt-bad-bound", "gt-two-values", "gt-absent", "unknown-operator"],
)
def test_node_affinity_operators(operator: str, key: str, values: list[str], matches: bool) -> None:
    assert node_affinity.requirement_matches({"key": key, "operator": operator, "values": values}, LABELS) is matches


@pytest.mark.parametrize(
    ("spec", "fits"),
    [
        ({}, True),
        ({"nodeSelector": {"zone": "a"}}, True),
        ({"nodeSelector": {"zone": "a", "gpu": "false"}}, False),
        ({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]},
            {"matchExpressions": [{"key": "gpu", "operator": "Exists"}]}]}}}}, True),
        ({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]},
                                  {"key": "gpu", "operator": "DoesNotExist"}]}]}}}}, False),
        ({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{}]}}}},
         False),
        ({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]}}}}, True),
        ({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["n1"]}]}]}}}}, False),
        ({"nodeSelector": {"zone": "b"}, "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "Exists"}]}]}}}}, False),
    ],
    ids=["nothing", "selector", "selector-miss", "terms-are-ored", "requirements-are-anded", "empty-term",
         "match-fields", "match-fields-notin", "selector-and-affinity"],
)
def test_node_affinity_selector_and_required_terms(spec: Obj, fits: bool) -> None:
    assert node_affinity.fits(spec, LABELS, "n1") is fits


def test_node_affinity_reason_and_preferred_score() -> None:
    plugin = node_affinity.NodeAffinity()
    status = plugin.filter({}, pod(nodeSelector={"gpu": "true"}), node())
    assert status.reasons == ("node(s) didn't match Pod's node affinity/selector",)
    assert status.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    preferred = {"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 5, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}},
        {"weight": 3, "preference": {"matchExpressions": [{"key": "gpu", "operator": "Exists"}]}},
        {"weight": 7, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]}}]}}}
    assert node_affinity.preference_score(preferred, LABELS, "n1") == 8
    scores = {"x": 8, "y": 4, "z": 0}
    plugin.normalize({}, pod(), scores)
    assert scores == {"x": 100, "y": 50, "z": 0}


# -- TaintToleration ------------------------------------------------------------------------------

TAINT = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}


@pytest.mark.parametrize(
    ("toleration", "tolerates"),
    [
        ({"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}, True),
        ({"key": "dedicated", "value": "gpu"}, True),
        ({"key": "dedicated", "operator": "Equal", "value": "cpu"}, False),
        ({"key": "dedicated", "operator": "Exists"}, True),
        ({"operator": "Exists"}, True),
        ({"key": "other", "operator": "Exists"}, False),
        ({"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}, False),
        ({"key": "dedicated", "operator": "Sometimes"}, False),
    ],
    ids=["equal", "equal-by-default", "other-value", "exists", "wildcard", "other-key", "other-effect", "bad-operator"],
)
def test_taint_toleration_matching(toleration: Obj, tolerates: bool) -> None:
    assert taint_toleration.tolerates(toleration, TAINT) is tolerates


def test_untolerated_taint_is_reported_in_upstreams_format() -> None:
    plugin = taint_toleration.TaintToleration()
    status = plugin.filter({}, pod(), node(taints=[{"key": "soft", "effect": "PreferNoSchedule"}, TAINT]))
    assert status.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert status.reasons == ("node(s) had untolerated taint {dedicated: gpu}",)
    assert plugin.filter({}, pod(tolerations=[{"key": "dedicated", "operator": "Exists"}]), node(taints=[TAINT])).ok


@pytest.mark.parametrize(("ready", "reason"), [
    ("False", "node(s) had untolerated taint {node.kubernetes.io/not-ready: }"),
    ("Unknown", "node(s) had untolerated taint {node.kubernetes.io/unreachable: }"),
], ids=["not-ready", "unknown"])
def test_a_node_that_is_not_ready_is_treated_as_tainted(ready: str, reason: str) -> None:
    status = taint_toleration.TaintToleration().filter({}, pod(), node(ready=ready))
    assert status.reasons == (reason,)
    tolerant = pod(tolerations=[{"key": "node.kubernetes.io/not-ready", "operator": "Exists"},
                                {"key": "node.kubernetes.io/unreachable", "operator": "Exists"}])
    assert taint_toleration.TaintToleration().filter({}, tolerant, node(ready=ready)).ok


def test_prefer_no_schedule_taints_lower_the_score() -> None:
    soft = [{"key": "a", "effect": "PreferNoSchedule"}, {"key": "b", "effect": "PreferNoSchedule"}]
    assert taint_toleration.intolerable_preferences(soft, []) == 2
    assert taint_toleration.intolerable_preferences(soft, [{"key": "a", "operator": "Exists"}]) == 1
    # Only tolerations for PreferNoSchedule (or any effect) count.
    assert taint_toleration.intolerable_preferences(soft, [{"key": "a", "operator": "Exists", "effect": "NoSchedule"}]) == 2
    scores = {"clean": 0, "one": 1, "two": 2}
    taint_toleration.TaintToleration().normalize({}, pod(), scores)
    assert scores == {"clean": 100, "one": 50, "two": 0}


# -- NodeResourcesFit, least allocated -----------------------------------------------------------


@pytest.mark.parametrize(
    ("wanted", "used", "pods_on_node", "reasons", "code"),
    [
        (Resource(milli_cpu=500, memory=2**30), Resource(), 0, (), Code.SUCCESS),
        (Resource(milli_cpu=500), Resource(milli_cpu=3600), 0, ("Insufficient cpu",), Code.UNSCHEDULABLE),
        (Resource(memory=64 * 2**30), Resource(), 0, ("Insufficient memory",), Code.UNSCHEDULABLE_AND_UNRESOLVABLE),
        (Resource(milli_cpu=5000, memory=9 * 2**30), Resource(), 0, ("Insufficient cpu", "Insufficient memory"),
         Code.UNSCHEDULABLE_AND_UNRESOLVABLE),
        (Resource(), Resource(), 110, ("Too many pods",), Code.UNSCHEDULABLE),
        (Resource(milli_cpu=1), Resource(milli_cpu=4000), 110, ("Too many pods", "Insufficient cpu"), Code.UNSCHEDULABLE),
        (Resource(scalars={"example.com/gpu": 1}), Resource(), 0, ("Insufficient example.com/gpu",),
         Code.UNSCHEDULABLE_AND_UNRESOLVABLE),
        (Resource(ephemeral_storage=1), Resource(), 0, ("Insufficient ephemeral-storage",),
         Code.UNSCHEDULABLE_AND_UNRESOLVABLE),
    ],
    ids=["fits", "cpu-used-up", "memory-never", "both-never", "too-many-pods", "pods-and-cpu", "extended", "ephemeral"],
)
def test_node_resources_fit(wanted: Resource, used: Resource, pods_on_node: int, reasons: tuple[str, ...], code: Code) -> None:
    allocatable = Resource(milli_cpu=4000, memory=8 * 2**30, allowed_pods=110)
    missing = node_resources_fit.insufficient(wanted, allocatable, used, pods_on_node)
    assert tuple(m.reason for m in missing) == reasons
    info = node()
    info.requested = used
    info.pods = {f"x{i}": pod(f"x{i}") for i in range(pods_on_node)}
    status = node_resources_fit.NodeResourcesFit().filter({}, _with_requests(wanted), info)
    assert status.code is code and status.reasons == reasons


def _with_requests(wanted: Resource) -> PodInfo:
    info = pod()
    info.requests = wanted
    return info


@pytest.mark.parametrize(("requested", "allocatable", "score"), [(0, 4000, 100), (1000, 4000, 75), (4000, 4000, 0),
                                                                 (5000, 4000, 0), (1, 0, 0)],
                         ids=["idle", "quarter", "full", "over", "none"])
def test_least_allocated_resource_score(requested: int, allocatable: int, score: int) -> None:
    assert least_allocated.resource_score(requested, allocatable) == score


def test_least_allocated_counts_missing_requests_as_defaults() -> None:
    empty = node(cpu="1", memory="1000Mi")
    # 100m of 1000m and 200Mi of 1000Mi used by a pod without requests: (90 + 80) / 2.
    assert least_allocated.score(pod(), empty) == 85
    assert least_allocated.score(pod(cpu="500m", memory="500Mi"), empty) == 50


# -- NodePorts ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wanted", "used", "fits"),
    [
        (HostPort("0.0.0.0", "TCP", 80), HostPort("0.0.0.0", "TCP", 81), True),
        (HostPort("0.0.0.0", "TCP", 80), HostPort("0.0.0.0", "TCP", 80), False),
        (HostPort("0.0.0.0", "TCP", 80), HostPort("0.0.0.0", "UDP", 80), True),
        (HostPort("10.0.0.1", "TCP", 80), HostPort("10.0.0.2", "TCP", 80), True),
        (HostPort("10.0.0.1", "TCP", 80), HostPort("0.0.0.0", "TCP", 80), False),
        (HostPort("0.0.0.0", "TCP", 80), HostPort("10.0.0.2", "TCP", 80), False),
    ],
    ids=["other-port", "same", "other-protocol", "other-ips", "wildcard-used", "wildcard-wanted"],
)
def test_node_ports_conflicts(wanted: HostPort, used: HostPort, fits: bool) -> None:
    assert node_ports.fits([wanted], [used]) is fits


def test_node_ports_reads_host_ports_and_reports_upstreams_reason() -> None:
    web = pod("web", containers=[{"name": "c", "image": "x", "ports": [{"containerPort": 8080, "hostPort": 80}]}])
    assert web.host_ports == (HostPort("0.0.0.0", "TCP", 80),)
    busy = node()
    busy.add_pod(pod("other", containers=[{"name": "c", "image": "x", "ports": [{"containerPort": 1, "hostPort": 80}]}]))
    status = node_ports.NodePorts().filter({}, web, busy)
    assert status.code is Code.UNSCHEDULABLE
    assert status.reasons == ("node(s) didn't have free ports for the requested pod ports",)
    busy.remove_pod("uid-other")
    assert node_ports.NodePorts().filter({}, web, busy).ok


# -- InterPodAffinity -----------------------------------------------------------------------------


def _affine(name: str, kind: str, selects: dict[str, str], key: str = "kubernetes.io/hostname", **extra: Any) -> PodInfo:
    term = {"labelSelector": {"matchLabels": selects}, "topologyKey": key}
    return pod(name, affinity={kind: {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}, **extra)


def _nodes(*names_and_zones: tuple[str, str]) -> list[NodeInfo]:
    return [node(n, labels={"kubernetes.io/hostname": n, "zone": z}) for n, z in names_and_zones]


def _verdicts(incoming: PodInfo, nodes: list[NodeInfo]) -> dict[str, tuple[str, ...]]:
    plugin = inter_pod_affinity.InterPodAffinity(inter_pod_affinity.Handle())
    state: dict[str, Any] = {}
    if plugin.pre_filter(state, incoming, nodes).code is Code.SKIP:
        return {n.name: () for n in nodes}
    return {n.name: plugin.filter(state, incoming, n).reasons for n in nodes}


def test_pod_affinity_follows_matching_pods_by_topology() -> None:
    nodes = _nodes(("a", "z1"), ("b", "z1"), ("c", "z2"))
    nodes[0].add_pod(pod("db", labels={"app": "db"}))
    by_host = _affine("web", "podAffinity", {"app": "db"})
    assert _verdicts(by_host, nodes) == {"a": (), "b": (inter_pod_affinity.AFFINITY_REASON,),
                                         "c": (inter_pod_affinity.AFFINITY_REASON,)}
    by_zone = _affine("web", "podAffinity", {"app": "db"}, key="zone")
    assert _verdicts(by_zone, nodes) == {"a": (), "b": (), "c": (inter_pod_affinity.AFFINITY_REASON,)}


def test_the_first_pod_of_a_self_affine_group_may_go_anywhere_with_the_topology_key() -> None:
    nodes = _nodes(("a", "z1"), ("b", "z2"))
    first = _affine("web-0", "podAffinity", {"app": "web"}, key="zone", labels={"app": "web"})
    assert _verdicts(first, nodes) == {"a": (), "b": ()}
    stranger = _affine("other", "podAffinity", {"app": "web"}, key="zone")
    assert _verdicts(stranger, nodes) == {n: (inter_pod_affinity.AFFINITY_REASON,) for n in ("a", "b")}
    missing_key = _affine("web-0", "podAffinity", {"app": "web"}, key="rack", labels={"app": "web"})
    assert _verdicts(missing_key, nodes) == {n: (inter_pod_affinity.AFFINITY_REASON,) for n in ("a", "b")}


def test_pod_anti_affinity_avoids_matching_pods_and_existing_pods_repel_matching_newcomers() -> None:
    nodes = _nodes(("a", "z1"), ("b", "z2"))
    nodes[0].add_pod(pod("web-0", labels={"app": "web"}))
    second = _affine("web-1", "podAntiAffinity", {"app": "web"}, labels={"app": "web"})
    assert _verdicts(second, nodes) == {"a": (inter_pod_affinity.ANTI_AFFINITY_REASON,), "b": ()}
    nodes[1].add_pod(_affine("loner", "podAntiAffinity", {"app": "web"}, key="zone"))
    plain = pod("web-2", labels={"app": "web"})
    assert _verdicts(plain, nodes) == {"a": (), "b": (inter_pod_affinity.EXISTING_ANTI_AFFINITY_REASON,)}
    other_namespace = pod("web-3", namespace="elsewhere", labels={"app": "web"})
    assert _verdicts(other_namespace, nodes) == {"a": (), "b": ()}


def test_anti_affinity_across_namespaces_by_namespace_selector() -> None:
    nodes = _nodes(("a", "z1"), ("b", "z2"))
    nodes[0].add_pod(pod("web-0", namespace="team-a", labels={"app": "web"}))
    term = {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname",
            "namespaceSelector": {}}
    incoming = pod("web-1", namespace="team-b", affinity={"podAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [term]}})
    assert _verdicts(incoming, nodes) == {"a": (inter_pod_affinity.ANTI_AFFINITY_REASON,), "b": ()}


# -- SelectorSpread -------------------------------------------------------------------------------


def test_selector_spread_counts_siblings_of_the_same_owner() -> None:
    busy = node("busy")
    for i in range(3):
        busy.add_pod(pod(f"s{i}", owner="rs-1"))
    busy.add_pod(pod("stranger", owner="rs-2"))
    assert selector_spread.siblings(pod("new", owner="rs-1"), busy) == 3
    assert selector_spread.siblings(pod("orphan"), busy) == 0


@pytest.mark.parametrize(
    ("counts", "zones", "scores"),
    [
        ({"a": 2, "b": 0}, {}, {"a": 0, "b": 100}),
        ({"a": 0, "b": 0}, {}, {"a": 100, "b": 100}),
        ({"a": 3, "b": 1, "c": 0}, {}, {"a": 0, "b": 66, "c": 100}),
        ({"a": 1, "b": 0, "c": 0}, {"a": "z1", "b": "z1", "c": "z2"}, {"a": 0, "b": 33, "c": 100}),
    ],
    ids=["two-nodes", "none-yet", "three-nodes", "zones"],
)
def test_selector_spread_scores(counts: dict[str, int], zones: dict[str, str], scores: dict[str, int]) -> None:
    assert selector_spread.spread(counts, zones) == scores


def test_namespace_selectors_look_up_namespace_labels() -> None:
    nodes = _nodes(("a", "z1"), ("b", "z2"))
    nodes[0].add_pod(pod("db", namespace="team-a", labels={"app": "db"}))
    nodes[1].add_pod(pod("db", namespace="team-b", labels={"app": "db"}))
    term = {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "kubernetes.io/hostname",
            "namespaceSelector": {"matchLabels": {"team": "a"}}}
    incoming = pod("web", namespace="web", affinity={"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}})
    handle = inter_pod_affinity.Handle(namespace_labels=lambda name: {"team": "a"} if name == "team-a" else {})
    plugin = inter_pod_affinity.InterPodAffinity(handle)
    state: dict[str, Any] = {}
    assert plugin.pre_filter(state, incoming, nodes).ok
    assert [plugin.filter(state, incoming, n).reasons for n in nodes] == [(), (inter_pod_affinity.AFFINITY_REASON,)]


@pytest.mark.parametrize(
    ("plugin", "spec", "skipped"),
    [
        (node_name.NodeName(), {}, True),
        (node_name.NodeName(), {"nodeName": "a"}, False),
        (node_affinity.NodeAffinity(), {}, True),
        (node_affinity.NodeAffinity(), {"nodeSelector": {"a": "b"}}, False),
        (node_affinity.NodeAffinity(), {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": []}}}}, False),
        (node_ports.NodePorts(), {}, True),
        (node_ports.NodePorts(), {"containers": [{"name": "c", "ports": [{"containerPort": 1, "hostPort": 1}]}]}, False),
    ],
    ids=["nodename-unset", "nodename-set", "affinity-none", "affinity-selector", "affinity-empty-terms", "ports-none",
         "ports-host"],
)
def test_filters_skip_pods_they_have_nothing_to_say_about(plugin: Any, spec: Obj, skipped: bool) -> None:
    status = plugin.pre_filter({}, PodInfo.of({"metadata": {"name": "p"}, "spec": spec}), [])
    assert (status.code is Code.SKIP) is skipped
