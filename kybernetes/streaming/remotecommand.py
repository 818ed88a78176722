"""remotecommand: one exec or attach session, over WebSocket channels or SPDY, as upstream's kubelet serves it.

The caller has already found the container; `serve` completes the upgrade, collects the
client's streams (stdin, stdout, stderr, resize, and the error stream SPDY always has), hands
them to a `Runner` — the runtime's exec or attach — and ends the session the way kubectl
expects: remaining output, then one JSON `metav1.Status` on the error channel (`Success`, or
`NonZeroExitCode` with the code as an `ExitCode` cause, or `InternalError`), then close.

Transports, by client: kubectl 1.30+ and the Python client open a WebSocket (`v5.channel.k8s.io`,
the Python client also `v4`); kubectl 1.27–1.29, and 1.30+ when the WebSocket is refused, upgrade
to SPDY/3.1 and open one stream per channel, named by its `streamtype` header.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from typing import AsyncIterator, Awaitable, Callable, Mapping

import orjson
from aiohttp import web

from kybernetes.agent.runtime.protocol import Output
from kybernetes.agent.runtime.types import TerminalSize
from kybernetes.streaming import hijack, spdy, wschannel

log = logging.getLogger(__name__)

SPDY_PROTOCOLS = (wschannel.V5, wschannel.V4)
"""Over SPDY, v5 behaves as v4 (its close signal exists only for WebSockets)."""
STREAM_CREATION_TIMEOUT = 30.0
"""How long the client may take to open its streams after the upgrade (upstream's default)."""


@dataclass(frozen=True, slots=True)
class Options:
    """Options are the streams a session asks for, from the kubelet's query (`input`, `output`, `error`, `tty`)."""

    stdin: bool = False
    stdout: bool = False
    stderr: bool = False
    tty: bool = False

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> Options:
        def flag(name: str) -> bool:
            return query.get(name, "") in ("1", "true", "True")

        tty = flag("tty")
        # A terminal merges stderr into stdout; upstream drops a stderr request made with a TTY.
        return cls(stdin=flag("input"), stdout=flag("output"), stderr=flag("error") and not tty, tty=tty)

    def problem(self) -> str | None:
        """Why the session cannot start, or None."""
        if not (self.stdin or self.stdout or self.stderr):
            return "you must specify at least 1 of stdin, stdout, stderr"
        return None


@dataclass
class Streams:
    """Streams is what the command sees of the client: None for a stream that was not asked for."""

    stdin: AsyncIterator[bytes] | None
    stdout: Output | None
    stderr: Output | None
    resize: AsyncIterator[TerminalSize] | None
    tty: bool


Runner = Callable[[Streams], Awaitable[int]]
"""Runs the command (or attaches) with the client's streams; returns the exit code."""


# ----- statuses -------------------------------------------------------------------------------


def success_status() -> dict[str, object]:
    return {"metadata": {}, "status": "Success"}


def exit_status(code: int) -> dict[str, object]:
    """The Status for a command that ended with `code`; kubectl turns a failure into its own exit code."""
    if code == 0:
        return success_status()
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: error executing command, exit code {code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


def internal_error_status(message: str) -> dict[str, object]:
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"Internal error occurred: {message}",
        "reason": "InternalError",
        "details": {"causes": [{"message": message}]},
        "code": 500,
    }


async def _outcome(run: Awaitable[int]) -> dict[str, object]:
    try:
        return exit_status(await run)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever failed must reach the client as a Status
        log.debug("remote command failed: %s", exc, exc_info=True)
        return internal_error_status(f"error executing command in container: {exc}")


# ----- shared pieces ----------------------------------------------------------------------------


def parse_sizes(buffer: str) -> tuple[list[TerminalSize], str]:
    """Terminal sizes in concatenated JSON objects, and the unparsed rest (an object cut in two)."""
    decoder = json.JSONDecoder()
    sizes: list[TerminalSize] = []
    pos = 0
    while True:
        while pos < len(buffer) and buffer[pos].isspace():
            pos += 1
        if pos >= len(buffer):
            return sizes, ""
        try:
            value, end = decoder.raw_decode(buffer, pos)
        except ValueError:
            return sizes, buffer[pos:]
        pos = end
        if isinstance(value, dict):
            try:
                sizes.append(TerminalSize(int(value.get("Width", 0)), int(value.get("Height", 0))))
            except (TypeError, ValueError):
                continue


async def _drain_queue(queue: asyncio.Queue[bytes | None]) -> AsyncIterator[bytes]:
    while (item := await queue.get()) is not None:
        yield item


async def _drain_sizes(queue: asyncio.Queue[TerminalSize | None]) -> AsyncIterator[TerminalSize]:
    while (item := await queue.get()) is not None:
        # {"Width":0,"Height":0} means "not a real terminal": nothing to apply.
        if item.width > 0 and item.height > 0:
            yield item


async def discard(data: bytes) -> None:
    """An `Output` for a stream nobody asked for."""
    return None


async def _run_until_gone(run: Runner, streams: Streams, gone: asyncio.Future[object]) -> dict[str, object] | None:
    """Run the command; None if the client went away first (the command is cancelled then)."""
    task = asyncio.ensure_future(_outcome(run(streams)))
    try:
        await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        task.cancel()
        raise
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return None
    return task.result()


def bad_request(message: str, status: int = 400) -> web.Response:
    """Upstream's kubelet answers streaming errors as plain text; the API server passes them on."""
    return web.Response(status=status, text=message, content_type="text/plain")


def is_spdy(request: web.Request) -> bool:
    return request.headers.get("Upgrade", "").lower().startswith("spdy/3.1")


async def serve(request: web.Request, options: Options, run: Runner) -> web.StreamResponse:
    """Upgrade the request (WebSocket or SPDY), run the session, and end it with its Status."""
    problem = options.problem()
    if problem is not None:
        return bad_request(problem)
    if wschannel.is_websocket(request):
        return await _serve_websocket(request, options, run)
    if is_spdy(request):
        return await _serve_spdy(request, options, run)
    return bad_request("unable to upgrade: missing upgrade headers in request")


# ----- WebSocket ------------------------------------------------------------------------------


async def _serve_websocket(request: web.Request, options: Options, run: Runner) -> web.StreamResponse:
    sock = await wschannel.accept(request, wschannel.PROTOCOLS)
    if sock is None:
        offered = wschannel.offered_protocols(request)
        return bad_request(f"unable to upgrade: unable to negotiate protocol: client supports {offered}, "
                           f"server supports {list(wschannel.PROTOCOLS)}")
    # Bounded: while the command does not read its stdin, we stop reading the socket, and the
    # client (`kubectl cp` of a large file) waits.
    stdin: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=64)
    sizes: asyncio.Queue[TerminalSize | None] = asyncio.Queue()

    async def read_client() -> None:
        pending = ""
        try:
            async for channel, payload in sock.messages():
                if channel == wschannel.STDIN and options.stdin and payload:
                    await stdin.put(payload)
                elif channel == wschannel.RESIZE and options.tty:
                    found, pending = parse_sizes(pending + payload.decode(errors="replace"))
                    for size in found:
                        sizes.put_nowait(size)
                elif channel == wschannel.CLOSE and sock.v5 and payload[:1] == bytes((wschannel.STDIN,)):
                    await stdin.put(None)
        finally:
            # A full queue means the command stopped reading; the session ends with the socket anyway.
            with contextlib.suppress(asyncio.QueueFull):
                stdin.put_nowait(None)
            sizes.put_nowait(None)

    async def send(channel: int, data: bytes) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await sock.send(channel, data)

    streams = Streams(
        stdin=_drain_queue(stdin) if options.stdin else None,
        stdout=(lambda data: send(wschannel.STDOUT, data)) if options.stdout else None,
        stderr=(lambda data: send(wschannel.STDERR, data)) if options.stderr else None,
        resize=_drain_sizes(sizes) if options.tty else None,
        tty=options.tty,
    )
    reader = asyncio.ensure_future(read_client())
    try:
        # The client closing the WebSocket ends the session: nobody would read the rest.
        status = await _run_until_gone(run, streams, reader)
        if status is not None:
            await send(wschannel.ERROR, orjson.dumps(status))
    finally:
        await sock.close()
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
    return sock.ws


