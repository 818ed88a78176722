"""documents builds the /openapi/v2 and /openapi/v3 answers for a set of served resources."""

# What kubectl does with them (reference §3): from the v3 group-version document it decides whether
# server-side field validation is available (a `patch` operation whose
# x-kubernetes-group-version-kind matches and which declares a `fieldValidation` parameter), reads
# patch strategies for client-side apply (the schema carrying the GVK in components.schemas, and the
# application/strategic-merge-patch+json request type of the patch operation), and walks the
# schemas for `kubectl explain`.
#
# Verified with the real binaries: kubectl 1.27–1.33 explain from v3; 1.29–1.33 compute
# client-side apply patches from the v3 patch metadata (x-kubernetes-patch-strategy/-merge-key),
# 1.27–1.28 from their compiled-in types because /openapi/v2 is answered with an empty protobuf
# document when the client asks for protobuf (every kubectl does).  A JSON client gets a real
# swagger 2.0 document.

from __future__ import annotations

import copy
import functools
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson

from kybernetes import __version__
from kybernetes.api.openapi import OpenAPIResource, definition_name, definitions

V2_PROTOBUF_CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
JSON_CONTENT_TYPE = "application/json"

META = "io.k8s.apimachinery.pkg.apis.meta.v1"
STATUS = f"{META}.Status"
DELETE_OPTIONS = f"{META}.DeleteOptions"
PATCH = f"{META}.Patch"

PATCH_TYPES = (
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
)
OBJECT_TYPES = ("application/json", "application/yaml", "application/vnd.kubernetes.protobuf")
LIST_TYPES = OBJECT_TYPES + ("application/json;stream=watch", "application/vnd.kubernetes.protobuf;stream=watch")
BODY_TYPES = ("*/*",)

# Query parameters: name -> (JSON type, our one-line description or "").
QUERY_PARAMETERS: dict[str, tuple[str, str]] = {
    "dryRun": ("string", "If 'All', run every stage of the request but persist nothing."),
    "fieldManager": ("string", "Name of the actor making the change, recorded in managedFields."),
    "fieldValidation": ("string", "Ignore, Warn or Strict: what to do with unknown or duplicate fields."),
    "force": ("boolean", "Server-side apply only: take over fields owned by other managers."),
    "gracePeriodSeconds": ("integer", "Seconds to wait before the object is deleted."),
    "ignoreStoreReadErrorWithClusterBreakingPotential": ("boolean", ""),
    "orphanDependents": ("boolean", "Deprecated: use propagationPolicy."),
    "propagationPolicy": ("string", "Orphan, Background or Foreground garbage collection of dependents."),
    "allowWatchBookmarks": ("boolean", ""),
    "continue": ("string", "Continue token from the previous page of a list."),
    "fieldSelector": ("string", "Restrict the list by field values."),
    "labelSelector": ("string", "Restrict the list by labels."),
    "limit": ("integer", "Maximum number of items to return in one page."),
    "resourceVersion": ("string", ""),
    "resourceVersionMatch": ("string", ""),
    "sendInitialEvents": ("boolean", ""),
    "timeoutSeconds": ("integer", ""),
    "watch": ("boolean", "Stream changes instead of returning a list."),
    "pretty": ("string", "If 'true', indent the output."),
    "container": ("string", "The container to use; needed when the pod has several."),
    "follow": ("boolean", "Keep the stream open and follow new log lines."),
    "insecureSkipTLSVerifyBackend": ("boolean", ""),
    "limitBytes": ("integer", ""),
    "previous": ("boolean", "Logs of the previous, terminated container instance."),
    "sinceSeconds": ("integer", ""),
    "stream": ("string", ""),
    "tailLines": ("integer", ""),
    "timestamps": ("boolean", ""),
    "command": ("string", ""),
    "stdin": ("boolean", ""),
    "stdout": ("boolean", ""),
    "stderr": ("boolean", ""),
    "tty": ("boolean", ""),
    "ports": ("integer", ""),
    "path": ("string", ""),
}

