"""podworkers: one worker per pod UID driving the pod through syncing, terminating and terminated.

Upstream's pod_workers.go, reshaped for asyncio. Each pod has a state and at most one pending
update; a newer update replaces the pending one. A pod's worker task exists only while the pod
has work, so a node with many idle pods holds timers, not tasks. The state machine:

    SYNCING ──(deletion, kill, terminal phase)──▶ TERMINATING ──(containers stopped)──▶ TERMINATED

A pod never goes back: once termination is requested it is terminated, and a terminated UID is
never started again. Each state has one method of the `PodLifecycle` protocol; the workers only
decide which to call and when to call again (resync, error back-off, requeue after back-off).
"""

from __future__ import annotations

import asyncio
import collections
import enum
import logging
import random
from dataclasses import dataclass
from typing import Any, Protocol

from kybernetes.aio.clock import Clock, RealClock, TimerHandle

log = logging.getLogger(__name__)

Obj = dict[str, Any]

TERMINAL_PHASES = ("Succeeded", "Failed")


class PodState(enum.Enum):
    """PodState is where a pod is in its life on this node."""

    SYNCING = "syncing"
    TERMINATING = "terminating"
    TERMINATED = "terminated"


class UpdateType(enum.Enum):
    """UpdateType says why a pod is being synced (upstream's SyncPodType)."""

    CREATE = "create"
    UPDATE = "update"
    SYNC = "sync"
    KILL = "kill"


@dataclass(frozen=True, slots=True)
class PodUpdate:
    """PodUpdate asks the pod's worker to act on the newest pod object."""

    type: UpdateType
    pod: Obj
    grace_period: float | None = None
    """For KILL: a grace period that may only shorten the pod's own."""


@dataclass(frozen=True, slots=True)
class SyncOutcome:
    """SyncOutcome is what syncing a pod reports: it reached a terminal phase, or when to sync again."""

    terminal: bool = False
    requeue_after: float | None = None


class PodLifecycle(Protocol):
    """PodLifecycle handles each state; the methods may raise to be retried after a back-off."""

    async def sync_pod(self, update: UpdateType, pod: Obj) -> SyncOutcome:
        """Bring the pod to its desired state (containers started, status reported)."""
        ...

    async def sync_terminating_pod(self, pod: Obj, grace_period: float) -> None:
        """Stop every container within `grace_period` seconds; return once none runs."""
        ...

    async def sync_terminated_pod(self, pod: Obj) -> None:
        """Report the final status and release what the pod held on the node."""
        ...

    async def cleanup_pod(self, uid: str) -> None:
        """Forget the pod entirely: its API object is gone and it is terminated."""
        ...


def uid_of(pod: Obj) -> str:
    return str((pod.get("metadata") or {}).get("uid", ""))


def jitter(seconds: float, factor: float = 0.5) -> float:
    """Upstream's wait.Jitter: somewhere in [seconds, seconds * (1 + factor))."""
    return seconds * (1 + factor * random.random())


@dataclass
class _Worker:
    uid: str
    pod: Obj
    state: PodState = PodState.SYNCING
    pending: PodUpdate | None = None
    task: asyncio.Task[None] | None = None
    work: asyncio.Task[Any] | None = None
    termination_requested: bool = False
    grace_period: float = 0.0
    deleted: bool = False
    terminated_synced: bool = False
    timer: TimerHandle | None = None
    errors: int = 0


