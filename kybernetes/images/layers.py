"""Layers: a layer tar (plain, gzip or zstd) applied to a snapshot directory in overlayfs form, and a directory back to a tar.

A layer tar marks deletions the OCI way: an empty `.wh.<name>` deletes `<name>` from the layers below, and
`.wh..wh..opq` in a directory hides everything the layers below have in it. Overlayfs marks the same things
differently, and those are what we write so that a stack of snapshot directories works as lowerdirs as-is:

    tar entry              snapshot directory
    dir/.wh.name       →   dir/name as a character device 0/0 (an overlay whiteout)
    dir/.wh..wh..opq   →   dir with xattr trusted.overlay.opaque=y

Per the OCI spec a whiteout only hides what lies below: a `name` present in the same layer wins over
its `.wh.name`, whatever their order in the tar. Directories the tar omits but its files need are created
with the attributes of the same directory in the layers below, so they do not mask its mode or owner.
Applying needs root (whiteout devices and trusted.* xattrs), as overlayfs itself does.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import os
import shutil
import stat
import subprocess
import tarfile
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator

from kybernetes.images.errors import CorruptLayerError, StorageError

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
_XATTR_PAX = "SCHILY.xattr."
_COPY_BUFFER = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class HashingReader:
    """HashingReader passes reads through while hashing and counting what went by."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.sha256 = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        self.sha256.update(data)
        self.size += len(data)
        return data

    def drain(self) -> None:
        """drain reads to the end: tar readers stop at the end-of-archive blocks, the digest covers all."""
        while self.read(_COPY_BUFFER):
            pass

    @property
    def digest(self) -> str:
        return "sha256:" + self.sha256.hexdigest()


def compression_of(path: Path) -> str:
    """compression_of tells `gzip`, `zstd` or `` (plain tar) from a file's first bytes."""
    with open(path, "rb") as f:
        head = f.read(4)
    if head.startswith(_GZIP_MAGIC):
        return "gzip"
    if head.startswith(_ZSTD_MAGIC):
        return "zstd"
    return ""


@contextmanager
def open_uncompressed(path: Path) -> Iterator[BinaryIO]:
    """open_uncompressed yields a reader of the layer's tar stream, whatever its compression."""
    kind = compression_of(path)
    with open(path, "rb") as raw:
        if kind == "gzip":
            with gzip.GzipFile(fileobj=raw, mode="rb") as gz:
                yield gz  # type: ignore[misc]
        elif kind == "zstd":
            with _zstd_reader(raw) as zr:
                yield zr
        else:
            yield raw


@contextmanager
def _zstd_reader(raw: BinaryIO) -> Iterator[BinaryIO]:
    try:
        import zstandard
    except ImportError:
        zstandard = None  # type: ignore[assignment]
    if zstandard is not None:
        with zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True) as reader:
            yield reader  # type: ignore[misc]
        return
    # Without the Python binding, Debian's zstd tool does the same job in a pipe.
    zstd = shutil.which("zstd")
    if zstd is None:
        raise CorruptLayerError("a zstd-compressed layer needs the zstandard package or the zstd tool")
    proc = subprocess.Popen([zstd, "-dcq"], stdin=raw, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        yield proc.stdout  # type: ignore[misc]
    finally:
        if proc.stdout is not None:
            proc.stdout.close()
        if proc.wait() != 0:
            raise CorruptLayerError("zstd could not decompress the layer")


def diff_id_of(path: Path) -> str:
    """diff_id_of is the sha256 of the layer's uncompressed tar stream."""
    try:
        with open_uncompressed(path) as stream:
            reader = HashingReader(stream)
            reader.drain()
    except (OSError, EOFError, ValueError) as exc:
        raise CorruptLayerError(f"layer {path.name}: does not decompress: {exc}") from exc
    return reader.digest


def apply(blob: Path, dest: Path, *, lowers: list[Path], diff_id: str) -> None:
    """apply untars the layer `blob` into the empty directory `dest`, in overlayfs form.

    `lowers` are the snapshot directories beneath, top-most first, consulted for hard links into lower
    layers and for the attributes of implied directories. Raises CorruptLayerError when the blob does
    not decompress or untar, or its uncompressed digest is not `diff_id`; the caller discards `dest`.
    """
    try:
        with open_uncompressed(blob) as stream:
            reader = HashingReader(stream)
            with tarfile.open(fileobj=reader, mode="r|") as tar:  # type: ignore[call-overload]
                _Applier(dest, lowers).run(tar)
            reader.drain()
    except (tarfile.TarError, EOFError, ValueError, gzip.BadGzipFile) as exc:
        raise CorruptLayerError(f"layer {diff_id}: {exc}") from exc
    except OSError as exc:
        if exc.errno is not None and exc.errno in _STORAGE_ERRNOS:
            raise StorageError(f"unpacking layer {diff_id}: {exc.strerror}") from exc
        # zlib and zstd report corrupt data as OSError without an errno.
        raise CorruptLayerError(f"layer {diff_id}: {exc}") from exc
    except Exception as exc:
        if type(exc).__module__.startswith("zstandard"):
            raise CorruptLayerError(f"layer {diff_id}: {exc}") from exc
        raise
    if reader.digest != diff_id:
        raise CorruptLayerError(f"layer content is {reader.digest}, the image config says {diff_id}")


_STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.EIO}