WRITE_QUERY = ("dryRun", "fieldManager", "fieldValidation")
PATCH_QUERY = WRITE_QUERY + ("force",)
DELETE_QUERY = ("dryRun", "gracePeriodSeconds", "ignoreStoreReadErrorWithClusterBreakingPotential",
                "orphanDependents", "propagationPolicy")
LIST_QUERY = ("allowWatchBookmarks", "continue", "fieldSelector", "labelSelector", "limit",
              "resourceVersion", "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds", "watch")
LOG_QUERY = ("container", "follow", "insecureSkipTLSVerifyBackend", "limitBytes", "previous",
             "sinceSeconds", "stream", "tailLines", "timestamps")
EXEC_QUERY = ("command", "container", "stderr", "stdin", "stdout", "tty")

# Subresources whose body is another kind than the parent's: name -> (group, version, kind).
SUBRESOURCE_KINDS: dict[str, tuple[str, str, str]] = {
    "scale": ("autoscaling", "v1", "Scale"),
    "binding": ("", "v1", "Binding"),
    "eviction": ("policy", "v1", "Eviction"),
    "token": ("authentication.k8s.io", "v1", "TokenRequest"),
}
CONNECT_KINDS: dict[str, str] = {
    "exec": "PodExecOptions",
    "attach": "PodAttachOptions",
    "portforward": "PodPortForwardOptions",
}
PROXY_KINDS: dict[str, str] = {"Pod": "PodProxyOptions", "Node": "NodeProxyOptions",
                               "Service": "ServiceProxyOptions"}


@dataclass(frozen=True)
class Operation:
    """Operation is one HTTP method on one path, independent of the OpenAPI version."""

    method: str
    action: str
    operation_id: str
    gvk: tuple[str, str, str] | None
    query: tuple[str, ...] = ()
    body: str | None = None                       # definition name of the request body
    body_types: tuple[str, ...] = BODY_TYPES
    responses: tuple[tuple[str, str | None], ...] = ()   # (code, definition name | "string" | None)
    produces: tuple[str, ...] = OBJECT_TYPES


@dataclass
class PathItem:
    """PathItem is one URL template and its operations."""

    path: str
    path_params: tuple[str, ...]
    operations: list[Operation] = field(default_factory=list)


def _group_title(group: str, version: str) -> str:
    """Upstream's operationId prefix, e.g. CoreV1, NetworkingV1, RbacAuthorizationV1."""
    if not group:
        return "Core" + version.capitalize()
    words = group.removesuffix(".k8s.io").split(".")
    return "".join(w[:1].upper() + w[1:] for w in words) + version.capitalize()


def _tag(group: str, version: str) -> str:
    title = _group_title(group, version)
    head = title[: len(title) - len(version)]
    return head[:1].lower() + head[1:] + "_" + version


def _prefix(group: str, version: str) -> str:
    return f"/apis/{group}/{version}" if group else f"/api/{version}"


def _doc_key(group: str, version: str) -> str:
    return _prefix(group, version).lstrip("/")


