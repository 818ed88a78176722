"""logs: container log files in the CRI format, written with size-based rotation and read back.

One record per line: `<RFC3339Nano UTC> <stdout|stderr> <F|P> <content>`. `F` closes a line;
`P` is a piece of a longer line (over 16 KiB, or cut off by the stream's end), as containerd writes.
Rotation renames `0.log` to `0.log.1`, `0.log.1` to `0.log.2`, … and keeps `max_files` files in all.

This module is imported by the shim process, so it imports nothing beyond `os` and `time` at the top.
"""

from __future__ import annotations

import os
import time

# The names below are for annotations only: importing typing, pathlib and dataclasses would cost the
# shim more start-up time than the rest of its work before `runc run`.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import AsyncIterator, Callable, Iterable, Iterator

MAX_LINE = 16 * 1024
DEFAULT_MAX_SIZE = 10 * 1024 * 1024
DEFAULT_MAX_FILES = 5

STDOUT = "stdout"
STDERR = "stderr"


def format_timestamp(ns: int) -> str:
    """format_timestamp renders UTC nanoseconds as RFC 3339 with nine fraction digits."""
    seconds, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{frac:09d}Z"


def parse_timestamp(text: str) -> int:
    """parse_timestamp reads an RFC 3339 time (any fraction length, `Z` or an offset) into UTC nanoseconds."""
    import calendar

    if text.endswith("Z"):
        base, offset = text[:-1], 0
    else:
        base, sign, tz = text[:-6], text[-6], text[-5:]
        if sign not in "+-" or tz[2] != ":":
            raise ValueError(f"not an RFC 3339 time: {text!r}")
        offset = (int(tz[:2]) * 3600 + int(tz[3:]) * 60) * (1 if sign == "+" else -1)
    whole, _, frac = base.partition(".")
    seconds = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) - offset
    return seconds * 1_000_000_000 + int((frac + "000000000")[:9] or 0)


class LogWriter:
    """LogWriter appends CRI-format records for any number of streams to one file, rotating it by size."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_size: int = DEFAULT_MAX_SIZE,
        max_files: int = DEFAULT_MAX_FILES,
        max_line: int = MAX_LINE,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.path = path
        self._name = os.fspath(path)
        self.max_size = max_size
        self.max_files = max(1, max_files)
        self.max_line = max_line
        self._clock = clock
        self._pending: dict[str, bytes] = {}
        self._fd = -1
        self._size = 0
        self.reopen()

    def reopen(self) -> None:
        """Close and reopen the file by name (after an outside rotation, or our own)."""
        if self._fd >= 0:
            os.close(self._fd)
        os.makedirs(os.path.dirname(self._name) or ".", exist_ok=True)
        self._fd = os.open(self._name, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
        self._size = os.fstat(self._fd).st_size

    def write(self, stream: str, data: bytes) -> None:
        """Record `data` read from `stream`; a trailing piece without newline waits for more."""
        buf = self._pending.pop(stream, b"") + data
        out: list[bytes] = []
        start = 0
        while True:
            nl = buf.find(b"\n", start)
            if nl < 0:
                break
            self._split(out, stream, buf[start:nl])
            start = nl + 1
        rest = buf[start:]
        while len(rest) > self.max_line:
            out.append(self._record(stream, "P", rest[: self.max_line]))
            rest = rest[self.max_line :]
        if rest:
            self._pending[stream] = rest
        self._emit(out)

    def close_stream(self, stream: str) -> None:
        """The stream ended: a last piece without newline is written as partial, as containerd does."""
        rest = self._pending.pop(stream, b"")
        if rest:
            self._emit([self._record(stream, "P", rest)])

    def close(self) -> None:
        for stream in list(self._pending):
            self.close_stream(stream)
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _split(self, out: list[bytes], stream: str, line: bytes) -> None:
        while len(line) > self.max_line:
            out.append(self._record(stream, "P", line[: self.max_line]))
            line = line[self.max_line :]
        out.append(self._record(stream, "F", line))

    def _record(self, stream: str, tag: str, content: bytes) -> bytes:
        return f"{format_timestamp(self._clock())} {stream} {tag} ".encode() + content + b"\n"

    def _emit(self, records: list[bytes]) -> None:
        for record in records:
            if self._size and self._size + len(record) > self.max_size:
                self._rotate()
            os.write(self._fd, record)
            self._size += len(record)

    def _rotate(self) -> None:
        os.close(self._fd)
        self._fd = -1
        name = self._name
        # Shift name.1 → name.2 … ; the oldest falls off the end (a rename over it replaces it).
        for i in range(self.max_files - 2, 0, -1):
            if os.path.exists(f"{name}.{i}"):
                os.replace(f"{name}.{i}", f"{name}.{i + 1}")
        if self.max_files > 1:
            os.replace(name, f"{name}.1")
        else:
            os.unlink(name)
        self.reopen()


def rotated_path(path: Path, n: int) -> Path:
    return path.with_name(f"{path.name}.{n}")


def log_files(path: Path) -> list[Path]:
    """log_files lists a log's rotated files oldest first, then the current one."""
    rotated: list[tuple[int, Path]] = []
    for p in path.parent.glob(f"{path.name}.*"):
        suffix = p.name[len(path.name) + 1 :]
        if suffix.isdigit():
            rotated.append((int(suffix), p))
    return [p for _, p in sorted(rotated, reverse=True)] + [path]


