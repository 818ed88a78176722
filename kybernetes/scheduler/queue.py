"""Queue: pending pods wait here — active (ready now), backing off, or unschedulable until the cluster changes.

Upstream's PriorityQueue in small:

* `pop()` hands out the highest-priority, longest-waiting active pod;
* a pod that fits nowhere goes to the unschedulable set, remembering which plugins rejected it;
  `move(event)` sends it back when a cluster event those plugins care about happens (a node
  label for NodeAffinity, a deleted pod for NodeResourcesFit, ...), to backoff if its backoff has
  not yet run out, else straight to active;
* if such an event arrives while the pod is being scheduled, a failure sends it to backoff
  instead, so the event is not lost;
* backoff doubles from 1 s to at most 10 s with each attempt; a pod left unschedulable for
  5 minutes is retried anyway.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from dataclasses import dataclass, field
from typing import Mapping

from kybernetes.aio.clock import Clock, RealClock, TimerHandle
from kybernetes.scheduler.framework import ALL_EVENTS, Event, PodInfo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueueSettings:
    """QueueSettings are upstream's defaults for retrying pods."""

    initial_backoff: float = 1.0
    """Seconds a pod waits after its first failed attempt."""
    max_backoff: float = 10.0
    """The longest backoff, reached by doubling."""
    max_unschedulable: float = 300.0
    """A pod unschedulable this long is retried even without a relevant event."""
    flush_interval: float = 30.0
    """How often the unschedulable set is checked for such pods."""


@dataclass(eq=False)
class QueuedPod:
    """QueuedPod is a pending pod and its scheduling history."""

    info: PodInfo
    timestamp: float
    """When it (re)entered the queue: the tie-breaker among pods of equal priority."""
    attempts: int = 0
    cycle: int = 0
    """The scheduling cycle that last popped it."""
    failed_at: float = 0.0
    rejected_by: frozenset[str] = frozenset()
    """Plugins that rejected it in its last attempt; empty means "retry on any event"."""
    updated: bool = False
    """The pod changed while it was being scheduled."""
    _token: object = field(default_factory=object, repr=False)
    _timer: TimerHandle | None = field(default=None, repr=False)

    @property
    def key(self) -> str:
        return self.info.key


