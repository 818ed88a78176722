"""ClusterIP and NodePort allocation behave as upstream's ipallocator, portallocator and service REST."""

from __future__ import annotations

import copy
import ipaddress
from typing import Any

import pytest

from kybernetes.api.errors import APIError
from kybernetes.apiserver.allocators import AllocationError, IPAllocator, PortAllocator, ServiceAllocations
from kybernetes.apiserver.generic import RequestInfo
from kybernetes.registry.catalog import Resource, build_catalog

CIDR = "10.96.0.0/24"
PORTS = "30000-30010"


@pytest.fixture(scope="module")
def services() -> Resource:
    resource = build_catalog().lookup("", "v1", "services")
    assert resource is not None
    return resource


@pytest.fixture(scope="module")
def configmaps() -> Resource:
    resource = build_catalog().lookup("", "v1", "configmaps")
    assert resource is not None
    return resource


@pytest.fixture
def hooks() -> ServiceAllocations:
    return ServiceAllocations(service_cidr=CIDR, node_port_range=PORTS)


def service(name: str = "web", **spec: Any) -> dict[str, Any]:
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("ports", [{"port": 80, "protocol": "TCP"}])
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"}, "spec": spec}


def node_ports(svc: dict[str, Any]) -> list[int]:
    return [p["nodePort"] for p in svc["spec"]["ports"] if p.get("nodePort")]


def causes(exc: APIError) -> list[tuple[str, str]]:
    return [(c["field"], c["message"]) for c in (exc.details or {}).get("causes", [])]


INFO = RequestInfo()


# ----- IPAllocator ---------------------------------------------------------------------------


def test_every_usable_address_is_handed_out_once_and_never_network_or_broadcast() -> None:
    allocator = IPAllocator(ipaddress.ip_network("10.0.0.0/29"))
    got = [allocator.allocate() for _ in range(6)]
    assert sorted(got, key=lambda ip: int(ipaddress.ip_address(ip))) == [f"10.0.0.{i}" for i in range(1, 7)]
    with pytest.raises(AllocationError, match="^range is full$"):
        allocator.allocate()


def test_an_ipv6_range_has_no_broadcast_address_to_skip() -> None:
    allocator = IPAllocator(ipaddress.ip_network("fd00::/126"))
    assert sorted(allocator.allocate() for _ in range(3)) == ["fd00::1", "fd00::2", "fd00::3"]
    with pytest.raises(AllocationError, match="^range is full$"):
        allocator.allocate()


def test_a_requested_address_in_range_is_honoured_and_then_taken() -> None:
    allocator = IPAllocator(ipaddress.ip_network(CIDR))
    assert allocator.allocate("10.96.0.10") == "10.96.0.10"
    assert allocator.has("10.96.0.10")
    with pytest.raises(AllocationError) as info:
        allocator.allocate("10.96.0.10")
    assert str(info.value) == "provided IP is already allocated"


@pytest.mark.parametrize(
    "ip",
    ["10.97.0.1", "10.96.0.0", "10.96.0.255", "::a60:5", "not-an-ip"],
    ids=["other-network", "network-address", "broadcast-address", "other-family-same-integer", "garbage"],
)
def test_a_requested_address_outside_the_range_is_refused(ip: str) -> None:
    allocator = IPAllocator(ipaddress.ip_network(CIDR))
    with pytest.raises(AllocationError) as info:
        allocator.allocate(ip)
    assert str(info.value) == f"the provided IP ({ip}) is not in the valid range. The range of valid IPs is {CIDR}"
    assert allocator.used == set()


def test_a_released_address_can_be_allocated_again() -> None:
    allocator = IPAllocator(ipaddress.ip_network(CIDR))
    allocator.allocate("10.96.0.10")
    allocator.release("10.96.0.10")
    allocator.release("10.96.0.11")  # never allocated: nothing happens
    allocator.release("None")
    allocator.release(None)
    assert allocator.allocate("10.96.0.10") == "10.96.0.10"


