"""Client: async REST access to the Kubernetes API on plain JSON dicts, through a pluggable transport.

The client speaks the wire protocol only; it never interprets objects beyond the metadata it
needs to build paths. A `Transport` is any async callable from `Request` to `Response`: the
real one is `HTTPTransport` (aiohttp over TLS with the kubeconfig's credentials), and in tests a
plain function plays the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable, Iterable, Literal, Mapping
from urllib.parse import quote

import aiohttp
import orjson

import kybernetes
from kybernetes.client import errors
from kybernetes.client.config import Config

log = logging.getLogger(__name__)

Obj = dict[str, Any]

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

PropagationPolicy = Literal["Background", "Foreground", "Orphan"]


@dataclass(frozen=True)
class ResourceRef:
    """ResourceRef names one resource of one group version, as discovery lists it.

    Equality and hashing ignore `verbs`, so a ref built by hand finds the discovered one.
    """

    group: str
    """API group; "" is the core group served under /api."""
    version: str
    plural: str
    """The resource name in URLs, e.g. "replicasets"."""
    namespaced: bool
    kind: str
    verbs: frozenset[str] = field(default=frozenset(), compare=False)
    """Verbs discovery reported; empty when the ref was written by hand."""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> str:
        """Return "plural.group" as upstream prints resources in messages, e.g. "replicasets.apps"."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def supports(self, *verbs: str) -> bool:
        """Tell whether discovery listed every one of `verbs` (hand-written refs support all)."""
        return not self.verbs or all(v in self.verbs for v in verbs)

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
        """Return the URL path of the collection, or of one object and optionally its subresource."""
        prefix = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        parts = [prefix]
        if self.namespaced and namespace:
            parts.append(f"namespaces/{quote(namespace, safe='')}")
        parts.append(self.plural)
        if name is not None:
            parts.append(quote(name, safe=""))
            if subresource:
                parts.append(subresource)
        return "/".join(parts)


NAMESPACES = ResourceRef("", "v1", "namespaces", False, "Namespace")
CONFIGMAPS = ResourceRef("", "v1", "configmaps", True, "ConfigMap")
SECRETS = ResourceRef("", "v1", "secrets", True, "Secret")
PODS = ResourceRef("", "v1", "pods", True, "Pod")
SERVICES = ResourceRef("", "v1", "services", True, "Service")
NODES = ResourceRef("", "v1", "nodes", False, "Node")
EVENTS = ResourceRef("", "v1", "events", True, "Event")
REPLICASETS = ResourceRef("apps", "v1", "replicasets", True, "ReplicaSet")
DEPLOYMENTS = ResourceRef("apps", "v1", "deployments", True, "Deployment")


@dataclass
class Request:
    """Request is one HTTP request as the transport sees it; `path` excludes the server URL."""

    method: str
    path: str
    params: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    stream: bool = False
    """The answer is a long-lived stream (watch): don't buffer it, don't time it out."""

    @property
    def query(self) -> dict[str, str]:
        """Return the parameters as a dict (the last value wins), for tests and logs."""
        return dict(self.params)


@dataclass
class Response:
    """Response is the transport's answer; `body` is bytes or, for streams, an async iterator of chunks."""

    status: int
    body: bytes | AsyncIterator[bytes] = b""
    headers: Mapping[str, str] = field(default_factory=dict)

    async def read(self) -> bytes:
        """Return the whole body, draining and closing a stream."""
        if isinstance(self.body, bytes):
            return self.body
        chunks = []
        async with contextlib.aclosing(self.body) as stream:  # type: ignore[type-var]
            async for chunk in stream:
                chunks.append(chunk)
        return b"".join(chunks)


Transport = Callable[[Request], Awaitable[Response]]
"""Transport sends a request and returns the answer; it raises `TransportError` if none came."""


@dataclass(frozen=True)
class WatchEvent:
    """WatchEvent is one line of a watch stream: ADDED, MODIFIED, DELETED or BOOKMARK and the object."""

    type: str
    object: Obj

    @property
    def resource_version(self) -> str:
        return str((self.object.get("metadata") or {}).get("resourceVersion") or "")