class SchedulingQueue:
    """SchedulingQueue orders pending pods and decides when a rejected pod is tried again."""

    def __init__(self, *, plugin_events: Mapping[str, Event], clock: Clock | None = None,
                 settings: QueueSettings = QueueSettings()) -> None:
        self._clock: Clock = clock or RealClock()
        self._settings = settings
        self._plugin_events = dict(plugin_events)
        self._heap: list[tuple[int, float, int, str, object]] = []
        self._seq = itertools.count()
        self._active: dict[str, QueuedPod] = {}
        self._backoff: dict[str, QueuedPod] = {}
        self._unschedulable: dict[str, QueuedPod] = {}
        self._in_flight: dict[str, QueuedPod] = {}
        self._cycle = 0
        self._move_cycle = -1
        self._wakeup = asyncio.Event()

    # -- inspection ----------------------------------------------------------------------------

    @property
    def cycle(self) -> int:
        return self._cycle

    def where(self, key: str) -> str | None:
        """Return "active", "backoff", "unschedulable", "in-flight" or None (for tests and logs)."""
        for name, part in (("active", self._active), ("backoff", self._backoff),
                           ("unschedulable", self._unschedulable), ("in-flight", self._in_flight)):
            if key in part:
                return name
        return None

    def __len__(self) -> int:
        return len(self._active) + len(self._backoff) + len(self._unschedulable)

    # -- pods coming and going -----------------------------------------------------------------

    def add(self, info: PodInfo) -> None:
        """Queue a new pending pod (or refresh one already queued)."""
        if self.where(info.key) is not None:
            self.update(info, changed=False)
            return
        self._to_active(QueuedPod(info, self._clock.monotonic()))

    def update(self, info: PodInfo, *, changed: bool) -> None:
        """Take a newer version of a pending pod; `changed` (spec or labels) makes an unschedulable pod worth retrying."""
        key = info.key
        for part in (self._active, self._backoff, self._in_flight):
            if key in part:
                part[key].info = info
                part[key].updated = part[key].updated or (changed and part is self._in_flight)
                return
        queued = self._unschedulable.get(key)
        if queued is None:
            self.add(info)
            return
        queued.info = info
        if changed:
            del self._unschedulable[key]
            self._requeue(queued)

    def delete(self, key: str) -> None:
        """Drop a pod that was deleted or got bound."""
        for part in (self._active, self._backoff, self._unschedulable, self._in_flight):
            queued = part.pop(key, None)
            if queued is not None and queued._timer is not None:
                queued._timer.cancel()

    # -- the scheduling loop's side ------------------------------------------------------------

    async def pop(self) -> QueuedPod:
        """Wait for an active pod and hand it out; it stays in flight until `done()`."""
        while True:
            while self._heap:
                _, _, _, key, token = heapq.heappop(self._heap)
                queued = self._active.get(key)
                if queued is None or queued._token is not token:
                    continue  # superseded entry
                del self._active[key]
                self._cycle += 1
                queued.cycle = self._cycle
                queued.attempts += 1
                queued.updated = False
                self._in_flight[key] = queued
                return queued
            self._wakeup.clear()
            await self._wakeup.wait()

    def done(self, key: str) -> None:
        """Forget a pod that was bound (or given up on) after `pop()`."""
        self._in_flight.pop(key, None)

    def unschedulable(self, queued: QueuedPod, rejected_by: frozenset[str]) -> None:
        """Park a pod that fit nowhere until an event those plugins care about happens."""
        if self._in_flight.pop(queued.key, None) is None:
            return  # deleted or bound meanwhile
        queued.failed_at = self._clock.monotonic()
        queued.timestamp = queued.failed_at
        queued.rejected_by = rejected_by
        if self._move_cycle >= queued.cycle or queued.updated:
            # Something changed while it was being scheduled: that may be what it was missing.
            self._to_backoff(queued)
        else:
            self._unschedulable[queued.key] = queued

    def retry(self, queued: QueuedPod) -> None:
        """Send a pod back after an error (not a misfit): it waits out its backoff."""
        if self._in_flight.pop(queued.key, None) is None:
            return
        queued.failed_at = self._clock.monotonic()
        queued.timestamp = queued.failed_at
        queued.rejected_by = frozenset()
        self._to_backoff(queued)

    # -- cluster events ------------------------------------------------------------------------

    def move(self, event: Event) -> int:
        """Retry the unschedulable pods that `event` may help; return how many moved."""
        self._move_cycle = self._cycle
        moving = [q for q in self._unschedulable.values() if self._interested(q, event)]
        for queued in moving:
            del self._unschedulable[queued.key]
            self._requeue(queued)
        return len(moving)

    def _interested(self, queued: QueuedPod, event: Event) -> bool:
        if not queued.rejected_by:
            return True
        return any(self._plugin_events.get(p, ALL_EVENTS) & event for p in queued.rejected_by)

    async def run(self) -> None:
        """Retry pods left unschedulable too long, until cancelled."""
        while True:
            await self._clock.sleep(self._settings.flush_interval)
            now = self._clock.monotonic()
            stale = [q for q in self._unschedulable.values() if now - q.failed_at >= self._settings.max_unschedulable]
            for queued in stale:
                del self._unschedulable[queued.key]
                self._requeue(queued)

    # -- moving between parts ------------------------------------------------------------------

    def backoff_duration(self, attempts: int) -> float:
        """Return the backoff after `attempts` attempts: 1 s doubling up to 10 s."""
        duration = self._settings.initial_backoff
        for _ in range(1, attempts):
            duration *= 2
            if duration >= self._settings.max_backoff:
                return self._settings.max_backoff
        return min(duration, self._settings.max_backoff)

    def _requeue(self, queued: QueuedPod) -> None:
        if self._backoff_left(queued) > 0:
            self._to_backoff(queued)
        else:
            self._to_active(queued)

    def _backoff_left(self, queued: QueuedPod) -> float:
        if not queued.attempts:
            return 0.0
        return queued.failed_at + self.backoff_duration(queued.attempts) - self._clock.monotonic()

    def _to_active(self, queued: QueuedPod) -> None:
        if queued._timer is not None:
            queued._timer.cancel()
            queued._timer = None
        queued._token = object()
        self._active[queued.key] = queued
        heapq.heappush(self._heap, (-queued.info.priority, queued.timestamp, next(self._seq), queued.key, queued._token))
        self._wakeup.set()

    def _to_backoff(self, queued: QueuedPod) -> None:
        left = self._backoff_left(queued)
        if left <= 0:
            self._to_active(queued)
            return
        self._backoff[queued.key] = queued
        token = queued._token = object()

        def expire() -> None:
            if self._backoff.get(queued.key) is queued and queued._token is token:
                del self._backoff[queued.key]
                queued._timer = None
                self._to_active(queued)

        queued._timer = self._clock.call_later(left, expire)
