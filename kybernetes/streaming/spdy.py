"""spdy: SPDY/3.1 framing and multiplexed connections, the transport kubectl streams exec, attach and port-forward over.

Only what Kubernetes' streaming uses is implemented (upstream's moby/spdystream): SYN_STREAM,
SYN_REPLY, DATA with FIN, RST_STREAM, PING (echoed), GOAWAY, HEADERS; SETTINGS and WINDOW_UPDATE
are read and ignored, because kubectl does not enforce flow-control windows. Header blocks are
zlib-compressed with the SPDY/3 dictionary, one zlib stream per direction for the whole
connection, so every block must be compressed and sent in the order it goes on the wire.

A `Connection` runs over any byte stream: an `asyncio.StreamReader` for what arrives and a
`ByteSink` for what leaves (a raw socket after an HTTP upgrade, or WebSocket binary messages
when kubectl tunnels SPDY through a WebSocket). It plays either side: the server accepts
streams the client opens, the client (used by tests) opens them itself.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import enum
import logging
import struct
import zlib
from dataclasses import dataclass, field
from typing import Protocol

log = logging.getLogger(__name__)

VERSION = 3
FLAG_FIN = 0x01
FLAG_UNIDIRECTIONAL = 0x02
MAX_FRAME = (1 << 24) - 1
"""The length field has 24 bits."""
DATA_CHUNK = 32 * 1024
"""Outgoing data is cut into frames of at most this size, so one stream cannot hold the others up for long."""

# The SPDY/3 header compression dictionary (draft-mbelshe-httpbis-spdy-00 §2.6.10.1), 1423 bytes.
DICTIONARY = base64.b64decode(
    "AAAAB29wdGlvbnMAAAAEaGVhZAAAAARwb3N0AAAAA3B1dAAAAAZkZWxldGUAAAAFdHJhY2UAAAAGYWNjZXB0AAAADmFjY2VwdC1jaGFyc2V0"
    "AAAAD2FjY2VwdC1lbmNvZGluZwAAAA9hY2NlcHQtbGFuZ3VhZ2UAAAANYWNjZXB0LXJhbmdlcwAAAANhZ2UAAAAFYWxsb3cAAAANYXV0aG9y"
    "aXphdGlvbgAAAA1jYWNoZS1jb250cm9sAAAACmNvbm5lY3Rpb24AAAAMY29udGVudC1iYXNlAAAAEGNvbnRlbnQtZW5jb2RpbmcAAAAQY29u"
    "dGVudC1sYW5ndWFnZQAAAA5jb250ZW50LWxlbmd0aAAAABBjb250ZW50LWxvY2F0aW9uAAAAC2NvbnRlbnQtbWQ1AAAADWNvbnRlbnQtcmFu"
    "Z2UAAAAMY29udGVudC10eXBlAAAABGRhdGUAAAAEZXRhZwAAAAZleHBlY3QAAAAHZXhwaXJlcwAAAARmcm9tAAAABGhvc3QAAAAIaWYtbWF0"
    "Y2gAAAARaWYtbW9kaWZpZWQtc2luY2UAAAANaWYtbm9uZS1tYXRjaAAAAAhpZi1yYW5nZQAAABNpZi11bm1vZGlmaWVkLXNpbmNlAAAADWxh"
    "c3QtbW9kaWZpZWQAAAAIbG9jYXRpb24AAAAMbWF4LWZvcndhcmRzAAAABnByYWdtYQAAABJwcm94eS1hdXRoZW50aWNhdGUAAAATcHJveHkt"
    "YXV0aG9yaXphdGlvbgAAAAVyYW5nZQAAAAdyZWZlcmVyAAAAC3JldHJ5LWFmdGVyAAAABnNlcnZlcgAAAAJ0ZQAAAAd0cmFpbGVyAAAAEXRy"
    "YW5zZmVyLWVuY29kaW5nAAAAB3VwZ3JhZGUAAAAKdXNlci1hZ2VudAAAAAR2YXJ5AAAAA3ZpYQAAAAd3YXJuaW5nAAAAEHd3dy1hdXRoZW50"
    "aWNhdGUAAAAGbWV0aG9kAAAAA2dldAAAAAZzdGF0dXMAAAAGMjAwIE9LAAAAB3ZlcnNpb24AAAAISFRUUC8xLjEAAAADdXJsAAAABnB1Ymxp"
    "YwAAAApzZXQtY29va2llAAAACmtlZXAtYWxpdmUAAAAGb3JpZ2luMTAwMTAxMjAxMjAyMjA1MjA2MzAwMzAyMzAzMzA0MzA1MzA2MzA3NDAy"
    "NDA1NDA2NDA3NDA4NDA5NDEwNDExNDEyNDEzNDE0NDE1NDE2NDE3NTAyNTA0NTA1MjAzIE5vbi1BdXRob3JpdGF0aXZlIEluZm9ybWF0aW9u"
    "MjA0IE5vIENvbnRlbnQzMDEgTW92ZWQgUGVybWFuZW50bHk0MDAgQmFkIFJlcXVlc3Q0MDEgVW5hdXRob3JpemVkNDAzIEZvcmJpZGRlbjQw"
    "NCBOb3QgRm91bmQ1MDAgSW50ZXJuYWwgU2VydmVyIEVycm9yNTAxIE5vdCBJbXBsZW1lbnRlZDUwMyBTZXJ2aWNlIFVuYXZhaWxhYmxlSmFu"
    "IEZlYiBNYXIgQXByIE1heSBKdW4gSnVsIEF1ZyBTZXB0IE9jdCBOb3YgRGVjIDAwOjAwOjAwIE1vbiwgVHVlLCBXZWQsIFRodSwgRnJpLCBT"
    "YXQsIFN1biwgR01UY2h1bmtlZCx0ZXh0L2h0bWwsaW1hZ2UvcG5nLGltYWdlL2pwZyxpbWFnZS9naWYsYXBwbGljYXRpb24veG1sLGFwcGxp"
    "Y2F0aW9uL3hodG1sK3htbCx0ZXh0L3BsYWluLHRleHQvamF2YXNjcmlwdCxwdWJsaWNwcml2YXRlbWF4LWFnZT1nemlwLGRlZmxhdGUsc2Rj"
    "aGNoYXJzZXQ9dXRmLThjaGFyc2V0PWlzby04ODU5LTEsdXRmLSwqLGVucT0wLg=="
)
DICTIONARY_ADLER32 = 0xE3C6A7C2


class FrameType(enum.IntEnum):
    """FrameType numbers SPDY/3 control frames."""

    SYN_STREAM = 1
    SYN_REPLY = 2
    RST_STREAM = 3
    SETTINGS = 4
    PING = 6
    GOAWAY = 7
    HEADERS = 8
    WINDOW_UPDATE = 9


class RstStatus(enum.IntEnum):
    """RstStatus is the reason carried by RST_STREAM."""

    PROTOCOL_ERROR = 1
    INVALID_STREAM = 2
    REFUSED_STREAM = 3
    UNSUPPORTED_VERSION = 4
    CANCEL = 5
    INTERNAL_ERROR = 6
    FLOW_CONTROL_ERROR = 7
    STREAM_IN_USE = 8
    STREAM_ALREADY_CLOSED = 9


class ProtocolError(Exception):
    """ProtocolError: the peer sent bytes that are not SPDY/3."""


Headers = dict[str, str]
"""Header names are lower-case; a value with several parts keeps SPDY's NUL separators."""


