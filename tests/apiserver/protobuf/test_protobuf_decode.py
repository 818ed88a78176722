"""decode_request turns protobuf bodies into JSON-shaped objects and rejects malformed ones."""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import pytest

from kybernetes.apiserver.protobuf import ProtobufDecodeError, decode_request, encode_request
from kybernetes.apiserver.protobuf.decode import LEAVES, _go_duration, _leaf, decode_message
from kybernetes.apiserver.protobuf.encode import encode_message
from kybernetes.apiserver.protobuf.messages import INLINE, KINDS, MESSAGES
from kybernetes.apiserver.protobuf.wire import (
    FIXED32,
    START_GROUP,
    VARINT,
    encode_bytes_field,
    encode_key,
    encode_varint,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SCALARS = {"string", "bytes", "bool", "int32", "int64", "uint32", "uint64", "sint32", "sint64", "fixed32",
           "sfixed32", "fixed64", "sfixed64", "float", "double"}


def envelope(api_version: str, kind: str, raw: bytes, *, encoding: bytes = b"") -> bytes:
    type_meta = encode_bytes_field(1, api_version.encode()) + encode_bytes_field(2, kind.encode())
    return (b"k8s\x00" + encode_bytes_field(1, type_meta) + encode_bytes_field(2, raw)
            + encode_bytes_field(3, encoding) + encode_bytes_field(4, b""))


def round_trip(obj: dict[str, Any]) -> dict[str, Any]:
    return decode_request(encode_request(obj))


def test_every_table_type_is_decodable() -> None:
    for message, fields in MESSAGES.items():
        for number, field in fields.items():
            types = [field.type]
            if field.type.startswith("map<"):
                types = field.type[4:-1].split(",", 1)
            for type_name in types:
                assert type_name in SCALARS or type_name in LEAVES or type_name in MESSAGES, (message, number)
            if field.zero == INLINE:
                assert field.type in MESSAGES
    assert all(message in MESSAGES for message in KINDS.values())


def test_missing_magic_is_rejected() -> None:
    with pytest.raises(ProtobufDecodeError, match=re.escape("expected prefix [107 56 115 0]")):
        decode_request(b'{"kind":"Pod"}')


def test_unknown_kind_is_rejected_like_upstream() -> None:
    with pytest.raises(ProtobufDecodeError) as info:
        decode_request(envelope("v1", "Foo", b""))
    assert info.value.message.startswith('no kind "Foo" is registered for version "v1" in scheme')
    with pytest.raises(ProtobufDecodeError, match='no kind "Deployment" is registered for version "v1"'):
        decode_request(envelope("v1", "Deployment", b""))


def test_missing_kind_and_content_encoding_are_rejected() -> None:
    with pytest.raises(ProtobufDecodeError, match="Kind"):
        decode_request(b"k8s\x00")
    with pytest.raises(ProtobufDecodeError, match="content encoding"):
        decode_request(envelope("v1", "ConfigMap", b"", encoding=b"gzip"))


def test_every_truncation_of_a_real_body_fails_cleanly() -> None:
    body = (FIXTURES / "create-job-from-cronjob.1.32.bin").read_bytes()
    for end in range(len(body)):
        try:
            decode_request(body[:end])
        except ProtobufDecodeError:
            continue
    # Cutting inside the raw object must always be noticed.
    with pytest.raises(ProtobufDecodeError, match="unexpected EOF"):
        decode_request(body[:60])


def test_wrong_wire_type_is_rejected() -> None:
    raw = encode_bytes_field(1, encode_key(1, VARINT) + encode_varint(3))  # metadata.name as a varint
    with pytest.raises(ProtobufDecodeError, match="wrong wireType = 0 for field name"):
        decode_request(envelope("v1", "ConfigMap", raw))


def test_unknown_fields_of_every_wire_type_are_skipped() -> None:
    metadata = (encode_bytes_field(1, b"cm") + encode_key(90, VARINT) + encode_varint(-1)
                + encode_bytes_field(91, b"\xff\x00") + encode_key(92, FIXED32) + b"\x00" * 4
                + encode_key(93, START_GROUP) + encode_bytes_field(1, b"x") + encode_key(93, 4))
    raw = encode_bytes_field(1, metadata) + encode_key(77, VARINT) + encode_varint(5)
    assert decode_request(envelope("v1", "ConfigMap", raw)) == {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}}


def test_packed_and_unpacked_repeated_numbers_are_both_accepted() -> None:
    message = "batch.v1.PodFailurePolicyOnExitCodesRequirement"
    number = next(n for n, f in MESSAGES[message].items() if f.name == "values")
    unpacked = b"".join(encode_key(number, VARINT) + encode_varint(v) for v in (1, -2, 3))
    packed = encode_bytes_field(number, b"".join(encode_varint(v) for v in (1, -2, 3)))
    assert decode_message(unpacked, message) == {"values": [1, -2, 3]}
    assert decode_message(packed, message) == {"values": [1, -2, 3]}
    assert decode_message(packed + unpacked, message) == {"values": [1, -2, 3, 1, -2, 3]}


def test_negative_numbers() -> None:
    obj = {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "low"},
           "value": -5}
    body = encode_request(obj)
    assert b"\xfb" + b"\xff" * 8 + b"\x01" in body
    assert decode_request(body) == obj


