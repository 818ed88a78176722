"""Ingress strategy: retired-version conversion, validation messages, status, warnings, table rows."""

from __future__ import annotations

import copy
from datetime import datetime, timezone

import pytest

from kybernetes.api import duration
from kybernetes.registry.networking import ingresses as ing
from tests.registry.apps.storeflow import book, create, messages, update, update_status, valid

STRATEGY = ing.STRATEGY


def manifest(paths: list | None = None, **spec_changes: object) -> dict:
    obj = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "kubia"},
        "spec": {
            "rules": [
                {
                    "host": "kubia.example.com",
                    "http": {
                        "paths": paths
                        if paths is not None
                        else [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "kubia-nodeport", "port": {"number": 80}}},
                            }
                        ]
                    },
                }
            ]
        },
    }
    obj["spec"].update(spec_changes)
    return obj


def path(**fields: object) -> dict:
    item = {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "svc", "port": {"number": 80}}}}
    item.update(fields)
    return item


def test_identity() -> None:
    assert (STRATEGY.group, STRATEGY.version, STRATEGY.plural, STRATEGY.singular) == (
        "networking.k8s.io",
        "v1",
        "ingresses",
        "ingress",
    )
    assert STRATEGY.short_names == ("ing",) and STRATEGY.categories == ()
    assert STRATEGY.subresources == ("status",)
    assert STRATEGY.has_status and STRATEGY.tracks_generation


def test_book_ingress_in_extensions_v1beta1_converts_backend_and_path_type() -> None:
    original = book("kubia-ingress.yaml")
    stored = valid(STRATEGY, original, served=ing.EXTENSIONS_V1BETA1)
    assert stored["apiVersion"] == "networking.k8s.io/v1"
    item = stored["spec"]["rules"][0]["http"]["paths"][0]
    assert item == {
        "path": "/",
        "pathType": "ImplementationSpecific",
        "backend": {"service": {"name": "kubia-nodeport", "port": {"number": 80}}},
    }
    assert stored["status"] == {"loadBalancer": {}}
    served = ing.EXTENSIONS_V1BETA1.from_storage(stored)
    assert served["apiVersion"] == "extensions/v1beta1"
    assert served["spec"]["rules"][0]["http"]["paths"][0] == {
        "path": "/",
        "pathType": "ImplementationSpecific",
        "backend": {"serviceName": "kubia-nodeport", "servicePort": 80},
    }
    assert ing.EXTENSIONS_V1BETA1.to_storage(served) == stored


def test_named_service_port_and_default_backend_convert_both_ways() -> None:
    old = {
        "apiVersion": "networking.k8s.io/v1beta1",
        "kind": "Ingress",
        "metadata": {"name": "web"},
        "spec": {
            "backend": {"serviceName": "default-http", "servicePort": "http"},
            "rules": [{"http": {"paths": [{"path": "/api", "pathType": "Prefix", "backend": {"serviceName": "api", "servicePort": 8080}}]}}],
        },
    }
    stored = valid(STRATEGY, old, served=ing.NETWORKING_V1BETA1)
    assert "backend" not in stored["spec"]
    assert stored["spec"]["defaultBackend"] == {"service": {"name": "default-http", "port": {"name": "http"}}}
    assert stored["spec"]["rules"][0]["http"]["paths"][0]["pathType"] == "Prefix"
    back = ing.NETWORKING_V1BETA1.from_storage(stored)
    assert back["spec"]["backend"] == {"serviceName": "default-http", "servicePort": "http"}
    assert "defaultBackend" not in back["spec"]


def test_resource_backends_pass_through() -> None:
    resource = {"apiGroup": "k8s.example.com", "kind": "StorageBucket", "name": "static-assets"}
    stored = ing.ingress_to_v1({"apiVersion": "extensions/v1beta1", "spec": {"backend": {"resource": resource}}})
    assert stored["spec"] == {"defaultBackend": {"resource": resource}}


