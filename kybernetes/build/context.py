"""Build context: the directory COPY and ADD read from, filtered by `.dockerignore` as Docker's patternmatcher does.

`.dockerignore` (or `<Dockerfile>.dockerignore` next to the Dockerfile, which wins, as in BuildKit)
holds one pattern a line: `#` starts a comment line, blanks are skipped, a leading `!` re-includes,
patterns are cleaned and made relative (`/foo` is `foo`). A pattern matches a path or any of its
parent directories; the last matching pattern decides. `*` and `?` stay within one path element,
`**` spans any number of them, `[a-z]` and `\\x` as in Go's filepath.Match.

`digest` hashes what a COPY would take (paths, types, modes, contents, link targets): the layer
cache key of a COPY or ADD, so that any change of a copied file, and only that, misses the cache.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import stat
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Iterator

from kybernetes.build.errors import ContextError
from kybernetes.build.shell import glob_regex

_CHUNK = 1 << 20


class _Kind(Enum):
    EXACT = "exact"
    PREFIX = "prefix"
    SUFFIX = "suffix"
    REGEXP = "regexp"


@dataclass(slots=True)
class Pattern:
    """Pattern is one compiled .dockerignore line."""

    text: str
    """The cleaned pattern, without its `!`."""
    exclusion: bool
    kind: _Kind = _Kind.EXACT
    regex: re.Pattern[str] | None = None

    @classmethod
    def compile(cls, raw: str) -> Pattern:
        text = raw.strip()
        exclusion = text.startswith("!")
        if exclusion:
            text = text[1:].strip()
            if not text:
                raise ContextError('illegal exclusion pattern: "!"')
        text = _clean(text)
        pattern = cls(text, exclusion)
        pattern._build()
        return pattern

    def _build(self) -> None:
        """_build converts the pattern as patternmatcher's compile: a regex only when it needs one."""
        out = ["^"]
        kind = _Kind.EXACT
        p = self.text
        i = 0
        index = 0
        while i < len(p):
            ch = p[i]
            i += 1
            if ch == "*":
                if i < len(p) and p[i] == "*":
                    i += 1
                    if i < len(p) and p[i] == "/":
                        i += 1
                    if i >= len(p):
                        if kind == _Kind.EXACT:
                            kind = _Kind.PREFIX
                        else:
                            out.append(".*")
                            kind = _Kind.REGEXP
                    else:
                        out.append("(.*/)?")
                        kind = _Kind.REGEXP
                    if index == 0:
                        kind = _Kind.SUFFIX
                else:
                    out.append("[^/]*")
                    kind = _Kind.REGEXP
            elif ch == "?":
                out.append("[^/]")
                kind = _Kind.REGEXP
            elif ch in ".+()|{}$":
                out.append("\\" + ch)
            elif ch == "\\":
                if i < len(p):
                    out.append(re.escape(p[i]))
                    i += 1
                    kind = _Kind.REGEXP
                else:
                    out.append("\\\\")
            elif ch in "[]":
                out.append(ch)
                kind = _Kind.REGEXP
            else:
                out.append(ch)  # as Go's: other characters go into the regexp as they are
            index += 1
        self.kind = kind
        if kind == _Kind.REGEXP:
            try:
                self.regex = re.compile("".join(out) + "$", re.DOTALL)
            except re.error as exc:
                raise ContextError(f"bad .dockerignore pattern {self.text!r}: {exc}") from None

    def match(self, path: str) -> bool:
        if self.kind == _Kind.EXACT:
            return path == self.text
        if self.kind == _Kind.PREFIX:
            return path.startswith(self.text[:-2])
        if self.kind == _Kind.SUFFIX:
            suffix = self.text[2:]
            if path.endswith(suffix):
                return True
            return suffix.startswith("/") and path == suffix[1:]
        assert self.regex is not None
        return self.regex.match(path) is not None


