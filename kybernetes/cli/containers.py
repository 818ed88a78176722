"""containers: the node-local commands `kyb ps`, `kyb logs` and `kyb exec`, read straight from the runtime's state.

They work without the agent running: records, logs and runc's state are all on disk.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import signal
import stat
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, AsyncIterator, Iterator

if TYPE_CHECKING:
    from kybernetes.agent.runtime.runc import RuncRuntime
    from kybernetes.agent.runtime.types import ContainerStatus, TerminalSize


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """register adds `ps`, `logs` and `exec` to the `kyb` command line."""
    ps = sub.add_parser("ps", help="list the containers on this node")
    _data_dir(ps)
    ps.add_argument("-a", "--all", action="store_true", help="show exited and created containers too")
    ps.add_argument("-q", "--quiet", action="store_true", help="print container ids only")
    ps.set_defaults(run=_run_ps)

    logs = sub.add_parser("logs", help="print a container's log")
    _data_dir(logs)
    logs.add_argument("container", metavar="CONTAINER", help="container id, unique id prefix, or unique name")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines until the container exits")
    logs.add_argument("--tail", type=int, default=None, metavar="N", help="only the last N lines")
    logs.add_argument("--since", default=None, metavar="TIME", help="only lines since an RFC 3339 time or a duration (30s, 5m, 2h)")
    logs.add_argument("-t", "--timestamps", action="store_true", help="prefix each line with its time")
    logs.add_argument("-p", "--previous", action="store_true", help="the log of the container's previous attempt")
    logs.set_defaults(run=_run_logs)

    ex = sub.add_parser("exec", help="run a command in a running container")
    _data_dir(ex)
    ex.add_argument("-i", "--interactive", action="store_true", help="pass standard input to the command")
    ex.add_argument("-t", "--tty", action="store_true", help="run the command on a terminal")
    ex.add_argument("container", metavar="CONTAINER", help="container id, unique id prefix, or unique name")
    ex.add_argument("command", nargs=argparse.REMAINDER, metavar="-- COMMAND", help="the command and its arguments")
    ex.set_defaults(run=_run_exec)


def _data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, default=None, help="data directory (default /var/lib/kybernetes as root)")


def _cli_error(message: str) -> Exception:
    # Imported here: kybernetes.cli.main imports this module to register the commands.
    from kybernetes.cli.main import CLIError

    return CLIError(message)


def _runtime(args: argparse.Namespace) -> "RuncRuntime":
    from kybernetes.agent.runtime.runc import RuncRuntime, RuncSettings

    data_dir = args.data_dir
    if data_dir is None:
        data_dir = Path("/var/lib/kybernetes") if os.geteuid() == 0 else Path.home() / ".local/share/kybernetes"
    if not (data_dir / "agent").is_dir():
        raise _cli_error(f"no node agent state in {data_dir} (is this the right --data-dir?)")
    return RuncRuntime(RuncSettings(data_dir=data_dir))


async def _resolve(runtime: "RuncRuntime", ref: str) -> "ContainerStatus":
    containers = await runtime.list_containers()
    exact = [c for c in containers if c.id == ref]
    if exact:
        return exact[0]
    matches = [c for c in containers if c.id.startswith(ref)] or [c for c in containers if c.name == ref]
    if not matches:
        raise _cli_error(f"no container {ref!r}")
    if len(matches) > 1:
        # Prefer the running one among a name's attempts; otherwise it is ambiguous.
        running = [c for c in matches if c.state.value == "running"]
        if len(running) == 1:
            return running[0]
        raise _cli_error(f"{ref!r} matches {len(matches)} containers: {', '.join(c.id[:13] for c in matches)}")
    return matches[0]


# --- ps ---------------------------------------------------------------------------------------


def _age(ns: int) -> str:
    seconds = max(0, int(time.time() - ns / 1e9))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


async def _ps(args: argparse.Namespace) -> None:
    runtime = _runtime(args)
    pods = {s.id: f"{s.namespace}/{s.name}" for s in await runtime.list_sandboxes()}
    containers = sorted(await runtime.list_containers(), key=lambda c: c.created_at, reverse=True)
    if not args.all:
        containers = [c for c in containers if c.state.value == "running"]
    if args.quiet:
        for c in containers:
            print(c.id)
        return
    rows = [("CONTAINER", "NAME", "POD", "STATE", "ATTEMPT", "CREATED", "EXIT", "IMAGE")]
    for c in containers:
        exit_ = "" if c.exit_code is None else f"{c.exit_code} ({c.reason})" if c.reason else str(c.exit_code)
        rows.append((c.id[:13], c.name, pods.get(c.sandbox_id, c.sandbox_id[:13]), c.state.value, str(c.attempt),
                     f"{_age(c.created_at)} ago", exit_, c.image))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("   ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())


def _run_ps(args: argparse.Namespace) -> None:
    asyncio.run(_ps(args))


# --- logs -------------------------------------------------------------------------------------


_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(text: str, *, now_ns: int | None = None) -> int:
    """parse_since reads `--since` (an RFC 3339 time, or a duration such as 90s, 5m, 1h30m) into UTC nanoseconds."""
    from kybernetes.agent.runtime.logs import parse_timestamp

    if re.fullmatch(r"(?:\d+(?:\.\d+)?[smhd])+", text):
        seconds = sum(float(n) * _UNITS[u] for n, u in _DURATION.findall(text))
        return (time.time_ns() if now_ns is None else now_ns) - int(seconds * 1e9)
    try:
        return parse_timestamp(text)
    except ValueError:
        raise _cli_error(f"--since: expected a duration (5m) or an RFC 3339 time, got {text!r}") from None


async def _logs(args: argparse.Namespace) -> None:
    from kybernetes.agent.runtime import logs

    runtime = _runtime(args)
    status = await _resolve(runtime, args.container)
    if status.log_path is None:
        raise _cli_error(f"container {status.id[:13]} has no log")
    path = status.log_path
    follow = args.follow
    if args.previous:
        try:
            path = logs.previous_log_path(path)
        except FileNotFoundError as exc:
            raise _cli_error(str(exc)) from None
        follow = False
    since = parse_since(args.since) if args.since else None
    out = sys.stdout.buffer
    async for record in logs.follow_records(
        path, tail=args.tail, since_ns=since, follow=follow, is_running=lambda: runtime.is_logging(status.id),
    ):
        out.write(record.render(timestamps=args.timestamps))
        if follow:
            out.flush()
    out.flush()


def _run_logs(args: argparse.Namespace) -> None:
    try:
        asyncio.run(_logs(args))
    except BrokenPipeError:
        # `kyb logs x | head`: the reader left; that is not an error.
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")


# --- exec -------------------------------------------------------------------------------------


@contextlib.contextmanager
def _raw_terminal(fd: int, enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


async def _stdin_chunks() -> AsyncIterator[bytes]:
    fd = sys.stdin.fileno()
    if stat.S_ISREG(os.fstat(fd).st_mode):
        # A regular file never blocks, and epoll refuses it.
        while chunk := os.read(fd, 1 << 16):
            yield chunk
        return
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes] = asyncio.Queue()

    def readable() -> None:
        try:
            data = os.read(fd, 1 << 16)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(fd)
        queue.put_nowait(data)

    blocking = os.get_blocking(fd)
    os.set_blocking(fd, False)
    loop.add_reader(fd, readable)
    try:
        while data := await queue.get():
            yield data
    finally:
        with contextlib.suppress(ValueError, OSError):
            loop.remove_reader(fd)
        os.set_blocking(fd, blocking)


def _terminal_size() -> "TerminalSize":
    from kybernetes.agent.runtime.types import TerminalSize

    size = os.get_terminal_size(sys.stdout.fileno()) if sys.stdout.isatty() else os.terminal_size((80, 24))
    return TerminalSize(width=size.columns, height=size.lines)


async def _resizes() -> AsyncIterator["TerminalSize"]:
    loop = asyncio.get_running_loop()
    changed = asyncio.Event()
    loop.add_signal_handler(signal.SIGWINCH, changed.set)
    try:
        yield _terminal_size()
        while True:
            await changed.wait()
            changed.clear()
            yield _terminal_size()
    finally:
        loop.remove_signal_handler(signal.SIGWINCH)


async def _exec(args: argparse.Namespace) -> int:
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise _cli_error("exec: no command given (kyb exec CONTAINER -- COMMAND ...)")
    runtime = _runtime(args)
    status = await _resolve(runtime, args.container)

    async def write_out(data: bytes) -> None:
        os.write(sys.stdout.fileno(), data)

    async def write_err(data: bytes) -> None:
        os.write(sys.stderr.fileno(), data)

    from kybernetes.agent.runtime.protocol import RuntimeFailure

    raw = args.tty and sys.stdin.isatty()
    with _raw_terminal(sys.stdin.fileno(), raw):
        try:
            return await runtime.exec(
                status.id, command, stdout=write_out, stderr=write_err,
                stdin=_stdin_chunks() if args.interactive else None, tty=args.tty,
                resize=_resizes() if args.tty else None,
            )
        except RuntimeFailure as exc:
            raise _cli_error(str(exc)) from None


def _run_exec(args: argparse.Namespace) -> None:
    code = asyncio.run(_exec(args))
    sys.exit(code)
