"""Default backend: a kine-style append-only log in SQLite with group commit and durable acks.

Layout: every write appends one row to ``kv``; the row id is the revision, and the current
state of a key is its newest row (absent when that row is a tombstone). Writes from all
coroutines are queued to a single writer thread that commits them in batches, one fsync per
batch (WAL, synchronous=FULL); an awaitable resolves only after its batch committed, so a
kill -9 never loses an acknowledged write. Reads run on separate connections in a small
thread pool, which WAL lets proceed alongside the writer.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import enum
import logging
import os
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from kybernetes.store.backend import (
    Broadcaster,
    CompactedError,
    Event,
    EventBatch,
    EventType,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    RevisionMismatchError,
    StoreClosedError,
    StoreError,
    prefix_range,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,  -- the revision
    name            TEXT    NOT NULL,
    created         INTEGER NOT NULL,                   -- 1 when this row starts a key's life
    deleted         INTEGER NOT NULL,                   -- 1 for a tombstone
    create_revision INTEGER NOT NULL,
    prev_revision   INTEGER NOT NULL,                   -- the row this one supersedes, or 0
    value           BLOB    NOT NULL                    -- tombstones keep the last value
);
CREATE INDEX IF NOT EXISTS kv_name_id ON kv (name, id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
"""

# AUTOINCREMENT's high-water mark survives compaction deleting the newest rows, so it is the
# current revision even when the latest write was a compacted-away tombstone.
_SQL_REVISION = "SELECT seq FROM sqlite_sequence WHERE name = 'kv'"
_SQL_COMPACTED = "SELECT value FROM meta WHERE key = 'compact_revision'"
_SQL_SET_COMPACTED = (
    "INSERT INTO meta (key, value) VALUES ('compact_revision', ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)
_SQL_LATEST = "SELECT id, deleted, create_revision, value FROM kv WHERE name = ? ORDER BY id DESC LIMIT 1"
_SQL_INSERT = (
    "INSERT INTO kv (id, name, created, deleted, create_revision, prev_revision, value) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_SQL_LIST = """
SELECT kv.name, kv.value, kv.create_revision, kv.id FROM kv
JOIN (SELECT MAX(id) AS id FROM kv WHERE name >= ? {upper} GROUP BY name) AS latest
  ON latest.id = kv.id
WHERE kv.deleted = 0 ORDER BY kv.name
"""
# NOT INDEXED keeps the planner on the rowid range: a watch wants the tail of the log, and
# scanning the (name, id) index over a whole prefix would read the entire history.
_SQL_EVENTS = """
SELECT kv.id, kv.name, kv.created, kv.deleted, kv.create_revision, kv.prev_revision, kv.value,
       prev.value
FROM kv NOT INDEXED
LEFT JOIN kv AS prev ON prev.id = kv.prev_revision AND kv.created = 0 AND kv.deleted = 0
WHERE kv.id > ? AND kv.id <= ? AND kv.name >= ? {upper}
ORDER BY kv.id LIMIT ?
"""
# Compaction to R keeps the state as of R: a row goes when a row at or below R supersedes it
# (that row's prev_revision points at it), and tombstones at or below R go too. Walking the
# range in chunks keeps each transaction, and so each pause of the writer, short.
_SQL_COMPACT_SUPERSEDED = (
    "DELETE FROM kv WHERE id IN (SELECT prev_revision FROM kv WHERE id > ? AND id <= ? AND prev_revision > 0)"
)
_SQL_COMPACT_TOMBSTONES = "DELETE FROM kv WHERE id > ? AND id <= ? AND deleted = 1"

_MAX_BATCH = 1024
_EVENT_CHUNK = 1000
_COMPACT_CHUNK = 2_000
_MAX_REVISION = 2**63 - 1
_BUSY_TIMEOUT_S = 5.0


class _OpKind(enum.Enum):
    CREATE = 1
    UPDATE = 2
    DELETE = 3


@dataclass(slots=True, eq=False)
class _WriteOp:
    kind: _OpKind
    key: str
    value: bytes
    expected_revision: int | None
    future: asyncio.Future[KeyValue]


@dataclass(slots=True)
class _BatchOutcome:
    results: list[KeyValue | StoreError]
    events: list[Event]


def _upper_clause(column: str, upper: str | None) -> tuple[str, tuple[str, ...]]:
    if upper is None:
        return "", ()
    return f"AND {column} < ?", (upper,)


def _row_to_event(row: tuple[Any, ...]) -> Event:
    rev, name, created, deleted, create_rev, prev_rev, value, prev_value = row
    if deleted:
        return Event(
            EventType.DELETE,
            KeyValue(name, value, create_rev, rev),
            KeyValue(name, value, create_rev, prev_rev),
        )
    if created:
        return Event(EventType.PUT, KeyValue(name, value, rev, rev), None)
    # The superseded row outlives compaction as long as this row is above the compacted
    # revision, which every row a watcher can still ask for is.
    prev = KeyValue(name, prev_value, create_rev, prev_rev) if prev_value is not None else None
    return Event(EventType.PUT, KeyValue(name, value, create_rev, rev), prev)


def _connect(path: Path) -> sqlite3.Connection:
    # isolation_level=None: we issue BEGIN/COMMIT ourselves so that a read of several
    # statements is one snapshot and a write batch is one transaction.
    con = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=_BUSY_TIMEOUT_S)
    con.execute("PRAGMA synchronous = FULL")
    return con


def _read_int(con: sqlite3.Connection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0


class SQLiteBackend:
    """The default datastore: one SQLite file, safe against kill -9 at any moment."""

    def __init__(
        self,
        path: Path,
        *,
        compact_interval: float = 300.0,
        compact_retention: int = 1000,
        poll_interval: float = 1.0,
        readers: int = 2,
    ) -> None:
        self._path = Path(path)
        self._compact_interval = compact_interval
        self._compact_retention = compact_retention
        self._poll_interval = poll_interval
        self._readers = readers
        self._open = False
        self._closing = False
        self._writer_exec: ThreadPoolExecutor | None = None
        self._reader_exec: ThreadPoolExecutor | None = None
        self._wcon: sqlite3.Connection | None = None
        self._reader_local = threading.local()
        self._reader_cons: list[sqlite3.Connection] = []
        self._reader_cons_lock = threading.Lock()
        self._pending: list[_WriteOp] = []
        self._wakeup = asyncio.Event()
        self._broadcaster = Broadcaster()
        self._deliver_lock = asyncio.Lock()
        self._compact_lock = asyncio.Lock()
        self._notified = 0  # newest revision fanned out to in-process watchers
        self._compacted = 0
        self._supervisor: asyncio.Task[None] | None = None
        self._background: list[asyncio.Task[None]] = []

    @property
    def path(self) -> Path:
        return self._path

    # ---- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        if self._open:
            return
        self._prepare_file()
        self._writer_exec = ThreadPoolExecutor(1, thread_name_prefix="kyb-sqlite-write")
        self._reader_exec = ThreadPoolExecutor(
            self._readers, thread_name_prefix="kyb-sqlite-read", initializer=self._open_reader
        )
        loop = asyncio.get_running_loop()
        try:
            revision, compacted = await loop.run_in_executor(self._writer_exec, self._open_writer)
        except BaseException:
            await asyncio.to_thread(self._shutdown_threads)
            raise
        self._notified = revision
        self._compacted = compacted
        self._open = True
        self._closing = False
        started = asyncio.Event()
        self._supervisor = asyncio.create_task(self._supervise(started), name="sqlite-backend")
        await started.wait()

    def _prepare_file(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Create the file ourselves so it is never readable by others, not even briefly;
        # SQLite gives the -wal and -shm files the database file's mode.
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
        os.chmod(self._path, 0o600)

    def _open_writer(self) -> tuple[int, int]:
        con = _connect(self._path)
        con.execute("PRAGMA journal_mode = WAL")
        # Bounds the -wal file after checkpoints; without it the file keeps its peak size.
        con.execute("PRAGMA journal_size_limit = 67108864")
        con.executescript(_SCHEMA)
        self._wcon = con
        return _read_int(con, _SQL_REVISION), _read_int(con, _SQL_COMPACTED)

    def _open_reader(self) -> None:
        con = _connect(self._path)
        con.execute("PRAGMA query_only = 1")
        self._reader_local.con = con
        with self._reader_cons_lock:
            self._reader_cons.append(con)

    async def _supervise(self, started: asyncio.Event) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._write_loop(), name="sqlite-writer")
            self._background = [
                tg.create_task(self._poll_loop(), name="sqlite-poller"),
                tg.create_task(self._compact_loop(), name="sqlite-compactor"),
            ]
            started.set()
            # The TaskGroup returns once the writer has drained and close() has cancelled
            # the periodic tasks.

    async def close(self) -> None:
        if not self._open or self._closing:
            return
        self._closing = True
        # The writer drains what is already queued (those callers get real answers) and
        # exits; the periodic tasks are simply stopped.
        self._wakeup.set()
        for task in self._background:
            task.cancel()
        if self._supervisor is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        self._broadcaster.close()
        assert self._writer_exec is not None and self._reader_exec is not None
        await asyncio.to_thread(self._shutdown_threads)
        self._open = False

    def _shutdown_threads(self) -> None:
        assert self._writer_exec is not None and self._reader_exec is not None
        self._reader_exec.shutdown(wait=True)
        self._writer_exec.shutdown(wait=True)
        with self._reader_cons_lock:
            for con in self._reader_cons:
                con.close()
            self._reader_cons.clear()
        if self._wcon is not None:
            self._wcon.close()
            self._wcon = None

    def _check_open(self) -> None:
        if not self._open or self._closing:
            raise StoreClosedError()

    # ---- reads -----------------------------------------------------------------------

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        self._check_open()
        return await self._read_internal(fn, *args)

    async def _read_internal(self, fn: Callable[..., T], *args: Any) -> T:
        # No closing check: the writer still fans out its last batches while close() waits.
        assert self._reader_exec is not None
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reader_exec, self._in_reader, fn, args)

    def _in_reader(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        con: sqlite3.Connection = self._reader_local.con
        # One read transaction per call: every statement in fn sees the same snapshot.
        con.execute("BEGIN")
        try:
            return fn(con, *args)
        finally:
            con.execute("COMMIT")

    async def get(self, key: str) -> KeyValue | None:
        return await self._read(self._get_sync, key)

    @staticmethod
    def _get_sync(con: sqlite3.Connection, key: str) -> KeyValue | None:
        row = con.execute(_SQL_LATEST, (key,)).fetchone()
        if row is None or row[1]:
            return None
        return KeyValue(key, row[3], row[2], row[0])

    async def list(self, prefix: str) -> tuple[int, list[KeyValue]]:
        return await self._read(self._list_sync, prefix)

    @staticmethod
    def _list_sync(con: sqlite3.Connection, prefix: str) -> tuple[int, builtins.list[KeyValue]]:
        low, high = prefix_range(prefix)
        clause, extra = _upper_clause("name", high)
        revision = _read_int(con, _SQL_REVISION)
        rows = con.execute(_SQL_LIST.format(upper=clause), (low, *extra)).fetchall()
        return revision, [KeyValue(name, value, crev, rev) for name, value, crev, rev in rows]

    async def current_revision(self) -> int:
        return await self._read(_read_int, _SQL_REVISION)

    @staticmethod
    def _events_sync(
        con: sqlite3.Connection, prefix: str, after: int, upto: int, limit: int
    ) -> tuple[int, EventBatch]:
        low, high = prefix_range(prefix)
        clause, extra = _upper_clause("kv.name", high)
        compacted = _read_int(con, _SQL_COMPACTED)
        rows = con.execute(_SQL_EVENTS.format(upper=clause), (after, upto, low, *extra, limit)).fetchall()
        return compacted, [_row_to_event(row) for row in rows]

    # ---- writes ----------------------------------------------------------------------

    def _submit(
        self, kind: _OpKind, key: str, value: bytes, expected_revision: int | None
    ) -> asyncio.Future[KeyValue]:
        self._check_open()
        future: asyncio.Future[KeyValue] = asyncio.get_running_loop().create_future()
        self._pending.append(_WriteOp(kind, key, value, expected_revision, future))
        self._wakeup.set()
        return future

    async def create(self, key: str, value: bytes) -> KeyValue:
        return await self._submit(_OpKind.CREATE, key, value, None)

    async def update(self, key: str, value: bytes, *, expected_revision: int) -> KeyValue:
        return await self._submit(_OpKind.UPDATE, key, value, expected_revision)

    async def delete(self, key: str, *, expected_revision: int | None = None) -> KeyValue:
        return await self._submit(_OpKind.DELETE, key, b"", expected_revision)

    async def _write_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._pending:
                if self._closing:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            # Everything that queued up while the previous batch was committing goes into
            # this one: that is the whole group-commit mechanism.
            batch = [op for op in self._pending[:_MAX_BATCH] if not op.future.cancelled()]
            del self._pending[:_MAX_BATCH]
            if not batch:
                continue
            try:
                outcome = await loop.run_in_executor(self._writer_exec, self._commit_batch, batch)
            except Exception as exc:
                logger.error("sqlite write batch of %d failed: %r", len(batch), exc)
                for op in batch:
                    if not op.future.done():
                        op.future.set_exception(StoreError(f"write failed: {exc!r}"))
                continue
            for op, result in zip(batch, outcome.results, strict=True):
                if op.future.done():
                    continue
                if isinstance(result, StoreError):
                    op.future.set_exception(result)
                else:
                    op.future.set_result(result)
            if outcome.events:
                try:
                    await self._deliver(outcome.events, outcome.events[-1].revision)
                except Exception:
                    # The writes are durable; the poller retries the fan-out from the file.
                    logger.exception("sqlite watch fan-out failed")

    def _commit_batch(self, ops: builtins.list[_WriteOp]) -> _BatchOutcome:
        con = self._wcon
        assert con is not None
        cur = con.cursor()
        results: list[KeyValue | StoreError] = []
        events: list[Event] = []
        # IMMEDIATE takes the write lock up front, so the checks below cannot be invalidated
        # by another process between check and insert.
        cur.execute("BEGIN IMMEDIATE")
        try:
            revision = _read_int(con, _SQL_REVISION)
            for op in ops:
                # Checks run inside the batch transaction, in order, so an op sees the
                # effects of earlier ops in its batch; a failing op inserts nothing and
                # leaves the others alone.
                row = cur.execute(_SQL_LATEST, (op.key,)).fetchone()
                live = row is not None and not row[1]
                if op.kind is _OpKind.CREATE:
                    if live:
                        results.append(KeyExistsError(op.key))
                        continue
                    revision += 1
                    prev_row = row[0] if row is not None else 0
                    cur.execute(_SQL_INSERT, (revision, op.key, 1, 0, revision, prev_row, op.value))
                    kv = KeyValue(op.key, op.value, revision, revision)
                    events.append(Event(EventType.PUT, kv, None))
                    results.append(kv)
                    continue
                if not live:
                    results.append(KeyNotFoundError(op.key))
                    continue
                current = KeyValue(op.key, row[3], row[2], row[0])
                if op.expected_revision is not None and op.expected_revision != current.mod_revision:
                    results.append(RevisionMismatchError(op.key, op.expected_revision, current))
                    continue
                revision += 1
                if op.kind is _OpKind.UPDATE:
                    cur.execute(
                        _SQL_INSERT,
                        (revision, op.key, 0, 0, current.create_revision, current.mod_revision, op.value),
                    )
                    kv = KeyValue(op.key, op.value, current.create_revision, revision)
                    events.append(Event(EventType.PUT, kv, current))
                else:
                    cur.execute(
                        _SQL_INSERT,
                        (
                            revision,
                            op.key,
                            0,
                            1,
                            current.create_revision,
                            current.mod_revision,
                            current.value,
                        ),
                    )
                    kv = KeyValue(op.key, current.value, current.create_revision, revision)
                    events.append(Event(EventType.DELETE, kv, current))
                results.append(kv)
            cur.execute("COMMIT")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        return _BatchOutcome(results, events)

    # ---- watch -----------------------------------------------------------------------

    async def _deliver(self, events: EventBatch | None, upto: int) -> None:
        """Fan out everything up to revision `upto`, exactly once and in order."""
        async with self._deliver_lock:
            if upto <= self._notified:
                return
            if events and events[0].revision <= self._notified:
                events = [e for e in events if e.revision > self._notified]
            # A committed batch directly follows what was fanned out last unless another
            # process wrote in between; only then do we go back to the file.
            if events and events[0].revision == self._notified + 1:
                self._broadcaster.publish(events)
                self._notified = events[-1].revision
                return
            while self._notified < upto:
                _, missed = await self._read_internal(
                    self._events_sync, "", self._notified, upto, _EVENT_CHUNK
                )
                if not missed:
                    self._notified = upto
                    break
                self._broadcaster.publish(missed)
                self._notified = missed[-1].revision

    async def _poll_loop(self) -> None:
        # The slow path that notices rows written by another process sharing the file.
        while True:
            await asyncio.sleep(self._poll_interval)
            try:
                revision = await self.current_revision()
                if revision > self._notified:
                    await self._deliver(None, revision)
            except StoreClosedError:
                return
            except Exception:
                logger.exception("sqlite watch poll failed")

    async def watch(self, prefix: str, start_revision: int) -> AsyncIterator[EventBatch]:
        self._check_open()
        # Subscribe before reading the log: whatever commits after the catch-up snapshot is
        # then already queued, and the revision filter drops what both paths deliver.
        sub = self._broadcaster.subscribe(prefix)
        try:
            last = start_revision
            while True:
                compacted, events = await self._read(
                    self._events_sync, prefix, last, _MAX_REVISION, _EVENT_CHUNK
                )
                if last < compacted:
                    raise CompactedError(compacted)
                if events:
                    last = events[-1].revision
                    yield events
                if len(events) < _EVENT_CHUNK:
                    break
            while True:
                batch = await sub.next_batch()
                if batch[0].revision <= last:
                    batch = [e for e in batch if e.revision > last]
                if batch:
                    last = batch[-1].revision
                    yield batch
        finally:
            self._broadcaster.unsubscribe(sub)

    # ---- compaction ------------------------------------------------------------------

    async def _in_writer(self, fn: Callable[..., T], *args: Any) -> T:
        # The writer executor is one thread shared with write batches, so compaction chunks
        # interleave with batches instead of competing for the SQLite write lock.
        self._check_open()
        return await asyncio.get_running_loop().run_in_executor(self._writer_exec, fn, *args)

    async def compact(self, revision: int) -> None:
        async with self._compact_lock:
            current = await self.current_revision()
            if revision > current:
                raise ValueError(f"cannot compact to future revision {revision} > {current}")
            # Another process sharing the file may have compacted further than we know.
            low = max(self._compacted, await self._read(_read_int, _SQL_COMPACTED))
            self._compacted = low
            if low >= revision:
                return
            while low < revision:
                high = min(low + _COMPACT_CHUNK, revision)
                await self._in_writer(self._compact_chunk, low, high)
                low = self._compacted = high
            await self._in_writer(self._checkpoint)

    def _compact_chunk(self, low: int, high: int) -> None:
        con = self._wcon
        assert con is not None
        con.execute("BEGIN IMMEDIATE")
        try:
            con.execute(_SQL_COMPACT_SUPERSEDED, (low, high))
            con.execute(_SQL_COMPACT_TOMBSTONES, (low, high))
            # Recorded in the same transaction as the deletions: a reader's snapshot either
            # has both or neither, which is what makes the watch's compaction check sound.
            con.execute(_SQL_SET_COMPACTED, (high,))
            con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise

    def _checkpoint(self) -> None:
        con = self._wcon
        assert con is not None
        # TRUNCATE waits for readers; keep that wait short so writes are not held up.
        con.execute("PRAGMA busy_timeout = 100")
        try:
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.OperationalError as exc:
            logger.debug("wal checkpoint skipped: %s", exc)
        finally:
            con.execute(f"PRAGMA busy_timeout = {int(_BUSY_TIMEOUT_S * 1000)}")

    async def _compact_loop(self) -> None:
        while True:
            await asyncio.sleep(self._compact_interval)
            try:
                target = await self.current_revision() - self._compact_retention
                if target > self._compacted:
                    await self.compact(target)
            except StoreClosedError:
                return
            except Exception:
                logger.exception("sqlite auto-compaction failed")