class PodWorkers:
    """PodWorkers owns the state of every pod on the node and runs their lifecycle methods."""

    def __init__(self, lifecycle: PodLifecycle, *, clock: Clock | None = None, resync_interval: float = 60.0,
                 error_backoff: float = 10.0, max_error_backoff: float = 300.0) -> None:
        self._lifecycle = lifecycle
        self._clock: Clock = clock or RealClock()
        self._resync = resync_interval
        self._error_backoff = error_backoff
        self._max_error_backoff = max_error_backoff
        self._workers: dict[str, _Worker] = {}
        self._finished: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._group: asyncio.TaskGroup | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    # -- queries -----------------------------------------------------------------------------

    def state(self, uid: str) -> PodState | None:
        """The pod's state, or None if no worker knows it (never seen, or cleaned up)."""
        worker = self._workers.get(uid)
        return worker.state if worker is not None else None

    def grace_period(self, uid: str) -> float | None:
        worker = self._workers.get(uid)
        return worker.grace_period if worker is not None and worker.termination_requested else None

    def uids(self) -> list[str]:
        return list(self._workers)

    def is_finished(self, uid: str) -> bool:
        """True once the pod was terminated and cleaned up."""
        return uid in self._finished

    # -- updates --------------------------------------------------------------------------------

    def update(self, update: PodUpdate) -> None:
        """Hand the pod's worker the newest update; never blocks."""
        uid = uid_of(update.pod)
        if not uid or uid in self._finished:
            return
        worker = self._workers.get(uid)
        if worker is None:
            worker = self._workers[uid] = _Worker(uid, update.pod)
        worker.pod = update.pod
        meta = update.pod.get("metadata") or {}
        phase = (update.pod.get("status") or {}).get("phase")
        if update.type is UpdateType.KILL or meta.get("deletionTimestamp") or phase in TERMINAL_PHASES:
            self._request_termination(worker, update)
        if worker.pending is None or update.type is not UpdateType.SYNC or worker.pending.type is UpdateType.SYNC:
            worker.pending = update
        else:
            # A periodic resync must not hide a real change already waiting.
            worker.pending = PodUpdate(worker.pending.type, update.pod, worker.pending.grace_period)
        self._kick(worker)

    def refresh(self, pod: Obj) -> None:
        """Keep the newest pod object for the next sync without asking for one (a status-only change)."""
        worker = self._workers.get(uid_of(pod))
        if worker is not None:
            worker.pod = pod
            phase = (pod.get("status") or {}).get("phase")
            if phase in TERMINAL_PHASES and not worker.termination_requested:
                # Someone else declared the pod finished: it must not run on.
                self.update(PodUpdate(UpdateType.UPDATE, pod))

    def removed(self, pod: Obj) -> None:
        """The pod's API object is gone: terminate it if needed, then clean up."""
        uid = uid_of(pod)
        worker = self._workers.get(uid)
        if worker is None:
            return
        worker.deleted = True
        self.update(PodUpdate(UpdateType.KILL, pod))

    def _request_termination(self, worker: _Worker, update: PodUpdate) -> None:
        grace = self._effective_grace(worker, update)
        shortened = worker.termination_requested and worker.grace_period and grace < worker.grace_period
        worker.grace_period = grace
        worker.termination_requested = True
        if shortened and worker.state is PodState.TERMINATING and worker.work is not None and not worker.work.done():
            # Stopping under the old, longer grace period: start over with the shorter one.
            worker.work.cancel()

    @staticmethod
    def _effective_grace(worker: _Worker, update: PodUpdate) -> float:
        """Upstream's calculateEffectiveGracePeriod: only ever shorter, never below one second."""
        grace = worker.grace_period if worker.termination_requested else 0.0
        meta = update.pod.get("metadata") or {}
        override = meta.get("deletionGracePeriodSeconds")
        if override is not None and (grace == 0 or override < grace):
            grace = float(override)
        if update.grace_period is not None and (grace == 0 or update.grace_period < grace):
            grace = update.grace_period
        if grace == 0:
            spec_grace = (update.pod.get("spec") or {}).get("terminationGracePeriodSeconds")
            grace = float(spec_grace) if spec_grace is not None else 30.0
        return max(grace, 1.0)

    def _kick(self, worker: _Worker) -> None:
        if worker.task is not None or self._group is None:
            return
        self._idle.clear()
        worker.task = self._group.create_task(self._run(worker), name=f"pod worker {worker.uid}")

    def _schedule(self, worker: _Worker, delay: float) -> None:
        if worker.timer is not None:
            worker.timer.cancel()

        def fire() -> None:
            worker.timer = None
            if self._workers.get(worker.uid) is worker:
                self.update(PodUpdate(UpdateType.SYNC, worker.pod))

        worker.timer = self._clock.call_later(delay, fire)

    # -- the worker ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Run workers until cancelled; updates received before start are processed now."""
        async with asyncio.TaskGroup() as group:
            self._group = group
            try:
                for worker in list(self._workers.values()):
                    if worker.pending is not None:
                        self._kick(worker)
                await asyncio.Future()
            finally:
                self._group = None
                for worker in self._workers.values():
                    if worker.timer is not None:
                        worker.timer.cancel()

    async def wait_idle(self) -> None:
        """Wait until no worker has work in hand (timers may still be armed); for tests."""
        while any(w.task is not None for w in self._workers.values()):
            self._idle.clear()
            await self._idle.wait()

    async def _run(self, worker: _Worker) -> None:
        try:
            while worker.pending is not None:
                update, worker.pending = worker.pending, None
                if worker.timer is not None:
                    worker.timer.cancel()
                    worker.timer = None
                try:
                    await self._step(worker, update)
                    worker.errors = 0
                except asyncio.CancelledError:
                    if worker.work is not None and worker.work.cancelled() and asyncio.current_task().cancelling() == 0:  # type: ignore[union-attr]
                        # Only the terminating work was cancelled (a shorter grace period): go again.
                        worker.pending = worker.pending or PodUpdate(UpdateType.SYNC, worker.pod)
                        continue
                    raise
                except Exception as err:  # noqa: BLE001 - a broken sync is retried, never fatal
                    delay = min(self._max_error_backoff, jitter(self._error_backoff) * 2 ** min(worker.errors, 5))
                    worker.errors += 1
                    log.warning("pod %s: %s sync failed (retry in %.1fs): %s", worker.uid, worker.state.value, delay, err,
                                exc_info=log.isEnabledFor(logging.DEBUG))
                    self._schedule(worker, delay)
                finally:
                    worker.work = None
        finally:
            worker.task = None
            if not any(w.task is not None for w in self._workers.values()):
                self._idle.set()

    async def _step(self, worker: _Worker, update: PodUpdate) -> None:
        if worker.state is PodState.SYNCING and worker.termination_requested:
            worker.state = PodState.TERMINATING
        if worker.state is PodState.SYNCING:
            outcome = await self._lifecycle.sync_pod(update.type, worker.pod)
            if outcome.terminal:
                worker.termination_requested = True
                worker.grace_period = worker.grace_period or self._effective_grace(worker, PodUpdate(UpdateType.SYNC, worker.pod))
                worker.state = PodState.TERMINATING
                worker.pending = worker.pending or PodUpdate(UpdateType.SYNC, worker.pod)
                return
            delay = outcome.requeue_after if outcome.requeue_after is not None else jitter(self._resync)
            if worker.pending is None:
                self._schedule(worker, delay)
            return
        if worker.state is PodState.TERMINATING:
            worker.work = asyncio.ensure_future(self._lifecycle.sync_terminating_pod(worker.pod, worker.grace_period))
            await worker.work
            worker.state = PodState.TERMINATED
            worker.pending = worker.pending or PodUpdate(UpdateType.SYNC, worker.pod)
            return
        if not worker.terminated_synced:
            await self._lifecycle.sync_terminated_pod(worker.pod)
            worker.terminated_synced = True
        if worker.deleted:
            await self._lifecycle.cleanup_pod(worker.uid)
            del self._workers[worker.uid]
            self._finished[worker.uid] = None
            while len(self._finished) > 10_000:
                self._finished.popitem(last=False)
