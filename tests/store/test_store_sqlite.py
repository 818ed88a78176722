"""SQLite-only guarantees: kill -9 durability, restart, auto-compaction, file mode, shared files."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from kybernetes.store import Event, EventType, SQLiteBackend

REPO = Path(__file__).resolve().parents[2]

# Sixteen coroutines create keys as fast as they can and print each key once its create
# has been acknowledged; the test kills the process in the middle of that stream.
WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from kybernetes.store.sqlite import SQLiteBackend

    async def main() -> None:
        store = SQLiteBackend(Path(sys.argv[1]))
        await store.start()

        async def writer(w: int) -> None:
            i = 0
            while True:
                key = f"/registry/k/{w}-{i}"
                kv = await store.create(key, key.encode() * 10)
                sys.stdout.write(f"{key} {kv.mod_revision}\\n")
                sys.stdout.flush()
                i += 1

        await asyncio.gather(*(writer(w) for w in range(16)))

    asyncio.run(main())
    """
)


def row_count(path: Path) -> int:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return con.execute("SELECT COUNT(*) FROM kv").fetchone()[0]
    finally:
        con.close()


def test_kill_9_loses_no_acknowledged_write(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    acknowledged: dict[str, int] = {}
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        while len(acknowledged) < 1500 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                pytest.fail(f"writer died early: {proc.stderr.read() if proc.stderr else ''}")
            key, revision = line.split()
            acknowledged[key] = int(revision)
        # Writes are still in flight here: the kill lands mid-stream.
        os.kill(proc.pid, signal.SIGKILL)
        rest, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    for line in rest.splitlines(keepends=True):
        if line.endswith("\n"):  # a torn last line was never fully acknowledged
            key, revision = line.split()
            acknowledged[key] = int(revision)
    assert len(acknowledged) >= 1500

    async def verify() -> None:
        store = SQLiteBackend(db)
        await store.start()
        try:
            _, items = await store.list("/registry/k/")
            found = {kv.key: kv for kv in items}
            missing = [key for key in acknowledged if key not in found]
            assert not missing, f"{len(missing)} acknowledged writes lost, e.g. {missing[:3]}"
            for key, revision in acknowledged.items():
                assert found[key].mod_revision == revision
                assert found[key].value == key.encode() * 10
            top = await store.current_revision()
            assert top >= max(acknowledged.values())
            assert (await store.create("/registry/after", b"")).mod_revision == top + 1
        finally:
            await store.close()

    asyncio.run(verify())


@pytest.mark.asyncio
async def test_restart_serves_same_data_and_continues_revisions(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    store = SQLiteBackend(db)
    await store.start()
    a = await store.create("/registry/a", b"1")
    a = await store.update("/registry/a", b"2", expected_revision=a.mod_revision)
    await store.create("/registry/b", b"b")
    last = await store.delete("/registry/b")
    before = await store.list("/registry/")
    await store.close()

    store = SQLiteBackend(db)
    await store.start()
    try:
        assert await store.list("/registry/") == before
        assert await store.get("/registry/a") == a
        assert await store.current_revision() == last.mod_revision
        c = await store.create("/registry/c", b"")
        assert c.mod_revision == last.mod_revision + 1
        # History from before the restart is still watchable.
        stream = store.watch("/registry/", 0)
        events: list[Event] = await asyncio.wait_for(anext(stream), 5)
        assert [e.kv.mod_revision for e in events] == list(range(1, c.mod_revision + 1))
        assert events[3].type is EventType.DELETE
        await stream.aclose()  # type: ignore[attr-defined]
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_auto_compaction_bounds_row_count(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    store = SQLiteBackend(db, compact_interval=0.05, compact_retention=50)
    await store.start()
    try:
        latest = {}
        for i in range(10):
            latest[f"/registry/k/{i}"] = await store.create(f"/registry/k/{i}", b"0")
        for round_ in range(100):
            updates = [
                store.update(key, str(round_).encode(), expected_revision=kv.mod_revision)
                for key, kv in latest.items()
            ]
            for kv in await asyncio.gather(*updates):
                latest[kv.key] = kv
        # 1,010 rows were written; compaction keeps one per key plus the last 50 revisions.
        deadline = time.monotonic() + 10
        while row_count(db) > 60 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert row_count(db) <= 60
        _, items = await store.list("/registry/k/")
        assert items == sorted(latest.values(), key=lambda kv: kv.key)
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_files_are_private(tmp_path: Path) -> None:
    db = tmp_path / "nested" / "dirs" / "state.db"
    store = SQLiteBackend(db)
    await store.start()
    try:
        await store.create("/registry/secrets/default/s", b"hunter2")
        for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            assert path.exists(), path
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_watch_catches_up_across_chunks(tmp_path: Path) -> None:
    store = SQLiteBackend(tmp_path / "state.db")
    await store.start()
    try:
        await asyncio.gather(*(store.create(f"/registry/k/{i:05d}", b"x") for i in range(2500)))
        stream = store.watch("/registry/k/", 0)
        seen: list[int] = []
        while len(seen) < 2500:
            batch = await asyncio.wait_for(anext(stream), 5)
            seen.extend(e.kv.mod_revision for e in batch)
        assert seen == list(range(1, 2501))
        await stream.aclose()  # type: ignore[attr-defined]
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_writes_from_another_instance_reach_watchers(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    watcher_side = SQLiteBackend(db, poll_interval=0.05)
    writer_side = SQLiteBackend(db, poll_interval=0.05)
    await watcher_side.start()
    await writer_side.start()
    try:
        mine = await watcher_side.create("/registry/a", b"local")
        stream = watcher_side.watch("/registry/", mine.mod_revision)
        theirs = await writer_side.create("/registry/b", b"remote")
        # Interleave so the local writer sees a revision gap and must fetch the missed row.
        more = await watcher_side.create("/registry/c", b"local again")
        seen: list[Event] = []
        while len(seen) < 2:
            seen.extend(await asyncio.wait_for(anext(stream), 5))
        assert [e.kv for e in seen] == [theirs, more]
        assert await watcher_side.get("/registry/b") == theirs
        await stream.aclose()  # type: ignore[attr-defined]
    finally:
        await writer_side.close()
        await watcher_side.close()