def resource_paths(r: OpenAPIResource) -> list[PathItem]:
    """Every path item upstream would publish for resource `r`."""
    gvk = (r.group, r.version, r.kind)
    kind_def = definition_name(*gvk)
    list_def = definition_name(r.group, r.version, r.kind + "List")
    title = _group_title(r.group, r.version)
    ns = "Namespaced" if r.namespaced else ""
    verbs = set(r.verbs)
    base = _prefix(r.group, r.version)
    coll = f"{base}/namespaces/{{namespace}}/{r.plural}" if r.namespaced else f"{base}/{r.plural}"
    coll_params = ("namespace", "pretty") if r.namespaced else ("pretty",)
    item_params = ("name",) + coll_params
    items: list[PathItem] = []

    c = PathItem(coll, coll_params)
    if "list" in verbs:
        c.operations.append(Operation(
            "get", "list", f"list{title}{ns}{r.kind}", gvk, LIST_QUERY,
            responses=(("200", list_def), ("401", None)), produces=LIST_TYPES))
    if "create" in verbs:
        c.operations.append(Operation(
            "post", "post", f"create{title}{ns}{r.kind}", gvk, WRITE_QUERY, body=kind_def,
            responses=(("200", kind_def), ("201", kind_def), ("202", kind_def), ("401", None))))
    if "deletecollection" in verbs:
        c.operations.append(Operation(
            "delete", "deletecollection", f"deleteCollection{title}{ns}{r.kind}", gvk,
            DELETE_QUERY + tuple(q for q in LIST_QUERY if q not in ("watch", "allowWatchBookmarks")),
            body=DELETE_OPTIONS, responses=(("200", STATUS), ("401", None))))
    if c.operations:
        items.append(c)

    if r.namespaced and "list" in verbs:
        items.append(PathItem(f"{base}/{r.plural}", ("pretty",), [Operation(
            "get", "list", f"list{title}{r.kind}ForAllNamespaces", gvk, LIST_QUERY,
            responses=(("200", list_def), ("401", None)), produces=LIST_TYPES)]))

    item = PathItem(f"{coll}/{{name}}", item_params)
    _item_ops(item, verbs, title + ns + r.kind, gvk, kind_def, deletable=True)
    if item.operations:
        items.append(item)

    for sub in r.subresources:
        sub_item = PathItem(f"{coll}/{{name}}/{sub}", item_params)
        suffix = sub[:1].upper() + sub[1:]
        op_base = title + ns + r.kind + suffix
        if sub in ("status", "ephemeralcontainers", "resize"):
            _item_ops(sub_item, {"get", "update", "patch"}, op_base, gvk, kind_def, deletable=False)
        elif sub == "scale":
            sgvk = SUBRESOURCE_KINDS[sub]
            _item_ops(sub_item, {"get", "update", "patch"}, op_base, sgvk, definition_name(*sgvk),
                      deletable=False)
        elif sub == "finalize":
            sub_item.operations.append(Operation(
                "put", "put", f"replace{op_base}", gvk, WRITE_QUERY, body=kind_def,
                responses=(("200", kind_def), ("201", kind_def), ("401", None))))
        elif sub in SUBRESOURCE_KINDS:
            sgvk = SUBRESOURCE_KINDS[sub]
            sdef = definition_name(*sgvk)
            sub_item.operations.append(Operation(
                "post", "post", f"create{op_base}", sgvk, WRITE_QUERY, body=sdef,
                responses=(("200", sdef), ("201", sdef), ("202", sdef), ("401", None))))
        elif sub == "log":
            sub_item.operations.append(Operation(
                "get", "get", f"read{op_base}", gvk, LOG_QUERY,
                responses=(("200", "string"), ("401", None)), produces=("text/plain",)))
        elif sub in CONNECT_KINDS or sub == "proxy":
            ckind = CONNECT_KINDS.get(sub) or PROXY_KINDS.get(r.kind, "ProxyOptions")
            query = {"exec": EXEC_QUERY, "attach": EXEC_QUERY[1:], "portforward": ("ports",),
                     "proxy": ("path",)}[sub]
            for method in ("get", "post"):
                sub_item.operations.append(Operation(
                    method, "connect", f"connect{method.capitalize()}{op_base}",
                    (r.group, r.version, ckind), query,
                    responses=(("200", "string"), ("401", None)), produces=("*/*",)))
        if sub_item.operations:
            items.append(sub_item)
    return items


