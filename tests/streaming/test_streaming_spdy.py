"""SPDY/3.1 framing, header compression and connections, checked against the bytes kubectl sends."""

from __future__ import annotations

import asyncio
import socket
import struct
import zlib

import pytest

from kybernetes.streaming import spdy


def test_the_dictionary_is_the_spdy3_one() -> None:
    assert len(spdy.DICTIONARY) == 1423
    assert zlib.adler32(spdy.DICTIONARY) == spdy.DICTIONARY_ADLER32
    assert spdy.DICTIONARY.startswith(b"\x00\x00\x00\x07options")
    assert spdy.DICTIONARY.endswith(b"enq=0.")


def test_a_first_header_block_starts_like_kubectls() -> None:
    block = spdy.HeaderCompressor().compress({"streamtype": "error"})
    # zlib header with FDICT, then the dictionary's Adler-32: what kubectl's first block starts with.
    assert block[:6] == bytes.fromhex("78F9E3C6A7C2")


def test_header_blocks_share_one_zlib_stream_per_direction() -> None:
    compressor, decompressor = spdy.HeaderCompressor(), spdy.HeaderDecompressor()
    blocks = [{"streamtype": "error", "port": "80", "requestid": "0"},
              {"streamtype": "data", "port": "80", "requestid": "0"},
              {}]
    encoded = [compressor.compress(h) for h in blocks]
    # Later blocks refer back to earlier ones: only the first carries the zlib header.
    assert encoded[1][:2] != b"\x78\xf9"
    assert [decompressor.decompress(b) for b in encoded] == blocks
    # A fresh decompressor cannot read the second block on its own.
    with pytest.raises(spdy.ProtocolError):
        spdy.HeaderDecompressor().decompress(encoded[1])


def test_a_header_block_is_counted_length_prefixed_pairs() -> None:
    raw = spdy.pack_headers({"StreamType": "stdin"})
    assert raw == struct.pack(">I", 1) + struct.pack(">I", 10) + b"streamtype" + struct.pack(">I", 5) + b"stdin"
    assert spdy.unpack_headers(raw) == {"streamtype": "stdin"}


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (spdy.encode_data(5, b"hi", fin=True), bytes.fromhex("00000005 01 000002") + b"hi"),
        (spdy.encode_control(spdy.FrameType.PING, struct.pack(">I", 1)), bytes.fromhex("8003 0006 00 000004 00000001")),
        (spdy.encode_control(spdy.FrameType.GOAWAY, struct.pack(">II", 7, 0)),
         bytes.fromhex("8003 0007 00 000008 00000007 00000000")),
    ],
    ids=["data-fin", "ping", "goaway"],
)
def test_frames_encode_as_the_spec_lays_them_out(frame: bytes, expected: bytes) -> None:
    assert frame == expected


async def test_frames_read_back() -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(spdy.encode_data(3, b"abc") + spdy.encode_control(spdy.FrameType.RST_STREAM, struct.pack(">II", 3, 5)))
    reader.feed_eof()
    data = await spdy.read_frame(reader)
    control = await spdy.read_frame(reader)
    assert data == spdy.DataFrame(3, b"abc", 0)
    assert isinstance(control, spdy.ControlFrame) and control.type == spdy.FrameType.RST_STREAM
    assert await spdy.read_frame(reader) is None


async def test_a_frame_cut_short_is_a_protocol_error() -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(spdy.encode_data(3, b"abcdef")[:-2])
    reader.feed_eof()
    with pytest.raises(spdy.ProtocolError):
        await spdy.read_frame(reader)


async def _pair() -> tuple[spdy.Connection, spdy.Connection, list[asyncio.Task[None]]]:
    a, b = socket.socketpair()
    ra, wa = await asyncio.open_connection(sock=a)
    rb, wb = await asyncio.open_connection(sock=b)
    client = spdy.Connection(ra, spdy.StreamWriterSink(wa), client=True)
    server = spdy.Connection(rb, spdy.StreamWriterSink(wb))
    return client, server, [asyncio.create_task(client.run()), asyncio.create_task(server.run())]


async def test_streams_carry_headers_data_and_fin_both_ways() -> None:
    client, server, tasks = await _pair()

    async def serve() -> None:
        stream = await server.accept()
        assert stream is not None
        await stream.reply()
        got = await stream.read_all()
        await stream.write(got.upper())
        await stream.close()

    serving = asyncio.create_task(serve())
    stream = await client.open_stream({"streamtype": "data", "port": "80"})
    assert stream.id == 1
    assert server.streams[1].headers == {"streamtype": "data", "port": "80"}
    await stream.write(b"hello")
    await stream.close()
    assert await stream.read_all() == b"HELLO"
    await serving
    await client.close()
    await asyncio.gather(*tasks)


async def test_a_server_echoes_pings_and_ends_on_goaway_and_eof() -> None:
    client, server, tasks = await _pair()
    answered = asyncio.Event()
    original = client._on_control

    async def spy(frame: spdy.ControlFrame) -> None:
        if frame.type == spdy.FrameType.PING and struct.unpack(">I", frame.payload[:4])[0] == 7:
            answered.set()
        await original(frame)

    client._on_control = spy  # type: ignore[method-assign]
    await client.ping(7)
    await asyncio.wait_for(answered.wait(), 5)
    await client.goaway()
    assert await server.accept() is None
    await client.close()
    await asyncio.gather(*tasks)
    assert server.closed.is_set()


async def test_a_reset_stream_reads_eof_and_refuses_writes() -> None:
    client, server, tasks = await _pair()

    async def serve() -> spdy.Stream:
        stream = await server.accept()
        assert stream is not None
        await stream.reply()
        return stream

    serving = asyncio.create_task(serve())
    stream = await client.open_stream({"streamtype": "data"})
    served = await serving
    await stream.cancel()
    assert await served.reader.read() == b""
    await asyncio.sleep(0)
    assert served.reset
    with pytest.raises(spdy.ConnectionClosed):
        await stream.write(b"x")
    await client.close()
    await asyncio.gather(*tasks)


async def test_a_full_stream_buffer_holds_the_connection_back_until_read() -> None:
    buffer = spdy.StreamBuffer(high_water=4)
    buffer.feed_data(b"12345")
    drained = asyncio.create_task(buffer.drained())
    await asyncio.sleep(0)
    assert not drained.done()
    assert await buffer.read(2) == b"12"
    await asyncio.wait_for(drained, 5)
    buffer.feed_eof()
    assert await buffer.read() == b"345"
    assert await buffer.read() == b"" and buffer.at_eof()