def test_automatic_allocation_never_returns_a_taken_address() -> None:
    allocator = IPAllocator(ipaddress.ip_network("10.0.0.0/28"))
    for last in range(1, 15):
        if last != 7:
            allocator.allocate(f"10.0.0.{last}")
    assert allocator.allocate() == "10.0.0.7"


# ----- PortAllocator -------------------------------------------------------------------------


def test_every_port_of_the_range_is_handed_out_once() -> None:
    allocator = PortAllocator(30000, 30002)
    assert sorted(allocator.allocate() for _ in range(3)) == [30000, 30001, 30002]
    with pytest.raises(AllocationError, match="^range is full$"):
        allocator.allocate()


def test_a_requested_port_is_honoured_once() -> None:
    allocator = PortAllocator(30000, 32767)
    assert allocator.allocate(30080) == 30080
    with pytest.raises(AllocationError) as info:
        allocator.allocate(30080)
    assert str(info.value) == "provided port is already allocated"


@pytest.mark.parametrize("port", [29999, 32768, 80], ids=["below", "above", "well-known"])
def test_a_requested_port_outside_the_range_is_refused(port: int) -> None:
    allocator = PortAllocator(30000, 32767)
    with pytest.raises(AllocationError) as info:
        allocator.allocate(port)
    assert str(info.value) == "provided port is not in the valid range. The range of valid ports is 30000-32767"


def test_a_released_port_can_be_allocated_again() -> None:
    allocator = PortAllocator(30000, 30000)
    allocator.allocate()
    allocator.release(30000)
    assert allocator.allocate() == 30000


# ----- ServiceAllocations: create ------------------------------------------------------------


async def test_a_cluster_ip_service_gets_an_address_from_the_range(hooks: ServiceAllocations, services: Resource) -> None:
    svc = service()
    await hooks.before_create(services, svc, INFO)
    spec = svc["spec"]
    assert ipaddress.ip_address(spec["clusterIP"]) in ipaddress.ip_network(CIDR)
    assert spec["clusterIPs"] == [spec["clusterIP"]]
    assert spec["ipFamilies"] == ["IPv4"]
    assert spec["ipFamilyPolicy"] == "SingleStack"
    assert node_ports(svc) == []
    assert hooks.ips.has(spec["clusterIP"])


async def test_a_node_port_service_gets_distinct_node_ports_in_range(hooks: ServiceAllocations, services: Resource) -> None:
    svc = service(type="NodePort", ports=[{"port": 80, "protocol": "TCP"}, {"port": 443, "protocol": "TCP"}])
    await hooks.before_create(services, svc, INFO)
    ports = node_ports(svc)
    assert len(set(ports)) == 2
    assert all(30000 <= p <= 30010 for p in ports)
    assert hooks.ports.used == set(ports)


async def test_a_requested_cluster_ip_and_node_port_are_honoured(hooks: ServiceAllocations, services: Resource) -> None:
    svc = service(type="NodePort", clusterIP="10.96.0.10", ports=[{"port": 80, "protocol": "TCP", "nodePort": 30005}])
    await hooks.before_create(services, svc, INFO)
    assert svc["spec"]["clusterIP"] == "10.96.0.10"
    assert node_ports(svc) == [30005]


async def test_the_same_port_on_two_protocols_shares_one_node_port(hooks: ServiceAllocations, services: Resource) -> None:
    svc = service(type="NodePort", ports=[{"port": 53, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}])
    await hooks.before_create(services, svc, INFO)
    tcp, udp = node_ports(svc)
    assert tcp == udp
    assert hooks.ports.used == {tcp}


async def test_a_requested_node_port_is_shared_by_the_other_protocol(hooks: ServiceAllocations, services: Resource) -> None:
    svc = service(type="NodePort", ports=[{"port": 53, "protocol": "TCP"}, {"port": 53, "protocol": "UDP", "nodePort": 30003}])
    await hooks.before_create(services, svc, INFO)
    assert node_ports(svc) == [30003, 30003]


