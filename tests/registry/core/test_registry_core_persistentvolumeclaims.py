"""PersistentVolumeClaims: defaults, claim-spec rules, the update rules and the Table row."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kybernetes.registry.core.persistentvolumeclaims import STRATEGY

Obj = dict[str, Any]


def claim(**spec: Any) -> Obj:
    body: Obj = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    body.update(spec)
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": "default"}, "spec": body}


def test_claims_are_catalogued_as_upstream() -> None:
    assert (STRATEGY.plural, STRATEGY.singular, STRATEGY.short_names, STRATEGY.subresources) == (
        "persistentvolumeclaims", "persistentvolumeclaim", ("pvc",), ("status",),
    )
    assert [c.name for c in STRATEGY.columns] == ["Name", "Status", "Volume", "Capacity", "Access Modes", "StorageClass", "VolumeAttributesClass", "Age", "VolumeMode"]


def test_a_new_claim_is_pending_with_filesystem_mode(create) -> None:
    obj, errors = create(STRATEGY, claim(resources={"requests": {"storage": "1024Mi"}}))
    assert errors == []
    assert obj["spec"]["volumeMode"] == "Filesystem"
    assert obj["spec"]["resources"] == {"requests": {"storage": "1Gi"}}
    assert obj["status"] == {"phase": "Pending"}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"accessModes": [], "resources": {}}, ["spec.accessModes: Required value: at least 1 access mode is required", "spec.resources[storage]: Required value"]),
        ({"resources": {"requests": {"storage": "0"}}}, ['spec.resources[storage]: Invalid value: "0": must be greater than zero']),
        ({"volumeMode": "Raw"}, ['spec.volumeMode: Unsupported value: "Raw": supported values: "Block", "Filesystem"']),
        (
            {"dataSource": {"kind": "VolumeSnapshot", "name": "snap"}},
            ["spec.dataSource: Invalid value: \"VolumeSnapshot\": must be 'PersistentVolumeClaim' when referencing the default apiGroup"],
        ),
    ],
    ids=["missing", "zero-storage", "volume-mode", "data-source"],
)
def test_bad_claims_report_upstreams_errors(create, spec: Obj, expected: list[str]) -> None:
    _, errors = create(STRATEGY, claim(**spec))
    assert errors == expected


@pytest.fixture
def stored(create) -> Obj:
    obj, _ = create(STRATEGY, claim())
    obj["metadata"].update({"uid": "u1", "resourceVersion": "7"})
    return obj


def test_the_binder_may_set_the_volume_name_once(update, stored: Obj) -> None:
    new = copy.deepcopy(stored)
    new["spec"]["volumeName"] = "pv-1"
    _, errors = update(STRATEGY, new, stored)
    assert errors == []


def test_a_bound_claim_may_grow_but_not_shrink(update, stored: Obj) -> None:
    stored["status"] = {"phase": "Bound"}
    grown = copy.deepcopy(stored)
    grown["spec"]["resources"]["requests"]["storage"] = "2Gi"
    assert update(STRATEGY, grown, stored)[1] == []
    shrunk = copy.deepcopy(stored)
    shrunk["spec"]["resources"]["requests"]["storage"] = "500Mi"
    assert update(STRATEGY, shrunk, stored)[1] == ["spec.resources.requests.storage: Forbidden: field can not be less than previous value"]


def test_other_spec_changes_are_forbidden(update, stored: Obj) -> None:
    new = copy.deepcopy(stored)
    new["spec"]["accessModes"] = ["ReadWriteMany"]
    _, errors = update(STRATEGY, new, stored)
    assert len(errors) == 1
    assert errors[0].startswith(
        "spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n"
    )


def test_the_row_shows_capacity_only_once_bound(clock, stored: Obj) -> None:
    stored["metadata"]["creationTimestamp"] = "2024-05-01T11:00:00Z"
    assert STRATEGY.row(stored) == ["data", "Pending", "", "", "", "", "<unset>", "60m", "Filesystem"]
    stored["spec"].update({"volumeName": "pv-1", "storageClassName": "fast"})
    stored["status"] = {"phase": "Bound", "capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"]}
    assert STRATEGY.row(stored) == ["data", "Bound", "pv-1", "10Gi", "RWO", "fast", "<unset>", "60m", "Filesystem"]
    assert STRATEGY.selectable_fields(stored) == {"name": "data"}
