"""proxy: pods/log, pods/exec, pods/attach and pods/portforward, answered by the node agent of the pod's node.

As upstream's API server: validate against the Pod (404 if it does not exist; container
resolution with upstream's 400 messages; `pod <name> does not have a host assigned`), find the
node's address (InternalIP, else Hostname, as k3s prefers) and its agent port
(`status.daemonEndpoints.kubeletEndpoint.Port`), and call the agent's kubelet path over TLS,
presenting the API server's kubelet-client certificate and verifying the agent's serving
certificate against the cluster CA.

Logs are streamed back as they arrive. Exec, attach and port-forward are upgrades: the client's
request is sent on with its Upgrade, Connection, Sec-WebSocket-* and X-Stream-Protocol-Version
headers, and if the agent switches protocols its 101 goes back to the client and bytes are piped
both ways untouched — the agent speaks WebSocket or SPDY with the client directly (upstream's
upgrade-aware proxy). Any other answer is passed back as it is, which is how kubectl comes to
print `unable to upgrade connection: container not found ("x")`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from kybernetes.api import errors
from kybernetes.apiserver import pki
from kybernetes.streaming import hijack

if TYPE_CHECKING:
    from kybernetes.apiserver.app import APIServer, Route

log = logging.getLogger(__name__)

Obj = dict[str, Any]
DEFAULT_KUBELET_PORT = 10250
MAX_ERROR_BODY = 50_000
"""Upstream reads at most this much of a failed answer."""
ADDRESS_TYPES = ("InternalIP", "ExternalIP", "Hostname")
"""Which node address to call, in order (k3s' --kubelet-preferred-address-types)."""
# Hop-by-hop and credential headers a proxy does not pass on; Upgrade and Connection are put back for upgrades.
_DROPPED_REQUEST_HEADERS = frozenset({"host", "authorization", "proxy-authorization", "cookie", "content-length",
                                      "transfer-encoding", "keep-alive", "te", "trailer"})
_DROPPED_RESPONSE_HEADERS = frozenset({"date", "server", "content-length", "transfer-encoding"})
STREAMING_SUBRESOURCES = frozenset({"log", "exec", "attach", "portforward"})


def _flag(query: Mapping[str, str], name: str) -> bool:
    return query.get(name, "") in ("1", "t", "T", "true", "TRUE", "True")


def _all_container_names(spec: Obj) -> list[str]:
    """Init, regular and ephemeral containers, in upstream's VisitContainers order."""
    return [str(c.get("name")) for key in ("initContainers", "containers", "ephemeralContainers")
            for c in spec.get(key) or [] if isinstance(c, dict)]


def _names(spec: Obj, key: str) -> list[str]:
    return [str(c.get("name")) for c in spec.get(key) or [] if isinstance(c, dict)]


def _obvious_container(pod: Obj, wanted: str) -> str:
    """The container named (if valid) or the only one; 400 when none is named and there is not exactly one."""
    spec, name = pod.get("spec") or {}, pod["metadata"]["name"]
    if wanted:
        if wanted not in _all_container_names(spec):
            raise errors.bad_request(f"container {wanted} is not valid for pod {name}")
        return wanted
    containers = _names(spec, "containers")
    if len(containers) == 1:
        return containers[0]
    if not containers:
        raise errors.bad_request(f"a container name must be specified for pod {name}")
    return ""


def resolve_log_container(pod: Obj, wanted: str) -> str:
    """The container a log request means (upstream's validateContainer); 400 otherwise."""
    if found := _obvious_container(pod, wanted):
        return found
    spec, name = pod.get("spec") or {}, pod["metadata"]["name"]
    raise errors.bad_request(
        f"a container name must be specified for pod {name}, choose one of: [{' '.join(_all_container_names(spec))}]")


def resolve_stream_container(pod: Obj, wanted: str) -> str:
    """The container an exec or attach means (upstream's streamLocation); 400 otherwise."""
    if found := _obvious_container(pod, wanted):
        return found
    spec, name = pod.get("spec") or {}, pod["metadata"]["name"]
    message = f"a container name must be specified for pod {name}, choose one of: [{' '.join(_names(spec, 'containers'))}]"
    inits = _names(spec, "initContainers")
    if inits:
        message += f" or one of the init containers: [{' '.join(inits)}]"
    raise errors.bad_request(message)


def _int_option(query: Mapping[str, str], name: str) -> int | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise errors.bad_request(f'invalid value for {name}: "{value}": strconv.ParseInt: parsing "{value}": '
                                 "invalid syntax") from None


def log_query(query: Mapping[str, str], pod_name: str) -> dict[str, str]:
    """The kubelet's query for a log request, validated as upstream's ValidatePodLogOptions does."""
    out: dict[str, str] = {}
    problems: list[errors.FieldError] = []
    for name in ("follow", "previous", "timestamps"):
        if _flag(query, name):
            out[name] = "true"
    tail = _int_option(query, "tailLines")
    if tail is not None:
        if tail < 0:
            problems.append(errors.invalid("tailLines", tail, "must be greater than or equal to 0"))
        out["tailLines"] = str(tail)
    limit = _int_option(query, "limitBytes")
    if limit is not None:
        if limit < 1:
            problems.append(errors.invalid("limitBytes", limit, "must be greater than 0"))
        out["limitBytes"] = str(limit)
    since = _int_option(query, "sinceSeconds")
    if since is not None:
        if since < 1:
            problems.append(errors.invalid("sinceSeconds", since, "must be greater than 0"))
        out["sinceSeconds"] = str(since)
    if query.get("sinceTime"):
        if since is not None:
            problems.append(errors.forbidden("", "at most one of `sinceTime` or `sinceSeconds` may be specified"))
        out["sinceTime"] = query["sinceTime"]
    if problems:
        raise errors.invalid_error("PodLogOptions", pod_name, problems)
    return out


def stream_query(query: Mapping[str, str], *, command: list[str] | None) -> list[tuple[str, str]]:
    """The kubelet's query for exec or attach: upstream renames stdin/stdout/stderr to input/output/error."""
    out: list[tuple[str, str]] = []
    for api_name, kubelet_name in (("stdin", "input"), ("stdout", "output"), ("stderr", "error"), ("tty", "tty")):
        if _flag(query, api_name):
            out.append((kubelet_name, "1"))
    out += [("command", c) for c in command or []]
    return out


def node_endpoint(node: Obj) -> tuple[str, int]:
    """(address, port) of a node's agent."""
    status = node.get("status") or {}
    addresses = [a for a in status.get("addresses") or [] if isinstance(a, dict)]
    host = ""
    for kind in ADDRESS_TYPES:
        host = next((str(a.get("address")) for a in addresses if a.get("type") == kind and a.get("address")), "")
        if host:
            break
    if not host:
        raise errors.bad_request(f"no preferred addresses found; known addresses: {addresses}")
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port") or DEFAULT_KUBELET_PORT
    return host, int(port)


def _url_host(host: str) -> str:
    try:
        return f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:
        return host


def _parse_head(head: bytes) -> tuple[int, CIMultiDict[str]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise ValueError(f"not an HTTP response: {lines[0]!r}")
    headers: CIMultiDict[str] = CIMultiDict()
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers.add(name.strip(), value.strip())
    return int(parts[1]), headers


@dataclass
class NodeProxy:
    """NodeProxy answers the streaming pod subresources by calling the pod's node agent."""

    tls: pki.TLSFiles | None
    """The API server's kubelet-client certificate and the cluster CA; None: no agent can be reached."""
    _context: ssl.SSLContext | None = None

    def ssl_context(self) -> ssl.SSLContext:
        if self._context is None:
            assert self.tls is not None
            ctx = ssl.create_default_context(cafile=str(self.tls.ca_cert))
            ctx.load_cert_chain(self.tls.kubelet_client_cert, self.tls.kubelet_client_key)
            ctx.set_alpn_protocols(["http/1.1"])
            self._context = ctx
        return self._context

    async def handle(self, api: APIServer, request: web.Request, route: Route) -> web.StreamResponse:
        assert route.name is not None and route.namespace is not None
        pod = api.registry.get(route.resource, route.namespace, route.name)
        name, sub, query = route.name, route.subresource, request.query
        node_name = str((pod.get("spec") or {}).get("nodeName") or "")
        if sub == "log":
            if request.method != "GET":
                raise errors.method_not_allowed(request.method)
            container = resolve_log_container(pod, query.get("container", ""))
            kubelet_query = log_query(query, name)
            if not node_name:
                # Upstream streams nothing for a pod that is not scheduled yet.
                return web.Response(status=200, body=b"", content_type="text/plain")
            host, port = self._endpoint(api, node_name)
            path = f"/containerLogs/{route.namespace}/{name}/{container}"
            return await self._logs(request, host, port, path, kubelet_query, name)
        if request.method not in ("GET", "POST"):
            raise errors.method_not_allowed(request.method)
        if sub in ("exec", "attach"):
            container = resolve_stream_container(pod, query.get("container", ""))
            if not node_name:
                raise errors.bad_request(f"pod {name} does not have a host assigned")
            command = query.getall("command", []) if sub == "exec" else None
            path = f"/{sub}/{route.namespace}/{name}/{container}"
            host, port = self._endpoint(api, node_name)
            return await self._upgrade(request, host, port, path, stream_query(query, command=command))
        if not node_name:
            raise errors.bad_request(f"pod {name} does not have a host assigned")
        ports = [p for value in query.getall("ports", []) for p in value.split(",") if p.strip()]
        host, port = self._endpoint(api, node_name)
        kubelet_query = [("port", ",".join(ports))] if ports else []
        return await self._upgrade(request, host, port, f"/portForward/{route.namespace}/{name}", kubelet_query)

    def _endpoint(self, api: APIServer, node_name: str) -> tuple[str, int]:
        if self.tls is None:
            raise errors.service_unavailable("the API server has no client certificate for node agents")
        nodes = api.catalog.lookup("", "v1", "nodes")
        assert nodes is not None
        return node_endpoint(api.registry.get(nodes, None, node_name))

    # -- logs ---------------------------------------------------------------------------------------

    async def _logs(self, request: web.Request, host: str, port: int, path: str, query: dict[str, str],
                    pod_name: str) -> web.StreamResponse:
        url = f"https://{_url_host(host)}:{port}{path}"
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10)
        async with aiohttp.ClientSession(timeout=timeout, auto_decompress=False) as session:
            try:
                upstream = await session.get(url, params=query, ssl=self.ssl_context())
            except (aiohttp.ClientError, OSError) as exc:
                raise errors.internal_error(f"error dialing backend: {exc}") from exc
            async with upstream:
                if not 200 <= upstream.status <= 206:
                    body = (await upstream.content.read(MAX_ERROR_BODY)).decode(errors="replace")
                    raise _checked(upstream.status, body, pod_name)
                response = web.StreamResponse(status=200)
                response.content_type = "text/plain"
                response.enable_chunked_encoding()
                await response.prepare(request)
                with contextlib.suppress(aiohttp.ClientError, ConnectionError):
                    async for chunk in upstream.content.iter_any():
                        await response.write(chunk)
                with contextlib.suppress(ConnectionError):
                    await response.write_eof()
                return response

    # -- upgrades -----------------------------------------------------------------------------------

    async def _upgrade(self, request: web.Request, host: str, port: int, path: str,
                       query: list[tuple[str, str]]) -> web.StreamResponse:
        try:
            agent_reader, agent_writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, ssl=self.ssl_context(), server_hostname=host), 10)
        except (OSError, ssl.SSLError, TimeoutError) as exc:
            raise errors.internal_error(f"error dialing backend: {exc}") from exc
        try:
            target = path + (f"?{urlencode(query)}" if query else "")
            lines = [f"{request.method} {target} HTTP/1.1", f"Host: {_url_host(host)}:{port}"]
            for key, value in request.headers.items():
                if key.lower() not in _DROPPED_REQUEST_HEADERS:
                    lines.append(f"{key}: {value}")
            lines.append("Content-Length: 0")
            agent_writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            await agent_writer.drain()
            try:
                head = await agent_reader.readuntil(b"\r\n\r\n")
                status, headers = _parse_head(head[:-4])
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, ConnectionError) as exc:
                raise errors.internal_error(f"error reading the node agent's answer: {exc}") from exc
            if status != 101:
                return await _passed_back(status, headers, agent_reader)
            client_reader = hijack.claim(request)
            raw = await hijack.switch(request, client_reader, {k: v for k, v in headers.items()
                                                               if k.lower() not in _DROPPED_RESPONSE_HEADERS})
            await _pipe(client_reader, raw, agent_reader, agent_writer)
            return raw.response
        finally:
            agent_writer.close()


