"""openapi_fake_apiserver is a throwaway API server that lets the real kubectl read our OpenAPI documents."""

# It serves legacy discovery, /openapi/v2, /openapi/v3 and /openapi/v3/<gv> from
# kybernetes.api.openapi, plus a tiny object store (GET/POST/PATCH of single objects) so that
# `kubectl create|apply` can run far enough to show how they used the documents.  Plain HTTP on
# 127.0.0.1 and a random port; every request is logged for the tests to inspect.

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import orjson
from aiohttp import web

from kybernetes.api.openapi import OpenAPIResource, v2_response, v3_document, v3_index

STD = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class Served:
    """Served is a catalogue row: the OpenAPI view plus what discovery needs besides."""

    res: OpenAPIResource
    singular: str
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()


def _r(gv: str, kind: str, plural: str, namespaced: bool = True, subs: tuple[str, ...] = (),
       short: tuple[str, ...] = (), all_: bool = False, verbs: tuple[str, ...] = STD) -> Served:
    group, _, version = gv.rpartition("/")
    return Served(OpenAPIResource(group, version, kind, plural, namespaced, verbs, subs),
                  kind.lower(), short, ("all",) if all_ else ())


CATALOGUE: tuple[Served, ...] = (
    _r("v1", "Pod", "pods", subs=("status", "log", "exec", "attach", "portforward", "proxy", "binding",
                                  "eviction", "ephemeralcontainers", "resize"), short=("po",), all_=True),
    _r("v1", "Binding", "bindings", verbs=("create",)),
    _r("v1", "ReplicationController", "replicationcontrollers", subs=("status", "scale"), short=("rc",), all_=True),
    _r("v1", "Service", "services", subs=("status", "proxy"), short=("svc",), all_=True),
    _r("v1", "Endpoints", "endpoints", short=("ep",)),
    _r("v1", "Namespace", "namespaces", namespaced=False, subs=("status", "finalize"), short=("ns",),
       verbs=tuple(v for v in STD if v != "deletecollection")),
    _r("v1", "Node", "nodes", namespaced=False, subs=("status", "proxy"), short=("no",)),
    _r("v1", "Event", "events", short=("ev",)),
    _r("v1", "ConfigMap", "configmaps", short=("cm",)),
    _r("v1", "Secret", "secrets"),
    _r("v1", "PersistentVolume", "persistentvolumes", namespaced=False, subs=("status",), short=("pv",)),
    _r("v1", "PersistentVolumeClaim", "persistentvolumeclaims", subs=("status",), short=("pvc",)),
    _r("v1", "ServiceAccount", "serviceaccounts", subs=("token",), short=("sa",)),
    _r("apps/v1", "ReplicaSet", "replicasets", subs=("status", "scale"), short=("rs",), all_=True),
    _r("apps/v1", "DaemonSet", "daemonsets", subs=("status",), short=("ds",), all_=True),
    _r("apps/v1", "Deployment", "deployments", subs=("status", "scale"), short=("deploy",), all_=True),
    _r("apps/v1", "ControllerRevision", "controllerrevisions"),
    _r("apps/v1beta2", "ReplicaSet", "replicasets", subs=("status", "scale"), short=("rs",)),
    _r("apps/v1beta2", "DaemonSet", "daemonsets", subs=("status",), short=("ds",)),
    _r("apps/v1beta2", "Deployment", "deployments", subs=("status", "scale"), short=("deploy",)),
    _r("batch/v1", "Job", "jobs", subs=("status",), all_=True),
    _r("batch/v1", "CronJob", "cronjobs", subs=("status",), short=("cj",), all_=True),
    _r("batch/v1beta1", "CronJob", "cronjobs", subs=("status",), short=("cj",)),
    _r("networking.k8s.io/v1", "Ingress", "ingresses", subs=("status",), short=("ing",)),
    _r("networking.k8s.io/v1", "IngressClass", "ingressclasses", namespaced=False),
    _r("extensions/v1beta1", "Ingress", "ingresses", subs=("status",), short=("ing",)),
    _r("storage.k8s.io/v1", "StorageClass", "storageclasses", namespaced=False, short=("sc",)),
    _r("discovery.k8s.io/v1", "EndpointSlice", "endpointslices"),
    _r("coordination.k8s.io/v1", "Lease", "leases"),
    _r("events.k8s.io/v1", "Event", "events", short=("ev",)),
)

# Preferred version first: kubectl resolves plain names against the preferred version.
GROUP_VERSIONS: dict[str, list[str]] = {}
for _s in CATALOGUE:
    _versions = GROUP_VERSIONS.setdefault(_s.res.group, [])
    if _s.res.version not in _versions:
        _versions.append(_s.res.version)