def _item_ops(item: PathItem, verbs: set[str], op_base: str, gvk: tuple[str, str, str],
              kind_def: str | None, *, deletable: bool) -> None:
    if "get" in verbs:
        item.operations.append(Operation(
            "get", "get", f"read{op_base}", gvk, responses=(("200", kind_def), ("401", None))))
    if "update" in verbs:
        item.operations.append(Operation(
            "put", "put", f"replace{op_base}", gvk, WRITE_QUERY, body=kind_def,
            responses=(("200", kind_def), ("201", kind_def), ("401", None))))
    if "patch" in verbs:
        item.operations.append(Operation(
            "patch", "patch", f"patch{op_base}", gvk, PATCH_QUERY, body=PATCH,
            body_types=PATCH_TYPES, responses=(("200", kind_def), ("201", kind_def), ("401", None))))
    if deletable and "delete" in verbs:
        item.operations.append(Operation(
            "delete", "delete", f"delete{op_base}", gvk, DELETE_QUERY, body=DELETE_OPTIONS,
            responses=(("200", kind_def), ("202", kind_def), ("401", None))))


def _referenced(names: Iterable[str]) -> list[str]:
    """`names` and every definition they reach, in a stable order."""
    defs = definitions()
    seen: set[str] = set()
    stack = [n for n in names if n in defs]
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        stack.extend(r for r in _refs_of(n) if r not in seen)
    return sorted(seen)


@functools.cache
def _refs_of(name: str) -> tuple[str, ...]:
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                found.append(ref.rpartition("/")[2])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(definitions()[name])
    return tuple(dict.fromkeys(found))


def _operation_definitions(items: list[PathItem]) -> set[str]:
    names = {STATUS}
    for item in items:
        for op in item.operations:
            if op.body:
                names.add(op.body)
            names.update(d for _, d in op.responses if d and d != "string")
    return names


# --- OpenAPI v3 -------------------------------------------------------------------------------

# Builtin scalar types are published as one-of unions in v3, as upstream does.
V3_SCALARS: dict[str, dict] = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {
        "format": "int-or-string", "oneOf": [{"type": "integer"}, {"type": "string"}]},
    "io.k8s.apimachinery.pkg.api.resource.Quantity": {
        "oneOf": [{"type": "string"}, {"type": "number"}]},
}


def _v3_schema(node: object) -> object:
    """A v2 schema rewritten for v3: component refs, and allOf where a ref has siblings."""
    if isinstance(node, list):
        return [_v3_schema(x) for x in node]
    if not isinstance(node, dict):
        return node
    out: dict = {}
    for k, v in node.items():
        if k == "$ref" and isinstance(v, str):
            out[k] = "#/components/schemas/" + v.rpartition("/")[2]
        elif k == "properties":
            out[k] = {name: _v3_schema(s) for name, s in v.items()}
        elif k in ("items", "additionalProperties"):
            out[k] = _v3_schema(v)
        else:
            out[k] = copy.deepcopy(v)
    if "$ref" in out and len(out) > 1 and isinstance(out["$ref"], str):
        ref = out.pop("$ref")
        out = {"allOf": [{"$ref": ref}], **out}
    return out


@functools.cache
def _v3_component(name: str) -> dict:
    if name in V3_SCALARS:
        return V3_SCALARS[name]
    return _v3_schema(definitions()[name])  # type: ignore[return-value]


def _v3_parameter(name: str, where: str = "query") -> dict:
    typ, text = QUERY_PARAMETERS.get(name, ("string", ""))
    p: dict = {"name": name, "in": where}
    if text:
        p["description"] = text
    if where == "path":
        p["required"] = True
    p["schema"] = {"type": typ, "uniqueItems": True}
    return p


def _v3_ref(name: str | None) -> dict:
    if name == "string":
        return {"type": "string"}
    if name is None:
        return {"type": "object"}
    return {"$ref": f"#/components/schemas/{name}"}