def test_inlined_wrappers_are_merged_into_the_parent() -> None:
    pod = {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns"},
        "spec": {
            "volumes": [{"name": "scratch", "emptyDir": {}},
                        {"name": "cfg", "configMap": {"name": "cm1", "defaultMode": 420, "optional": False}}],
            "containers": [{
                "name": "app", "image": "nginx",
                "env": [{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "s1", "key": "password"}}}],
                "envFrom": [{"configMapRef": {"name": "cm1"}}],
                "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 5},
                "readinessProbe": {"tcpSocket": {"port": 8080}},
                "resources": {"limits": {"cpu": "500m", "memory": "1Gi"}},
            }],
            "ephemeralContainers": [{"name": "debug", "image": "busybox", "targetContainerName": "app"}],
            "terminationGracePeriodSeconds": 0,
            "securityContext": {},
        },
    }
    assert round_trip(pod) == pod


def test_times_are_rfc3339_and_zero_time_is_omitted() -> None:
    obj = {"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": "cm", "creationTimestamp": "2024-01-02T03:04:05Z"}}
    assert round_trip(obj) == obj
    assert round_trip({**obj, "metadata": {"name": "cm", "creationTimestamp": None}})["metadata"] == {"name": "cm"}
    # metav1.Time keeps whole seconds only, as the Go server does.
    stamp = encode_key(1, VARINT) + encode_varint(1704164645) + encode_key(2, VARINT) + encode_varint(999)
    assert _leaf("meta.v1.Time", stamp) == "2024-01-02T03:04:05Z"
    assert _leaf("meta.v1.MicroTime", stamp) == "2024-01-02T03:04:05.000000Z"
    assert _leaf("meta.v1.Time", encode_key(1, VARINT) + encode_varint(0)) == "1970-01-01T00:00:00Z"


def test_durations_format_like_go() -> None:
    assert [_go_duration(n) for n in (0, 1_500_000_000, 3_600_000_000_000, 90_000_000_000, 300_000_000, -2_000)] \
        == ["0s", "1.5s", "1h0m0s", "1m30s", "300ms", "-2µs"]


def test_int_or_string_and_quantities() -> None:
    obj = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "p"},
           "spec": {"minAvailable": 0, "maxUnavailable": "25%", "selector": {}}}
    # Pointers keep their zero values: minAvailable 0 blocks every eviction, {} selects all pods.
    assert round_trip(obj) == obj
    quota = {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q"},
             "spec": {"hard": {"cpu": "1500m", "requests.memory": "0"}}}
    assert round_trip(quota) == quota


def test_nonzero_status_is_kept() -> None:
    obj = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "generation": 2},
           "status": {"replicas": 2, "readyReplicas": 1, "observedGeneration": 2}}
    assert round_trip(obj) == obj


def test_repeated_message_field_occurrences_merge() -> None:
    first = encode_bytes_field(1, encode_bytes_field(1, b"cm"))
    second = encode_bytes_field(1, encode_bytes_field(3, b"ns"))
    assert decode_request(envelope("v1", "ConfigMap", first + second))["metadata"] == {"name": "cm",
                                                                                       "namespace": "ns"}


def test_invalid_utf8_is_replaced_like_go_json() -> None:
    raw = encode_bytes_field(1, encode_bytes_field(1, b"a\xffb"))
    assert decode_request(envelope("v1", "ConfigMap", raw))["metadata"]["name"] == "a\ufffdb"


def test_user_extra_values_are_lists() -> None:
    obj = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
           "spec": {"user": "alice", "groups": ["devs"], "extra": {"scopes": ["a", "b"]},
                    "resourceAttributes": {"verb": "get", "resource": "pods"}},
           "status": {"allowed": True}}
    assert round_trip(obj) == obj


def test_encoder_writes_non_pointer_zeros_like_gogo() -> None:
    # ObjectMeta: name, then generateName/namespace/selfLink/uid/resourceVersion "", generation 0,
    # creationTimestamp (empty) — exactly what kubectl writes.
    assert encode_message({"name": "d2"}, "meta.v1.ObjectMeta") == b'\n\x02d2\x12\x00\x1a\x00"\x00*\x002\x008\x00B\x00'


def test_inlined_wrappers_from_hand_built_bytes() -> None:
    name = encode_bytes_field(1, b"cm1")  # LocalObjectReference.name
    volume = encode_bytes_field(1, b"cfg") + encode_bytes_field(2, encode_bytes_field(19, encode_bytes_field(1, name)))
    assert decode_message(volume, "core.v1.Volume") == {"name": "cfg", "configMap": {"name": "cm1"}}
    port = encode_key(1, VARINT) + encode_varint(1) + encode_bytes_field(3, b"http")
    http_get = encode_bytes_field(1, b"/h") + encode_bytes_field(2, port)
    probe = encode_bytes_field(1, encode_bytes_field(2, http_get)) + encode_key(4, VARINT) + encode_varint(5)
    assert decode_message(probe, "core.v1.Probe") == {"httpGet": {"path": "/h", "port": "http"}, "periodSeconds": 5}
    selector = encode_bytes_field(1, name) + encode_bytes_field(2, b"k")
    assert decode_message(selector, "core.v1.SecretKeySelector") == {"name": "cm1", "key": "k"}


def test_mutated_real_bodies_only_ever_raise_protobuf_decode_error() -> None:
    rng = random.Random(1)
    bodies = [path.read_bytes() for path in sorted(FIXTURES.glob("*.1.32.bin"))]
    for _ in range(3000):
        body = bytearray(rng.choice(bodies))
        for _ in range(rng.randint(1, 4)):
            position = rng.randrange(4, len(body))
            if rng.random() < 0.2:
                del body[position]
            else:
                body[position] = rng.randrange(256)
        try:
            decode_request(bytes(body))
        except ProtobufDecodeError:
            pass
