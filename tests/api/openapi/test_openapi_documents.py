"""Tests for the OpenAPI v2/v3 documents: shape, references, and what kubectl looks for in them."""

from __future__ import annotations

import json
import re

import pytest

from kybernetes.api.openapi import OpenAPIResource, definitions, v2_document_json, v2_response, v3_document, v3_index
from kybernetes.api.openapi.documents import V2_PROTOBUF_CONTENT_TYPE, v3_hash
from tests.api.openapi.openapi_fake_apiserver import resources

RESOURCES = resources()
GVS = sorted({(r.group, r.version) for r in RESOURCES})


def _doc(group: str, version: str) -> dict:
    return json.loads(v3_document(group, version, RESOURCES))


def test_v3_index_lists_every_group_version_with_its_content_hash():
    index = v3_index(RESOURCES)
    assert set(index["paths"]) == {f"apis/{g}/{v}" if g else f"api/{v}" for g, v in GVS}
    assert "apis/extensions/v1beta1" in index["paths"]
    for (group, version) in GVS:
        key = f"apis/{group}/{version}" if group else f"api/{version}"
        url = index["paths"][key]["serverRelativeURL"]
        assert url == f"/openapi/v3/{key}?hash={v3_hash(v3_document(group, version, RESOURCES))}"
        assert re.fullmatch(r"[0-9A-F]{128}", url.rpartition("=")[2])


def test_v3_documents_are_stable_and_independent_of_resource_order():
    first = v3_document("apps", "v1", RESOURCES)
    assert v3_document("apps", "v1", list(reversed(RESOURCES))) == first
    assert v3_index(RESOURCES) == v3_index(list(reversed(RESOURCES)))


@pytest.mark.parametrize("gv", GVS, ids=lambda gv: "/".join(filter(None, gv)))
def test_v3_document_is_openapi_3_with_resolvable_references(gv):
    doc = _doc(*gv)
    assert doc["openapi"] == "3.0.0" and doc["info"]["title"]
    schemas = doc["components"]["schemas"]
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(doc)))
    assert refs and refs <= set(schemas)
    assert "#/definitions/" not in json.dumps(doc)
    for path, item in doc["paths"].items():
        assert path.startswith("/api/" if not gv[0] else f"/apis/{gv[0]}/{gv[1]}/")
        for method, op in item.items():
            if method == "parameters":
                continue
            assert method in {"get", "put", "post", "patch", "delete"}
            assert op["x-kubernetes-action"] in {"get", "list", "post", "put", "patch", "delete",
                                                 "deletecollection", "connect"}
            assert op["responses"]


def _kubectl_supports_field_validation(doc: dict, gvk: dict) -> bool:
    """cli-runtime's QueryParamVerifierV3, restated: a patch op for the GVK declaring fieldValidation."""
    for item in doc["paths"].values():
        op = item.get("patch")
        if op and op.get("x-kubernetes-group-version-kind") == gvk:
            return any(p["name"] == "fieldValidation" for p in op.get("parameters", ()))
    return False


def _kubectl_patches_from_v3(doc: dict, gvk: dict) -> bool:
    """kubectl apply's gvkSupportsPatchOpenAPIV3, restated."""
    for item in doc["paths"].values():
        op = item.get("patch")
        if op and op.get("x-kubernetes-group-version-kind") == gvk:
            return "application/strategic-merge-patch+json" in op["requestBody"]["content"]
    return False


@pytest.mark.parametrize("res", RESOURCES, ids=lambda r: f"{r.group_version}/{r.kind}")
def test_kubectl_finds_server_side_validation_and_patch_schemas_for_every_kind(res):
    doc = _doc(res.group, res.version)
    gvk = {"group": res.group, "kind": res.kind, "version": res.version}
    if "patch" not in res.verbs:
        return
    assert _kubectl_supports_field_validation(doc, gvk)
    assert _kubectl_patches_from_v3(doc, gvk)
    # explain and the patch computation look the kind up by its GVK among the components.
    tagged = [n for n, s in doc["components"]["schemas"].items()
              if gvk in s.get("x-kubernetes-group-version-kind", ())]
    assert len(tagged) == 1


