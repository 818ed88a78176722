"""portforward: serve port-forward sessions (`portforward.k8s.io`) in the three shapes clients use.

* kubectl 1.27–1.30 upgrade to SPDY/3.1; for every local connection kubectl opens an `error` and
  a `data` stream with the same `requestid` and the target `port` in their headers.
* kubectl 1.31+ open a WebSocket with subprotocol `SPDY/3.1+portforward.k8s.io` and run the same
  SPDY session inside it: the payloads of binary messages form the SPDY byte stream.
* The Python client opens a WebSocket with a channel protocol and `?port=…`: port i uses data
  channel 2i and error channel 2i+1, and the first message on each is the port, 2 bytes
  little-endian. One WebSocket carries one connection per port.

Bytes are copied both ways between the stream and a connection made by a `Dialer` (the runtime
connects inside the pod's network namespace). When the target cannot be reached the error goes
on the error stream, worded as upstream's kubelet words it, and kubectl prints it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Awaitable, Callable

from aiohttp import WSMsgType, web

from kybernetes.streaming import remotecommand, spdy, wschannel

log = logging.getLogger(__name__)

PROTOCOL = "portforward.k8s.io"
TUNNEL_PROTOCOL = "SPDY/3.1+portforward.k8s.io"

Dialer = Callable[[int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]
"""Connects to a port of the pod."""


def parse_ports(values: list[str]) -> list[int]:
    """Ports from repeated and comma-separated `port` query values; ValueError names a bad one."""
    ports: list[int] = []
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            try:
                port = int(part)
            except ValueError:
                raise ValueError(f'unable to parse "{part}" as a port: invalid syntax') from None
            if not 0 < port < 65536:
                raise ValueError(f"port {port} must be > 0 and < 65536")
            ports.append(port)
    return ports


async def serve(request: web.Request, dial: Dialer, *, target: str, ports: list[int]) -> web.StreamResponse:
    """Serve one port-forward request; `target` names the pod in error messages."""
    if wschannel.is_websocket(request):
        offered = wschannel.offered_protocols(request)
        if TUNNEL_PROTOCOL in offered:
            return await _serve_tunnel(request, dial, target)
        if any(p in wschannel.PROTOCOLS for p in offered):
            if not ports:
                return remotecommand.bad_request('query parameter "port" is required')
            return await _serve_channels(request, dial, target, ports)
        return remotecommand.bad_request(
            f"unable to upgrade: unable to negotiate protocol: client supports {offered}, "
            f"server supports {[TUNNEL_PROTOCOL, *wschannel.PROTOCOLS]}")
    if remotecommand.is_spdy(request):
        upgraded = await remotecommand.upgrade_spdy(request, (PROTOCOL,))
        if isinstance(upgraded, web.Response):
            return upgraded
        conn, raw = upgraded
        try:
            await serve_connection(conn, dial, target)
        finally:
            await conn.close()
            await raw.close()
        return raw.response
    return remotecommand.bad_request("unable to upgrade: missing upgrade headers in request")


def _forward_error(port: int, target: str, exc: BaseException) -> str:
    return f"error forwarding port {port} to pod {target}: {exc}"


async def _copy_to_target(stream: spdy.Stream, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await stream.reader.read(1 << 16):
            writer.write(chunk)
            await writer.drain()
        # The client is done sending: half-close, the target may still answer.
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        pass


async def _copy_to_client(reader: asyncio.StreamReader, stream: spdy.Stream) -> None:
    try:
        while chunk := await reader.read(1 << 16):
            await stream.write(chunk)
    except (ConnectionError, OSError, spdy.ConnectionClosed):
        pass


async def _forward_stream(data: spdy.Stream, error: Callable[[], spdy.Stream | None], dial: Dialer, target: str) -> None:
    """Copy between one data stream and a new connection to its port, until the target closes."""
    writer: asyncio.StreamWriter | None = None
    port = 0
    try:
        try:
            port = int(data.headers.get("port", ""))
            if not 0 < port < 65536:
                raise ValueError(f"port {port} must be > 0 and < 65536")
            reader, writer = await dial(port)
        except Exception as exc:  # noqa: BLE001 - any failure to connect is reported to the client
            error_stream = error()
            if error_stream is not None:
                with contextlib.suppress(spdy.ConnectionClosed):
                    await error_stream.write(_forward_error(port, target, exc).encode())
            return
        upload = asyncio.ensure_future(_copy_to_target(data, writer))
        download = asyncio.ensure_future(_copy_to_client(reader, data))
        try:
            await asyncio.wait({upload, download}, return_when=asyncio.FIRST_COMPLETED)
            # The client half-closed: the target may still answer. Reset or gone: stop now.
            if not download.done() and not data.reset and not data.conn.closed.is_set():
                await download
        finally:
            for task in (upload, download):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    finally:
        if writer is not None:
            writer.close()
        await data.close()
        error_stream = error()
        if error_stream is not None:
            await error_stream.close()


async def serve_connection(conn: spdy.Connection, dial: Dialer, target: str) -> None:
    """Serve a SPDY port-forward connection until the client goes away."""
    reading = asyncio.ensure_future(conn.run())
    errors: dict[str, spdy.Stream] = {}
    forwards: set[asyncio.Task[None]] = set()
    try:
        while (stream := await conn.accept()) is not None:
            with contextlib.suppress(spdy.ConnectionClosed):
                await stream.reply()
            kind = stream.headers.get("streamtype", "")
            request_id = stream.headers.get("requestid", "")
            if kind == "error":
                errors[request_id] = stream
            elif kind == "data":
                task = asyncio.ensure_future(
                    _forward_stream(stream, lambda rid=request_id: errors.get(rid), dial, target))
                forwards.add(task)
                # A long session serves many connections: forget each one as it ends.
                task.add_done_callback(forwards.discard)
                task.add_done_callback(lambda _, rid=request_id: errors.pop(rid, None))
            else:
                await stream.cancel(spdy.RstStatus.PROTOCOL_ERROR)
        # GOAWAY: the open forwards run to their end, unless the connection itself goes first.
        if forwards:
            everything = asyncio.gather(*forwards, return_exceptions=True)
            closed = asyncio.ensure_future(conn.closed.wait())
            await asyncio.wait({everything, closed}, return_when=asyncio.FIRST_COMPLETED)
            closed.cancel()
    finally:
        for task in forwards:
            task.cancel()
        for result in await asyncio.gather(*list(forwards), return_exceptions=True):
            if isinstance(result, Exception):
                log.warning("port-forward to %s failed: %s", target, result)
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reading


class _WebSocketSink:
    """_WebSocketSink sends a SPDY byte stream as binary WebSocket messages."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws

    async def send(self, data: bytes) -> None:
        await self.ws.send_bytes(data)

    async def close(self) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.close()