# ----- frames ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DataFrame:
    """DataFrame carries stream bytes; FIN ends the sender's half of the stream."""

    stream_id: int
    data: bytes
    flags: int = 0

    @property
    def fin(self) -> bool:
        return bool(self.flags & FLAG_FIN)


@dataclass(frozen=True, slots=True)
class ControlFrame:
    """ControlFrame is any control frame before its payload is interpreted (header blocks still compressed)."""

    type: int
    flags: int
    payload: bytes


Frame = DataFrame | ControlFrame


def encode_data(stream_id: int, data: bytes, *, fin: bool = False) -> bytes:
    """The bytes of one DATA frame."""
    if len(data) > MAX_FRAME:
        raise ValueError("data frame too long")
    return struct.pack(">IB", stream_id & 0x7FFFFFFF, FLAG_FIN if fin else 0) + len(data).to_bytes(3, "big") + data


def encode_control(type_: int, payload: bytes, flags: int = 0) -> bytes:
    """The bytes of one control frame."""
    if len(payload) > MAX_FRAME:
        raise ValueError("control frame too long")
    return struct.pack(">HHB", 0x8000 | VERSION, type_, flags) + len(payload).to_bytes(3, "big") + payload


async def read_frame(reader: asyncio.StreamReader) -> Frame | None:
    """The next frame, or None at a clean end of the byte stream (between frames)."""
    try:
        head = await reader.readexactly(8)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise ProtocolError("connection ended inside a frame header") from None
        return None
    length = int.from_bytes(head[5:8], "big")
    try:
        payload = await reader.readexactly(length) if length else b""
    except asyncio.IncompleteReadError:
        raise ProtocolError("connection ended inside a frame") from None
    if head[0] & 0x80:
        version = struct.unpack(">H", head[0:2])[0] & 0x7FFF
        if version != VERSION:
            raise ProtocolError(f"unsupported SPDY version {version}")
        return ControlFrame(struct.unpack(">H", head[2:4])[0], head[4], payload)
    return DataFrame(struct.unpack(">I", head[0:4])[0] & 0x7FFFFFFF, payload, head[4])


