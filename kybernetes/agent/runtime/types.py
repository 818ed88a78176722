"""types: the runtime's own view of sandboxes and containers, separate from the API's Pod objects.

The agent translates a Pod into these configs and derives Pod status from the statuses;
nothing here knows about API dictionaries (upstream's `pkg/kubelet/container/runtime.go`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NewType

SandboxId = NewType("SandboxId", str)
ContainerId = NewType("ContainerId", str)

PortProtocol = Literal["tcp", "udp", "sctp"]


@dataclass(frozen=True, slots=True)
class DNSConfig:
    """DNSConfig is what goes into the pod's /etc/resolv.conf; all empty means "copy the node's"."""

    servers: tuple[str, ...] = ()
    searches: tuple[str, ...] = ()
    options: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PortMapping:
    """PortMapping publishes a container port on the node (a container's `hostPort`)."""

    container_port: int
    host_port: int
    protocol: PortProtocol = "tcp"
    host_ip: str = ""


@dataclass(frozen=True, slots=True)
class HostAlias:
    """HostAlias is one extra /etc/hosts line: an IP and the names it answers to."""

    ip: str
    hostnames: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PodSandboxConfig:
    """PodSandboxConfig describes what all containers of one pod share: network, hostname, DNS, cgroup parent."""

    uid: str
    name: str
    namespace: str
    hostname: str = ""
    """The pod's host name; empty means the pod name."""
    subdomain: str = ""
    """With `subdomain`, /etc/hosts also maps `hostname.subdomain.namespace.svc.<domain>` (upstream)."""
    cluster_domain: str = "cluster.local"
    dns: DNSConfig = field(default_factory=DNSConfig)
    port_mappings: tuple[PortMapping, ...] = ()
    host_aliases: tuple[HostAlias, ...] = ()
    cgroup_parent: str = ""
    """The pod's cgroup path relative to each hierarchy root; empty means `/kybernetes/pod<uid>`."""
    log_directory: Path | None = None
    """Where container logs go (removed with the sandbox); None means `<data-dir>/agent/logs/<namespace>_<name>_<uid>`."""
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    shm_size: int = 64 * 1024 * 1024
    """Size of the pod's shared /dev/shm tmpfs, in bytes."""

    @property
    def effective_hostname(self) -> str:
        # Pod names may exceed the 63-byte UTS limit; upstream truncates the same way.
        return (self.hostname or self.name)[:63].rstrip("-.")

    @property
    def effective_cgroup_parent(self) -> str:
        return self.cgroup_parent or f"/kybernetes/pod{self.uid}"


@dataclass(frozen=True, slots=True)
class Mount:
    """Mount binds a host path into the container."""

    host_path: Path
    container_path: str
    read_only: bool = False


@dataclass(frozen=True, slots=True)
class Resources:
    """Resources become the container's cgroup limits; None leaves a limit unset."""

    memory_limit_bytes: int | None = None
    cpu_shares: int | None = None
    cpu_quota: int | None = None
    """Microseconds of CPU time per `cpu_period`; None or -1 means unlimited."""
    cpu_period: int | None = None
    pids_limit: int | None = None
    oom_score_adj: int | None = None


@dataclass(frozen=True, slots=True)
class Security:
    """Security is the container's securityContext as the runtime applies it."""

    run_as_user: int | None = None
    run_as_group: int | None = None
    supplemental_groups: tuple[int, ...] = ()
    privileged: bool = False
    capabilities_add: tuple[str, ...] = ()
    """Capability names with or without `CAP_`, or `ALL`."""
    capabilities_drop: tuple[str, ...] = ()
    read_only_root_filesystem: bool = False
    no_new_privileges: bool = False
    """True for `allowPrivilegeEscalation: false`."""


@dataclass(frozen=True, slots=True)
class ContainerConfig:
    """ContainerConfig describes one container: its image layers, process, limits and log file."""

    name: str
    lowerdirs: tuple[Path, ...]
    """The image's unpacked layers, top-most first as overlayfs lists them."""
    image_config: dict[str, Any] = field(default_factory=dict)
    """The OCI image config's `config` object: Entrypoint, Cmd, Env, User, WorkingDir, StopSignal."""
    image: str = ""
    """The image reference, for display only."""
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    """The pod spec's env in order, values resolved but not yet $(VAR)-expanded."""
    working_dir: str = ""
    mounts: tuple[Mount, ...] = ()
    resources: Resources = field(default_factory=Resources)
    security: Security = field(default_factory=Security)
    tty: bool = False
    stdin: bool = False
    termination_message_path: str = "/dev/termination-log"
    termination_message_policy: Literal["File", "FallbackToLogsOnError"] = "File"
    attempt: int = 0
    """The restart count: the log file is `<attempt>.log`, so earlier attempts' logs stay readable."""
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


class ContainerState(enum.Enum):
    """ContainerState is the runtime's lifecycle of one container."""

    CREATED = "created"
    RUNNING = "running"
    EXITED = "exited"
    UNKNOWN = "unknown"


class SandboxState(enum.Enum):
    """SandboxState says whether the pod's network is set up."""

    READY = "ready"
    NOT_READY = "notready"


@dataclass(frozen=True, slots=True)
class ContainerStatus:
    """ContainerStatus is what the runtime knows of one container; times are UTC nanoseconds since the epoch."""

    id: ContainerId
    sandbox_id: SandboxId
    name: str
    state: ContainerState
    attempt: int
    image: str
    created_at: int
    started_at: int = 0
    finished_at: int = 0
    exit_code: int | None = None
    reason: str = ""
    """Completed, Error or OOMKilled once exited; Unknown when the exit could not be recorded."""
    message: str = ""
    pid: int = 0
    log_path: Path | None = None
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SandboxStatus:
    """SandboxStatus is what the runtime knows of one pod sandbox."""

    id: SandboxId
    uid: str
    name: str
    namespace: str
    state: SandboxState
    created_at: int
    ip: str = ""
    netns_path: Path | None = None
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ContainerStats:
    """ContainerStats is one reading of a running container's CPU and memory use (CRI's ContainerStats)."""

    timestamp: int
    """When it was read, UTC nanoseconds since the epoch."""
    cpu_usage_core_nanoseconds: int
    """CPU time used since the container started, all cores together (cumulative)."""
    memory_working_set_bytes: int
    """Memory in use minus the inactive page cache the kernel can drop first, as cadvisor counts it."""


@dataclass(frozen=True, slots=True)
class TerminalSize:
    """TerminalSize is a TTY's width and height in characters."""

    width: int
    height: int
