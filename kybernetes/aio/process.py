"""process: run helper programs (runc, CNI plugins, ip, mount) without stalling the event loop.

uvloop starts a child with fork(): in a server holding 100 MB that costs about 2.7 ms of the
event loop's CPU and 7.6 ms of wall time per child, and a pod needs ten children. The standard
library's `subprocess` uses vfork (0.25 ms, 0.85 ms), so children are started from a worker
thread with `subprocess`.

Pipes are made here with os.pipe() and driven with add_reader/add_writer on descriptors this
module alone owns and closes exactly once. (Handing Popen's file objects to uvloop's pipe
transports closed some descriptors twice — the second close hit whatever had reused the number.)
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from dataclasses import dataclass
from typing import IO, Any, Mapping, Sequence

PIPE = subprocess.PIPE
DEVNULL = subprocess.DEVNULL
STDOUT = subprocess.STDOUT


@dataclass(frozen=True, slots=True)
class Completed:
    """Completed is a finished child: its exit status and what it wrote (bytes, empty unless piped)."""

    returncode: int
    stdout: bytes
    stderr: bytes


async def run(argv: Sequence[str], *, input: bytes | None = None, env: Mapping[str, str] | None = None,
              cwd: str | os.PathLike[str] | None = None, merge_stderr: bool = False, capture: bool = True,
              timeout: float | None = None) -> Completed:
    """Run `argv` to completion in a worker thread; stdout and stderr are captured unless `capture` is false.

    Raises OSError when the program cannot be started, and TimeoutError when it runs past `timeout`
    (it is killed then).
    """
    out = PIPE if capture else DEVNULL
    err = STDOUT if merge_stderr and capture else out

    def call() -> Completed:
        try:
            result = subprocess.run(list(argv), input=input, stdin=None if input is not None else DEVNULL,
                                    stdout=out, stderr=err, env=dict(env) if env is not None else None,
                                    cwd=cwd, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise TimeoutError(f"{argv[0]} ran longer than {timeout}s") from exc
        return Completed(result.returncode, result.stdout or b"", result.stderr or b"")

    return await asyncio.get_running_loop().run_in_executor(None, call)


class PipeReader(asyncio.StreamReader):
    """PipeReader is a StreamReader fed from the read end of a pipe; it closes the end at EOF or on close()."""

    def __init__(self, fd: int, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=2**20, loop=loop)
        self._fd: int | None = fd
        self._loop_ = loop
        os.set_blocking(fd, False)
        loop.add_reader(fd, self._readable)

    def _readable(self) -> None:
        if self._fd is None:
            return
        try:
            data = os.read(self._fd, 1 << 16)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            self.feed_data(data)
        else:
            self.close()
            self.feed_eof()

    def close(self) -> None:
        if self._fd is not None:
            self._loop_.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = None


class PipeWriter:
    """PipeWriter writes to the write end of a pipe with StreamWriter's write/drain/close."""

    def __init__(self, fd: int, loop: asyncio.AbstractEventLoop) -> None:
        self._fd: int | None = fd
        self._loop = loop
        self._buffer = bytearray()
        self._drained: asyncio.Future[None] | None = None
        self._closing = False
        os.set_blocking(fd, False)

    def write(self, data: bytes) -> None:
        if self._fd is None or self._closing:
            raise BrokenPipeError("the pipe is closed")
        was_empty = not self._buffer
        self._buffer += data
        if was_empty:
            self._flush()

    def _flush(self) -> None:
        if self._fd is None:
            return
        try:
            while self._buffer:
                n = os.write(self._fd, self._buffer)
                del self._buffer[:n]
        except BlockingIOError:
            self._loop.add_writer(self._fd, self._writable)
            return
        except OSError as exc:
            self._buffer.clear()
            self._finish(exc)
            return
        self._finish(None)

    def _writable(self) -> None:
        if self._fd is not None:
            self._loop.remove_writer(self._fd)
        self._flush()

    def _finish(self, error: BaseException | None) -> None:
        """The buffer is empty (or can never be written): wake drain(), and close if close() was asked for."""
        if self._drained is not None and not self._drained.done():
            if error is not None:
                self._drained.set_exception(BrokenPipeError(str(error)))
            else:
                self._drained.set_result(None)
        self._drained = None
        if error is not None or self._closing:
            self._close_fd()

    async def drain(self) -> None:
        if self._fd is None and not self._closing:
            raise BrokenPipeError("the pipe is closed")
        if not self._buffer:
            return
        if self._drained is None:
            self._drained = self._loop.create_future()
        await asyncio.shield(self._drained)

    def close(self) -> None:
        """Close once what was written has gone out (at once if nothing is pending)."""
        self._closing = True
        if not self._buffer:
            self._close_fd()

    def abort(self) -> None:
        self._buffer.clear()
        self._close_fd()

    def is_closing(self) -> bool:
        return self._closing or self._fd is None

    async def wait_closed(self) -> None:
        return None

    def _close_fd(self) -> None:
        if self._fd is not None:
            self._loop.remove_writer(self._fd)
            os.close(self._fd)
            self._fd = None


