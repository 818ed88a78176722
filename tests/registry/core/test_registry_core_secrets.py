"""Secrets: the Opaque default, stringData folding, type-specific keys, `immutable` and the Table row."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from kybernetes.api.errors import APIError
from kybernetes.registry.core.secrets import STRATEGY

Obj = dict[str, Any]


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def secret(**extra: Any) -> Obj:
    obj: Obj = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds", "namespace": "default"}}
    obj.update(extra)
    return obj


def test_secrets_are_catalogued_as_upstream() -> None:
    assert (STRATEGY.plural, STRATEGY.singular, STRATEGY.short_names) == ("secrets", "secret", ())
    assert [c.name for c in STRATEGY.columns] == ["Name", "Type", "Data", "Age"]


def test_secrets_default_to_opaque_and_fold_string_data(create) -> None:
    obj, errors = create(STRATEGY, secret(data={"user": b64("old"), "keep": b64("k")}, stringData={"user": "admin"}))
    assert errors == []
    assert obj["type"] == "Opaque"
    assert obj["data"] == {"user": b64("admin"), "keep": b64("k")}
    assert "stringData" not in obj


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"data": {"a b": b64("x")}}, ["data[a b]: Invalid value: \"a b\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"]),
        ({"type": "kubernetes.io/tls", "data": {"tls.crt": b64("c")}}, ["data[tls.key]: Required value"]),
        ({"type": "kubernetes.io/basic-auth"}, ["data[username]: Required value", "data[password]: Required value"]),
        ({"type": "kubernetes.io/ssh-auth"}, ["data[ssh-privatekey]: Required value"]),
        ({"type": "kubernetes.io/service-account-token"}, ["metadata.annotations[kubernetes.io/service-account.name]: Required value"]),
        (
            {"type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": b64("nope")}},
            ['data[.dockerconfigjson]: Invalid value: "<secret contents redacted>": invalid character \'o\' in literal null (expecting \'u\')'],
        ),
        (
            {"type": "kubernetes.io/dockercfg", "data": {".dockercfg": b64("[1]")}},
            ['data[.dockercfg]: Invalid value: "<secret contents redacted>": json: cannot unmarshal array into Go value of type map[string]interface {}'],
        ),
        ({"data": {"big": b64("x" * (1024 * 1024 + 1))}}, ["data: Too long: may not be more than 1048576 bytes"]),
    ],
    ids=["bad-key", "tls", "basic-auth", "ssh-auth", "service-account-token", "docker-config-json", "dockercfg-array", "too-big"],
)
def test_secret_validation(create, extra: Obj, expected: list[str]) -> None:
    _, errors = create(STRATEGY, secret(**extra))
    assert errors == expected


def test_bad_base64_is_a_bad_request(create) -> None:
    with pytest.raises(APIError) as info:
        create(STRATEGY, secret(data={"password": "hunter2"}))
    assert info.value.code == 400
    assert info.value.message == 'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 4'


def test_type_and_immutable_data_cannot_change(create, update) -> None:
    stored, _ = create(STRATEGY, secret(data={"a": b64("1")}, immutable=True))
    new = copy.deepcopy(stored)
    new["type"] = "kubernetes.io/tls"
    new["data"]["a"] = b64("2")
    _, errors = update(STRATEGY, new, stored)
    assert errors[:2] == [
        'type: Invalid value: "kubernetes.io/tls": field is immutable',
        "data: Forbidden: field is immutable when `immutable` is set",
    ]


def test_row_and_selectable_fields(clock, create) -> None:
    obj, _ = create(STRATEGY, secret(data={"a": b64("1"), "b": b64("2")}))
    obj["metadata"]["creationTimestamp"] = "2024-05-01T11:00:00Z"
    assert STRATEGY.row(obj) == ["creds", "Opaque", 2, "60m"]
    assert STRATEGY.selectable_fields(obj) == {"type": "Opaque"}
