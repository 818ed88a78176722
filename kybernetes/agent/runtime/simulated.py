"""simulated: a `Runtime` that runs no processes, for controller tests and scale work without root.

Sandboxes get an IP from the configured pod CIDR and containers are running as soon as they are
started. Two pod annotations (read from the sandbox config) script what a container does:

``kybernetes.io/simulate-exit: "<container>=<code>@<seconds>[,<container>=<code>@<seconds>…]"``
    every run of `<container>` exits with `<code>` (0–255, or `OOMKilled` for exit code 137 with
    reason OOMKilled) `<seconds>` (a decimal, ≥ 0) after it started. Code 0 is reason Completed,
    anything else Error. Example: ``app=1@2,init=0@0.5``.

``kybernetes.io/simulate-termination: "<container>=<seconds>[,…]"``
    after a stop signal, `<container>` takes `<seconds>` to exit (code 0). Without it a container
    exits at once. If the stop timeout runs out first it is killed: exit code 137, reason Error.

Init containers (label `kybernetes.io/container-type: init`) without an entry exit 0 at once.
Malformed entries are ignored, as an unknown annotation would be. Exec answers exit code 0 and no
output, attach prints nothing until the container ends, port-forward fails (nothing listens);
`container_log` gives a few synthetic CRI-format lines. Changes can be observed without
polling through `subscribe` (the agent's evented PLEG uses it). `kubectl top` sees small constant
figures: each running container uses 1m of CPU and 4Mi of memory, the node 100m and 512Mi more.
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import secrets
from dataclasses import dataclass, field, replace
from typing import AsyncIterator, Callable, Sequence

from kybernetes.aio.clock import Clock, RealClock, TimerHandle
from kybernetes.agent.runtime.logs import format_timestamp
from kybernetes.agent.runtime.protocol import InvalidState, NotFound, Output, RuntimeFailure
from kybernetes.agent.runtime.stats import NodeStats
from kybernetes.agent.runtime.types import (
    ContainerConfig,
    ContainerId,
    ContainerState,
    ContainerStats,
    ContainerStatus,
    PodSandboxConfig,
    SandboxId,
    SandboxState,
    SandboxStatus,
    TerminalSize,
)

EXIT_ANNOTATION = "kybernetes.io/simulate-exit"
CONTAINER_TYPE_LABEL = "kybernetes.io/container-type"
"""Set to `init` by the agent on init containers, which must run to completion."""
TERMINATION_ANNOTATION = "kybernetes.io/simulate-termination"
OOM_KILLED = "OOMKilled"
KILLED_EXIT_CODE = 137
RUNTIME_NAME = "simulated"
RUNTIME_VERSION = "0.1.0"
# What `kubectl top` shows: small, plausible and constant, so tests can tell them apart.
CONTAINER_NANOCORES = 1_000_000
CONTAINER_MEMORY_BYTES = 4 * 2**20
NODE_NANOCORES = 100_000_000
NODE_MEMORY_BYTES = 512 * 2**20

ChangeCallback = Callable[[str], None]
"""ChangeCallback is told the pod UID (the sandbox config's `uid`) whose container exited."""


@dataclass(frozen=True, slots=True)
class ScriptedExit:
    """ScriptedExit is one `simulate-exit` entry: exit with `code` (and `reason`) after `after` seconds."""

    code: int
    reason: str
    after: float


def parse_exits(text: str) -> dict[str, ScriptedExit]:
    """Parse a `simulate-exit` annotation; entries that do not parse are skipped."""
    out: dict[str, ScriptedExit] = {}
    for entry in text.split(","):
        name, eq, rest = entry.strip().partition("=")
        code_text, at, seconds_text = rest.partition("@")
        if not eq or not at or not name:
            continue
        try:
            after = float(seconds_text)
        except ValueError:
            continue
        if after < 0 or after != after:
            continue
        if code_text.strip() == OOM_KILLED:
            out[name.strip()] = ScriptedExit(KILLED_EXIT_CODE, OOM_KILLED, after)
            continue
        try:
            code = int(code_text)
        except ValueError:
            continue
        if 0 <= code <= 255:
            out[name.strip()] = ScriptedExit(code, "Completed" if code == 0 else "Error", after)
    return out


def parse_terminations(text: str) -> dict[str, float]:
    """Parse a `simulate-termination` annotation into container name → seconds to exit after a stop."""
    out: dict[str, float] = {}
    for entry in text.split(","):
        name, eq, seconds_text = entry.strip().partition("=")
        try:
            seconds = float(seconds_text)
        except ValueError:
            continue
        if eq and name and seconds >= 0:
            out[name.strip()] = seconds
    return out


@dataclass(frozen=True, slots=True)
class SimulatedSettings:
    """SimulatedSettings configures one simulated node's runtime."""

    pod_cidr: str = "10.42.0.0/24"
    """Pod IPs come from here; the network address and the first host (the bridge's, on a real node) are skipped."""
    init_container_seconds: float = 0.0
    """How long an init container without a `simulate-exit` entry runs before it exits 0."""


@dataclass(slots=True)
class _Sandbox:
    status: SandboxStatus
    config: PodSandboxConfig
    exits: dict[str, ScriptedExit]
    terminations: dict[str, float]


@dataclass(slots=True)
class _Container:
    status: ContainerStatus
    config: ContainerConfig
    timer: TimerHandle | None = None
    waiters: list[asyncio.Future[None]] = field(default_factory=list)


class SimulatedRuntime:
    """SimulatedRuntime implements `Runtime` in memory: nothing runs, time passes on the injected clock."""

    name = RUNTIME_NAME
    version = RUNTIME_VERSION

    def __init__(self, settings: SimulatedSettings | None = None, *, clock: Clock | None = None) -> None:
        self.settings = settings or SimulatedSettings()
        self._clock: Clock = clock or RealClock()
        network = ipaddress.ip_network(self.settings.pod_cidr, strict=False)
        # Hosts are handed out lazily: a /16 has 65k of them and most nodes need ten.
        self._hosts = itertools.islice(network.hosts(), 1, None)
        self._free: list[str] = []
        self._sandboxes: dict[SandboxId, _Sandbox] = {}
        self._containers: dict[ContainerId, _Container] = {}
        self._subscribers: list[ChangeCallback] = []
        self._started_ns = self._now_ns()
        # CPU time of containers that have exited, so that the node's total never goes down.
        self._retired_cpu_ns = 0

    # -- observation -----------------------------------------------------------------------

    def subscribe(self, callback: ChangeCallback) -> None:
        """Call `callback(pod_uid)` whenever a container exits on its own or after a stop."""
        self._subscribers.append(callback)

    def _now_ns(self) -> int:
        return int(self._clock.now().timestamp() * 1_000_000_000)

    def _now_ms(self) -> int:
        """Now on a whole millisecond: resource metrics carry millisecond timestamps, and a steady
        made-up rate must come out exact between two readings (kubectl rounds 1.001m up to 2m)."""
        return self._now_ns() // 1_000_000 * 1_000_000

    # -- sandboxes -------------------------------------------------------------------------

    async def run_pod_sandbox(self, config: PodSandboxConfig) -> SandboxId:
        sandbox_id = SandboxId(secrets.token_hex(32))
        ip = self._allocate_ip()
        status = SandboxStatus(
            id=sandbox_id, uid=config.uid, name=config.name, namespace=config.namespace, state=SandboxState.READY,
            created_at=self._now_ns(), ip=ip, labels=dict(config.labels), annotations=dict(config.annotations),
        )
        self._sandboxes[sandbox_id] = _Sandbox(
            status, config, parse_exits(config.annotations.get(EXIT_ANNOTATION, "")),
            parse_terminations(config.annotations.get(TERMINATION_ANNOTATION, "")),
        )
        return sandbox_id

    def _allocate_ip(self) -> str:
        if self._free:
            return self._free.pop()
        try:
            return str(next(self._hosts))
        except StopIteration:
            raise RuntimeFailure(f"no IP addresses available in range set: {self.settings.pod_cidr}") from None

    async def stop_pod_sandbox(self, sandbox_id: SandboxId) -> None:
        sandbox = self._sandboxes.get(sandbox_id)
        if sandbox is None:
            return
        for container in list(self._containers.values()):
            if container.status.sandbox_id == sandbox_id and container.status.state is ContainerState.RUNNING:
                self._exit(container, KILLED_EXIT_CODE, "Error", notify=False)
        if sandbox.status.state is SandboxState.READY:
            if sandbox.status.ip:
                self._free.append(sandbox.status.ip)
            sandbox.status = replace(sandbox.status, state=SandboxState.NOT_READY, ip="")

    async def remove_pod_sandbox(self, sandbox_id: SandboxId) -> None:
        await self.stop_pod_sandbox(sandbox_id)
        for cid in [c for c, ctr in self._containers.items() if ctr.status.sandbox_id == sandbox_id]:
            await self.remove_container(cid)
        self._sandboxes.pop(sandbox_id, None)

    async def sandbox_status(self, sandbox_id: SandboxId) -> SandboxStatus:
        sandbox = self._sandboxes.get(sandbox_id)
        if sandbox is None:
            raise NotFound(f"sandbox {sandbox_id} not found")
        return sandbox.status

    async def list_sandboxes(self) -> list[SandboxStatus]:
        return [s.status for s in self._sandboxes.values()]

    # -- containers ------------------------------------------------------------------------

    async def create_container(self, sandbox_id: SandboxId, config: ContainerConfig) -> ContainerId:
        sandbox = self._sandboxes.get(sandbox_id)
        if sandbox is None:
            raise NotFound(f"sandbox {sandbox_id} not found")
        if sandbox.status.state is not SandboxState.READY:
            raise InvalidState(f"sandbox {sandbox_id} is not ready")
        container_id = ContainerId(secrets.token_hex(32))
        status = ContainerStatus(
            id=container_id, sandbox_id=sandbox_id, name=config.name, state=ContainerState.CREATED,
            attempt=config.attempt, image=config.image, created_at=self._now_ns(),
            labels=dict(config.labels), annotations=dict(config.annotations),
        )
        self._containers[container_id] = _Container(status, config)
        return container_id

    def _container(self, container_id: ContainerId) -> _Container:
        container = self._containers.get(container_id)
        if container is None:
            raise NotFound(f"container {container_id} not found")
        return container

    async def start_container(self, container_id: ContainerId) -> None:
        container = self._container(container_id)
        if container.status.state is not ContainerState.CREATED:
            raise InvalidState(f"container {container_id} is {container.status.state.value}, not created")
        container.status = replace(container.status, state=ContainerState.RUNNING, started_at=self._now_ms(), pid=1)
        sandbox = self._sandboxes[container.status.sandbox_id]
        scripted = sandbox.exits.get(container.status.name)
        if scripted is None and container.config.labels.get(CONTAINER_TYPE_LABEL) == "init":
            # An init container has to finish for the pod to go on; unscripted, it succeeds at once.
            scripted = ScriptedExit(0, "Completed", self.settings.init_container_seconds)
        if scripted is not None:
            container.timer = self._clock.call_later(
                scripted.after, lambda: self._exit(container, scripted.code, scripted.reason))

    async def stop_container(self, container_id: ContainerId, *, timeout: float) -> None:
        container = self._container(container_id)
        if container.status.state is not ContainerState.RUNNING:
            return
        sandbox = self._sandboxes.get(container.status.sandbox_id)
        takes = sandbox.terminations.get(container.status.name, 0.0) if sandbox is not None else 0.0
        if takes <= 0:
            self._exit(container, 0, "Completed")
            return
        if container.timer is not None:
            container.timer.cancel()
        if takes < timeout:
            container.timer = self._clock.call_later(takes, lambda: self._exit(container, 0, "Completed"))
        else:
            container.timer = self._clock.call_later(max(timeout, 0.0), lambda: self._exit(container, KILLED_EXIT_CODE, "Error"))
        await self._wait(container)

    async def remove_container(self, container_id: ContainerId) -> None:
        container = self._containers.pop(container_id, None)
        if container is None:
            return
        if container.timer is not None:
            container.timer.cancel()
        for waiter in container.waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def container_status(self, container_id: ContainerId) -> ContainerStatus:
        return self._container(container_id).status

    async def container_stats(self, container_id: ContainerId) -> ContainerStats | None:
        status = self._container(container_id).status
        if status.state is not ContainerState.RUNNING:
            return None
        now = self._now_ms()
        return ContainerStats(now, _cpu_ns(now - status.started_at, CONTAINER_NANOCORES), CONTAINER_MEMORY_BYTES)

    def node_stats(self) -> NodeStats:
        """The made-up node's use: its own steady share plus what its containers use."""
        now = self._now_ms()
        running = [c.status for c in self._containers.values() if c.status.state is ContainerState.RUNNING]
        cpu = _cpu_ns(now - self._started_ns, NODE_NANOCORES) + self._retired_cpu_ns
        cpu += sum(_cpu_ns(now - s.started_at, CONTAINER_NANOCORES) for s in running)
        return NodeStats(now, cpu, NODE_MEMORY_BYTES + len(running) * CONTAINER_MEMORY_BYTES)

    async def list_containers(self, *, sandbox_id: SandboxId | None = None) -> list[ContainerStatus]:
        return [c.status for c in self._containers.values() if sandbox_id is None or c.status.sandbox_id == sandbox_id]

    async def wait_container(self, container_id: ContainerId) -> ContainerStatus:
        container = self._container(container_id)
        if container.status.state is ContainerState.CREATED:
            raise InvalidState(f"container {container_id} was never started")
        await self._wait(container)
        return container.status

    async def _wait(self, container: _Container) -> None:
        if container.status.state is ContainerState.EXITED:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        container.waiters.append(waiter)
        await waiter

    def _exit(self, container: _Container, code: int, reason: str, *, notify: bool = True) -> None:
        if container.status.state is not ContainerState.RUNNING:
            return
        if container.timer is not None:
            container.timer.cancel()
            container.timer = None
        container.status = replace(container.status, state=ContainerState.EXITED, finished_at=self._now_ns(),
                                   exit_code=code, reason=reason, pid=0)
        self._retired_cpu_ns += _cpu_ns(container.status.finished_at - container.status.started_at, CONTAINER_NANOCORES)
        for waiter in container.waiters:
            if not waiter.done():
                waiter.set_result(None)
        container.waiters.clear()
        sandbox = self._sandboxes.get(container.status.sandbox_id)
        if notify and sandbox is not None:
            for callback in self._subscribers:
                callback(sandbox.config.uid)

    # -- exec and logs -----------------------------------------------------------------------

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
        container = self._container(container_id)
        if container.status.state is not ContainerState.RUNNING:
            raise InvalidState(f"container {container_id} is not running")
        return 0

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
        """Nothing runs, so nothing is printed: attaching waits for the container's scripted end."""
        container = self._container(container_id)
        if container.status.state is not ContainerState.RUNNING:
            raise InvalidState(f"container {container_id} is not running")
        await self._wait(container)

    async def port_forward(self, sandbox_id: SandboxId, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if sandbox_id not in self._sandboxes:
            raise NotFound(f"sandbox {sandbox_id} not found")
        raise RuntimeFailure("the simulated runtime runs no processes: nothing listens in a simulated pod")

    def container_log(self, container_id: ContainerId) -> bytes:
        """Return a few synthetic CRI-format log lines for the container's current run."""
        status = self._container(container_id).status
        lines = [f"simulated container {status.name} (attempt {status.attempt}) started"]
        if status.state is ContainerState.EXITED:
            lines.append(f"simulated container {status.name} exited with code {status.exit_code}")
        at = status.started_at or status.created_at
        return b"".join(f"{format_timestamp(at)} stdout F {line}\n".encode() for line in lines)

    async def reopen_container_log(self, container_id: ContainerId) -> None:
        self._container(container_id)

    async def adopt(self) -> None:
        """Nothing outlives the process: a simulated node starts empty."""

    async def close(self) -> None:
        for container in self._containers.values():
            if container.timer is not None:
                container.timer.cancel()
                container.timer = None


def _cpu_ns(elapsed_ns: int, nanocores: int) -> int:
    """CPU time used in `elapsed_ns` at a steady `nanocores` (1e9 nanocores is one core)."""
    return max(0, elapsed_ns) * nanocores // 1_000_000_000
