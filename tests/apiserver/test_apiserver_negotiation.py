"""Content negotiation: request bodies by Content-Type, answers by Accept."""

from __future__ import annotations

import pytest

from kybernetes.api.errors import APIError
from kybernetes.apiserver import negotiation
from kybernetes.apiserver.negotiation import Accept, decode_body, decode_json, media_type, parse_accept

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}}
POD_JSON = b'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"}}'
POD_YAML = b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, ""),
        ("", ""),
        ("application/json", "application/json"),
        ("Application/JSON; charset=utf-8", "application/json"),
        ("  application/yaml ;x=y", "application/yaml"),
    ],
    ids=["none", "empty", "json", "parameters-and-case", "spaces"],
)
def test_media_type_is_the_bare_lower_case_type(header: str | None, expected: str) -> None:
    assert media_type(header) == expected


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        (POD_JSON, "application/json"),
        (POD_JSON, "application/json; charset=utf-8"),
        (POD_JSON, None),
        (POD_JSON, ""),
        (POD_YAML, "application/yaml"),
        (POD_YAML, "application/x-yaml"),
        (POD_YAML, None),
        (POD_JSON, "application/yaml"),
    ],
    ids=["json", "json-charset", "missing-is-json", "empty-is-json", "yaml", "x-yaml", "missing-yaml", "json-is-yaml"],
)
def test_bodies_decode_by_content_type(raw: bytes, content_type: str | None) -> None:
    assert decode_body(raw, content_type) == POD


def test_yaml_timestamps_stay_strings() -> None:
    body = decode_body(b"data:\n  day: 2024-01-01\n  when: 2024-01-01T10:00:00Z\n  n: 5\n", "application/yaml")
    assert body == {"data": {"day": "2024-01-01", "when": "2024-01-01T10:00:00Z", "n": 5}}


def test_yaml_keys_become_json_strings_as_yaml_to_json_makes_them() -> None:
    body = decode_body(b"on: yes\n80: http\n1.5: x\nnested:\n- false: 0\n", "application/yaml")
    assert body == {"true": True, "80": "http", "1.5": "x", "nested": [{"false": 0}]}


def test_a_yaml_key_json_cannot_hold_is_a_bad_request() -> None:
    with pytest.raises(APIError) as info:
        decode_body(b"? [a, b]\n: x\n", "application/yaml")
    assert info.value.code == 400
    assert info.value.message.startswith("error converting YAML to JSON: ")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"k8s\x00", "Object 'Kind' is missing in protobuf object"),
        (b'{"kind":"Pod"}', "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]"),
    ],
    ids=["no-kind", "json-sent-as-protobuf"],
)
def test_unusable_protobuf_bodies_are_bad_requests_with_upstreams_message(raw: bytes, message: str) -> None:
    with pytest.raises(APIError) as info:
        decode_body(raw, negotiation.PROTOBUF)
    assert (info.value.code, info.value.message) == (400, message)


