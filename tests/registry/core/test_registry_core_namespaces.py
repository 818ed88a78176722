"""Namespaces: the kubernetes finalizer, the name label, phase rules and the Table row."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kybernetes.registry.core.namespaces import STRATEGY

Obj = dict[str, Any]


def namespace(name: str = "team-a", **extra: Any) -> Obj:
    obj: Obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    obj.update(extra)
    return obj


def test_namespaces_are_catalogued_as_upstream() -> None:
    assert (STRATEGY.plural, STRATEGY.singular, STRATEGY.namespaced, STRATEGY.short_names) == ("namespaces", "namespace", False, ("ns",))
    assert STRATEGY.subresources == ("status", "finalize")
    assert "deletecollection" not in STRATEGY.verbs
    assert [c.name for c in STRATEGY.columns] == ["Name", "Status", "Age"]


def test_a_new_namespace_is_active_with_the_kubernetes_finalizer_and_name_label(create) -> None:
    obj, errors = create(STRATEGY, namespace(metadata={"name": "team-a", "labels": {"kubernetes.io/metadata.name": "spoofed"}}, status={"phase": "Terminating"}))
    assert errors == []
    assert obj["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team-a"}
    assert obj["spec"] == {"finalizers": ["kubernetes"]}
    assert obj["status"] == {"phase": "Active"}


def test_other_finalizers_are_kept_and_kubernetes_is_added(create) -> None:
    obj, errors = create(STRATEGY, namespace(spec={"finalizers": ["example.com/cleanup"]}))
    assert errors == []
    assert obj["spec"]["finalizers"] == ["example.com/cleanup", "kubernetes"]


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (
            namespace("Team_A"),
            [
                'metadata.name: Invalid value: "Team_A": a lowercase RFC 1123 label must consist of lower case alphanumeric '
                "characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
                "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
            ],
        ),
        (namespace(spec={"finalizers": ["custom"]}), ['spec.finalizers: Invalid value: "custom": name is neither a standard finalizer name nor is it fully qualified']),
    ],
    ids=["bad-name", "bad-finalizer"],
)
def test_bad_namespaces_report_upstreams_errors(create, obj: Obj, expected: list[str]) -> None:
    _, errors = create(STRATEGY, obj)
    assert errors == expected


def test_updates_keep_finalizers_and_status(create, update) -> None:
    stored, _ = create(STRATEGY, namespace())
    new = copy.deepcopy(stored)
    new["spec"]["finalizers"] = []
    new["status"]["phase"] = "Terminating"
    new["metadata"]["labels"]["env"] = "prod"
    result, errors = update(STRATEGY, new, stored)
    assert errors == []
    assert result["spec"]["finalizers"] == ["kubernetes"]
    assert result["status"] == {"phase": "Active"}
    assert result["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team-a", "env": "prod"}


def test_the_phase_must_agree_with_the_deletion_timestamp(create, status_update) -> None:
    stored, _ = create(STRATEGY, namespace())
    new = copy.deepcopy(stored)
    new["status"]["phase"] = "Terminating"
    _, errors = status_update(STRATEGY, new, stored)
    assert errors == ['status.Phase: Invalid value: "Terminating": may only be \'Active\' if `deletionTimestamp` is empty']


def test_row_and_selectable_fields(clock, create) -> None:
    obj, _ = create(STRATEGY, namespace())
    obj["metadata"]["creationTimestamp"] = "2024-04-28T12:00:00Z"
    assert STRATEGY.row(obj) == ["team-a", "Active", "3d"]
    assert STRATEGY.selectable_fields(obj) == {"status.phase": "Active", "name": "team-a"}
