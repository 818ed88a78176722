"""The Node object: capacity from the machine, upstream's conditions, and every field clients require."""

from __future__ import annotations

import json
from pathlib import Path

import kubernetes
import pytest

from kybernetes.agent import node as nodeinfo

NOW = "2024-01-01T00:00:00Z"


def spec(**kw) -> nodeinfo.NodeSpec:
    return nodeinfo.NodeSpec(name="n1", addresses=(("InternalIP", "192.0.2.10"), ("Hostname", "n1")),
                             runtime_version="simulated://0.1.0", **kw)


def test_the_machine_is_read_from_proc_and_the_file_system(tmp_path: Path) -> None:
    machine = nodeinfo.read_machine_info(tmp_path)
    assert machine.cpus >= 1 and machine.memory_bytes > 0 and machine.ephemeral_storage_bytes > 0
    assert machine.boot_id and machine.kernel_version and machine.architecture in ("amd64", "arm64")


def test_allocatable_is_capacity_less_the_hard_eviction_thresholds() -> None:
    machine = nodeinfo.simulated_machine_info("n1", cpus=4, memory_bytes=8 * 2**30, storage_bytes=100 * 2**30)
    assert nodeinfo.capacity(machine, 110) == {"cpu": "4", "ephemeral-storage": "104857600Ki", "memory": "8388608Ki",
                                               "pods": "110"}
    allocatable = nodeinfo.allocatable(machine, 110)
    assert allocatable["memory"] == "8286208Ki"
    assert allocatable["ephemeral-storage"] == str(int(100 * 2**30 * 0.9))


def test_conditions_are_upstreams_and_keep_their_transition_time() -> None:
    first = nodeinfo.conditions(nodeinfo.Health(), [], NOW)
    assert [(c["type"], c["status"], c["reason"]) for c in first] == [
        ("MemoryPressure", "False", "KubeletHasSufficientMemory"),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID"),
        ("Ready", "True", "KubeletReady"),
    ]
    assert first[3]["message"] == "kubelet is posting ready status"
    later = nodeinfo.conditions(nodeinfo.Health(ready=False, not_ready_message="runtime down"), first, "2024-01-01T00:01:00Z")
    assert later[0]["lastTransitionTime"] == NOW and later[0]["lastHeartbeatTime"] == "2024-01-01T00:01:00Z"
    assert later[3]["lastTransitionTime"] == "2024-01-01T00:01:00Z" and later[3]["reason"] == "KubeletNotReady"


def test_the_node_has_labels_addresses_and_every_node_info_field() -> None:
    machine = nodeinfo.simulated_machine_info("n1")
    labels = nodeinfo.default_labels("n1", machine, role="control-plane")
    node = nodeinfo.node_object(spec(labels=labels, pod_cidr="10.42.1.0/24"), machine, nodeinfo.Health(), NOW)
    assert node["metadata"]["labels"]["kubernetes.io/hostname"] == "n1"
    assert node["metadata"]["labels"]["node-role.kubernetes.io/control-plane"] == "true"
    assert node["spec"] == {"podCIDR": "10.42.1.0/24", "podCIDRs": ["10.42.1.0/24"]}
    assert set(node["status"]["nodeInfo"]) == {
        "architecture", "bootID", "containerRuntimeVersion", "kernelVersion", "kubeProxyVersion", "kubeletVersion",
        "machineID", "operatingSystem", "osImage", "systemUUID"}
    assert node["status"]["addresses"] == [{"type": "InternalIP", "address": "192.0.2.10"},
                                           {"type": "Hostname", "address": "n1"}]


def test_the_python_client_accepts_the_node() -> None:
    machine = nodeinfo.simulated_machine_info("n1")
    node = nodeinfo.node_object(spec(labels=nodeinfo.default_labels("n1", machine)), machine, nodeinfo.Health(), NOW)
    node["metadata"]["creationTimestamp"] = NOW
    api = kubernetes.client.ApiClient()
    decoded = api.deserialize(json.dumps(node), "V1Node", "application/json")
    assert decoded.status.node_info.kubelet_version == nodeinfo.KUBELET_VERSION
    assert decoded.status.conditions[-1].type == "Ready"


def test_heartbeat_times_alone_are_no_change() -> None:
    machine = nodeinfo.simulated_machine_info("n1")
    a = nodeinfo.node_status(spec(), machine, nodeinfo.Health(), [], NOW)
    b = nodeinfo.node_status(spec(), machine, nodeinfo.Health(), a["conditions"], "2024-01-01T00:00:10Z")
    assert a != b and nodeinfo.heartbeat_free(a) == nodeinfo.heartbeat_free(b)


@pytest.mark.parametrize(("machine", "arch"), [("x86_64", "amd64"), ("aarch64", "arm64"), ("riscv64", "riscv64")])
def test_architectures_use_go_names(machine: str, arch: str) -> None:
    assert nodeinfo.go_arch(machine) == arch
