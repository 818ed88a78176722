"""The HTTP face of the API server: routing every Kubernetes path to discovery, CRUD, watch and subresources.

aiohttp serves it because later issues need a connection handed over raw (SPDY upgrades for
exec and port-forward), which ASGI servers cannot do.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

import orjson
import yaml
from aiohttp import web

from kybernetes.api import errors
from kybernetes.api.errors import APIError
from kybernetes.api.fields import FieldSelectorError, parse_field_selector
from kybernetes.api.labels import SelectorError, parse_selector
from kybernetes.apiserver import discovery, metrics, negotiation, tables
from kybernetes.apiserver.auth import Authenticator, Authorizer, User
from kybernetes.apiserver.generic import DeleteOptions, GenericRegistry, RequestInfo, decode
from kybernetes.apiserver.join import JoinService
from kybernetes.apiserver.negotiation import Accept
from kybernetes.apiserver.pki import TLSFiles
from kybernetes.apiserver.proxy import STREAMING_SUBRESOURCES, NodeProxy
from kybernetes.registry.base import Obj
from kybernetes.registry.catalog import Catalog, Resource, scale_object
from kybernetes.store.backend import CompactedError, StoreError

log = logging.getLogger("kybernetes.apiserver")

MAX_BODY = 3 * 1024 * 1024
# /cacerts is public too (a joining node checks the CA against its token); see apiserver/join.py.
PUBLIC_PATHS = frozenset({"/livez", "/readyz", "/healthz", "/version", "/version/", "/cacerts"})
JSON_CT = "application/json"


@dataclass
class VersionInfo:
    major: str = "1"
    minor: str = "32"
    git_version: str = "v1.32.0+kyb"

    def to_json(self) -> dict[str, str]:
        import platform

        from kybernetes import __version__

        arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
        return {
            "major": self.major,
            "minor": self.minor,
            "gitVersion": self.git_version,
            "gitCommit": f"kybernetes-{__version__}",
            "gitTreeState": "clean",
            "buildDate": "2026-11-25T00:00:00Z",
            "goVersion": f"python{platform.python_version()}",
            "compiler": "cpython",
            "platform": f"linux/{arch}",
        }


@dataclass
class ServerState:
    """Readiness as /readyz reports it; components flip their own check when they are up."""

    checks: dict[str, bool] = field(default_factory=lambda: {"store": False})

    @property
    def ready(self) -> bool:
        return all(self.checks.values())


def json_response(body: Any, status: int = 200, content_type: str = JSON_CT, headers: dict[str, str] | None = None) -> web.Response:
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    resp = web.Response(body=data, status=status, headers=headers)
    resp.headers["Content-Type"] = content_type
    resp.headers["Cache-Control"] = "no-cache, private"
    return resp


def status_response(err: APIError) -> web.Response:
    resp = json_response(err.status(), err.code)
    for key, value in err.headers.items():
        resp.headers[key] = value
    return resp


@dataclass(frozen=True, slots=True)
class Route:
    """A parsed resource path."""

    resource: Resource
    namespace: str | None
    name: str | None
    subresource: str = ""
    watch_path: bool = False  # the deprecated /watch/ prefix


class APIServer:
    """APIServer answers the Kubernetes REST API for every resource in the catalog."""

    def __init__(
        self,
        *,
        catalog: Catalog,
        registry: GenericRegistry,
        authenticator: Authenticator,
        version: VersionInfo,
        server_address: str,
        state: ServerState,
        subresource_handlers: dict[str, Callable[..., Awaitable[web.StreamResponse]]] | None = None,
        join: JoinService | None = None,
        kubelet_client_tls: TLSFiles | None = None,
    ) -> None:
        self.catalog = catalog
        self.registry = registry
        self.authenticator = authenticator
        self.authorizer = Authorizer()
        self.version = version
        self.server_address = server_address
        self.state = state
        self.subresource_handlers = subresource_handlers or {}
        self.join = join
        # Logs, exec, attach and port-forward are answered by the pod's node agent, reached with
        # the kubelet-client certificate of these files.
        self.node_proxy = NodeProxy(kubelet_client_tls)
        # metrics.k8s.io (kubectl top) scrapes the node agents the same way.
        self.metrics = metrics.MetricsAPI(metrics.AgentScraper(self.node_proxy))
        self._openapi_resources = None
        self._namespaced_plurals: dict[tuple[str, str], set[str]] = {}
        for r in catalog.resources:
            if r.namespaced:
                self._namespaced_plurals.setdefault((r.group, r.version), set()).add(r.plural)

    # ----- aiohttp plumbing ---------------------------------------------------------------

    def application(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY, middlewares=[self._middleware], handler_args={"max_field_size": 65536})
        if self.join is not None:
            self.join.register(app.router)
        app.router.add_route("*", "/{tail:.*}", self.dispatch)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        started = time.monotonic()
        try:
            response = await handler(request)
        except APIError as err:
            response = status_response(err)
        except web.HTTPRequestEntityTooLarge:
            response = status_response(errors.too_large())
        except web.HTTPException as exc:
            response = status_response(APIError(exc.reason, exc.status, exc.reason.replace(" ", "")))
        except (asyncio.CancelledError, ConnectionResetError):
            raise
        except StoreError as exc:
            log.exception("store error on %s %s", request.method, request.path)
            response = status_response(errors.internal_error(f"storage error: {exc}"))
        except Exception as exc:  # noqa: BLE001 - every failure must become a Status, never a traceback to the client
            log.exception("error on %s %s", request.method, request.path)
            response = status_response(errors.internal_error(str(exc) or type(exc).__name__))
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s %s %.1fms", request.method, request.path_qs, getattr(response, "status", "-"), (time.monotonic() - started) * 1000)
        return response

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path in ("/livez", "/healthz"):
            return web.Response(text="ok", content_type="text/plain")
        if path == "/readyz":
            if self.state.ready:
                return web.Response(text="ok", content_type="text/plain")
            failing = ",".join(k for k, v in self.state.checks.items() if not v)
            return web.Response(text=f"[-]{failing} failed: not ready\nreadyz check failed", status=500, content_type="text/plain")
        if path in ("/version", "/version/"):
            return json_response(self.version.to_json())
        user = self.authenticator.authenticate(request)
        if user is None:
            raise errors.unauthorized()
        request["user"] = user
        if path.startswith("/openapi/"):
            return await self.openapi(request)
        parts = [p for p in path.split("/") if p]
        if not parts:
            return json_response({"paths": ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/openapi/v2", "/openapi/v3", "/readyz", "/version"]})
        if parts[0] == "api":
            if len(parts) == 1:
                return self.discovery_root(request, legacy=True)
            if parts[1] != "v1":
                raise errors.path_not_found()
            group, version, rest = "", "v1", parts[2:]
        elif parts[0] == "apis":
            if len(parts) == 1:
                return self.discovery_root(request, legacy=False)
            if parts[1] == metrics.GROUP:
                return await self.metrics.dispatch(self, request, parts[2:])
            if len(parts) == 2:
                doc = discovery.api_group(self.catalog, parts[1])
                if doc is None:
                    raise errors.path_not_found()
                return json_response(doc)
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise errors.path_not_found()
        if not rest:
            if request.method != "GET":
                raise errors.method_not_allowed()
            doc = discovery.api_resource_list(self.catalog, group, version)
            if doc is None:
                raise errors.path_not_found()
            return json_response(doc)
        route = self.parse_route(group, version, rest)
        return await self.handle(request, route)

    def parse_route(self, group: str, version: str, rest: list[str]) -> Route:
        watch_path = False
        if rest[0] == "watch":
            watch_path = True
            rest = rest[1:]
            if not rest:
                raise errors.path_not_found()
        namespace: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] in self._namespaced_plurals.get((group, version), ()):
            namespace = rest[1]
            rest = rest[2:]
        plural = rest[0]
        resource = self.catalog.lookup(group, version, plural)
        if resource is None:
            raise errors.path_not_found()
        if resource.namespaced and namespace is None and len(rest) > 1:
            # /api/v1/pods/<name> is not a path: namespaced objects live under their namespace.
            raise errors.path_not_found()
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else ""
        if len(rest) > 3 or (sub and sub not in resource.strategy.subresources):
            raise errors.path_not_found()
        return Route(resource, namespace, name, sub, watch_path)

    # ----- discovery and openapi ----------------------------------------------------------

    def discovery_root(self, request: web.Request, *, legacy: bool) -> web.Response:
        wanted = discovery.aggregated_version_requested(request.headers.get("Accept", ""))
        if wanted:
            ct = discovery.AGGREGATED_V2 if wanted == "v2" else discovery.AGGREGATED_V2BETA1
            doc = discovery.aggregated(self.catalog, legacy=legacy, version=wanted, handled=metrics.RESOURCES)
            return json_response(doc, content_type=ct)
        if legacy:
            return json_response(discovery.api_versions(self.server_address))
        return json_response(discovery.api_group_list(self.catalog, metrics.RESOURCES))

    def openapi_resources(self) -> list[Any]:
        if self._openapi_resources is None:
            from kybernetes.api.openapi import OpenAPIResource

            self._openapi_resources = [
                OpenAPIResource(
                    group=r.group,
                    version=r.version,
                    kind=r.kind,
                    plural=r.plural,
                    namespaced=r.namespaced,
                    verbs=tuple(r.strategy.verbs),
                    subresources=tuple(s for s in r.strategy.subresources if s in ("status", "scale")),
                )
                for r in self.catalog.resources
            ]
        return self._openapi_resources

    async def openapi(self, request: web.Request) -> web.StreamResponse:
        from kybernetes.api import openapi

        path = request.path.rstrip("/")
        if path == "/openapi/v2":
            body, ct = openapi.v2_response(request.headers.get("Accept", ""), self.openapi_resources())
            return json_response(body, content_type=ct)
        if path == "/openapi/v3":
            return json_response(openapi.v3_index(self.openapi_resources()))
        if path.startswith("/openapi/v3/"):
            gv = path[len("/openapi/v3/"):]
            if gv == "api/v1":
                group, version = "", "v1"
            elif gv.startswith("apis/") and gv.count("/") == 2:
                _, group, version = gv.split("/")
            else:
                raise errors.path_not_found()
            if not self.catalog.in_group_version(group, version):
                raise errors.path_not_found()
            body = openapi.v3_document(group, version, self.openapi_resources())
            return json_response(body)
        raise errors.path_not_found()

    # ----- resources ----------------------------------------------------------------------

    def request_info(self, request: web.Request) -> RequestInfo:
        user: User = request["user"]
        q = request.query
        dry_run = q.getall("dryRun", [])
        for value in dry_run:
            if value != "All":
                raise errors.bad_request(f'dryRun: Unsupported value: "{value}": supported values: "All"')
        validation = q.get("fieldValidation", "Warn") or "Warn"
        if validation not in ("Strict", "Warn", "Ignore"):
            raise errors.bad_request(f"fieldValidation: Unsupported value: \"{validation}\": supported values: \"Ignore\", \"Strict\", \"Warn\"")
        return RequestInfo(
            user=user.name,
            groups=user.groups,
            user_agent=request.headers.get("User-Agent", ""),
            field_manager=q.get("fieldManager", ""),
            field_validation=validation,
            dry_run=bool(dry_run),
        )

    async def handle(self, request: web.Request, route: Route) -> web.StreamResponse:
        method = request.method
        r = route.resource
        if route.subresource and route.subresource in self.subresource_handlers:
            return await self.subresource_handlers[route.subresource](self, request, route)
        if route.subresource == "scale":
            return await self.scale(request, route)
        if route.subresource in STREAMING_SUBRESOURCES and r.kind == "Pod":
            return await self.node_proxy.handle(self, request, route)
        if route.subresource in ("log", "exec", "attach", "portforward", "proxy"):
            return await self.node_stream_unavailable(request, route)
        if route.subresource == "binding":
            return await self.binding(request, route)
        if route.subresource == "eviction":
            return await self.eviction(request, route)
        if route.subresource and route.subresource not in ("status", "finalize", "ephemeralcontainers"):
            raise errors.path_not_found()
        is_watch = route.watch_path or request.query.get("watch") in ("true", "1", "True")
        if r.namespaced and route.namespace is None and method != "GET":
            # The all-namespaces path of a namespaced resource serves only list and watch.
            raise errors.method_not_allowed()
        if route.subresource == "finalize" and method != "PUT":
            raise errors.method_not_allowed()
        if route.name is None:
            if method == "GET":
                if is_watch:
                    return await self.watch(request, route)
                return await self.list(request, route)
            if method == "POST":
                return await self.create(request, route)
            if method == "DELETE":
                return await self.delete_collection(request, route)
            raise errors.method_not_allowed()
        if method == "GET":
            # A watch parameter on a named GET is ignored upstream: the object itself is answered.
            return self.get(request, route)
        if method == "PUT":
            return await self.update(request, route)
        if method == "PATCH":
            return await self.patch(request, route)
        if method == "DELETE" and not route.subresource:
            return await self.delete(request, route)
        raise errors.method_not_allowed()

    def respond_object(self, request: web.Request, r: Resource, obj: Obj, status: int = 200, info: RequestInfo | None = None) -> web.Response:
        accept = Accept.parse(request.headers.get("Accept"))
        if accept.table:
            storage_obj = r.to_storage(obj) if r.served else obj
            body = tables.table(
                r,
                [tables.row(r, storage_obj, obj, request.query.get("includeObject", "Metadata"))],
                resource_version=obj["metadata"].get("resourceVersion", ""),
                beta=accept.table_beta,
            )
            resp = json_response(body, status, tables.TABLE_CONTENT_TYPE_BETA if accept.table_beta else tables.TABLE_CONTENT_TYPE)
        elif accept.yaml:
            resp = web.Response(body=yaml.safe_dump(obj, sort_keys=False).encode(), status=status)
            resp.headers["Content-Type"] = negotiation.YAML
        else:
            resp = json_response(obj, status)
        self._add_warnings(resp, r, info)
        return resp

    def _add_warnings(self, resp: web.StreamResponse, r: Resource, info: RequestInfo | None) -> None:
        warnings: list[str] = []
        if r.warning:
            warnings.append(r.warning)
        if info is not None:
            warnings.extend(info.warnings)
        for text in warnings:
            escaped = text.replace("\\", "\\\\").replace('"', '\\"')
            resp.headers.add("Warning", f'299 - "{escaped}"')

    def get(self, request: web.Request, route: Route) -> web.Response:
        r = route.resource
        assert route.name is not None
        if route.subresource == "finalize":
            raise errors.method_not_allowed()
        kv = self.registry.get_kv(r, route.namespace, route.name)
        obj = self.registry.output(r, self.registry.cached_object(kv))
        return self.respond_object(request, r, obj)

    def _selectors(self, request: web.Request, r: Resource) -> tuple[Any, Any]:
        try:
            label_selector = parse_selector(request.query.get("labelSelector"))
        except SelectorError as exc:
            raise errors.bad_request(str(exc)) from None
        try:
            field_selector = parse_field_selector(request.query.get("fieldSelector"))
        except FieldSelectorError as exc:
            raise errors.bad_request(str(exc)) from None
        supported = self.registry.supported_fields(r)
        if supported is not None:
            for f in field_selector.fields():
                if f not in supported:
                    raise errors.bad_request(f'field label not supported: {f}')
        return label_selector, field_selector

    async def list(self, request: web.Request, route: Route) -> web.Response:
        r = route.resource
        q = request.query
        label_selector, field_selector = self._selectors(request, r)
        rv = q.get("resourceVersion", "")
        rv_match = q.get("resourceVersionMatch", "")
        _validate_list_options(rv, rv_match, q.get("continue", ""))
        await self._wait_for_rv(rv, rv_match)
        revision, kvs = self.registry.list_kvs(r, route.namespace, label_selector=label_selector, field_selector=field_selector)
        if rv_match == "Exact" and rv and int(rv) != revision:
            raise errors.gone(f"too old resource version: {rv} ({revision})")
        limit = _int_param(q.get("limit"), "limit") or 0
        cont = q.get("continue", "")
        start_key = ""
        if cont:
            start_key, cont_rev = _decode_continue(cont)
            if cont_rev < self.registry.cache.oldest_revision - 1 and cont_rev < revision:
                raise errors.gone(
                    "The provided continue parameter is too old to display a consistent list result. You can start a "
                    "new list without the continue parameter, or use the continue token in this response to retrieve "
                    "the remainder of the results. Continuing with the provided token results in an inconsistent list "
                    "- objects that were created, modified, or deleted between the time the first chunk was returned "
                    "and now may show up in the list."
                )
            kvs = [kv for kv in kvs if kv.key > start_key]
        next_token = ""
        remaining: int | None = None
        if limit > 0 and len(kvs) > limit:
            # Upstream reports remainingItemCount only for unfiltered lists, where it is exact.
            if label_selector.empty and field_selector.empty:
                remaining = len(kvs) - limit
            kvs = kvs[:limit]
            next_token = _encode_continue(kvs[-1].key, revision)
        accept = Accept.parse(request.headers.get("Accept"))
        if accept.table:
            include = q.get("includeObject", "Metadata")
            rows = []
            for kv in kvs:
                obj = self.registry.cached_object(kv)
                served = self.registry.output(r, obj) if (r.served and include != "None") else obj
                rows.append(tables.row(r, obj, served, include))
            body = tables.table(r, rows, resource_version=str(revision), continue_token=next_token, remaining=remaining, beta=accept.table_beta)
            resp = json_response(body, content_type=tables.TABLE_CONTENT_TYPE_BETA if accept.table_beta else tables.TABLE_CONTENT_TYPE)
            self._add_warnings(resp, r, None)
            return resp
        meta: dict[str, Any] = {"resourceVersion": str(revision)}
        if next_token:
            meta["continue"] = next_token
            if remaining is not None:
                meta["remainingItemCount"] = remaining
        head = orjson.dumps({"kind": f"{r.kind}List", "apiVersion": r.api_version, "metadata": meta})
        items = b",".join(self.registry.cached_json(r, kv) for kv in kvs)
        body = head[:-1] + b',"items":[' + items + b"]}"
        resp = json_response(body)
        self._add_warnings(resp, r, None)
        return resp

    async def _wait_for_rv(self, rv: str, rv_match: str) -> None:
        if not rv or rv == "0":
            return
        wanted = _int_param(rv, "resourceVersion")
        if wanted > self.registry.cache.revision:
            try:
                await self.registry.cache.wait_for(wanted, timeout=3.0)
            except (asyncio.TimeoutError, TimeoutError):
                err = APIError(f"Too large resource version: {wanted}, current: {self.registry.cache.revision}", 504, "Timeout",
                               {"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}], "retryAfterSeconds": 1})
                raise err from None

    # ----- watch --------------------------------------------------------------------------

    async def watch(self, request: web.Request, route: Route) -> web.StreamResponse:
        r = route.resource
        q = request.query
        label_selector, field_selector = self._selectors(request, r)
        if route.watch_path and route.name:
            field_selector = parse_field_selector(f"metadata.name={route.name}")
        accept = Accept.parse(request.headers.get("Accept"))
        rv = q.get("resourceVersion", "")
        timeout = _int_param(q.get("timeoutSeconds"), "timeoutSeconds")
        if not timeout:
            # Upstream spreads long watches over [min-request-timeout, 2×] so clients reconnect at different times.
            timeout = int(1800 * (1 + random.random()))
        bookmarks = q.get("allowWatchBookmarks") in ("true", "1")
        send_initial = q.get("sendInitialEvents") in ("true", "1")
        cache = self.registry.cache
        prefix = r.list_prefix(route.namespace)
        initial: list[Any] = []
        if rv in ("", "0") or send_initial:
            revision, initial = self.registry.list_kvs(r, route.namespace, label_selector=label_selector, field_selector=field_selector)
            start = revision
        else:
            start = _int_param(rv, "resourceVersion")
        resp = web.StreamResponse(status=200)
        resp.headers["Content-Type"] = (tables.TABLE_CONTENT_TYPE_BETA if accept.table_beta else tables.TABLE_CONTENT_TYPE) if accept.table else JSON_CT
        resp.headers["Cache-Control"] = "no-cache, private"
        resp.enable_chunked_encoding()
        try:
            watcher = cache.watch(prefix, start)
        except CompactedError:
            await resp.prepare(request)
            status = errors.gone(f"too old resource version: {start} ({cache.oldest_revision})").status()
            await resp.write(orjson.dumps({"type": "ERROR", "object": status}) + b"\n")
            await resp.write_eof()
            return resp
        await resp.prepare(request)
        deadline = time.monotonic() + timeout
        include = q.get("includeObject", "Metadata")

        def encode_event(kind: str, kv: Any) -> bytes:
            obj = self.registry.cached_object(kv)
            if accept.table:
                served = self.registry.output(r, obj) if r.served else obj
                payload = orjson.dumps(tables.table(r, [tables.row(r, obj, served, include)], resource_version=str(kv.mod_revision), beta=accept.table_beta))
            else:
                payload = self.registry.cached_json(r, kv)
            return b'{"type":"' + kind.encode() + b'","object":' + payload + b"}\n"

        try:
            for kv in initial:
                await resp.write(encode_event("ADDED", kv))
            if send_initial and bookmarks:
                mark = {"kind": r.kind, "apiVersion": r.api_version, "metadata": {"resourceVersion": str(start), "annotations": {"k8s.io/initial-events-end": "true"}}}
                await resp.write(orjson.dumps({"type": "BOOKMARK", "object": mark}) + b"\n")
            iterator = watcher.__aiter__()
            last_bookmark = time.monotonic()
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                wait = min(remaining, 30.0) if bookmarks else remaining
                try:
                    # asyncio.timeout, not wait_for: no extra task per event on a path 1,000 watchers share.
                    async with asyncio.timeout(wait):
                        event = await iterator.__anext__()
                except TimeoutError:
                    if bookmarks and time.monotonic() - last_bookmark >= 29:
                        mark = {"kind": r.kind, "apiVersion": r.api_version, "metadata": {"resourceVersion": str(cache.revision)}}
                        await resp.write(orjson.dumps({"type": "BOOKMARK", "object": mark}) + b"\n")
                        last_bookmark = time.monotonic()
                    continue
                except StopAsyncIteration:
                    break
                # Whatever else is already buffered goes out in the same write.
                chunks = []
                for ev in [event, *watcher.drain()]:
                    kind = self._event_type(r, ev, label_selector, field_selector)
                    if kind is not None:
                        chunks.append(encode_event(kind, ev.kv))
                if chunks:
                    await resp.write(b"".join(chunks))
        except ConnectionResetError:
            # The client went away (kubectl -w stopped, an informer re-listed): nothing to report.
            watcher.close()
            return resp
        except StoreError as exc:
            # The watcher fell too far behind (the client stopped reading): end the stream.
            log.info("watch on %s ended: %s", prefix, exc)
        finally:
            watcher.close()
        try:
            await resp.write_eof()
        except ConnectionResetError:
            pass
        return resp

    def _event_type(self, r: Resource, event: Any, label_selector: Any, field_selector: Any) -> str | None:
        """ADDED/MODIFIED/DELETED as seen through the selectors (an object leaving the selection is DELETED)."""
        from kybernetes.store.backend import EventType

        filtered = not (label_selector.empty and field_selector.empty)
        now = self.registry.cached_object(event.kv)
        if event.type is EventType.DELETE:
            if filtered and not self.registry.matches(r, now, label_selector, field_selector):
                return None
            return "DELETED"
        if event.prev is None:
            if filtered and not self.registry.matches(r, now, label_selector, field_selector):
                return None
            return "ADDED"
        if not filtered:
            return "MODIFIED"
        matches_now = self.registry.matches(r, now, label_selector, field_selector)
        matched_before = self.registry.matches(r, decode(event.prev), label_selector, field_selector)
        if matches_now and matched_before:
            return "MODIFIED"
        if matches_now:
            return "ADDED"
        if matched_before:
            return "DELETED"
        return None

    # ----- writes -------------------------------------------------------------------------

    async def read_body(self, request: web.Request) -> bytes:
        if request.content_length is not None and request.content_length > MAX_BODY:
            raise errors.too_large()
        try:
            return await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise errors.too_large() from None

    def check_fields(self, r: Resource, obj: Any, info: RequestInfo) -> None:
        """fieldValidation: Strict rejects unknown fields, Warn reports them; wrong types are always 400."""
        if not isinstance(obj, dict):
            return
        from kybernetes.api import openapi

        result = openapi.check_fields(obj, r.group, r.version, r.kind)
        if result.mismatches:
            raise errors.bad_request(openapi.format_type_error(r.kind, r.version, result.mismatches[0]))
        if result.unknown:
            if info.field_validation == "Strict":
                raise errors.bad_request(openapi.format_unknown_fields_error(r.kind, r.version, result.unknown))
            if info.field_validation == "Warn":
                info.warnings.extend(f'unknown field "{p}"' for p in result.unknown)
            from kybernetes.api.openapi.prune import prune_paths

            prune_paths(obj, result.unknown)

    async def create(self, request: web.Request, route: Route) -> web.Response:
        r = route.resource
        info = self.request_info(request)
        body = negotiation.decode_body(await self.read_body(request), request.headers.get("Content-Type"))
        if route.subresource:
            raise errors.method_not_allowed()
        if isinstance(body, dict):
            self._fill_type(r, body)
        self.check_fields(r, body, info)
        if r.strategy.ephemeral:
            return self.review(request, r, body, info)
        obj = await self.registry.create(r, route.namespace, body, info)
        return self.respond_object(request, r, obj, 201, info)

    def review(self, request: web.Request, r: Resource, body: Any, info: RequestInfo) -> web.Response:
        """Answer a review object (e.g. `kubectl auth can-i`) from the authorizer without storing it."""
        if not isinstance(body, dict):
            raise errors.bad_request(f"the object provided is unrecognized (must be of type {r.kind})")
        errs = r.strategy.validate(body)
        if errs:
            raise errors.invalid_error(r.kind, "", errs, r.group)
        attrs = (body.get("spec") or {}).get("resourceAttributes") or {}
        user: User = request["user"]
        allowed = self.authorizer.allowed(user, attrs.get("verb", ""), attrs.get("group", ""), attrs.get("resource", ""), attrs.get("namespace"))
        return json_response(r.strategy.evaluate(body, user=user.name, groups=user.groups, allowed=allowed), 201)

    def _fill_type(self, r: Resource, body: dict[str, Any]) -> None:
        """The Python client omits apiVersion/kind in bodies built from models: take them from the URL."""
        body.setdefault("apiVersion", r.api_version)
        body.setdefault("kind", r.kind)

    async def update(self, request: web.Request, route: Route) -> web.Response:
        r = route.resource
        assert route.name is not None
        info = self.request_info(request)
        body = negotiation.decode_body(await self.read_body(request), request.headers.get("Content-Type"))
        if isinstance(body, dict):
            self._fill_type(r, body)
        self.check_fields(r, body, info)
        sub = route.subresource
        if sub == "finalize":
            finalizers = ((body or {}).get("spec") or {}).get("finalizers") or []
            obj, _ = await self.registry.patch(r, None, route.name, lambda old: _with_spec_finalizers(old, finalizers), info, subresource="finalize")
            return self.respond_object(request, r, obj, 200, info)
        if sub in ("status", "ephemeralcontainers"):
            wanted_rv = ((body or {}).get("metadata") or {}).get("resourceVersion")
            field = "status" if sub == "status" else "spec"
            obj, _ = await self.registry.patch(r, route.namespace, route.name, lambda old: _with_part(old, body, field, wanted_rv), info, subresource=sub)
            return self.respond_object(request, r, obj, 200, info)
        obj, created = await self.registry.update(r, route.namespace, route.name, body, info)
        return self.respond_object(request, r, obj, 201 if created else 200, info)

    async def patch(self, request: web.Request, route: Route) -> web.Response:
        from kybernetes.apiserver import patching

        r = route.resource
        assert route.name is not None
        info = self.request_info(request)
        raw = await self.read_body(request)
        content_type = negotiation.media_type(request.headers.get("Content-Type"))
        force = request.query.get("force") in ("true", "1")
        apply_fn, create_fn = patching.build(self, r, route, raw, content_type, info, force=force)
        sub = route.subresource if route.subresource in ("status", "ephemeralcontainers") else ""
        obj, created = await self.registry.patch(r, route.namespace, route.name, apply_fn, info, subresource=sub, create_if_missing=create_fn)
        return self.respond_object(request, r, obj, 201 if created else 200, info)

    def delete_options(self, request: web.Request, raw: bytes) -> DeleteOptions:
        q = request.query
        body: dict[str, Any] = {}
        if raw.strip():
            decoded = negotiation.decode_body(raw, request.headers.get("Content-Type"))
            if isinstance(decoded, dict):
                body = decoded
        pre = body.get("preconditions") or {}
        grace = body.get("gracePeriodSeconds")
        if q.get("gracePeriodSeconds") is not None:
            grace = _int_param(q.get("gracePeriodSeconds"), "gracePeriodSeconds")
        policy = q.get("propagationPolicy") or body.get("propagationPolicy")
        if policy is not None and policy not in ("Foreground", "Background", "Orphan"):
            raise errors.invalid_error("DeleteOptions", "", [errors.not_supported("propagationPolicy", policy, ["Background", "Foreground", "Orphan"])])
        orphan = body.get("orphanDependents")
        if q.get("orphanDependents") is not None:
            orphan = q.get("orphanDependents") in ("true", "1")
        if orphan is not None and policy is not None:
            raise errors.invalid_error(
                "DeleteOptions", "",
                [errors.invalid("propagationPolicy", policy, "orphanDependents and deletionPropagation cannot be both set")],
            )
        dry = list(q.getall("dryRun", [])) + list(body.get("dryRun") or [])
        return DeleteOptions(
            grace_period_seconds=grace,
            propagation_policy=policy,
            orphan_dependents=orphan,
            precondition_uid=pre.get("uid"),
            precondition_resource_version=pre.get("resourceVersion"),
            dry_run=bool(dry),
        )

    async def delete(self, request: web.Request, route: Route) -> web.Response:
        r = route.resource
        assert route.name is not None
        info = self.request_info(request)
        options = self.delete_options(request, await self.read_body(request))
        if options.dry_run:
            info.dry_run = True
        obj, finished = await self.registry.delete(r, route.namespace, route.name, options, info)
        if not finished:
            return self.respond_object(request, r, obj, 202 if obj["metadata"].get("finalizers") else 200, info)
        if r.strategy.return_deleted_object:
            return self.respond_object(request, r, obj, 200, info)
        status = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {"name": route.name, "kind": r.plural, "uid": obj["metadata"].get("uid")},
        }
        if r.group:
            status["details"]["group"] = r.group
        resp = json_response(status)
        self._add_warnings(resp, r, info)
        return resp

    async def delete_collection(self, request: web.Request, route: Route) -> web.Response:
        r = route.resource
        if "deletecollection" not in r.strategy.verbs:
            raise errors.method_not_allowed()
        info = self.request_info(request)
        options = self.delete_options(request, await self.read_body(request))
        if options.dry_run:
            info.dry_run = True
        label_selector, field_selector = self._selectors(request, r)
        revision, kvs = self.registry.list_kvs(r, route.namespace, label_selector=label_selector, field_selector=field_selector)
        items = []
        for kv in kvs:
            obj = self.registry.cached_object(kv)
            meta = obj["metadata"]
            try:
                deleted, _ = await self.registry.delete(r, meta.get("namespace"), meta["name"], options, info)
            except APIError as err:
                if err.code == 404:
                    continue
                raise
            items.append(deleted)
        return json_response({"kind": f"{r.kind}List", "apiVersion": r.api_version, "metadata": {"resourceVersion": str(self.registry.cache.revision)}, "items": items})

    # ----- subresources -------------------------------------------------------------------

    async def scale(self, request: web.Request, route: Route) -> web.Response:
        from kybernetes.apiserver import patching

        r = route.resource
        assert route.name is not None
        if request.method == "GET":
            obj = self.registry.get(r, route.namespace, route.name)
            scale = scale_object(r, obj)
            accept = Accept.parse(request.headers.get("Accept"))
            if accept.table:
                return json_response(_scale_table(scale, request.query.get("includeObject", "Metadata"), accept.table_beta),
                                     content_type=tables.TABLE_CONTENT_TYPE_BETA if accept.table_beta else tables.TABLE_CONTENT_TYPE)
            return json_response(scale)
        info = self.request_info(request)
        raw = await self.read_body(request)
        if request.method == "PUT":
            body = negotiation.decode_body(raw, request.headers.get("Content-Type"))
            replicas_of = lambda scale: body  # noqa: E731 - the new Scale is the body itself
            wanted_rv = ((body or {}).get("metadata") or {}).get("resourceVersion") or ""
        elif request.method == "PATCH":
            content_type = negotiation.media_type(request.headers.get("Content-Type"))
            replicas_of = patching.scale_patcher(raw, content_type)
            wanted_rv = ""
        else:
            raise errors.method_not_allowed()

        def transform(old: Obj) -> Obj:
            current = scale_object(r, r.to_storage(old) if r.served else old)
            new_scale = replicas_of(current)
            rv = ((new_scale or {}).get("metadata") or {}).get("resourceVersion") or wanted_rv
            if rv and rv != current["metadata"]["resourceVersion"]:
                raise errors.conflict(r.plural, route.name or "", errors.STALE_OBJECT, r.group)
            replicas = ((new_scale or {}).get("spec") or {}).get("replicas")
            if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
                raise errors.invalid_error("Scale", route.name or "", [errors.invalid("spec.replicas", replicas, "must be greater than or equal to 0")], "autoscaling")
            old.setdefault("spec", {})["replicas"] = replicas
            return old

        obj, _ = await self.registry.patch(r, route.namespace, route.name, transform, info)
        return json_response(scale_object(r, r.to_storage(obj) if r.served else obj))

    async def binding(self, request: web.Request, route: Route) -> web.Response:
        r = route.resource
        assert route.name is not None
        if request.method != "POST":
            raise errors.method_not_allowed()
        info = self.request_info(request)
        body = negotiation.decode_body(await self.read_body(request), request.headers.get("Content-Type")) or {}
        target = (body.get("target") or {}).get("name")
        if not target:
            raise errors.invalid_error("Binding", route.name, [errors.required("target.name")])
        name = route.name

        def bind(old: Obj) -> Obj:
            spec = old.setdefault("spec", {})
            if old["metadata"].get("deletionTimestamp"):
                raise errors.conflict("pods", name, "pod is being deleted, cannot be assigned to a host")
            if spec.get("nodeName"):
                raise errors.conflict("pods", name, f"pod {name} is already assigned to node \"{spec['nodeName']}\"")
            spec["nodeName"] = target
            return _set_scheduled_condition(old)

        body_name = (body.get("metadata") or {}).get("name")
        if body_name and body_name != name:
            raise errors.bad_request(f"name in URL does not match name in Binding object")
        await self.registry.patch(r, route.namespace, name, bind, info, subresource="binding")
        return json_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}, 201)

    async def eviction(self, request: web.Request, route: Route) -> web.Response:
        r = route.resource
        assert route.name is not None
        if request.method != "POST":
            raise errors.method_not_allowed()
        info = self.request_info(request)
        body = negotiation.decode_body(await self.read_body(request), request.headers.get("Content-Type")) or {}
        body_name = (body.get("metadata") or {}).get("name")
        if body_name and body_name != route.name:
            raise errors.bad_request("name in URL does not match name in Eviction object")
        opts = body.get("deleteOptions") or {}
        pre = opts.get("preconditions") or {}
        options = DeleteOptions(
            grace_period_seconds=opts.get("gracePeriodSeconds"),
            propagation_policy=opts.get("propagationPolicy"),
            precondition_uid=pre.get("uid"),
            precondition_resource_version=pre.get("resourceVersion"),
            dry_run=bool(opts.get("dryRun")),
        )
        # kubectl drain --dry-run=server puts dryRun inside the Eviction's deleteOptions.
        info.dry_run = info.dry_run or options.dry_run
        await self.registry.delete(r, route.namespace, route.name, options, info)
        return json_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}, 201)

    async def node_stream_unavailable(self, request: web.Request, route: Route) -> web.Response:
        r = route.resource
        assert route.name is not None
        obj = self.registry.get(r, route.namespace, route.name)
        node = (obj.get("spec") or {}).get("nodeName")
        if r.kind == "Pod" and not node:
            raise errors.bad_request(f"pod {route.name} does not have a host assigned")
        raise errors.service_unavailable(
            f"the node agent is not available: {route.subresource} for {r.plural} needs the agent (kyb server without --disable-agent)"
        )


def _with_spec_finalizers(old: Obj, finalizers: list[str]) -> Obj:
    old.setdefault("spec", {})["finalizers"] = list(finalizers)
    return old


def _with_part(old: Obj, body: Any, field: str, wanted_rv: str | None) -> Obj:
    """A PUT to a subresource: take `field` from the body; the subresource strategy keeps the rest."""
    if isinstance(body, dict):
        old[field] = body.get(field)
        if wanted_rv:
            old["metadata"]["resourceVersion"] = wanted_rv
    return old


def _set_scheduled_condition(old: Obj) -> Obj:
    from kybernetes.api.duration import now_rfc3339

    status = old.setdefault("status", {})
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
    conditions.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": now_rfc3339()})
    status["conditions"] = conditions
    return old


def _scale_table(scale: dict[str, Any], include: str, beta: bool) -> dict[str, Any]:
    """`kubectl get … --subresource=scale`: NAME DESIRED AVAILABLE, as upstream's Scale printer."""
    row: dict[str, Any] = {"cells": [scale["metadata"]["name"], scale["spec"]["replicas"], scale["status"]["replicas"]]}
    if include == "Object":
        row["object"] = scale
    elif include != "None":
        row["object"] = tables.partial_metadata(scale)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1beta1" if beta else "meta.k8s.io/v1",
        "metadata": {"resourceVersion": scale["metadata"].get("resourceVersion") or ""},
        "columnDefinitions": [
            {"name": "Name", "type": "string", "format": "name", "description": "Name of the scaled object.", "priority": 0},
            {"name": "Desired", "type": "integer", "format": "", "description": "Replicas asked for.", "priority": 0},
            {"name": "Available", "type": "integer", "format": "", "description": "Replicas the controller reports.", "priority": 0},
        ],
        "rows": [row],
    }


