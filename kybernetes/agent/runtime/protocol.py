"""protocol: the `Runtime` interface the agent drives, and the runtime's exception tree.

    RuntimeFailure
     ├── NotFound            no sandbox or container with that id (or name)
     ├── InvalidState        e.g. starting a container that already ran
     ├── BundleError         the configs cannot be turned into an OCI bundle (no command, bad user)
     └── RuntimeCommandError the OCI runtime (runc, crun), a CNI plugin or the shim failed
"""

from __future__ import annotations

import asyncio
from typing import AsyncIterator, Awaitable, Protocol, Sequence

from kybernetes.agent.runtime.types import (
    ContainerConfig,
    ContainerId,
    ContainerStats,
    ContainerStatus,
    PodSandboxConfig,
    SandboxId,
    SandboxStatus,
    TerminalSize,
)


class RuntimeFailure(Exception):
    """RuntimeFailure is the root of every error the runtime raises."""


class NotFound(RuntimeFailure):
    """NotFound: no sandbox or container with that id."""


class InvalidState(RuntimeFailure):
    """InvalidState: the operation does not fit the object's current state."""


class BundleError(RuntimeFailure):
    """BundleError: the configs cannot be turned into a runnable OCI bundle."""


class RuntimeCommandError(RuntimeFailure):
    """RuntimeCommandError: an external program (OCI runtime, CNI plugin, shim) failed; `output` is its message."""

    def __init__(self, message: str, *, output: str = "") -> None:
        # Plugin and runtime output can be long; keep the exception printable.
        self.output = output[-2000:]
        super().__init__(f"{message}: {self.output}" if self.output else message)


class Output(Protocol):
    """Output receives a chunk of a stream (exec's stdout or stderr)."""

    def __call__(self, data: bytes) -> Awaitable[None]: ...


class Runtime(Protocol):
    """Runtime runs pod sandboxes and their containers (upstream's CRI runtime service, in-process)."""

    async def run_pod_sandbox(self, config: PodSandboxConfig) -> SandboxId:
        """Create the pod's network namespace, network and shared files; return the sandbox id."""
        ...

    async def stop_pod_sandbox(self, sandbox_id: SandboxId) -> None:
        """Stop every container of the sandbox and tear its network down; idempotent."""
        ...

    async def remove_pod_sandbox(self, sandbox_id: SandboxId) -> None:
        """Stop, then remove the sandbox, its containers, files, mounts and cgroups; idempotent."""
        ...

    async def sandbox_status(self, sandbox_id: SandboxId) -> SandboxStatus: ...

    async def list_sandboxes(self) -> list[SandboxStatus]: ...

    async def create_container(self, sandbox_id: SandboxId, config: ContainerConfig) -> ContainerId:
        """Prepare the container's root filesystem and bundle; it does not run yet."""
        ...

    async def start_container(self, container_id: ContainerId) -> None: ...

    async def stop_container(self, container_id: ContainerId, *, timeout: float) -> None:
        """Send the image's stop signal, then SIGKILL after `timeout` seconds; return once it has exited."""
        ...

    async def remove_container(self, container_id: ContainerId) -> None:
        """Remove the container (killing it if it still runs), its root filesystem and its log files."""
        ...

    async def container_status(self, container_id: ContainerId) -> ContainerStatus: ...

    async def list_containers(self, *, sandbox_id: SandboxId | None = None) -> list[ContainerStatus]: ...

    async def container_stats(self, container_id: ContainerId) -> ContainerStats | None:
        """Read the container's CPU and memory use now; None unless it is running."""
        ...

    async def wait_container(self, container_id: ContainerId) -> ContainerStatus:
        """Return once the container has exited, with its final status."""
        ...

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
        """Run `command` in the running container, streaming its output; return its exit code.

        With a TTY, stderr is merged into stdout as on a terminal and `resize` sets the window size.
        """
        ...

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
        """Stream the running container's output from now on (and feed its stdin); return once it has exited.

        Without `stderr`, stderr goes to `stdout`. Stdin reaches the container only if it was
        created with `stdin`; otherwise it is read and dropped.
        """
        ...

    async def port_forward(self, sandbox_id: SandboxId, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Connect to `port` on localhost inside the sandbox's network namespace."""
        ...

    async def reopen_container_log(self, container_id: ContainerId) -> None:
        """Make the container's log writer reopen its file, after someone else rotated it."""
        ...

    async def adopt(self) -> None:
        """Load sandboxes and containers left by an earlier agent process; running ones keep running."""
        ...

    async def close(self) -> None:
        """Release what this process holds for the runtime; sandboxes and containers keep running."""
        ...
