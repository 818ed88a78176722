"""RFC 7386 merge patch as kube-apiserver applies it (kubectl label, annotate, scale)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kybernetes.apiserver.patch import PatchError, apply_merge_patch


@pytest.mark.parametrize(
    "doc, patch, expected",
    [
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        (["a", "b"], ["c", "d"], ["c", "d"]),
        ({"a": "b"}, ["c"], ["c"]),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ],
    ids=[
        "rfc-replace-member",
        "rfc-add-member",
        "rfc-null-deletes",
        "rfc-null-deletes-only-that-member",
        "rfc-array-replaced-by-scalar",
        "rfc-scalar-replaced-by-array",
        "rfc-nested-merge-and-delete",
        "rfc-arrays-are-replaced-whole",
        "rfc-array-document-and-patch",
        "rfc-array-patch-replaces-object",
        "rfc-existing-null-member-is-kept",
        "rfc-non-object-document-is-treated-as-empty",
        "rfc-nulls-in-new-objects-are-pruned",
    ],
)
def test_rfc_7386_examples(doc: Any, patch: Any, expected: Any) -> None:
    assert apply_merge_patch(doc, patch) == expected


@pytest.mark.parametrize(
    "patch",
    [None, "bar", 3, True],
    ids=["null", "string", "number", "bool"],
)
def test_a_patch_that_is_not_an_object_or_array_is_400_invalid_json_patch(patch: Any) -> None:
    # Upstream departs from the RFC here: these would otherwise replace the whole document.
    with pytest.raises(PatchError) as info:
        apply_merge_patch({"a": "foo"}, patch)
    assert (info.value.code, str(info.value)) == (400, "Invalid JSON Patch")


def test_kubectl_label_adds_and_removes_labels() -> None:
    pod = {"metadata": {"name": "web", "labels": {"app": "web", "env": "dev"}}, "spec": {"x": 1}}
    added = apply_merge_patch(pod, {"metadata": {"labels": {"tier": "db"}}})
    removed = apply_merge_patch(added, {"metadata": {"labels": {"env": None}}})
    assert removed["metadata"]["labels"] == {"app": "web", "tier": "db"}
    assert removed["spec"] == {"x": 1}


def test_kubectl_scale_sets_replicas() -> None:
    scale = {"kind": "Scale", "spec": {"replicas": 1}, "status": {"replicas": 1}}
    assert apply_merge_patch(scale, {"spec": {"replicas": 3}})["spec"] == {"replicas": 3}


def test_the_documents_key_order_is_kept_and_new_keys_follow() -> None:
    doc = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}}
    result = apply_merge_patch(doc, {"status": {"phase": "Running"}, "metadata": {"labels": {"a": "b"}}})
    assert list(result) == ["apiVersion", "kind", "metadata", "spec", "status"]


def test_neither_input_is_mutated_and_the_result_shares_nothing() -> None:
    doc = {"metadata": {"labels": {"a": "b"}}, "spec": {"list": [{"x": 1}]}}
    patch = {"metadata": {"labels": {"c": "d"}}, "spec": {"new": {"y": [1]}}}
    doc_before, patch_before = copy.deepcopy(doc), copy.deepcopy(patch)
    result = apply_merge_patch(doc, patch)
    result["spec"]["list"][0]["x"] = 2
    result["spec"]["new"]["y"].append(2)
    assert (doc, patch) == (doc_before, patch_before)