# ----- header blocks --------------------------------------------------------------------------


def pack_headers(headers: Headers) -> bytes:
    """A header block before compression: count, then length-prefixed names and values."""
    out = [struct.pack(">I", len(headers))]
    for name, value in headers.items():
        n, v = name.lower().encode(), value.encode()
        out += [struct.pack(">I", len(n)), n, struct.pack(">I", len(v)), v]
    return b"".join(out)


def unpack_headers(block: bytes) -> Headers:
    """Parse an uncompressed header block."""
    try:
        (count,) = struct.unpack_from(">I", block, 0)
        offset = 4
        headers: Headers = {}
        for _ in range(count):
            (n,) = struct.unpack_from(">I", block, offset)
            name = block[offset + 4 : offset + 4 + n].decode()
            offset += 4 + n
            (v,) = struct.unpack_from(">I", block, offset)
            value = block[offset + 4 : offset + 4 + v].decode()
            offset += 4 + v
            headers[name.lower()] = value
    except (struct.error, UnicodeDecodeError) as exc:
        raise ProtocolError(f"malformed header block: {exc}") from None
    return headers


class HeaderCompressor:
    """HeaderCompressor is one direction's zlib stream: every block is sync-flushed so the peer can read it at once."""

    def __init__(self) -> None:
        self._z = zlib.compressobj(9, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY, DICTIONARY)

    def compress(self, headers: Headers) -> bytes:
        return self._z.compress(pack_headers(headers)) + self._z.flush(zlib.Z_SYNC_FLUSH)


class HeaderDecompressor:
    """HeaderDecompressor reads the peer's zlib stream block by block."""

    def __init__(self) -> None:
        self._z = zlib.decompressobj(zdict=DICTIONARY)

    def decompress(self, block: bytes) -> Headers:
        try:
            raw = self._z.decompress(block)
        except zlib.error as exc:
            raise ProtocolError(f"header block does not decompress: {exc}") from None
        return unpack_headers(raw)


# ----- connections ----------------------------------------------------------------------------


class ByteSink(Protocol):
    """ByteSink takes the bytes a connection sends; `send` returns once they may be buffered no further."""

    async def send(self, data: bytes) -> None: ...

    async def close(self) -> None: ...


