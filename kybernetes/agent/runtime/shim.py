"""shim: the small per-container process that starts a container, copies its output and records its exit.

Why a process of its own: a detached container (`runc run -d`) is re-parented away from runc the
moment runc returns, so its exit status and its stdout/stderr must be held by something that
outlives both runc and the agent. Like containerd's shim and CRI-O's conmon, this process:

1. double-forks into its own session (the agent only waits for the first, short-lived process),
   and becomes a child subreaper, so the container's init is re-parented to it when runc exits;
2. runs `runc run -d` (or crun) with the container's stdout and stderr connected to pipes it
   holds (with a TTY: receives the pseudo-terminal's master over `--console-socket`);
3. writes `shim.json` (its own pid, the container's pid, both start times, the start time of
   the container) and answers the agent on its stdout with one JSON line, then closes it;
4. copies the pipes into the CRI log file (`logs.LogWriter`, rotating by size; SIGUSR1 reopens);
   with a TTY and stdin it also copies the stdin FIFO into the terminal (attach's stdin; without a
   TTY the container reads the FIFO itself), and SIGUSR2 applies the size in `winsize` to it;
5. reaps the container, reads the memory cgroup's OOM-kill counter, and writes `exit.json`
   atomically — whether or not the agent is alive — then exits.

SIGTERM, SIGINT and SIGHUP are ignored so that the agent's shutdown or terminal does not take
the shim along. A restarted agent finds running containers by `shim.json` and learns their end
from `exit.json`; it can wait for the end by watching the shim's pid.

This module runs as `python -S -P -m kybernetes.agent.runtime.shim key=value...`, or is started
ahead of need with no arguments and reads the same settings, NUL-separated, from stdin: the
runtime keeps one such spare warm so that a container start pays for runc, not for Python's
start-up. A cold start still happens (the first one, or after a spare died), so the imports stay
cheap: `_signal` rather than `signal` (whose enums pull in `enum`), no `json` (which pulls in
`re`; the records are flat and written by hand), no `pathlib`, `typing` or `dataclasses`.
"""

from __future__ import annotations

import _signal
import ctypes
import os
import select
import sys
import time

from kybernetes.agent.runtime.logs import LogWriter

SHIM_FILE = "shim.json"
EXIT_FILE = "exit.json"
SHIM_LOG = "shim.log"
RUNC_LOG = "runc.log"
PID_FILE = "pid"
CONSOLE_SOCKET = "console.sock"
STDIN_FIFO = "stdin"
WINSIZE_FILE = "winsize"
"""`<width> <height>`: the terminal size the agent wants; it sends SIGUSR2 after writing it."""

# After the container exits, output still buffered in pipes held by its (now killed) children is
# drained for at most this long.
DRAIN_SECONDS = 2.0
PR_SET_CHILD_SUBREAPER = 36