@pytest.mark.parametrize(
    ("served", "warning"),
    [
        (
            ing.EXTENSIONS_V1BETA1,
            "extensions/v1beta1 Ingress is deprecated in v1.14+, unavailable in v1.22+; use networking.k8s.io/v1 Ingress",
        ),
        (
            ing.NETWORKING_V1BETA1,
            "networking.k8s.io/v1beta1 Ingress is deprecated in v1.19+, unavailable in v1.22+; use networking.k8s.io/v1 Ingress",
        ),
    ],
    ids=["extensions", "networking-v1beta1"],
)
def test_deprecation_warnings(served, warning) -> None:
    assert served.warning == warning
    assert served in STRATEGY.served_versions


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (
            manifest(paths=[{"path": "/", "backend": {"service": {"name": "svc", "port": {"number": 80}}}}]),
            ["spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified"],
        ),
        (
            manifest(paths=[path(pathType="Regex")]),
            ['spec.rules[0].http.paths[0].pathType: Unsupported value: "Regex": supported values: "Exact", "ImplementationSpecific", "Prefix"'],
        ),
        (manifest(paths=[path(path="api")]), ['spec.rules[0].http.paths[0].path: Invalid value: "api": must be an absolute path']),
        (
            manifest(paths=[path(path="/a//b")]),
            ["spec.rules[0].http.paths[0].path: Invalid value: \"/a//b\": must not contain '//'"],
        ),
        (
            manifest(paths=[path(path="/a/..")]),
            ["spec.rules[0].http.paths[0].path: Invalid value: \"/a/..\": cannot end with '/..'"],
        ),
        (manifest(paths=[]), ["spec.rules[0].http.paths: Required value"]),
        (
            manifest(paths=[path(backend={})]),
            ['spec.rules[0].http.paths[0].backend: Invalid value: "": resource or service backend is required'],
        ),
        (
            manifest(paths=[path(backend={"service": {"name": "svc"}})]),
            ["spec.rules[0].http.paths[0].backend: Required value: port name or number is required"],
        ),
        (
            manifest(paths=[path(backend={"service": {"name": "svc", "port": {"name": "http", "number": 80}}})]),
            ['spec.rules[0].http.paths[0].backend: Invalid value: "": cannot set both port name & port number'],
        ),
        (
            manifest(paths=[path(backend={"service": {"name": "svc", "port": {"number": 70000}}})]),
            ["spec.rules[0].http.paths[0].backend.service.port.number: Invalid value: 70000: must be between 1 and 65535, inclusive"],
        ),
        (
            manifest(paths=[path(backend={"service": {"name": "", "port": {"number": 80}}})]),
            ["spec.rules[0].http.paths[0].backend.service.name: Required value"],
        ),
        (
            manifest(paths=[path(backend={"service": {"name": "svc", "port": {"number": 80}}, "resource": {"kind": "B", "name": "b"}})]),
            ['spec.rules[0].http.paths[0].backend: Invalid value: "": cannot set both resource and service backends'],
        ),
        (
            manifest(paths=[path(backend={"resource": {"name": "b"}})]),
            ["spec.rules[0].http.paths[0].backend.resource.kind: Required value: kind is required"],
        ),
        (
            {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "x"}, "spec": {}},
            ["spec: Invalid value: null: either `defaultBackend` or `rules` must be specified"],
        ),
    ],
    ids=[
        "path-type-missing",
        "path-type-unknown",
        "path-relative",
        "path-double-slash",
        "path-dotdot-suffix",
        "no-paths",
        "empty-backend",
        "no-port",
        "port-name-and-number",
        "port-out-of-range",
        "service-name-missing",
        "resource-and-service",
        "resource-kind-missing",
        "nothing-routed",
    ],
)
def test_validation_reports_upstream_messages(obj: dict, expected: list[str]) -> None:
    assert messages(create(STRATEGY, obj)[1]) == expected


def test_hosts_tls_and_class_are_checked() -> None:
    obj = manifest(tls=[{"hosts": ["*.example.com", "Bad_Host"], "secretName": "Not_A_Secret"}], ingressClassName="Nginx!")
    obj["spec"]["rules"][0]["host"] = "10.0.0.1"
    got = messages(create(STRATEGY, obj)[1])
    assert got[0] == 'spec.rules[0].host: Invalid value: "10.0.0.1": must be a DNS name, not an IP address'
    assert [m.split(":")[0] for m in got] == [
        "spec.rules[0].host",
        "spec.tls[0].hosts[1]",
        "spec.tls[0].secretName",
        "spec.ingressClassName",
    ]


