"""The agent's HTTPS port: who may call it, and how logs, exec and port-forward answer (on the simulated runtime)."""

from __future__ import annotations

import asyncio
import json
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from kybernetes.agent import server as agent_server
from kybernetes.agent.podstate import RuntimePodStatus
from kybernetes.agent.runtime.simulated import SimulatedRuntime
from kybernetes.agent.runtime.types import ContainerConfig, PodSandboxConfig
from kybernetes.apiserver import pki
from kybernetes.streaming import spdy

Obj = dict[str, Any]


@dataclass
class SimulatedHost:
    """A Host over the simulated runtime and a list of pods (what the agent's informer would hold)."""

    runtime: SimulatedRuntime = field(default_factory=SimulatedRuntime)
    pods: list[Obj] = field(default_factory=list)

    def pod_by_name(self, namespace: str, name: str) -> Obj | None:
        return next((p for p in self.pods if p["metadata"]["namespace"] == namespace and p["metadata"]["name"] == name), None)

    def pod_status(self, pod: Obj) -> Obj:
        return pod.get("status") or {}

    async def runtime_pod(self, uid: str) -> RuntimePodStatus:
        return RuntimePodStatus.of(uid, await self.runtime.list_sandboxes(), await self.runtime.list_containers())


async def _running_pod(host: SimulatedHost) -> None:
    runtime = host.runtime
    sandbox = await runtime.run_pod_sandbox(PodSandboxConfig(uid="u1", name="web", namespace="ns"))
    app = await runtime.create_container(sandbox, ContainerConfig(name="app", lowerdirs=()))
    await runtime.start_container(app)
    await runtime.create_container(sandbox, ContainerConfig(name="later", lowerdirs=()))
    host.pods.append({
        "metadata": {"name": "web", "namespace": "ns", "uid": "u1"},
        "spec": {"containers": [{"name": "app"}, {"name": "later"}]},
        "status": {"containerStatuses": [
            {"name": "app", "containerID": f"simulated://{app}", "state": {"running": {}}, "lastState": {}},
            {"name": "later", "state": {"waiting": {"reason": "ContainerCreating"}}, "lastState": {}},
        ]},
    })


@pytest.fixture
async def host() -> SimulatedHost:
    host = SimulatedHost()
    await _running_pod(host)
    return host


@pytest.fixture
async def plain(host: SimulatedHost) -> AsyncIterator[TestServer]:
    async with TestServer(agent_server.AgentServer(host).application()) as srv:
        yield srv


async def _get(srv: TestServer, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session:
        async with session.get(srv.make_url(path)) as resp:
            return resp.status, await resp.text()


@pytest.mark.parametrize(
    ("path", "status", "body"),
    [
        ("/containerLogs/ns/nope/app", 404, 'pod "nope" does not exist'),
        ("/containerLogs/ns/web/nope", 404, 'container "nope" not found in pod "web"'),
        ("/containerLogs/ns/web/later", 400, 'container "later" in pod "web" is waiting to start: ContainerCreating'),
        ("/containerLogs/ns/web/app?previous=true", 400, 'previous terminated container "app" in pod "web" not found'),
        ("/containerLogs/ns/web/app?tailLines=x", 400, 'invalid value for tailLines: "x"'),
        # The simulated runtime keeps no log file: a running container has nothing to show.
        ("/containerLogs/ns/web/app", 200, ""),
        ("/exec/ns/web/app?command=true", 400, "you must specify at least 1 of stdin, stdout, stderr"),
        ("/exec/ns/nope/app?output=1", 404, "pod does not exist"),
        ("/exec/ns/web/later?output=1&command=true", 500, 'container not found ("later")'),
        ("/attach/ns/web/later?output=1", 500, 'container not found ("later")'),
        ("/portForward/ns/web?port=http", 400, 'unable to parse "http" as a port: invalid syntax'),
        ("/healthz", 200, "ok"),
    ],
    ids=["no-pod", "no-container", "waiting", "no-previous", "bad-tail", "empty-log", "no-streams", "exec-no-pod",
         "exec-not-running", "attach-not-running", "bad-port", "healthz"],
)
async def test_requests_answer_as_upstreams_kubelet(plain: TestServer, path: str, status: int, body: str) -> None:
    assert await _get(plain, path) == (status, body)


async def test_exec_runs_in_the_runtime_and_reports_its_status(plain: TestServer) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(plain.make_url("/exec/ns/web/app?command=true&output=1"),
                                      protocols=("v5.channel.k8s.io",)) as ws:
            messages = [msg.data async for msg in ws if msg.type == aiohttp.WSMsgType.BINARY]
    assert messages == [b"\x03" + json.dumps({"metadata": {}, "status": "Success"}, separators=(",", ":")).encode()]


async def test_port_forward_on_the_simulated_runtime_reports_why_it_cannot(plain: TestServer) -> None:
    reader, writer = await asyncio.open_connection(plain.host, plain.port)
    writer.write(b"POST /portForward/ns/web HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
                 b"X-Stream-Protocol-Version: portforward.k8s.io\r\nContent-Length: 0\r\n\r\n")
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
    conn = spdy.Connection(reader, spdy.StreamWriterSink(writer), client=True)
    reading = asyncio.create_task(conn.run())
    error = await conn.open_stream({"streamtype": "error", "port": "80", "requestid": "0"})
    data = await conn.open_stream({"streamtype": "data", "port": "80", "requestid": "0"})
    assert await data.read_all() == b""
    assert "nothing listens in a simulated pod" in (await error.read_all()).decode()
    await conn.close()
    await reading


# ----- TLS: only the API server's identity gets in -------------------------------------------------


@pytest.fixture
def credentials(tmp_path: Path) -> tuple[pki.TLSFiles, pki.NodeTLSFiles]:
    files = pki.ensure_tls(tmp_path / "server", bind_address="127.0.0.1")
    node = pki.NodeTLSFiles.for_data_dir(tmp_path / "node")
    node.write(pki.issue_node_credentials(files, "n1", ips=("127.0.0.1",)), "https://127.0.0.1:1")
    return files, node


@pytest.fixture
async def tls_port(host: SimulatedHost, credentials: tuple[pki.TLSFiles, pki.NodeTLSFiles]) -> AsyncIterator[int]:
    _, node = credentials
    bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(agent_server.serve(
        host, port=0, bind_address="127.0.0.1", started=bound.set_result,
        tls=agent_server.TLSPaths(cert=node.serving_cert, key=node.serving_key, ca=node.ca_cert)))
    try:
        yield await asyncio.wait_for(bound, 10)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def _client_context(ca: Path, cert: Path | None, key: Path | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(ca))
    if cert is not None and key is not None:
        ctx.load_cert_chain(cert, key)
    return ctx


async def _healthz(port: int, ctx: ssl.SSLContext) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"https://127.0.0.1:{port}/healthz", ssl=ctx) as resp:
            return resp.status, await resp.text()