def _v3_operation(op: Operation, tag: str) -> dict:
    out: dict = {"tags": [tag], "operationId": op.operation_id}
    if op.query:
        out["parameters"] = [_v3_parameter(q) for q in op.query]
    if op.body:
        out["requestBody"] = {
            "content": {t: {"schema": _v3_ref(op.body)} for t in op.body_types},
            "required": op.method != "delete"}
    responses: dict = {}
    for code, d in op.responses:
        text = {"200": "OK", "201": "Created", "202": "Accepted", "401": "Unauthorized"}[code]
        responses[code] = {"description": text}
        if d is not None:
            responses[code]["content"] = {t: {"schema": _v3_ref(d)} for t in op.produces}
    out["responses"] = responses
    out["x-kubernetes-action"] = op.action
    if op.gvk is not None:
        g, v, k = op.gvk
        out["x-kubernetes-group-version-kind"] = {"group": g, "kind": k, "version": v}
    return out


def _path_parameter(name: str) -> dict:
    if name == "pretty":
        return _v3_parameter("pretty")
    text = {"name": "The object's name.", "namespace": "The namespace of the objects."}[name]
    return {"name": name, "in": "path", "description": text, "required": True,
            "schema": {"type": "string", "uniqueItems": True}}


@functools.lru_cache(maxsize=128)  # bounded: the served set changes with CRDs
def _v3_document_cached(group: str, version: str, resources: tuple[OpenAPIResource, ...]) -> bytes:
    tag = _tag(group, version)
    items = [item for r in resources for item in resource_paths(r)]
    paths: dict = {}
    for item in sorted(items, key=lambda i: i.path):
        entry: dict = {op.method: _v3_operation(op, tag) for op in item.operations}
        entry["parameters"] = [_path_parameter(p) for p in item.path_params]
        paths[item.path] = entry
    schemas = {n: _v3_component(n) for n in _referenced(_operation_definitions(items))}
    doc = {
        "openapi": "3.0.0",
        "info": {"title": "Kybernetes", "version": f"v{__version__}"},
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {
            "BearerToken": {"type": "apiKey", "name": "authorization", "in": "header",
                            "description": "Bearer token: 'authorization: Bearer <token>'."}}},
        "security": [{"BearerToken": []}],
    }
    return orjson.dumps(doc)


def _by_group_version(resources: Iterable[OpenAPIResource]) -> dict[tuple[str, str], tuple[OpenAPIResource, ...]]:
    grouped: dict[tuple[str, str], list[OpenAPIResource]] = {}
    for r in resources:
        grouped.setdefault((r.group, r.version), []).append(r)
    return {gv: tuple(sorted(rs, key=lambda r: r.plural)) for gv, rs in sorted(grouped.items())}


def v3_document(group: str, version: str, resources: Iterable[OpenAPIResource]) -> bytes:
    """The OpenAPI 3.0 document (JSON bytes) of one group version; cached per resource set."""
    mine = _by_group_version(r for r in resources if (r.group, r.version) == (group, version))
    return _v3_document_cached(group, version, mine.get((group, version), ()))


def v3_hash(document: bytes) -> str:
    """The content hash kubectl sees in the index and sends back as `?hash=`."""
    return hashlib.sha512(document).hexdigest().upper()


def v3_index(resources: Iterable[OpenAPIResource]) -> dict:
    """The `/openapi/v3` discovery document: one entry per served group version."""
    paths: dict[str, dict] = {}
    for (group, version), rs in _by_group_version(resources).items():
        key = _doc_key(group, version)
        paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={_v3_hash_cached(group, version, rs)}"}
    return {"paths": paths}


@functools.lru_cache(maxsize=128)
def _v3_hash_cached(group: str, version: str, resources: tuple[OpenAPIResource, ...]) -> str:
    return v3_hash(_v3_document_cached(group, version, resources))


# --- OpenAPI v2 -------------------------------------------------------------------------------