class HTTPTransport:
    """HTTPTransport sends requests with aiohttp, verifying the server and presenting our client cert."""

    def __init__(self, config: Config, *, timeout: float = 60.0) -> None:
        self._config = config
        self._timeout = timeout
        self._ssl: ssl.SSLContext | None = config.ssl_context()
        self._session: aiohttp.ClientSession | None = None

    def _session_now(self) -> aiohttp.ClientSession:
        # The session binds to the running loop, so it is made on first use, not in __init__.
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(ssl=self._ssl if self._ssl is not None else False, limit=100)
            self._session = aiohttp.ClientSession(base_url=self._config.server, connector=connector,
                                                  auto_decompress=True, trust_env=False)
        return self._session

    async def __call__(self, request: Request) -> Response:
        headers = dict(request.headers)
        # client-go sends credentials only over TLS; we do the same.
        if self._config.token and self._config.is_tls:
            headers.setdefault("Authorization", f"Bearer {self._config.token}")
        if request.stream:
            timeout = aiohttp.ClientTimeout(total=None, connect=self._timeout, sock_connect=self._timeout, sock_read=None)
        else:
            timeout = aiohttp.ClientTimeout(total=self._timeout)
        try:
            response = await self._session_now().request(
                request.method, request.path, params=request.params, headers=headers, data=request.body,
                timeout=timeout, allow_redirects=False)
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as err:
            raise errors.TransportError(f"{request.method} {request.path}: {type(err).__name__}: {err}") from err
        if not request.stream or response.status >= 300:
            try:
                body = await response.read()
            except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as err:
                raise errors.TransportError(f"{request.method} {request.path}: reading body: {err}") from err
            finally:
                response.release()
            return Response(response.status, body, dict(response.headers))
        return Response(response.status, _chunks(response), dict(response.headers))

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


