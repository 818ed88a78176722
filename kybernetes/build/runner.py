"""Runner: overlay mounts of an image's snapshots, and RUN steps executed in them with runc, without network.

A step's root is an overlayfs mount: the image's snapshot directories (from the store) as lower
layers and a fresh upper directory, so whatever the step changes lands in the upper directory
alone, whiteouts and opaque directories included, ready for `store.add_layer_from_dir`. Lower
directories are passed as short symlinks (`l/0`, `l/1`, …) relative to the mount's scratch
directory: mount options must fit in one page, and absolute snapshot paths would cap an image at
~35 layers (Docker's overlay2 does the same).

A RUN runs under runc in new pid, ipc, uts, mount and network namespaces. The network namespace is
runc's own fresh one: loopback only, so nothing a RUN does can reach another machine, or this
one's services. Mount points runc has to create in the root (`/proc`, `/dev`, `/etc/hosts`, …
on a FROM scratch image) are removed from the upper directory afterwards, as BuildKit does, so
they do not end up in the layer.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import os
import resource
import secrets
import shutil
import stat
import tempfile
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Protocol

import orjson

from kybernetes.build.copier import User
from kybernetes.build.errors import BuildError

OCI_VERSION = "1.0.2"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
HOSTNAME = "kybernetes-build"
HOSTS = b"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
OUTPUT_TAIL = 64 * 1024
"""Bytes of a RUN's output kept for the error message of a failed step."""

# Docker's default capability set, which BuildKit gives RUN steps too.
CAPABILITIES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
)
MASKED_PATHS = (
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
    "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
)
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")
_MNT_DETACH = 2


class MountError(BuildError):
    """MountError: an overlay mount or unmount failed."""


class RuntimeFailure(BuildError):
    """RuntimeFailure: runc itself could not be started."""


@dataclass(frozen=True, slots=True)
class RunnerSettings:
    """RunnerSettings say which OCI runtime runs RUN steps and where it keeps its state."""

    runtime: str = "runc"
    """`runc`, `crun`, or a path to a runtime with runc's command line."""
    state_dir: Path = Path("/run/kybernetes/build")
    """The runtime's `--root`: state of build containers while they run."""


class Output(Protocol):
    """Output receives a RUN's output (stdout and stderr together) as it comes."""

    def __call__(self, data: bytes) -> None: ...


@dataclass(frozen=True, slots=True)
class Process:
    """Process is what a RUN step executes: argv, environment, working directory and user."""

    args: list[str]
    env: list[str]
    cwd: str = "/"
    user: User = field(default_factory=lambda: User(0, 0))


@dataclass(frozen=True, slots=True)
class Result:
    """Result is how a RUN ended: its exit code and the tail of its output."""

    exit_code: int
    output: bytes


# --- overlay ------------------------------------------------------------------------------------


class Overlay:
    """Overlay is an overlayfs mount below a scratch directory: `merged`, and `upper` when writable."""

    def __init__(self, scratch: Path, lowers: list[Path], *, writable: bool) -> None:
        self.scratch = scratch
        self.lowers = lowers
        self.writable = writable
        self.merged = scratch / "merged"
        self.upper = scratch / "upper"
        self.mounted = False

    async def mount(self) -> None:
        links = self.scratch / "l"
        links.mkdir()
        (self.scratch / "empty").mkdir()
        self.merged.mkdir()
        names = []
        for i, lower in enumerate(self.lowers):
            os.symlink(lower, links / str(i))
            names.append(f"l/{i}")
        # An empty bottom layer: overlayfs wants one lower layer at least, and two when there is no upper one.
        names.append("empty")
        if not self.writable and len(names) < 2:
            (self.scratch / "empty2").mkdir()
            names.append("empty2")
        options = [f"lowerdir={':'.join(names)}"]
        if self.writable:
            self.upper.mkdir()
            (self.scratch / "work").mkdir()
            # No metacopy or redirects: the upper directory must hold whole files and plain renames,
            # since it becomes a layer tar.
            options += ["upperdir=upper", "workdir=work", "index=off", "redirect_dir=off", "metacopy=off"]
        proc = await asyncio.create_subprocess_exec(
            "mount", "-t", "overlay", "overlay", "-o", ",".join(options), "merged",
            cwd=self.scratch, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await proc.communicate()
        if proc.returncode != 0:
            raise MountError(f"mounting the build's overlay: {' '.join(out.decode(errors='replace').split())}")
        self.mounted = True

    def unmount(self) -> None:
        if not self.mounted:
            return
        if _umount2(str(self.merged), 0) != 0:
            err = ctypes.get_errno()
            if err == errno.EBUSY:
                _umount2(str(self.merged), _MNT_DETACH)
            elif err not in (errno.EINVAL, errno.ENOENT):
                raise MountError(f"unmounting {self.merged}: {os.strerror(err)}")
        self.mounted = False


_libc = ctypes.CDLL(None, use_errno=True)


def _umount2(path: str, flags: int) -> int:
    return int(_libc.umount2(path.encode(), flags))


@contextlib.asynccontextmanager
async def overlay(scratch_root: Path, lowers: list[Path], *, writable: bool = True) -> AsyncIterator[Overlay]:
    """overlay mounts `lowers` (top-most first) with a fresh upper directory; unmounted and removed on exit."""
    if os.geteuid() != 0:
        raise MountError("building needs root: steps run on overlay mounts")
    scratch_root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=scratch_root, prefix="step-"))
    ov = Overlay(scratch, lowers, writable=writable)
    try:
        await ov.mount()
        yield ov
    finally:
        try:
            ov.unmount()
        finally:
            if not ov.mounted:  # never remove files through a mount that is still there
                await asyncio.to_thread(shutil.rmtree, scratch, True)