@pytest.mark.parametrize(
    "spec",
    [{"type": "ExternalName", "externalName": "example.com"}, {"clusterIP": "None"}],
    ids=["external-name", "headless"],
)
async def test_external_name_and_headless_services_get_no_address(
    hooks: ServiceAllocations, services: Resource, spec: dict[str, Any]
) -> None:
    svc = service(**spec)
    await hooks.before_create(services, svc, INFO)
    assert hooks.ips.used == set()
    assert hooks.ports.used == set()
    if spec.get("clusterIP") == "None":
        assert svc["spec"]["clusterIPs"] == ["None"]
    else:
        assert "clusterIP" not in svc["spec"] and "clusterIPs" not in svc["spec"]


async def test_a_load_balancer_may_opt_out_of_node_ports(hooks: ServiceAllocations, services: Resource) -> None:
    svc = service(type="LoadBalancer", allocateLoadBalancerNodePorts=False)
    await hooks.before_create(services, svc, INFO)
    assert node_ports(svc) == []
    assert hooks.ports.used == set()


async def test_a_local_load_balancer_gets_a_health_check_node_port(hooks: ServiceAllocations, services: Resource) -> None:
    svc = service(type="LoadBalancer", externalTrafficPolicy="Local")
    await hooks.before_create(services, svc, INFO)
    health = svc["spec"]["healthCheckNodePort"]
    assert health not in node_ports(svc)
    assert hooks.ports.used == {health, *node_ports(svc)}
    hooks.after_delete(services, svc)
    assert hooks.ports.used == set()


async def test_a_taken_cluster_ip_is_refused_with_upstreams_message(hooks: ServiceAllocations, services: Resource) -> None:
    await hooks.before_create(services, service("a", clusterIP="10.96.0.10"), INFO)
    with pytest.raises(APIError) as info:
        await hooks.before_create(services, service("b", clusterIP="10.96.0.10", clusterIPs=["10.96.0.10"]), INFO)
    assert info.value.code == 422
    assert causes(info.value) == [
        ("spec.clusterIPs", 'Invalid value: []string{"10.96.0.10"}: failed to allocate IP 10.96.0.10: provided IP is already allocated')
    ]


async def test_an_out_of_range_cluster_ip_is_refused_with_upstreams_message(hooks: ServiceAllocations, services: Resource) -> None:
    with pytest.raises(APIError) as info:
        await hooks.before_create(services, service(clusterIP="10.1.0.5"), INFO)
    assert info.value.code == 422
    assert causes(info.value) == [
        (
            "spec.clusterIPs",
            'Invalid value: []string{"10.1.0.5"}: failed to allocate IP 10.1.0.5: the provided IP (10.1.0.5) is not in the valid '
            "range. The range of valid IPs is 10.96.0.0/24",
        )
    ]


@pytest.mark.parametrize(
    ("node_port", "message"),
    [
        (30001, "Invalid value: 30001: provided port is already allocated"),
        (31000, "Invalid value: 31000: provided port is not in the valid range. The range of valid ports is 30000-30010"),
    ],
    ids=["taken", "out-of-range"],
)
async def test_a_bad_node_port_is_refused_and_nothing_stays_allocated(
    hooks: ServiceAllocations, services: Resource, node_port: int, message: str
) -> None:
    await hooks.before_create(services, service("a", type="NodePort", clusterIP="10.96.0.9", ports=[{"port": 80, "nodePort": 30001}]), INFO)
    ips, ports = set(hooks.ips.used), set(hooks.ports.used)
    svc = service("b", type="NodePort", clusterIP="10.96.0.10", ports=[{"port": 80}, {"port": 81, "nodePort": node_port}])
    with pytest.raises(APIError) as info:
        await hooks.before_create(services, svc, INFO)
    assert causes(info.value) == [("spec.ports[1].nodePort", message)]
    assert (hooks.ips.used, hooks.ports.used) == (ips, ports)


async def test_a_full_service_range_is_an_internal_error(services: Resource) -> None:
    hooks = ServiceAllocations(service_cidr="10.96.0.0/30", node_port_range=PORTS)
    await hooks.before_create(services, service("a"), INFO)
    await hooks.before_create(services, service("b"), INFO)
    with pytest.raises(APIError) as info:
        await hooks.before_create(services, service("c"), INFO)
    assert (info.value.code, info.value.message) == (500, "Internal error occurred: failed to allocate a serviceIP: range is full")