# ----- SPDY -----------------------------------------------------------------------------------


async def _stream_chunks(stream: spdy.Stream) -> AsyncIterator[bytes]:
    while chunk := await stream.reader.read(1 << 16):
        yield chunk


async def _stream_sizes(stream: spdy.Stream) -> AsyncIterator[TerminalSize]:
    pending = ""
    while chunk := await stream.reader.read(4096):
        found, pending = parse_sizes(pending + chunk.decode(errors="replace"))
        for size in found:
            if size.width > 0 and size.height > 0:
                yield size


def _stream_output(stream: spdy.Stream) -> Output:
    async def write(data: bytes) -> None:
        # A client that reset the stream no longer wants the output; the command may still finish.
        with contextlib.suppress(spdy.ConnectionClosed):
            await stream.write(data)

    return write


async def upgrade_spdy(request: web.Request, protocols: tuple[str, ...]) -> tuple[spdy.Connection, hijack.RawConnection] | web.Response:
    """Answer an `Upgrade: SPDY/3.1` request choosing one of `protocols`; a 403 when none was offered."""
    offered = [v.strip() for value in request.headers.getall("X-Stream-Protocol-Version", []) for v in value.split(",")]
    chosen = next((p for p in offered if p in protocols), None)
    if chosen is None:
        return bad_request(f"unable to upgrade: unable to negotiate protocol: client supports {offered}, "
                           f"server supports {list(protocols)}", status=403)
    reader = hijack.claim(request)
    raw = await hijack.switch(request, reader, {"Connection": "Upgrade", "Upgrade": "SPDY/3.1",
                                                "X-Stream-Protocol-Version": chosen})
    return spdy.Connection(reader, raw), raw