def _v2_parameter(name: str, where: str = "query") -> dict:
    typ, text = QUERY_PARAMETERS.get(name, ("string", ""))
    p: dict = {"uniqueItems": True, "type": typ, "name": name, "in": where}
    if text:
        p["description"] = text
    if where == "path":
        p["required"] = True
    return p


def _v2_operation(op: Operation, tag: str) -> dict:
    out: dict = {"tags": [tag], "operationId": op.operation_id, "schemes": ["https"],
                 "produces": list(op.produces)}
    out["consumes"] = list(op.body_types)
    params = []
    if op.body:
        params.append({"name": "body", "in": "body", "required": op.method != "delete",
                       "schema": {"$ref": f"#/definitions/{op.body}"}})
    params.extend(_v2_parameter(q) for q in op.query)
    if params:
        out["parameters"] = params
    responses: dict = {}
    for code, d in op.responses:
        text = {"200": "OK", "201": "Created", "202": "Accepted", "401": "Unauthorized"}[code]
        responses[code] = {"description": text}
        if d == "string":
            responses[code]["schema"] = {"type": "string"}
        elif d is not None:
            responses[code]["schema"] = {"$ref": f"#/definitions/{d}"}
    out["responses"] = responses
    out["x-kubernetes-action"] = op.action
    if op.gvk is not None:
        g, v, k = op.gvk
        out["x-kubernetes-group-version-kind"] = {"group": g, "kind": k, "version": v}
    return out


@functools.lru_cache(maxsize=8)
def _v2_document_cached(resources: tuple[OpenAPIResource, ...]) -> bytes:
    paths: dict = {}
    for (group, version), rs in _by_group_version(resources).items():
        tag = _tag(group, version)
        for item in sorted((i for r in rs for i in resource_paths(r)), key=lambda i: i.path):
            entry: dict = {op.method: _v2_operation(op, tag) for op in item.operations}
            entry["parameters"] = [
                _v2_parameter(p, "query" if p == "pretty" else "path") for p in item.path_params]
            paths[item.path] = entry
    doc = {
        "swagger": "2.0",
        "info": {"title": "Kybernetes", "version": f"v{__version__}"},
        "paths": dict(sorted(paths.items())),
        "definitions": definitions(),
        "securityDefinitions": {"BearerToken": {
            "type": "apiKey", "name": "authorization", "in": "header"}},
        "security": [{"BearerToken": []}],
    }
    return orjson.dumps(doc)


def _canonical(resources: Iterable[OpenAPIResource]) -> tuple[OpenAPIResource, ...]:
    return tuple(sorted(set(resources), key=lambda r: (r.group, r.version, r.plural)))


def v2_document_json(resources: Iterable[OpenAPIResource]) -> bytes:
    """A swagger 2.0 document (JSON bytes) with every definition and the resources' paths."""
    return _v2_document_cached(_canonical(resources))


def v2_document(resources: Iterable[OpenAPIResource]) -> bytes:
    """What `/openapi/v2` returns to protobuf clients: an empty (valid) OpenAPIv2 message.

    kubectl 1.27–1.33 accept it for create/apply/replace and then fall back to their compiled-in
    patch metadata; explain and validation use v3.  See the comment at the top of this module.
    """
    del resources  # the empty document describes no resource
    return b""


def v2_response(accept: str, resources: Iterable[OpenAPIResource]) -> tuple[bytes, str]:
    """Body and Content-Type for `GET /openapi/v2` given the request's Accept header."""
    wanted = [part.split(";")[0].strip().lower() for part in (accept or "").split(",")]
    for media in wanted:
        if "protobuf" in media:
            # Never echo the "…spec.v2@v1.0+protobuf" spelling: Go's MIME parser rejects it.
            return v2_document(resources), V2_PROTOBUF_CONTENT_TYPE
        if media in ("application/json", "application/*", "*/*", ""):
            return v2_document_json(resources), JSON_CONTENT_TYPE
    return v2_document_json(resources), JSON_CONTENT_TYPE