def upper_is_empty(ov: Overlay) -> bool:
    try:
        return not any(os.scandir(ov.upper))
    except FileNotFoundError:
        return True


# --- RUN ----------------------------------------------------------------------------------------


def spec(rootfs: Path, process: Process, *, hosts: Path, container_id: str) -> dict[str, Any]:
    """spec is the OCI runtime config of a RUN: its own namespaces (network: loopback only) over `rootfs`."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    nofile = 1048576 if hard == resource.RLIM_INFINITY else min(1048576, hard)
    caps = list(CAPABILITIES)
    return {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": False,
            "user": {"uid": process.user.uid, "gid": process.user.gid, "additionalGids": list(process.user.additional_gids)},
            "args": process.args,
            "env": process.env,
            "cwd": process.cwd or "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": nofile, "soft": nofile}],
            "noNewPrivileges": False,
        },
        "root": {"path": str(rootfs), "readonly": False},
        "hostname": HOSTNAME,
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/etc/hosts", "type": "bind", "source": str(hosts), "options": ["rbind", "rprivate", "ro"]},
        ],
        "linux": {
            # No path: runc makes a new network namespace with only a loopback interface.
            "namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "network"}],
            "cgroupsPath": f"/{container_id}",
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "maskedPaths": list(MASKED_PATHS),
            "readonlyPaths": list(READONLY_PATHS),
        },
    }


async def run(ov: Overlay, process: Process, *, settings: RunnerSettings, output: Output) -> Result:
    """run executes `process` in the mounted overlay under runc and waits for it; it never raises for a non-zero exit."""
    container_id = f"kyb-build-{secrets.token_hex(6)}"
    hosts = ov.scratch / "hosts"
    hosts.write_bytes(HOSTS)
    bundle = ov.scratch / "bundle"
    bundle.mkdir()
    doc = spec(ov.merged, process, hosts=hosts, container_id=container_id)
    stubs = _missing(ov.merged, [m["destination"] for m in doc["mounts"]] + [process.cwd or "/"])
    (bundle / "config.json").write_bytes(orjson.dumps(doc))
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    argv = [settings.runtime, "--root", str(settings.state_dir), "run", "--bundle", str(bundle), container_id]
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C at the terminal is ours to handle, not runc's
        )
    except OSError as exc:
        raise RuntimeFailure(f"cannot start {settings.runtime}: {exc.strerror or exc}") from exc
    tail: deque[bytes] = deque()
    kept = 0
    try:
        assert proc.stdout is not None
        while chunk := await proc.stdout.read(65536):
            output(chunk)
            tail.append(chunk)
            kept += len(chunk)
            while kept - len(tail[0]) >= OUTPUT_TAIL:
                kept -= len(tail.popleft())
        code = await proc.wait()
    finally:
        if proc.returncode is None:
            await _quiet(settings.runtime, "--root", str(settings.state_dir), "kill", container_id, "KILL")
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        if (settings.state_dir / container_id).exists():
            await _quiet(settings.runtime, "--root", str(settings.state_dir), "delete", "--force", container_id)
    ov.unmount()
    _remove_stubs(ov.upper, stubs, ov.lowers)
    data = b"".join(tail)
    return Result(code, data[-OUTPUT_TAIL:])


async def _quiet(*argv: str) -> None:
    with contextlib.suppress(OSError):
        proc = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.DEVNULL,
                                                    stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        await proc.wait()


def _missing(root: Path, destinations: list[str]) -> list[str]:
    """_missing lists the paths (and their parents) among `destinations` that do not exist in the root yet."""
    out: list[str] = []
    for dest in destinations:
        parts = [p for p in dest.split("/") if p]
        for i in range(1, len(parts) + 1):
            rel = "/".join(parts[:i])
            if rel not in out and not os.path.lexists(root / rel):
                out.append(rel)
    return out


def _remove_stubs(upper: Path, stubs: list[str], lowers: list[Path]) -> None:
    """_remove_stubs deletes what runc created as mount points, deepest first, if the step left it empty.

    Creating a stub copied its parent directory up into the upper directory; such a parent that is
    empty and has the attributes it has below is no change of the step, and goes too.
    """
    for rel in sorted(stubs, key=lambda r: r.count("/"), reverse=True):
        path = upper / rel
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        if stat.S_ISDIR(st.st_mode):
            with contextlib.suppress(OSError):
                os.rmdir(path)  # only when empty
        elif stat.S_ISREG(st.st_mode) and st.st_size == 0:
            path.unlink()
    parents = {"/".join(rel.split("/")[:i]) for rel in stubs for i in range(1, rel.count("/") + 1)} - set(stubs)
    for rel in sorted(parents, key=lambda r: r.count("/"), reverse=True):
        path = upper / rel
        try:
            st = os.lstat(path)
            if not stat.S_ISDIR(st.st_mode) or any(os.scandir(path)) or _opaque(path):
                continue
        except FileNotFoundError:
            continue
        below = next((os.lstat(lower / rel) for lower in lowers if os.path.lexists(lower / rel)), None)
        if below is not None and (below.st_mode, below.st_uid, below.st_gid) == (st.st_mode, st.st_uid, st.st_gid):
            os.rmdir(path)


def _opaque(path: Path) -> bool:
    try:
        return os.getxattr(path, "trusted.overlay.opaque", follow_symlinks=False) == b"y"
    except OSError:
        return False
