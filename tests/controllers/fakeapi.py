"""FakeAPI and Driver: an in-memory API server behind the client's transport seam, and a driver for controller tests."""

from __future__ import annotations

import asyncio
import copy
import itertools
from typing import Any, AsyncIterator, Callable

import orjson

from kybernetes.client.informer import SharedInformerFactory
from kybernetes.client.rest import Request, ResourceRef, Response
from kybernetes.client.workqueue import WorkQueue

Obj = dict[str, Any]
VERBS = frozenset({"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"})

NAMESPACES = ResourceRef("", "v1", "namespaces", False, "Namespace", VERBS - {"deletecollection"})
CONFIGMAPS = ResourceRef("", "v1", "configmaps", True, "ConfigMap", VERBS)
PODS = ResourceRef("", "v1", "pods", True, "Pod", VERBS)
NODES = ResourceRef("", "v1", "nodes", False, "Node", VERBS)
EVENTS = ResourceRef("", "v1", "events", True, "Event", VERBS)
DEPLOYMENTS = ResourceRef("apps", "v1", "deployments", True, "Deployment", VERBS)
REPLICASETS = ResourceRef("apps", "v1", "replicasets", True, "ReplicaSet", VERBS)
# A resource without deletecollection, so the namespace controller has to delete one by one.
WIDGETS = ResourceRef("example.com", "v1", "widgets", True, "Widget", VERBS - {"deletecollection"})
ALL = [NAMESPACES, CONFIGMAPS, PODS, NODES, EVENTS, DEPLOYMENTS, REPLICASETS, WIDGETS]


def status(code: int, reason: str, message: str) -> Response:
    return Response(code, orjson.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                        "reason": reason, "message": message, "code": code}))


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply an RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


