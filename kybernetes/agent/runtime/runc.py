"""runc: the real `Runtime`, running containers with runc (or crun) under per-container shims.

A sandbox is a network namespace wired by CNI plus the pod's shared files and /dev/shm; there is
no pause container. Each container gets its own pid, ipc, uts and mount namespaces and joins the
sandbox's network namespace. Creating a container mounts its overlay root and writes its bundle;
starting it hands the bundle to a shim (see `shim`), which runs `runc run -d` and stays with the
container. All state lives on disk (see `state`), so a new agent process picks up where the last
one stopped: `adopt()` only validates and tidies.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import secrets
import socket
import shutil
import signal
import struct
import sys
import termios
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, AsyncIterator, Sequence

import orjson

import kybernetes
from kybernetes.aio import process
from kybernetes.agent.runtime import cgroups, logs, netns, rootfs, stats
from kybernetes.agent.runtime.bundle import BundlePaths, build_spec, parse_signal
from kybernetes.agent.runtime.network import CNI, NetworkSettings
from kybernetes.agent.runtime.podfiles import write_pod_files
from kybernetes.agent.runtime.protocol import InvalidState, NotFound, Output, RuntimeCommandError, RuntimeFailure
from kybernetes.agent.runtime.shim import STDIN_FIFO, WINSIZE_FILE, encode_spec, process_alive
from kybernetes.agent.runtime.state import (
    ContainerRecord,
    ExitRecord,
    ShimRecord,
    SandboxRecord,
    StateDirs,
    load_container,
    load_exit,
    load_sandbox,
    load_shim,
    save_container,
    save_exit,
    save_sandbox,
)
from kybernetes.agent.runtime.types import (
    ContainerConfig,
    ContainerStats,
    ContainerId,
    ContainerState,
    ContainerStatus,
    PodSandboxConfig,
    SandboxId,
    SandboxState,
    SandboxStatus,
    TerminalSize,
)

log = logging.getLogger(__name__)

# Upstream's limits for a termination message, and for the log tail used in its place.
MAX_TERMINATION_MESSAGE = 4096
FALLBACK_LOG_LINES = 80
FALLBACK_LOG_BYTES = 2048
# Exit code and reason when the end of a container could not be observed (containerd's choice).
UNKNOWN_EXIT_CODE = 255
# How long a shim may take to report that runc started the container (runc itself gives up sooner).
SHIM_ANSWER_TIMEOUT = 120.0


@dataclass(frozen=True, slots=True)
class RuncSettings:
    """RuncSettings configures the runc runtime."""

    data_dir: Path
    """The agent's data directory; runtime state goes under `<data_dir>/agent`."""
    runtime_binary: str = "runc"
    """`runc`, `crun`, or a path to an OCI runtime with the same command line."""
    runtime_root: Path = Path("/run/kybernetes/runc")
    """The OCI runtime's own state directory (`--root`); on tmpfs, so a reboot forgets containers."""
    network: NetworkSettings = field(default_factory=NetworkSettings)
    log_max_size: int = logs.DEFAULT_MAX_SIZE
    """A container's log file is rotated when it would grow past this many bytes."""
    log_max_files: int = logs.DEFAULT_MAX_FILES
    """How many log files (current plus rotated) are kept per container."""
    python: str = sys.executable
    """The interpreter that runs the shims."""


