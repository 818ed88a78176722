"""EndpointSlice strategy: port defaults, address checks per type, immutable addressType, rows."""

from __future__ import annotations

import copy
from datetime import datetime, timezone

import pytest

from kybernetes.api import duration
from kybernetes.registry.discovery import endpointslices as eps
from tests.registry.apps.storeflow import create, messages, update, valid

STRATEGY = eps.STRATEGY


def manifest(**fields: object) -> dict:
    obj = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": "kubia-abc12", "labels": {"kubernetes.io/service-name": "kubia"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.244.0.5"], "conditions": {"ready": True}, "nodeName": "node1"}],
        "ports": [{"port": 8080}],
    }
    obj.update(fields)
    return obj


def test_identity() -> None:
    assert (STRATEGY.group, STRATEGY.plural, STRATEGY.singular, STRATEGY.namespaced) == (
        "discovery.k8s.io",
        "endpointslices",
        "endpointslice",
        True,
    )
    assert STRATEGY.short_names == () and not STRATEGY.has_status


def test_ports_default_to_tcp_and_empty_name() -> None:
    stored = valid(STRATEGY, manifest())
    assert stored["ports"] == [{"port": 8080, "name": "", "protocol": "TCP"}]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"addressType": ""}, ["addressType: Required value"]),
        ({"addressType": "IPv5"}, ['addressType: Unsupported value: "IPv5": supported values: "FQDN", "IPv4", "IPv6"']),
        ({"endpoints": [{"addresses": []}]}, ["endpoints[0].addresses: Required value: must contain at least 1 address"]),
        ({"endpoints": [{"addresses": ["fd00::1"]}]}, ['endpoints[0].addresses[0]: Invalid value: "fd00::1": must be a valid IPv4 address']),
        (
            {"endpoints": [{"addresses": ["127.0.0.1"]}]},
            ['endpoints[0].addresses[0]: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)'],
        ),
        (
            {"addressType": "FQDN", "endpoints": [{"addresses": ["localhost"]}]},
            ['endpoints[0].addresses[0]: Invalid value: "localhost": should be a domain with at least two segments separated by dots'],
        ),
        (
            {"ports": [{"name": "http", "port": 80}, {"name": "http", "port": 81}]},
            ['ports[1].name: Duplicate value: "http"'],
        ),
        ({"ports": [{"port": 80, "protocol": "ICMP"}]}, ['ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"']),
    ],
    ids=["type-missing", "type-unknown", "no-addresses", "wrong-family", "loopback", "fqdn-one-label", "duplicate-port", "protocol"],
)
def test_validation(fields: dict, expected: list[str]) -> None:
    assert messages(create(STRATEGY, manifest(**fields))[1]) == expected


def test_address_type_is_immutable_and_changes_bump_generation() -> None:
    old = valid(STRATEGY, manifest())
    retyped = copy.deepcopy(old)
    retyped["addressType"] = "FQDN"
    retyped["endpoints"] = [{"addresses": ["kubia.example.com"]}]
    assert messages(update(STRATEGY, old, retyped)[1]) == ['addressType: Invalid value: "FQDN": field is immutable']
    moved = copy.deepcopy(old)
    moved["endpoints"][0]["addresses"] = ["10.244.0.6"]
    assert update(STRATEGY, old, moved)[0]["metadata"]["generation"] == 2
    relabelled = copy.deepcopy(old)
    relabelled["metadata"]["labels"]["extra"] = "1"
    assert update(STRATEGY, old, relabelled)[0]["metadata"]["generation"] == 2
    annotated = copy.deepcopy(old)
    annotated["metadata"]["annotations"] = {"a": "b"}
    assert update(STRATEGY, old, annotated)[0]["metadata"]["generation"] == 1


def test_table_row(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(duration, "now", lambda: datetime(2024, 1, 1, 0, 3, tzinfo=timezone.utc))
    assert [c.name for c in STRATEGY.columns] == ["Name", "AddressType", "Ports", "Endpoints", "Age"]
    stored = valid(STRATEGY, manifest())
    assert STRATEGY.row(stored) == ["kubia-abc12", "IPv4", "8080", "10.244.0.5", "3m"]
    many = valid(
        STRATEGY,
        manifest(
            endpoints=[{"addresses": [f"10.0.0.{i}"]} for i in range(1, 6)],
            ports=[{"port": 80, "name": "a"}, {"name": "b"}, {}, {"port": 9, "name": "d"}],
        ),
    )
    # A port with neither number nor name shows its defaulted empty name, as upstream.
    assert STRATEGY.row(many)[2:4] == ["80,b, + 1 more...", "10.0.0.1,10.0.0.2,10.0.0.3 + 2 more..."]
    empty = valid(STRATEGY, manifest(endpoints=[], ports=[]))
    assert STRATEGY.row(empty)[2:4] == ["<unset>", "<unset>"]
