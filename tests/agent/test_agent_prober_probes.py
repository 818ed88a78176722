"""The probe and hook actions against real servers and processes on this machine: results and upstream's messages."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any, AsyncIterator, Sequence

import pytest
from aiohttp import web

from kybernetes.agent.hooks import RuntimeHookRunner
from kybernetes.agent.prober.probes import (
    Outcome,
    ProbeResult,
    RuntimeProber,
    go_quote,
    http_url,
    resolve_port,
)
from kybernetes.agent.runtime.protocol import InvalidState, Output
from kybernetes.agent.runtime.types import ContainerId
from tests.agent.agentkit import pod

Obj = dict[str, Any]


class HostExec:
    """HostExec stands in for a runtime's exec: the command runs as a process on this machine."""

    def __init__(self) -> None:
        self.stopped: set[str] = set()

    async def exec(self, container_id: ContainerId, command: Sequence[str], *, stdout: Output,
                   stderr: Output | None = None, **_: Any) -> int:
        if container_id in self.stopped:
            raise InvalidState(f"container {container_id} is not running")
        proc = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.PIPE)
        try:
            out, err = await proc.communicate()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        await stdout(out)
        await (stderr or stdout)(err)
        return proc.returncode or 0


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def web_server() -> AsyncIterator[int]:
    """An HTTP server on loopback: /ok, /fail, /here (redirect on this host), /away (to another host), /hang, /echo."""
    released = asyncio.Event()

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="fine")

    async def fail(request: web.Request) -> web.Response:
        return web.Response(status=500, text="I'm not well")

    async def here(request: web.Request) -> web.Response:
        raise web.HTTPFound("/ok")

    async def away(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"http://127.0.0.2:{request.url.port}/ok")

    async def hang(request: web.Request) -> web.Response:
        await released.wait()
        return web.Response(text="late")

    async def echo(request: web.Request) -> web.Response:
        return web.json_response(dict(request.headers))

    app = web.Application()
    app.add_routes([web.get("/ok", ok), web.get("/fail", fail), web.get("/here", here), web.get("/away", away),
                    web.get("/hang", hang), web.get("/echo", echo)])
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield port
    finally:
        released.set()
        with contextlib.suppress(Exception):
            await runner.cleanup()


async def run(probe: Obj, *, container: Obj | None = None, runtime: HostExec | None = None) -> Outcome:
    prober = RuntimeProber(runtime or HostExec())  # type: ignore[arg-type]
    return await prober.probe(probe, pod=pod("app"), container=container or {"name": "app"},
                              container_id=ContainerId("c1"), pod_ip="127.0.0.1")


@pytest.mark.parametrize(
    ("path", "result", "output"),
    [("/ok", ProbeResult.SUCCESS, "fine"),
     ("/fail", ProbeResult.FAILURE, "HTTP probe failed with statuscode: 500"),
     ("/here", ProbeResult.SUCCESS, "fine"),
     ("/away", ProbeResult.WARNING, "Probe terminated redirects, Response body: ")],
    ids=["200", "500", "redirect-same-host", "redirect-other-host"],
)
async def test_http_probes_succeed_on_2xx_and_3xx_only(web_server: int, path: str, result: ProbeResult,
                                                      output: str) -> None:
    outcome = await run({"httpGet": {"path": path, "port": web_server}})
    assert (outcome.result, outcome.output.startswith(output)) == (result, True), outcome


async def test_http_probes_send_upstreams_headers_and_the_specs(web_server: int) -> None:
    outcome = await run({"httpGet": {"path": "/echo", "port": "web", "httpHeaders": [{"name": "x-custom", "value": "1"}]}},
                        container={"name": "app", "ports": [{"name": "web", "containerPort": web_server}]})
    assert outcome.result is ProbeResult.SUCCESS
    assert '"User-Agent": "kube-probe/1.32"' in outcome.output and '"Accept": "*/*"' in outcome.output
    assert '"X-Custom": "1"' in outcome.output


async def test_an_http_probe_on_a_closed_port_fails_with_gos_message() -> None:
    port = closed_port()
    outcome = await run({"httpGet": {"path": "/healthz", "port": port}})
    assert outcome == Outcome(ProbeResult.FAILURE, f'Get "http://127.0.0.1:{port}/healthz": dial tcp 127.0.0.1:{port}: '
                                                   "connect: connection refused")


async def test_an_http_probe_that_hangs_is_cut_at_its_timeout(web_server: int) -> None:
    outcome = await run({"httpGet": {"path": "/hang", "port": web_server}, "timeoutSeconds": 1})
    assert outcome.result is ProbeResult.FAILURE
    assert outcome.output == (f'Get "http://127.0.0.1:{web_server}/hang": context deadline exceeded '
                              "(Client.Timeout exceeded while awaiting headers)")