async def test_the_api_servers_kubelet_client_certificate_is_let_in(
        tls_port: int, credentials: tuple[pki.TLSFiles, pki.NodeTLSFiles]) -> None:
    files, _ = credentials
    ctx = _client_context(files.ca_cert, files.kubelet_client_cert, files.kubelet_client_key)
    assert await _healthz(tls_port, ctx) == (200, "ok")


async def test_a_nodes_certificate_is_forbidden(tls_port: int, credentials: tuple[pki.TLSFiles, pki.NodeTLSFiles]) -> None:
    files, node = credentials
    ctx = _client_context(files.ca_cert, node.client_cert, node.client_key)
    assert await _healthz(tls_port, ctx) == (
        403, "Forbidden (user=system:node:n1, verb=get, resource=nodes, subresource=proxy)")


async def test_no_client_certificate_no_connection(tls_port: int, credentials: tuple[pki.TLSFiles, pki.NodeTLSFiles]) -> None:
    files, _ = credentials
    with pytest.raises(aiohttp.ClientError):
        await _healthz(tls_port, _client_context(files.ca_cert, None, None))


# ----- choosing the container whose log to read -------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "previous", "expected"),
    [
        ({"containerID": "r://now", "state": {"running": {}}, "lastState": {"terminated": {"containerID": "r://old"}}},
         False, "r://now"),
        ({"containerID": "r://now", "state": {"running": {}}, "lastState": {"terminated": {"containerID": "r://old"}}},
         True, "r://old"),
        ({"state": {"terminated": {"containerID": "r://done"}}, "lastState": {}}, False, "r://done"),
        ({"state": {"waiting": {"reason": "CrashLoopBackOff"}}, "lastState": {"terminated": {"containerID": "r://crashed"}}},
         False, "r://crashed"),
        ({"state": {"waiting": {"reason": "ContainerCreating"}}, "lastState": {}}, False,
         'container "c" in pod "p" is waiting to start: ContainerCreating'),
        ({"state": {"waiting": {"reason": "ErrImagePull"}}, "lastState": {}}, False,
         'container "c" in pod "p" is waiting to start: image can\'t be pulled'),
        ({"state": {}, "lastState": {}}, True, 'previous terminated container "c" in pod "p" not found'),
        ({"state": {}, "lastState": {}}, False, 'container "c" in pod "p" is waiting to start - no logs yet'),
    ],
    ids=["running", "previous", "terminated", "crash-loop", "creating", "pull-failed", "no-previous", "unknown"],
)
def test_the_log_container_follows_upstreams_rules(status: Obj, previous: bool, expected: str) -> None:
    pod_status = {"containerStatuses": [{"name": "c", **status}]}
    try:
        got = agent_server.log_container_id("p", pod_status, "c", previous)
    except agent_server.LogError as err:
        got = str(err)
    assert got == expected


def test_a_container_without_status_is_not_available() -> None:
    with pytest.raises(agent_server.LogError, match='container "c" in pod "p" is not available'):
        agent_server.log_container_id("p", {}, "c", False)
