"""IngressClass strategy: controller rules, parameters scope, immutability, table rows."""

from __future__ import annotations

import copy
from datetime import datetime, timezone

import pytest

from kybernetes.api import duration
from kybernetes.registry.networking import ingressclasses as ic
from tests.registry.apps.storeflow import create, messages, update, valid

STRATEGY = ic.STRATEGY


def manifest(**spec: object) -> dict:
    obj = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {"name": "nginx", "annotations": {"ingressclass.kubernetes.io/is-default-class": "true"}},
        "spec": {"controller": "k8s.io/ingress-nginx"},
    }
    obj["spec"].update(spec)
    return obj


def test_identity() -> None:
    assert (STRATEGY.group, STRATEGY.plural, STRATEGY.singular, STRATEGY.namespaced) == (
        "networking.k8s.io",
        "ingressclasses",
        "ingressclass",
        False,
    )
    assert STRATEGY.tracks_generation and not STRATEGY.has_status


def test_parameters_scope_defaults_to_cluster() -> None:
    stored = valid(STRATEGY, manifest(parameters={"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "external-lb"}))
    assert stored["spec"]["parameters"]["scope"] == "Cluster"
    assert "namespace" not in stored["metadata"]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"controller": ""}, ["spec.controller: Required value"]),
        ({"controller": "nginx"}, ['spec.controller: Invalid value: "nginx": must be a domain-prefixed path (such as "acme.io/foo")']),
        (
            {"controller": "example.com/a b"},
            ["spec.controller: Invalid value: \"a b\": Invalid path (regex used for validation is '[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+')"],
        ),
        (
            {"parameters": {"kind": "P", "name": "p", "scope": "Namespace"}},
            ["spec.parameters.namespace: Required value: `parameters.scope` is set to 'Namespace'"],
        ),
        (
            {"parameters": {"kind": "P", "name": "p", "scope": "Cluster", "namespace": "default"}},
            ["spec.parameters.namespace: Forbidden: `parameters.scope` is set to 'Cluster'"],
        ),
        (
            {"parameters": {"kind": "P", "name": "p", "scope": "Galaxy"}},
            ['spec.parameters.scope: Unsupported value: "Galaxy": supported values: "Cluster", "Namespace"'],
        ),
        ({"parameters": {"kind": "P/Q", "name": ".."}}, [
            "spec.parameters.kind: Invalid value: \"P/Q\": may not contain '/'",
            "spec.parameters.name: Invalid value: \"..\": may not be '..'",
        ]),
    ],
    ids=["no-controller", "not-prefixed", "bad-path", "namespace-missing", "namespace-forbidden", "scope", "segments"],
)
def test_validation(spec: dict, expected: list[str]) -> None:
    assert messages(create(STRATEGY, manifest(**spec))[1]) == expected


def test_controller_length_is_limited() -> None:
    errs = create(STRATEGY, manifest(controller="example.com/" + "c" * 250))[1]
    assert [(e.field, e.type.reason) for e in errs] == [("spec.controller", "FieldValueTooLong")]


def test_controller_is_immutable() -> None:
    old = valid(STRATEGY, manifest())
    new = copy.deepcopy(old)
    new["spec"]["controller"] = "example.com/other"
    assert messages(update(STRATEGY, old, new)[1]) == ['spec.controller: Invalid value: "example.com/other": field is immutable']


def test_table_row(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(duration, "now", lambda: datetime(2024, 1, 1, 0, 1, tzinfo=timezone.utc))
    assert [c.name for c in STRATEGY.columns] == ["Name", "Controller", "Parameters", "Age"]
    assert STRATEGY.row(valid(STRATEGY, manifest())) == ["nginx", "k8s.io/ingress-nginx", "<none>", "60s"]
    stored = valid(STRATEGY, manifest(parameters={"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "lb"}))
    assert STRATEGY.row(stored)[2] == "IngressParameters.k8s.example.com/lb"


def test_retired_version() -> None:
    served = ic.NETWORKING_V1BETA1
    assert served.warning == (
        "networking.k8s.io/v1beta1 IngressClass is deprecated in v1.19+, unavailable in v1.22+; use networking.k8s.io/v1 IngressClass"
    )
    stored = valid(STRATEGY, {**manifest(), "apiVersion": "networking.k8s.io/v1beta1"}, served=served)
    assert stored["apiVersion"] == "networking.k8s.io/v1"
    assert served.from_storage(stored)["apiVersion"] == "networking.k8s.io/v1beta1"