def _checked(status: int, body: str, pod_name: str) -> errors.APIError:
    """An agent's failed answer as the Status upstream's GenericHttpResponseChecker makes of it."""
    if status == 400:
        return errors.bad_request(body)
    if status == 500:
        return errors.internal_error(body)
    if status == 404:
        return errors.APIError(f"the server could not find the requested resource ( pods/log {pod_name})", 404,
                               "NotFound", {"name": pod_name, "kind": "pods/log", "causes": [{"message": body}]})
    return errors.APIError(body or f"the server responded with the status code {status}", status, "Unknown")


async def _passed_back(status: int, headers: CIMultiDict[str], reader: asyncio.StreamReader) -> web.Response:
    """A refused upgrade goes back to the client as the agent gave it (body capped)."""
    length = headers.get("Content-Length")
    body = b""
    with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError, ValueError, TimeoutError):
        if length is not None:
            body = await asyncio.wait_for(reader.readexactly(min(int(length), MAX_ERROR_BODY)), 10)
        else:
            body = await asyncio.wait_for(reader.read(MAX_ERROR_BODY), 10)
    response = web.Response(status=status, body=body)
    response.headers["Content-Type"] = headers.get("Content-Type", "text/plain")
    return response


async def _pipe(client_reader: asyncio.StreamReader, client: hijack.RawConnection,
                agent_reader: asyncio.StreamReader, agent_writer: asyncio.StreamWriter) -> None:
    """Copy bytes both ways until either side closes; then both are closed."""

    async def up() -> None:
        while data := await client_reader.read(1 << 16):
            agent_writer.write(data)
            await agent_writer.drain()

    async def down() -> None:
        while data := await agent_reader.read(1 << 16):
            await client.send(data)

    tasks = [asyncio.ensure_future(up()), asyncio.ensure_future(down())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError, RuntimeError):
                await task
        await client.close()
