"""Discovery documents have the shapes kubectl and the Python client read (legacy and aggregated)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from kubernetes import client

from kybernetes.apiserver import discovery
from kybernetes.registry.catalog import Catalog, build_catalog

KUBECTL_127_ACCEPT = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
KUBECTL_133_ACCEPT = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return build_catalog()


def by_name(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in doc["resources"]}


def json_round_trip(doc: dict[str, Any]) -> dict[str, Any]:
    """What a client receives: the document as JSON (no Python-only values)."""
    return orjson.loads(orjson.dumps(doc))


# ----- legacy documents --------------------------------------------------------------------


def test_api_versions_has_the_python_clients_required_fields() -> None:
    doc = discovery.api_versions("127.0.0.1:6443")
    assert doc == {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}],
    }
    parsed = client.V1APIVersions.from_dict(json_round_trip(doc))
    assert parsed.versions == ["v1"]
    assert parsed.server_address_by_client_cidrs[0].server_address == "127.0.0.1:6443"


def test_api_group_list_names_every_group_with_its_preferred_version(catalog: Catalog) -> None:
    doc = discovery.api_group_list(catalog)
    assert (doc["kind"], doc["apiVersion"]) == ("APIGroupList", "v1")
    groups = {g["name"]: g for g in doc["groups"]}
    assert "" not in groups
    assert groups["apps"]["preferredVersion"] == {"groupVersion": "apps/v1", "version": "v1"}
    assert groups["apps"]["versions"][0] == {"groupVersion": "apps/v1", "version": "v1"}
    assert {"groupVersion": "apps/v1beta2", "version": "v1beta2"} in groups["apps"]["versions"]
    parsed = client.V1APIGroupList.from_dict(json_round_trip(doc))
    assert {g.name for g in parsed.groups} == set(groups)


def test_api_group_describes_one_group(catalog: Catalog) -> None:
    doc = discovery.api_group(catalog, "batch")
    assert doc is not None
    assert (doc["kind"], doc["apiVersion"], doc["name"]) == ("APIGroup", "v1", "batch")
    assert doc["preferredVersion"] == {"groupVersion": "batch/v1", "version": "v1"}
    assert client.V1APIGroup.from_dict(json_round_trip(doc)).name == "batch"
    assert discovery.api_group(catalog, "no.such.group") is None


def test_every_resource_list_parses_with_the_python_client(catalog: Catalog) -> None:
    for group, versions in catalog.group_versions().items():
        for version in versions:
            doc = discovery.api_resource_list(catalog, group, version)
            assert doc is not None, (group, version)
            parsed = client.V1APIResourceList.from_dict(json_round_trip(doc))
            assert parsed.group_version == (f"{group}/{version}" if group else version)
            for resource in doc["resources"]:
                assert {"name", "singularName", "namespaced", "kind", "verbs"} <= set(resource), resource


def test_a_resource_entry_carries_short_names_and_categories(catalog: Catalog) -> None:
    doc = discovery.api_resource_list(catalog, "apps", "v1")
    assert doc is not None
    assert (doc["kind"], doc["apiVersion"], doc["groupVersion"]) == ("APIResourceList", "v1", "apps/v1")
    assert by_name(doc)["deployments"] == {
        "name": "deployments",
        "singularName": "deployment",
        "namespaced": True,
        "kind": "Deployment",
        "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
        "shortNames": ["deploy"],
        "categories": ["all"],
    }


def test_cluster_scoped_resources_without_extras_omit_them(catalog: Catalog) -> None:
    doc = discovery.api_resource_list(catalog, "", "v1")
    assert doc is not None
    namespaces = by_name(doc)["namespaces"]
    assert namespaces["namespaced"] is False
    assert "categories" not in namespaces


@pytest.mark.parametrize(
    ("group", "version", "name", "expected"),
    [
        (
            "apps",
            "v1",
            "deployments/scale",
            {"name": "deployments/scale", "singularName": "", "namespaced": True, "group": "autoscaling", "version": "v1",
             "kind": "Scale", "verbs": ["get", "patch", "update"]},
        ),
        (
            "apps",
            "v1",
            "deployments/status",
            {"name": "deployments/status", "singularName": "", "namespaced": True, "kind": "Deployment", "verbs": ["get", "patch", "update"]},
        ),
        ("", "v1", "pods/log", {"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod", "verbs": ["get"]}),
        (
            "",
            "v1",
            "pods/exec",
            {"name": "pods/exec", "singularName": "", "namespaced": True, "kind": "PodExecOptions", "verbs": ["create", "get"]},
        ),
        (
            "",
            "v1",
            "pods/portforward",
            {"name": "pods/portforward", "singularName": "", "namespaced": True, "kind": "PodPortForwardOptions", "verbs": ["create", "get"]},
        ),
        (
            "",
            "v1",
            "pods/eviction",
            {"name": "pods/eviction", "singularName": "", "namespaced": True, "group": "policy", "version": "v1", "kind": "Eviction", "verbs": ["create"]},
        ),
        (
            "",
            "v1",
            "services/proxy",
            {"name": "services/proxy", "singularName": "", "namespaced": True, "kind": "ServiceProxyOptions",
             "verbs": ["create", "delete", "get", "patch", "update"]},
        ),
        (
            "",
            "v1",
            "nodes/proxy",
            {"name": "nodes/proxy", "singularName": "", "namespaced": False, "kind": "NodeProxyOptions",
             "verbs": ["create", "delete", "get", "patch", "update"]},
        ),
        (
            "",
            "v1",
            "serviceaccounts/token",
            {"name": "serviceaccounts/token", "singularName": "", "namespaced": True, "group": "authentication.k8s.io",
             "version": "v1", "kind": "TokenRequest", "verbs": ["create"]},
        ),
        (
            "",
            "v1",
            "namespaces/finalize",
            {"name": "namespaces/finalize", "singularName": "", "namespaced": False, "kind": "Namespace", "verbs": ["update"]},
        ),
    ],
    ids=["scale", "status", "log", "exec", "portforward", "eviction", "service-proxy", "node-proxy", "token", "finalize"],
)
def test_subresources_are_entries_of_their_own(catalog: Catalog, group: str, version: str, name: str, expected: dict) -> None:
    doc = discovery.api_resource_list(catalog, group, version)
    assert doc is not None
    assert by_name(doc)[name] == expected


def test_an_unknown_group_version_has_no_resource_list(catalog: Catalog) -> None:
    assert discovery.api_resource_list(catalog, "apps", "v9") is None


# ----- aggregated documents ----------------------------------------------------------------


@pytest.mark.parametrize("version", ["v2", "v2beta1"])
def test_aggregated_apis_lists_every_named_group(catalog: Catalog, version: str) -> None:
    doc = discovery.aggregated(catalog, legacy=False, version=version)
    assert (doc["kind"], doc["apiVersion"], doc["metadata"]) == ("APIGroupDiscoveryList", f"apidiscovery.k8s.io/{version}", {})
    names = [item["metadata"]["name"] for item in doc["items"]]
    assert "" not in names
    assert names == [g for g in catalog.group_versions() if g]
    apps = next(item for item in doc["items"] if item["metadata"]["name"] == "apps")
    assert apps["versions"][0]["version"] == "v1"  # the first version is the preferred one
    assert all(v["freshness"] == "Current" for v in apps["versions"])
    deployments = next(r for r in apps["versions"][0]["resources"] if r["resource"] == "deployments")
    assert deployments == {
        "resource": "deployments",
        "responseKind": {"group": "apps", "version": "v1", "kind": "Deployment"},
        "scope": "Namespaced",
        "singularResource": "deployment",
        "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
        "shortNames": ["deploy"],
        "categories": ["all"],
        "subresources": [
            {"subresource": "status", "responseKind": {"group": "apps", "version": "v1", "kind": "Deployment"}, "verbs": ["get", "patch", "update"]},
            {"subresource": "scale", "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"}, "verbs": ["get", "patch", "update"]},
        ],
    }


def test_aggregated_api_is_the_core_group_alone(catalog: Catalog) -> None:
    doc = discovery.aggregated(catalog, legacy=True, version="v2")
    assert [item["metadata"]["name"] for item in doc["items"]] == [""]
    resources = {r["resource"]: r for r in doc["items"][0]["versions"][0]["resources"]}
    assert resources["namespaces"]["scope"] == "Cluster"
    assert resources["pods"]["scope"] == "Namespaced"
    assert resources["configmaps"]["responseKind"] == {"group": "", "version": "v1", "kind": "ConfigMap"}
    assert "subresources" not in resources["configmaps"]
    log = next(s for s in resources["pods"]["subresources"] if s["subresource"] == "log")
    assert log == {"subresource": "log", "responseKind": {"group": "", "version": "v1", "kind": "Pod"}, "verbs": ["get"]}


def test_aggregated_documents_are_plain_json(catalog: Catalog) -> None:
    for legacy in (True, False):
        doc = discovery.aggregated(catalog, legacy=legacy, version="v2")
        assert json_round_trip(doc) == doc


def test_the_aggregated_content_types_are_exact() -> None:
    assert discovery.AGGREGATED_V2 == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    assert discovery.AGGREGATED_V2BETA1 == "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"


@pytest.mark.parametrize(
    ("accept", "version"),
    [
        (KUBECTL_133_ACCEPT, "v2"),
        (KUBECTL_127_ACCEPT, "v2beta1"),
        ("application/json", None),
        ("application/json, */*", None),
        ("", None),
        ("application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList", "v2beta1"),
        ("application/json; g=apidiscovery.k8s.io; v=v2; as=APIGroupDiscoveryList", "v2"),
        ("application/json;as=APIGroupDiscoveryList;v=v2;g=apidiscovery.k8s.io", "v2"),
        (
            "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
            "v2beta1",
        ),
        (
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList;q=0.5,"
            "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList",
            "v2beta1",
        ),
        ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList;q=0,application/json", None),
        ("application/json,application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList", None),
        ("application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList,application/json", None),
        ("application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscovery,application/json", None),
        ("application/json;as=Table;v=v1;g=meta.k8s.io,application/json", None),
    ],
    ids=[
        "kubectl-1.33",
        "kubectl-1.27",
        "json",
        "json-or-anything",
        "empty",
        "v2beta1-alone",
        "spaces",
        "parameters-in-any-order",
        "client-order-wins",
        "q-value-wins",
        "q-zero-refuses",
        "plain-json-first",
        "unknown-version",
        "not-the-list",
        "table",
    ],
)
def test_the_accept_header_decides_the_aggregated_version(accept: str, version: str | None) -> None:
    assert discovery.aggregated_version_requested(accept) == version
