"""bundle: the OCI runtime spec (config.json) for one container, built from its and its pod's configs.

The rules follow upstream where they are observable from inside a container: the command merge
(containerd's `WithProcessArgs`, from Docker), `$(VAR)` expansion (kubelet's `expansion.Expand`),
the environment order (default PATH, HOSTNAME, image env, container env), user resolution from
the image's /etc/passwd and /etc/group, Docker's default capabilities, masked and read-only paths.
"""

from __future__ import annotations

import functools
import resource
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from kybernetes.agent.runtime.protocol import BundleError
from kybernetes.agent.runtime.types import ContainerConfig, PodSandboxConfig, Security

OCI_VERSION = "1.0.2"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Docker's (and containerd's CRI) default capability set.
DEFAULT_CAPABILITIES: tuple[str, ...] = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
)

# Every capability runc 1.1 knows, in kernel order (capability.h, up to CAP_CHECKPOINT_RESTORE).
ALL_CAPABILITIES: tuple[str, ...] = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
    "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)

# Docker's defaults (moby `oci/defaults.go`), which containerd's CRI uses too.
MASKED_PATHS: tuple[str, ...] = (
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
    "/sys/devices/virtual/powercap",
)
READONLY_PATHS: tuple[str, ...] = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")

NOFILE_LIMIT = 1048576


