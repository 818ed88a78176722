"""PersistentVolumes: defaults, source and capacity rules, the immutable source, phase times and the row."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kybernetes.registry.core.persistentvolumes import STRATEGY

Obj = dict[str, Any]


def volume(**spec: Any) -> Obj:
    body: Obj = {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/mnt/data"}}
    body.update(spec)
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pv-1"}, "spec": body}


def test_persistent_volumes_are_catalogued_as_upstream() -> None:
    assert (STRATEGY.plural, STRATEGY.namespaced, STRATEGY.short_names, STRATEGY.subresources) == ("persistentvolumes", False, ("pv",), ("status",))
    assert [c.name for c in STRATEGY.columns] == [
        "Name", "Capacity", "Access Modes", "Reclaim Policy", "Status", "Claim", "StorageClass", "VolumeAttributesClass", "Reason", "Age", "VolumeMode",
    ]
    assert STRATEGY.columns[-1].priority == 1


def test_a_new_volume_gets_upstreams_defaults(clock, create) -> None:
    obj, errors = create(STRATEGY, volume(capacity={"storage": "10240Mi"}))
    assert errors == []
    assert obj["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    assert obj["spec"]["volumeMode"] == "Filesystem"
    assert obj["spec"]["capacity"] == {"storage": "10Gi"}
    assert obj["spec"]["hostPath"] == {"path": "/mnt/data", "type": ""}
    assert obj["status"] == {"phase": "Pending", "lastPhaseTransitionTime": "2024-05-01T12:00:00Z"}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"capacity": {}, "accessModes": [], "hostPath": None},
            [
                "spec.accessModes: Required value",
                "spec.capacity: Required value",
                'spec.capacity: Unsupported value: {}: supported values: "storage"',
                "spec: Required value: must specify a volume type",
            ],
        ),
        (
            {"accessModes": ["ReadWriteOncePod", "ReadWriteMany", "WriteSometimes"]},
            [
                'spec.accessModes: Unsupported value: "WriteSometimes": supported values: "ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"',
                "spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes",
            ],
        ),
        ({"capacity": {"storage": "0"}}, ['spec.capacity[storage]: Invalid value: "0": must be greater than zero']),
        ({"nfs": {"server": "nfs", "path": "/export"}}, ["spec.nfs: Forbidden: may not specify more than 1 volume type"]),
        ({"persistentVolumeReclaimPolicy": "Keep"}, ['spec.persistentVolumeReclaimPolicy: Unsupported value: "Keep": supported values: "Delete", "Recycle", "Retain"']),
        ({"hostPath": None, "local": {"path": "/mnt/disk"}}, ["spec.nodeAffinity: Required value: Local volume requires node affinity"]),
    ],
    ids=["empty", "access-modes", "zero-capacity", "two-sources", "reclaim-policy", "local-without-affinity"],
)
def test_bad_volumes_report_upstreams_errors(create, spec: Obj, expected: list[str]) -> None:
    _, errors = create(STRATEGY, volume(**spec))
    assert errors == expected


def test_the_source_and_mode_are_immutable(create, update) -> None:
    stored, _ = create(STRATEGY, volume())
    new = copy.deepcopy(stored)
    new["spec"]["hostPath"]["path"] = "/elsewhere"
    new["spec"]["volumeMode"] = "Block"
    new["spec"]["capacity"] = {"storage": "20Gi"}
    _, errors = update(STRATEGY, new, stored)
    assert errors[0].startswith("spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after creation\n")
    assert errors[1:] == ['volumeMode: Invalid value: "Block": field is immutable']


def test_a_phase_change_stamps_the_transition_time(clock, create, status_update) -> None:
    stored, _ = create(STRATEGY, volume())
    stored["status"]["lastPhaseTransitionTime"] = "2024-05-01T10:00:00Z"
    new = copy.deepcopy(stored)
    new["status"] = {"phase": "Available"}
    result, errors = status_update(STRATEGY, new, stored)
    assert errors == []
    assert result["status"] == {"phase": "Available", "lastPhaseTransitionTime": "2024-05-01T12:00:00Z"}
    same = copy.deepcopy(stored)
    same["status"] = {"phase": "Pending"}
    result, _ = status_update(STRATEGY, same, stored)
    assert result["status"]["lastPhaseTransitionTime"] == "2024-05-01T10:00:00Z"


def test_the_row_matches_upstreams_printer(clock, create) -> None:
    obj, _ = create(STRATEGY, volume(accessModes=["ReadWriteMany", "ReadWriteOnce"], storageClassName="fast", claimRef={"namespace": "default", "name": "data"}))
    obj["metadata"]["creationTimestamp"] = "2024-05-01T11:00:00Z"
    obj["status"] = {"phase": "Bound"}
    assert STRATEGY.row(obj) == ["pv-1", "10Gi", "RWO,RWX", "Retain", "Bound", "default/data", "fast", "<unset>", "", "60m", "Filesystem"]
    obj["metadata"]["deletionTimestamp"] = "2024-05-01T11:59:00Z"
    assert STRATEGY.row(obj)[4] == "Terminating"
    assert STRATEGY.selectable_fields(obj) == {"name": "pv-1"}
