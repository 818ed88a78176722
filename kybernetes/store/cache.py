"""The in-memory watch cache the API server serves LIST, GET and WATCH from.

It lists everything under a prefix once, then follows the backend's watch, so reads never
touch the datastore. Only writes under the prefix advance ``revision``; the API server
writes under /registry/ only, so ``wait_for(rev)`` after its own write always completes.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import heapq
import itertools
import logging
from collections import deque
from collections.abc import Iterator
from typing import Any

from kybernetes.store.backend import (
    Backend,
    CompactedError,
    Event,
    EventType,
    KeyValue,
    StoreClosedError,
    StoreError,
    WatcherOverflowError,
)

logger = logging.getLogger(__name__)

_RELIST_BACKOFF_S = (0.1, 0.5, 1.0, 2.0, 5.0)


def _directories(key: str) -> Iterator[str]:
    """Yield the "/"-terminated prefixes of key below the root: /registry/, /registry/pods/, …"""
    end = key.find("/", 1)
    while end != -1:
        yield key[: end + 1]
        end = key.find("/", end + 1)


class Watcher:
    """An async iterator of one client's events: matching history first, then live events.

    Live events wait in a bounded buffer; a watcher whose buffer overflows is dropped and
    its iterator raises WatcherOverflowError, so a client that stops reading costs at most
    ``limit`` events of memory.
    """

    __slots__ = ("_buffer", "_cache", "_closed", "_error", "_limit", "_after", "_replay", "_waiter", "prefix")

    def __init__(self, cache: WatchCache, prefix: str, after: int, replay: deque[Event], limit: int) -> None:
        self.prefix = prefix
        # A watch may start ahead of the cache (from a revision a write just returned); live
        # events up to that revision are not for this watcher.
        self._after = after
        self._cache: WatchCache | None = cache
        self._replay = replay
        self._buffer: deque[Event] = deque()
        self._limit = limit
        self._waiter: asyncio.Future[None] | None = None
        self._error: StoreError | None = None
        self._closed = False

    def __aiter__(self) -> Watcher:
        return self

    async def __anext__(self) -> Event:
        while True:
            if self._error is not None:
                raise self._error
            if self._closed:
                raise StopAsyncIteration
            if self._replay:
                return self._replay.popleft()
            if self._buffer:
                return self._buffer.popleft()
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def drain(self, limit: int = 1000) -> list[Event]:
        """Take up to `limit` events that are already buffered, without waiting (lets a writer batch them)."""
        out: list[Event] = []
        while len(out) < limit and self._error is None and not self._closed:
            if self._replay:
                out.append(self._replay.popleft())
            elif self._buffer:
                out.append(self._buffer.popleft())
            else:
                break
        return out

    @property
    def pending(self) -> int:
        """Events buffered and not yet consumed."""
        return len(self._replay) + len(self._buffer)

    def close(self) -> None:
        """Stop the watcher; a pending or later iteration ends with StopAsyncIteration."""
        if self._cache is not None:
            self._cache._unregister(self)
            self._cache = None
        self._end(None)

    def _push(self, event: Event) -> bool:
        if event.kv.mod_revision <= self._after:
            return True
        if len(self._buffer) >= self._limit:
            return False
        self._buffer.append(event)
        self._wake()
        return True

    def _end(self, error: StoreError | None) -> None:
        if self._closed:
            return
        self._closed = True
        self._error = error
        # Drop the backlog now: a dropped watcher must not keep holding memory.
        self._buffer.clear()
        self._replay.clear()
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class WatchCache:
    """Mirror of every key under prefix, a bounded event history, and watcher fan-out."""

    def __init__(
        self,
        backend: Backend,
        *,
        prefix: str = "/registry/",
        history: int = 100_000,
        watcher_queue: int = 10_000,
    ) -> None:
        if history < 1 or watcher_queue < 1:
            raise ValueError("history and watcher_queue must be positive")
        self._backend = backend
        self._prefix = prefix
        self._watcher_queue = watcher_queue
        self._items: dict[str, KeyValue] = {}
        # "/registry/pods/" -> every item below it, so a LIST touches only its own items.
        self._dirs: dict[str, dict[str, KeyValue]] = {}
        # Sorted keys of a directory ("" = all items), built on the first LIST and then kept
        # sorted by insort/removal: creates do not force a full re-sort.
        self._sorted: dict[str, list[str]] = {}
        self._memos: dict[str, tuple[int, dict[str, Any]]] = {}
        self._history: deque[Event] = deque(maxlen=history)
        self._revision = 0
        # A watch from revision >= floor can be replayed completely from history.
        self._floor = 0
        self._watchers: dict[str, set[Watcher]] = {}
        # Prefixes not ending in "/" cannot be found by walking a key's directories.
        self._odd_prefixes: set[str] = set()
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._waiter_seq = itertools.count()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    # ---- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        revision, items = await self._backend.list(self._prefix)
        self._load(revision, items)
        self._task = asyncio.create_task(self._follow(), name="watch-cache")

    async def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._drop_watchers(None)
        self._fail_waiters(StoreClosedError("watch cache is closed"))

    def _load(self, revision: int, items: list[KeyValue]) -> None:
        self._items = {}
        self._dirs = {}
        self._sorted = {}
        self._memos = {}
        self._history.clear()
        for kv in items:
            self._put(kv, new=True)
        self._revision = revision
        self._floor = revision
        self._release_waiters()

    async def _follow(self) -> None:
        failures = 0
        while True:
            try:
                async for batch in self._backend.watch(self._prefix, self._revision):
                    failures = 0
                    for event in batch:
                        self._apply(event)
                    self._release_waiters()
                raise StoreError("backend watch ended")
            except StoreClosedError:
                logger.warning("watch cache: backend closed; ending all watchers")
                self._drop_watchers(None)
                self._fail_waiters(StoreClosedError("backend is closed"))
                return
            except Exception as exc:
                # Events may have been missed, so our watchers' streams have a gap: cut them
                # off as compacted (clients re-list) and rebuild from a fresh LIST.
                delay = _RELIST_BACKOFF_S[min(failures, len(_RELIST_BACKOFF_S) - 1)]
                failures += 1
                logger.warning("watch cache: backend watch failed (%r); re-listing", exc)
                await asyncio.sleep(delay)
                try:
                    revision, items = await self._backend.list(self._prefix)
                except StoreClosedError:
                    continue
                except Exception:
                    logger.exception("watch cache: re-list failed")
                    continue
                self._drop_watchers(CompactedError(revision))
                self._load(revision, items)

    # ---- reads -----------------------------------------------------------------------

    @property
    def revision(self) -> int:
        return self._revision

    @property
    def oldest_revision(self) -> int:
        """Revision of the oldest event kept, or the revision the cache was loaded at."""
        return self._history[0].revision if self._history else self._floor

    async def wait_for(self, revision: int, timeout: float = 5.0) -> None:
        if self._revision >= revision:
            return
        if self._closed:
            raise StoreClosedError("watch cache is closed")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (revision, next(self._waiter_seq), future))
        try:
            async with asyncio.timeout(timeout):
                await future
        except TimeoutError:
            raise TimeoutError(
                f"watch cache did not reach revision {revision} within {timeout}s (at {self._revision})"
            ) from None

    def get(self, key: str) -> KeyValue | None:
        return self._items.get(key)

    def list(self, prefix: str) -> tuple[int, list[KeyValue]]:
        base = prefix[: prefix.rfind("/") + 1]
        if base in ("", "/"):
            base = ""
        bucket = self._items if not base else self._dirs.get(base)
        if not bucket:
            return self._revision, []
        keys = self._sorted.get(base)
        if keys is None:
            keys = self._sorted[base] = sorted(bucket)
        if prefix == base:
            return self._revision, [bucket[k] for k in keys]
        # A prefix that is not a directory, e.g. "/registry/pods/default/we": the keys are
        # sorted, so its items are one contiguous run.
        start = bisect.bisect_left(keys, prefix)
        items: list[KeyValue] = []
        for key in itertools.islice(keys, start, None):
            if not key.startswith(prefix):
                break
            items.append(bucket[key])
        return self._revision, items

    def memo(self, kv: KeyValue) -> dict[str, Any]:
        """A scratch dict tied to (kv.key, kv.mod_revision), e.g. for the decoded object.

        It lives while kv is the cached version of its key; for any other version a fresh
        dict is returned and not kept.
        """
        entry = self._memos.get(kv.key)
        if entry is not None and entry[0] == kv.mod_revision:
            return entry[1]
        memo: dict[str, Any] = {}
        current = self._items.get(kv.key)
        if current is not None and current.mod_revision == kv.mod_revision:
            self._memos[kv.key] = (kv.mod_revision, memo)
        return memo

    # ---- watch -----------------------------------------------------------------------

    def watch(self, prefix: str, start_revision: int) -> Watcher:
        """Stream events under prefix with revision > start_revision."""
        if self._closed:
            raise StoreClosedError("watch cache is closed")
        if start_revision < self._floor:
            raise CompactedError(self._floor)
        replay: deque[Event] = deque()
        if start_revision < self._revision:
            for event in reversed(self._history):
                if event.kv.mod_revision <= start_revision:
                    break
                if event.kv.key.startswith(prefix):
                    replay.appendleft(event)
        # Replay and registration happen with no await in between: no gap, no duplicate.
        watcher = Watcher(self, prefix, start_revision, replay, self._watcher_queue)
        self._watchers.setdefault(prefix, set()).add(watcher)
        if prefix and not prefix.endswith("/"):
            self._odd_prefixes.add(prefix)
        return watcher

    @property
    def watcher_count(self) -> int:
        return sum(len(group) for group in self._watchers.values())

    def _unregister(self, watcher: Watcher) -> None:
        group = self._watchers.get(watcher.prefix)
        if group is None:
            return
        group.discard(watcher)
        if not group:
            del self._watchers[watcher.prefix]
            self._odd_prefixes.discard(watcher.prefix)

    def _drop_watchers(self, error: StoreError | None) -> None:
        groups, self._watchers, self._odd_prefixes = self._watchers, {}, set()
        for group in groups.values():
            for watcher in group:
                watcher._cache = None
                watcher._end(error)

    def _fan_out(self, event: Event) -> None:
        key = event.kv.key
        watchers = self._watchers
        groups = [watchers[d] for d in _directories(key) if d in watchers]
        if "" in watchers:
            groups.append(watchers[""])
        if "/" in watchers and key.startswith("/"):
            groups.append(watchers["/"])
        for prefix in self._odd_prefixes:
            if key.startswith(prefix) and prefix in watchers:
                groups.append(watchers[prefix])
        overflowed: list[Watcher] = []
        for group in groups:
            for watcher in group:
                if not watcher._push(event):
                    overflowed.append(watcher)
        for watcher in overflowed:
            self._unregister(watcher)
            watcher._cache = None
            watcher._end(WatcherOverflowError(self._watcher_queue))

    # ---- applying events -------------------------------------------------------------

    def _apply(self, event: Event) -> None:
        kv = event.kv
        if event.type is EventType.PUT:
            self._put(kv, new=kv.key not in self._items)
        else:
            self._remove(kv.key)
        self._memos.pop(kv.key, None)
        history = self._history
        if len(history) == history.maxlen:
            self._floor = history[0].revision
        history.append(event)
        self._revision = kv.mod_revision
        self._fan_out(event)

    def _put(self, kv: KeyValue, *, new: bool) -> None:
        key = kv.key
        self._items[key] = kv
        if new:
            self._insort("", key)
        for directory in _directories(key):
            bucket = self._dirs.get(directory)
            if bucket is None:
                bucket = self._dirs[directory] = {}
            bucket[key] = kv
            if new:
                self._insort(directory, key)

    def _remove(self, key: str) -> None:
        if self._items.pop(key, None) is None:
            return
        self._unsort("", key)
        for directory in _directories(key):
            bucket = self._dirs.get(directory)
            if bucket is None:
                continue
            bucket.pop(key, None)
            self._unsort(directory, key)
            if not bucket:
                # Keeps directories of deleted namespaces from piling up.
                del self._dirs[directory]
                self._sorted.pop(directory, None)

    def _insort(self, directory: str, key: str) -> None:
        keys = self._sorted.get(directory)
        if keys is not None:
            bisect.insort(keys, key)

    def _unsort(self, directory: str, key: str) -> None:
        keys = self._sorted.get(directory)
        if keys is not None:
            index = bisect.bisect_left(keys, key)
            if index < len(keys) and keys[index] == key:
                del keys[index]

    def _release_waiters(self) -> None:
        waiters = self._waiters
        while waiters and waiters[0][0] <= self._revision:
            future = heapq.heappop(waiters)[2]
            if not future.done():
                future.set_result(None)

    def _fail_waiters(self, error: StoreError) -> None:
        waiters, self._waiters = self._waiters, []
        for _, _, future in waiters:
            if not future.done():
                future.set_exception(error)
