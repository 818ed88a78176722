"""Real kubectl 1.32/1.33 protobuf bodies decode to what kubectl 1.31 sends as JSON for the same command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kybernetes.apiserver.protobuf import decode_request, encode_request

FIXTURES = Path(__file__).resolve().parent / "fixtures"
COMMANDS: dict[str, dict[str, Any]] = json.loads((FIXTURES / "commands.json").read_text())
PROTOBUF_CASES = [
    (name, version)
    for name in sorted(COMMANDS)
    for version in ("1.32", "1.33")
    if (FIXTURES / f"{name}.{version}.bin").exists()
]
# kubectl 1.33 autoscale posts autoscaling/v2 first, so there is no JSON twin from 1.31 (which uses v1).
NO_JSON_TWIN = {("autoscale", "1.33")}


def load_bin(name: str, version: str) -> bytes:
    return (FIXTURES / f"{name}.{version}.bin").read_bytes()


def load_json(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.1.31.json").read_bytes())


def without_go_json_empties(value: Any) -> Any:
    """Drop what Go's JSON encoder adds for unset values: null times, empty structs and lists."""
    if isinstance(value, dict):
        cleaned = {k: without_go_json_empties(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [without_go_json_empties(v) for v in value]
    return value


def all_zero(value: Any) -> bool:
    if isinstance(value, dict):
        return all(all_zero(v) for v in value.values())
    if isinstance(value, list):
        return all(all_zero(v) for v in value)
    return value in ("", 0, False, None)


def expected_from_json(name: str) -> dict[str, Any]:
    obj = load_json(name)
    if all_zero(obj.get("status", {})):
        obj.pop("status", None)  # the decoder's documented rule: a status of zeros is not stored
    return without_go_json_empties(obj)


def test_every_command_was_captured_for_every_version() -> None:
    for name, entry in COMMANDS.items():
        assert set(entry["content_types"]) == {"1.31", "1.32", "1.33"}, name
        assert entry["content_types"]["1.31"] == "application/json", name
        assert (FIXTURES / f"{name}.1.31.json").exists(), name


@pytest.mark.parametrize(("name", "version"), PROTOBUF_CASES, ids=[f"{n}-{v}" for n, v in PROTOBUF_CASES])
def test_protobuf_body_decodes_to_the_json_kubectl_131_sends(name: str, version: str) -> None:
    if (name, version) in NO_JSON_TWIN:
        pytest.skip("no JSON twin; checked by test_autoscale_133_sends_autoscaling_v2")
    assert decode_request(load_bin(name, version)) == expected_from_json(name)


@pytest.mark.parametrize(("name", "version"), PROTOBUF_CASES, ids=[f"{n}-{v}" for n, v in PROTOBUF_CASES])
def test_reencoding_the_decoded_object_reproduces_kubectls_bytes(name: str, version: str) -> None:
    body = load_bin(name, version)
    assert encode_request(decode_request(body)) == body


def test_generator_commands_use_protobuf_from_132_on() -> None:
    for name, entry in COMMANDS.items():
        for version in ("1.32", "1.33"):
            assert entry["content_types"][version] == "application/vnd.kubernetes.protobuf", (name, version)


def test_deployment_drops_the_encoders_zero_values_but_keeps_meaningful_ones() -> None:
    assert decode_request(load_bin("create-deployment", "1.32")) == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d2", "labels": {"app": "d2"}},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "d2"}},
            "template": {
                "metadata": {"labels": {"app": "d2"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx", "ports": [{"containerPort": 8080}]}]},
            },
        },
    }
    assert decode_request(load_bin("create-deployment-zero", "1.32"))["spec"]["replicas"] == 0


def test_ingress_rule_value_is_lifted_into_the_rule() -> None:
    rule = decode_request(load_bin("create-ingress", "1.32"))["spec"]["rules"][0]
    assert rule == {
        "host": "foo.com",
        "http": {"paths": [{"path": "/", "pathType": "Prefix",
                            "backend": {"service": {"name": "svc1", "port": {"number": 80}}}}]},
    }


def test_default_backend_port_by_name_and_rule_without_host() -> None:
    spec = decode_request(load_bin("create-ingress-multi", "1.33"))["spec"]
    assert spec["defaultBackend"] == {"service": {"name": "svc2", "port": {"name": "http"}}}
    assert spec["rules"][1] == {"http": {"paths": [{"path": "/exact", "pathType": "Exact", "backend": {
        "service": {"name": "svc4", "port": {"name": "web"}}}}]}}


def test_token_request_bound_object_uid_uses_the_json_name() -> None:
    spec = decode_request(load_bin("create-token", "1.32"))["spec"]
    assert spec["boundObjectRef"]["uid"] == "5d7d0b1e-0000-4000-8000-000000000003"
    assert spec["expirationSeconds"] == 3600


def test_secret_values_are_base64_and_empty_values_are_kept() -> None:
    secret = decode_request(load_bin("create-secret-generic", "1.32"))
    assert secret["data"] == {"empty": "", "password": "eA=="}
    configmap = decode_request(load_bin("create-configmap-binary", "1.32"))
    assert configmap["data"] == {"empty": ""}
    assert configmap["binaryData"] == {"bin": "AAEC//6AYmluYXJ5"}


def test_int_or_string_and_non_omitempty_zeros() -> None:
    assert decode_request(load_bin("create-pdb-percent", "1.32"))["spec"]["maxUnavailable"] == "50%"
    assert decode_request(load_bin("create-pdb", "1.32"))["spec"]["minAvailable"] == 1
    assert decode_request(load_bin("create-priorityclass-zero", "1.32"))["value"] == 0
    ports = decode_request(load_bin("create-service-clusterip", "1.32"))["spec"]["ports"]
    assert ports[0] == {"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080}


def test_zero_status_is_dropped() -> None:
    for name in ("autoscale", "create-pdb", "auth-can-i", "create-token", "create-namespace"):
        assert "status" not in decode_request(load_bin(name, "1.32")), name


def test_autoscale_133_sends_autoscaling_v2() -> None:
    assert decode_request(load_bin("autoscale", "1.33")) == {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "d2"},
        "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "d2", "apiVersion": "apps/v1"},
            "minReplicas": 2,
            "maxReplicas": 3,
            "metrics": [{"type": "Resource",
                         "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}],
        },
    }