async def test_a_full_node_port_range_is_an_internal_error_and_releases_the_address(services: Resource) -> None:
    hooks = ServiceAllocations(service_cidr=CIDR, node_port_range="30000-30000")
    await hooks.before_create(services, service("a", type="NodePort"), INFO)
    before = set(hooks.ips.used)
    with pytest.raises(APIError) as info:
        await hooks.before_create(services, service("b", type="NodePort"), INFO)
    assert (info.value.code, info.value.message) == (500, "Internal error occurred: failed to allocate a nodePort: range is full")
    assert hooks.ips.used == before


async def test_undo_releases_what_a_create_took(hooks: ServiceAllocations, services: Resource) -> None:
    # A dry run (or a failed write) gives back everything the create allocated.
    undo = await hooks.before_create(services, service(type="NodePort"), INFO)
    assert hooks.ips.used and hooks.ports.used
    assert undo is not None
    undo()
    assert hooks.ips.used == set() and hooks.ports.used == set()


async def test_other_resources_are_left_alone(hooks: ServiceAllocations, configmaps: Resource) -> None:
    obj = {"metadata": {"name": "c"}, "spec": {"clusterIP": "10.96.0.5"}}
    assert await hooks.before_create(configmaps, obj, INFO) is None
    assert await hooks.before_update(configmaps, obj, obj, INFO) is None
    hooks.after_delete(configmaps, {"spec": {"clusterIP": "10.96.0.5"}})
    assert hooks.ips.used == set()
    assert "clusterIPs" not in obj["spec"]


async def test_delete_releases_the_address_and_node_ports(hooks: ServiceAllocations, services: Resource) -> None:
    svc = service(type="NodePort")
    await hooks.before_create(services, svc, INFO)
    hooks.after_delete(services, svc)
    assert hooks.ips.used == set() and hooks.ports.used == set()


# ----- ServiceAllocations: update ------------------------------------------------------------


async def created(hooks: ServiceAllocations, services: Resource, **spec: Any) -> dict[str, Any]:
    svc = service(**spec)
    await hooks.before_create(services, svc, INFO)
    return svc


async def test_prepare_update_carries_what_a_client_left_out(hooks: ServiceAllocations, services: Resource) -> None:
    old = await created(hooks, services, type="NodePort", ports=[{"port": 80, "protocol": "TCP"}, {"port": 81, "protocol": "TCP"}])
    new = service(type="NodePort", ports=[{"port": 81, "protocol": "TCP"}, {"port": 80, "protocol": "TCP"}])
    hooks.prepare_update(services, new, old)
    assert new["spec"]["clusterIP"] == old["spec"]["clusterIP"]
    assert new["spec"]["clusterIPs"] == old["spec"]["clusterIPs"]
    by_port = {p["port"]: p["nodePort"] for p in old["spec"]["ports"]}
    assert [p["nodePort"] for p in new["spec"]["ports"]] == [by_port[81], by_port[80]]
    ips, ports = set(hooks.ips.used), set(hooks.ports.used)
    await hooks.before_update(services, new, old, INFO)
    assert (hooks.ips.used, hooks.ports.used) == (ips, ports)


async def test_prepare_update_keeps_an_explicit_new_node_port(hooks: ServiceAllocations, services: Resource) -> None:
    old = await created(hooks, services, type="NodePort", ports=[{"port": 80, "protocol": "TCP", "nodePort": 30001}])
    new = service(type="NodePort", ports=[{"port": 80, "protocol": "TCP", "nodePort": 30010}])
    hooks.prepare_update(services, new, old)
    assert node_ports(new) == [30010]


async def test_node_ports_of_a_service_turned_cluster_ip_are_released_only_after_the_update(
    hooks: ServiceAllocations, services: Resource
) -> None:
    old = await created(hooks, services, type="NodePort")
    held = node_ports(old)
    new = copy.deepcopy(old)
    new["spec"]["type"] = "ClusterIP"
    hooks.prepare_update(services, new, old)
    await hooks.before_update(services, new, old, INFO)
    assert node_ports(new) == []
    assert hooks.ports.used == set(held)  # still held: the write may yet fail
    hooks.after_update(services, new, old)
    assert hooks.ports.used == set()
    assert hooks.ips.has(old["spec"]["clusterIP"])


