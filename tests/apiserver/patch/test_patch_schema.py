"""SchemaNode: walking OpenAPI v2 definitions for patch metadata."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kybernetes.apiserver.patch import SchemaNode


def walk(node: SchemaNode | None, *path: str) -> SchemaNode | None:
    for step in path:
        if node is None:
            return None
        node = node.items() if step == "[]" else node.field(step)
    return node


def test_references_are_followed_and_field_extensions_kept(deployment_schema: SchemaNode) -> None:
    strategy = walk(deployment_schema, "spec", "strategy")
    assert strategy is not None
    assert strategy.patch_strategy == "retainKeys"
    assert strategy.retain_keys and strategy.list_strategy is None
    assert strategy.is_struct
    assert walk(strategy, "rollingUpdate", "maxSurge") is not None


@pytest.mark.parametrize(
    "path, strategy, merge_key, list_type, keys",
    [
        (("spec", "template", "spec", "containers"), "merge", "name", "map", ("name",)),
        (("spec", "template", "spec", "containers", "[]", "ports"), "merge", "containerPort", "map", ("containerPort", "protocol")),
        (("spec", "template", "spec", "volumes"), "merge", "name", "map", ("name",)),
        (("spec", "template", "spec", "tolerations"), None, None, "atomic", ()),
        (("spec", "template", "spec", "containers", "[]", "args"), None, None, "atomic", ()),
        (("metadata", "finalizers"), "merge", None, "set", ()),
        (("metadata", "ownerReferences"), "merge", "uid", "map", ("uid",)),
        (("status", "conditions"), "merge", "type", "map", ("type",)),
    ],
    ids=["containers", "ports", "volumes", "tolerations", "args", "finalizers", "ownerReferences", "conditions"],
)
def test_list_metadata_matches_upstream(
    deployment_schema: SchemaNode,
    path: tuple[str, ...],
    strategy: str | None,
    merge_key: str | None,
    list_type: str,
    keys: tuple[str, ...],
) -> None:
    node = walk(deployment_schema, *path)
    assert node is not None
    assert (node.list_strategy, node.merge_key, node.list_type, node.list_map_keys) == (strategy, merge_key, list_type, keys)


def test_volumes_carry_merge_and_retain_keys(deployment_schema: SchemaNode) -> None:
    volumes = walk(deployment_schema, "spec", "template", "spec", "volumes")
    assert volumes is not None and volumes.strategies == ("merge", "retainKeys") and volumes.retain_keys


@pytest.mark.parametrize(
    "extensions, list_type, keys",
    [
        ({"x-kubernetes-patch-strategy": "merge", "x-kubernetes-patch-merge-key": "name"}, "map", ("name",)),
        ({"x-kubernetes-patch-strategy": "merge"}, "set", ()),
        ({}, None, ()),
        ({"x-kubernetes-list-type": "atomic", "x-kubernetes-patch-strategy": "merge"}, "atomic", ()),
    ],
    ids=["merge-key-makes-a-map", "merge-without-key-makes-a-set", "nothing-is-atomic", "explicit-type-wins"],
)
def test_list_type_is_derived_from_the_patch_strategy_when_not_declared(
    extensions: dict[str, Any], list_type: str | None, keys: tuple[str, ...]
) -> None:
    node = SchemaNode.from_schema({}, {"type": "array", "items": {"type": "string"}, **extensions})
    assert (node.list_type, node.list_map_keys) == (list_type, keys)


def test_maps_expose_their_value_schema(deployment_schema: SchemaNode) -> None:
    labels = walk(deployment_schema, "metadata", "labels")
    assert labels is not None and labels.additional() is not None and not labels.is_struct
    assert labels.field("anything") is labels.additional()


def test_atomic_maps_are_recognised(deployment_schema: SchemaNode) -> None:
    selector = walk(deployment_schema, "spec", "selector")
    assert selector is not None and selector.is_atomic_map


def test_unknown_things_have_no_metadata(definitions: dict[str, Any]) -> None:
    unknown = SchemaNode.for_definition(definitions, "io.example.v1.Nothing")
    assert unknown.is_empty
    assert unknown.field("spec") is None and unknown.items() is None and unknown.additional() is None
    assert unknown.child("spec").is_empty
    assert SchemaNode.empty().list_type is None and SchemaNode.empty().merge_key is None


def test_key_defaults_come_from_the_schema_or_the_protocol_fallback() -> None:
    declared = SchemaNode.from_schema({}, {"type": "object", "properties": {"mode": {"type": "string", "default": "x"}}})
    bare = SchemaNode.from_schema({}, {"type": "object", "properties": {"protocol": {"type": "string"}}})
    assert declared.key_default("mode") == "x"
    assert bare.key_default("protocol") == "TCP"
    assert bare.key_default("name") is None


def test_a_single_all_of_reference_is_resolved() -> None:
    definitions = {"T": {"type": "object", "properties": {"a": {"type": "string"}}}}
    node = SchemaNode.from_schema(definitions, {"allOf": [{"$ref": "#/definitions/T"}], "x-kubernetes-patch-strategy": "replace"})
    assert node.field("a") is not None and node.patch_strategy == "replace"


def test_a_reference_cycle_does_not_hang() -> None:
    definitions = {"A": {"$ref": "#/definitions/B"}, "B": {"$ref": "#/definitions/A"}}
    assert SchemaNode.for_definition(definitions, "A").field("x") is None


DEFINITIONS_FILE = Path(__file__).resolve().parents[3] / "kybernetes" / "api" / "openapi" / "definitions.json"


@pytest.mark.skipif(not DEFINITIONS_FILE.exists(), reason="the generated definitions are not in this tree")
def test_the_generated_definitions_give_the_merge_keys_kubectl_relies_on() -> None:
    definitions = json.loads(DEFINITIONS_FILE.read_text())
    deployment = SchemaNode.for_definition(definitions, "io.k8s.api.apps.v1.Deployment")
    pod_spec = walk(deployment, "spec", "template", "spec")
    assert walk(pod_spec, "containers") is not None and walk(pod_spec, "containers").merge_key == "name"  # type: ignore[union-attr]
    assert walk(pod_spec, "volumes").retain_keys  # type: ignore[union-attr]
    assert walk(deployment, "spec", "strategy").retain_keys  # type: ignore[union-attr]
    assert walk(deployment, "metadata", "finalizers").list_type == "set"  # type: ignore[union-attr]
