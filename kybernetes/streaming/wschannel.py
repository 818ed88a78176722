"""wschannel: Kubernetes' WebSocket channel protocols (`v4.channel.k8s.io`, `v5.channel.k8s.io`) over aiohttp.

Every binary message is one channel byte followed by the payload. For exec and attach the
channels are stdin 0, stdout 1, stderr 2, error 3 (one JSON Status at the end) and resize 4
(JSON `{"Width":…,"Height":…}`); v5 adds channel 255, whose one-byte payload names a channel
the sender closes (kubectl sends `FF 00` when its stdin ends). v4 has no such signal: a client
ends its stdin by closing the WebSocket. For port-forward the Python client uses the same
framing with two channels per port (see `portforward`).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import AsyncIterator

from aiohttp import WSMsgType, web

V4 = "v4.channel.k8s.io"
V5 = "v5.channel.k8s.io"
PROTOCOLS = (V5, V4)
"""What we speak, preferred first; the client's offer order decides among them."""

STDIN, STDOUT, STDERR, ERROR, RESIZE = 0, 1, 2, 3, 4
CLOSE = 255
"""v5 only: the payload's first byte is the channel being closed."""

MAX_MESSAGE = 32 * 1024
"""Outgoing payloads are cut into messages of at most this size."""


def frame(channel: int, data: bytes) -> bytes:
    return bytes((channel,)) + data


def parse(message: bytes) -> tuple[int, bytes] | None:
    """(channel, payload) of a binary message; None for an empty one."""
    if not message:
        return None
    return message[0], message[1:]


def offered_protocols(request: web.Request) -> list[str]:
    """The subprotocols the client offers, in its order (one header, comma-separated, possibly repeated)."""
    out: list[str] = []
    for value in request.headers.getall("Sec-WebSocket-Protocol", []):
        out += [p.strip() for p in value.split(",") if p.strip()]
    return out


def is_websocket(request: web.Request) -> bool:
    return request.headers.get("Upgrade", "").lower() == "websocket"


@dataclass
class ChannelSocket:
    """ChannelSocket speaks a channel protocol over an open aiohttp WebSocket."""

    ws: web.WebSocketResponse
    protocol: str

    @property
    def v5(self) -> bool:
        return self.protocol == V5

    async def send(self, channel: int, data: bytes) -> None:
        view = memoryview(data)
        if not view:
            await self.ws.send_bytes(frame(channel, b""))
            return
        while view:
            chunk, view = view[:MAX_MESSAGE], view[MAX_MESSAGE:]
            await self.ws.send_bytes(frame(channel, bytes(chunk)))

    async def messages(self) -> AsyncIterator[tuple[int, bytes]]:
        """(channel, payload) for every message until the client closes the WebSocket."""
        async for msg in self.ws:
            if msg.type in (WSMsgType.BINARY, WSMsgType.TEXT):
                # The Python client sends str data as text messages, the channel as the first character.
                data = msg.data if isinstance(msg.data, bytes) else msg.data.encode()
                parsed = parse(data)
                if parsed is not None:
                    yield parsed
            elif msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
                return

    async def close(self) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.close()


async def accept(request: web.Request, protocols: tuple[str, ...]) -> ChannelSocket | None:
    """Complete the WebSocket handshake choosing one of `protocols`; None when the client offers none of them."""
    offered = offered_protocols(request)
    chosen = next((p for p in offered if p in protocols), None)
    if chosen is None:
        return None
    # autoping answers the client's pings; no compression: kubectl does not ask for it.
    ws = web.WebSocketResponse(protocols=(chosen,), compress=False, max_msg_size=0, autoping=True)
    await ws.prepare(request)
    return ChannelSocket(ws, chosen)
