"""Behaviour every Backend must share, run against the SQLite and memory backends alike."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from kybernetes.store import (
    Backend,
    CompactedError,
    Event,
    EventType,
    KeyExistsError,
    KeyNotFoundError,
    MemoryBackend,
    RevisionMismatchError,
    SQLiteBackend,
    StoreClosedError,
)


@pytest_asyncio.fixture(params=["sqlite", "memory"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    store: Backend
    if request.param == "sqlite":
        store = SQLiteBackend(tmp_path / "state.db")
    else:
        store = MemoryBackend()
    await store.start()
    yield store
    await store.close()


async def collect(stream: AsyncIterator[list[Event]], count: int, timeout: float = 5.0) -> list[Event]:
    events: list[Event] = []

    async def run() -> None:
        async for batch in stream:
            events.extend(batch)
            if len(events) >= count:
                return

    await asyncio.wait_for(run(), timeout)
    return events


@pytest.mark.asyncio
async def test_create_get_update_and_stale_update(backend: Backend) -> None:
    created = await backend.create("/registry/pods/default/web", b"v1")
    assert created.create_revision == created.mod_revision
    assert await backend.get("/registry/pods/default/web") == created

    updated = await backend.update(
        "/registry/pods/default/web", b"v2", expected_revision=created.mod_revision
    )
    assert updated.value == b"v2"
    assert updated.create_revision == created.create_revision
    assert updated.mod_revision > created.mod_revision
    assert await backend.get("/registry/pods/default/web") == updated

    with pytest.raises(RevisionMismatchError) as info:
        await backend.update("/registry/pods/default/web", b"v3", expected_revision=created.mod_revision)
    assert info.value.current == updated
    assert await backend.get("/registry/pods/default/web") == updated
    assert await backend.get("/registry/pods/default/missing") is None


@pytest.mark.asyncio
async def test_create_twice_raises_key_exists(backend: Backend) -> None:
    first = await backend.create("/registry/ns/a", b"1")
    with pytest.raises(KeyExistsError):
        await backend.create("/registry/ns/a", b"2")
    assert await backend.get("/registry/ns/a") == first
    assert await backend.current_revision() == first.mod_revision


@pytest.mark.asyncio
async def test_delete(backend: Backend) -> None:
    kv = await backend.create("/registry/cm/x", b"data")
    with pytest.raises(RevisionMismatchError):
        await backend.delete("/registry/cm/x", expected_revision=kv.mod_revision + 100)
    deleted = await backend.delete("/registry/cm/x", expected_revision=kv.mod_revision)
    assert deleted.value == b"data"
    assert deleted.create_revision == kv.create_revision
    assert deleted.mod_revision > kv.mod_revision
    assert deleted.mod_revision == await backend.current_revision()
    assert await backend.get("/registry/cm/x") is None
    with pytest.raises(KeyNotFoundError):
        await backend.delete("/registry/cm/x")
    with pytest.raises(KeyNotFoundError):
        await backend.update("/registry/cm/x", b"again", expected_revision=deleted.mod_revision)
    # A key can be recreated after deletion and starts a new life.
    again = await backend.create("/registry/cm/x", b"new")
    assert again.create_revision == again.mod_revision > deleted.mod_revision


@pytest.mark.asyncio
async def test_list_by_prefix_is_sorted_and_bounded(backend: Backend) -> None:
    names = [f"/registry/pods/ns{i % 3}/pod-{i:03d}" for i in range(30)]
    # "/registry/pods0" sorts right after every "/registry/pods/..." key: it must not leak in.
    others = ["/registry/pods0", "/registry/services/ns0/svc", "/registry/pod"]
    shuffled = names + others
    random.Random(7).shuffle(shuffled)
    for key in shuffled:
        await backend.create(key, key.encode())
    await backend.delete("/registry/pods/ns1/pod-004")

    revision, items = await backend.list("/registry/pods/")
    expected = sorted(k for k in names if k != "/registry/pods/ns1/pod-004")
    assert [kv.key for kv in items] == expected
    assert all(kv.value == kv.key.encode() for kv in items)
    assert revision == await backend.current_revision()

    _, ns0 = await backend.list("/registry/pods/ns0/")
    assert [kv.key for kv in ns0] == sorted(k for k in names if "/ns0/" in k)
    _, everything = await backend.list("")
    assert len(everything) == len(names) + len(others) - 1


@pytest.mark.asyncio
async def test_revisions_are_monotonic(backend: Backend) -> None:
    seen: list[int] = [await backend.current_revision()]
    kv = await backend.create("/registry/a", b"0")
    seen.append(kv.mod_revision)
    for i in range(5):
        kv = await backend.update("/registry/a", str(i).encode(), expected_revision=kv.mod_revision)
        seen.append(kv.mod_revision)
    seen.append((await backend.create("/registry/b", b"")).mod_revision)
    seen.append((await backend.delete("/registry/a")).mod_revision)
    assert seen == sorted(set(seen))
    assert await backend.current_revision() == seen[-1]


@pytest.mark.asyncio
async def test_watch_sees_exactly_later_events_in_order(backend: Backend) -> None:
    a = await backend.create("/registry/pods/a", b"a1")
    start = (await backend.create("/registry/pods/b", b"b1")).mod_revision
    a2 = await backend.update("/registry/pods/a", b"a2", expected_revision=a.mod_revision)
    await backend.create("/registry/other/x", b"not under the prefix")
    deleted = await backend.delete("/registry/pods/b")

    stream = backend.watch("/registry/pods/", start)
    history = await collect(stream, 2)
    assert [(e.type, e.kv.key, e.kv.mod_revision) for e in history] == [
        (EventType.PUT, "/registry/pods/a", a2.mod_revision),
        (EventType.DELETE, "/registry/pods/b", deleted.mod_revision),
    ]
    assert history[0].prev is not None and history[0].prev.value == b"a1"
    assert not history[0].is_create
    assert history[1].kv.value == b"b1" and history[1].prev is not None
    assert history[1].prev.mod_revision == start

    # Live events follow without a gap or a duplicate.
    c = await backend.create("/registry/pods/c", b"c1")
    await backend.create("/registry/other/y", b"ignored")
    c2 = await backend.update("/registry/pods/c", b"c2", expected_revision=c.mod_revision)
    live = await collect(stream, 2)
    assert [e.kv.mod_revision for e in live] == [c.mod_revision, c2.mod_revision]
    assert live[0].is_create and live[0].prev is None
    assert live[1].prev == c
    await stream.aclose()  # type: ignore[attr-defined]


@pytest.mark.asyncio
async def test_watch_from_compacted_revision_raises(backend: Backend) -> None:
    kv = await backend.create("/registry/a", b"1")
    kv2 = await backend.update("/registry/a", b"2", expected_revision=kv.mod_revision)
    kv3 = await backend.update("/registry/a", b"3", expected_revision=kv2.mod_revision)
    await backend.compact(kv2.mod_revision)

    with pytest.raises(CompactedError) as info:
        await collect(backend.watch("/registry/", kv.mod_revision), 1)
    assert info.value.revision == kv2.mod_revision

    # From the compacted revision itself everything later is still there, prev included.
    events = await collect(backend.watch("/registry/", kv2.mod_revision), 1)
    assert events[0].kv == kv3
    assert events[0].prev == kv2


@pytest.mark.asyncio
async def test_compaction_keeps_live_state(backend: Backend) -> None:
    a = await backend.create("/registry/a", b"0")
    for i in range(10):
        a = await backend.update("/registry/a", str(i).encode(), expected_revision=a.mod_revision)
    await backend.create("/registry/b", b"b")
    last = await backend.delete("/registry/b")
    before = await backend.list("/registry/")
    await backend.compact(last.mod_revision)

    assert await backend.list("/registry/") == before
    assert await backend.get("/registry/a") == a
    assert await backend.get("/registry/b") is None
    # The revision does not go back even though the newest row (a tombstone) was compacted.
    assert await backend.current_revision() == last.mod_revision
    assert (await backend.create("/registry/c", b"")).mod_revision == last.mod_revision + 1


@pytest.mark.asyncio
async def test_concurrent_creates_get_distinct_revisions(backend: Backend) -> None:
    results = await asyncio.gather(*(backend.create(f"/registry/k/{i}", b"x") for i in range(200)))
    revisions = [kv.mod_revision for kv in results]
    assert len(set(revisions)) == 200
    assert max(revisions) == await backend.current_revision()
    _, items = await backend.list("/registry/k/")
    assert len(items) == 200


@pytest.mark.asyncio
async def test_conflicting_concurrent_ops_fail_alone(backend: Backend) -> None:
    outcomes = await asyncio.gather(
        backend.create("/registry/dup", b"1"),
        backend.create("/registry/dup", b"2"),
        backend.create("/registry/solo", b"3"),
        backend.update("/registry/nothing", b"4", expected_revision=1),
        return_exceptions=True,
    )
    assert not isinstance(outcomes[0], Exception)
    assert isinstance(outcomes[1], KeyExistsError)
    assert not isinstance(outcomes[2], Exception)
    assert isinstance(outcomes[3], KeyNotFoundError)
    assert (await backend.get("/registry/dup")).value == b"1"  # type: ignore[union-attr]
    assert await backend.current_revision() == 2


@pytest.mark.asyncio
async def test_closed_backend_refuses_and_ends_watches(backend: Backend) -> None:
    await backend.create("/registry/a", b"")
    stream = backend.watch("/registry/", await backend.current_revision())
    reader = asyncio.ensure_future(collect(stream, 1))
    await asyncio.sleep(0.05)
    await backend.close()
    with pytest.raises(StoreClosedError):
        await reader
    with pytest.raises(StoreClosedError):
        await backend.create("/registry/b", b"")
    with pytest.raises(StoreClosedError):
        await backend.get("/registry/a")


@pytest.mark.asyncio
async def test_watch_from_a_future_revision_skips_up_to_it(backend: Backend) -> None:
    now = await backend.current_revision()
    stream = backend.watch("/registry/", now + 2)
    reader = asyncio.ensure_future(collect(stream, 1))
    await asyncio.sleep(0.05)
    for key in ("a", "b", "c"):
        await backend.create(f"/registry/{key}", b"")
    events = await reader
    assert [e.kv.key for e in events] == ["/registry/c"]
    await stream.aclose()  # type: ignore[attr-defined]


@pytest.mark.asyncio
async def test_read_modify_write_with_retries_loses_no_increment(backend: Backend) -> None:
    await backend.create("/registry/counter", b"0")

    async def increment(times: int) -> None:
        for _ in range(times):
            while True:
                current = await backend.get("/registry/counter")
                assert current is not None
                try:
                    await backend.update(
                        "/registry/counter",
                        str(int(current.value) + 1).encode(),
                        expected_revision=current.mod_revision,
                    )
                    break
                except RevisionMismatchError:
                    continue

    await asyncio.gather(*(increment(10) for _ in range(20)))
    final = await backend.get("/registry/counter")
    assert final is not None and final.value == b"200"
    assert final.mod_revision == 201  # failed updates consume no revision
