"""PATCH requests: choosing the patch engine by Content-Type and wiring server-side apply's create-if-missing."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, Callable

import yaml

from kybernetes.api import errors
from kybernetes.api.duration import now_rfc3339
from kybernetes.apiserver import negotiation, schemas
from kybernetes.apiserver.patch import (
    ApplyConflictError,
    PatchError,
    SchemaNode,
    apply_json_patch,
    apply_merge_patch,
    apply_patch,
    apply_strategic_merge_patch,
)
from kybernetes.registry.base import Obj
from kybernetes.registry.catalog import Resource

if TYPE_CHECKING:
    from kybernetes.apiserver.app import APIServer, Route
    from kybernetes.apiserver.generic import RequestInfo


def _patch_error(exc: PatchError) -> errors.APIError:
    status = exc.status()
    return errors.APIError(status.get("message", str(exc)), int(status.get("code", 422)), status.get("reason", ""), status.get("details"))


def _decode_patch(raw: bytes, content_type: str) -> Any:
    if content_type == negotiation.APPLY_PATCH_YAML:
        try:
            return yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise errors.bad_request(f"error decoding YAML: {str(exc).splitlines()[0]}") from None
    return negotiation.decode_json(raw, "patch")


def build(
    server: "APIServer",
    r: Resource,
    route: "Route",
    raw: bytes,
    content_type: str,
    info: "RequestInfo",
    *,
    force: bool,
) -> tuple[Callable[[Obj], Obj], Callable[[], Obj] | None]:
    """(patch function over the served object, creator for apply on a missing object)."""
    if content_type == negotiation.APPLY_PATCH_CBOR:
        raise errors.unsupported_media_type(content_type, negotiation.PATCH_TYPES)
    if content_type not in negotiation.PATCH_TYPES:
        raise errors.unsupported_media_type(content_type, negotiation.PATCH_TYPES + [negotiation.APPLY_PATCH_CBOR])
    patch = _decode_patch(raw, content_type)
    schema = schemas.schema_for(r)

    def validated(obj: Obj) -> Obj:
        server.check_fields(r, obj, info)
        return obj

    if content_type == negotiation.JSON_PATCH:
        if not isinstance(patch, list):
            raise errors.bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")

        def fn(obj: Obj) -> Obj:
            try:
                return validated(apply_json_patch(obj, patch))
            except PatchError as exc:
                raise _patch_error(exc) from None

        return fn, None
    if not isinstance(patch, dict):
        raise errors.bad_request("the body of the request was not a JSON object")
    if content_type == negotiation.MERGE_PATCH:
        return (lambda obj: validated(apply_merge_patch(obj, patch))), None
    if content_type == negotiation.STRATEGIC_PATCH:

        def smp(obj: Obj) -> Obj:
            try:
                return validated(apply_strategic_merge_patch(obj, patch, schema))
            except PatchError as exc:
                raise _patch_error(exc) from None

        return smp, None
    # Server-side apply.
    if not info.field_manager:
        raise errors.invalid_error(
            "PatchOptions", "", [errors.required("fieldManager", "is required for apply patch")], "meta.k8s.io"
        )
    if patch.get("apiVersion") and patch.get("apiVersion") != r.api_version or patch.get("kind") and patch.get("kind") != r.kind:
        raise errors.bad_request(
            f"the API version in the data ({patch.get('apiVersion')}) does not match the expected API version ({r.api_version})"
        )
    meta = patch.get("metadata") or {}
    if meta.get("name") and meta["name"] != route.name:
        raise errors.bad_request(f"the name of the object ({meta['name']}) does not match the name on the URL ({route.name})")
    server.check_fields(r, patch, info)
    info.applying = True

    def ssa(live: Obj | None) -> Obj:
        try:
            return apply_patch(
                live, copy.deepcopy(patch), manager=info.field_manager, force=force, schema=schema,
                api_version=r.api_version, now=now_rfc3339(),
            )
        except ApplyConflictError as exc:
            raise _conflict(r, route.name or "", exc) from None
        except PatchError as exc:
            raise _patch_error(exc) from None

    def create() -> Obj:
        obj = ssa(None)
        obj.setdefault("metadata", {})["name"] = route.name
        obj["apiVersion"] = r.api_version
        obj["kind"] = r.kind
        return obj

    return ssa, create


def _conflict(r: Resource, name: str, exc: ApplyConflictError) -> errors.APIError:
    # Upstream's conflict Status carries only the causes in its details.
    return errors.APIError(str(exc), 409, "Conflict", {"causes": [c.cause() for c in exc.conflicts]})


def scale_patcher(raw: bytes, content_type: str) -> Callable[[Obj], Obj]:
    """A patch on /scale works on the Scale object: merge, strategic (same as merge for Scale) or JSON patch."""
    if content_type not in negotiation.PATCH_TYPES:
        raise errors.unsupported_media_type(content_type, negotiation.PATCH_TYPES)
    patch = _decode_patch(raw, content_type)
    if content_type == negotiation.JSON_PATCH:

        def fn(scale: Obj) -> Obj:
            try:
                return apply_json_patch(scale, patch)
            except PatchError as exc:
                raise _patch_error(exc) from None

        return fn
    if content_type == negotiation.STRATEGIC_PATCH:
        return lambda scale: apply_strategic_merge_patch(scale, patch, SchemaNode.empty())
    return lambda scale: apply_merge_patch(scale, patch)
