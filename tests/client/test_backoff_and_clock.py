"""Tests for the injectable clock and exponential backoff."""

import asyncio

import pytest

from kybernetes.aio.backoff import Backoff, ItemBackoff
from kybernetes.aio.clock import FakeClock


@pytest.mark.parametrize(
    ("attempt", "expected"),
    [(0, 0.005), (1, 0.01), (2, 0.02), (10, 5.12), (18, 1000.0), (500, 1000.0)],
    ids=["first", "second", "third", "tenth", "capped", "huge-attempt"],
)
def test_item_backoff_doubles_from_5ms_to_1000s(attempt: int, expected: float) -> None:
    assert ItemBackoff().backoff.delay(attempt) == pytest.approx(expected)


def test_item_backoff_counts_per_item_and_forgets() -> None:
    limiter: ItemBackoff[str] = ItemBackoff()
    assert [limiter.when("a") for _ in range(3)] == pytest.approx([0.005, 0.01, 0.02])
    assert limiter.when("b") == pytest.approx(0.005)
    assert limiter.failures("a") == 3
    limiter.forget("a")
    assert limiter.when("a") == pytest.approx(0.005)


def test_jitter_stays_within_its_fraction() -> None:
    backoff = Backoff(initial=1.0, cap=10.0, jitter=0.5)
    assert all(1.0 <= backoff.delay(0) <= 1.5 for _ in range(100))
    assert all(10.0 <= backoff.delay(20) <= 15.0 for _ in range(100))


async def test_fake_clock_wakes_sleepers_only_when_stepped() -> None:
    clock = FakeClock()
    woke: list[float] = []

    async def sleeper(seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append(seconds)

    tasks = [asyncio.create_task(sleeper(s)) for s in (5, 1)]
    await asyncio.sleep(0)
    assert clock.pending() == [1, 5]
    clock.step(2)
    await asyncio.sleep(0)
    assert woke == [1]
    clock.step(3)
    await asyncio.gather(*tasks)
    assert woke == [1, 5]
    assert clock.monotonic() == 5


def test_fake_clock_timers_can_be_cancelled() -> None:
    clock = FakeClock()
    fired: list[str] = []
    handle = clock.call_later(1, lambda: fired.append("a"))
    clock.call_later(2, lambda: fired.append("b"))
    handle.cancel()
    clock.step(10)
    assert fired == ["b"]
    assert clock.now().timestamp() - FakeClock().now().timestamp() == 10
