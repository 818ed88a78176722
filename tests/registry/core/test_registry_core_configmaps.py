"""ConfigMaps: key rules, the size limit, base64 binaryData, `immutable` and the DATA cell."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from kybernetes.api.errors import APIError
from kybernetes.registry.core.configmaps import STRATEGY, base64_error

Obj = dict[str, Any]


def config_map(**extra: Any) -> Obj:
    obj: Obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "default"}}
    obj.update(extra)
    return obj


def test_config_maps_are_catalogued_as_upstream() -> None:
    assert (STRATEGY.plural, STRATEGY.short_names, STRATEGY.has_status) == ("configmaps", ("cm",), False)
    assert [c.name for c in STRATEGY.columns] == ["Name", "Data", "Age"]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"data": {"a.conf": "x"}, "binaryData": {"b.bin": "AAE="}}, []),
        (
            {"data": {"bad key": "x", "..dots": "y"}},
            [
                "data[bad key]: Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' "
                "(e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
                "data[..dots]: Invalid value: \"..dots\": must not start with '..'",
            ],
        ),
        ({"data": {"k": "x"}, "binaryData": {"k": "AA=="}}, ['data[k]: Invalid value: "k": duplicate of key present in binaryData']),
        ({"data": {"big": "x" * (1024 * 1024 + 1)}}, [": Too long: may not be more than 1048576 bytes"]),
    ],
    ids=["valid", "bad-keys", "duplicate-key", "too-big"],
)
def test_config_map_validation(create, extra: Obj, expected: list[str]) -> None:
    _, errors = create(STRATEGY, config_map(**extra))
    assert errors == expected


def test_bad_base64_binary_data_is_a_bad_request(create) -> None:
    with pytest.raises(APIError) as info:
        create(STRATEGY, config_map(binaryData={"b": "not base64!"}))
    assert info.value.code == 400
    assert info.value.message == 'ConfigMap in version "v1" cannot be handled as a ConfigMap: illegal base64 data at input byte 3'


@pytest.mark.parametrize(
    ("text", "error"),
    [("aGVsbG8=", ""), ("aGVsbG8", "illegal base64 data at input byte 4"), ("ab=c", "illegal base64 data at input byte 2"), ("YQ==\n", ""), ("abc", "illegal base64 data at input byte 0")],
    ids=["padded", "missing-padding", "bad-padding", "trailing-newline", "short"],
)
def test_base64_errors_match_go(text: str, error: str) -> None:
    assert base64_error(text) == error


def test_immutable_config_maps_keep_their_data(create, update) -> None:
    stored, _ = create(STRATEGY, config_map(data={"a": "1"}, immutable=True))
    new = copy.deepcopy(stored)
    new["data"]["a"] = "2"
    new["immutable"] = False
    _, errors = update(STRATEGY, new, stored)
    assert errors == ["immutable: Forbidden: field is immutable when `immutable` is set", "data: Forbidden: field is immutable when `immutable` is set"]


def test_the_data_cell_counts_both_maps(clock) -> None:
    obj = config_map(data={"a": "1", "b": "2"}, binaryData={"c": base64.b64encode(b"\x00").decode()})
    obj["metadata"]["creationTimestamp"] = "2024-05-01T11:59:00Z"
    assert STRATEGY.row(obj) == ["settings", 3, "60s"]