def test_a_protobuf_namespace_decodes_to_json() -> None:
    raw = b"k8s\x00" + _field(1, _field(1, b"v1") + _field(2, b"Namespace")) + _field(2, _field(1, _field(1, b"team-a")))
    body = decode_body(raw, "application/vnd.kubernetes.protobuf")
    assert body["kind"] == "Namespace" and body["apiVersion"] == "v1"
    assert body["metadata"]["name"] == "team-a"


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (payloads here are short: one-byte lengths)."""
    assert len(payload) < 128
    return bytes([number << 3 | 2, len(payload)]) + payload


@pytest.mark.parametrize(
    ("raw", "content_type", "prefix"),
    [
        (b"{not json", "application/json", "couldn't get version/kind; json parse error: "),
        (b"", "application/json", "couldn't get version/kind; json parse error: "),
        (b'{"a": 1', None, "couldn't get version/kind; json parse error: "),
        (b"a: [1, 2", "application/yaml", "error converting YAML to JSON: "),
        (b"a: 1\n---\nb: 2\n", "application/yaml", "error converting YAML to JSON: "),
        (b"k8s\x00\xff\xff", "application/vnd.kubernetes.protobuf", ""),
    ],
    ids=["bad-json", "empty-json", "bad-json-without-type", "bad-yaml", "two-yaml-documents", "bad-protobuf"],
)
def test_malformed_bodies_are_bad_requests(raw: bytes, content_type: str | None, prefix: str) -> None:
    with pytest.raises(APIError) as info:
        decode_body(raw, content_type)
    assert (info.value.code, info.value.reason) == (400, "BadRequest")
    assert info.value.message.startswith(prefix)


@pytest.mark.parametrize("content_type", ["application/xml", "application/cbor", "multipart/form-data"], ids=["xml", "cbor", "form"])
def test_an_unknown_content_type_is_unsupported(content_type: str) -> None:
    with pytest.raises(APIError) as info:
        decode_body(POD_JSON, content_type)
    assert (info.value.code, info.value.reason) == (415, "UnsupportedMediaType")
    assert info.value.message == (
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json, application/yaml, application/vnd.kubernetes.protobuf"
    )


def test_decode_json_names_what_it_decodes() -> None:
    assert decode_json(b"[1]") == [1]
    with pytest.raises(APIError) as info:
        decode_json(b"{", "patch")
    assert info.value.code == 400
    assert info.value.message.startswith("error decoding patch: ")


TABLE_V1 = "application/json;as=Table;v=v1;g=meta.k8s.io"
TABLE_V1BETA1 = "application/json;as=Table;v=v1beta1;g=meta.k8s.io"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, Accept()),
        ("", Accept()),
        ("application/json", Accept()),
        ("*/*", Accept()),
        (f"{TABLE_V1},{TABLE_V1BETA1},application/json", Accept(table=True)),
        (f"{TABLE_V1BETA1},{TABLE_V1},application/json", Accept(table=True, table_beta=True)),
        (f"{TABLE_V1BETA1}, application/json", Accept(table=True, table_beta=True)),
        ("application/json; as=Table; v=v1; g=meta.k8s.io", Accept(table=True)),
        ("application/json;g=meta.k8s.io;v=v1;as=Table", Accept(table=True)),
        ("application/json;as=Table;v=v2;g=meta.k8s.io,application/json", Accept()),
        ("application/json;as=Table;v=v1;g=other.io,application/json", Accept()),
        (f"application/json,{TABLE_V1}", Accept()),
        (f"{TABLE_V1};q=0.5,application/json", Accept()),
        ("application/yaml", Accept(yaml=True)),
        ("application/yaml, application/json", Accept(yaml=True)),
        ("application/json, application/yaml", Accept()),
        ("application/vnd.kubernetes.protobuf,application/json", Accept()),
        ("application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io,application/yaml", Accept(yaml=True)),
    ],
    ids=[
        "none",
        "empty",
        "json",
        "anything",
        "kubectl-get",
        "beta-first",
        "beta-with-space",
        "spaces-in-parameters",
        "parameters-in-any-order",
        "unknown-table-version",
        "other-group",
        "json-preferred",
        "table-lower-q",
        "yaml",
        "yaml-preferred",
        "json-preferred-over-yaml",
        "protobuf-falls-back-to-json",
        "metadata-only-skipped",
    ],
)
def test_accept_headers_choose_the_answer(header: str | None, expected: Accept) -> None:
    assert Accept.parse(header) == expected


def test_accept_ranges_are_ordered_by_quality_then_specificity_then_position() -> None:
    ranges = parse_accept("*/*;q=0.8, text/*, application/json;q=0.9, application/yaml")
    assert [(m, q) for m, _, q in ranges] == [("application/yaml", 1.0), ("text/*", 1.0), ("application/json", 0.9), ("*/*", 0.8)]
    media, params, _ = parse_accept("application/json; as=Table ;v=v1")[0]
    assert (media, params) == ("application/json", {"as": "Table", "v": "v1"})