@dataclass(slots=True)
class PatternMatcher:
    """PatternMatcher decides whether a context path is excluded, as Docker's MatchesOrParentMatches."""

    patterns: list[Pattern] = field(default_factory=list)

    @classmethod
    def from_lines(cls, lines: list[str]) -> PatternMatcher:
        return cls([Pattern.compile(line) for line in lines if line.strip()])

    @property
    def has_exclusions(self) -> bool:
        return any(p.exclusion for p in self.patterns)

    def excluded(self, path: str) -> bool:
        """excluded tells whether `path` (relative, `/`-separated) is ignored."""
        if not self.patterns:
            return False
        matched = False
        parent = posixpath.dirname(path)
        parents = parent.split("/") if parent else []
        for pattern in self.patterns:
            # An inclusion cannot change an already excluded path, nor an exclusion an included one.
            if pattern.exclusion != matched:
                continue
            hit = pattern.match(path)
            if not hit:
                for i in range(len(parents)):
                    if pattern.match("/".join(parents[: i + 1])):
                        hit = True
                        break
            if hit:
                matched = not pattern.exclusion
        return matched


def read_ignore_file(text: str) -> list[str]:
    """read_ignore_file turns a .dockerignore into cleaned patterns, as Docker's ignorefile.ReadAll."""
    out = []
    for n, raw in enumerate(text.splitlines()):
        if n == 0:
            raw = raw.removeprefix("\ufeff")
        if raw.startswith("#"):
            continue
        pattern = raw.strip()
        if not pattern:
            continue
        invert = pattern.startswith("!")
        if invert:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = _clean(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]
        out.append(("!" if invert else "") + pattern)
    return out


def _clean(path: str) -> str:
    """_clean is Go's filepath.Clean for `/` paths."""
    if not path:
        return "."
    cleaned = posixpath.normpath(path)
    # normpath keeps a leading "//"; Go's Clean does not.
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


@dataclass(frozen=True, slots=True)
class Entry:
    """Entry is one file or directory a COPY takes: where it is, and where below the destination it goes."""

    path: Path
    """On the host."""
    rel: str
    """Relative to the copied source; `""` for the source itself."""
    st: os.stat_result


