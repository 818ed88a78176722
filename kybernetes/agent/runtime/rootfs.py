"""rootfs: each container's root filesystem as an overlay of the image's layers and a private upper dir.

Two containers of one image share the read-only lower layers and never see each other's writes:
each has its own `upper/` and `work/` under its container directory. Mounts are made with
mount(2) directly, since forking `mount` for every container costs more than the call itself.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
from pathlib import Path
from typing import Sequence

MNT_DETACH = 2
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
_libc.mount.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p)
_libc.umount2.argtypes = (ctypes.c_char_p, ctypes.c_int)


def mount(source: str, target: Path, fstype: str, *, flags: int = 0, data: str = "") -> None:
    """mount calls mount(2); errors raise OSError with the target in the message."""
    if _libc.mount(source.encode(), os.fsencode(target), fstype.encode(), flags, data.encode() or None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {fstype} on {target}: {os.strerror(err)}")


def unmount(target: Path) -> None:
    """unmount detaches whatever is mounted on `target`; nothing mounted there is not an error."""
    if _libc.umount2(os.fsencode(target), 0) == 0:
        return
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOENT):
        return
    if err == errno.EBUSY:
        # Still in use (an exec racing with removal): detach now, the kernel frees it when released.
        if _libc.umount2(os.fsencode(target), MNT_DETACH) == 0:
            return
        err = ctypes.get_errno()
    raise OSError(err, f"umount {target}: {os.strerror(err)}")


def is_mounted(target: Path) -> bool:
    """is_mounted tells whether `target` is a mount point, from /proc/self/mountinfo."""
    wanted = os.fsencode(os.path.realpath(target))
    with open("/proc/self/mountinfo", "rb") as f:
        for line in f:
            point = line.split(b" ", 5)[4]
            if _unescape(point) == wanted:
                return True
    return False


def _unescape(path: bytes) -> bytes:
    # mountinfo escapes space, tab, newline and backslash as \ooo.
    if b"\\" not in path:
        return path
    out = bytearray()
    i = 0
    while i < len(path):
        if path[i : i + 1] == b"\\" and path[i + 1 : i + 4].isdigit():
            out.append(int(path[i + 1 : i + 4], 8))
            i += 4
        else:
            out.append(path[i])
            i += 1
    return bytes(out)


def mount_overlay(lowerdirs: Sequence[Path], container_dir: Path) -> Path:
    """mount_overlay mounts `<container_dir>/rootfs` over the image layers (top-most first); returns it."""
    if not lowerdirs:
        raise ValueError("an overlay needs at least one image layer")
    upper, work, target = container_dir / "upper", container_dir / "work", container_dir / "rootfs"
    for d in (upper, work, target):
        d.mkdir(mode=0o755, exist_ok=True)
    for d in lowerdirs:
        if "," in str(d) or ":" in str(d):
            raise ValueError(f"layer path {d} contains ',' or ':', which overlayfs options cannot carry")
    data = f"lowerdir={':'.join(str(d) for d in lowerdirs)},upperdir={upper},workdir={work}"
    if len(data) >= 4096:
        # mount(2) takes at most one page of options.
        raise ValueError(f"overlay options for {len(lowerdirs)} layers exceed one page")
    if not is_mounted(target):
        mount("overlay", target, "overlay", data=data)
    return target


def unmount_overlay(container_dir: Path) -> None:
    """unmount_overlay unmounts the container's root filesystem, if mounted; idempotent."""
    unmount(container_dir / "rootfs")


def mount_tmpfs(target: Path, *, size: int, mode: int = 0o1777) -> None:
    """mount_tmpfs mounts a size-limited tmpfs on `target` (the pod's shared /dev/shm)."""
    target.mkdir(parents=True, exist_ok=True)
    if not is_mounted(target):
        mount("shm", target, "tmpfs", flags=MS_NOSUID | MS_NODEV | MS_NOEXEC, data=f"mode={mode:o},size={size}")
