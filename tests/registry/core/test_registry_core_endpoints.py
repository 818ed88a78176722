"""Endpoints: protocol defaults, address and port validation, and the ENDPOINTS cell."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.registry.core.endpoints import STRATEGY

Obj = dict[str, Any]


def endpoints(*subsets: Obj) -> Obj:
    return {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web", "namespace": "default"}, "subsets": list(subsets)}


def test_endpoints_are_catalogued_as_upstream() -> None:
    assert (STRATEGY.plural, STRATEGY.singular, STRATEGY.short_names, STRATEGY.has_status) == ("endpoints", "endpoints", ("ep",), False)
    assert [c.name for c in STRATEGY.columns] == ["Name", "Endpoints", "Age"]


def test_ports_default_to_tcp(create) -> None:
    obj, errors = create(STRATEGY, endpoints({"addresses": [{"ip": "10.244.0.5"}], "ports": [{"port": 80}]}))
    assert errors == []
    assert obj["subsets"][0]["ports"] == [{"port": 80, "protocol": "TCP"}]


BAD = [
    ("empty-subset", {"ports": [{"port": 80}]}, ["subsets[0]: Required value: must specify `addresses` or `notReadyAddresses`"]),
    (
        "bad-ip",
        {"addresses": [{"ip": "10.0.0.999"}]},
        [
            'subsets[0].addresses[0].ip: Invalid value: "10.0.0.999": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
            'subsets[0].addresses[0].ip: Invalid value: "10.0.0.999": must be a valid IP address',
        ],
    ),
    ("loopback", {"notReadyAddresses": [{"ip": "127.0.0.1"}]}, ['subsets[0].notReadyAddresses[0].ip: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)']),
    (
        "ports",
        {"addresses": [{"ip": "10.244.0.5"}], "ports": [{"port": 80}, {"port": 70000, "name": "b", "protocol": "ICMP"}]},
        [
            "subsets[0].ports[0].name: Required value",
            "subsets[0].ports[1].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
            'subsets[0].ports[1].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"',
        ],
    ),
]


@pytest.mark.parametrize(("subset", "expected"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_endpoints_report_upstreams_errors(create, subset: Obj, expected: list[str]) -> None:
    _, errors = create(STRATEGY, endpoints(subset))
    assert errors == expected


@pytest.mark.parametrize(
    ("subsets", "cell"),
    [
        ([], "<none>"),
        ([{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 80}]}], "10.0.0.1:80,10.0.0.2:80"),
        (
            [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 80}, {"port": 443}]}],
            "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more...",
        ),
        ([{"addresses": [{"ip": "10.0.0.1"}]}], "10.0.0.1"),
        ([{"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 80}]}], "[fd00::1]:80"),
        ([{"notReadyAddresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}], ""),
    ],
    ids=["no-subsets", "two", "more", "headless-no-ports", "ipv6", "only-not-ready"],
)
def test_the_endpoints_cell_matches_upstream(clock, subsets: list[Obj], cell: str) -> None:
    obj = endpoints(*subsets)
    obj["metadata"]["creationTimestamp"] = "2024-05-01T11:59:30Z"
    assert STRATEGY.row(obj) == ["web", cell, "30s"]
