"""Copier: COPY, ADD and WORKDIR's file work inside a mounted image root, never following a link out of it.

Every destination is resolved with `resolve_in_root`, so a symlink in the image (`/usr/local ->
/opt`, or `/x -> /etc` pointing at the host's /etc when read from outside) leads where it would
inside the container. The build owns the mount while it copies, so nothing changes the tree
between resolving a path and writing it.

Ownership as Docker: `--chown` wins; else context files become 0:0 and files from another stage
or image keep theirs. Directories COPY creates (the destination and its missing parents) get the
`--chown` owner too. A local tar archive given to ADD (plain, gzip, bzip2, xz or zstd, told by its
content, not its name) is unpacked into the destination.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import lzma
import os
import posixpath
import shutil
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

from kybernetes.build.context import BuildContext, Entry, resolve_in_root
from kybernetes.build.errors import BuildError

_CHUNK = 1 << 20
_ROOT = (0, 0)


class CopyError(BuildError):
    """CopyError: a COPY/ADD/WORKDIR that cannot be carried out as asked."""


@dataclass(frozen=True, slots=True)
class User:
    """User is a process identity resolved against an image's /etc/passwd and /etc/group."""

    uid: int
    gid: int
    additional_gids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Source:
    """Source is one COPY/ADD source, resolved: where its files live and its path there."""

    tree: BuildContext
    """The context, or the root of another stage or image (with no ignore rules)."""
    rel: str
    """Resolved path below the tree's root; `""` for the root itself."""
    name: str = ""
    """The name a file source gets in a destination directory: the last element as written (before links)."""
    keep_owner: bool = False
    """Keep the files' uid/gid (another stage or image) instead of 0:0 (the context)."""


# --- users ------------------------------------------------------------------------------------


def _read_db(root: Path, name: str) -> list[list[str]]:
    rel = resolve_in_root(root, f"/etc/{name}")
    try:
        text = (root / rel).read_text(errors="replace")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError):
        return []
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def lookup_user(root: Path, spec: str) -> User:
    """lookup_user resolves a USER value (`name`, `uid`, `name:group`, `uid:gid`) as runc's user package does."""
    user, _, group = (spec or "").partition(":")
    passwd = [e for e in _read_db(root, "passwd") if len(e) >= 4]
    groups = [e for e in _read_db(root, "group") if len(e) >= 3]
    username = ""
    if not user:
        uid, gid = 0, 0
        username = next((e[0] for e in passwd if e[2] == "0"), "")
    elif user.isdigit():
        uid = int(user)
        entry = next((e for e in passwd if e[2] == user), None)
        gid = int(entry[3]) if entry and entry[3].isdigit() else 0
        username = entry[0] if entry else ""
    else:
        entry = next((e for e in passwd if e[0] == user), None)
        if entry is None or not entry[2].isdigit() or not entry[3].isdigit():
            raise CopyError(f"unable to find user {user}: no matching entries in passwd file")
        uid, gid, username = int(entry[2]), int(entry[3]), user
    if group:
        gid = _group_id(groups, group)
    extra = [gid]
    if username:
        for g in groups:
            members = g[3].split(",") if len(g) > 3 else []
            if username in members and g[2].isdigit():
                extra.append(int(g[2]))
    return User(uid, gid, tuple(dict.fromkeys(extra)))


def parse_chown(root: Path, spec: str) -> tuple[int, int]:
    """parse_chown reads `--chown=user[:group]`; without a group, the group id is the user id (Docker's rule)."""
    user, _, group = spec.partition(":")
    if not user:
        raise CopyError(f"invalid --chown value {spec!r}")
    if user.isdigit():
        uid = int(user)
    else:
        entry = next((e for e in _read_db(root, "passwd") if len(e) >= 4 and e[0] == user), None)
        if entry is None or not entry[2].isdigit():
            raise CopyError(f"unable to convert uid/gid chown string to host mapping: can't find uid for user {user}")
        uid = int(entry[2])
    if not group:
        return uid, uid
    groups = [e for e in _read_db(root, "group") if len(e) >= 3]
    return uid, _group_id(groups, group)


def _group_id(groups: list[list[str]], group: str) -> int:
    if group.isdigit():
        return int(group)
    found = next((g for g in groups if g[0] == group and g[2].isdigit()), None)
    if found is None:
        raise CopyError(f"unable to find group {group}: no matching entries in group file")
    return int(found[2])


