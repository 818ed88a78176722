"""StorageClass strategy: defaults, validation, immutable fields, warnings, table rows."""

from __future__ import annotations

import copy
from datetime import datetime, timezone

import pytest

from kybernetes.api import duration
from kybernetes.registry.storage import storageclasses as sc
from tests.registry.apps.storeflow import book, create, messages, update, valid

STRATEGY = sc.STRATEGY


def manifest(**fields: object) -> dict:
    obj = book("storageclass-fast-hostpath.yaml")
    obj.update(fields)
    return obj


def test_identity() -> None:
    assert (STRATEGY.group, STRATEGY.plural, STRATEGY.singular, STRATEGY.short_names) == (
        "storage.k8s.io",
        "storageclasses",
        "storageclass",
        ("sc",),
    )
    assert not STRATEGY.namespaced and not STRATEGY.has_status and not STRATEGY.tracks_generation


def test_book_class_gets_reclaim_policy_and_binding_mode() -> None:
    stored = valid(STRATEGY, manifest())
    assert stored["reclaimPolicy"] == "Delete"
    assert stored["volumeBindingMode"] == "Immediate"
    assert "allowVolumeExpansion" not in stored
    assert "generation" not in stored["metadata"]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"provisioner": ""}, ["provisioner: Required value"]),
        ({"provisioner": "bad provisioner"}, ["provisioner: Invalid value: \"bad provisioner\": name part must consist of"]),
        (
            {"reclaimPolicy": "Recycle"},
            ['reclaimPolicy: Unsupported value: "Recycle": supported values: "Delete", "Retain"'],
        ),
        (
            {"volumeBindingMode": "Later"},
            ['volumeBindingMode: Unsupported value: "Later": supported values: "Immediate", "WaitForFirstConsumer"'],
        ),
        ({"parameters": {"": "x"}}, ['parameters: Invalid value: "": field can not be empty.']),
        (
            {"allowedTopologies": [{"matchLabelExpressions": [{"key": "topology.kubernetes.io/zone", "values": []}]}]},
            ["allowedTopologies[0].matchLabelExpressions[0].values: Required value"],
        ),
    ],
    ids=["no-provisioner", "bad-provisioner", "reclaim", "binding", "empty-parameter-key", "topology-values"],
)
def test_validation(fields: dict, expected: list[str]) -> None:
    got = messages(create(STRATEGY, manifest(**fields))[1])
    assert len(got) == len(expected)
    for have, want in zip(got, expected):
        assert have.startswith(want)


def test_provisioner_parameters_and_reclaim_policy_are_fixed() -> None:
    old = valid(STRATEGY, manifest())
    new = copy.deepcopy(old)
    new["provisioner"] = "kubernetes.io/gce-pd"
    new["parameters"] = {"type": "pd-standard"}
    new["reclaimPolicy"] = "Retain"
    new["volumeBindingMode"] = "WaitForFirstConsumer"
    new["allowVolumeExpansion"] = True
    assert messages(update(STRATEGY, old, new)[1]) == [
        "parameters: Forbidden: updates to parameters are forbidden.",
        "provisioner: Forbidden: updates to provisioner are forbidden.",
        "reclaimPolicy: Forbidden: updates to reclaimPolicy are forbidden.",
        'volumeBindingMode: Invalid value: "WaitForFirstConsumer": field is immutable',
    ]
    expandable = copy.deepcopy(old)
    expandable["allowVolumeExpansion"] = True
    assert messages(update(STRATEGY, old, expandable)[1]) == []


def test_deprecated_topology_labels_warn() -> None:
    stored = valid(
        STRATEGY,
        manifest(allowedTopologies=[{"matchLabelExpressions": [{"key": "failure-domain.beta.kubernetes.io/zone", "values": ["a"]}]}]),
    )
    assert STRATEGY.warnings(stored) == [
        'allowedTopologies[0].matchLabelExpressions[0].key: deprecated since v1.17; use "topology.kubernetes.io/zone" instead'
    ]


def test_table_row_marks_the_default_class(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(duration, "now", lambda: datetime(2024, 1, 2, 0, 0, tzinfo=timezone.utc))
    assert [c.name for c in STRATEGY.columns] == [
        "Name", "Provisioner", "ReclaimPolicy", "VolumeBindingMode", "AllowVolumeExpansion", "Age",
    ]
    stored = valid(STRATEGY, manifest())
    assert STRATEGY.row(stored) == ["fast", "k8s.io/minikube-hostpath", "Delete", "Immediate", False, "24h"]
    stored["metadata"]["annotations"] = {"storageclass.kubernetes.io/is-default-class": "true"}
    stored["allowVolumeExpansion"] = True
    assert STRATEGY.row(stored)[0] == "fast (default)"
    assert STRATEGY.row(stored)[4] is True


def test_retired_version() -> None:
    served = sc.STORAGE_V1BETA1
    assert served.warning == (
        "storage.k8s.io/v1beta1 StorageClass is deprecated in v1.19+, unavailable in v1.22+; use storage.k8s.io/v1 StorageClass"
    )
    stored = valid(STRATEGY, manifest(apiVersion="storage.k8s.io/v1beta1"), served=served)
    assert stored["apiVersion"] == "storage.k8s.io/v1"
    assert served.from_storage(stored)["apiVersion"] == "storage.k8s.io/v1beta1"
