"""Throughput sanity check for the SQLite store: raw durable commits/s versus group-committed creates/s.

Run: python bench/store_bench.py [--writers 32] [--seconds 2] [--dir /some/disk]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    # Allow `python bench/store_bench.py` from a checkout without installing.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kybernetes.store.sqlite import SQLiteBackend

_VALUE = b'{"kind":"ConfigMap","data":{"k":"' + b"x" * 200 + b'"}}'


@dataclass(frozen=True, slots=True)
class StoreBenchResult:
    raw_commits_per_s: float
    backend_creates_per_s: float
    writers: int

    @property
    def ratio(self) -> float:
        return self.backend_creates_per_s / self.raw_commits_per_s


def measure_raw_commit_rate(path: Path, *, seconds: float = 2.0) -> float:
    """The baseline: one small INSERT + COMMIT per transaction, WAL + synchronous=FULL, one thread."""
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode = WAL")
        con.execute("PRAGMA synchronous = FULL")
        con.execute(
            "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, value BLOB)"
        )
        commits = 0
        deadline = time.perf_counter() + seconds
        started = time.perf_counter()
        while time.perf_counter() < deadline:
            con.execute("BEGIN")
            con.execute("INSERT INTO t (name, value) VALUES (?, ?)", (f"/k/{commits}", _VALUE))
            con.execute("COMMIT")
            commits += 1
        return commits / (time.perf_counter() - started)
    finally:
        con.close()


async def measure_commit_rate(path: Path, *, writers: int = 32, seconds: float = 2.0) -> float:
    """Durable SQLiteBackend.create calls per second with `writers` concurrent coroutines."""
    store = SQLiteBackend(path)
    await store.start()
    try:
        done = 0
        deadline = time.perf_counter() + seconds

        async def writer(w: int) -> None:
            nonlocal done
            i = 0
            while time.perf_counter() < deadline:
                await store.create(f"/registry/configmaps/bench/w{w}-{i}", _VALUE)
                i += 1
                done += 1

        started = time.perf_counter()
        async with asyncio.TaskGroup() as tg:
            for w in range(writers):
                tg.create_task(writer(w))
        return done / (time.perf_counter() - started)
    finally:
        await store.close()


async def run(directory: Path, *, writers: int = 32, seconds: float = 2.0) -> StoreBenchResult:
    raw = await asyncio.to_thread(measure_raw_commit_rate, directory / "raw.db", seconds=seconds)
    backend = await measure_commit_rate(directory / "state.db", writers=writers, seconds=seconds)
    return StoreBenchResult(raw, backend, writers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--writers", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument(
        "--dir", type=Path, default=None, help="where to put the databases (default: a temp dir)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        result = asyncio.run(run(Path(tmp), writers=args.writers, seconds=args.seconds))
    print(f"raw durable commits/s (1 thread, 1 insert per commit): {result.raw_commits_per_s:10.0f}")
    print(
        f"SQLiteBackend.create/s ({result.writers} concurrent writers):  {result.backend_creates_per_s:10.0f}"
    )
    print(f"ratio backend/raw: {result.ratio:.2f}x")


if __name__ == "__main__":
    main()