async def test_tcp_probes_connect_or_fail_with_gos_message(web_server: int) -> None:
    assert (await run({"tcpSocket": {"port": web_server}})).result is ProbeResult.SUCCESS
    port = closed_port()
    assert await run({"tcpSocket": {"port": port}}) == Outcome(
        ProbeResult.FAILURE, f"dial tcp 127.0.0.1:{port}: connect: connection refused")


async def test_a_port_name_the_container_lacks_means_the_probe_cannot_run() -> None:
    outcome = await run({"tcpSocket": {"port": "metrics"}})
    assert outcome == Outcome(ProbeResult.UNKNOWN, error='strconv.Atoi: parsing "metrics": invalid syntax')


@pytest.mark.parametrize(
    ("command", "result", "output"),
    [(["sh", "-c", "echo alive"], ProbeResult.SUCCESS, "alive\n"),
     (["sh", "-c", "echo nope >&2; exit 3"], ProbeResult.FAILURE, "nope\n"),
     (["sleep", "5"], ProbeResult.FAILURE, 'command "sleep 5" timed out')],
    ids=["exit-0", "exit-3", "timeout"],
)
async def test_exec_probes_go_by_exit_code_within_the_timeout(command: list[str], result: ProbeResult,
                                                             output: str) -> None:
    assert await run({"exec": {"command": command}, "timeoutSeconds": 1}) == Outcome(result, output)


async def test_exec_probes_expand_only_literal_env_values() -> None:
    container = {"name": "app", "env": [{"name": "WORD", "value": "hello"},
                                        {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]}
    outcome = await run({"exec": {"command": ["echo", "$(WORD)", "[$(IP)]", "$(NONE)"]}}, container=container)
    assert outcome.output == "hello [] $(NONE)\n"


async def test_an_exec_probe_in_a_stopped_container_cannot_run() -> None:
    runtime = HostExec()
    runtime.stopped.add("c1")
    outcome = await run({"exec": {"command": ["true"]}}, runtime=runtime)
    assert outcome == Outcome(ProbeResult.UNKNOWN, error="container c1 is not running")


def test_urls_and_ports_resolve_as_upstream() -> None:
    container = {"name": "app", "ports": [{"name": "http", "containerPort": 8080}]}
    assert http_url({"port": "http", "path": "healthz?x=1"}, container, "10.42.0.5") == "http://10.42.0.5:8080/healthz?x=1"
    assert http_url({"port": 443, "scheme": "HTTPS", "host": "fd00::5"}, container, "10.42.0.5") == "https://[fd00::5]:443"
    assert resolve_port("9090", container) == 9090
    with pytest.raises(ValueError, match="invalid port number: 70000"):
        resolve_port(70000, container)
    with pytest.raises(ValueError, match="no IP"):
        http_url({"port": 80}, container, "")
    assert go_quote('a "b"\n\x01') == '"a \\"b\\"\\n\\x01"'


async def test_hooks_report_upstreams_messages() -> None:
    hooks = RuntimeHookRunner(HostExec())  # type: ignore[arg-type]
    p, container = pod("app"), {"name": "app"}
    assert await hooks.run(p, container, ContainerId("c1"), {"exec": {"command": ["true"]}}, pod_ip="127.0.0.1") is None
    message = await hooks.run(p, container, ContainerId("c1"), {"exec": {"command": ["sh", "-c", "echo no >&2; exit 1"]}},
                              pod_ip="127.0.0.1")
    assert message == ('Exec lifecycle hook ([sh -c echo no >&2; exit 1]) for Container "app" in Pod "p_ns(uid-1)" '
                       "failed - error: command 'sh -c echo no >&2; exit 1' exited with 1: no\n, message: \"no\\n\"")
    port = closed_port()
    message = await hooks.run(p, container, ContainerId("c1"), {"httpGet": {"path": "/quit", "port": port}},
                              pod_ip="127.0.0.1")
    assert message == (f'HTTP lifecycle hook (/quit) for Container "app" in Pod "p_ns(uid-1)" failed - error: '
                       f'Get "http://127.0.0.1:{port}/quit": dial tcp 127.0.0.1:{port}: connect: connection refused')


async def test_an_http_hook_succeeds_whatever_the_status(web_server: int) -> None:
    hooks = RuntimeHookRunner(HostExec())  # type: ignore[arg-type]
    assert await hooks.run(pod("app"), {"name": "app"}, ContainerId("c1"),
                           {"httpGet": {"path": "/fail", "port": web_server}}, pod_ip="127.0.0.1") is None