def proc_start_time(pid: int) -> int | None:
    """proc_start_time is the process's start time in clock ticks since boot, or None if it is gone.

    A pid together with its start time names one process for good, even after the pid is reused.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # Field 2 (comm) may contain spaces and parentheses; fields after the last ')' start at field 3.
    fields = stat[stat.rindex(b")") + 2 :].split()
    if fields[0] == b"Z":
        return None
    return int(fields[19])


def process_alive(pid: int, start_time: int | None) -> bool:
    """process_alive is true while the process `pid` started at `start_time` still runs (zombies are dead)."""
    return pid > 0 and start_time is not None and proc_start_time(pid) == start_time


def _json_value(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def encode_record(record: dict[str, object]) -> str:
    """encode_record writes a flat dict of str, int, bool and None as one line of JSON."""
    return "{" + ", ".join(f"{_json_value(k)}: {_json_value(v)}" for k, v in record.items()) + "}"


def write_record(path: str, record: dict[str, object]) -> None:
    """write_record replaces `path` with `record` so that readers see the old or the new file, whole."""
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.tmp")
    with open(tmp, "w") as f:
        f.write(encode_record(record))
    os.replace(tmp, path)


def memory_cgroup_dir(pid: int) -> str:
    """memory_cgroup_dir is the memory cgroup directory of `pid` (v1 hierarchy, or v2 unified), or ''."""
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        return ""
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            return f"/sys/fs/cgroup/memory{path}"
    for line in lines:
        if line.startswith("0::") and os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
            return f"/sys/fs/cgroup{line[3:]}"
    return ""


def oom_kills(cgroup_dir: str) -> int:
    """oom_kills reads how many processes the OOM killer ended in the cgroup (v1 oom_control or v2 events)."""
    for name in ("memory.oom_control", "memory.events"):
        try:
            with open(os.path.join(cgroup_dir, name)) as f:
                for line in f:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
        except OSError:
            continue
    return 0


def runc_error(path: str) -> str:
    """runc_error is the last error message in runc's or crun's JSON log."""
    import json  # only on failure: see the module docstring

    message = ""
    try:
        with open(path, errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return message
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            message = line or message
            continue
        if isinstance(entry, dict) and entry.get("level") in ("error", "fatal"):
            message = entry.get("msg", message)
    return message


def _spawn(argv: list[str], stdio: tuple[int, int, int]) -> int:
    """_spawn starts `argv` on the given stdin, stdout and stderr with every signal at its default.

    Ignored signals survive exec, and the container inherits them through runc: the shim ignores
    SIGTERM, SIGINT, SIGHUP (and Python SIGPIPE), and glibc's posix_spawn even leaves its internal
    signals 32 and 33 ignored in the child. So: fork, reset, exec.
    """
    pid = os.fork()
    if pid:
        return pid
    try:
        for target, fd in enumerate(stdio):
            os.dup2(fd, target)
        _signal.set_wakeup_fd(-1)
        for sig in range(1, _signal.NSIG):
            if sig not in (_signal.SIGKILL, _signal.SIGSTOP):
                try:
                    _signal.signal(sig, _signal.SIG_DFL)
                except (OSError, ValueError):
                    # Reserved by the C library (32, 33): only the raw system call resets them.
                    _reset_reserved_signal(sig)
        os.execvpe(argv[0], argv, os.environ)
    finally:
        os._exit(127)


# rt_sigaction's number per architecture; glibc refuses signals 32 and 33, the kernel does not.
_RT_SIGACTION = {"x86_64": 13, "aarch64": 134}


def _reset_reserved_signal(sig: int) -> None:
    """Set `sig` to its default action with the raw system call (a parent may have ignored it)."""
    number = _RT_SIGACTION.get(os.uname().machine)
    if number is None:
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        # struct kernel_sigaction: handler, flags, restorer, mask (one 64-bit word).
        action = (ctypes.c_ulong * 4)(0, 0, 0, 0)
        libc.syscall(number, sig, ctypes.byref(action), None, 8)
    except (OSError, AttributeError):
        pass


def encode_spec(spec: dict[str, object]) -> list[str]:
    """encode_spec turns the shim's settings into its `key=value` arguments."""
    return [f"{k}={'1' if v is True else '' if v is False else v}" for k, v in spec.items()]