def _validate_list_options(rv: str, rv_match: str, cont: str) -> None:
    """ValidateListOptions: the combinations of resourceVersion, resourceVersionMatch and continue upstream accepts."""
    def invalid(field: str, value: str, detail: str) -> APIError:
        return errors.invalid_error("ListOptions", "", [errors.invalid(field, value, detail)], "meta.k8s.io")

    if rv_match:
        if rv_match not in ("Exact", "NotOlderThan"):
            raise errors.invalid_error("ListOptions", "", [errors.not_supported("resourceVersionMatch", rv_match, ["Exact", "NotOlderThan"])], "meta.k8s.io")
        if not rv:
            raise errors.invalid_error("ListOptions", "", [errors.forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden unless resourceVersion is provided")], "meta.k8s.io")
        if cont:
            raise errors.invalid_error("ListOptions", "", [errors.forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden when continue is provided")], "meta.k8s.io")
        if rv_match == "Exact" and rv == "0":
            raise invalid("resourceVersionMatch", rv_match, "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"")
    if cont and rv and rv != "0":
        raise errors.bad_request("specifying resource version is not allowed when using continue")


def _int_param(value: str | None, name: str) -> int:
    if value is None or value == "":
        return 0
    try:
        return int(value)
    except ValueError:
        raise errors.bad_request(f'invalid value for {name}: "{value}": strconv.ParseInt: parsing "{value}": invalid syntax') from None


def _encode_continue(key: str, revision: int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"v": "meta.k8s.io/v1", "rv": revision, "start": key})).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[str, int]:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = orjson.loads(base64.urlsafe_b64decode(padded))
        return str(data["start"]), int(data["rv"])
    except Exception:  # noqa: BLE001 - any malformed token is the same client error
        raise errors.bad_request("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)") from None
