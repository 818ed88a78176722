"""Nodes: status kept on create, allocatable defaults, taint checks, update rules and the Table row."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kybernetes.registry.core.nodes import STRATEGY

Obj = dict[str, Any]


def node(**extra: Any) -> Obj:
    obj: Obj = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "node-1", "labels": {"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "infra"}},
        "spec": {},
        "status": {
            "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True"}],
            "addresses": [{"type": "InternalIP", "address": "192.168.1.10"}, {"type": "Hostname", "address": "node-1"}],
            "nodeInfo": {"kubeletVersion": "v1.32.0", "osImage": "Debian GNU/Linux 12", "kernelVersion": "6.1.0", "containerRuntimeVersion": "containerd://1.7.0"},
        },
    }
    obj.update(extra)
    return obj


def test_nodes_are_catalogued_as_upstream() -> None:
    assert (STRATEGY.plural, STRATEGY.namespaced, STRATEGY.short_names, STRATEGY.subresources) == ("nodes", False, ("no",), ("status", "proxy"))
    assert [(c.name, c.priority) for c in STRATEGY.columns] == [
        ("Name", 0), ("Status", 0), ("Roles", 0), ("Age", 0), ("Version", 0), ("Internal-IP", 1), ("External-IP", 1),
        ("OS-Image", 1), ("Kernel-Version", 1), ("Container-Runtime", 1),
    ]


def test_a_registered_node_keeps_its_status_and_gets_allocatable(create) -> None:
    obj, errors = create(STRATEGY, node())
    assert errors == []
    assert obj["status"]["allocatable"] == {"cpu": "4", "memory": "8Gi", "pods": "110"}
    assert obj["status"]["conditions"] == [{"type": "Ready", "status": "True"}]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"taints": [{"key": "a", "effect": "Sometimes"}, {"key": "b"}, {"key": "c", "effect": "NoSchedule"}, {"key": "c", "effect": "NoSchedule"}]},
            [
                'metadata.taints[0].effect: Unsupported value: "Sometimes": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"',
                "metadata.taints[1].effect: Required value",
                'metadata.taints[3]: Duplicate value: {"key":"c","effect":"NoSchedule"}: taints must be unique by key and effect pair',
            ],
        ),
        (
            {"podCIDRs": ["10.244.0.0/24", "10.245.0.0/24"]},
            ['spec.podCIDRs: Invalid value: []string{"10.244.0.0/24", "10.245.0.0/24"}: may specify no more than one CIDR for each IP family'],
        ),
    ],
    ids=["taints", "pod-cidrs"],
)
def test_bad_nodes_report_upstreams_errors(create, spec: Obj, expected: list[str]) -> None:
    _, errors = create(STRATEGY, node(spec=spec))
    assert errors == expected


def test_assigned_pod_cidrs_and_provider_ids_are_fixed(create, update) -> None:
    stored, _ = create(STRATEGY, node(spec={"podCIDRs": ["10.244.0.0/24"], "providerID": "kyb://node-1"}))
    new = copy.deepcopy(stored)
    new["spec"].update({"podCIDRs": ["10.244.1.0/24"], "providerID": "kyb://other", "unschedulable": True})
    _, errors = update(STRATEGY, new, stored)
    assert errors == [
        'spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid',
        'spec.providerID: Forbidden: node updates may not change providerID except from "" to valid',
    ]


@pytest.mark.parametrize(
    ("change", "status", "roles"),
    [
        (lambda n: None, "Ready", "control-plane,infra"),
        (lambda n: n["spec"].update(unschedulable=True), "Ready,SchedulingDisabled", "control-plane,infra"),
        (lambda n: n["status"]["conditions"][0].update(status="Unknown"), "NotReady", "control-plane,infra"),
        (lambda n: (n["status"].pop("conditions"), n["metadata"].pop("labels")), "Unknown", "<none>"),
    ],
    ids=["ready", "cordoned", "not-ready", "no-conditions"],
)
def test_status_and_roles_cells(clock, change, status: str, roles: str) -> None:
    obj = node()
    obj["metadata"]["creationTimestamp"] = "2024-05-01T11:00:00Z"
    change(obj)
    assert STRATEGY.row(obj)[:5] == ["node-1", status, roles, "60m", "v1.32.0"]


def test_wide_cells_and_unknown_node_info(clock) -> None:
    obj = node()
    assert STRATEGY.row(obj)[5:] == ["192.168.1.10", "<none>", "Debian GNU/Linux 12", "6.1.0", "containerd://1.7.0"]
    obj["status"]["nodeInfo"] = {}
    assert STRATEGY.row(obj)[4:] == ["", "192.168.1.10", "<none>", "<unknown>", "<unknown>", "<unknown>"]


def test_selectable_fields_report_unschedulable() -> None:
    assert STRATEGY.selectable_fields(node()) == {"spec.unschedulable": "false"}
    assert STRATEGY.selectable_fields(node(spec={"unschedulable": True})) == {"spec.unschedulable": "true"}


def test_a_bare_node_gets_the_structs_upstream_always_writes(create) -> None:
    obj, errors = create(STRATEGY, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "bare"}})
    assert errors == []
    assert obj["spec"] == {}
    assert obj["status"]["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 0}}
    assert obj["status"]["nodeInfo"] == {
        key: "" for key in (
            "architecture", "bootID", "containerRuntimeVersion", "kernelVersion", "kubeProxyVersion",
            "kubeletVersion", "machineID", "operatingSystem", "osImage", "systemUUID",
        )
    }