class _Shim:
    """_Shim is the state of the detached shim process for one container."""

    def __init__(self, spec: dict[str, str]) -> None:
        self.spec = spec
        self.dir = spec["dir"]
        self.reopen_requested = False
        self.status: int | None = None
        self.pid = 0
        self.started_at = 0
        self.memory_cgroup = ""
        self.oom_baseline = 0
        self.resize_requested = False
        self.tty_stdin = -1
        """With a TTY and stdin: the FIFO's read end, copied into the terminal."""
        self.terminal = -1

    def run(self) -> None:
        os.chdir(self.dir)
        log_fd = os.open(SHIM_LOG, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        os.dup2(log_fd, 2)
        os.close(log_fd)
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
        for sig in (_signal.SIGTERM, _signal.SIGINT, _signal.SIGHUP, _signal.SIGPIPE):
            _signal.signal(sig, _signal.SIG_IGN)
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        _signal.set_wakeup_fd(wake_w)
        _signal.signal(_signal.SIGCHLD, lambda *_: None)
        _signal.signal(_signal.SIGUSR1, self._on_usr1)
        _signal.signal(_signal.SIGUSR2, self._on_usr2)

        streams, error = self._start_container()
        if error is not None:
            self._answer({"error": error})
            return
        self._answer({"pid": self.pid, "started_at": self.started_at})
        self._copy_until_exit(streams, wake_r)

    def _on_usr1(self, *_: object) -> None:
        self.reopen_requested = True

    def _on_usr2(self, *_: object) -> None:
        self.resize_requested = True

    def _apply_winsize(self) -> None:
        import fcntl
        import struct
        import termios

        try:
            with open(WINSIZE_FILE) as f:
                width, height = (int(v) for v in f.read().split()[:2])
            fcntl.ioctl(self.terminal, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))
        except (OSError, ValueError):
            pass

    def _start_container(self) -> tuple[dict[int, str], str | None]:
        spec = self.spec
        runtime = spec["runtime"]
        devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        if spec.get("stdin"):
            if not os.path.exists(STDIN_FIFO):
                os.mkfifo(STDIN_FIFO, 0o600)
            # Read-write so that opening never blocks and the container never sees EOF between attaches.
            stdin = os.open(STDIN_FIFO, os.O_RDWR | os.O_CLOEXEC)
        else:
            stdin = devnull
        argv = [
            runtime, "--root", spec["root"], "--log", RUNC_LOG, "--log-format", "json",
            "run", "-d", "--pid-file", PID_FILE, "--bundle", self.dir,
        ]
        streams: dict[int, str] = {}
        listener = None
        if spec.get("tty"):
            import socket

            try:
                os.unlink(CONSOLE_SOCKET)
            except FileNotFoundError:
                pass
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            # A relative path: the container directory may be longer than a socket address allows.
            listener.bind(CONSOLE_SOCKET)
            listener.listen(1)
            argv += ["--console-socket", CONSOLE_SOCKET]
            stdio = (stdin, devnull, devnull)
            writers: list[int] = []
        else:
            out_r, out_w = os.pipe2(os.O_CLOEXEC)
            err_r, err_w = os.pipe2(os.O_CLOEXEC)
            streams = {out_r: "stdout", err_r: "stderr"}
            stdio = (stdin, out_w, err_w)
            writers = [out_w, err_w]
        argv.append(spec["id"])
        runc_pid = _spawn(argv, stdio)
        runc_status: int | None = None
        if listener is not None:
            master, runc_status = self._receive_console(listener, runc_pid)
            if master is not None:
                streams = {master: "stdout"}
                self.terminal = master
        if runc_status is None:
            _, runc_status = os.waitpid(runc_pid, 0)
        for fd in writers:
            os.close(fd)
        if stdin != devnull and self.terminal >= 0:
            # The container reads its terminal, not the FIFO: attach's stdin goes through us.
            self.tty_stdin = stdin
        elif stdin != devnull:
            os.close(stdin)
        os.close(devnull)
        if runc_status != 0:
            for fd in streams:
                os.close(fd)
            error = runc_error(RUNC_LOG) or f"{runtime} run exited with status {os.waitstatus_to_exitcode(runc_status)}"
            return {}, error
        with open(PID_FILE) as f:
            self.pid = int(f.read().strip())
        self.started_at = time.time_ns()
        self.memory_cgroup = memory_cgroup_dir(self.pid)
        self.oom_baseline = oom_kills(self.memory_cgroup) if self.memory_cgroup else 0
        write_record(
            os.path.join(self.dir, SHIM_FILE),
            {
                "shim_pid": os.getpid(),
                "shim_start_time": proc_start_time(os.getpid()),
                "pid": self.pid,
                "pid_start_time": proc_start_time(self.pid),
                "started_at": self.started_at,
                "memory_cgroup": self.memory_cgroup,
            },
        )
        return streams, None

    def _receive_console(self, listener: object, runc_pid: int) -> tuple[int | None, int | None]:
        """Accept the terminal master from runc; also return runc's status if it exited without sending one."""
        import socket

        assert isinstance(listener, socket.socket)
        listener.settimeout(0.05)
        try:
            while True:
                try:
                    conn, _ = listener.accept()
                except socket.timeout:
                    # runc connects once the terminal exists; if it fails before that, it never does.
                    pid, status = os.waitpid(runc_pid, os.WNOHANG)
                    if pid:
                        return None, status
                    continue
                with conn:
                    _, fds, _, _ = socket.recv_fds(conn, 4096, 1)
                return (fds[0] if fds else None), None
        finally:
            listener.close()
            os.unlink(CONSOLE_SOCKET)

    def _answer(self, message: dict[str, object]) -> None:
        os.write(1, (encode_record(message) + "\n").encode())
        # Let go of the agent's pipe: the agent reads until EOF.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)

    def _copy_stdin(self) -> None:
        try:
            data = os.read(self.tty_stdin, 4096)
        except OSError:
            return
        if not data or self.terminal < 0:
            return
        # Never block the loop that copies the output: a terminal whose reader stalls drops input,
        # as a real one would once its buffer is full.
        os.set_blocking(self.terminal, False)
        try:
            os.write(self.terminal, data)
        except OSError:
            pass
        finally:
            os.set_blocking(self.terminal, True)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.pid:
                self.status = status

    def _copy_until_exit(self, streams: dict[int, str], wake_r: int) -> None:
        spec = self.spec
        writer = LogWriter(
            spec["log_path"],
            max_size=int(spec.get("log_max_size") or 10 * 1024 * 1024),
            max_files=int(spec.get("log_max_files") or 5),
        )
        poller = select.poll()
        for fd in streams:
            poller.register(fd, select.POLLIN)
        poller.register(wake_r, select.POLLIN)
        if self.tty_stdin >= 0:
            poller.register(self.tty_stdin, select.POLLIN)
        deadline: float | None = None
        self._reap()
        while True:
            if self.status is not None:
                if not streams:
                    break
                if deadline is None:
                    deadline = time.monotonic() + DRAIN_SECONDS
                elif time.monotonic() >= deadline:
                    break
            timeout = None if deadline is None else max(0, int((deadline - time.monotonic()) * 1000))
            for fd, _ in poller.poll(timeout):
                if fd == wake_r:
                    try:
                        while os.read(wake_r, 4096):
                            pass
                    except BlockingIOError:
                        pass
                    continue
                if fd == self.tty_stdin:
                    self._copy_stdin()
                    continue
                try:
                    data = os.read(fd, 1 << 16)
                except OSError:
                    # A terminal's master reads EIO once the container side is closed.
                    data = b""
                if data:
                    writer.write(streams[fd], data)
                else:
                    poller.unregister(fd)
                    writer.close_stream(streams.pop(fd))
                    os.close(fd)
            if self.reopen_requested:
                self.reopen_requested = False
                writer.reopen()
            if self.resize_requested:
                self.resize_requested = False
                if self.terminal >= 0 and self.terminal in streams:
                    self._apply_winsize()
            self._reap()
        writer.close()
        assert self.status is not None
        code = os.waitstatus_to_exitcode(self.status)
        signum = -code if code < 0 else 0
        oom = bool(self.memory_cgroup) and oom_kills(self.memory_cgroup) > self.oom_baseline
        write_record(
            os.path.join(self.dir, EXIT_FILE),
            {
                "exit_code": 128 + signum if signum else code,
                "signal": signum,
                "finished_at": time.time_ns(),
                "oom_killed": oom,
            },
        )


