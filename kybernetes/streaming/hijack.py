"""hijack: take over an aiohttp request's connection for an HTTP upgrade aiohttp itself does not know.

aiohttp hands a connection over only for WebSocket (and `tcp`): after `Upgrade: SPDY/3.1`, or when
a proxy answers a client's upgrade with its backend's 101, the bytes that follow would reach
aiohttp's HTTP parser. `claim()` routes everything the client sends from then on into an
`asyncio.StreamReader` — call it before answering, so that no upgraded byte can reach the
parser — and `switch()` sends the 101 and returns a `RawConnection` to write to.

Writes go through the prepared 101 response: aiohttp neither chunks nor frames the body of a
1xx response, and `write()` waits while the socket's buffer is full.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Mapping

from aiohttp import web

READ_LIMIT = 1 << 20
"""The reader pauses the socket once this much (twice, in fact) is buffered and unread."""


class _Feeder:
    """_Feeder stands in for aiohttp's payload parser: it passes raw bytes on."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self.reader = reader

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.reader.feed_data(data)
        return False, b""

    def feed_eof(self) -> None:
        self.reader.feed_eof()


def claim(request: web.Request) -> asyncio.StreamReader:
    """Route every further byte of the request's connection into the returned reader."""
    reader = asyncio.StreamReader(limit=READ_LIMIT)
    transport = request.transport
    if transport is None:
        raise ConnectionResetError("connection lost")
    reader.set_transport(transport)  # type: ignore[arg-type]
    request.protocol.set_parser(_Feeder(reader))  # type: ignore[arg-type]
    return reader


@dataclass
class RawConnection:
    """RawConnection is an upgraded connection: bytes in through `reader`, out through `send`."""

    reader: asyncio.StreamReader
    response: web.StreamResponse

    async def send(self, data: bytes) -> None:
        await self.response.write(data)

    async def close(self) -> None:
        """Flush and end the response; aiohttp closes the connection when the handler returns."""
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.response.write_eof()


async def switch(request: web.Request, reader: asyncio.StreamReader, headers: Mapping[str, str]) -> RawConnection:
    """Answer `101 Switching Protocols` with `headers`; the connection is raw bytes from then on."""
    response = web.StreamResponse(status=101, reason="Switching Protocols")
    for name, value in headers.items():
        response.headers.add(name, value)
    response.force_close()
    await response.prepare(request)
    return RawConnection(reader, response)
