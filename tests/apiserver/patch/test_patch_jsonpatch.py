"""RFC 6902 JSON patch as kube-apiserver (evanphx/json-patch v4) applies it."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kybernetes.apiserver.patch import PatchError, apply_json_patch

DOC: dict[str, Any] = {
    "metadata": {"name": "web", "labels": {"app": "web"}, "annotations": {"a/b": "slash", "m~n": "tilde"}},
    "spec": {"replicas": 1, "args": ["-a", "-b", "-c"], "paused": None},
}


@pytest.mark.parametrize(
    "ops, path, expected",
    [
        ([{"op": "add", "path": "/metadata/labels/tier", "value": "db"}], ("metadata", "labels"), {"app": "web", "tier": "db"}),
        ([{"op": "add", "path": "/metadata/labels/app", "value": "api"}], ("metadata", "labels"), {"app": "api"}),
        ([{"op": "add", "path": "/spec/args/1", "value": "-x"}], ("spec", "args"), ["-a", "-x", "-b", "-c"]),
        ([{"op": "add", "path": "/spec/args/3", "value": "-z"}], ("spec", "args"), ["-a", "-b", "-c", "-z"]),
        ([{"op": "add", "path": "/spec/args/-", "value": "-z"}], ("spec", "args"), ["-a", "-b", "-c", "-z"]),
        ([{"op": "add", "path": "/spec/args/-1", "value": "-z"}], ("spec", "args"), ["-a", "-b", "-c", "-z"]),
        ([{"op": "add", "path": "/spec/extra"}], ("spec", "extra"), None),
        ([{"op": "remove", "path": "/metadata/labels/app"}], ("metadata", "labels"), {}),
        ([{"op": "remove", "path": "/spec/args/0"}], ("spec", "args"), ["-b", "-c"]),
        ([{"op": "remove", "path": "/spec/args/-1"}], ("spec", "args"), ["-a", "-b"]),
        ([{"op": "replace", "path": "/spec/replicas", "value": 3}], ("spec", "replicas"), 3),
        ([{"op": "replace", "path": "/spec/args/2", "value": "-C"}], ("spec", "args"), ["-a", "-b", "-C"]),
        ([{"op": "replace", "path": "/spec/paused", "value": True}], ("spec", "paused"), True),
        ([{"op": "move", "from": "/metadata/labels/app", "path": "/metadata/labels/name"}], ("metadata", "labels"), {"name": "web"}),
        ([{"op": "move", "from": "/spec/args/0", "path": "/spec/args/2"}], ("spec", "args"), ["-b", "-c", "-a"]),
        ([{"op": "copy", "from": "/metadata/labels", "path": "/spec/selector"}], ("spec", "selector"), {"app": "web"}),
        ([{"op": "copy", "from": "/spec/args/0", "path": "/spec/args/-"}], ("spec", "args"), ["-a", "-b", "-c", "-a"]),
        ([{"op": "replace", "path": "/metadata/annotations/a~1b", "value": "x"}], ("metadata", "annotations", "a/b"), "x"),
        ([{"op": "replace", "path": "/metadata/annotations/m~0n", "value": "y"}], ("metadata", "annotations", "m~n"), "y"),
        ([{"op": "add", "path": "/metadata/annotations/~01", "value": "z"}], ("metadata", "annotations", "~1"), "z"),
        (
            [{"op": "test", "path": "/spec/replicas", "value": 1}, {"op": "replace", "path": "/spec/replicas", "value": 2}],
            ("spec", "replicas"),
            2,
        ),
        ([{"op": "test", "path": "/metadata/labels", "value": {"app": "web"}}], ("metadata", "labels"), {"app": "web"}),
        ([{"op": "test", "path": "/spec/paused", "value": None}], ("spec", "paused"), None),
        ([{"op": "test", "path": "/spec/absent", "value": None}], ("spec", "replicas"), 1),
    ],
    ids=[
        "add-member",
        "add-replaces-existing-member",
        "add-inserts-at-index",
        "add-at-length-appends",
        "add-dash-appends",
        "add-negative-index-counts-from-end",
        "add-without-value-stores-null",
        "remove-member",
        "remove-element",
        "remove-negative-index",
        "replace-member",
        "replace-element",
        "replace-null-member",
        "move-member",
        "move-element",
        "copy-member",
        "copy-element",
        "tilde-one-is-slash",
        "tilde-zero-is-tilde",
        "tilde-zero-one-is-literal-tilde-one",
        "test-then-replace",
        "test-object",
        "test-null-member",
        "test-null-passes-for-missing-member",
    ],
)
def test_operations_apply_as_upstream(ops: list[dict[str, Any]], path: tuple[str, ...], expected: Any) -> None:
    result = apply_json_patch(DOC, ops)
    value: Any = result
    for part in path:
        value = value[part]
    assert value == expected


def test_replacing_the_root_swaps_the_whole_document() -> None:
    assert apply_json_patch(DOC, [{"op": "replace", "path": "", "value": {"a": 1}}]) == {"a": 1}


def test_a_null_patch_changes_nothing() -> None:
    assert apply_json_patch(DOC, None) == DOC


def test_the_input_document_is_never_mutated() -> None:
    before = copy.deepcopy(DOC)
    apply_json_patch(
        DOC,
        [
            {"op": "add", "path": "/metadata/labels/x", "value": "y"},
            {"op": "remove", "path": "/spec/args/0"},
            {"op": "replace", "path": "/spec/replicas", "value": 9},
        ],
    )
    assert DOC == before


def test_added_values_are_copies_of_the_patch() -> None:
    value = {"nested": ["a"]}
    result = apply_json_patch({}, [{"op": "add", "path": "/v", "value": value}])
    result["v"]["nested"].append("b")
    assert value == {"nested": ["a"]}


@pytest.mark.parametrize(
    "ops, detail",
    [
        (
            [{"op": "replace", "path": "/spec/x", "value": 1}],
            "replace operation does not apply: doc is missing key: /spec/x: missing value",
        ),
        (
            [{"op": "replace", "path": "/nope/x", "value": 1}],
            "replace operation does not apply: doc is missing path: /nope/x: missing value",
        ),
        (
            [{"op": "remove", "path": "/spec/x"}],
            "error in remove for path: '/spec/x': Unable to remove nonexistent key: x: missing value",
        ),
        (
            [{"op": "remove", "path": "/nope/x"}],
            'remove operation does not apply: doc is missing path: "/nope/x": missing value',
        ),
        (
            [{"op": "add", "path": "/nope/x", "value": 1}],
            'add operation does not apply: doc is missing path: "/nope/x": missing value',
        ),
        (
            [{"op": "add", "path": "/spec/args/9", "value": "-z"}],
            "error in add for path: '/spec/args/9': Unable to access invalid index: 9: invalid index referenced",
        ),
        (
            [{"op": "remove", "path": "/spec/args/x"}],
            "error in remove for path: '/spec/args/x': strconv.Atoi: parsing \"x\": invalid syntax",
        ),
        ([{"op": "test", "path": "/spec/replicas", "value": 2}], "testing value /spec/replicas failed: test failed"),
        ([{"op": "test", "path": "/spec/absent", "value": 2}], "testing value /spec/absent failed: test failed"),
        ([{"op": "test", "path": "/spec/replicas", "value": True}], "testing value /spec/replicas failed: test failed"),
        ([{"op": "test", "path": "/spec/replicas", "value": 1.0}], "testing value /spec/replicas failed: test failed"),
        (
            [{"op": "move", "from": "/spec/x", "path": "/spec/y"}],
            "error in move for path: 'x': unable to get nonexistent key: x: missing value",
        ),
        (
            [{"op": "copy", "from": "/nope/x", "path": "/spec/y"}],
            "copy operation does not apply: doc is missing from path: /nope/x: missing value",
        ),
        ([{"op": "add", "path": "", "value": {}}], 'add operation does not apply: doc is missing path: "": missing value'),
        ([{"op": "frobnicate", "path": "/spec"}], "Unexpected kind: frobnicate"),
        ([{"path": "/spec"}], "Unexpected kind: unknown"),
        (
            [{"op": "remove"}],
            "remove operation failed to decode path: operation missing path field: missing value",
        ),
    ],
    ids=[
        "replace-missing-key",
        "replace-missing-parent",
        "remove-missing-key",
        "remove-missing-parent",
        "add-missing-parent",
        "add-index-out-of-range",
        "remove-non-numeric-index",
        "test-different-value",
        "test-missing-member",
        "test-bool-is-not-number",
        "test-compares-number-text",
        "move-missing-source",
        "copy-missing-source-parent",
        "add-on-root",
        "unknown-op",
        "missing-op",
        "missing-path",
    ],
)
def test_operations_that_do_not_apply_are_422_with_upstreams_generic_message(ops: list[dict[str, Any]], detail: str) -> None:
    with pytest.raises(PatchError) as info:
        apply_json_patch(DOC, ops)
    assert info.value.code == 422
    assert info.value.reason == "Invalid"
    assert str(info.value) == "the server rejected our request due to an error in our request"
    assert info.value.detail == detail


def test_a_failed_test_answers_the_status_body_upstream_sends() -> None:
    with pytest.raises(PatchError) as info:
        apply_json_patch(DOC, [{"op": "test", "path": "/metadata/resourceVersion", "value": "7"}])
    assert info.value.status() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "the server rejected our request due to an error in our request",
        "reason": "Invalid",
        "details": {},
        "code": 422,
    }


@pytest.mark.parametrize(
    "ops, message",
    [
        ({"op": "add"}, "json: cannot unmarshal object into Go value of type jsonpatch.Patch"),
        ("add", "json: cannot unmarshal string into Go value of type jsonpatch.Patch"),
        (["add"], "json: cannot unmarshal string into Go value of type jsonpatch.Operation"),
        ([[]], "json: cannot unmarshal array into Go value of type jsonpatch.Operation"),
    ],
    ids=["object", "string", "string-operation", "array-operation"],
)
def test_a_malformed_patch_document_is_400(ops: Any, message: str) -> None:
    with pytest.raises(PatchError) as info:
        apply_json_patch(DOC, ops)
    assert (info.value.code, info.value.reason, str(info.value)) == (400, "BadRequest", message)


def test_more_than_ten_thousand_operations_are_refused_with_413() -> None:
    ops = [{"op": "test", "path": "/spec/replicas", "value": 1}] * 10001
    with pytest.raises(PatchError) as info:
        apply_json_patch(DOC, ops)
    assert info.value.code == 413
    assert str(info.value) == "Request entity too large: The allowed maximum operations in a JSON patch is 10000, got 10001"


def test_a_failed_operation_leaves_no_partial_result_behind() -> None:
    before = copy.deepcopy(DOC)
    with pytest.raises(PatchError):
        apply_json_patch(DOC, [{"op": "remove", "path": "/spec/args/0"}, {"op": "remove", "path": "/spec/x"}])
    assert DOC == before
