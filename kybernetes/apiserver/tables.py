"""Tables: the meta.k8s.io/v1 Table answers `kubectl get` asks for, built from each kind's columns."""

from __future__ import annotations

from typing import Any, Iterable

from kybernetes.registry.base import Obj
from kybernetes.registry.catalog import Resource

TABLE_CONTENT_TYPE = "application/json;as=Table;v=v1;g=meta.k8s.io"
TABLE_CONTENT_TYPE_BETA = "application/json;as=Table;v=v1beta1;g=meta.k8s.io"


def partial_metadata(obj: Obj) -> dict[str, Any]:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata") or {}}


def row(resource: Resource, obj: Obj, served: Obj, include_object: str) -> dict[str, Any]:
    """One row; `obj` is the storage version (cells), `served` the object in the request's version."""
    out: dict[str, Any] = {"cells": resource.strategy.row(obj)}
    if include_object == "Object":
        out["object"] = served
    elif include_object != "None":
        out["object"] = partial_metadata(served)
    return out


def table(
    resource: Resource,
    rows: Iterable[dict[str, Any]],
    *,
    resource_version: str,
    continue_token: str = "",
    remaining: int | None = None,
    beta: bool = False,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"resourceVersion": resource_version}
    if continue_token:
        meta["continue"] = continue_token
    if remaining:
        meta["remainingItemCount"] = remaining
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1beta1" if beta else "meta.k8s.io/v1",
        "metadata": meta,
        "columnDefinitions": [c.to_json() for c in resource.strategy.columns],
        "rows": list(rows),
    }