class StreamWriterSink:
    """StreamWriterSink sends over an asyncio stream (a socket)."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()


class StreamBuffer:
    """StreamBuffer holds the bytes that arrived on one stream; a connection stops reading while one is too full.

    That is the only flow control there is: kubectl ignores SPDY's windows, so a client uploading
    faster than the command reads (`kubectl cp` of a large file) is held back at the socket.
    """

    def __init__(self, high_water: int = 4 << 20) -> None:
        self.high_water = high_water
        self._data = bytearray()
        self._eof = False
        self._readable = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()

    def feed_data(self, data: bytes) -> None:
        self._data += data
        self._readable.set()
        if len(self._data) > self.high_water:
            self._drained.clear()

    def feed_eof(self) -> None:
        self._eof = True
        self._readable.set()
        self._drained.set()

    def at_eof(self) -> bool:
        return self._eof and not self._data

    async def read(self, n: int = -1) -> bytes:
        """Up to `n` bytes (all buffered with -1) once there are any; b"" at the end."""
        while not self._data and not self._eof:
            self._readable.clear()
            await self._readable.wait()
        size = len(self._data) if n < 0 else min(n, len(self._data))
        chunk = bytes(self._data[:size])
        del self._data[:size]
        if len(self._data) <= self.high_water:
            self._drained.set()
        return chunk

    async def drained(self) -> None:
        await self._drained.wait()


class ConnectionClosed(Exception):
    """ConnectionClosed: the connection ended or was reset before the operation could finish."""


@dataclass(eq=False)
class Stream:
    """Stream is one SPDY stream: headers from its SYN_STREAM, bytes in `reader`, `write` for bytes out."""

    conn: Connection
    id: int
    headers: Headers
    reader: StreamBuffer = field(default_factory=StreamBuffer)
    replied: asyncio.Event = field(default_factory=asyncio.Event)
    reply_headers: Headers = field(default_factory=dict)
    local_closed: bool = False
    remote_closed: bool = False
    reset: bool = False

    async def reply(self, headers: Headers | None = None, *, fin: bool = False) -> None:
        """Accept a stream the peer opened (SYN_REPLY)."""
        await self.conn.send_headers_frame(FrameType.SYN_REPLY, self.id, headers or {}, FLAG_FIN if fin else 0)
        self.local_closed = self.local_closed or fin

    async def write(self, data: bytes) -> None:
        if self.local_closed or self.reset:
            raise ConnectionClosed(f"stream {self.id} is closed")
        view = memoryview(data)
        while view:
            chunk, view = view[:DATA_CHUNK], view[DATA_CHUNK:]
            await self.conn.send_raw(encode_data(self.id, bytes(chunk)))

    async def close(self) -> None:
        """Half-close: an empty DATA frame with FIN."""
        if self.local_closed or self.reset:
            return
        self.local_closed = True
        with contextlib.suppress(ConnectionClosed):
            await self.conn.send_raw(encode_data(self.id, b"", fin=True))

    async def cancel(self, status: RstStatus = RstStatus.CANCEL) -> None:
        """Abort the stream in both directions (RST_STREAM)."""
        if self.reset:
            return
        self.reset = True
        self.reader.feed_eof()
        with contextlib.suppress(ConnectionClosed):
            await self.conn.send_raw(encode_control(FrameType.RST_STREAM, struct.pack(">II", self.id, status)))

    async def read_all(self, limit: int = 1 << 20) -> bytes:
        """Everything the peer sends until it closes its half (at most `limit` bytes)."""
        data = b""
        while len(data) < limit:
            chunk = await self.reader.read(limit - len(data))
            if not chunk:
                break
            data += chunk
        return data


class Connection:
    """Connection multiplexes SPDY streams over one byte stream; `run()` reads frames until the peer goes away."""

    def __init__(self, reader: asyncio.StreamReader, sink: ByteSink, *, client: bool = False) -> None:
        self.reader = reader
        self.sink = sink
        self.client = client
        self.streams: dict[int, Stream] = {}
        self.incoming: asyncio.Queue[Stream | None] = asyncio.Queue()
        self._compressor = HeaderCompressor()
        self._decompressor = HeaderDecompressor()
        self._send_lock = asyncio.Lock()
        self._next_id = 1 if client else 2
        self._last_peer_id = 0
        self.closed = asyncio.Event()
        self._goaway_sent = False

    # -- sending --------------------------------------------------------------------------------

    async def send_raw(self, frame: bytes) -> None:
        if self.closed.is_set():
            raise ConnectionClosed("connection closed")
        async with self._send_lock:
            try:
                await self.sink.send(frame)
            except (ConnectionError, RuntimeError, OSError) as exc:
                self._finish()
                raise ConnectionClosed(str(exc)) from exc

    async def send_headers_frame(self, type_: FrameType, stream_id: int, headers: Headers, flags: int = 0,
                                 prefix: bytes = b"") -> None:
        # Compressing and sending under one lock: the zlib stream must reach the peer in order.
        if self.closed.is_set():
            raise ConnectionClosed("connection closed")
        async with self._send_lock:
            block = self._compressor.compress(headers)
            frame = encode_control(type_, struct.pack(">I", stream_id & 0x7FFFFFFF) + prefix + block, flags)
            try:
                await self.sink.send(frame)
            except (ConnectionError, RuntimeError, OSError) as exc:
                self._finish()
                raise ConnectionClosed(str(exc)) from exc

    async def open_stream(self, headers: Headers, *, fin: bool = False, timeout: float = 30.0) -> Stream:
        """Open a stream (SYN_STREAM) and wait for the peer's SYN_REPLY."""
        stream_id = self._next_id
        self._next_id += 2
        stream = Stream(self, stream_id, dict(headers), local_closed=fin)
        self.streams[stream_id] = stream
        # associated-to stream id 0, priority 0, slot 0.
        await self.send_headers_frame(FrameType.SYN_STREAM, stream_id, headers, FLAG_FIN if fin else 0,
                                      prefix=struct.pack(">IBB", 0, 0, 0))
        replied = asyncio.ensure_future(stream.replied.wait())
        closed = asyncio.ensure_future(self.closed.wait())
        try:
            done, _ = await asyncio.wait({replied, closed}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            replied.cancel()
            closed.cancel()
        if not stream.replied.is_set():
            raise ConnectionClosed(f"stream {stream_id} was not accepted")
        return stream

    async def ping(self, ping_id: int) -> None:
        await self.send_raw(encode_control(FrameType.PING, struct.pack(">I", ping_id)))

    async def goaway(self) -> None:
        """Tell the peer no more streams will be accepted (status OK)."""
        if self._goaway_sent or self.closed.is_set():
            return
        self._goaway_sent = True
        with contextlib.suppress(ConnectionClosed):
            await self.send_raw(encode_control(FrameType.GOAWAY, struct.pack(">II", self._last_peer_id, 0)))

    async def close(self) -> None:
        """GOAWAY, then close the byte stream."""
        await self.goaway()
        self._finish()
        with contextlib.suppress(Exception):
            await self.sink.close()

    def _finish(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        for stream in self.streams.values():
            stream.reader.feed_eof()
            stream.replied.set()
        self.incoming.put_nowait(None)

    async def accept(self) -> Stream | None:
        """The next stream the peer opened, or None once the connection is over."""
        if self.closed.is_set() and self.incoming.empty():
            return None
        return await self.incoming.get()

    # -- receiving ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Read and dispatch frames until the peer closes the byte stream or sends GOAWAY."""
        try:
            while True:
                frame = await read_frame(self.reader)
                if frame is None:
                    return
                if isinstance(frame, DataFrame):
                    stream = self._on_data(frame)
                    if stream is not None:
                        await stream.reader.drained()
                else:
                    await self._on_control(frame)
        except (ProtocolError, ConnectionError) as exc:
            log.debug("spdy connection ended: %s", exc)
        finally:
            self._finish()

    def _on_data(self, frame: DataFrame) -> Stream | None:
        stream = self.streams.get(frame.stream_id)
        if stream is None or stream.reset:
            return None
        if frame.data:
            stream.reader.feed_data(frame.data)
        if frame.fin:
            stream.remote_closed = True
            stream.reader.feed_eof()
        return stream

    async def _on_control(self, frame: ControlFrame) -> None:
        """Handle one control frame."""
        p = frame.payload
        if frame.type == FrameType.SYN_STREAM:
            if len(p) < 10:
                raise ProtocolError("short SYN_STREAM")
            stream_id = struct.unpack_from(">I", p, 0)[0] & 0x7FFFFFFF
            headers = self._decompressor.decompress(p[10:])
            stream = Stream(self, stream_id, headers)
            if frame.flags & (FLAG_FIN | FLAG_UNIDIRECTIONAL):
                stream.remote_closed = bool(frame.flags & FLAG_FIN)
                if stream.remote_closed:
                    stream.reader.feed_eof()
            self._last_peer_id = max(self._last_peer_id, stream_id)
            self.streams[stream_id] = stream
            self.incoming.put_nowait(stream)
        elif frame.type == FrameType.SYN_REPLY:
            stream_id = struct.unpack_from(">I", p, 0)[0] & 0x7FFFFFFF
            headers = self._decompressor.decompress(p[4:])
            stream = self.streams.get(stream_id)
            if stream is not None:
                stream.reply_headers = headers
                stream.replied.set()
                if frame.flags & FLAG_FIN:
                    stream.remote_closed = True
                    stream.reader.feed_eof()
        elif frame.type == FrameType.HEADERS:
            # Must still be decompressed: it advances the peer's zlib stream.
            self._decompressor.decompress(p[4:])
        elif frame.type == FrameType.RST_STREAM:
            stream_id = struct.unpack_from(">I", p, 0)[0] & 0x7FFFFFFF
            stream = self.streams.get(stream_id)
            if stream is not None:
                stream.reset = True
                stream.remote_closed = True
                stream.reader.feed_eof()
                stream.replied.set()
        elif frame.type == FrameType.PING:
            ping_id = struct.unpack_from(">I", p, 0)[0]
            # Echo the peer's pings. A server never pings, so it echoes all; a client's own pings
            # (odd ids) come back as answers and are not echoed again.
            if not self.client or ping_id % 2 == 0:
                with contextlib.suppress(ConnectionClosed):
                    await self.send_raw(encode_control(FrameType.PING, p[:4]))
        elif frame.type == FrameType.GOAWAY:
            # No new streams; the open ones run to their end.
            self.incoming.put_nowait(None)
        # SETTINGS and WINDOW_UPDATE: kubectl's peer does not enforce windows, so neither do we.
