"""Port-forward sessions: raw SPDY, SPDY tunnelled in a WebSocket, and the Python client's channel variant."""

from __future__ import annotations

import asyncio
import contextlib
from typing import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from kybernetes.streaming import portforward, spdy


@pytest.fixture
async def echo_port() -> AsyncIterator[int]:
    """A loopback TCP server that answers every chunk upper-cased and closes when the client does."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data.upper())
            await writer.drain()
        writer.close()

    srv = await asyncio.start_server(serve, "127.0.0.1", 0)
    async with srv:
        yield srv.sockets[0].getsockname()[1]


@pytest.fixture
async def server(echo_port: int) -> AsyncIterator[TestServer]:
    async def dial(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        # The "pod" has one open port, 80; everything else is refused as a closed port would be.
        if port != 80:
            raise ConnectionRefusedError(f"failed to connect to localhost:{port}")
        return await asyncio.open_connection("127.0.0.1", echo_port)

    async def handler(request: web.Request) -> web.StreamResponse:
        return await portforward.serve(request, dial, target="ns/pod, uid 1",
                                       ports=portforward.parse_ports(request.query.getall("port", [])))

    app = web.Application()
    app.router.add_route("*", "/portForward", handler)
    async with TestServer(app) as srv:
        yield srv


async def _forward_once(conn: spdy.Connection, request_id: str, port: str, payload: bytes) -> tuple[bytes, bytes]:
    """What kubectl does per local connection: error stream (half-closed at once), then data stream."""
    error = await conn.open_stream({"streamtype": "error", "port": port, "requestid": request_id})
    await error.close()
    data = await conn.open_stream({"streamtype": "data", "port": port, "requestid": request_id})
    await data.write(payload)
    await data.close()
    return await data.read_all(), await error.read_all()


async def test_raw_spdy_forwards_each_connection_on_its_own_streams(server: TestServer) -> None:
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(b"POST /portForward HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
                 b"X-Stream-Protocol-Version: portforward.k8s.io\r\nContent-Length: 0\r\n\r\n")
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101") and b"X-Stream-Protocol-Version: portforward.k8s.io" in head
    conn = spdy.Connection(reader, spdy.StreamWriterSink(writer), client=True)
    reading = asyncio.create_task(conn.run())
    assert await _forward_once(conn, "0", "80", b"first") == (b"FIRST", b"")
    assert await _forward_once(conn, "1", "80", b"second") == (b"SECOND", b"")
    data, error = await _forward_once(conn, "2", "81", b"nobody")
    assert data == b""
    assert error.decode() == "error forwarding port 81 to pod ns/pod, uid 1: failed to connect to localhost:81"
    await conn.close()
    reading.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reading


class _WebSocketPipe:
    """A client's end of the SPDY-in-WebSocket tunnel, as kubectl 1.31+ runs it."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.reader = asyncio.StreamReader()

    async def pump(self) -> None:
        async for msg in self.ws:
            if msg.type == aiohttp.WSMsgType.BINARY:
                self.reader.feed_data(msg.data)
        self.reader.feed_eof()

    async def send(self, data: bytes) -> None:
        # Cut in two: a frame may span messages, the server must read them as one byte stream.
        half = len(data) // 2
        await self.ws.send_bytes(data[:half])
        await self.ws.send_bytes(data[half:])

    async def close(self) -> None:
        await self.ws.close()


async def test_spdy_tunnelled_in_a_websocket(server: TestServer) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(server.make_url("/portForward"),
                                      protocols=(portforward.TUNNEL_PROTOCOL,)) as ws:
            assert ws.protocol == portforward.TUNNEL_PROTOCOL
            pipe = _WebSocketPipe(ws)
            pumping = asyncio.create_task(pipe.pump())
            conn = spdy.Connection(pipe.reader, pipe, client=True)
            reading = asyncio.create_task(conn.run())
            assert await _forward_once(conn, "0", "80", b"tunnelled") == (b"TUNNELLED", b"")
            await conn.close()
            for task in (reading, pumping):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


async def test_the_channel_variant_announces_ports_then_forwards(server: TestServer) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(server.make_url("/portForward?port=80,81"),
                                      protocols=("v4.channel.k8s.io",)) as ws:
            got: dict[int, list[bytes]] = {}
            for _ in range(4):
                msg = await ws.receive_bytes()
                got.setdefault(msg[0], []).append(msg[1:])
            # Port 80 on channels 0 and 1, port 81 on 2 and 3, little-endian.
            assert got == {0: [b"\x50\x00"], 1: [b"\x50\x00"], 2: [b"\x51\x00"], 3: [b"\x51\x00"]}
            await ws.send_bytes(b"\x00ping")
            answers: dict[int, bytes] = {}
            while answers.get(0) != b"PING" or 3 not in answers:
                msg = await ws.receive_bytes()
                answers[msg[0]] = answers.get(msg[0], b"") + msg[1:]
            assert answers[3].decode().startswith("error forwarding port 81 to pod ns/pod, uid 1:")


async def test_the_channel_variant_needs_ports(server: TestServer) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as raised:
            await session.ws_connect(server.make_url("/portForward"), protocols=("v4.channel.k8s.io",))
        assert raised.value.status == 400


@pytest.mark.parametrize(
    ("values", "expected"),
    [(["80"], [80]), (["80,8080", "9090"], [80, 8080, 9090]), ([], [])],
    ids=["one", "comma-and-repeat", "none"],
)
def test_ports_parse_from_the_query(values: list[str], expected: list[int]) -> None:
    assert portforward.parse_ports(values) == expected


@pytest.mark.parametrize("bad", ["http", "0", "70000"])
def test_bad_ports_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        portforward.parse_ports([bad])