def nofile_limit() -> int:
    """nofile_limit is Docker's open-files limit, lowered to ours when we may not raise it (no CAP_SYS_RESOURCE)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return NOFILE_LIMIT if hard == resource.RLIM_INFINITY else min(NOFILE_LIMIT, hard)


@functools.cache
def bounding_capabilities() -> frozenset[str]:
    """bounding_capabilities are the capabilities this process can pass on (its bounding set)."""
    try:
        with open("/proc/self/status") as f:
            mask = next(int(line.split()[1], 16) for line in f if line.startswith("CapBnd:"))
    except (OSError, StopIteration):
        return frozenset(ALL_CAPABILITIES)
    return frozenset(name for bit, name in enumerate(ALL_CAPABILITIES) if mask >> bit & 1)


# --- command and environment ------------------------------------------------------------------


def merge_command(command: Sequence[str], args: Sequence[str], entrypoint: Sequence[str] | None, cmd: Sequence[str] | None) -> list[str]:
    """merge_command joins the pod's command/args with the image's ENTRYPOINT/CMD as upstream does.

    A command replaces ENTRYPOINT and drops CMD; args replace CMD. An ENTRYPOINT of `[""]` counts
    as none (Docker's way of clearing an inherited one).
    """
    if command:
        merged = [*command, *args]
    else:
        image_entrypoint = list(entrypoint or ())
        if image_entrypoint == [""]:
            image_entrypoint = []
        merged = [*image_entrypoint, *(args or cmd or ())]
    if not merged:
        raise BundleError("no command specified: neither the container nor its image gives one")
    return merged


def expand(text: str, mapping: Callable[[str], str]) -> str:
    """expand replaces `$(VAR)` references as kubelet does; `$$` escapes, unknown references stay as written."""
    out: list[str] = []
    checkpoint = 0
    cursor = 0
    n = len(text)
    while cursor < n:
        if text[cursor] == "$" and cursor + 1 < n:
            out.append(text[checkpoint:cursor])
            read, is_var, advance = _read_variable_name(text[cursor + 1 :])
            out.append(mapping(read) if is_var else read)
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    return "".join(out) + text[checkpoint:]


def _read_variable_name(rest: str) -> tuple[str, bool, int]:
    if rest[0] == "$":
        return "$", False, 1
    if rest[0] == "(":
        close = rest.find(")", 1)
        if close >= 0:
            return rest[1:close], True, close + 1
        return "$(", False, 1
    return "$" + rest[0], False, 1


def mapping_for(*contexts: Mapping[str, str]) -> Callable[[str], str]:
    """mapping_for looks a name up in each context in turn; unknown names expand to themselves."""

    def lookup(name: str) -> str:
        for context in contexts:
            if name in context:
                return context[name]
        return f"$({name})"

    return lookup


def expand_env(env: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """expand_env expands each value against the variables defined before it, as kubelet does."""
    defined: dict[str, str] = {}
    out: list[tuple[str, str]] = []
    for name, value in env:
        expanded = expand(value, mapping_for(defined))
        defined[name] = expanded
        out.append((name, expanded))
    return out


def merge_env(*layers: Sequence[str]) -> list[str]:
    """merge_env joins `K=V` lists; a later value replaces an earlier one in place (containerd's `WithEnv`)."""
    order: list[str] = []
    values: dict[str, str] = {}
    for layer in layers:
        for entry in layer:
            key = entry.split("=", 1)[0]
            if key not in values:
                order.append(key)
            values[key] = entry
    return [values[k] for k in order]


def process_args_and_env(config: ContainerConfig, *, hostname: str) -> tuple[list[str], list[str]]:
    """process_args_and_env is the container's final argv and environment."""
    image = config.image_config
    env = expand_env(config.env)
    mapping = mapping_for(dict(env))
    command = [expand(c, mapping) for c in config.command]
    args = [expand(a, mapping) for a in config.args]
    argv = merge_command(command, args, image.get("Entrypoint"), image.get("Cmd"))
    environment = merge_env(
        [f"PATH={DEFAULT_PATH}", f"HOSTNAME={hostname}"],
        ["TERM=xterm"] if config.tty else [],
        list(image.get("Env") or ()),
        [f"{k}={v}" for k, v in env],
    )
    return argv, environment


# --- user and group ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProcessUser:
    """ProcessUser is the uid, gid and supplementary groups the container's process runs with."""

    uid: int
    gid: int
    additional_gids: tuple[int, ...] = ()


def _read_db(rootfs: Path, name: str) -> list[list[str]]:
    path = rootfs / "etc" / name
    try:
        # Never follow a symlink out of the image: an absolute link would resolve on the host.
        if path.is_symlink():
            return []
        text = path.read_text(errors="replace")
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return []
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def resolve_user(rootfs: Path, image_user: str, security: Security) -> ProcessUser:
    """resolve_user applies runAsUser/runAsGroup over the image's USER (`user[:group]`, names or ids)."""
    image_name, _, image_group = (image_user or "").partition(":")
    user = str(security.run_as_user) if security.run_as_user is not None else image_name
    group = str(security.run_as_group) if security.run_as_group is not None else (image_group if security.run_as_user is None else "")
    passwd = [e for e in _read_db(rootfs, "passwd") if len(e) >= 4]
    groups = [e for e in _read_db(rootfs, "group") if len(e) >= 3]

    username = ""
    if not user:
        uid, gid = 0, 0
        entry = next((e for e in passwd if e[2] == "0"), None)
        username = entry[0] if entry else ""
    elif user.isdigit():
        uid = int(user)
        entry = next((e for e in passwd if e[2] == user), None)
        gid = int(entry[3]) if entry and entry[3].isdigit() else 0
        username = entry[0] if entry else ""
    else:
        entry = next((e for e in passwd if e[0] == user), None)
        if entry is None:
            raise BundleError(f"unable to find user {user}: no matching entries in the image's /etc/passwd")
        uid, gid, username = int(entry[2]), int(entry[3]), user
    if group:
        if group.isdigit():
            gid = int(group)
        else:
            found = next((g for g in groups if g[0] == group), None)
            if found is None:
                raise BundleError(f"unable to find group {group}: no matching entries in the image's /etc/group")
            gid = int(found[2])
    extra: list[int] = [gid]
    if username:
        for g in groups:
            members = g[3].split(",") if len(g) > 3 else []
            if g[0] != username and username in members and g[2].isdigit():
                extra.append(int(g[2]))
    extra.extend(security.supplemental_groups)
    return ProcessUser(uid, gid, tuple(dict.fromkeys(extra)))


# --- capabilities and signals -----------------------------------------------------------------


def _cap_name(name: str) -> str:
    upper = name.upper()
    return upper if upper == "ALL" or upper.startswith("CAP_") else f"CAP_{upper}"


def capabilities(security: Security) -> list[str]:
    """capabilities is Docker's default set with the securityContext's add and drop applied (drop first)."""
    # A capability outside our own bounding set cannot be granted; asking for it fails the start.
    grantable = [c for c in ALL_CAPABILITIES if c in bounding_capabilities()]
    if security.privileged:
        return grantable
    add = [_cap_name(c) for c in security.capabilities_add]
    drop = {_cap_name(c) for c in security.capabilities_drop}
    unknown = [c for c in [*add, *drop] if c != "ALL" and c not in ALL_CAPABILITIES]
    if unknown:
        raise BundleError(f"unknown capabilities: {', '.join(sorted(set(unknown)))}")
    caps = [] if "ALL" in drop else [c for c in DEFAULT_CAPABILITIES if c not in drop]
    if "ALL" in add:
        # As containerd: adding ALL grants every capability, then explicit drops still apply.
        return [c for c in grantable if c not in drop]
    for c in add:
        if c not in caps and c in grantable:
            caps.append(c)
    return caps


def parse_signal(name: str | None) -> int:
    """parse_signal reads an image STOPSIGNAL (`SIGTERM`, `TERM`, `15`); empty means SIGTERM."""
    if not name:
        return int(signal.SIGTERM)
    text = name.strip().upper()
    if text.isdigit():
        return int(text)
    if not text.startswith("SIG"):
        text = "SIG" + text
    try:
        return int(signal.Signals[text])
    except KeyError:
        if text.startswith("SIGRTMIN+") and text[9:].isdigit():
            return int(signal.SIGRTMIN) + int(text[9:])
        raise BundleError(f"unknown stop signal {name!r}") from None


# --- the spec ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BundlePaths:
    """BundlePaths are the host paths one container's spec refers to."""

    rootfs: Path
    netns: Path
    hosts: Path
    hostname: Path
    resolv_conf: Path
    shm: Path
    termination_log: Path


def _bind(source: Path, destination: str, *, read_only: bool = False, extra: Sequence[str] = ()) -> dict[str, Any]:
    return {
        "destination": destination,
        "type": "bind",
        "source": str(source),
        "options": ["rbind", "rprivate", "ro" if read_only else "rw", *extra],
    }


@functools.cache
def lowest_oom_score_adj() -> int:
    """The lowest oom_score_adj this host lets us give a process.

    Upstream gives Guaranteed pods -997; some hosts (sandboxed VMs) refuse any value below the
    current one, and runc then fails the whole start. Probe once on ourselves: lower by one, put
    it back (raising is always allowed); if lowering is refused, our own value is the floor.
    """
    path = "/proc/self/oom_score_adj"
    try:
        with open(path) as f:
            current = int(f.read().strip())
    except (OSError, ValueError):
        return -1000
    if current <= -1000:
        return -1000
    try:
        with open(path, "w") as f:
            f.write(str(current - 1))
    except OSError:
        return current
    with open(path, "w") as f:
        f.write(str(current))
    return -1000


def build_spec(
    config: ContainerConfig,
    sandbox: PodSandboxConfig,
    *,
    container_id: str,
    paths: BundlePaths,
    memory_swap_supported: bool,
) -> dict[str, Any]:
    """build_spec returns the OCI runtime spec for `config` running in `sandbox`'s namespaces."""
    security = config.security
    hostname = sandbox.effective_hostname
    argv, env = process_args_and_env(config, hostname=hostname)
    user = resolve_user(paths.rootfs, str(config.image_config.get("User") or ""), security)
    caps = capabilities(security)
    process: dict[str, Any] = {
        "terminal": config.tty,
        "user": {"uid": user.uid, "gid": user.gid, "additionalGids": list(user.additional_gids)},
        "args": argv,
        "env": env,
        "cwd": config.working_dir or str(config.image_config.get("WorkingDir") or "") or "/",
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": nofile_limit(), "soft": nofile_limit()}],
        "noNewPrivileges": security.no_new_privileges and not security.privileged,
    }
    if config.resources.oom_score_adj is not None:
        process["oomScoreAdj"] = max(config.resources.oom_score_adj, lowest_oom_score_adj())

    sys_options = ["nosuid", "noexec", "nodev", "rw" if security.privileged else "ro"]
    mounts: list[dict[str, Any]] = [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": sys_options},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": [*sys_options, "relatime"]},
        _bind(paths.shm, "/dev/shm", extra=("nosuid", "nodev", "noexec")),
        _bind(paths.hosts, "/etc/hosts"),
        _bind(paths.hostname, "/etc/hostname"),
        _bind(paths.resolv_conf, "/etc/resolv.conf"),
        _bind(paths.termination_log, config.termination_message_path or "/dev/termination-log"),
    ]
    for m in config.mounts:
        mounts.append(_bind(m.host_path, m.container_path, read_only=m.read_only))

    resources: dict[str, Any] = {
        "devices": [{"allow": bool(security.privileged), "access": "rwm"}],
    }
    r = config.resources
    if r.memory_limit_bytes:
        resources["memory"] = {"limit": r.memory_limit_bytes}
        if memory_swap_supported:
            # Limit memory+swap to the same figure: a container never swaps (upstream's default).
            resources["memory"]["swap"] = r.memory_limit_bytes
    cpu: dict[str, Any] = {}
    if r.cpu_shares:
        cpu["shares"] = max(2, r.cpu_shares)
    if r.cpu_quota is not None and r.cpu_quota > 0:
        cpu["quota"] = r.cpu_quota
        cpu["period"] = r.cpu_period or 100_000
    if cpu:
        resources["cpu"] = cpu
    if r.pids_limit:
        resources["pids"] = {"limit": r.pids_limit}

    linux: dict[str, Any] = {
        "namespaces": [
            {"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"},
            {"type": "network", "path": str(paths.netns)},
        ],
        "cgroupsPath": f"{sandbox.effective_cgroup_parent.rstrip('/')}/{container_id}",
        "resources": resources,
    }
    if not security.privileged:
        linux["maskedPaths"] = list(MASKED_PATHS)
        linux["readonlyPaths"] = list(READONLY_PATHS)
    return {
        "ociVersion": OCI_VERSION,
        "process": process,
        "root": {"path": str(paths.rootfs), "readonly": security.read_only_root_filesystem},
        "hostname": hostname,
        "mounts": mounts,
        "linux": linux,
        "annotations": {
            "io.kubernetes.pod.name": sandbox.name,
            "io.kubernetes.pod.namespace": sandbox.namespace,
            "io.kubernetes.pod.uid": sandbox.uid,
            "io.kubernetes.container.name": config.name,
        },
    }