def resources() -> list[OpenAPIResource]:
    return [s.res for s in CATALOGUE]


def _resource_list(group: str, version: str) -> dict:
    entries = []
    for s in CATALOGUE:
        r = s.res
        if (r.group, r.version) != (group, version):
            continue
        e = {"name": r.plural, "singularName": s.singular, "namespaced": r.namespaced,
             "kind": r.kind, "verbs": list(r.verbs)}
        if s.short_names:
            e["shortNames"] = list(s.short_names)
        if s.categories:
            e["categories"] = list(s.categories)
        entries.append(e)
        for sub in r.subresources:
            se = {"name": f"{r.plural}/{sub}", "singularName": "", "namespaced": r.namespaced,
                  "kind": r.kind, "verbs": ["get", "patch", "update"]}
            if sub == "scale":
                se.update(group="autoscaling", version="v1", kind="Scale")
            entries.append(se)
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": entries}


@dataclass
class FakeServer:
    """FakeServer is the running server: its URL, request log and stored objects."""

    url: str = ""
    requests: list[dict] = field(default_factory=list)
    objects: dict[str, dict] = field(default_factory=dict)
    minor: str = "32"


def _json(data: object, status: int = 200, content_type: str = "application/json") -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type=content_type)


def _not_found(what: str) -> web.Response:
    return _json({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                  "message": f"{what} not found", "reason": "NotFound", "code": 404}, 404)


def _app(state: FakeServer) -> web.Application:
    async def log_mw_handler(request: web.Request) -> web.Response:
        body = await request.read()
        state.requests.append({"method": request.method, "path": request.path,
                               "query": dict(request.query), "headers": dict(request.headers),
                               "body": body.decode(errors="replace")})
        return await route(request, body)

    async def route(request: web.Request, body: bytes) -> web.Response:
        path = request.path.rstrip("/")
        if path == "/version":
            return _json({"major": "1", "minor": state.minor, "gitVersion": f"v1.{state.minor}.0",
                          "gitCommit": "0" * 40, "gitTreeState": "clean",
                          "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.23.4",
                          "compiler": "gc", "platform": "linux/amd64"})
        if path == "/api":
            return _json({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})
        if path == "/apis":
            groups = []
            for g, versions in GROUP_VERSIONS.items():
                if not g:
                    continue
                vs = [{"groupVersion": f"{g}/{v}", "version": v} for v in versions]
                groups.append({"name": g, "versions": vs, "preferredVersion": vs[0]})
            return _json({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
        if path == "/api/v1":
            return _json(_resource_list("", "v1"))
        parts = path.split("/")
        if len(parts) == 4 and parts[1] == "apis":
            if parts[3] in GROUP_VERSIONS.get(parts[2], ()):
                return _json(_resource_list(parts[2], parts[3]))
            return _not_found(path)
        if path == "/openapi/v2":
            data, ctype = v2_response(request.headers.get("Accept", ""), resources())
            return web.Response(body=data, headers={"Content-Type": ctype})
        if path == "/openapi/v3":
            return _json(v3_index(resources()))
        if path.startswith("/openapi/v3/"):
            key = path.removeprefix("/openapi/v3/")
            bits = key.split("/")
            if bits[0] == "api" and len(bits) == 2:
                return web.Response(body=v3_document("", bits[1], resources()), content_type="application/json")
            if bits[0] == "apis" and len(bits) == 3:
                return web.Response(body=v3_document(bits[1], bits[2], resources()),
                                    content_type="application/json")
            return _not_found(path)
        return objects(request, path, body)

    def objects(request: web.Request, path: str, body: bytes) -> web.Response:
        if request.method == "GET":
            obj = state.objects.get(path)
            return _json(obj) if obj is not None else _not_found(path)
        if request.method == "POST":
            obj = orjson.loads(body)
            obj.setdefault("metadata", {}).setdefault("resourceVersion", "1")
            state.objects[f"{path}/{obj['metadata']['name']}"] = obj
            return _json(obj, 201)
        if request.method == "PATCH":
            obj = state.objects.get(path)
            return _json(obj) if obj is not None else _not_found(path)
        return _not_found(path)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", log_mw_handler)
    return app


@contextlib.contextmanager
def serve() -> Iterator[FakeServer]:
    """Run the fake server on 127.0.0.1:<random> in a background thread."""
    state = FakeServer()
    loop = asyncio.new_event_loop()
    started = threading.Event()
    runner = web.AppRunner(_app(state), access_log=None)

    async def start() -> None:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        state.url = f"http://127.0.0.1:{port}"
        started.set()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    started.wait(10)
    try:
        yield state
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
