"""WorkQueue: the deduplicating, rate-limited queue of keys between informer handlers and controller workers.

Semantics follow upstream's client-go workqueue:

* a key is queued at most once however often it is added (`dirty` set);
* a key being processed is never handed out again until `done(key)`; adds that arrive while
  it is processed are remembered and the key is queued once more on `done`;
* `add_after` keeps only the earliest pending deadline per key;
* `add_rate_limited` delays by a per-key exponential backoff (5 ms doubling to 1000 s) that
  `forget` resets.

`process()` is the worker loop every controller uses: get, sync, forget or requeue, done.
"""

from __future__ import annotations

import asyncio
import collections
import enum
import logging
from typing import Awaitable, Callable, Generic, Hashable, TypeVar

from kybernetes.aio.backoff import ItemBackoff
from kybernetes.aio.clock import Clock, RealClock, TimerHandle

K = TypeVar("K", bound=Hashable)

log = logging.getLogger(__name__)


class Signal(enum.Enum):
    """Signal marks the end of the stream of keys."""

    SHUTDOWN = "shutdown"


SHUTDOWN = Signal.SHUTDOWN


class WorkQueue(Generic[K]):
    """WorkQueue hands keys to workers, each key to one worker at a time."""

    def __init__(self, *, name: str = "", clock: Clock | None = None, rate_limiter: ItemBackoff[K] | None = None) -> None:
        self.name = name
        self._clock: Clock = clock or RealClock()
        self._limiter: ItemBackoff[K] = rate_limiter or ItemBackoff()
        self._queue: collections.deque[K] = collections.deque()
        self._dirty: set[K] = set()
        self._processing: set[K] = set()
        self._waiting: dict[K, tuple[float, TimerHandle]] = {}
        self._shutting_down = False
        self._getters: collections.deque[asyncio.Future[None]] = collections.deque()

    def __len__(self) -> int:
        return len(self._queue)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def add(self, key: K) -> None:
        """Queue `key` unless it is already queued; if it is being processed, queue it after `done`."""
        if self._shutting_down or key in self._dirty:
            return
        self._dirty.add(key)
        if key in self._processing:
            return
        self._queue.append(key)
        self._notify()

    def add_after(self, key: K, delay: float) -> None:
        """Queue `key` after `delay` seconds; an earlier pending deadline for the same key wins."""
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(key)
            return
        deadline = self._clock.monotonic() + delay
        pending = self._waiting.get(key)
        if pending is not None:
            if pending[0] <= deadline:
                return
            pending[1].cancel()

        def fire() -> None:
            self._waiting.pop(key, None)
            self.add(key)

        self._waiting[key] = (deadline, self._clock.call_later(delay, fire))

    def add_rate_limited(self, key: K) -> None:
        """Queue `key` after its own exponential backoff, which grows with each call until `forget`."""
        self.add_after(key, self._limiter.when(key))

    def forget(self, key: K) -> None:
        """Reset `key`'s backoff; call it when the key was processed successfully."""
        self._limiter.forget(key)

    def num_requeues(self, key: K) -> int:
        """Return how many times `key` was rate-limited since it was last forgotten."""
        return self._limiter.failures(key)

    async def get(self) -> K | Signal:
        """Wait for a key and mark it as processing; return `SHUTDOWN` once the queue is shut down."""
        while not self._queue and not self._shutting_down:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._getters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                # A wake-up meant for this getter must not be lost with it.
                if waiter.done() and not waiter.cancelled():
                    self._notify()
                raise
        if not self._queue:
            return SHUTDOWN
        key = self._queue.popleft()
        self._processing.add(key)
        self._dirty.discard(key)
        return key

    def done(self, key: K) -> None:
        """Mark `key` as processed; if it was added meanwhile, it goes back into the queue."""
        self._processing.discard(key)
        if key in self._dirty:
            self._queue.append(key)
            self._notify()

    def shutdown(self) -> None:
        """Stop accepting keys; `get` returns `SHUTDOWN` once the queue is empty."""
        self._shutting_down = True
        for _, handle in self._waiting.values():
            handle.cancel()
        self._waiting.clear()
        while self._getters:
            self._notify()

    def _notify(self) -> None:
        while self._getters:
            waiter = self._getters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return


async def process(queue: WorkQueue[K], sync: Callable[[K], Awaitable[float | None]], *, workers: int = 1) -> None:
    """Run `workers` loops that sync keys from `queue` until it is shut down.

    A failed sync is requeued with the key's backoff; a successful one is forgotten and, if it
    asked for it, requeued after the delay it returned.
    """

    async def worker() -> None:
        while (key := await queue.get()) is not SHUTDOWN:
            try:
                requeue_after = await sync(key)  # type: ignore[arg-type]
            except asyncio.CancelledError:
                raise
            except Exception as err:
                log.warning("%s: syncing %r failed (retry %d): %s", queue.name, key, queue.num_requeues(key), err,
                            exc_info=log.isEnabledFor(logging.DEBUG))
                queue.add_rate_limited(key)  # type: ignore[arg-type]
            else:
                queue.forget(key)  # type: ignore[arg-type]
                if requeue_after is not None:
                    queue.add_after(key, requeue_after)  # type: ignore[arg-type]
            finally:
                queue.done(key)  # type: ignore[arg-type]

    async with asyncio.TaskGroup() as group:
        for _ in range(workers):
            group.create_task(worker())