async def _chunks(response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    try:
        async for chunk in response.content.iter_any():
            yield chunk
    except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as err:
        raise errors.TransportError(f"watch stream broke: {type(err).__name__}: {err}") from err
    finally:
        # Closing (not releasing) drops the connection: a half-read stream can't be reused.
        response.close()


def _params(**values: Any) -> list[tuple[str, str]]:
    params = []
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        params.append((key, str(value)))
    return params


class Client:
    """Client calls the API server: CRUD, patch, watch and discovery on JSON dicts."""

    def __init__(self, config: Config, *, transport: Transport | None = None,
                 user_agent: str = f"kybernetes/{kybernetes.__version__}") -> None:
        self.config = config
        self._own_transport = transport is None
        self._transport: Transport = transport if transport is not None else HTTPTransport(config)
        self._user_agent = user_agent

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the transport if the client made it."""
        if self._own_transport and isinstance(self._transport, HTTPTransport):
            await self._transport.aclose()

    # -- raw requests ------------------------------------------------------------------------

    async def send(self, method: str, path: str, *, params: Iterable[tuple[str, str]] = (), body: Any = None,
                   content_type: str = JSON, stream: bool = False) -> Response:
        """Send one request and return the raw response; non-2xx answers raise `APIStatusError`."""
        headers = {"Accept": JSON, "User-Agent": self._user_agent}
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else orjson.dumps(body)
            headers["Content-Type"] = content_type
        request = Request(method, path, list(params), headers, data, stream)
        response = await self._transport(request)
        if response.status >= 300:
            payload = await response.read()
            status = errors.status_from_body(response.status, payload)
            raise errors.from_status(response.status, status)
        return response

    async def request(self, method: str, path: str, *, params: Iterable[tuple[str, str]] = (), body: Any = None,
                      content_type: str = JSON) -> Any:
        """Send one request and return the decoded JSON answer (None for an empty body)."""
        response = await self.send(method, path, params=params, body=body, content_type=content_type)
        payload = await response.read()
        if not payload:
            return None
        try:
            return orjson.loads(payload)
        except orjson.JSONDecodeError as err:
            raise errors.DecodeError(f"{method} {path}: not JSON: {errors.truncate(payload.decode('utf-8', 'replace'))}") from err

    # -- verbs -----------------------------------------------------------------------------

    def _namespace(self, ref: ResourceRef, namespace: str | None, obj: Obj | None = None) -> str | None:
        if not ref.namespaced:
            return None
        if namespace:
            return namespace
        if obj is not None and (from_obj := (obj.get("metadata") or {}).get("namespace")):
            return str(from_obj)
        return self.config.namespace

    async def get(self, ref: ResourceRef, name: str, namespace: str | None = None, *,
                  subresource: str | None = None) -> Obj:
        """GET one object (namespaced refs default to the context's namespace)."""
        return await self.request("GET", ref.path(self._namespace(ref, namespace), name, subresource))

    async def list(self, ref: ResourceRef, namespace: str | None = None, *, label_selector: str | None = None,
                   field_selector: str | None = None, resource_version: str | None = None, limit: int | None = None,
                   continue_: str | None = None) -> Obj:
        """LIST a collection: one namespace, or all namespaces when `namespace` is None."""
        params = _params(labelSelector=label_selector, fieldSelector=field_selector,
                         resourceVersion=resource_version, limit=limit, **{"continue": continue_})
        return await self.request("GET", ref.path(namespace if ref.namespaced else None), params=params)

    async def list_all(self, ref: ResourceRef, namespace: str | None = None, *, label_selector: str | None = None,
                       field_selector: str | None = None, page_size: int = 500) -> Obj:
        """LIST a collection following `continue` tokens; return one list with every item."""
        items: list[Obj] = []
        token: str | None = None
        while True:
            page = await self.list(ref, namespace, label_selector=label_selector, field_selector=field_selector,
                                   limit=page_size, continue_=token)
            items.extend(page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue") or None
            if not token:
                page["items"] = items
                return page

    async def create(self, ref: ResourceRef, obj: Obj, namespace: str | None = None, *,
                     params: Mapping[str, str] | None = None) -> Obj:
        """POST `obj` into its collection."""
        path = ref.path(self._namespace(ref, namespace, obj))
        return await self.request("POST", path, params=(params or {}).items(), body=obj)

    async def update(self, ref: ResourceRef, obj: Obj, *, subresource: str | None = None,
                     params: Mapping[str, str] | None = None) -> Obj:
        """PUT `obj` (name and namespace from its metadata), or one of its subresources."""
        meta = obj.get("metadata") or {}
        path = ref.path(self._namespace(ref, None, obj), str(meta.get("name", "")), subresource)
        return await self.request("PUT", path, params=(params or {}).items(), body=obj)

    async def update_status(self, ref: ResourceRef, obj: Obj) -> Obj:
        """PUT `obj` to its /status subresource."""
        return await self.update(ref, obj, subresource="status")

    async def patch(self, ref: ResourceRef, name: str, patch: Any, *, content_type: str = MERGE_PATCH,
                    namespace: str | None = None, subresource: str | None = None,
                    params: Mapping[str, str] | None = None) -> Obj:
        """PATCH one object; `content_type` picks merge (default), strategic, JSON or apply patch."""
        path = ref.path(self._namespace(ref, namespace), name, subresource)
        return await self.request("PATCH", path, params=(params or {}).items(), body=patch, content_type=content_type)

    async def delete(self, ref: ResourceRef, name: str, namespace: str | None = None, *, body: Obj | None = None,
                     propagation_policy: PropagationPolicy | None = None, uid: str | None = None) -> Obj:
        """DELETE one object; answers the object (still finalizing) or a Status.

        `propagation_policy` and `uid` (a precondition: delete only this incarnation) are merged
        into the DeleteOptions `body`.
        """
        options: Obj = {"kind": "DeleteOptions", "apiVersion": "v1", **(body or {})}
        if propagation_policy is not None:
            options["propagationPolicy"] = propagation_policy
        if uid is not None:
            options["preconditions"] = {**options.get("preconditions", {}), "uid": uid}
        path = ref.path(self._namespace(ref, namespace), name)
        return await self.request("DELETE", path, body=options)

    async def delete_collection(self, ref: ResourceRef, namespace: str | None = None, *,
                                label_selector: str | None = None, field_selector: str | None = None,
                                propagation_policy: PropagationPolicy | None = None) -> Obj:
        """DELETE every object of a collection (deletecollection) matching the selectors."""
        options: Obj = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if propagation_policy is not None:
            options["propagationPolicy"] = propagation_policy
        params = _params(labelSelector=label_selector, fieldSelector=field_selector)
        return await self.request("DELETE", ref.path(namespace if ref.namespaced else None), params=params, body=options)

    async def watch(self, ref: ResourceRef, namespace: str | None = None, *, resource_version: str | None = None,
                    label_selector: str | None = None, field_selector: str | None = None,
                    timeout_seconds: int | None = None, allow_bookmarks: bool = True) -> AsyncIterator[WatchEvent]:
        """Stream watch events until the server ends the stream.

        An in-stream ERROR event raises its `APIStatusError` (410 → `GoneError`: re-list). Close the
        iterator (`contextlib.aclosing`) when stopping early, so the connection is dropped.
        """
        params = _params(watch=True, resourceVersion=resource_version, labelSelector=label_selector,
                         fieldSelector=field_selector, timeoutSeconds=timeout_seconds,
                         allowWatchBookmarks=allow_bookmarks or None)
        path = ref.path(namespace if ref.namespaced else None)
        response = await self.send("GET", path, params=params, stream=True)
        chunks = _as_stream(response.body)
        async with contextlib.aclosing(chunks):
            buffer = b""
            async for chunk in chunks:
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    if line.strip():
                        yield _event(line, path)
            if buffer.strip():
                yield _event(buffer, path)

    # -- discovery -------------------------------------------------------------------------

    async def discover(self, *, partial: bool = False) -> list[ResourceRef]:
        """Return every top-level resource of every served group's preferred version (legacy discovery).

        A group version that fails to answer raises, unless `partial`, where it is logged and
        skipped (the garbage collector carries on; the namespace controller must not).
        """
        core = await self.request("GET", "/api")
        paths = [f"/api/{v}" for v in (core or {}).get("versions") or []]
        groups = await self.request("GET", "/apis")
        for group in (groups or {}).get("groups") or []:
            preferred = (group.get("preferredVersion") or {}).get("groupVersion")
            versions = group.get("versions") or []
            if not preferred and versions:
                preferred = versions[0].get("groupVersion")
            if preferred:
                paths.append(f"/apis/{preferred}")

        async def fetch(path: str) -> Any:
            try:
                return await self.request("GET", path)
            except errors.ClientError as err:
                if not partial:
                    raise
                log.warning("discovery of %s failed, skipping it: %s", path, err)
                return None

        # gather, not a TaskGroup: the caller wants the APIStatusError itself, not an ExceptionGroup.
        documents = await asyncio.gather(*(fetch(p) for p in paths), return_exceptions=True)
        refs: list[ResourceRef] = []
        for document in documents:
            if isinstance(document, BaseException):
                raise document
            refs.extend(resources_of(document))
        return refs


def resources_of(document: Obj | None) -> list[ResourceRef]:
    """Return the top-level resources (no subresources) of an APIResourceList."""
    if not document:
        return []
    group, _, version = str(document.get("groupVersion", "")).rpartition("/")
    refs = []
    for resource in document.get("resources") or []:
        name = str(resource.get("name", ""))
        if not name or "/" in name:
            continue
        refs.append(ResourceRef(group, version, name, bool(resource.get("namespaced")), str(resource.get("kind", "")),
                                frozenset(resource.get("verbs") or ())))
    return refs


def _as_stream(body: bytes | AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if not isinstance(body, bytes):
        return body

    async def once() -> AsyncIterator[bytes]:
        yield body

    return once()


def _event(line: bytes, path: str) -> WatchEvent:
    try:
        decoded = orjson.loads(line)
    except orjson.JSONDecodeError as err:
        raise errors.DecodeError(f"watch {path}: bad event: {errors.truncate(line.decode('utf-8', 'replace'))}") from err
    if not isinstance(decoded, dict) or not isinstance(decoded.get("object"), dict):
        raise errors.DecodeError(f"watch {path}: event without object: {errors.truncate(line.decode('utf-8', 'replace'))}")
    event_type = str(decoded.get("type", ""))
    if event_type == "ERROR":
        status = decoded["object"]
        code = status.get("code") if isinstance(status.get("code"), int) else 500
        raise errors.from_status(code, status)
    return WatchEvent(event_type, decoded["object"])
