"""Tests for WorkQueue: dedup, one worker per key, delays, rate limiting and the worker loop."""

import asyncio

import pytest

from kybernetes.aio.clock import FakeClock
from kybernetes.client.workqueue import SHUTDOWN, WorkQueue, process


async def test_adding_a_queued_key_again_queues_it_once() -> None:
    queue: WorkQueue[str] = WorkQueue()
    for key in ("a", "b", "a", "a"):
        queue.add(key)
    assert len(queue) == 2
    assert [await queue.get(), await queue.get()] == ["a", "b"]


async def test_a_key_being_processed_is_not_handed_out_until_done() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    assert await queue.get() == "a"
    queue.add("a")
    queue.add("a")
    assert len(queue) == 0  # held back while "a" is processed
    second = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    assert not second.done()
    queue.done("a")
    assert await asyncio.wait_for(second, 1) == "a"
    queue.done("a")
    assert len(queue) == 0


async def test_getters_wait_for_adds() -> None:
    queue: WorkQueue[str] = WorkQueue()
    getters = [asyncio.create_task(queue.get()) for _ in range(2)]
    await asyncio.sleep(0)
    queue.add("x")
    queue.add("y")
    assert sorted(await asyncio.gather(*getters)) == ["x", "y"]


async def test_shutdown_drains_then_signals() -> None:
    queue: WorkQueue[str] = WorkQueue()
    waiting = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    queue.shutdown()
    assert await waiting is SHUTDOWN
    queue.add("ignored")
    assert await queue.get() is SHUTDOWN


async def test_add_after_waits_on_the_clock_and_the_earliest_deadline_wins() -> None:
    clock = FakeClock()
    queue: WorkQueue[str] = WorkQueue(clock=clock)
    queue.add_after("a", 10)
    queue.add_after("a", 3)
    queue.add_after("a", 20)
    assert len(queue) == 0
    clock.step(2.9)
    assert len(queue) == 0
    clock.step(0.2)
    assert len(queue) == 1
    clock.step(100)
    assert len(queue) == 1  # the cancelled later timers did not add it again


async def test_rate_limited_adds_back_off_per_key_until_forgotten() -> None:
    clock = FakeClock()
    queue: WorkQueue[str] = WorkQueue(clock=clock)
    delays = []
    for _ in range(4):
        queue.add_rate_limited("k")
        delays.append(clock.pending()[0])
        clock.step(delays[-1])
        assert await queue.get() == "k"
        queue.done("k")
    assert delays == pytest.approx([0.005, 0.01, 0.02, 0.04])
    assert queue.num_requeues("k") == 4
    queue.forget("k")
    queue.add_rate_limited("k")
    assert clock.pending() == pytest.approx([0.005])


async def test_process_requeues_failures_with_backoff_and_forgets_successes() -> None:
    clock = FakeClock()
    queue: WorkQueue[str] = WorkQueue(clock=clock)
    calls: list[str] = []

    async def sync(key: str) -> float | None:
        calls.append(key)
        if len(calls) < 3:
            raise RuntimeError("flaky")
        return None

    worker = asyncio.create_task(process(queue, sync))
    queue.add("k")
    await asyncio.sleep(0.01)
    assert calls == ["k"] and clock.pending() == pytest.approx([0.005])
    clock.step(0.005)
    await asyncio.sleep(0.01)
    assert calls == ["k", "k"] and clock.pending() == pytest.approx([0.01])
    clock.step(0.01)
    await asyncio.sleep(0.01)
    assert calls == ["k"] * 3
    assert queue.num_requeues("k") == 0 and clock.pending() == []
    queue.shutdown()
    await asyncio.wait_for(worker, 1)


async def test_process_requeues_after_the_delay_sync_returns() -> None:
    clock = FakeClock()
    queue: WorkQueue[str] = WorkQueue(clock=clock)
    calls = 0

    async def sync(key: str) -> float | None:
        nonlocal calls
        calls += 1
        return 7.0 if calls == 1 else None

    worker = asyncio.create_task(process(queue, sync))
    queue.add("k")
    await asyncio.sleep(0.01)
    assert clock.pending() == [7.0]
    clock.step(7)
    await asyncio.sleep(0.01)
    assert calls == 2
    queue.shutdown()
    await asyncio.wait_for(worker, 1)


async def test_one_key_is_never_synced_twice_at_once() -> None:
    queue: WorkQueue[str] = WorkQueue()
    running: set[str] = set()
    overlaps = 0
    synced = 0

    async def sync(key: str) -> float | None:
        nonlocal overlaps, synced
        if key in running:
            overlaps += 1
        running.add(key)
        await asyncio.sleep(0.005)
        queue.add(key) if synced < 20 else None  # re-adds while processing
        synced += 1
        running.discard(key)
        return None

    worker = asyncio.create_task(process(queue, sync, workers=8))
    for _ in range(5):
        queue.add("same")
    await asyncio.sleep(0.3)
    queue.shutdown()
    await asyncio.wait_for(worker, 2)
    assert overlaps == 0
    assert synced == 21
