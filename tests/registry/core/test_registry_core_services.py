"""Services: defaults, clusterIP bookkeeping, validation messages, update rules and the Table row."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kybernetes.registry.core.services import STRATEGY

Obj = dict[str, Any]


def service(**spec: Any) -> Obj:
    body: Obj = {"selector": {"app": "web"}, "ports": [{"port": 80}]}
    body.update(spec)
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"}, "spec": body}


def test_services_are_catalogued_as_upstream() -> None:
    assert (STRATEGY.plural, STRATEGY.singular, STRATEGY.short_names, STRATEGY.categories) == ("services", "service", ("svc",), ("all",))
    assert STRATEGY.subresources == ("status", "proxy")
    assert [c.name for c in STRATEGY.columns] == ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector"]
    assert [c.priority for c in STRATEGY.columns] == [0, 0, 0, 0, 0, 0, 1]


def test_a_cluster_ip_service_gets_upstreams_defaults(create) -> None:
    obj, errors = create(STRATEGY, service())
    assert errors == []
    assert obj["spec"] == {
        "selector": {"app": "web"},
        "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
        "sessionAffinity": "None",
        "type": "ClusterIP",
        "internalTrafficPolicy": "Cluster",
        "ipFamilyPolicy": "SingleStack",
        "ipFamilies": ["IPv4"],
    }
    assert obj["status"] == {"loadBalancer": {}}


def test_node_port_and_load_balancer_services_get_traffic_policies(create) -> None:
    obj, errors = create(STRATEGY, service(type="LoadBalancer"))
    assert errors == []
    assert obj["spec"]["externalTrafficPolicy"] == "Cluster"
    assert obj["spec"]["allocateLoadBalancerNodePorts"] is True


def test_client_ip_affinity_gets_the_default_timeout(create) -> None:
    obj, _ = create(STRATEGY, service(sessionAffinity="ClientIP"))
    assert obj["spec"]["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}


def test_headless_services_fill_cluster_ips_and_families(create) -> None:
    obj, errors = create(STRATEGY, service(clusterIP="None"))
    assert errors == []
    assert obj["spec"]["clusterIPs"] == ["None"]
    assert obj["spec"]["ipFamilyPolicy"] == "SingleStack"
    unselected, errors = create(STRATEGY, service(clusterIP="None", selector=None))
    assert errors == []
    assert unselected["spec"]["ipFamilyPolicy"] == "RequireDualStack"


def test_external_name_services_get_no_ip_fields(create) -> None:
    obj, errors = create(STRATEGY, service(type="ExternalName", externalName="db.example.com.", ports=[]))
    assert errors == []
    assert {"clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy", "internalTrafficPolicy"}.isdisjoint(obj["spec"])


BAD = [
    ("no-ports", {"ports": []}, ["spec.ports: Required value"]),
    (
        "ports",
        {"ports": [{"port": 0, "protocol": "HTTP"}, {"port": 80, "name": "Web"}, {"port": 80, "name": "web2", "targetPort": "no_such"}]},
        [
            "spec.ports[0].name: Required value",
            "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
            'spec.ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"',
            # targetPort defaulted to the (bad) port, so it is reported too, as upstream does.
            "spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive",
            'spec.ports[1].name: Invalid value: "Web": a lowercase RFC 1123 label must consist of lower case alphanumeric '
            "characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
            "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
            'spec.ports[2].targetPort: Invalid value: "no_such": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)',
            'spec.ports[2]: Duplicate value: {"protocol":"TCP","port":80}',
        ],
    ),
    (
        "type",
        {"type": "Magic"},
        ['spec.type: Unsupported value: "Magic": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"'],
    ),
    ("node-port-on-cluster-ip", {"ports": [{"port": 80, "nodePort": 30080}]}, ["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]),
    ("external-name-missing", {"type": "ExternalName", "ports": []}, ["spec.externalName: Required value"]),
    (
        "external-name-bad",
        {"type": "ExternalName", "externalName": "Not A Host"},
        [
            'spec.externalName: Invalid value: "Not A Host": a lowercase RFC 1123 subdomain must consist of lower case '
            "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. "
            "'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
        ],
    ),
    ("headless-node-port", {"type": "NodePort", "clusterIP": "None"}, ['spec.clusterIPs[0]: Invalid value: "None": may not be set to \'None\' for NodePort services']),
    ("bad-cluster-ip", {"clusterIP": "10.0.0.300"}, ['spec.clusterIPs[0]: Invalid value: "10.0.0.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)']),
    ("affinity", {"sessionAffinity": "Sticky"}, ['spec.sessionAffinity: Unsupported value: "Sticky": supported values: "ClientIP", "None"']),
    ("external-ip", {"externalIPs": ["127.0.0.1"]}, ['spec.externalIPs[0]: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)']),
    ("source-ranges", {"loadBalancerSourceRanges": ["10.0.0.0/8"]}, ["spec.LoadBalancerSourceRanges: Forbidden: may only be used when `type` is 'LoadBalancer'"]),
    ("selector", {"selector": {"app": "we b"}}, [
        "spec.selector: Invalid value: \"we b\": a valid label must be an empty string or consist of alphanumeric characters, "
        "'-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', "
        "regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
    ]),
]


@pytest.mark.parametrize(("spec", "expected"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_services_report_upstreams_errors(create, spec: Obj, expected: list[str]) -> None:
    _, errors = create(STRATEGY, service(**spec))
    assert errors == expected


def test_service_names_are_dns_1035_labels(create) -> None:
    obj = service()
    obj["metadata"]["name"] = "1web"
    _, errors = create(STRATEGY, obj)
    assert errors == [
        'metadata.name: Invalid value: "1web": a DNS-1035 label must consist of lower case alphanumeric characters or '
        "'-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
        "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
    ]


@pytest.fixture
def stored(create) -> Obj:
    obj, errors = create(STRATEGY, service(type="NodePort"))
    assert errors == []
    obj["spec"].update({"clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"]})
    obj["spec"]["ports"][0]["nodePort"] = 30080
    obj["metadata"].update({"uid": "u1", "resourceVersion": "3"})
    return obj


def test_an_update_without_allocated_values_keeps_them(update, stored: Obj) -> None:
    new = service(type="NodePort")
    new["metadata"]["uid"] = "u1"
    result, errors = update(STRATEGY, new, stored)
    assert errors == []
    assert result["spec"]["clusterIP"] == "10.96.0.10"
    assert result["spec"]["clusterIPs"] == ["10.96.0.10"]
    assert result["spec"]["ports"][0]["nodePort"] == 30080


def test_the_cluster_ip_may_not_change(update, stored: Obj) -> None:
    new = copy.deepcopy(stored)
    new["spec"]["clusterIP"] = "10.96.0.11"
    _, errors = update(STRATEGY, new, stored)
    assert errors == ['spec.clusterIPs[0]: Invalid value: []string{"10.96.0.11"}: may not change once set']


def test_switching_to_cluster_ip_drops_node_ports_and_traffic_policy(update, stored: Obj) -> None:
    new = copy.deepcopy(stored)
    new["spec"]["type"] = "ClusterIP"
    result, errors = update(STRATEGY, new, stored)
    assert errors == []
    assert "nodePort" not in result["spec"]["ports"][0]
    assert "externalTrafficPolicy" not in result["spec"]


def test_switching_to_external_name_drops_the_ip_fields(update, stored: Obj) -> None:
    new = copy.deepcopy(stored)
    new["spec"].update({"type": "ExternalName", "externalName": "db.example.com"})
    result, errors = update(STRATEGY, new, stored)
    assert errors == []
    assert {"clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"}.isdisjoint(result["spec"])


@pytest.mark.parametrize(
    ("spec", "status", "cells"),
    [
        (
            {"type": "ClusterIP", "clusterIPs": ["10.96.0.10"], "ports": [{"port": 80, "protocol": "TCP"}], "selector": {"app": "web"}},
            {},
            ["ClusterIP", "10.96.0.10", "<none>", "80/TCP", "app=web"],
        ),
        (
            {"type": "NodePort", "clusterIPs": ["10.96.0.10"], "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30080}, {"port": 443, "protocol": "TCP"}]},
            {},
            ["NodePort", "10.96.0.10", "<none>", "80:30080/TCP,443/TCP", "<none>"],
        ),
        ({"type": "LoadBalancer", "clusterIPs": ["10.96.0.10"], "ports": [{"port": 80, "protocol": "TCP"}]}, {}, ["LoadBalancer", "10.96.0.10", "<pending>", "80/TCP", "<none>"]),
        (
            {"type": "LoadBalancer", "clusterIPs": ["10.96.0.10"], "ports": [{"port": 80, "protocol": "TCP"}], "externalIPs": ["1.2.3.4"]},
            {"loadBalancer": {"ingress": [{"ip": "5.6.7.8"}, {"hostname": "lb.example.com"}]}},
            ["LoadBalancer", "10.96.0.10", "5.6.7.8,lb.example.com,1.2.3.4", "80/TCP", "<none>"],
        ),
        ({"type": "ExternalName", "externalName": "db.example.com"}, {}, ["ExternalName", "<none>", "db.example.com", "<none>", "<none>"]),
    ],
    ids=["cluster-ip", "node-port", "pending-balancer", "balancer-with-external-ips", "external-name"],
)
def test_rows_match_upstreams_printer(clock, spec: Obj, status: Obj, cells: list[str]) -> None:
    obj = {"metadata": {"name": "web", "creationTimestamp": "2024-05-01T10:00:00Z"}, "spec": spec, "status": status}
    row = STRATEGY.row(obj)
    assert row == ["web", cells[0], cells[1], cells[2], cells[3], "120m", cells[4]]


def test_selectable_fields_are_cluster_ip_and_type(create) -> None:
    obj, _ = create(STRATEGY, service(clusterIP="None"))
    assert STRATEGY.selectable_fields(obj) == {"spec.clusterIP": "None", "spec.type": "ClusterIP"}


def test_warnings_match_upstream(create) -> None:
    obj, _ = create(STRATEGY, service(externalName="ignored.example.com"))
    assert STRATEGY.warnings(obj) == ['spec.externalName is ignored when spec.type is not "ExternalName"']
