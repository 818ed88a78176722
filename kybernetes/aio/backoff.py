"""Backoff: exponential delays with a cap, per attempt or per item."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Generic, Hashable, TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Backoff:
    """Backoff computes `initial * factor**attempt`, capped, optionally with jitter."""

    initial: float = 0.8
    """Delay before the first retry, in seconds."""
    cap: float = 30.0
    """Largest delay ever returned, in seconds."""
    factor: float = 2.0
    """Multiplier applied for every further attempt."""
    jitter: float = 0.0
    """Up to this fraction of the delay is added at random, so many clients don't retry in step."""

    def delay(self, attempt: int) -> float:
        """Return the delay before retry number `attempt` (0 is the first retry)."""
        # Clamp the exponent first: factor**attempt overflows a float long before the cap matters.
        exponent = min(attempt, 64)
        base = min(self.cap, self.initial * self.factor**exponent)
        if self.jitter:
            base += base * self.jitter * random.random()
        return min(base, self.cap * (1 + self.jitter))


@dataclass
class ItemBackoff(Generic[K]):
    """ItemBackoff counts failures per item; each `when(item)` doubles that item's next delay.

    The default is upstream's default controller rate limiter for items: 5 ms doubling to 1000 s.
    """

    backoff: Backoff = field(default_factory=lambda: Backoff(initial=0.005, cap=1000.0))
    """The delay curve shared by all items."""
    _failures: dict[K, int] = field(default_factory=dict, init=False, repr=False)

    def when(self, item: K) -> float:
        """Record one more failure of `item` and return how long it should wait."""
        attempt = self._failures.get(item, 0)
        self._failures[item] = attempt + 1
        return self.backoff.delay(attempt)

    def failures(self, item: K) -> int:
        """Return how many failures of `item` were recorded since it was last forgotten."""
        return self._failures.get(item, 0)

    def forget(self, item: K) -> None:
        """Reset `item`'s failure count, after it was processed successfully."""
        self._failures.pop(item, None)
