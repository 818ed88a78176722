"""The watch cache: reads after writes, history replay, overflow, fan-out, re-list."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from kybernetes.store import (
    CompactedError,
    Event,
    EventType,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    MemoryBackend,
    RevisionMismatchError,
    SQLiteBackend,
    WatchCache,
    Watcher,
    WatcherOverflowError,
)


@pytest_asyncio.fixture
async def backend() -> AsyncIterator[MemoryBackend]:
    store = MemoryBackend()
    await store.start()
    yield store
    await store.close()


async def next_events(watcher: Watcher, count: int, timeout: float = 5.0) -> list[Event]:
    return [await asyncio.wait_for(anext(watcher), timeout) for _ in range(count)]


@pytest.mark.asyncio
async def test_get_list_and_wait_for_after_writes(tmp_path: Path) -> None:
    store = SQLiteBackend(tmp_path / "state.db")
    await store.start()
    preexisting = await store.create("/registry/pods/default/old", b"old")
    cache = WatchCache(store)
    await cache.start()
    try:
        assert cache.get(preexisting.key) == preexisting
        kvs = [await store.create(f"/registry/pods/{ns}/p{i}", b"v") for i in range(3) for ns in ("b", "a")]
        await store.create("/registry/services/a/s", b"")
        await store.create("/elsewhere/x", b"outside the prefix")
        last = await store.update(kvs[0].key, b"v2", expected_revision=kvs[0].mod_revision)
        await cache.wait_for(last.mod_revision)
        assert cache.revision == last.mod_revision
        assert cache.get(kvs[0].key) == last
        assert cache.get("/elsewhere/x") is None

        revision, pods = cache.list("/registry/pods/")
        assert revision == last.mod_revision
        assert [kv.key for kv in pods] == sorted([preexisting.key] + [kv.key for kv in kvs])
        _, in_a = cache.list("/registry/pods/a/")
        assert [kv.key for kv in in_a] == [
            "/registry/pods/a/p0",
            "/registry/pods/a/p1",
            "/registry/pods/a/p2",
        ]
        # A prefix that is not a directory.
        _, partial = cache.list("/registry/pods/b/p")
        assert [kv.key for kv in partial] == [
            "/registry/pods/b/p0",
            "/registry/pods/b/p1",
            "/registry/pods/b/p2",
        ]

        gone = await store.delete("/registry/pods/a/p1")
        created = await store.create("/registry/pods/a/p10", b"")
        await cache.wait_for(created.mod_revision)
        _, in_a = cache.list("/registry/pods/a/")
        assert [kv.key for kv in in_a] == [
            "/registry/pods/a/p0",
            "/registry/pods/a/p10",
            "/registry/pods/a/p2",
        ]
        assert cache.get(gone.key) is None
        # Every item of a namespace deleted: the directory disappears entirely.
        for kv in cache.list("/registry/pods/a/")[1]:
            await store.delete(kv.key)
        await cache.wait_for(await store.current_revision())
        assert cache.list("/registry/pods/a/")[1] == []
        assert "/registry/pods/a/" not in cache._dirs
    finally:
        await cache.close()
        await store.close()


@pytest.mark.asyncio
async def test_wait_for_times_out(backend: MemoryBackend) -> None:
    cache = WatchCache(backend)
    await cache.start()
    try:
        with pytest.raises(TimeoutError):
            await cache.wait_for(cache.revision + 1, timeout=0.05)
    finally:
        await cache.close()


@pytest.mark.asyncio
async def test_list_of_ten_thousand_items_is_fast(backend: MemoryBackend) -> None:
    cache = WatchCache(backend)
    await cache.start()
    try:
        for i in range(10_000):
            await backend.create(f"/registry/pods/ns{i % 10}/pod-{i:05d}", b"{}")
        await cache.wait_for(await backend.current_revision())
        cache.list("/registry/pods/")  # builds the sorted key list once
        changed = await backend.create("/registry/pods/ns0/new", b"{}")
        await cache.wait_for(changed.mod_revision)
        started = time.perf_counter()
        for _ in range(10):
            _, items = cache.list("/registry/pods/")
        elapsed = (time.perf_counter() - started) / 10
        assert len(items) == 10_001
        assert [kv.key for kv in items] == sorted(kv.key for kv in items)
        assert elapsed < 0.05, f"LIST of 10,000 took {elapsed * 1000:.1f} ms"
    finally:
        await cache.close()


@pytest.mark.asyncio
async def test_watch_replays_history_then_live(backend: MemoryBackend) -> None:
    cache = WatchCache(backend)
    await cache.start()
    try:
        a = await backend.create("/registry/pods/x/a", b"1")
        start = (await backend.create("/registry/services/x/s", b"")).mod_revision
        a2 = await backend.update(a.key, b"2", expected_revision=a.mod_revision)
        b = await backend.create("/registry/pods/y/b", b"")
        await cache.wait_for(b.mod_revision)

        watcher = cache.watch("/registry/pods/", start)
        replayed = await next_events(watcher, 2)
        assert [e.kv for e in replayed] == [a2, b]
        assert replayed[0].prev == a

        deleted = await backend.delete(a.key)
        await backend.create("/registry/services/x/t", b"")
        c = await backend.create("/registry/pods/x/c", b"")
        live = await next_events(watcher, 2)
        assert [(e.type, e.kv.mod_revision) for e in live] == [
            (EventType.DELETE, deleted.mod_revision),
            (EventType.PUT, c.mod_revision),
        ]
        assert watcher.pending == 0
        watcher.close()
        with pytest.raises(StopAsyncIteration):
            await anext(watcher)
        assert cache.watcher_count == 0
    finally:
        await cache.close()


@pytest.mark.asyncio
async def test_watch_older_than_history_raises_compacted(backend: MemoryBackend) -> None:
    cache = WatchCache(backend, history=5)
    await cache.start()
    try:
        kvs = [await backend.create(f"/registry/k/{i}", b"") for i in range(10)]
        await cache.wait_for(kvs[-1].mod_revision)
        assert cache.oldest_revision == kvs[5].mod_revision
        with pytest.raises(CompactedError):
            cache.watch("/registry/", kvs[3].mod_revision)
        # The newest evicted revision is still a complete starting point.
        watcher = cache.watch("/registry/", kvs[4].mod_revision)
        assert [e.kv for e in await next_events(watcher, 5)] == kvs[5:]
        watcher.close()
    finally:
        await cache.close()


@pytest.mark.asyncio
async def test_non_reading_watcher_is_dropped(backend: MemoryBackend) -> None:
    cache = WatchCache(backend, watcher_queue=10)
    await cache.start()
    try:
        start = cache.revision
        stalled = cache.watch("/registry/", start)
        reader = cache.watch("/registry/", start)
        received: list[Event] = []
        for i in range(30):
            await backend.create(f"/registry/k/{i}", b"")
            received.extend(await next_events(reader, 1))
        await cache.wait_for(await backend.current_revision())
        assert len(received) == 30
        with pytest.raises(WatcherOverflowError):
            await anext(stalled)
        assert stalled.pending == 0  # the backlog was released
        assert cache.watcher_count == 1
        reader.close()
    finally:
        await cache.close()


@pytest.mark.asyncio
async def test_thousand_watchers_all_receive_an_event(backend: MemoryBackend) -> None:
    cache = WatchCache(backend)
    await cache.start()
    try:
        watchers = [cache.watch("/registry/pods/", cache.revision) for _ in range(1000)]
        bystanders = [cache.watch("/registry/services/", cache.revision) for _ in range(100)]
        started = time.perf_counter()
        kv = await backend.create("/registry/pods/default/web", b"{}")
        await cache.wait_for(kv.mod_revision)
        elapsed = time.perf_counter() - started
        assert elapsed < 0.2, f"fan-out to 1,000 watchers took {elapsed * 1000:.1f} ms"
        for watcher in watchers:
            assert watcher.pending == 1
            assert (await anext(watcher)).kv == kv
        assert all(w.pending == 0 for w in bystanders)
    finally:
        await cache.close()


@pytest.mark.asyncio
async def test_exact_key_and_partial_prefix_watchers(backend: MemoryBackend) -> None:
    cache = WatchCache(backend)
    await cache.start()
    try:
        exact = cache.watch("/registry/pods/default/web", cache.revision)
        partial = cache.watch("/registry/pods/def", cache.revision)
        everything = cache.watch("", cache.revision)
        web = await backend.create("/registry/pods/default/web", b"")
        other = await backend.create("/registry/pods/kube-system/dns", b"")
        await cache.wait_for(other.mod_revision)
        assert exact.pending == 1 and partial.pending == 1 and everything.pending == 2
        assert (await anext(exact)).kv == web
        assert [e.kv for e in await next_events(everything, 2)] == [web, other]
    finally:
        await cache.close()


@pytest.mark.asyncio
async def test_memo_follows_the_current_version(backend: MemoryBackend) -> None:
    cache = WatchCache(backend)
    await cache.start()
    try:
        kv = await backend.create("/registry/cm/a", b"1")
        await cache.wait_for(kv.mod_revision)
        current = cache.get(kv.key)
        assert current is not None
        cache.memo(current)["object"] = {"decoded": 1}
        assert cache.memo(current) == {"object": {"decoded": 1}}
        kv2 = await backend.update(kv.key, b"2", expected_revision=kv.mod_revision)
        await cache.wait_for(kv2.mod_revision)
        assert cache.memo(kv2) == {}
        assert cache.memo(kv) == {}  # a stale version gets a throwaway dict
        assert kv.key in cache._memos and cache._memos[kv.key][0] == kv2.mod_revision
    finally:
        await cache.close()


class FlakyBackend(MemoryBackend):
    """A memory backend whose watch stream can be made to fail once."""

    fail_next = False

    async def watch(self, prefix: str, start_revision: int) -> AsyncIterator[list[Event]]:
        async for batch in super().watch(prefix, start_revision):
            yield batch
            if self.fail_next:
                self.fail_next = False
                raise CompactedError(start_revision)


@pytest.mark.asyncio
async def test_backend_watch_failure_relists_and_cuts_watchers() -> None:
    store = FlakyBackend()
    await store.start()
    cache = WatchCache(store)
    await cache.start()
    try:
        watcher = cache.watch("/registry/", cache.revision)
        store.fail_next = True
        first = await store.create("/registry/a", b"")
        assert (await anext(watcher)).kv == first
        with pytest.raises(CompactedError):
            await asyncio.wait_for(anext(watcher), 5)
        # The cache recovered: new writes show up and new watches work.
        second = await store.create("/registry/b", b"")
        await cache.wait_for(second.mod_revision)
        assert [kv.key for kv in cache.list("/registry/")[1]] == ["/registry/a", "/registry/b"]
        fresh = cache.watch("/registry/", second.mod_revision)
        third = await store.create("/registry/c", b"")
        assert (await asyncio.wait_for(anext(fresh), 5)).kv == third
    finally:
        await cache.close()
        await store.close()


@pytest.mark.asyncio
async def test_close_ends_watchers(backend: MemoryBackend) -> None:
    cache = WatchCache(backend)
    await cache.start()
    watcher = cache.watch("/registry/", cache.revision)
    pending = asyncio.ensure_future(anext(watcher))
    await asyncio.sleep(0)
    await cache.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(pending, 5)


def test_keyvalue_is_immutable() -> None:
    kv = KeyValue("/k", b"v", 1, 1)
    with pytest.raises(AttributeError):
        kv.value = b"other"  # type: ignore[misc]


@pytest.mark.asyncio
async def test_watch_from_a_revision_ahead_of_the_cache(backend: MemoryBackend) -> None:
    cache = WatchCache(backend)
    await cache.start()
    try:
        # The cache has not applied these yet when the watch is opened from the newest one.
        first = await backend.create("/registry/a", b"")
        second = await backend.create("/registry/b", b"")
        assert cache.revision < second.mod_revision
        watcher = cache.watch("/registry/", second.mod_revision)
        third = await backend.create("/registry/c", b"")
        assert (await asyncio.wait_for(anext(watcher), 5)).kv == third
        assert first.mod_revision < second.mod_revision
    finally:
        await cache.close()


@pytest.mark.asyncio
async def test_cache_mirrors_sqlite_under_concurrent_writers(tmp_path: Path) -> None:
    store = SQLiteBackend(tmp_path / "state.db")
    await store.start()
    cache = WatchCache(store)
    await cache.start()
    watcher = cache.watch("/registry/", cache.revision)
    try:

        async def writer(w: int) -> None:
            rng = random.Random(w)
            for _ in range(40):
                key = f"/registry/things/ns{rng.randrange(3)}/t{rng.randrange(20)}"
                current = await store.get(key)
                try:
                    if current is None:
                        await store.create(key, b"new")
                    elif rng.random() < 0.3:
                        await store.delete(key, expected_revision=current.mod_revision)
                    else:
                        await store.update(key, b"changed", expected_revision=current.mod_revision)
                except (KeyExistsError, KeyNotFoundError, RevisionMismatchError):
                    pass  # lost a race with another writer; that is the point

        async with asyncio.TaskGroup() as tg:
            for w in range(32):
                tg.create_task(writer(w))
        top = await store.current_revision()
        await cache.wait_for(top)
        assert cache.list("/registry/") == await store.list("/registry/")
        revisions = [e.kv.mod_revision for e in await next_events(watcher, watcher.pending)]
        assert revisions == list(range(1, top + 1))
    finally:
        watcher.close()
        await cache.close()
        await store.close()
