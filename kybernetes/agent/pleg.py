"""pleg: the pod lifecycle event generator — notices containers changing state and names their pod.

Upstream has two: the generic PLEG relists the runtime every second and compares; the evented
one takes a stream of container events from the runtime. `watch_runtime` picks the evented way
for runtimes that offer `subscribe` (the simulated one), and relists otherwise (runc).
"""

from __future__ import annotations

import logging
from typing import Callable, Protocol, runtime_checkable

from kybernetes.agent.runtime.protocol import Runtime, RuntimeFailure
from kybernetes.aio.clock import Clock

log = logging.getLogger(__name__)

Notify = Callable[[str], None]
"""Notify is told the UID of a pod whose containers changed."""


@runtime_checkable
class EventSource(Protocol):
    """EventSource is a runtime that reports container exits itself."""

    def subscribe(self, callback: Notify) -> None: ...


class Relister:
    """Relister is upstream's generic PLEG: list everything each period, report pods whose containers changed."""

    def __init__(self, runtime: Runtime, notify: Notify, *, clock: Clock, period: float = 1.0) -> None:
        self._runtime = runtime
        self._notify = notify
        self._clock = clock
        self._period = period
        self._last: dict[str, frozenset[tuple[str, str]]] = {}

    async def relist(self) -> None:
        sandboxes = await self._runtime.list_sandboxes()
        owner = {s.id: s.uid for s in sandboxes}
        seen: dict[str, set[tuple[str, str]]] = {s.uid: {(s.id, s.state.value)} for s in sandboxes}
        for container in await self._runtime.list_containers():
            uid = owner.get(container.sandbox_id)
            if uid is not None:
                seen.setdefault(uid, set()).add((container.id, container.state.value))
        current = {uid: frozenset(items) for uid, items in seen.items()}
        for uid in set(current) | set(self._last):
            if current.get(uid) != self._last.get(uid):
                self._notify(uid)
        self._last = current

    async def run(self) -> None:
        while True:
            try:
                await self.relist()
            except RuntimeFailure as err:
                log.warning("relisting the runtime failed: %s", err)
            await self._clock.sleep(self._period)


async def watch_runtime(runtime: Runtime, notify: Notify, *, clock: Clock, period: float = 1.0) -> None:
    """Report container changes until cancelled, evented if the runtime can, else by relisting."""
    if isinstance(runtime, EventSource):
        runtime.subscribe(notify)
        return
    await Relister(runtime, notify, clock=clock, period=period).run()
