"""cgroups: finding the node's cgroup hierarchies, and removing a pod's cgroup from all of them.

runc creates a container's cgroup (and any missing parents) in every hierarchy and removes the
container's own on `runc delete`; the pod-level parent it created stays, so the runtime removes it
when the pod goes. Works on cgroup v1, hybrid (v1 plus /sys/fs/cgroup/unified) and pure v2.
"""

from __future__ import annotations

import asyncio
import errno
import os
from pathlib import Path


def hierarchy_roots() -> list[Path]:
    """hierarchy_roots lists the mount points of every cgroup (v1) and cgroup2 filesystem."""
    roots: list[Path] = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fstype = right.split(" ", 1)[0]
            if fstype in ("cgroup", "cgroup2"):
                roots.append(Path(left.split(" ")[4]))
    return roots


def memory_swap_supported() -> bool:
    """memory_swap_supported tells whether memory+swap can be limited (v1 memsw accounting, or v2)."""
    if Path("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists():
        return True
    return Path("/sys/fs/cgroup/cgroup.controllers").exists() and Path("/sys/fs/cgroup/memory.swap.max").exists()


def existing_dirs(path: str) -> list[Path]:
    """existing_dirs is `path` (relative to each hierarchy's root) wherever it exists."""
    rel = path.strip("/")
    return [root / rel for root in hierarchy_roots() if rel and (root / rel).is_dir()]


async def remove(path: str, *, attempts: int = 50) -> None:
    """remove deletes the cgroup `path` and its empty children from every hierarchy.

    A cgroup whose last process has just died can stay busy for a moment, so EBUSY is retried.
    """
    for d in existing_dirs(path):
        for _ in range(attempts):
            try:
                # A thread: a cgroup holds dozens of control files to skip, per hierarchy.
                await asyncio.to_thread(_rmdir_tree, d)
                break
            except OSError as exc:
                if exc.errno != errno.EBUSY:
                    raise
                await asyncio.sleep(0.02)
        else:
            raise OSError(errno.EBUSY, f"cgroup {d} still busy")


def _rmdir_tree(d: Path) -> None:
    # Only directories are removed: cgroup control files vanish with their directory.
    try:
        # scandir's entry types come from readdir: no stat for each control file.
        with os.scandir(d) as entries:
            children = [Path(e.path) for e in entries if e.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return
    for child in children:
        _rmdir_tree(child)
    try:
        os.rmdir(d)
    except FileNotFoundError:
        pass
