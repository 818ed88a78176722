"""Schemas per served resource: the bridge from the OpenAPI definitions to patching, field checks and managedFields."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from kybernetes.api import openapi
from kybernetes.api.duration import now_rfc3339
from kybernetes.apiserver.patch import SchemaNode, update_managed_fields
from kybernetes.registry.base import Obj
from kybernetes.registry.catalog import Resource


@lru_cache(maxsize=None)
def _node(group: str, version: str, kind: str) -> SchemaNode:
    name = openapi.definition_name(group, version, kind)
    if name is None:
        return SchemaNode.empty()
    return SchemaNode.for_definition(openapi.definitions(), name)


def schema_for(resource: Resource) -> SchemaNode:
    """The schema of the resource in its served version (what patches are written against)."""
    return _node(resource.group, resource.version, resource.kind)


def storage_schema_for(resource: Resource) -> SchemaNode:
    strategy = resource.strategy
    return _node(strategy.group, strategy.version, strategy.kind)


def record_update(resource: Resource, old: Obj | None, new: Obj, *, manager: str, subresource: str | None) -> None:
    """Record in new.metadata.managedFields that `manager` set the fields this write changed."""
    update_managed_fields(
        old,
        new,
        manager=manager,
        operation="Update",
        schema=storage_schema_for(resource),
        api_version=resource.api_version,
        now=now_rfc3339(),
        subresource=subresource,
    )


def check_fields(resource: Resource, obj: Any) -> Any:
    return openapi.check_fields(obj, resource.group, resource.version, resource.kind)