class _Applier:
    """_Applier writes one tar's members below `root`; it refuses paths that leave it."""

    def __init__(self, root: Path, lowers: list[Path]) -> None:
        self.root = str(root)
        self.lowers = [str(p) for p in lowers]
        self.dirs: list[tuple[str, tarfile.TarInfo]] = []
        self.as_root = os.geteuid() == 0

    def run(self, tar: tarfile.TarFile) -> None:
        for member in tar:
            self.member(tar, member)
        # Directory times last: writing their children changed them.
        for path, member in reversed(self.dirs):
            os.utime(path, (member.mtime, member.mtime), follow_symlinks=False)

    def member(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        rel = _clean(member.name)
        if not rel:
            return  # "./": the root's attributes are the mount's business
        parent, _, base = rel.rpartition("/")
        if base == OPAQUE_MARKER:
            self._ensure_dirs(parent)
            os.setxattr(self._abs(parent), OPAQUE_XATTR, b"y", follow_symlinks=False)
            return
        if base.startswith(WHITEOUT_PREFIX):
            self._ensure_dirs(parent)
            target = self._abs(f"{parent}/{base[len(WHITEOUT_PREFIX):]}" if parent else base[len(WHITEOUT_PREFIX):])
            if not os.path.lexists(target):  # the same layer's own entry wins over its whiteout
                os.mknod(target, stat.S_IFCHR | 0o000, os.makedev(0, 0))
            return
        self._ensure_dirs(parent)
        path = self._abs(rel)
        existing = _lstat(path)
        if existing is not None and not (member.isdir() and stat.S_ISDIR(existing.st_mode)):
            if stat.S_ISDIR(existing.st_mode):
                shutil.rmtree(path)
            else:
                os.unlink(path)
        if member.isdir():
            if existing is None or not stat.S_ISDIR(existing.st_mode):
                os.mkdir(path, 0o700)
            self.dirs.append((path, member))
        elif member.isreg():
            src = tar.extractfile(member)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as out:
                if src is not None:
                    shutil.copyfileobj(src, out, _COPY_BUFFER)
        elif member.issym():
            os.symlink(member.linkname, path)
        elif member.islnk():
            self._hardlink(member, path)
            return  # a hard link shares its target's inode and attributes
        elif member.ischr() or member.isblk():
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            os.mknod(path, kind | (member.mode & 0o7777), os.makedev(member.devmajor, member.devminor))
        elif member.isfifo():
            os.mkfifo(path, member.mode & 0o7777)
        else:
            raise CorruptLayerError(f"{member.name}: unsupported tar entry type {member.type!r}")
        self._attributes(path, member)

    def _attributes(self, path: str, member: tarfile.TarInfo) -> None:
        if self.as_root:
            os.lchown(path, member.uid, member.gid)
        for key, value in member.pax_headers.items():
            if key.startswith(_XATTR_PAX):
                os.setxattr(path, key[len(_XATTR_PAX):], value.encode("utf-8", "surrogateescape"), follow_symlinks=False)
        if not member.issym():
            # After chown, which clears set-id bits.
            os.chmod(path, member.mode & 0o7777)
            if not member.isdir():
                os.utime(path, (member.mtime, member.mtime))
        else:
            os.utime(path, (member.mtime, member.mtime), follow_symlinks=False)

    def _hardlink(self, member: tarfile.TarInfo, path: str) -> None:
        target_rel = _clean(member.linkname)
        if not target_rel:
            raise CorruptLayerError(f"{member.name}: hard link to {member.linkname!r}")
        target = self._abs(target_rel)
        if os.path.lexists(target):
            self._ensure_dirs(target_rel.rpartition("/")[0])  # refuses a symlink on the way
            os.link(target, path, follow_symlinks=False)
            return
        # A link to a file of a lower layer: overlayfs cannot share inodes across layers, so copy it.
        for lower in self.lowers:
            candidate = os.path.join(lower, target_rel)
            if os.path.lexists(candidate) and not os.path.islink(candidate):
                shutil.copy2(candidate, path, follow_symlinks=False)
                st = os.lstat(candidate)
                if self.as_root:
                    os.lchown(path, st.st_uid, st.st_gid)
                return
        raise CorruptLayerError(f"{member.name}: hard link to missing {member.linkname!r}")

    def _abs(self, rel: str) -> str:
        return os.path.join(self.root, rel) if rel else self.root

    def _ensure_dirs(self, rel: str) -> None:
        """_ensure_dirs creates the missing directories of `rel`, refusing to pass through a symlink."""
        if not rel:
            return
        current = self.root
        walked = ""
        for part in rel.split("/"):
            current = os.path.join(current, part)
            walked = f"{walked}/{part}" if walked else part
            st = _lstat(current)
            if st is None:
                self._implied_dir(current, walked)
            elif stat.S_ISLNK(st.st_mode):
                raise CorruptLayerError(f"{rel}: path goes through a symlink inside the layer")
            elif not stat.S_ISDIR(st.st_mode):
                # A whiteout or file of this layer replaced by a directory of the same layer.
                os.unlink(current)
                self._implied_dir(current, walked)

    def _implied_dir(self, path: str, rel: str) -> None:
        os.mkdir(path, 0o755)
        for lower in self.lowers:
            st = _lstat(os.path.join(lower, rel))
            if st is not None and stat.S_ISDIR(st.st_mode):
                if self.as_root:
                    os.lchown(path, st.st_uid, st.st_gid)
                os.chmod(path, stat.S_IMODE(st.st_mode))
                return


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def _clean(name: str) -> str:
    """_clean turns a tar member name into a relative path inside the layer, or raises for `..` escapes."""
    parts: list[str] = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            raise CorruptLayerError(f"{name}: path leaves the layer")
        parts.append(part)
    return "/".join(parts)


def disk_usage(root: Path) -> int:
    """disk_usage counts allocated bytes below `root`, each hard-linked inode once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            st = os.lstat(os.path.join(dirpath, name))
            key = (st.st_dev, st.st_ino)
            if key in seen:
                continue
            seen.add(key)
            total += st.st_blocks * 512
    return total


def write_tar(src: Path, out: BinaryIO) -> None:
    """write_tar writes the directory `src` as a layer tar, turning overlayfs whiteouts back into OCI ones.

    This is how a builder makes a layer from a container's upper directory: a 0/0 character device becomes
    `.wh.<name>`, an opaque directory gets a `.wh..wh..opq` entry. Entries are sorted so equal trees give
    equal tars (and equal diff_ids).
    """
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
        for dirpath, dirnames, filenames in os.walk(src):
            dirnames.sort()
            rel_dir = os.path.relpath(dirpath, src)
            for name in sorted(dirnames + filenames):
                path = os.path.join(dirpath, name)
                arcname = name if rel_dir == "." else f"{rel_dir}/{name}"
                st = os.lstat(path)
                if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                    marker = tarfile.TarInfo(f"{rel_dir}/{WHITEOUT_PREFIX}{name}" if rel_dir != "." else WHITEOUT_PREFIX + name)
                    marker.mtime = int(st.st_mtime)
                    tar.addfile(marker)
                    continue
                info = tar.gettarinfo(path, arcname)
                info.uname = info.gname = ""
                info.pax_headers = _xattrs_of(path)
                if info.isreg():
                    with open(path, "rb") as f:
                        tar.addfile(info, f)
                else:
                    tar.addfile(info)
                if stat.S_ISDIR(st.st_mode) and _is_opaque(path):
                    marker = tarfile.TarInfo(f"{arcname}/{OPAQUE_MARKER}")
                    marker.mtime = int(st.st_mtime)
                    tar.addfile(marker)


def _is_opaque(path: str) -> bool:
    try:
        return os.getxattr(path, OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


def _xattrs_of(path: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return headers
    for key in names:
        # Overlay's own bookkeeping is not part of the layer's content.
        if key.startswith("trusted.overlay.") or not (key.startswith("security.") or key.startswith("user.")):
            continue
        value = os.getxattr(path, key, follow_symlinks=False)
        headers[_XATTR_PAX + key] = value.decode("utf-8", "surrogateescape")
    return headers
