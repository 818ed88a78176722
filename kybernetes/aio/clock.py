"""Clock: the injectable source of time, with a real implementation and a fake one for tests.

Everything that waits or schedules takes a `Clock` instead of calling `asyncio.sleep` or
`loop.call_later` directly, so tests can step time forward instead of sleeping (upstream's
`k8s.io/utils/clock` and its `testing.FakeClock`).
"""

from __future__ import annotations

import asyncio
import datetime
import heapq
import itertools
import time
from dataclasses import dataclass, field
from typing import Callable, Protocol


class TimerHandle(Protocol):
    """TimerHandle is what `Clock.call_later` returns: something that can be cancelled."""

    def cancel(self) -> None: ...


class Clock(Protocol):
    """Clock tells the time and runs callbacks or coroutines after a delay."""

    def now(self) -> datetime.datetime:
        """Return the wall-clock time, timezone-aware in UTC."""
        ...

    def monotonic(self) -> float:
        """Return seconds on a clock that never goes backwards; only differences mean anything."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds`."""
        ...

    def call_later(self, seconds: float, callback: Callable[[], None]) -> TimerHandle:
        """Run the synchronous `callback` after `seconds` on the running event loop."""
        ...


class RealClock:
    """RealClock is the system clock and the running event loop's timers."""

    def now(self) -> datetime.datetime:
        return datetime.datetime.now(datetime.timezone.utc)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def call_later(self, seconds: float, callback: Callable[[], None]) -> TimerHandle:
        return asyncio.get_running_loop().call_later(max(0.0, seconds), callback)


@dataclass(order=True)
class _Timer:
    deadline: float
    seq: int
    callback: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """FakeClock only moves when told to: `step(seconds)` fires every timer that falls due.

    Sleepers are futures resolved by timers, so after `step()` a test must yield to the loop
    (e.g. `await asyncio.sleep(0)`) before the woken coroutines have run.
    """

    def __init__(self, start: datetime.datetime | None = None) -> None:
        self._wall = start or datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
        self._mono = 0.0
        self._timers: list[_Timer] = []
        self._seq = itertools.count()

    def now(self) -> datetime.datetime:
        return self._wall + datetime.timedelta(seconds=self._mono)

    def monotonic(self) -> float:
        return self._mono

    async def sleep(self, seconds: float) -> None:
        future = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        timer = self.call_later(seconds, wake)
        try:
            await future
        finally:
            timer.cancel()

    def call_later(self, seconds: float, callback: Callable[[], None]) -> TimerHandle:
        timer = _Timer(self._mono + max(0.0, seconds), next(self._seq), callback)
        heapq.heappush(self._timers, timer)
        return timer

    def step(self, seconds: float) -> None:
        """Advance time by `seconds`, firing due timers in deadline order at their own instants."""
        target = self._mono + seconds
        while self._timers and self._timers[0].deadline <= target:
            timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self._mono = max(self._mono, timer.deadline)
            timer.callback()
        self._mono = target

    def pending(self) -> list[float]:
        """Return the delays from now of the timers not yet fired, soonest first."""
        return sorted(t.deadline - self._mono for t in self._timers if not t.cancelled)