def test_wildcard_hosts() -> None:
    obj = manifest()
    obj["spec"]["rules"][0]["host"] = "*.example.com"
    assert messages(create(STRATEGY, obj)[1]) == []
    obj["spec"]["rules"][0]["host"] = "foo.*.com"
    got = messages(create(STRATEGY, obj)[1])
    assert got == [
        'spec.rules[0].host: Invalid value: "foo.*.com": a wildcard DNS-1123 subdomain must start with \'*.\', followed '
        "by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an "
        "alphanumeric character (e.g. '*.example.com', regex used for validation is "
        "'\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    ]


def test_class_annotation_and_field_conflict_on_create_only() -> None:
    obj = manifest(ingressClassName="nginx")
    obj["metadata"]["annotations"] = {"kubernetes.io/ingress.class": "nginx"}
    assert messages(create(STRATEGY, obj)[1]) == [
        'annotations.kubernetes.io/ingress.class: Invalid value: "nginx": can not be set when the class field is also set'
    ]
    plain = valid(STRATEGY, manifest(ingressClassName="nginx"))
    annotated = copy.deepcopy(plain)
    annotated["metadata"]["annotations"] = {"kubernetes.io/ingress.class": "nginx"}
    assert messages(update(STRATEGY, plain, annotated)[1]) == []


def test_class_annotation_is_deprecated() -> None:
    obj = manifest()
    obj["metadata"]["annotations"] = {"kubernetes.io/ingress.class": "nginx"}
    stored = valid(STRATEGY, obj)
    assert STRATEGY.warnings(stored) == [
        "annotation \"kubernetes.io/ingress.class\" is deprecated, please use 'spec.ingressClassName' instead"
    ]


def test_invalid_stored_secret_names_stay_allowed_on_update() -> None:
    old = valid(STRATEGY, manifest(tls=[{"hosts": ["kubia.example.com"], "secretName": "ok"}]))
    old["spec"]["tls"][0]["secretName"] = "Legacy_Name"
    new = copy.deepcopy(old)
    new["metadata"]["labels"] = {"a": "b"}
    assert messages(update(STRATEGY, old, new)[1]) == []


def test_status_load_balancer_is_checked_and_spec_changes_bump_generation() -> None:
    old = valid(STRATEGY, manifest())
    _, errs = update_status(STRATEGY, old, {"loadBalancer": {"ingress": [{"ip": "not-an-ip"}, {"hostname": "10.1.1.1"}]}})
    assert messages(errs) == [
        'status.loadBalancer.ingress[0].ip: Invalid value: "not-an-ip": must be a valid IP address',
        'status.loadBalancer.ingress[1].hostname: Invalid value: "10.1.1.1": must be a DNS name, not an IP address',
    ]
    new = copy.deepcopy(old)
    new["spec"]["rules"][0]["host"] = "kubia2.example.com"
    assert update(STRATEGY, old, new)[0]["metadata"]["generation"] == 2


@pytest.mark.parametrize(
    ("spec", "status", "cells"),
    [
        ({}, {}, ["<none>", "kubia.example.com", "", "80"]),
        ({"ingressClassName": "nginx", "tls": [{"hosts": ["kubia.example.com"]}]}, {"loadBalancer": {"ingress": [{"ip": "192.168.49.2"}]}}, ["nginx", "kubia.example.com", "192.168.49.2", "80, 443"]),
    ],
    ids=["plain", "class-tls-address"],
)
def test_table_row(monkeypatch: pytest.MonkeyPatch, spec: dict, status: dict, cells: list) -> None:
    monkeypatch.setattr(duration, "now", lambda: datetime(2024, 1, 1, 0, 0, 45, tzinfo=timezone.utc))
    stored = valid(STRATEGY, manifest(**spec))
    stored["status"] = status
    assert [c.name for c in STRATEGY.columns] == ["Name", "Class", "Hosts", "Address", "Ports", "Age"]
    assert STRATEGY.row(stored) == ["kubia", *cells, "45s"]


def test_hosts_cell() -> None:
    assert ing.hosts_cell([{"http": {}}]) == "*"
    rules = [{"host": f"h{i}.example.com"} for i in range(5)]
    assert ing.hosts_cell(rules) == "h0.example.com,h1.example.com,h2.example.com + 2 more..."