def test_write_operations_declare_upstreams_query_parameters():
    doc = _doc("", "v1")
    item = doc["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]
    names = lambda op: [p["name"] for p in op["parameters"]]  # noqa: E731
    assert names(item["patch"]) == ["dryRun", "fieldManager", "fieldValidation", "force"]
    assert names(item["put"]) == ["dryRun", "fieldManager", "fieldValidation"]
    assert names(doc["paths"]["/api/v1/namespaces/{namespace}/pods"]["post"]) == [
        "dryRun", "fieldManager", "fieldValidation"]
    assert "propagationPolicy" in names(item["delete"])
    assert "labelSelector" in names(doc["paths"]["/api/v1/pods"]["get"])
    assert [p["name"] for p in item["parameters"]] == ["name", "namespace", "pretty"]
    assert item["patch"]["requestBody"]["content"]["application/apply-patch+yaml"]["schema"] == {
        "$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"}
    assert item["get"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/io.k8s.api.core.v1.Pod"}


def test_paths_cover_collections_items_all_namespaces_and_subresources():
    paths = set(_doc("", "v1")["paths"])
    for p in ("/api/v1/namespaces/{namespace}/pods", "/api/v1/namespaces/{namespace}/pods/{name}",
              "/api/v1/pods", "/api/v1/namespaces/{namespace}/pods/{name}/status",
              "/api/v1/namespaces/{namespace}/pods/{name}/log",
              "/api/v1/namespaces/{namespace}/pods/{name}/eviction",
              "/api/v1/nodes", "/api/v1/nodes/{name}", "/api/v1/nodes/{name}/status",
              "/api/v1/namespaces/{name}/finalize",
              "/api/v1/namespaces/{namespace}/replicationcontrollers/{name}/scale"):
        assert p in paths
    assert "/api/v1/namespaces/{namespace}/nodes" not in paths


def test_subresource_operations_carry_the_right_kinds():
    doc = _doc("apps", "v1")
    scale = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]["patch"]
    assert scale["x-kubernetes-group-version-kind"] == {"group": "autoscaling", "kind": "Scale", "version": "v1"}
    assert "io.k8s.api.autoscaling.v1.Scale" in doc["components"]["schemas"]
    status = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status"]["patch"]
    assert status["x-kubernetes-group-version-kind"] == {"group": "apps", "kind": "Deployment", "version": "v1"}
    evict = _doc("", "v1")["paths"]["/api/v1/namespaces/{namespace}/pods/{name}/eviction"]["post"]
    assert evict["x-kubernetes-group-version-kind"]["group"] == "policy"


def test_v3_schemas_use_upstreams_v3_forms():
    schemas = _doc("", "v1")["components"]["schemas"]
    assert schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] == {
        "format": "int-or-string", "oneOf": [{"type": "integer"}, {"type": "string"}]}
    assert schemas["io.k8s.apimachinery.pkg.apis.meta.v1.Time"] == {"type": "string", "format": "date-time"}
    spec = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]
    # A reference with siblings is wrapped in allOf (v3 ignores siblings of $ref).
    assert spec["containers"]["items"] == {"$ref": "#/components/schemas/io.k8s.api.core.v1.Container"}
    assert spec["containers"]["x-kubernetes-patch-merge-key"] == "name"
    pod = schemas["io.k8s.api.core.v1.Pod"]["properties"]
    assert pod["spec"]["allOf"] == [{"$ref": "#/components/schemas/io.k8s.api.core.v1.PodSpec"}]


def test_retired_group_versions_get_their_own_documents():
    doc = _doc("extensions", "v1beta1")
    assert "/apis/extensions/v1beta1/namespaces/{namespace}/ingresses/{name}" in doc["paths"]
    backend = doc["components"]["schemas"]["io.k8s.api.extensions.v1beta1.IngressBackend"]
    assert set(backend["properties"]) == {"serviceName", "servicePort", "resource"}
    assert "io.k8s.api.batch.v1beta1.CronJob" in _doc("batch", "v1beta1")["components"]["schemas"]
    assert "io.k8s.api.apps.v1beta2.Deployment" in _doc("apps", "v1beta2")["components"]["schemas"]


def test_a_group_version_without_resources_is_an_empty_document():
    doc = json.loads(v3_document("example.com", "v1", RESOURCES))
    assert doc["paths"] == {}


def test_kinds_without_a_schema_still_get_paths():
    widget = OpenAPIResource("example.com", "v1", "Widget", "widgets", True, ("get", "list", "patch"))
    doc = json.loads(v3_document("example.com", "v1", [widget]))
    op = doc["paths"]["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"]["patch"]
    assert any(p["name"] == "fieldValidation" for p in op["parameters"])


@pytest.mark.parametrize("accept", [
    "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
    "application/com.github.proto-openapi.spec.v2@v1.0+protobuf, application/json",
])
def test_v2_for_protobuf_clients_is_an_empty_document_with_a_parsable_content_type(accept):
    body, ctype = v2_response(accept, RESOURCES)
    assert body == b""
    assert ctype == V2_PROTOBUF_CONTENT_TYPE and "@" not in ctype


@pytest.mark.parametrize("accept", ["application/json", "*/*", "", "application/json, */*"])
def test_v2_for_json_clients_is_a_swagger_document(accept):
    body, ctype = v2_response(accept, RESOURCES)
    assert ctype == "application/json"
    doc = json.loads(body)
    assert doc["swagger"] == "2.0"
    assert doc["definitions"] == definitions()
    refs = set(re.findall(r'"#/definitions/([^"]+)"', body.decode()))
    assert refs <= set(doc["definitions"])
    patch = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert "application/strategic-merge-patch+json" in patch["consumes"]
    assert any(p["name"] == "fieldValidation" for p in patch["parameters"])
    assert patch["x-kubernetes-group-version-kind"] == {"group": "apps", "kind": "Deployment", "version": "v1"}
    assert v2_document_json(RESOURCES) == body
