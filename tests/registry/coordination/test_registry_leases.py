"""Lease strategy: spec checks, HOLDER column, coordination.k8s.io/v1beta1."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from kybernetes.api import duration
from kybernetes.registry.coordination import leases
from tests.registry.apps.storeflow import create, messages, valid

STRATEGY = leases.STRATEGY


def manifest(**spec: object) -> dict:
    obj = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "node1", "namespace": "kube-node-lease"},
        "spec": {"holderIdentity": "node1", "leaseDurationSeconds": 40, "renewTime": "2024-01-01T00:00:00.000000Z"},
    }
    obj["spec"].update(spec)
    return obj


def test_identity() -> None:
    assert (STRATEGY.group, STRATEGY.plural, STRATEGY.singular, STRATEGY.namespaced) == (
        "coordination.k8s.io",
        "leases",
        "lease",
        True,
    )
    assert not STRATEGY.has_status and not STRATEGY.tracks_generation


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({}, []),
        ({"leaseDurationSeconds": 0}, ["spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"]),
        ({"leaseTransitions": -1}, ["spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0"]),
        ({"strategy": "Newest"}, ['spec.strategy.strategy: Unsupported value: "Newest": supported values: "OldestEmulationVersion"']),
        ({"preferredHolder": "node2"}, ["spec.preferredHolder: Forbidden: may only be specified if `strategy` is defined"]),
        ({"strategy": "OldestEmulationVersion", "preferredHolder": "node2"}, []),
    ],
    ids=["valid", "duration", "transitions", "strategy", "preferred-without-strategy", "preferred-with-strategy"],
)
def test_validation(spec: dict, expected: list[str]) -> None:
    assert messages(create(STRATEGY, manifest(**spec))[1]) == expected


def test_table_row(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(duration, "now", lambda: datetime(2024, 1, 1, 0, 0, 10, tzinfo=timezone.utc))
    assert [c.name for c in STRATEGY.columns] == ["Name", "Holder", "Age"]
    assert STRATEGY.row(valid(STRATEGY, manifest())) == ["node1", "node1", "10s"]
    assert STRATEGY.row(valid(STRATEGY, manifest(holderIdentity=None)))[1] == ""


def test_retired_version() -> None:
    served = leases.COORDINATION_V1BETA1
    assert served.warning == (
        "coordination.k8s.io/v1beta1 Lease is deprecated in v1.19+, unavailable in v1.22+; use coordination.k8s.io/v1 Lease"
    )
    stored = served.to_storage({**manifest(), "apiVersion": "coordination.k8s.io/v1beta1"})
    assert stored["apiVersion"] == "coordination.k8s.io/v1"
    assert served.from_storage(stored)["apiVersion"] == "coordination.k8s.io/v1beta1"
