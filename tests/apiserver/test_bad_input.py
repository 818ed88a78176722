"""Bad input gets upstream's status code and a Status body naming the problem, and changes nothing."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
import uuid

import pytest

from tests.apiserver.rawapi import API


@pytest.fixture(scope="module")
def api(server):
    return API(server)


@pytest.fixture
def ns(api):
    name = f"bad-{uuid.uuid4().hex[:8]}"
    code, _, _ = api.request("POST", "/api/v1/namespaces", json.dumps({"metadata": {"name": name}}).encode())
    assert code == 201
    return name


def assert_status(body, code: int, reason: str) -> None:
    assert body["kind"] == "Status" and body["apiVersion"] == "v1"
    assert body["status"] == "Failure"
    assert body["code"] == code
    assert body["reason"] == reason
    assert body["message"]


def count(api, ns: str, plural: str = "configmaps") -> int:
    code, body, _ = api.request("GET", f"/api/v1/namespaces/{ns}/{plural}")
    assert code == 200
    return len(body["items"])


def test_unauthenticated_requests_get_401_but_health_and_version_are_public(server):
    anonymous = API(server, authenticated=False)
    code, body, _ = anonymous.request("GET", "/api/v1/namespaces")
    assert code == 401
    assert_status(body, 401, "Unauthorized")
    code, body, _ = anonymous.request("GET", "/version")
    assert code == 200 and body["major"] == "1"
    for path in ("/livez", "/readyz", "/healthz"):
        req = urllib.request.Request(server.url + path)
        with urllib.request.urlopen(req, context=anonymous.ctx) as resp:
            assert resp.status == 200


def test_bearer_token_authenticates(server):
    anonymous = API(server, authenticated=False)
    token = (server.data_dir / "server" / "token").read_text().strip()
    code, _, _ = anonymous.request("GET", "/api/v1/namespaces", headers={"Authorization": f"Bearer {token}"})
    assert code == 200
    code, _, _ = anonymous.request("GET", "/api/v1/namespaces", headers={"Authorization": "Bearer wrong"})
    assert code == 401


def test_malformed_json_is_400(api, ns):
    code, body, _ = api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", b'{"metadata": {"name": ')
    assert code == 400
    assert_status(body, 400, "BadRequest")
    assert count(api, ns) == 0


def test_malformed_yaml_is_400(api, ns):
    code, body, _ = api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", b"metadata: [unclosed", "application/yaml")
    assert code == 400
    assert_status(body, 400, "BadRequest")


def test_unknown_field_under_strict_names_the_field(api, ns):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox", "imagee": "typo"}], "bogus": 1}}
    code, body, _ = api.request("POST", f"/api/v1/namespaces/{ns}/pods?fieldValidation=Strict", json.dumps(pod).encode())
    assert code in (400, 422)
    assert 'unknown field "spec.containers[0].imagee"' in body["message"]
    assert 'unknown field "spec.bogus"' in body["message"]
    assert count(api, ns, "pods") == 0


def test_unknown_field_under_warn_is_dropped_with_a_warning(api, ns):
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "w"}, "data": {"a": "b"}, "extra": True}
    code, body, headers = api.request("POST", f"/api/v1/namespaces/{ns}/configmaps?fieldValidation=Warn", json.dumps(cm).encode())
    assert code == 201
    assert "extra" not in body
    assert 'unknown field \\"extra\\"' in headers.get("Warning", "") or 'unknown field "extra"' in headers.get("Warning", "")


def test_invalid_object_lists_every_cause(api, ns):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "Bad_Name"}, "spec": {"containers": [{"name": "c"}, {"name": "c", "image": "x"}]}}
    code, body, _ = api.request("POST", f"/api/v1/namespaces/{ns}/pods", json.dumps(pod).encode())
    assert code == 422
    assert_status(body, 422, "Invalid")
    assert body["details"]["kind"] == "Pod"
    fields = {c["field"] for c in body["details"]["causes"]}
    assert {"metadata.name", "spec.containers[0].image", "spec.containers[1].name"} <= fields
    assert body["message"].startswith('Pod "Bad_Name" is invalid: [')
    assert count(api, ns, "pods") == 0


def test_kind_or_version_that_does_not_match_the_url_is_400(api, ns):
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}}
    code, body, _ = api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", json.dumps(svc).encode())
    assert code == 400
    assert_status(body, 400, "BadRequest")
    cm = {"apiVersion": "apps/v1", "kind": "ConfigMap", "metadata": {"name": "x"}}
    code, body, _ = api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", json.dumps(cm).encode())
    assert code == 400
    assert count(api, ns) == 0


def test_body_over_3_mib_is_413(api, ns):
    big = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"}, "data": {"a": "x" * (3 * 1024 * 1024 + 10)}}
    code, body, _ = api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", json.dumps(big).encode())
    assert code == 413
    assert_status(body, 413, "RequestEntityTooLarge")
    assert count(api, ns) == 0


def test_unknown_resource_is_404_status(api):
    for path in ("/api/v1/widgets", "/apis/nope.example.com/v1/things", "/api/v2", "/nothing"):
        code, body, _ = api.request("GET", path)
        assert code == 404, path
        assert_status(body, 404, "NotFound")


def test_unsupported_media_type_is_415(api, ns):
    code, body, _ = api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", b"<xml/>", "application/xml")
    assert code == 415
    assert_status(body, 415, "UnsupportedMediaType")
    code, body, _ = api.request("PATCH", f"/api/v1/namespaces/{ns}/configmaps/x", b"{}", "application/json")
    assert code == 415


def test_write_into_missing_namespace_is_404(api):
    cm = {"metadata": {"name": "x"}}
    code, body, _ = api.request("POST", "/api/v1/namespaces/does-not-exist/configmaps", json.dumps(cm).encode())
    assert code == 404
    assert body["message"] == 'namespaces "does-not-exist" not found'


def test_stale_resource_version_is_409_conflict(api, ns):
    cm = {"metadata": {"name": "c"}, "data": {"a": "1"}}
    code, created, _ = api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", json.dumps(cm).encode())
    assert code == 201
    created["data"]["a"] = "2"
    code, updated, _ = api.request("PUT", f"/api/v1/namespaces/{ns}/configmaps/c", json.dumps(created).encode())
    assert code == 200
    created["data"]["a"] = "3"
    code, body, _ = api.request("PUT", f"/api/v1/namespaces/{ns}/configmaps/c", json.dumps(created).encode())
    assert code == 409
    assert_status(body, 409, "Conflict")
    code, current, _ = api.request("GET", f"/api/v1/namespaces/{ns}/configmaps/c")
    assert current["data"]["a"] == "2"


def test_duplicate_create_is_409_already_exists(api, ns):
    cm = json.dumps({"metadata": {"name": "dup"}}).encode()
    assert api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", cm)[0] == 201
    code, body, _ = api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", cm)
    assert code == 409
    assert_status(body, 409, "AlreadyExists")
    assert body["details"] == {"name": "dup", "kind": "configmaps"}


def test_watch_from_an_old_resource_version_replays_later_events(api, ns):
    cm = json.dumps({"metadata": {"name": "later"}}).encode()
    code, created, _ = api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", cm)
    assert code == 201
    req = urllib.request.Request(api.server.url + f"/api/v1/namespaces/{ns}/configmaps?watch=true&resourceVersion=1&timeoutSeconds=1")
    with urllib.request.urlopen(req, context=api.ctx, timeout=10) as resp:
        first = json.loads(resp.readline())
    assert first["type"] == "ADDED"
    assert first["object"]["metadata"]["name"] == "later"
