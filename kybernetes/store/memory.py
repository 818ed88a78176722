"""In-memory backend with the same semantics as the SQLite one; for tests and ``memory://``."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
from collections.abc import AsyncIterator

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
)

# Catch-up history is handed to a watcher in slices so one huge batch never sits in a queue.
_CATCH_UP_BATCH = 1000


def _event_revision(event: Event) -> int:
    return event.kv.mod_revision


class MemoryBackend:
    """Keeps live keys in a dict and every event since the compacted revision in a list."""

    def __init__(self, *, compact_interval: float = 300.0, compact_retention: int = 1000) -> None:
        self._compact_interval = compact_interval
        self._compact_retention = compact_retention
        self._items: dict[str, KeyValue] = {}
        self._events: list[Event] = []
        self._revision = 0
        self._compacted = 0
        self._broadcaster = Broadcaster()
        self._compactor: asyncio.Task[None] | None = None
        self._open = False

    async def start(self) -> None:
        if self._open:
            return
        self._open = True
        self._compactor = asyncio.create_task(self._auto_compact(), name="memory-compactor")

    async def close(self) -> None:
        if not self._open:
            return
        self._open = False
        if self._compactor is not None:
            self._compactor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._compactor
        self._broadcaster.close()

    def _check_open(self) -> None:
        if not self._open:
            raise StoreClosedError()

    async def get(self, key: str) -> KeyValue | None:
        self._check_open()
        return self._items.get(key)

    async def list(self, prefix: str) -> tuple[int, list[KeyValue]]:
        self._check_open()
        items = [kv for key, kv in self._items.items() if key.startswith(prefix)]
        items.sort(key=lambda kv: kv.key)
        return self._revision, items

    async def create(self, key: str, value: bytes) -> KeyValue:
        self._check_open()
        if key in self._items:
            raise KeyExistsError(key)
        self._revision += 1
        kv = KeyValue(key, value, self._revision, self._revision)
        self._commit(Event(EventType.PUT, kv, None))
        return kv

    async def update(self, key: str, value: bytes, *, expected_revision: int) -> KeyValue:
        self._check_open()
        current = self._current(key, expected_revision)
        self._revision += 1
        kv = KeyValue(key, value, current.create_revision, self._revision)
        self._commit(Event(EventType.PUT, kv, current))
        return kv

    async def delete(self, key: str, *, expected_revision: int | None = None) -> KeyValue:
        self._check_open()
        current = self._current(key, expected_revision)
        self._revision += 1
        kv = KeyValue(key, current.value, current.create_revision, self._revision)
        self._commit(Event(EventType.DELETE, kv, current))
        return kv

    def _current(self, key: str, expected_revision: int | None) -> KeyValue:
        current = self._items.get(key)
        if current is None:
            raise KeyNotFoundError(key)
        if expected_revision is not None and current.mod_revision != expected_revision:
            raise RevisionMismatchError(key, expected_revision, current)
        return current

    def _commit(self, event: Event) -> None:
        if event.type is EventType.DELETE:
            del self._items[event.kv.key]
        else:
            self._items[event.kv.key] = event.kv
        self._events.append(event)
        self._broadcaster.publish([event])

    async def watch(self, prefix: str, start_revision: int) -> AsyncIterator[EventBatch]:
        self._check_open()
        if start_revision < self._compacted:
            raise CompactedError(self._compacted)
        # Reading history and subscribing happen without an await in between, so the
        # backlog and the live stream neither overlap nor leave a gap.
        start = bisect.bisect_right(self._events, start_revision, key=_event_revision)
        backlog = [e for e in self._events[start:] if e.kv.key.startswith(prefix)]
        sub = self._broadcaster.subscribe(prefix)
        try:
            for i in range(0, len(backlog), _CATCH_UP_BATCH):
                yield backlog[i : i + _CATCH_UP_BATCH]
            while True:
                batch = await sub.next_batch()
                # Only a watch from a future revision needs this filter.
                if batch[0].kv.mod_revision <= start_revision:
                    batch = [e for e in batch if e.kv.mod_revision > start_revision]
                if batch:
                    yield batch
        finally:
            self._broadcaster.unsubscribe(sub)

    async def current_revision(self) -> int:
        self._check_open()
        return self._revision

    async def compact(self, revision: int) -> None:
        self._check_open()
        if revision > self._revision:
            raise ValueError(f"cannot compact to future revision {revision} > {self._revision}")
        if revision <= self._compacted:
            return
        cut = bisect.bisect_right(self._events, revision, key=_event_revision)
        del self._events[:cut]
        self._compacted = revision

    async def _auto_compact(self) -> None:
        while True:
            await asyncio.sleep(self._compact_interval)
            target = self._revision - self._compact_retention
            if target > self._compacted:
                await self.compact(target)