async def _serve_spdy(request: web.Request, options: Options, run: Runner) -> web.StreamResponse:
    upgraded = await upgrade_spdy(request, SPDY_PROTOCOLS)
    if isinstance(upgraded, web.Response):
        return upgraded
    conn, raw = upgraded
    reading = asyncio.ensure_future(conn.run())
    wanted = {"error"} | {name for name, on in (("stdin", options.stdin), ("stdout", options.stdout),
                                                ("stderr", options.stderr), ("resize", options.tty)) if on}
    streams: dict[str, spdy.Stream] = {}
    try:
        async with asyncio.timeout(STREAM_CREATION_TIMEOUT):
            while not wanted <= streams.keys():
                stream = await conn.accept()
                if stream is None:
                    break
                await stream.reply()
                streams[stream.headers.get("streamtype", "")] = stream
    except (TimeoutError, spdy.ConnectionClosed):
        pass
    try:
        if not wanted <= streams.keys():
            log.debug("spdy session: client opened %s, expected %s", sorted(streams), sorted(wanted))
            return raw.response
        session = Streams(
            stdin=_stream_chunks(streams["stdin"]) if options.stdin else None,
            stdout=_stream_output(streams["stdout"]) if options.stdout else None,
            stderr=_stream_output(streams["stderr"]) if options.stderr else None,
            resize=_stream_sizes(streams["resize"]) if options.tty else None,
            tty=options.tty,
        )
        status = await _run_until_gone(run, session, reading)
        if status is not None:
            for name in ("stdout", "stderr"):
                if name in streams:
                    await streams[name].close()
            error = streams["error"]
            with contextlib.suppress(spdy.ConnectionClosed):
                await error.write(orjson.dumps(status))
            await error.close()
        return raw.response
    finally:
        await conn.close()
        await raw.close()
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reading