def parse_chmod(spec: str) -> int:
    """parse_chmod reads `--chmod` (octal only, as the Dockerfile reference documents it)."""
    try:
        mode = int(spec, 8)
    except ValueError:
        raise CopyError(f"invalid --chmod value {spec!r}: expected an octal mode like 755") from None
    if not 0 <= mode <= 0o7777:
        raise CopyError(f"invalid --chmod value {spec!r}")
    return mode


# --- writing into a root ----------------------------------------------------------------------


class Writer:
    """Writer places files below `root` (a mounted image); it remembers directory times to set last."""

    def __init__(self, root: Path, *, owner: tuple[int, int] | None = None, chmod: int | None = None) -> None:
        self.root = Path(root)
        self.owner = owner
        self.chmod = chmod
        self._dir_times: list[tuple[Path, int]] = []

    def resolve(self, path: str) -> str:
        """resolve follows every symlink of `path` except the last element, inside the root."""
        parent, name = posixpath.split(posixpath.normpath("/" + path))
        base = resolve_in_root(self.root, parent)
        return f"{base}/{name}".lstrip("/") if name else base

    def mkdir_all(self, path: str, owner: tuple[int, int] | None = None) -> str:
        """mkdir_all creates `path` and its missing parents (0755, `owner` or 0:0); returns it resolved."""
        rel = resolve_in_root(self.root, path)
        current = self.root
        for part in [p for p in rel.split("/") if p]:
            current = current / part
            try:
                st = os.lstat(current)
            except FileNotFoundError:
                os.mkdir(current, 0o755)
                os.lchown(current, *(owner or _ROOT))
                os.chmod(current, 0o755)
                continue
            if not stat.S_ISDIR(st.st_mode):
                raise CopyError(f"cannot create directory /{rel}: /{current.relative_to(self.root)} is not a directory")
        return rel

    def is_dir(self, path: str) -> bool:
        rel = resolve_in_root(self.root, path)
        return (self.root / rel).is_dir() if rel else True

    def copy_source(self, source: Source, dest: str, *, dest_is_dir: bool, extract: bool) -> None:
        """copy_source copies one source to `dest` with COPY's rules (ADD's with `extract`)."""
        entries = source.tree.walk(source.rel)
        top = next(entries)
        if stat.S_ISDIR(top.st.st_mode):
            base = self.mkdir_all(dest, self.owner)
            for entry in entries:
                self._place(entry, f"{base}/{entry.rel}", source.keep_owner)
            return
        if extract and stat.S_ISREG(top.st.st_mode) and (opened := open_archive(top.path)) is not None:
            base = self.mkdir_all(dest, self.owner)
            with opened as tar:
                self.extract(tar, base)
            return
        if dest_is_dir or self.is_dir(dest):
            base = self.mkdir_all(dest, self.owner)
            target = f"{base}/{source.name or posixpath.basename(source.rel)}"
        else:
            parent = posixpath.dirname(posixpath.normpath("/" + dest))
            self.mkdir_all(parent, self.owner)
            target = self.resolve(dest)
        self._place(top, target, source.keep_owner)

    def finish(self) -> None:
        """finish sets directory times last: writing their children changed them."""
        for path, mtime in reversed(self._dir_times):
            with contextlib.suppress(FileNotFoundError):
                os.utime(path, ns=(mtime, mtime), follow_symlinks=False)
        self._dir_times.clear()

    def _place(self, entry: Entry, target_rel: str, keep_owner: bool) -> None:
        st = entry.st
        owner = self.owner or ((st.st_uid, st.st_gid) if keep_owner else _ROOT)
        mode = self.chmod if self.chmod is not None else stat.S_IMODE(st.st_mode)
        if stat.S_ISDIR(st.st_mode):
            # A symlink to a directory stays (tar's --keep-directory-symlink): the copy goes through it.
            self._make_dir(self.root / resolve_in_root(self.root, target_rel), owner, mode, st.st_mtime_ns)
            return
        target = self.root / self.resolve(target_rel)
        self._clear(target)
        if stat.S_ISREG(st.st_mode):
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as out, open(entry.path, "rb") as src:
                shutil.copyfileobj(src, out, _CHUNK)
        elif stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(entry.path), target)
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            os.mknod(target, stat.S_IFMT(st.st_mode) | 0o600, st.st_rdev)
        elif stat.S_ISFIFO(st.st_mode):
            os.mkfifo(target, 0o600)
        else:
            return  # sockets are not copied, as Docker
        self._attributes(target, owner, mode, st.st_mtime_ns, symlink=stat.S_ISLNK(st.st_mode))

    def _make_dir(self, target: Path, owner: tuple[int, int], mode: int, mtime_ns: int) -> None:
        try:
            st = os.lstat(target)
        except FileNotFoundError:
            st = None
        if st is not None and not stat.S_ISDIR(st.st_mode):
            os.unlink(target)
            st = None
        if st is None:
            os.mkdir(target, 0o700)
        os.lchown(target, *owner)
        os.chmod(target, mode)
        self._dir_times.append((target, mtime_ns))

    def _clear(self, target: Path) -> None:
        try:
            st = os.lstat(target)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            raise CopyError(f"cannot replace directory /{target.relative_to(self.root)} with a non-directory")
        os.unlink(target)

    @staticmethod
    def _attributes(target: Path, owner: tuple[int, int], mode: int, mtime_ns: int, *, symlink: bool) -> None:
        os.lchown(target, *owner)
        if not symlink:
            os.chmod(target, mode)  # after chown, which clears set-id bits
        os.utime(target, ns=(mtime_ns, mtime_ns), follow_symlinks=False)

    # --- archives ---

    def extract(self, tar: tarfile.TarFile, base: str) -> None:
        """extract unpacks an archive below `base` (resolved), as `tar -x` would inside the image."""
        for member in tar:
            name = _member_path(member.name)
            if not name:
                continue
            target_rel = f"{base}/{name}".lstrip("/")
            parent = posixpath.dirname(target_rel)
            self.mkdir_all(parent, self.owner)
            target = self.root / self.resolve(target_rel)
            owner = self.owner or (member.uid, member.gid)
            mode = member.mode & 0o7777
            if member.isdir():
                self._make_dir(self.root / resolve_in_root(self.root, target_rel), owner, mode, int(member.mtime) * 1_000_000_000)
                continue
            self._clear(target)
            if member.isreg():
                src = tar.extractfile(member)
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
                with os.fdopen(fd, "wb") as out:
                    if src is not None:
                        shutil.copyfileobj(src, out, _CHUNK)
            elif member.issym():
                os.symlink(member.linkname, target)
            elif member.islnk():
                link = _member_path(member.linkname)
                source = self.root / self.resolve(f"{base}/{link}".lstrip("/"))
                if not link or not os.path.lexists(source):
                    raise CopyError(f"archive entry {member.name}: hard link to missing {member.linkname!r}")
                os.link(source, target, follow_symlinks=False)
                continue
            elif member.ischr() or member.isblk():
                kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
                os.mknod(target, kind | 0o600, os.makedev(member.devmajor, member.devminor))
            elif member.isfifo():
                os.mkfifo(target, 0o600)
            else:
                continue
            self._attributes(target, owner, mode, int(member.mtime) * 1_000_000_000, symlink=member.issym())


