"""state: the runtime's on-disk records, from which a restarted agent adopts what is still running.

    <data-dir>/agent/
      sandboxes/<id>/   sandbox.json, hosts, hostname, resolv.conf, shm/ (tmpfs)
      containers/<id>/  container.json (ours), config.json (OCI bundle), rootfs/ upper/ work/ (overlay),
                        termination-log, shim.json and exit.json (written by the shim), runc.log, shim.log
      cni/              results/<sandbox>.json, networks/ (host-local allocations)
      logs/<namespace>_<pod>_<uid>/<container>/<attempt>.log

Every record is replaced atomically (write, then rename), so a crash never leaves half a file.
Whoever writes a file owns it: the runtime writes sandbox.json and container.json, the shim
writes shim.json and exit.json; so the two never race on one file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

import orjson

from kybernetes.agent.runtime.shim import EXIT_FILE, SHIM_FILE
from kybernetes.agent.runtime.types import (
    ContainerId,
    DNSConfig,
    HostAlias,
    PodSandboxConfig,
    PortMapping,
    SandboxId,
    SandboxState,
)

SANDBOX_FILE = "sandbox.json"
CONTAINER_FILE = "container.json"


def write_json_atomic(path: Path, value: Any) -> None:
    """write_json_atomic replaces `path` with `value` so that readers see the old or the new file, whole.

    orjson writes dataclasses (and their enums, by value) itself — ten times faster than
    asdict() + json.dumps, and records are written on every sandbox and container change.
    """
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(orjson.dumps(value, default=_json_default))
    os.replace(tmp, path)


def _json_default(value: Any) -> Any:
    if isinstance(value, PurePath):
        return str(value)
    raise TypeError(f"cannot record {type(value).__name__}")


@dataclass(frozen=True, slots=True)
class StateDirs:
    """StateDirs names the directories under `<data-dir>/agent`."""

    root: Path

    @property
    def containers(self) -> Path:
        return self.root / "containers"

    @property
    def sandboxes(self) -> Path:
        return self.root / "sandboxes"

    @property
    def cni(self) -> Path:
        return self.root / "cni"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def container(self, container_id: str) -> Path:
        return self.containers / container_id

    def sandbox(self, sandbox_id: str) -> Path:
        return self.sandboxes / sandbox_id

    def container_ids(self) -> list[ContainerId]:
        return [ContainerId(p.name) for p in _subdirs(self.containers)]

    def sandbox_ids(self) -> list[SandboxId]:
        return [SandboxId(p.name) for p in _subdirs(self.sandboxes)]


def _subdirs(d: Path) -> list[Path]:
    try:
        return sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith("."))
    except FileNotFoundError:
        return []


@dataclass(frozen=True, slots=True)
class SandboxRecord:
    """SandboxRecord is sandbox.json: the pod's config and what was set up for it."""

    id: SandboxId
    config: PodSandboxConfig
    created_at: int
    state: SandboxState
    log_directory: Path
    netns: str = ""
    ip: str = ""


@dataclass(frozen=True, slots=True)
class ContainerRecord:
    """ContainerRecord is container.json: what the runtime decided when it created the container."""

    id: ContainerId
    sandbox_id: SandboxId
    name: str
    attempt: int
    image: str
    created_at: int
    log_path: Path
    stop_signal: int
    runtime: str
    """The OCI runtime binary this container was started with; exec and delete must use the same."""
    runtime_root: str
    tty: bool = False
    stdin: bool = False
    termination_message_policy: str = "File"
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ShimRecord:
    """ShimRecord is shim.json: the running container's pid and its shim's, with start times."""

    shim_pid: int
    shim_start_time: int | None
    pid: int
    pid_start_time: int | None
    started_at: int
    memory_cgroup: str = ""


@dataclass(frozen=True, slots=True)
class ExitRecord:
    """ExitRecord is exit.json: how the container ended. `reason` is set only when it is not derived."""

    exit_code: int
    finished_at: int
    signal: int = 0
    oom_killed: bool = False
    reason: str = ""
    message: str = ""


def save_sandbox(directory: Path, record: SandboxRecord) -> None:
    write_json_atomic(directory / SANDBOX_FILE, record)


def load_sandbox(directory: Path) -> SandboxRecord:
    value = orjson.loads((directory / SANDBOX_FILE).read_text())
    c = value["config"]
    config = PodSandboxConfig(
        **{
            **c,
            "dns": DNSConfig(**{k: tuple(v) for k, v in c["dns"].items()}),
            "port_mappings": tuple(PortMapping(**p) for p in c["port_mappings"]),
            "host_aliases": tuple(HostAlias(a["ip"], tuple(a["hostnames"])) for a in c["host_aliases"]),
            "log_directory": Path(c["log_directory"]) if c["log_directory"] else None,
        }
    )
    return SandboxRecord(
        id=SandboxId(value["id"]),
        config=config,
        created_at=value["created_at"],
        state=SandboxState(value["state"]),
        log_directory=Path(value["log_directory"]),
        netns=value["netns"],
        ip=value["ip"],
    )


def save_container(directory: Path, record: ContainerRecord) -> None:
    write_json_atomic(directory / CONTAINER_FILE, record)


def load_container(directory: Path) -> ContainerRecord:
    value = orjson.loads((directory / CONTAINER_FILE).read_text())
    value["log_path"] = Path(value["log_path"])
    return ContainerRecord(**value)


def _load_optional(path: Path) -> dict[str, Any] | None:
    try:
        value: dict[str, Any] = orjson.loads(path.read_text())
        return value
    except FileNotFoundError:
        return None


def load_shim(directory: Path) -> ShimRecord | None:
    value = _load_optional(directory / SHIM_FILE)
    return ShimRecord(**value) if value is not None else None


def load_exit(directory: Path) -> ExitRecord | None:
    value = _load_optional(directory / EXIT_FILE)
    return ExitRecord(**value) if value is not None else None


def save_exit(directory: Path, record: ExitRecord) -> None:
    """save_exit records an end the shim could not (it never started, or died before the container)."""
    write_json_atomic(directory / EXIT_FILE, record)