class RuncRuntime:
    """RuncRuntime implements `Runtime` with runc or crun, CNI plugins and overlayfs."""

    def __init__(self, settings: RuncSettings) -> None:
        self.settings = settings
        self.dirs = StateDirs(settings.data_dir / "agent")
        self.cni = CNI(settings.network, state_dir=self.dirs.cni)
        self.runtime_binary = shutil.which(settings.runtime_binary) or settings.runtime_binary
        self._locks: dict[str, asyncio.Lock] = {}
        self._records: dict[str, ContainerRecord] = {}
        # In-memory indexes of what is on disk, filled by adopt(): a pod's status is asked for on
        # every sync and relist, and reading every record file each time made that O(pods²) I/O.
        self._sandboxes: dict[str, SandboxRecord] = {}
        self._shims: dict[str, ShimRecord] = {}
        self._exits: dict[str, ExitRecord] = {}
        self._scanned: dict[Path, tuple[int, int]] = {}
        """Per record directory: (its mtime, when it was scanned), to skip rescans of unchanged ones."""
        self._swap = cgroups.memory_swap_supported()
        self._spare: asyncio.Task[process.Process] | None = None
        # The shim fork server (shim.serve) and its abstract socket name; see _ask_shim_server.
        self._server: tuple[process.Process, str] | None = None
        self._server_lock = asyncio.Lock()
        self._background: set[asyncio.Task[Any]] = set()

    def _lock(self, key: str) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())

    # -- sandboxes ---------------------------------------------------------------------------

    async def run_pod_sandbox(self, config: PodSandboxConfig) -> SandboxId:
        sandbox_id = SandboxId(secrets.token_hex(32))
        directory = self.dirs.sandbox(sandbox_id)
        directory.mkdir(parents=True)
        log_dir = config.log_directory or self.dirs.logs / f"{config.namespace}_{config.name}_{config.uid}"
        record = SandboxRecord(sandbox_id, config, time.time_ns(), SandboxState.NOT_READY, log_dir)
        # Recorded before anything is set up, so that a crash half-way leaves something removable.
        self._save_sandbox(record)
        # Containers follow a sandbox: boot their shim while the network is wired.
        self.warm_up()
        try:
            net = await self.cni.add(sandbox_id, config.port_mappings)
            write_pod_files(directory, config, net.ip)
            rootfs.mount_tmpfs(directory / "shm", size=config.shm_size)
            log_dir.mkdir(parents=True, exist_ok=True)
            self._save_sandbox(replace(record, state=SandboxState.READY, netns=str(net.netns), ip=net.ip))
        except BaseException:
            with contextlib.suppress(Exception):
                await self.remove_pod_sandbox(sandbox_id)
            raise
        return sandbox_id

    def _save_sandbox(self, record: SandboxRecord) -> None:
        save_sandbox(self.dirs.sandbox(record.id), record)
        self._sandboxes[record.id] = record

    def _sandbox(self, sandbox_id: str) -> SandboxRecord:
        record = self._sandboxes.get(sandbox_id)
        if record is not None:
            return record
        try:
            record = load_sandbox(self.dirs.sandbox(sandbox_id))
        except FileNotFoundError:
            raise NotFound(f"sandbox {sandbox_id} not found") from None
        self._sandboxes[sandbox_id] = record
        return record

    def _index(self) -> None:
        """Bring the in-memory indexes in line with the directories: load records that appeared (another
        runtime object on the same data dir made them), drop those whose directory is gone."""
        if not self._changed(self.dirs.sandboxes) and not self._changed(self.dirs.containers):
            return
        sandboxes = set(_entries(self.dirs.sandboxes))
        for sid in sandboxes - self._sandboxes.keys():
            with contextlib.suppress(NotFound, ValueError, TypeError, KeyError):
                self._sandbox(sid)
        for sid in self._sandboxes.keys() - sandboxes:
            self._sandboxes.pop(sid, None)
        containers = set(_entries(self.dirs.containers))
        for cid in containers - self._records.keys():
            with contextlib.suppress(NotFound, ValueError, TypeError, KeyError):
                self._record(cid)
        for cid in self._records.keys() - containers:
            self._records.pop(cid, None)

    def _changed(self, directory: Path) -> bool:
        """Whether `directory` may have gained or lost entries since it was last scanned.

        Its mtime moves with every entry added or removed, but in coarse ticks: a scan made within
        a tick of the last change cannot prove the next change would move it, so it counts as changed.
        """
        try:
            mtime = os.stat(directory).st_mtime_ns
        except FileNotFoundError:
            return True
        now = time.time_ns()
        seen = self._scanned.get(directory)
        self._scanned[directory] = (mtime, now)
        return seen is None or seen[0] != mtime or seen[1] - mtime < 100_000_000

    async def stop_pod_sandbox(self, sandbox_id: SandboxId) -> None:
        record = self._sandbox(sandbox_id)
        containers = await self.list_containers(sandbox_id=sandbox_id)
        async with asyncio.TaskGroup() as tg:
            for c in containers:
                if c.state is ContainerState.RUNNING:
                    # As containerd: the agent has already given each container its grace period.
                    tg.create_task(self.stop_container(c.id, timeout=0))
        async with self._lock(sandbox_id):
            if record.state is SandboxState.READY or self.cni.status(sandbox_id) is not None:
                await self.cni.delete(sandbox_id)
                self._save_sandbox(replace(self._sandbox(sandbox_id), state=SandboxState.NOT_READY))

    async def remove_pod_sandbox(self, sandbox_id: SandboxId) -> None:
        directory = self.dirs.sandbox(sandbox_id)
        if not directory.exists():
            self._sandboxes.pop(sandbox_id, None)
            return
        try:
            record: SandboxRecord | None = self._sandbox(sandbox_id)
        except (NotFound, ValueError, TypeError, KeyError):
            record = None
        containers = [c for c in self._all_container_records() if c.sandbox_id == sandbox_id]
        async with asyncio.TaskGroup() as tg:
            for c in containers:
                tg.create_task(self.remove_container(c.id))
        if self.cni.status(sandbox_id) is not None or self.cni.netns_path(sandbox_id).exists():
            await self.cni.delete(sandbox_id)
        async with self._lock(sandbox_id):
            # unmount waits for the kernel and rmtree walks directories: off the event loop.
            await asyncio.to_thread(rootfs.unmount, directory / "shm")
            if record is not None:
                await cgroups.remove(record.config.effective_cgroup_parent)
                await asyncio.to_thread(shutil.rmtree, record.log_directory, True)
            await asyncio.to_thread(shutil.rmtree, directory, True)
            self._sandboxes.pop(sandbox_id, None)
        self._locks.pop(sandbox_id, None)

    async def sandbox_status(self, sandbox_id: SandboxId) -> SandboxStatus:
        r = self._sandbox(sandbox_id)
        return SandboxStatus(
            id=r.id, uid=r.config.uid, name=r.config.name, namespace=r.config.namespace, state=r.state,
            created_at=r.created_at, ip=r.ip, netns_path=Path(r.netns) if r.netns else None,
            labels=dict(r.config.labels), annotations=dict(r.config.annotations),
        )

    async def list_sandboxes(self) -> list[SandboxStatus]:
        self._index()
        out: list[SandboxStatus] = []
        for sid in list(self._sandboxes):
            with contextlib.suppress(NotFound, ValueError):
                out.append(await self.sandbox_status(sid))
        return out

    # -- containers --------------------------------------------------------------------------

    async def create_container(self, sandbox_id: SandboxId, config: ContainerConfig) -> ContainerId:
        sandbox = self._sandbox(sandbox_id)
        if sandbox.state is not SandboxState.READY:
            raise InvalidState(f"sandbox {sandbox_id} is not ready")
        container_id = ContainerId(secrets.token_hex(32))
        directory = self.dirs.container(container_id)
        directory.mkdir(parents=True)
        sandbox_dir = self.dirs.sandbox(sandbox_id)
        try:
            root = rootfs.mount_overlay(config.lowerdirs, directory)
            termination_log = directory / "termination-log"
            termination_log.touch()
            # Writable by whatever user the container runs as.
            termination_log.chmod(0o666)
            paths = BundlePaths(
                rootfs=root, netns=Path(sandbox.netns), hosts=sandbox_dir / "hosts", hostname=sandbox_dir / "hostname",
                resolv_conf=sandbox_dir / "resolv.conf", shm=sandbox_dir / "shm", termination_log=termination_log,
            )
            spec = build_spec(config, sandbox.config, container_id=container_id, paths=paths, memory_swap_supported=self._swap)
            (directory / "config.json").write_bytes(orjson.dumps(spec))
            log_path = sandbox.log_directory / config.name / f"{config.attempt}.log"
            log_path.parent.mkdir(parents=True, exist_ok=True)
            record = ContainerRecord(
                id=container_id, sandbox_id=sandbox_id, name=config.name, attempt=config.attempt, image=config.image,
                created_at=time.time_ns(), log_path=log_path,
                stop_signal=parse_signal(config.image_config.get("StopSignal")),
                runtime=self.runtime_binary, runtime_root=str(self.settings.runtime_root), tty=config.tty,
                stdin=config.stdin, termination_message_policy=config.termination_message_policy,
                labels=dict(config.labels), annotations=dict(config.annotations),
            )
            save_container(directory, record)
        except BaseException:
            rootfs.unmount_overlay(directory)
            shutil.rmtree(directory, ignore_errors=True)
            raise
        self._records[container_id] = record
        return container_id

    def _record(self, container_id: str) -> ContainerRecord:
        record = self._records.get(container_id)
        if record is None:
            try:
                record = load_container(self.dirs.container(container_id))
            except FileNotFoundError:
                raise NotFound(f"container {container_id} not found") from None
            self._records[container_id] = record
        return record

    def _all_container_records(self) -> list[ContainerRecord]:
        self._index()
        return list(self._records.values())

    async def start_container(self, container_id: ContainerId) -> None:
        record = self._record(container_id)
        directory = self.dirs.container(container_id)
        async with self._lock(container_id):
            if load_shim(directory) is not None or load_exit(directory) is not None:
                raise InvalidState(f"container {container_id} was already started")
            Path(record.runtime_root).mkdir(parents=True, exist_ok=True)
            answer = await self._spawn_shim(record, directory)
            if "error" in answer:
                # As containerd: a container that could not start is exited with reason StartError.
                error = str(answer["error"])
                save_exit(directory, ExitRecord(exit_code=128, finished_at=time.time_ns(), reason="StartError", message=error))
                raise RuntimeCommandError(f"starting container {container_id}", output=error)

    async def _spawn_shim(self, record: ContainerRecord, directory: Path) -> dict[str, Any]:
        spec = {
            "id": record.id,
            "dir": str(directory),
            "runtime": record.runtime,
            "root": record.runtime_root,
            "log_path": str(record.log_path),
            "log_max_size": self.settings.log_max_size,
            "log_max_files": self.settings.log_max_files,
            "tty": record.tty,
            "stdin": record.stdin,
        }
        settings = "\0".join(encode_spec(spec)).encode()
        out = await self._ask_shim_server(settings)
        if out is None:
            out = await self._run_spare_shim(settings)
        answer: dict[str, Any]
        try:
            answer = json.loads(out.decode().strip().splitlines()[-1])
        except (ValueError, IndexError):
            tail = (directory / "shim.log").read_text(errors="replace")[-2000:] if (directory / "shim.log").exists() else ""
            answer = {"error": f"the shim gave no answer: {tail or out.decode(errors='replace')}"}
        return answer

    async def _ask_shim_server(self, settings: bytes) -> bytes | None:
        """Have the fork server start the shim; its answer line, or None when the server cannot be used."""
        server = await self._shim_server()
        if server is None:
            return None
        _, name = server
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            # Connecting to a listening Unix socket completes at once (or fails at once).
            sock.connect("\0" + name)
        except OSError as err:
            sock.close()
            log.warning("shim server unreachable, starting shims directly: %s", err)
            self._server = None
            return None
        reader, writer = await asyncio.open_unix_connection(sock=sock)
        try:
            writer.write(settings)
            await writer.drain()
            writer.write_eof()
            # One line, not EOF: whatever inherits the connection by accident must not hold the start up.
            try:
                return await asyncio.wait_for(reader.readline(), SHIM_ANSWER_TIMEOUT)
            except TimeoutError:
                return b""
        finally:
            writer.close()

    async def _shim_server(self) -> tuple[process.Process, str] | None:
        """The running fork server, started on first use (and again if it died)."""
        async with self._server_lock:
            if self._server is not None and self._server[0].returncode is None:
                return self._server
            name = f"kyb-shim-{secrets.token_hex(8)}"
            try:
                proc = await self._start_shim_process("--serve", name)
                assert proc.stdout is not None
                ready = await asyncio.wait_for(proc.stdout.readline(), SHIM_ANSWER_TIMEOUT)
            except (OSError, TimeoutError) as err:
                log.warning("shim server did not start, starting shims directly: %s", err)
                return None
            if ready != b"ready\n":
                proc.close()
                return None
            self._server = (proc, name)
            return self._server

    async def _run_spare_shim(self, settings: bytes) -> bytes:
        """The slower way: a Python process per container (a spare started ahead when possible)."""
        proc = await self._take_spare_shim()
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(settings)
            await proc.stdin.drain()
            proc.stdin.close()
        except (BrokenPipeError, ConnectionResetError):
            # The spare died while idle (someone killed it): start one the slow way.
            await proc.wait()
            proc.close()
            proc = await self._start_shim_process()
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(settings)
            proc.stdin.close()
        assert proc.stdout is not None
        # One line, not EOF: whatever inherits the pipe by accident must not hold the start up.
        try:
            out = await asyncio.wait_for(proc.stdout.readline(), SHIM_ANSWER_TIMEOUT)
        except TimeoutError:
            out = b""
        await proc.wait()
        proc.close()
        return out

    async def _start_shim_process(self, *args: str) -> process.Process:
        package_root = Path(kybernetes.__file__).resolve().parent.parent
        env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "PYTHONPATH": str(package_root)}
        self.dirs.root.mkdir(parents=True, exist_ok=True)
        # -S skips site-packages (the shim needs only the standard library and this package);
        # -P keeps the working directory off sys.path.
        return await process.start(
            [self.settings.python, "-S", "-P", "-m", "kybernetes.agent.runtime.shim", *args],
            stdin=process.PIPE, stdout=process.PIPE, stderr=process.DEVNULL, env=env, cwd=self.dirs.root,
        )

    def warm_up(self) -> None:
        """Start the shim fork server now, so that the next container start does not wait for Python to boot."""
        if self._server is None and not self._server_lock.locked():
            task = asyncio.create_task(self._shim_server())
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _take_spare_shim(self) -> process.Process:
        spare, self._spare = self._spare, None
        if spare is not None:
            with contextlib.suppress(Exception):
                proc = await spare
                if proc.returncode is None:
                    return proc
                proc.close()
        return await self._start_shim_process()

    async def close(self) -> None:
        """Stop the shim server and let go of a spare shim; containers and their shims are not affected."""
        server, self._server = self._server, None
        if server is not None:
            proc, _ = server
            if proc.stdin is not None:
                proc.stdin.close()  # EOF on its stdin: the server exits
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 5)
            proc.close()
        spare, self._spare = self._spare, None
        if spare is None:
            return
        try:
            proc = await spare
        except Exception:  # noqa: BLE001 - it never started; nothing to stop
            return
        if proc.stdin is not None:
            proc.stdin.close()
        await proc.wait()
        proc.close()

    async def stop_container(self, container_id: ContainerId, *, timeout: float) -> None:
        record = self._record(container_id)
        directory = self.dirs.container(container_id)
        async with self._lock(container_id):
            shim = load_shim(directory)
            if shim is None or load_exit(directory) is not None:
                return
            if timeout > 0 and process_alive(shim.pid, shim.pid_start_time):
                _signal(shim.pid, record.stop_signal)
                if await self._wait_exit(directory, timeout):
                    return
            if process_alive(shim.pid, shim.pid_start_time):
                _signal(shim.pid, signal.SIGKILL)
            await self._wait_exit(directory, None)

    async def _wait_exit(self, directory: Path, timeout: float | None) -> bool:
        """Wait until exit.json exists; False on timeout. Records an unknown end if nobody else can."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if load_exit(directory) is not None:
                return True
            shim = load_shim(directory)
            if shim is None:
                raise InvalidState(f"container {directory.name} was never started")
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            # The shim writes exit.json, then exits: its end is the signal to look again.
            if process_alive(shim.shim_pid, shim.shim_start_time):
                await _wait_pid(shim.shim_pid, shim.shim_start_time, remaining)
            elif process_alive(shim.pid, shim.pid_start_time):
                # The shim is gone (killed); watch the container itself, its status is lost.
                if await _wait_pid(shim.pid, shim.pid_start_time, remaining):
                    self._record_unknown_exit(directory)
            else:
                if load_exit(directory) is None:
                    self._record_unknown_exit(directory)

    def _record_unknown_exit(self, directory: Path) -> None:
        if load_exit(directory) is None:
            save_exit(
                directory,
                ExitRecord(exit_code=UNKNOWN_EXIT_CODE, finished_at=time.time_ns(), reason="Unknown",
                           message="the container's exit was not observed (its shim was gone)"),
            )

    async def wait_container(self, container_id: ContainerId) -> ContainerStatus:
        self._record(container_id)
        await self._wait_exit(self.dirs.container(container_id), None)
        return await self.container_status(container_id)

    async def remove_container(self, container_id: ContainerId) -> None:
        try:
            record = self._record(container_id)
        except NotFound:
            return
        directory = self.dirs.container(container_id)
        if load_shim(directory) is not None:
            await self.stop_container(container_id, timeout=0)
        async with self._lock(container_id):
            if load_shim(directory) is not None:
                await self._runtime_delete(record)
            await asyncio.to_thread(_remove_container_files, directory, record.log_path)
        self._records.pop(container_id, None)
        self._shims.pop(container_id, None)
        self._exits.pop(container_id, None)
        self._locks.pop(container_id, None)

    async def _runtime_delete(self, record: ContainerRecord) -> None:
        done = await process.run([record.runtime, "--root", record.runtime_root, "delete", "--force", record.id],
                                 merge_stderr=True)
        text = done.stdout.decode(errors="replace")
        if done.returncode != 0 and "does not exist" not in text and "not exist" not in text:
            raise RuntimeCommandError(f"{record.runtime} delete {record.id}", output=text)

    async def container_status(self, container_id: ContainerId) -> ContainerStatus:
        record = self._record(container_id)
        directory = self.dirs.container(container_id)
        shim = self._shim_record(container_id, directory)
        exit_ = self._exit_record(container_id, directory)
        created = ContainerStatus(
            id=record.id, sandbox_id=record.sandbox_id, name=record.name, state=ContainerState.CREATED,
            attempt=record.attempt, image=record.image, created_at=record.created_at, log_path=record.log_path,
            labels=dict(record.labels), annotations=dict(record.annotations),
        )
        if exit_ is None and shim is not None and not process_alive(shim.shim_pid, shim.shim_start_time) \
                and not process_alive(shim.pid, shim.pid_start_time):
            # Both gone without a word (e.g. the node rebooted): settle it once, for good.
            self._record_unknown_exit(directory)
            exit_ = self._exit_record(container_id, directory)
        if exit_ is not None:
            return replace(
                created, state=ContainerState.EXITED, started_at=shim.started_at if shim else 0,
                finished_at=exit_.finished_at, exit_code=exit_.exit_code, reason=_reason(exit_),
                message=exit_.message or self._termination_message(record, directory, exit_.exit_code),
            )
        if shim is not None:
            return replace(created, state=ContainerState.RUNNING, started_at=shim.started_at, pid=shim.pid)
        return created

    def _shim_record(self, container_id: str, directory: Path) -> ShimRecord | None:
        """The shim's record, written once when the container starts: cached once seen."""
        shim = self._shims.get(container_id)
        if shim is None:
            shim = load_shim(directory)
            if shim is not None:
                self._shims[container_id] = shim
        return shim

    def _exit_record(self, container_id: str, directory: Path) -> ExitRecord | None:
        """The exit record, final once written (by the shim, or by us for a start that failed)."""
        exit_ = self._exits.get(container_id)
        if exit_ is None:
            exit_ = load_exit(directory)
            if exit_ is not None:
                self._exits[container_id] = exit_
        return exit_

    def _termination_message(self, record: ContainerRecord, directory: Path, exit_code: int) -> str:
        try:
            with open(directory / "termination-log", "rb") as f:
                message = f.read(MAX_TERMINATION_MESSAGE)
        except OSError:
            message = b""
        if not message and exit_code != 0 and record.termination_message_policy == "FallbackToLogsOnError":
            records = logs.read_records(record.log_path, tail=FALLBACK_LOG_LINES)
            message = b"".join(r.render() for r in records)[-FALLBACK_LOG_BYTES:]
        return message.decode(errors="replace")

    async def list_containers(self, *, sandbox_id: SandboxId | None = None) -> list[ContainerStatus]:
        out: list[ContainerStatus] = []
        for record in self._all_container_records():
            if sandbox_id is None or record.sandbox_id == sandbox_id:
                with contextlib.suppress(NotFound):
                    out.append(await self.container_status(record.id))
        return out

    def is_logging(self, container_id: str) -> bool:
        """is_logging tells whether the container's log may still grow (its shim is alive)."""
        shim = load_shim(self.dirs.container(container_id))
        return shim is not None and process_alive(shim.shim_pid, shim.shim_start_time)

    async def reopen_container_log(self, container_id: ContainerId) -> None:
        self._record(container_id)
        shim = load_shim(self.dirs.container(container_id))
        if shim is None or not process_alive(shim.shim_pid, shim.shim_start_time):
            raise InvalidState(f"container {container_id} is not running")
        os.kill(shim.shim_pid, signal.SIGUSR1)

    async def adopt(self) -> None:
        """Pick up the records on disk: settle containers whose end went unobserved, drop half-made ones."""
        self.dirs.containers.mkdir(parents=True, exist_ok=True)
        self.dirs.sandboxes.mkdir(parents=True, exist_ok=True)
        self._records.clear()
        self._sandboxes.clear()
        self._shims.clear()
        self._exits.clear()
        self._scanned.clear()
        for cid in self.dirs.container_ids():
            directory = self.dirs.container(cid)
            try:
                self._record(cid)
            except (NotFound, ValueError, TypeError):
                # Created no further than its directory: nothing ran, nothing to keep.
                rootfs.unmount_overlay(directory)
                shutil.rmtree(directory, ignore_errors=True)
                continue
            await self.container_status(cid)
        self._index()

    # -- exec --------------------------------------------------------------------------------

    async def exec(
        self,
        container_id: ContainerId,
        command: Sequence[str],
        *,
        stdout: Output,
        stderr: Output | None = None,
        stdin: AsyncIterator[bytes] | None = None,
        tty: bool = False,
        resize: AsyncIterator[TerminalSize] | None = None,
    ) -> int:
        status = await self.container_status(container_id)
        if status.state is not ContainerState.RUNNING:
            raise InvalidState(f"container {container_id} is not running")
        if not command:
            raise RuntimeFailure("exec needs a command")
        record = self._record(container_id)
        argv = [record.runtime, "--root", record.runtime_root, "exec", *(["--tty"] if tty else []), record.id, *command]
        if tty:
            return await _exec_tty(argv, stdout=stdout, stdin=stdin, resize=resize)
        return await _exec_pipes(argv, stdout=stdout, stderr=stderr or stdout, stdin=stdin)


    # -- attach and port-forward -------------------------------------------------------------

    async def attach(
        self,
        container_id: ContainerId,
        *,
        stdout: Output,
        stderr: Output | None = None,
        stdin: AsyncIterator[bytes] | None = None,
        tty: bool = False,
        resize: AsyncIterator[TerminalSize] | None = None,
    ) -> None:
        status = await self.container_status(container_id)
        if status.state is not ContainerState.RUNNING:
            raise InvalidState(f"container {container_id} is not running")
        record = self._record(container_id)
        directory = self.dirs.container(container_id)
        # The shim copies the container's output into its log; following the log from its end is
        # attaching. Lines arrive whole, as the log records them.
        side: list[asyncio.Task[None]] = []
        if stdin is not None:
            side.append(asyncio.create_task(_feed_fifo(directory / STDIN_FIFO if record.stdin else None, stdin)))
        if resize is not None and record.tty:
            side.append(asyncio.create_task(self._follow_resize(container_id, resize)))
        try:
            async for entry in logs.follow_records(record.log_path, tail=0, follow=True,
                                                   is_running=lambda: self.is_logging(container_id)):
                out = stderr if entry.stream == logs.STDERR and stderr is not None else stdout
                await out(entry.render())
        finally:
            for task in side:
                task.cancel()
            for task in side:
                with contextlib.suppress(asyncio.CancelledError, OSError):
                    await task

    async def _follow_resize(self, container_id: ContainerId, sizes: AsyncIterator[TerminalSize]) -> None:
        directory = self.dirs.container(container_id)
        async for size in sizes:
            shim = load_shim(directory)
            if shim is None or not process_alive(shim.shim_pid, shim.shim_start_time):
                return
            # The shim holds the terminal: it applies the size when told (SIGUSR2).
            (directory / WINSIZE_FILE).write_text(f"{size.width} {size.height}\n")
            _signal(shim.shim_pid, signal.SIGUSR2)

    async def port_forward(self, sandbox_id: SandboxId, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        sandbox = self._sandbox(sandbox_id)
        if sandbox.state is not SandboxState.READY or not sandbox.netns:
            raise InvalidState(f"sandbox {sandbox_id} is not running")
        return await netns.open_connection(Path(sandbox.netns), port)

    # -- stats -------------------------------------------------------------------------------

    async def container_stats(self, container_id: ContainerId) -> ContainerStats | None:
        """Read the running container's CPU and memory use from its cgroup; None unless it runs."""
        record = self._record(container_id)
        if (await self.container_status(container_id)).state is not ContainerState.RUNNING:
            return None
        try:
            sandbox = self._sandbox(record.sandbox_id)
        except NotFound:
            return None
        return stats.read_cgroup(stats.CgroupMounts.of_this_machine(), stats.container_cgroup(sandbox.config, container_id))


async def _feed_fifo(path: Path | None, stdin: AsyncIterator[bytes]) -> None:
    """Write the client's stdin into the container's stdin FIFO; without one, read and drop it."""
    fd = -1
    if path is not None:
        try:
            # Non-blocking: the container holds the read end; if it closed it, there is nobody to feed.
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            fd = -1
    try:
        async for chunk in stdin:
            view = memoryview(chunk)
            while fd >= 0 and view:
                try:
                    view = view[os.write(fd, view):]
                except BlockingIOError:
                    await asyncio.sleep(0.01)
                except OSError:
                    os.close(fd)
                    fd = -1
    finally:
        if fd >= 0:
            os.close(fd)


def _reason(exit_: ExitRecord) -> str:
    if exit_.reason:
        return exit_.reason
    if exit_.oom_killed:
        return "OOMKilled"
    return "Completed" if exit_.exit_code == 0 else "Error"


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


async def _wait_pid(pid: int, start_time: int | None, timeout: float | None) -> bool:
    """Wait for the process to end (it need not be our child); False on timeout."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        # The pid may have been reused between the caller's check and pidfd_open.
        if not process_alive(pid, start_time):
            return True
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def exited() -> None:
            if not done.done():
                done.set_result(None)

        loop.add_reader(fd, exited)
        try:
            await asyncio.wait_for(done, timeout)
            return True
        except TimeoutError:
            return False
        finally:
            loop.remove_reader(fd)
    finally:
        os.close(fd)


async def _pump_reader(reader: asyncio.StreamReader, out: Output) -> None:
    while chunk := await reader.read(1 << 16):
        await out(chunk)


async def _feed(writer: asyncio.StreamWriter, stdin: AsyncIterator[bytes]) -> None:
    try:
        async for chunk in stdin:
            writer.write(chunk)
            await writer.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            writer.close()


async def _exec_pipes(argv: list[str], *, stdout: Output, stderr: Output, stdin: AsyncIterator[bytes] | None) -> int:
    proc = await process.start(argv, stdin=process.PIPE if stdin is not None else process.DEVNULL,
                               stdout=process.PIPE, stderr=process.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    feeder: asyncio.Task[None] | None = None
    try:
        async with asyncio.TaskGroup() as tg:
            if stdin is not None:
                assert proc.stdin is not None
                # Not in the group: a caller's stdin that never ends must not keep exec waiting.
                feeder = asyncio.create_task(_feed(proc.stdin, stdin))
            tg.create_task(_pump_reader(proc.stdout, stdout))
            tg.create_task(_pump_reader(proc.stderr, stderr))
        return await proc.wait()
    finally:
        if feeder is not None:
            feeder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feeder
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        proc.close()


def _entries(directory: Path) -> list[str]:
    """Names of the record directories in `directory`, without a stat per entry."""
    try:
        with os.scandir(directory) as it:
            return [e.name for e in it if not e.name.startswith(".") and e.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return []


def _remove_container_files(directory: Path, log_path: Path) -> None:
    """Unmount and delete a container's root file system, bundle and logs (blocking: run in a thread)."""
    rootfs.unmount_overlay(directory)
    shutil.rmtree(directory, ignore_errors=True)
    for path in logs.log_files(log_path):
        path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        log_path.parent.rmdir()


def _set_winsize(fd: int, size: TerminalSize) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", size.height, size.width, 0, 0))


async def _exec_tty(
    argv: list[str], *, stdout: Output, stdin: AsyncIterator[bytes] | None, resize: AsyncIterator[TerminalSize] | None
) -> int:
    # runc relays a foreground exec's terminal through its own stdio, which must be a terminal:
    # give it the slave of a pseudo-terminal we hold, and resize by setting our size and sending
    # SIGWINCH, which runc forwards to the container's terminal.
    master, slave = os.openpty()
    _set_winsize(master, TerminalSize(80, 24))
    try:
        proc = await process.start(argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    finally:
        os.close(slave)
    os.set_blocking(master, False)
    loop = asyncio.get_running_loop()
    chunks: asyncio.Queue[bytes] = asyncio.Queue()

    def readable() -> None:
        try:
            data = os.read(master, 1 << 16)
        except BlockingIOError:
            return
        except OSError:
            data = b""  # EIO: every holder of the slave has closed it
        if not data:
            loop.remove_reader(master)
        chunks.put_nowait(data)

    async def pump_out() -> None:
        while data := await chunks.get():
            await stdout(data)

    async def feed() -> None:
        assert stdin is not None
        async for chunk in stdin:
            view = memoryview(chunk)
            while view:
                try:
                    n = os.write(master, view)
                    view = view[n:]
                except BlockingIOError:
                    await asyncio.sleep(0.01)

    async def follow_resize() -> None:
        assert resize is not None
        async for size in resize:
            _set_winsize(master, size)
            _signal(proc.pid, signal.SIGWINCH)

    loop.add_reader(master, readable)
    pump = asyncio.create_task(pump_out())
    side: list[asyncio.Task[None]] = []
    try:
        if stdin is not None:
            side.append(asyncio.create_task(feed()))
        if resize is not None:
            side.append(asyncio.create_task(follow_resize()))
        code = await proc.wait()
        # Drain what the terminal still holds: reads end in EIO once runc has gone.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(pump), 2.0)
        return code
    finally:
        side.append(pump)
        for task in side:
            task.cancel()
        for task in side:
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await task
        with contextlib.suppress(ValueError, OSError):
            loop.remove_reader(master)
        os.close(master)
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
