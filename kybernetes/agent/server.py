"""server: the node agent's HTTPS port (upstream's kubelet server): logs, exec, attach, port-forward, resource metrics.

Paths and query parameters are upstream's kubelet's, so the API server proxies to it as it would
to a kubelet:

    GET      /containerLogs/{namespace}/{pod}/{container}?follow&previous&tailLines&timestamps
                                                          &sinceSeconds&sinceTime&limitBytes
    GET|POST /exec/{namespace}/{pod}/{container}?command=…&input=1&output=1&error=1&tty=1
    GET|POST /attach/{namespace}/{pod}/{container}?input=1&output=1&error=1&tty=1
    GET|POST /portForward/{namespace}/{pod}[?port=…]
    GET      /metrics/resource       CPU and memory of the node and its running containers (resourcemetrics)
    GET      /healthz

Only the API server is meant to call it: TLS with the node's serving certificate, and a client
certificate signed by the cluster CA is required; its subject must be in `system:masters` (the
API server's kubelet-client identity), so another node's certificate is refused. Errors are
plain text with upstream's status codes and wording: the API server turns a 400 from here into
a `BadRequest` Status, and kubectl shows a failed upgrade as `unable to upgrade connection: …`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Mapping, Protocol

from aiohttp import web

from kybernetes.agent import resourcemetrics
from kybernetes.agent.podstate import RuntimePodStatus
from kybernetes.agent.runtime import logs, stats
from kybernetes.agent.runtime.protocol import NotFound, Runtime, RuntimeFailure
from kybernetes.agent.runtime.simulated import SimulatedRuntime
from kybernetes.agent.runtime.types import ContainerId, ContainerState, SandboxState
from kybernetes.apiserver.pki import server_ssl_context
from kybernetes.streaming import portforward, remotecommand

if TYPE_CHECKING:
    from kybernetes.agent.agent import NodeAgent

log = logging.getLogger(__name__)

Obj = dict[str, Any]
AUTHORIZED_GROUP = "system:masters"


class Host(Protocol):
    """Host is what the server needs of the agent (upstream's kubelet HostInterface)."""

    @property
    def runtime(self) -> Runtime: ...

    def pod_by_name(self, namespace: str, name: str) -> Obj | None:
        """The pod bound to this node with that name, as last seen from the API."""
        ...

    def pod_status(self, pod: Obj) -> Obj:
        """The pod's newest status: the one the agent computed, else the API's."""
        ...

    async def runtime_pod(self, uid: str) -> RuntimePodStatus:
        """What the runtime holds for the pod."""
        ...

    def node_stats(self) -> stats.NodeStats | None:
        """The whole node's CPU and memory use now; None if it cannot be read."""
        ...


@dataclass
class AgentHost:
    """AgentHost answers `Host` from a running `NodeAgent`."""

    agent: NodeAgent

    @property
    def runtime(self) -> Runtime:
        return self.agent.runtime

    def pod_by_name(self, namespace: str, name: str) -> Obj | None:
        for pod in list(self.agent.pods.values()):
            meta = pod.get("metadata") or {}
            if meta.get("name") == name and (meta.get("namespace") or "default") == namespace:
                return pod
        return None

    def pod_status(self, pod: Obj) -> Obj:
        uid = str((pod.get("metadata") or {}).get("uid", ""))
        return self.agent.status_manager.cached(uid) or pod.get("status") or {}

    async def runtime_pod(self, uid: str) -> RuntimePodStatus:
        return await self.agent.manager.pod_status(uid)

    def node_stats(self) -> stats.NodeStats | None:
        runtime = self.agent.runtime
        if isinstance(runtime, SimulatedRuntime):
            # A simulated node is not this machine: it reports its runtime's made-up figures.
            return runtime.node_stats()
        return stats.read_node(stats.CgroupMounts.of_this_machine())


@dataclass(frozen=True)
class TLSPaths:
    """TLSPaths name the serving certificate and key, and the CA that client certificates must chain to."""

    cert: Path
    key: Path
    ca: Path


def ssl_context(tls: TLSPaths) -> ssl.SSLContext:
    # Only the API server may call: no connection without a certificate of the cluster CA.
    return server_ssl_context(tls.cert, tls.key, tls.ca, client_certs=ssl.CERT_REQUIRED)


def text(message: str, status: int) -> web.Response:
    return web.Response(status=status, text=message, content_type="text/plain")


def _subject(peercert: Mapping[str, Any] | None) -> tuple[str, list[str]]:
    """(common name, organizations) of a verified peer certificate."""
    cn, orgs = "", []
    for rdn in (peercert or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                cn = value
            elif key == "organizationName":
                orgs.append(value)
    return cn, orgs


# ----- logs ---------------------------------------------------------------------------------------


class LogError(Exception):
    """LogError is a reason the logs cannot be read, in upstream's words."""


def _find_status(status: Obj, container: str) -> Obj | None:
    for key in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"):
        for cs in status.get(key) or []:
            if isinstance(cs, dict) and cs.get("name") == container:
                return cs
    return None


def log_container_id(pod_name: str, status: Obj, container: str, previous: bool) -> str:
    """The container whose log to read (upstream's validateContainerLogStatus); LogError explains why none."""
    cs = _find_status(status, container)
    if cs is None:
        raise LogError(f'container "{container}" in pod "{pod_name}" is not available')
    state, last = cs.get("state") or {}, cs.get("lastState") or {}
    last_terminated = last.get("terminated") or None
    if previous:
        if not last_terminated or not last_terminated.get("containerID"):
            raise LogError(f'previous terminated container "{container}" in pod "{pod_name}" not found')
        return str(last_terminated["containerID"])
    if state.get("running") is not None:
        return str(cs.get("containerID") or "")
    if state.get("terminated") is not None:
        cid = (state["terminated"] or {}).get("containerID")
        if cid:
            return str(cid)
        if last_terminated and last_terminated.get("containerID"):
            return str(last_terminated["containerID"])
        raise LogError(f'container "{container}" in pod "{pod_name}" is terminated')
    if last_terminated is not None:
        if not last_terminated.get("containerID"):
            raise LogError(f'container "{container}" in pod "{pod_name}" is terminated')
        return str(last_terminated["containerID"])
    if state.get("waiting") is not None:
        reason = (state["waiting"] or {}).get("reason") or ""
        if reason == "ErrImagePull":
            raise LogError(f'container "{container}" in pod "{pod_name}" is waiting to start: image can\'t be pulled')
        if reason == "ImagePullBackOff":
            raise LogError(f'container "{container}" in pod "{pod_name}" is waiting to start: trying and failing to pull image')
        raise LogError(f'container "{container}" in pod "{pod_name}" is waiting to start: {reason}')
    raise LogError(f'container "{container}" in pod "{pod_name}" is waiting to start - no logs yet')


@dataclass(frozen=True)
class LogOptions:
    """LogOptions are a log request's query, upstream's PodLogOptions."""

    follow: bool = False
    previous: bool = False
    timestamps: bool = False
    tail_lines: int | None = None
    since_ns: int | None = None
    limit_bytes: int | None = None

    @classmethod
    def from_query(cls, query: Mapping[str, str], *, now_ns: int) -> LogOptions:
        def flag(name: str) -> bool:
            return query.get(name, "") in ("1", "t", "T", "true", "TRUE", "True")

        def number(name: str) -> int | None:
            value = query.get(name)
            if value is None or value == "":
                return None
            try:
                return int(value)
            except ValueError:
                raise LogError(f'invalid value for {name}: "{value}"') from None

        tail = number("tailLines")
        since_seconds = number("sinceSeconds")
        since_ns = None
        if since_seconds is not None:
            since_ns = now_ns - since_seconds * 1_000_000_000
        elif query.get("sinceTime"):
            try:
                since_ns = logs.parse_timestamp(query["sinceTime"])
            except ValueError:
                raise LogError(f'invalid value for sinceTime: "{query["sinceTime"]}"') from None
        return cls(follow=flag("follow"), previous=flag("previous"), timestamps=flag("timestamps"),
                   tail_lines=tail if tail is not None and tail >= 0 else None, since_ns=since_ns,
                   limit_bytes=number("limitBytes"))


def _spec_has_container(pod: Obj, name: str) -> bool:
    spec = pod.get("spec") or {}
    return any(isinstance(c, dict) and c.get("name") == name
               for key in ("containers", "initContainers", "ephemeralContainers") for c in spec.get(key) or [])


class AgentServer:
    """AgentServer routes the kubelet paths to the runtime through a `Host`."""

    def __init__(self, host: Host) -> None:
        self.host = host

    def application(self) -> web.Application:
        app = web.Application(middlewares=[self._authorize])
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics/resource", self.resource_metrics)
        app.router.add_get("/containerLogs/{namespace}/{pod}/{container}", self.container_logs)
        for method in ("GET", "POST"):
            app.router.add_route(method, "/exec/{namespace}/{pod}/{container}", self.exec)
            app.router.add_route(method, "/attach/{namespace}/{pod}/{container}", self.attach)
            app.router.add_route(method, "/portForward/{namespace}/{pod}", self.port_forward)
        return app

    @web.middleware
    async def _authorize(self, request: web.Request,
                         handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        transport = request.transport
        # Without TLS (unit tests serve plain HTTP) there is no certificate to check.
        if transport is not None and transport.get_extra_info("ssl_object") is not None:
            cn, orgs = _subject(transport.get_extra_info("peercert"))
            if AUTHORIZED_GROUP not in orgs:
                verb = "create" if request.method == "POST" else "get"
                return text(f"Forbidden (user={cn}, verb={verb}, resource=nodes, subresource=proxy)", 403)
        return await handler(request)

    async def healthz(self, request: web.Request) -> web.Response:
        return text("ok", 200)

    async def resource_metrics(self, request: web.Request) -> web.Response:
        containers, failed = await resourcemetrics.collect(self.host.runtime)
        page = resourcemetrics.render(self.host.node_stats(), containers, scrape_error=failed)
        return web.Response(status=200, body=page.encode(), headers={"Content-Type": resourcemetrics.CONTENT_TYPE})

    # -- logs -------------------------------------------------------------------------------------

    async def container_logs(self, request: web.Request) -> web.StreamResponse:
        namespace, name, container = (request.match_info[k] for k in ("namespace", "pod", "container"))
        pod = self.host.pod_by_name(namespace, name)
        if pod is None:
            return text(f'pod "{name}" does not exist', 404)
        if not _spec_has_container(pod, container):
            return text(f'container "{container}" not found in pod "{name}"', 404)
        try:
            options = LogOptions.from_query(request.query, now_ns=time.time_ns())
            container_id = log_container_id(name, self.host.pod_status(pod), container, options.previous)
        except LogError as err:
            return text(str(err), 400)
        runtime_id = ContainerId(container_id.partition("://")[2] or container_id)
        try:
            status = await self.host.runtime.container_status(runtime_id)
        except NotFound:
            # Removed since the status was written: nothing left to read.
            status = None
        response = web.StreamResponse(status=200)
        response.content_type = "text/plain"
        response.enable_chunked_encoding()
        await response.prepare(request)
        if status is None or status.log_path is None:
            await response.write_eof()
            return response
        exited = asyncio.Event()
        if status.state is not ContainerState.RUNNING or not options.follow:
            exited.set()
        waiter = asyncio.ensure_future(self._wait_exit(runtime_id, exited)) if not exited.is_set() else None
        remaining = options.limit_bytes
        try:
            async for record in logs.follow_records(status.log_path, tail=options.tail_lines, since_ns=options.since_ns,
                                                    follow=options.follow, is_running=lambda: not exited.is_set()):
                data = record.render(timestamps=options.timestamps)
                if remaining is not None:
                    data = data[:remaining]
                    remaining -= len(data)
                await response.write(data)
                if remaining is not None and remaining <= 0:
                    break
        except ConnectionError:
            return response
        finally:
            if waiter is not None:
                waiter.cancel()
        with contextlib.suppress(ConnectionError):
            await response.write_eof()
        return response

    async def _wait_exit(self, container_id: ContainerId, exited: asyncio.Event) -> None:
        try:
            await self.host.runtime.wait_container(container_id)
        except RuntimeFailure:
            pass
        finally:
            exited.set()

    # -- exec and attach ------------------------------------------------------------------------------

    async def _running_container(self, pod: Obj, container: str) -> ContainerId | None:
        uid = str((pod.get("metadata") or {}).get("uid", ""))
        found = (await self.host.runtime_pod(uid)).find(container)
        if found is None or found.state is not ContainerState.RUNNING:
            return None
        return found.id

    async def _stream_target(self, request: web.Request) -> tuple[remotecommand.Options, ContainerId] | web.Response:
        """What exec and attach both check first: the streams asked for, then a running container."""
        namespace, name, container = (request.match_info[k] for k in ("namespace", "pod", "container"))
        options = remotecommand.Options.from_query(request.query)
        if (problem := options.problem()) is not None:
            return text(problem, 400)
        pod = self.host.pod_by_name(namespace, name)
        if pod is None:
            return text("pod does not exist", 404)
        container_id = await self._running_container(pod, container)
        if container_id is None:
            return text(f'container not found ("{container}")', 500)
        return options, container_id

    async def exec(self, request: web.Request) -> web.StreamResponse:
        target = await self._stream_target(request)
        if isinstance(target, web.Response):
            return target
        options, container_id = target
        command = request.query.getall("command", [])
        runtime = self.host.runtime

        async def run(streams: remotecommand.Streams) -> int:
            return await runtime.exec(container_id, command, stdout=streams.stdout or remotecommand.discard,
                                      stderr=streams.stderr or remotecommand.discard, stdin=streams.stdin,
                                      tty=streams.tty, resize=streams.resize)

        return await remotecommand.serve(request, options, run)

    async def attach(self, request: web.Request) -> web.StreamResponse:
        target = await self._stream_target(request)
        if isinstance(target, web.Response):
            return target
        options, container_id = target
        runtime = self.host.runtime

        async def run(streams: remotecommand.Streams) -> int:
            await runtime.attach(container_id, stdout=streams.stdout or remotecommand.discard,
                                 stderr=streams.stderr or remotecommand.discard, stdin=streams.stdin,
                                 tty=streams.tty, resize=streams.resize)
            return 0

        return await remotecommand.serve(request, options, run)

    # -- port-forward ---------------------------------------------------------------------------------

    async def port_forward(self, request: web.Request) -> web.StreamResponse:
        namespace, name = request.match_info["namespace"], request.match_info["pod"]
        try:
            ports = portforward.parse_ports(request.query.getall("port", []))
        except ValueError as err:
            return text(str(err), 400)
        pod = self.host.pod_by_name(namespace, name)
        if pod is None:
            return text("pod does not exist", 404)
        uid = str((pod.get("metadata") or {}).get("uid", ""))
        runtime_pod = await self.host.runtime_pod(uid)
        sandbox = runtime_pod.sandbox
        if sandbox is None or sandbox.state is not SandboxState.READY or not runtime_pod.running():
            # Upstream looks among running pods only, and names the pod by its full name.
            return text(f'pod not found ("{name}_{namespace}")', 500)
        runtime = self.host.runtime
        sandbox_id = sandbox.id

        async def dial(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
            return await runtime.port_forward(sandbox_id, port)

        return await portforward.serve(request, dial, target=f"{namespace}/{name}, uid {uid}", ports=ports)


async def serve(host: Host, *, port: int, tls: TLSPaths | None, bind_address: str = "0.0.0.0",
                started: Callable[[int], None] | None = None) -> None:
    """Serve the agent's port until cancelled; `started` is told the bound port."""
    runner = web.AppRunner(AgentServer(host).application(), access_log=None, handle_signals=False,
                           shutdown_timeout=1.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, bind_address, port, ssl_context=ssl_context(tls) if tls else None,
                           reuse_address=True)
        await site.start()
        bound = port
        server = getattr(site, "_server", None)
        if server is not None and server.sockets:
            bound = server.sockets[0].getsockname()[1]
        log.info("agent server: listening on %s://%s:%d", "https" if tls else "http", bind_address, bound)
        if started is not None:
            started(bound)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