def _become_shim(args: list[str]) -> None:
    """Turn this (first, short-lived) process into the shim: fork the shim proper into its own session."""
    spec = dict(arg.split("=", 1) for arg in args)
    # The agent waits for this first process only; the shim proper is orphaned at once so that it
    # belongs to no agent and lives on in its own session.
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    try:
        _Shim(spec).run()
    except BaseException as exc:  # noqa: BLE001 - the agent must get an answer whatever happened
        import traceback

        traceback.print_exc()
        try:
            os.write(1, (encode_record({"error": f"shim: {exc!r}"}) + "\n").encode())
        except OSError:
            pass
        os._exit(1)
    os._exit(0)


def serve(name: str) -> None:
    """Fork server: start shims by fork() from this already-initialised process.

    A fresh Python costs about 15 ms of CPU to start and import this module; a fork costs well
    under one. The agent starts one server (`--serve NAME`); it listens on the abstract Unix socket
    NAME, accepts only its own user, and per connection forks a child that reads the settings
    (NUL-separated, up to EOF), answers on the connection, and continues exactly as a shim started
    by the agent would. The server exits when its stdin (a pipe from the agent) closes.
    """
    import socket

    os.closerange(3, 1 << 20)
    for sig in (_signal.SIGTERM, _signal.SIGHUP, _signal.SIGPIPE):
        _signal.signal(sig, _signal.SIG_IGN)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    listener.bind("\0" + name)
    listener.listen(128)
    os.write(1, b"ready\n")
    own_uid = os.getuid()
    while True:
        readable, _, _ = select.select([listener, 0], [], [], 1.0)
        _reap_children()
        if 0 in readable and not os.read(0, 4096):
            os._exit(0)
        if listener not in readable:
            continue
        conn, _ = listener.accept()
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
        if int.from_bytes(creds[4:8], sys.byteorder) != own_uid:
            conn.close()  # only the agent's user may start containers
            continue
        if os.fork() == 0:
            listener.close()
            _serve_one(conn)
        conn.close()


def _serve_one(conn: "object") -> None:
    """In the forked child: read the settings, put the connection on stdout, become the shim."""
    sock = conn  # a socket.socket; typed loosely to keep `socket` out of the module's imports
    data = b""
    while chunk := sock.recv(1 << 16):  # type: ignore[attr-defined]
        data += chunk
    fd = sock.fileno()  # type: ignore[attr-defined]
    os.dup2(fd, 1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 2)
    os.closerange(3, 1 << 20)
    if not data:
        os._exit(0)
    _become_shim(data.decode().split("\0"))


def _reap_children() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def main(argv: list[str]) -> None:
    if len(argv) == 3 and argv[1] == "--serve":
        serve(argv[2])
        return
    # Whatever else the agent's event loop let through (uvloop passes on some of its own descriptors)
    # would be held open for the container's lifetime; the agent waits for EOF on our stdout.
    os.closerange(3, 1 << 20)
    args = argv[1:]
    if not args:
        # A spare shim, started ahead of need: its settings arrive on stdin, NUL-separated. EOF
        # without settings means it is not needed after all (the agent closed or exited).
        data = b""
        while chunk := os.read(0, 1 << 16):
            data += chunk
        if not data:
            os._exit(0)
        args = data.decode().split("\0")
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
    _become_shim(args)


if __name__ == "__main__":
    main(sys.argv)