class Process:
    """Process is a running child with asyncio streams for the pipes that were asked for."""

    def __init__(self, popen: subprocess.Popen[bytes], stdin: PipeWriter | None,
                 stdout: PipeReader | None, stderr: PipeReader | None) -> None:
        self.popen = popen
        self.pid = popen.pid
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr

    def close(self) -> None:
        """Close our ends of the pipes (reading ends close by themselves at EOF)."""
        if self.stdin is not None:
            self.stdin.abort()
        for reader in (self.stdout, self.stderr):
            if reader is not None:
                reader.close()

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    async def wait(self) -> int:
        """Wait for the child to exit: a pidfd turns readable then (waitpid would hold a thread throughout)."""
        if (code := self.popen.poll()) is not None:
            return code
        loop = asyncio.get_running_loop()
        try:
            fd = os.pidfd_open(self.pid)
        except OSError:
            fd = -1
        if fd >= 0:
            exited = loop.create_future()
            loop.add_reader(fd, lambda: exited.done() or exited.set_result(None))
            try:
                # The child may have gone between poll() and pidfd_open(): the fd is readable at once then.
                await exited
            finally:
                loop.remove_reader(fd)
                os.close(fd)
            return self.popen.wait()
        delay = 0.001
        while (code := self.popen.poll()) is None:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)
        return code

    def send_signal(self, signal: int) -> None:
        self.popen.send_signal(signal)

    def kill(self) -> None:
        self.popen.kill()

    async def communicate(self, input: bytes | None = None) -> tuple[bytes, bytes]:
        """Write `input` (then close stdin), read stdout and stderr to their ends, and wait for the exit."""
        async def feed() -> None:
            if self.stdin is None:
                return
            try:
                if input:
                    self.stdin.write(input)
                    await self.stdin.drain()
            except (BrokenPipeError, ConnectionResetError):
                pass
            finally:
                self.stdin.close()

        async def read(stream: asyncio.StreamReader | None) -> bytes:
            return await stream.read() if stream is not None else b""

        try:
            _, out, err = await asyncio.gather(feed(), read(self.stdout), read(self.stderr))
            await self.wait()
        finally:
            self.close()
        return out, err


async def start(argv: Sequence[str], *, stdin: int | IO[Any] | None = DEVNULL, stdout: int | IO[Any] | None = DEVNULL,
                stderr: int | IO[Any] | None = DEVNULL, env: Mapping[str, str] | None = None,
                cwd: str | os.PathLike[str] | None = None, start_new_session: bool = False,
                pass_fds: Sequence[int] = ()) -> Process:
    """Start `argv` from a worker thread; PIPE gives asyncio streams (PipeWriter for stdin, PipeReader else)."""
    loop = asyncio.get_running_loop()
    ours: dict[str, int] = {}
    theirs: list[int] = []
    child: dict[str, int | IO[Any] | None] = {"stdin": stdin, "stdout": stdout, "stderr": stderr}
    try:
        for name in ("stdin", "stdout", "stderr"):
            if child[name] == PIPE:
                read_end, write_end = os.pipe2(os.O_CLOEXEC)
                ours[name], child[name] = (write_end, read_end) if name == "stdin" else (read_end, write_end)
                theirs.append(child[name])  # type: ignore[arg-type]

        def spawn() -> subprocess.Popen[bytes]:
            return subprocess.Popen(list(argv), stdin=child["stdin"], stdout=child["stdout"], stderr=child["stderr"],
                                    env=dict(env) if env is not None else None, cwd=cwd,
                                    start_new_session=start_new_session, pass_fds=tuple(pass_fds))

        popen = await loop.run_in_executor(None, spawn)
    except BaseException:
        for fd in ours.values():
            os.close(fd)
        raise
    finally:
        for fd in theirs:
            os.close(fd)
    return Process(
        popen,
        PipeWriter(ours["stdin"], loop) if "stdin" in ours else None,
        PipeReader(ours["stdout"], loop) if "stdout" in ours else None,
        PipeReader(ours["stderr"], loop) if "stderr" in ours else None,
    )