def previous_log_path(path: Path) -> Path:
    """previous_log_path names the log of the container's previous attempt (`1.log` → `0.log`)."""
    attempt = int(path.name.removesuffix(".log"))
    if attempt < 1:
        raise FileNotFoundError(f"{path} is the first attempt; there is no previous container")
    return path.with_name(f"{attempt - 1}.log")


class LogRecord:
    """LogRecord is one parsed line of a CRI log file."""

    __slots__ = ("timestamp", "stream", "partial", "content")

    def __init__(self, timestamp: str, stream: str, partial: bool, content: bytes) -> None:
        self.timestamp = timestamp
        self.stream = stream
        self.partial = partial
        self.content = content

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LogRecord) and (self.timestamp, self.stream, self.partial, self.content) == (
            other.timestamp, other.stream, other.partial, other.content)

    def __repr__(self) -> str:
        return f"LogRecord({self.timestamp!r}, {self.stream!r}, partial={self.partial}, content={self.content!r})"

    @property
    def timestamp_ns(self) -> int:
        return parse_timestamp(self.timestamp)

    def render(self, *, timestamps: bool = False) -> bytes:
        """The bytes a reader shows: content, newline unless partial, optionally prefixed by the time."""
        prefix = f"{self.timestamp} ".encode() if timestamps else b""
        return prefix + self.content + (b"" if self.partial else b"\n")


def parse_record(line: bytes) -> LogRecord | None:
    """parse_record reads one line (without its newline); None for a malformed line."""
    parts = line.split(b" ", 3)
    if len(parts) < 3 or parts[2] not in (b"F", b"P"):
        return None
    content = parts[3] if len(parts) == 4 else b""
    return LogRecord(parts[0].decode(), parts[1].decode(), parts[2] == b"P", content)


def _records_in(data: bytes) -> Iterator[LogRecord]:
    for line in data.split(b"\n"):
        if line:
            record = parse_record(line)
            if record is not None:
                yield record


def _logical_lines(records: Iterable[LogRecord]) -> list[list[LogRecord]]:
    lines: list[list[LogRecord]] = []
    current: list[LogRecord] = []
    for record in records:
        current.append(record)
        if not record.partial:
            lines.append(current)
            current = []
    if current:
        lines.append(current)
    return lines


def read_records(path: Path, *, tail: int | None = None, since_ns: int | None = None,
                 current_size: int | None = None) -> list[LogRecord]:
    """read_records returns the log's records across rotations, limited to the last `tail` lines.

    With `current_size`, only that many bytes of the current file are read (a follower goes on from there).
    """
    records: list[LogRecord] = []
    for file in log_files(path):
        try:
            data = file.read_bytes()
        except FileNotFoundError:
            continue
        if current_size is not None and file == path:
            data = data[:current_size]
        records.extend(_records_in(data))
    if since_ns is not None:
        records = [r for r in records if r.timestamp_ns >= since_ns]
    if tail is not None:
        lines = _logical_lines(records)
        records = [r for line in lines[max(0, len(lines) - tail) :] for r in line] if tail > 0 else []
    return records


async def follow_records(
    path: Path,
    *,
    tail: int | None = None,
    since_ns: int | None = None,
    follow: bool = False,
    is_running: Callable[[], bool] = lambda: False,
    poll_interval: float = 0.1,
) -> AsyncIterator[LogRecord]:
    """follow_records yields the existing records, then (with `follow`) new ones until the writer is gone.

    Following survives rotation: when the file is renamed away, the rest of the old file is read
    before switching to the new one. It ends once `is_running()` is false and the file is drained.
    """
    # Imported here: the shim imports this module and has no use for asyncio.
    import asyncio

    fd = -1
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        if not follow:
            return
    start = os.fstat(fd).st_size if fd >= 0 else 0
    # The snapshot covers rotated files plus the current file up to `start`; following reads on from there.
    for record in read_records(path, tail=tail, since_ns=since_ns, current_size=start if follow else None):
        yield record
    if not follow:
        if fd >= 0:
            os.close(fd)
        return
    buf = b""
    if fd >= 0:
        os.lseek(fd, start, os.SEEK_SET)
    try:
        while True:
            running = is_running()
            chunk = os.read(fd, 1 << 16) if fd >= 0 else b""
            if chunk:
                buf += chunk
                complete, _, buf = buf.rpartition(b"\n")
                for record in _records_in(complete):
                    if since_ns is None or record.timestamp_ns >= since_ns:
                        yield record
                continue
            try:
                current = os.stat(path)
            except FileNotFoundError:
                current = None
            if current is not None and (fd < 0 or os.fstat(fd).st_ino != current.st_ino):
                # Rotated: the old file is drained (read returned nothing), move to the new one.
                if fd >= 0:
                    os.close(fd)
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                buf = b""
                continue
            if not running:
                return
            await asyncio.sleep(poll_interval)
    finally:
        if fd >= 0:
            os.close(fd)