class FakeAPI:
    """FakeAPI serves discovery, CRUD, merge patch, deletecollection and the deletion rules of §9.4 from memory.

    It records every request as (method, resource, "namespace/name", detail) in `actions`.
    """

    def __init__(self, refs: list[ResourceRef] = ALL) -> None:
        self.refs = list(refs)
        self.objects: dict[ResourceRef, dict[tuple[str, str], Obj]] = {r: {} for r in refs}
        self.actions: list[tuple[str, str, str, Any]] = []
        self.failing_paths: set[str] = set()
        self._rv = itertools.count(1)
        self._uid = itertools.count(1)

    # -- direct access for tests -----------------------------------------------------------

    def add(self, ref: ResourceRef, name: str, namespace: str = "", *, owners: list[Obj] = (), uid: str | None = None,
            finalizers: list[str] = (), **fields: Any) -> Obj:
        meta: Obj = {"name": name, "uid": uid or f"uid-{name}-{next(self._uid)}", "resourceVersion": str(next(self._rv))}
        if namespace:
            meta["namespace"] = namespace
        if owners:
            meta["ownerReferences"] = list(owners)
        if finalizers:
            meta["finalizers"] = list(finalizers)
        obj = {"apiVersion": ref.api_version, "kind": ref.kind, "metadata": meta, **fields}
        if ref == NAMESPACES:
            obj.setdefault("spec", {"finalizers": ["kubernetes"]})
            obj.setdefault("status", {"phase": "Active"})
        self.objects[ref][(namespace, name)] = obj
        return obj

    def get(self, ref: ResourceRef, name: str, namespace: str = "") -> Obj | None:
        return self.objects[ref].get((namespace, name))

    def names(self, ref: ResourceRef) -> list[str]:
        return sorted(name for _, name in self.objects[ref])

    def writes(self) -> list[tuple[str, str, str, Any]]:
        return [a for a in self.actions if a[0] not in ("GET", "LIST")]

    def delete_now(self, ref: ResourceRef, name: str, namespace: str = "", policy: str = "Background") -> None:
        obj = self.get(ref, name, namespace)
        assert obj is not None
        self._delete(ref, namespace, obj, None, {"propagationPolicy": policy})

    # -- the transport ---------------------------------------------------------------------

    async def __call__(self, request: Request) -> Response:
        if request.path in self.failing_paths:
            return status(503, "ServiceUnavailable", "down")
        if request.query.get("watch") == "true":
            return Response(200, self._quiet_watch())  # tests drive caches with Driver, not watches
        body = orjson.loads(request.body) if request.body else None
        discovery = self._discovery(request.path)
        if discovery is not None:
            return Response(200, orjson.dumps(discovery))
        ref, namespace, name, sub = self._route(request.path)
        if ref is None:
            return status(404, "NotFound", "the server could not find the requested resource")
        where = "/".join(p for p in (namespace, name) if p)
        verb = {"GET": "LIST" if name is None else "GET"}.get(request.method, request.method)
        detail = body.get("propagationPolicy") if verb == "DELETE" and body else (sub or body if verb != "GET" else None)
        self.actions.append((verb, ref.plural, where, detail))
        handler: Callable[..., Response] = getattr(self, f"_{request.method.lower()}")
        return handler(ref, namespace, name, sub, body, request)

    async def _quiet_watch(self) -> AsyncIterator[bytes]:
        await asyncio.Event().wait()
        yield b""

    def _discovery(self, path: str) -> Obj | None:
        if path == "/api":
            return {"kind": "APIVersions", "versions": ["v1"]}
        groups = sorted({r.group for r in self.refs if r.group})
        if path == "/apis":
            return {"kind": "APIGroupList", "groups": [
                {"name": g, "versions": [{"groupVersion": f"{g}/v1", "version": "v1"}],
                 "preferredVersion": {"groupVersion": f"{g}/v1", "version": "v1"}} for g in groups]}
        for group in [""] + groups:
            gv = f"{group}/v1" if group else "v1"
            if path == ("/api/v1" if not group else f"/apis/{gv}"):
                return {"kind": "APIResourceList", "groupVersion": gv, "resources": [
                    {"name": r.plural, "namespaced": r.namespaced, "kind": r.kind, "verbs": sorted(r.verbs)}
                    for r in self.refs if r.group == group]}
        return None

    def _route(self, path: str) -> tuple[ResourceRef | None, str, str | None, str | None]:
        parts = path.strip("/").split("/")
        group, rest = ("", parts[2:]) if parts[0] == "api" else (parts[1], parts[3:])
        by_plural = {r.plural: r for r in self.refs if r.group == group}
        namespace = ""
        if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] in by_plural and by_plural[rest[2]].namespaced:
            namespace, rest = rest[1], rest[2:]
        ref = by_plural.get(rest[0]) if rest else None
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        return ref, namespace, name, sub

    def _ok(self, obj: Obj, code: int = 200) -> Response:
        return Response(code, orjson.dumps(obj))

    def _missing(self, ref: ResourceRef, name: str | None) -> Response:
        return status(404, "NotFound", f'{ref.plural} "{name}" not found')

    def _get(self, ref: ResourceRef, namespace: str, name: str | None, sub: str | None, body: Any, request: Request) -> Response:
        if name is None:
            items = [o for (ns, _), o in sorted(self.objects[ref].items()) if not namespace or ns == namespace]
            return self._ok({"kind": f"{ref.kind}List", "metadata": {"resourceVersion": str(next(self._rv))}, "items": items})
        obj = self.get(ref, name, namespace)
        return self._ok(obj) if obj is not None else self._missing(ref, name)

    def _post(self, ref: ResourceRef, namespace: str, name: str | None, sub: str | None, body: Any, request: Request) -> Response:
        obj = self.add(ref, body["metadata"]["name"], namespace, **{k: v for k, v in body.items() if k not in ("metadata", "apiVersion", "kind")})
        return self._ok(obj, 201)

    def _put(self, ref: ResourceRef, namespace: str, name: str | None, sub: str | None, body: Any, request: Request) -> Response:
        obj = self.get(ref, name or "", namespace)
        if obj is None:
            return self._missing(ref, name)
        if body["metadata"].get("resourceVersion") not in (None, obj["metadata"]["resourceVersion"]):
            return status(409, "Conflict", "the object has been modified")
        updated = copy.deepcopy(obj)
        if sub == "status":
            updated["status"] = body.get("status")
        elif sub == "finalize":
            updated["spec"] = {**updated.get("spec", {}), "finalizers": body.get("spec", {}).get("finalizers", [])}
        else:
            updated = {**body, "metadata": {**body["metadata"], "uid": obj["metadata"]["uid"]}}
        return self._store(ref, namespace, updated)

    def _patch(self, ref: ResourceRef, namespace: str, name: str | None, sub: str | None, body: Any, request: Request) -> Response:
        assert request.headers["Content-Type"] == "application/merge-patch+json"
        obj = self.get(ref, name or "", namespace)
        if obj is None:
            return self._missing(ref, name)
        wanted_rv = (body.get("metadata") or {}).get("resourceVersion")
        if wanted_rv not in (None, obj["metadata"]["resourceVersion"]):
            return status(409, "Conflict", "the object has been modified")
        return self._store(ref, namespace, merge_patch(obj, body))

    def _store(self, ref: ResourceRef, namespace: str, obj: Obj) -> Response:
        meta = obj["metadata"]
        meta["resourceVersion"] = str(next(self._rv))
        spec_finalizers = (obj.get("spec") or {}).get("finalizers") if ref == NAMESPACES else None
        if meta.get("deletionTimestamp") and not meta.get("finalizers") and not spec_finalizers:
            del self.objects[ref][(namespace, meta["name"])]
        else:
            self.objects[ref][(namespace, meta["name"])] = obj
        return self._ok(obj)

    def _delete(self, ref: ResourceRef, namespace: str, name: Any, sub: str | None = None, body: Any = None,
                request: Request | None = None) -> Response:
        if name is None:  # deletecollection
            for (ns, n), obj in list(self.objects[ref].items()):
                if ns == namespace:
                    self._delete(ref, namespace, obj, None, body)
            return self._ok({"kind": f"{ref.kind}List", "items": []})
        obj = self.get(ref, name, namespace) if isinstance(name, str) else name
        if obj is None:
            return self._missing(ref, name)
        options = body if isinstance(body, dict) else {"propagationPolicy": body or "Background"}
        if (options.get("preconditions") or {}).get("uid") not in (None, obj["metadata"]["uid"]):
            return status(409, "Conflict", "Precondition failed: UID in precondition does not match")
        obj = copy.deepcopy(obj)
        meta = obj["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        policy = options.get("propagationPolicy") or "Background"
        if ref == NAMESPACES:
            obj["status"] = {**obj.get("status", {}), "phase": "Terminating"}
        elif not meta.get("deletionTimestamp"):
            if policy == "Foreground" and "foregroundDeletion" not in finalizers:
                finalizers.append("foregroundDeletion")
            if policy == "Orphan" and "orphan" not in finalizers:
                finalizers.append("orphan")
        if finalizers:
            meta["finalizers"] = finalizers
        meta.setdefault("deletionTimestamp", "2024-01-01T00:00:00Z")
        return self._store(ref, namespace, obj)


def owner_ref(owner: Obj, *, block: bool = False, controller: bool = True) -> Obj:
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": controller, "blockOwnerDeletion": block}


class Driver:
    """Driver mirrors the fake API into the informer caches (as watches would) and syncs queued keys, in rounds."""

    def __init__(self, api: FakeAPI, informers: SharedInformerFactory, queue: WorkQueue[str],
                 sync: Callable[[str], Any]) -> None:
        self.api, self.informers, self.queue, self.sync = api, informers, queue, sync
        self.requeued: list[tuple[str, float]] = []

    def mirror(self) -> None:
        for ref, informer in self.informers.informers.items():
            items = [copy.deepcopy(o) for o in self.api.objects.get(ref, {}).values()]
            informer.replace(items, "1")

    async def settle(self, rounds: int = 30) -> None:
        """Alternate mirroring and syncing until nothing is queued; keys asking for a requeue run next round."""
        for _ in range(rounds):
            self.mirror()
            again = []
            if not len(self.queue):
                return
            while len(self.queue):
                key = await self.queue.get()
                try:
                    delay = await self.sync(key)
                finally:
                    self.queue.done(key)
                if delay is not None:
                    self.requeued.append((key, delay))
                    again.append(key)
            for key in again:
                self.queue.add(key)
        raise AssertionError(f"did not settle in {rounds} rounds; actions: {self.api.actions[-20:]}")
