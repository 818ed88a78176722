"""Write semantics upstream clients rely on: deletion during updates, dry run, subresources, paging."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.apiserver.rawapi import API


@pytest.fixture(scope="module")
def api(server):
    return API(server)


@pytest.fixture
def ns(api):
    name = f"sem-{uuid.uuid4().hex[:8]}"
    assert api.request("POST", "/api/v1/namespaces", json.dumps({"metadata": {"name": name}}).encode())[0] == 201
    return name


def pod(name: str, **spec) -> bytes:
    return json.dumps({"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec}}).encode()


def test_an_update_during_graceful_deletion_does_not_delete_the_pod(api, ns):
    assert api.request("POST", f"/api/v1/namespaces/{ns}/pods", pod("p", nodeName="node-a"))[0] == 201
    code, body, _ = api.request("DELETE", f"/api/v1/namespaces/{ns}/pods/p")
    assert code == 200 and body["metadata"]["deletionGracePeriodSeconds"] == 30
    patch = json.dumps({"metadata": {"labels": {"x": "y"}}}).encode()
    code, body, _ = api.request("PATCH", f"/api/v1/namespaces/{ns}/pods/p", patch, "application/merge-patch+json")
    assert code == 200 and body["metadata"]["labels"] == {"x": "y"}
    assert api.request("GET", f"/api/v1/namespaces/{ns}/pods/p")[0] == 200
    # The node agent confirms the stop with a zero grace period; then the pod is gone.
    zero = json.dumps({"gracePeriodSeconds": 0}).encode()
    assert api.request("DELETE", f"/api/v1/namespaces/{ns}/pods/p", zero)[0] == 200
    assert api.request("GET", f"/api/v1/namespaces/{ns}/pods/p")[0] == 404


def test_removing_the_last_finalizer_finishes_a_deletion(api, ns):
    cm = json.dumps({"metadata": {"name": "f", "finalizers": ["example.com/hold"]}}).encode()
    assert api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", cm)[0] == 201
    code, body, _ = api.request("DELETE", f"/api/v1/namespaces/{ns}/configmaps/f")
    assert code in (200, 202) and body["metadata"]["deletionTimestamp"]
    add = json.dumps({"metadata": {"finalizers": ["example.com/hold", "example.com/more"]}}).encode()
    code, body, _ = api.request("PATCH", f"/api/v1/namespaces/{ns}/configmaps/f", add, "application/merge-patch+json")
    assert code == 422 and "no new finalizers can be added if the object is being deleted" in body["message"]
    drop = json.dumps({"metadata": {"finalizers": None}}).encode()
    assert api.request("PATCH", f"/api/v1/namespaces/{ns}/configmaps/f", drop, "application/merge-patch+json")[0] == 200
    assert api.request("GET", f"/api/v1/namespaces/{ns}/configmaps/f")[0] == 404


def test_dry_run_create_of_an_existing_name_is_a_conflict(api, ns):
    cm = json.dumps({"metadata": {"name": "d"}}).encode()
    assert api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", cm)[0] == 201
    code, body, _ = api.request("POST", f"/api/v1/namespaces/{ns}/configmaps?dryRun=All", cm)
    assert code == 409 and body["reason"] == "AlreadyExists"


def test_eviction_with_dry_run_in_its_delete_options_keeps_the_pod(api, ns):
    assert api.request("POST", f"/api/v1/namespaces/{ns}/pods", pod("e"))[0] == 201
    ev = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "e"}, "deleteOptions": {"dryRun": ["All"]}}
    assert api.request("POST", f"/api/v1/namespaces/{ns}/pods/e/eviction", json.dumps(ev).encode())[0] == 201
    code, body, _ = api.request("GET", f"/api/v1/namespaces/{ns}/pods/e")
    assert code == 200 and not body["metadata"].get("deletionTimestamp")
    ev["metadata"]["name"] = "other"
    code, body, _ = api.request("POST", f"/api/v1/namespaces/{ns}/pods/e/eviction", json.dumps(ev).encode())
    assert code == 400 and body["message"] == "name in URL does not match name in Eviction object"
    del ev["deleteOptions"]
    ev["metadata"]["name"] = "e"
    assert api.request("POST", f"/api/v1/namespaces/{ns}/pods/e/eviction", json.dumps(ev).encode())[0] == 201
    assert api.request("GET", f"/api/v1/namespaces/{ns}/pods/e")[0] == 404


def test_writes_on_the_all_namespaces_path_are_not_allowed(api, ns):
    code, body, _ = api.request("DELETE", "/api/v1/configmaps?dryRun=All")
    assert code == 405 and body["reason"] == "MethodNotAllowed"
    code, _, _ = api.request("POST", "/api/v1/configmaps", json.dumps({"metadata": {"name": "x", "namespace": ns}}).encode())
    assert code == 405


def test_ephemeral_containers_change_only_through_their_subresource(api, ns):
    assert api.request("POST", f"/api/v1/namespaces/{ns}/pods", pod("dbg"))[0] == 201
    patch = {"spec": {"ephemeralContainers": [{"name": "debugger", "image": "busybox", "targetContainerName": "c"}]}, "metadata": {"labels": {"sneaky": "yes"}}}
    code, body, _ = api.request("PATCH", f"/api/v1/namespaces/{ns}/pods/dbg/ephemeralcontainers", json.dumps(patch).encode(), "application/strategic-merge-patch+json")
    assert code == 200, body
    assert [c["name"] for c in body["spec"]["ephemeralContainers"]] == ["debugger"]
    assert "sneaky" not in (body["metadata"].get("labels") or {})
    remove = json.dumps([{"op": "remove", "path": "/spec/ephemeralContainers/0"}]).encode()
    code, body, _ = api.request("PATCH", f"/api/v1/namespaces/{ns}/pods/dbg/ephemeralcontainers", remove, "application/json-patch+json")
    assert code == 422


def test_creating_in_a_terminating_namespace_names_the_object(api, server):
    name = f"term-{uuid.uuid4().hex[:6]}"
    api.request("POST", "/api/v1/namespaces", json.dumps({"metadata": {"name": name}}).encode())
    hold = json.dumps({"metadata": {"name": "hold", "finalizers": ["example.com/hold"]}}).encode()
    assert api.request("POST", f"/api/v1/namespaces/{name}/configmaps", hold)[0] == 201
    api.request("DELETE", f"/api/v1/namespaces/{name}")
    code, body, _ = api.request("POST", f"/api/v1/namespaces/{name}/configmaps", json.dumps({"metadata": {"name": "late"}}).encode())
    assert code == 403
    assert body["message"] == f'configmaps "late" is forbidden: unable to create new content in namespace {name} because it is being terminated'
    assert body["details"]["causes"][0]["reason"] == "NamespaceTerminating"
    drop = json.dumps({"metadata": {"finalizers": None}}).encode()
    api.request("PATCH", f"/api/v1/namespaces/{name}/configmaps/hold", drop, "application/merge-patch+json")


def test_paging_with_a_selector_omits_the_remaining_count_and_nonpositive_limits_mean_all(api, ns):
    for i in range(4):
        api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", json.dumps({"metadata": {"name": f"c{i}", "labels": {"k": "v"}}}).encode())
    code, body, _ = api.request("GET", f"/api/v1/namespaces/{ns}/configmaps?limit=1&labelSelector=k%3Dv")
    assert body["metadata"]["continue"] and "remainingItemCount" not in body["metadata"]
    code, body, _ = api.request("GET", f"/api/v1/namespaces/{ns}/configmaps?limit=1")
    assert body["metadata"]["remainingItemCount"] == 3
    code, body, _ = api.request("GET", f"/api/v1/namespaces/{ns}/configmaps?limit=-1")
    assert len(body["items"]) == 4 and "continue" not in body["metadata"]


def test_generated_names_are_cut_to_fit(api, ns):
    prefix = "a" * 70 + "-"
    code, body, _ = api.request("POST", f"/api/v1/namespaces/{ns}/services", json.dumps({"metadata": {"generateName": "s" * 59}, "spec": {"ports": [{"port": 80}]}}).encode())
    assert code == 201 and len(body["metadata"]["name"]) == 63
    code, body, _ = api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", json.dumps({"metadata": {"generateName": prefix}}).encode())
    assert code == 201 and len(body["metadata"]["name"]) == 63


def test_kubectl_auth_can_i_is_answered(kubectl):
    out = kubectl("auth", "can-i", "list", "pods")
    assert out.stdout.strip() == "yes"


def test_list_option_combinations_are_validated(api, ns):
    code, body, _ = api.request("GET", f"/api/v1/namespaces/{ns}/configmaps?resourceVersionMatch=NotOlderThan")
    assert code == 422 and body["details"]["causes"][0]["field"] == "resourceVersionMatch"
    code, body, _ = api.request("GET", f"/api/v1/namespaces/{ns}/configmaps?resourceVersionMatch=Sometimes&resourceVersion=1")
    assert code == 422


def test_get_scale_subresource_prints_desired_and_available(kubectl132):
    kubectl132("create", "deployment", "sc", "--image=nginx", "--replicas=2")
    out = kubectl132("get", "deployment", "sc", "--subresource=scale").stdout.split()
    assert out[:3] == ["NAME", "DESIRED", "AVAILABLE"]
    assert out[3:5] == ["sc", "2"]


def test_binding_assigns_a_node_once(api, ns):
    assert api.request("POST", f"/api/v1/namespaces/{ns}/pods", pod("b"))[0] == 201
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "b"}, "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"}}
    code, body, _ = api.request("POST", f"/api/v1/namespaces/{ns}/pods/b/binding", json.dumps(binding).encode())
    assert code == 201, body
    code, got, _ = api.request("GET", f"/api/v1/namespaces/{ns}/pods/b")
    assert got["spec"]["nodeName"] == "node-1"
    assert [c["status"] for c in got["status"]["conditions"] if c["type"] == "PodScheduled"] == ["True"]
    binding["target"]["name"] = "node-2"
    code, body, _ = api.request("POST", f"/api/v1/namespaces/{ns}/pods/b/binding", json.dumps(binding).encode())
    assert code == 409