def _member_path(name: str) -> str:
    parts: list[str] = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise CopyError(f"archive entry {name!r} leaves the destination directory")
            parts.pop()
            continue
        parts.append(part)
    return "/".join(parts)


_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"), (b"\x28\xb5\x2f\xfd", "zstd"),
)


def compression_of(path: Path) -> str:
    """compression_of tells a file's compression from its first bytes (`` for none)."""
    with open(path, "rb") as f:
        head = f.read(6)
    return next((kind for magic, kind in _MAGIC if head.startswith(magic)), "")


def _open_stream(path: Path, kind: str) -> BinaryIO:
    if kind == "gzip":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if kind == "bzip2":
        return bz2.open(path, "rb")  # type: ignore[return-value]
    if kind == "xz":
        return lzma.open(path, "rb")  # type: ignore[return-value]
    if kind == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(open(path, "rb"), closefd=True)  # type: ignore[return-value]
    return open(path, "rb")


def open_archive(path: Path) -> contextlib.AbstractContextManager[tarfile.TarFile] | None:
    """open_archive gives a context manager reading `path` as a tar stream, or None if it is not a tar archive."""
    kind = compression_of(path)
    try:
        with _open_stream(path, kind) as stream:
            block = stream.read(tarfile.BLOCKSIZE)
    except (OSError, EOFError, lzma.LZMAError, ValueError):
        return None
    except Exception as exc:  # zstandard's own error type
        if type(exc).__module__.startswith("zstandard"):
            return None
        raise
    if len(block) < tarfile.BLOCKSIZE:
        return None
    try:
        tarfile.TarInfo.frombuf(block, tarfile.ENCODING, "surrogateescape")
    except tarfile.HeaderError:
        return None

    @contextlib.contextmanager
    def opened() -> Iterator[tarfile.TarFile]:
        with _open_stream(path, kind) as stream, tarfile.open(fileobj=stream, mode="r|") as tar:  # type: ignore[call-overload]
            yield tar

    return opened()