class BuildContext:
    """BuildContext is the context directory and its ignore rules; paths in it never resolve outside it."""

    def __init__(self, root: Path, matcher: PatternMatcher | None = None) -> None:
        self.root = Path(root)
        self.matcher = matcher or PatternMatcher()

    @classmethod
    def load(cls, root: Path, dockerfile: Path | None = None) -> BuildContext:
        """load opens the context directory and its .dockerignore (`<Dockerfile>.dockerignore` first)."""
        root = Path(root)
        if not root.is_dir():
            raise ContextError(f"build context {root}: not a directory")
        candidates = [dockerfile.parent / f"{dockerfile.name}.dockerignore"] if dockerfile is not None else []
        candidates.append(root / ".dockerignore")
        for candidate in candidates:
            try:
                text = candidate.read_text(errors="replace")
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise ContextError(f"reading {candidate}: {exc.strerror}") from exc
            return cls(root, PatternMatcher.from_lines(read_ignore_file(text)))
        return cls(root)

    def excluded(self, rel: str) -> bool:
        return bool(rel) and self.matcher.excluded(rel)

    def resolve(self, path: str, *, follow: bool = True) -> str:
        """resolve turns a source path into a clean context-relative path, symlinks resolved inside the context.

        `..` cannot climb out: as BuildKit, the context root is its own parent.
        """
        return resolve_in_root(self.root, path, follow_last=follow)

    def glob(self, pattern: str) -> list[str]:
        """glob lists context-relative paths matching a Go-style wildcard pattern, skipping ignored ones."""
        parts = [p for p in _clean("/" + pattern).split("/") if p]
        found = [""]
        for depth, part in enumerate(parts):
            regex = re.compile(glob_regex(part), re.DOTALL) if has_wildcards(part) else None
            nxt = []
            for base in found:
                directory = self.root / base if base else self.root
                if regex is None:
                    candidate = f"{base}/{part}" if base else part
                    if os.path.lexists(self.root / candidate):
                        nxt.append(candidate)
                    continue
                try:
                    names = sorted(os.listdir(directory))
                except (NotADirectoryError, FileNotFoundError):
                    continue
                for name in names:
                    if regex.fullmatch(name):
                        nxt.append(f"{base}/{name}" if base else name)
            found = nxt
        return [p for p in found if not self.excluded(p)]

    def walk(self, rel: str) -> Iterator[Entry]:
        """walk yields the source `rel` and, for a directory, everything below it that is not ignored.

        A directory is yielded before its contents; an ignored directory is still walked when
        an exclusion (`!`) pattern could re-include something below it.
        """
        top = self.root / rel if rel else self.root
        st = os.lstat(top)
        yield Entry(top, "", st)
        if not stat.S_ISDIR(st.st_mode):
            return
        yield from self._walk_dir(top, rel, "")

    def _walk_dir(self, directory: Path, ctx_rel: str, src_rel: str) -> Iterator[Entry]:
        for name in sorted(os.listdir(directory)):
            path = directory / name
            ctx_path = f"{ctx_rel}/{name}" if ctx_rel else name
            entry_rel = f"{src_rel}/{name}" if src_rel else name
            st = os.lstat(path)
            ignored = self.excluded(ctx_path)
            if stat.S_ISDIR(st.st_mode):
                if ignored and not self.matcher.has_exclusions:
                    continue
                children = list(self._walk_dir(path, ctx_path, entry_rel))
                if not ignored or children:
                    yield Entry(path, entry_rel, st)
                    yield from children
            elif not ignored:
                yield Entry(path, entry_rel, st)


def has_wildcards(path: str) -> bool:
    return any(c in path for c in "*?[")


def resolve_in_root(root: Path, path: str, *, follow_last: bool = True) -> str:
    """resolve_in_root resolves `path` as if `root` were `/`: symlinks (absolute or relative) stay inside root.

    Returns the resolved path relative to root (`""` for root itself). The last element is followed
    only with `follow_last`. Missing elements are kept as they are (the path need not exist).
    """
    pending = [p for p in path.split("/") if p]
    done: list[str] = []
    links = 0
    while pending:
        part = pending.pop(0)
        if part == ".":
            continue
        if part == "..":
            if done:
                done.pop()
            continue
        candidate = root.joinpath(*done, part)
        if not pending and not follow_last:
            done.append(part)
            break
        try:
            st = os.lstat(candidate)
        except (FileNotFoundError, NotADirectoryError):
            done.append(part)
            continue
        if not stat.S_ISLNK(st.st_mode):
            done.append(part)
            continue
        links += 1
        if links > 255:
            raise ContextError(f"{path}: too many levels of symbolic links")
        target = os.readlink(candidate)
        if target.startswith("/"):
            done = []
        pending = [p for p in target.split("/") if p] + pending
    return "/".join(done)


def digest_entries(entries: list[tuple[str, Entry]]) -> str:
    """digest_entries hashes (destination path, entry) pairs: types, modes, sizes, contents and link targets."""
    h = hashlib.sha256()
    for dest, e in entries:
        mode = e.st.st_mode
        h.update(f"{dest}\0{stat.S_IFMT(mode):o}\0{stat.S_IMODE(mode):o}\0".encode())
        if stat.S_ISREG(mode):
            h.update(file_digest(e.path).encode())
        elif stat.S_ISLNK(mode):
            h.update(os.readlink(e.path).encode("utf-8", "surrogateescape"))
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            h.update(f"{e.st.st_rdev}".encode())
        h.update(b"\n")
    return "sha256:" + h.hexdigest()


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()
