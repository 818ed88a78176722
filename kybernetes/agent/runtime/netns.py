"""netns: open a TCP connection from inside a network namespace (what port-forward needs).

A socket belongs to the namespace it was created in, whatever thread uses it later. So a
dedicated thread enters the namespace with setns(2) (Python 3.11 has no `os.setns`; libc's
is called through ctypes), creates and connects the socket, and hands it back to asyncio. The
thread is used once and never serves anyone else, so it need not leave the namespace cleanly.
Like containerd, the target is localhost: IPv4 first, then IPv6.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import socket
import threading
from pathlib import Path

CLONE_NEWNET = 0x40000000
CONNECT_TIMEOUT = 10.0


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns: {os.strerror(errno)}")


def connect_in_namespace(netns: Path, port: int, *, timeout: float = CONNECT_TIMEOUT) -> socket.socket:
    """Blocking: a connected, non-blocking socket to localhost:`port` inside `netns`. Call it from a thread of its own."""
    fd = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _setns(fd)
    finally:
        os.close(fd)
    failures: list[str] = []
    for family, address in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect((address, port))
        except OSError as exc:
            sock.close()
            failures.append(exc.strerror or str(exc))
            continue
        sock.setblocking(False)
        return sock
    # containerd's wording, which kubectl users know from upstream.
    raise ConnectionRefusedError(
        f"failed to connect to localhost:{port} inside namespace {str(netns)!r}, IPv4: {failures[0]} IPv6 {failures[1]}")


async def open_connection(netns: Path, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect to localhost:`port` inside the network namespace `netns`."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[socket.socket] = loop.create_future()

    def settle(result: socket.socket | None, error: BaseException | None) -> None:
        if done.cancelled():
            if result is not None:
                result.close()
        elif error is not None:
            done.set_exception(error)
        else:
            done.set_result(result)  # type: ignore[arg-type]

    def work() -> None:
        try:
            sock = connect_in_namespace(netns, port)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting coroutine
            loop.call_soon_threadsafe(settle, None, exc)
        else:
            loop.call_soon_threadsafe(settle, sock, None)

    threading.Thread(target=work, name=f"netns-connect-{port}", daemon=True).start()
    sock = await done
    return await asyncio.open_connection(sock=sock)
