"""Exec sessions over WebSocket channels (v4, v5) and SPDY, served by `remotecommand.serve` to real clients."""

from __future__ import annotations

import asyncio
import json
from typing import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from kybernetes.agent.runtime.types import TerminalSize
from kybernetes.streaming import remotecommand, spdy, wschannel
from kybernetes.streaming.remotecommand import Options, Streams


async def _shout(streams: Streams) -> int:
    """A command for the tests: stdin upper-cased to stdout, a word to stderr, exit code = lines read."""
    lines = 0
    if streams.stdin is not None:
        async for chunk in streams.stdin:
            lines += chunk.count(b"\n")
            if streams.stdout is not None:
                await streams.stdout(chunk.upper())
    if streams.stderr is not None:
        await streams.stderr(b"to stderr\n")
    sizes: list[TerminalSize] = []
    if streams.resize is not None:
        async for size in streams.resize:
            sizes.append(size)
            break
    if sizes and streams.stdout is not None:
        await streams.stdout(f"size {sizes[0].width}x{sizes[0].height}\n".encode())
    return lines


async def _broken(streams: Streams) -> int:
    raise RuntimeError("the runtime fell over")


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    async def handler(request: web.Request) -> web.StreamResponse:
        run = _broken if request.query.get("broken") else _shout
        return await remotecommand.serve(request, Options.from_query(request.query), run)

    app = web.Application()
    app.router.add_route("*", "/exec", handler)
    async with TestServer(app) as srv:
        yield srv


async def _ws_session(server: TestServer, query: str, protocol: str,
                      send: list[bytes]) -> tuple[str | None, dict[int, bytes]]:
    got: dict[int, bytes] = {}
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(server.make_url(f"/exec?{query}"), protocols=(protocol,)) as ws:
            for message in send:
                await ws.send_bytes(message)
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.BINARY:
                    got[msg.data[0]] = got.get(msg.data[0], b"") + msg.data[1:]
            return ws.protocol, got


async def test_a_v5_session_reads_stdin_until_the_close_signal(server: TestServer) -> None:
    protocol, got = await _ws_session(server, "input=1&output=1&error=1", wschannel.V5,
                                      [b"\x00hello\n", b"\x00world\n", b"\xff\x00"])
    assert protocol == wschannel.V5
    assert got[wschannel.STDOUT] == b"HELLO\nWORLD\n"
    assert got[wschannel.STDERR] == b"to stderr\n"
    status = json.loads(got[wschannel.ERROR])
    assert status["status"] == "Failure" and status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "2"}]


async def test_a_session_without_stdin_ends_with_success(server: TestServer) -> None:
    _, got = await _ws_session(server, "output=1", wschannel.V4, [])
    assert json.loads(got[wschannel.ERROR]) == {"metadata": {}, "status": "Success"}
    assert wschannel.STDERR not in got


async def test_a_terminal_drops_stderr_and_applies_resizes(server: TestServer) -> None:
    _, got = await _ws_session(server, "output=1&error=1&tty=1", wschannel.V5,
                               [b'\x04{"Width":0,"Height":0}\n{"Width":100,', b'\x04"Height":40}\n'])
    assert got[wschannel.STDOUT] == b"size 100x40\n"
    assert wschannel.STDERR not in got


async def test_a_failing_runtime_becomes_an_internal_error_status(server: TestServer) -> None:
    _, got = await _ws_session(server, "output=1&broken=1", wschannel.V5, [])
    status = json.loads(got[wschannel.ERROR])
    assert status["reason"] == "InternalError"
    assert "the runtime fell over" in status["message"]


async def test_requests_that_cannot_start_are_refused_in_plain_text(server: TestServer) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(server.make_url("/exec?output=1")) as resp:
            assert resp.status == 400
            assert await resp.text() == "unable to upgrade: missing upgrade headers in request"
        async with session.get(server.make_url("/exec")) as resp:
            assert resp.status == 400
            assert await resp.text() == "you must specify at least 1 of stdin, stdout, stderr"
        with pytest.raises(aiohttp.WSServerHandshakeError) as raised:
            await session.ws_connect(server.make_url("/exec?output=1"), protocols=("channel.k8s.io",))
        assert raised.value.status == 400


async def _spdy_upgrade(server: TestServer, query: str, versions: list[str]) -> tuple[bytes, asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(server.host, server.port)
    lines = [f"POST /exec?{query} HTTP/1.1", f"Host: {server.host}", "Connection: Upgrade", "Upgrade: SPDY/3.1",
             *(f"X-Stream-Protocol-Version: {v}" for v in versions), "Content-Length: 0"]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    return head, reader, writer


async def test_a_spdy_session_uses_one_stream_per_channel(server: TestServer) -> None:
    head, reader, writer = await _spdy_upgrade(server, "input=1&output=1&error=1",
                                               ["v4.channel.k8s.io", "v3.channel.k8s.io"])
    assert head.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    assert b"X-Stream-Protocol-Version: v4.channel.k8s.io" in head
    conn = spdy.Connection(reader, spdy.StreamWriterSink(writer), client=True)
    reading = asyncio.create_task(conn.run())
    error = await conn.open_stream({"streamtype": "error"})
    stdin = await conn.open_stream({"streamtype": "stdin"})
    stdout = await conn.open_stream({"streamtype": "stdout"})
    stderr = await conn.open_stream({"streamtype": "stderr"})
    await stdin.write(b"one\ntwo\nthree\n")
    await stdin.close()
    assert await stdout.read_all() == b"ONE\nTWO\nTHREE\n"
    assert await stderr.read_all() == b"to stderr\n"
    status = json.loads(await error.read_all())
    assert status["details"]["causes"][0]["message"] == "3"
    await reading
    writer.close()


async def test_spdy_without_a_common_protocol_is_forbidden(server: TestServer) -> None:
    head, _, writer = await _spdy_upgrade(server, "output=1", ["channel.k8s.io"])
    assert head.startswith(b"HTTP/1.1 403")
    writer.close()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"input": "1", "output": "1", "error": "1"}, Options(stdin=True, stdout=True, stderr=True)),
        ({"output": "1", "error": "1", "tty": "1"}, Options(stdout=True, tty=True)),
        ({"output": "true"}, Options(stdout=True)),
        ({"stdout": "1"}, Options()),
    ],
    ids=["all", "tty-drops-stderr", "true-is-set", "api-names-are-not-kubelet-names"],
)
def test_options_come_from_the_kubelet_query(query: dict[str, str], expected: Options) -> None:
    assert Options.from_query(query) == expected


def test_terminal_sizes_parse_across_message_boundaries() -> None:
    sizes, rest = remotecommand.parse_sizes('{"Width":80,"Height":24}\n{"Width":1')
    assert sizes == [TerminalSize(80, 24)] and rest == '{"Width":1'
    sizes, rest = remotecommand.parse_sizes(rest + '20,"Height":50}')
    assert sizes == [TerminalSize(120, 50)] and rest == ""