async def test_a_failed_update_gives_back_only_what_it_took(hooks: ServiceAllocations, services: Resource) -> None:
    old = await created(hooks, services, type="NodePort")
    held = set(node_ports(old))
    new = copy.deepcopy(old)
    new["spec"]["ports"].append({"port": 443, "protocol": "TCP"})
    undo = await hooks.before_update(services, new, old, INFO)
    added = set(node_ports(new)) - held
    assert len(added) == 1 and hooks.ports.used == held | added
    assert undo is not None
    undo()
    assert hooks.ports.used == held


async def test_an_update_may_take_a_new_node_port_and_release_the_old_one(hooks: ServiceAllocations, services: Resource) -> None:
    old = await created(hooks, services, type="NodePort", ports=[{"port": 80, "nodePort": 30001}])
    new = copy.deepcopy(old)
    new["spec"]["ports"][0]["nodePort"] = 30002
    await hooks.before_update(services, new, old, INFO)
    assert hooks.ports.used == {30001, 30002}
    hooks.after_update(services, new, old)
    assert hooks.ports.used == {30002}


async def test_an_update_to_a_taken_node_port_is_refused(hooks: ServiceAllocations, services: Resource) -> None:
    await created(hooks, services, type="NodePort", ports=[{"port": 80, "nodePort": 30001}])
    old = await created(hooks, services, type="NodePort", ports=[{"port": 80, "nodePort": 30002}])
    new = copy.deepcopy(old)
    new["spec"]["ports"][0]["nodePort"] = 30001
    with pytest.raises(APIError) as info:
        await hooks.before_update(services, new, old, INFO)
    assert causes(info.value) == [("spec.ports[0].nodePort", "Invalid value: 30001: provided port is already allocated")]
    assert hooks.ports.used == {30001, 30002}


async def test_a_service_turned_external_name_releases_its_address_after_the_update(
    hooks: ServiceAllocations, services: Resource
) -> None:
    old = await created(hooks, services)
    new = service(type="ExternalName", externalName="example.com")
    hooks.prepare_update(services, new, old)
    await hooks.before_update(services, new, old, INFO)
    assert "clusterIP" not in new["spec"]
    assert hooks.ips.has(old["spec"]["clusterIP"])
    hooks.after_update(services, new, old)
    assert hooks.ips.used == set()


# ----- restore -------------------------------------------------------------------------------


async def test_restore_marks_what_stored_services_hold(hooks: ServiceAllocations, services: Resource) -> None:
    stored = [
        service("a", type="NodePort", clusterIP="10.96.0.10", ports=[{"port": 80, "nodePort": 30001}]),
        service("b", clusterIP="None"),
        service("c", type="ExternalName"),
        service("d", clusterIP="10.200.0.1", type="NodePort", ports=[{"port": 80, "nodePort": 40000}]),
        service("e", type="LoadBalancer", externalTrafficPolicy="Local", clusterIP="10.96.0.11", healthCheckNodePort=30009,
                ports=[{"port": 80, "nodePort": 30002}]),
    ]
    hooks.restore(stored)
    assert hooks.ips.used == {int(ipaddress.ip_address("10.96.0.10")), int(ipaddress.ip_address("10.96.0.11"))}
    assert hooks.ports.used == {30001, 30002, 30009}
    with pytest.raises(APIError):
        await hooks.before_create(services, service("x", clusterIP="10.96.0.10"), INFO)
    with pytest.raises(APIError):
        await hooks.before_create(services, service("y", type="NodePort", ports=[{"port": 80, "nodePort": 30009}]), INFO)


def test_restored_out_of_range_ports_do_not_fill_the_range() -> None:
    hooks = ServiceAllocations(service_cidr=CIDR, node_port_range="30000-30000")
    hooks.restore([service(type="NodePort", ports=[{"port": 80, "nodePort": 31000}])])
    assert hooks.ports.allocate() == 30000
