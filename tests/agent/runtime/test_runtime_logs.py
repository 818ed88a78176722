"""CRI log files: the record format, partial lines, rotation, and reading back with tail, since and follow."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest

from kybernetes.agent.runtime.logs import (
    LogWriter,
    follow_records,
    format_timestamp,
    log_files,
    parse_record,
    parse_timestamp,
    previous_log_path,
    read_records,
)

T0 = 1_704_067_200_123_456_789  # 2024-01-01T00:00:00.123456789Z


def ticking_clock(start: int = T0, step: int = 1_000_000):
    counter = itertools.count()
    return lambda: start + next(counter) * step


def test_records_carry_timestamp_stream_and_full_or_partial_tag(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    w = LogWriter(path, clock=lambda: T0)
    w.write("stdout", b"hello\nwor")
    w.write("stderr", b"oops\n")
    w.write("stdout", b"ld\n")
    w.write("stdout", b"tail without newline")
    w.close()
    assert path.read_text().splitlines() == [
        "2024-01-01T00:00:00.123456789Z stdout F hello",
        "2024-01-01T00:00:00.123456789Z stderr F oops",
        "2024-01-01T00:00:00.123456789Z stdout F world",
        "2024-01-01T00:00:00.123456789Z stdout P tail without newline",
    ]


def test_long_lines_are_split_into_partial_records(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    w = LogWriter(path, max_line=10, clock=lambda: T0)
    w.write("stdout", b"x" * 25 + b"\n")
    w.close()
    tags = [line.split(" ")[2] for line in path.read_text().splitlines()]
    assert tags == ["P", "P", "F"]
    records = read_records(path)
    assert b"".join(r.render() for r in records) == b"x" * 25 + b"\n"


def test_timestamps_round_trip() -> None:
    assert format_timestamp(T0) == "2024-01-01T00:00:00.123456789Z"
    assert parse_timestamp("2024-01-01T00:00:00.123456789Z") == T0
    assert parse_timestamp("2024-01-01T00:00:00.1234567Z") == T0 - 89
    assert parse_timestamp("2024-01-01T02:00:00.123456789+02:00") == T0
    assert parse_record(b"bad line") is None


def test_rotation_keeps_max_files_and_reading_spans_them(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    w = LogWriter(path, max_size=200, max_files=3, clock=ticking_clock())
    for i in range(40):
        w.write("stdout", f"line {i:03d}\n".encode())
    w.close()
    files = log_files(path)
    assert [f.name for f in files] == ["0.log.2", "0.log.1", "0.log"]
    assert not (tmp_path / "0.log.3").exists()
    for f in files:
        assert f.stat().st_size <= 200
    contents = [r.content.decode() for r in read_records(path)]
    assert contents == sorted(contents) and contents[-1] == "line 039"
    assert [r.content for r in read_records(path, tail=2)] == [b"line 038", b"line 039"]


def test_outside_rotation_then_reopen_starts_a_new_file(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    w = LogWriter(path, clock=lambda: T0)
    w.write("stdout", b"before\n")
    path.rename(tmp_path / "0.log.1")
    w.reopen()
    w.write("stdout", b"after\n")
    w.close()
    assert [r.content for r in read_records(path)] == [b"before", b"after"]


def test_tail_counts_logical_lines_and_since_filters_by_time(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    w = LogWriter(path, max_line=4, clock=ticking_clock())
    w.write("stdout", b"one\ntwo-long\nthree\n")
    w.close()
    assert b"".join(r.render() for r in read_records(path, tail=1)) == b"three\n"
    assert b"".join(r.render() for r in read_records(path, tail=2)) == b"two-long\nthree\n"
    assert read_records(path, tail=0) == []
    since = read_records(path)[-1].timestamp_ns
    assert [r.content for r in read_records(path, since_ns=since)] == [b"e"]
    rendered = read_records(path, tail=1)[-1].render(timestamps=True)
    assert rendered.startswith(b"2024-01-01T00:00:00.") and rendered.endswith(b" e\n")


def test_previous_log_path_names_the_earlier_attempt(tmp_path: Path) -> None:
    assert previous_log_path(tmp_path / "3.log") == tmp_path / "2.log"
    with pytest.raises(FileNotFoundError):
        previous_log_path(tmp_path / "0.log")


async def test_follow_yields_new_lines_across_rotation_until_the_writer_is_gone(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    w = LogWriter(path, max_size=120, max_files=5, clock=ticking_clock())
    w.write("stdout", b"existing\n")
    running = True
    seen: list[bytes] = []

    async def reader() -> None:
        async for record in follow_records(path, follow=True, is_running=lambda: running, poll_interval=0.01):
            seen.append(record.content)

    task = asyncio.create_task(reader())
    await asyncio.sleep(0.05)
    for i in range(10):
        w.write("stdout", f"new {i}\n".encode())
        await asyncio.sleep(0.02)
    running = False
    await asyncio.wait_for(task, 2)
    w.close()
    assert seen == [b"existing"] + [f"new {i}".encode() for i in range(10)]
    assert len(log_files(path)) > 1