async def _serve_tunnel(request: web.Request, dial: Dialer, target: str) -> web.StreamResponse:
    ws = web.WebSocketResponse(protocols=(TUNNEL_PROTOCOL,), compress=False, max_msg_size=0)
    await ws.prepare(request)
    reader = asyncio.StreamReader()

    async def unwrap() -> None:
        try:
            async for msg in ws:
                if msg.type == WSMsgType.BINARY:
                    reader.feed_data(msg.data)
                elif msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
                    break
        finally:
            reader.feed_eof()

    pump = asyncio.ensure_future(unwrap())
    conn = spdy.Connection(reader, _WebSocketSink(ws))
    try:
        await serve_connection(conn, dial, target)
    finally:
        await conn.close()
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pump
    return ws


async def _serve_channels(request: web.Request, dial: Dialer, target: str, ports: list[int]) -> web.StreamResponse:
    sock = await wschannel.accept(request, wschannel.PROTOCOLS)
    assert sock is not None  # the caller checked the offer
    writers: dict[int, asyncio.StreamWriter] = {}
    pending: dict[int, list[bytes]] = {i: [] for i in range(len(ports))}

    async def send(channel: int, data: bytes) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await sock.send(channel, data)

    async def forward(index: int, port: int) -> None:
        try:
            reader, writer = await dial(port)
        except Exception as exc:  # noqa: BLE001 - reported on the port's error channel
            await send(2 * index + 1, _forward_error(port, target, exc).encode())
            return
        writers[index] = writer
        for chunk in pending.pop(index, []):
            writer.write(chunk)
        try:
            while chunk := await reader.read(1 << 16):
                await send(2 * index, chunk)
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def read_client() -> None:
        async for channel, payload in sock.messages():
            index = channel // 2
            if channel == wschannel.CLOSE and sock.v5 and payload:
                writer = writers.get(payload[0] // 2)
                if writer is not None and writer.can_write_eof():
                    writer.write_eof()
            elif channel % 2 == 0 and index < len(ports) and payload:
                writer = writers.get(index)
                if writer is None:
                    pending.setdefault(index, []).append(payload)
                    continue
                with contextlib.suppress(ConnectionError, OSError):
                    writer.write(payload)
                    await writer.drain()

    for index, port in enumerate(ports):
        # The client checks that the first message on each channel names its port.
        preamble = port.to_bytes(2, "little")
        await send(2 * index, preamble)
        await send(2 * index + 1, preamble)
    client = asyncio.ensure_future(read_client())
    try:
        forwards = asyncio.gather(*(forward(i, p) for i, p in enumerate(ports)))
        # Done when every target closed, or when the client closed the WebSocket.
        await asyncio.wait({forwards, client}, return_when=asyncio.FIRST_COMPLETED)
        forwards.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await forwards
    finally:
        for writer in writers.values():
            writer.close()
        await sock.close()
        client.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await client
    return sock.ws
