"""Pod workers: the syncing → terminating → terminated state machine, one worker per pod, newest update wins."""

from __future__ import annotations

import asyncio
import copy
from typing import AsyncIterator

import pytest

from kybernetes.agent.podworkers import PodState, PodUpdate, PodWorkers, SyncOutcome, UpdateType
from kybernetes.aio.clock import FakeClock
from tests.agent.agentkit import pod


class FakeLifecycle:
    """FakeLifecycle records every call; `gate` (when set) holds sync_pod until released."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.outcome = SyncOutcome(requeue_after=None)
        self.gate: asyncio.Event | None = None
        self.fail_next = 0
        self.terminating_started = asyncio.Event()
        self.terminating_gate: asyncio.Event | None = None

    async def sync_pod(self, update: UpdateType, p: dict) -> SyncOutcome:
        self.calls.append(("sync", update, p["metadata"].get("resourceVersion")))
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_next:
            self.fail_next -= 1
            raise RuntimeError("boom")
        return self.outcome

    async def sync_terminating_pod(self, p: dict, grace_period: float) -> None:
        self.calls.append(("terminating", grace_period))
        self.terminating_started.set()
        if self.terminating_gate is not None:
            await self.terminating_gate.wait()

    async def sync_terminated_pod(self, p: dict) -> None:
        self.calls.append(("terminated",))

    async def cleanup_pod(self, uid: str) -> None:
        self.calls.append(("cleanup", uid))


@pytest.fixture
async def setup() -> AsyncIterator[tuple[PodWorkers, FakeLifecycle, FakeClock]]:
    clock = FakeClock()
    lifecycle = FakeLifecycle()
    workers = PodWorkers(lifecycle, clock=clock, resync_interval=60, error_backoff=10)
    task = asyncio.create_task(workers.run())
    await asyncio.sleep(0)
    try:
        yield workers, lifecycle, clock
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def version(p: dict, rv: str) -> dict:
    out = copy.deepcopy(p)
    out["metadata"]["resourceVersion"] = rv
    return out


def deleting(p: dict, grace: int) -> dict:
    out = copy.deepcopy(p)
    out["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:30Z"
    out["metadata"]["deletionGracePeriodSeconds"] = grace
    return out


async def test_a_new_pod_is_synced_and_resynced_on_its_interval(setup) -> None:
    workers, lifecycle, clock = setup
    workers.update(PodUpdate(UpdateType.CREATE, version(pod("app"), "1")))
    await workers.wait_idle()
    assert lifecycle.calls == [("sync", UpdateType.CREATE, "1")]
    assert workers.state("uid-1") is PodState.SYNCING
    clock.step(95)  # past the jittered 60 s resync
    await asyncio.sleep(0)
    await workers.wait_idle()
    assert lifecycle.calls[1:] == [("sync", UpdateType.SYNC, "1")]


async def test_a_sync_asking_to_be_requeued_is_synced_again_then(setup) -> None:
    workers, lifecycle, clock = setup
    lifecycle.outcome = SyncOutcome(requeue_after=3)
    workers.update(PodUpdate(UpdateType.CREATE, pod("app")))
    await workers.wait_idle()
    clock.step(2.9)
    await asyncio.sleep(0)
    assert len(lifecycle.calls) == 1
    clock.step(0.2)
    await asyncio.sleep(0)
    await workers.wait_idle()
    assert len(lifecycle.calls) == 2


async def test_the_newest_update_replaces_a_pending_one(setup) -> None:
    workers, lifecycle, _ = setup
    lifecycle.gate = asyncio.Event()
    workers.update(PodUpdate(UpdateType.CREATE, version(pod("app"), "1")))
    await asyncio.sleep(0)
    for rv in ("2", "3", "4"):
        workers.update(PodUpdate(UpdateType.UPDATE, version(pod("app"), rv)))
    lifecycle.gate.set()
    await workers.wait_idle()
    assert lifecycle.calls == [("sync", UpdateType.CREATE, "1"), ("sync", UpdateType.UPDATE, "4")]


async def test_deletion_terminates_with_the_deletion_grace_period_then_cleans_up_when_gone(setup) -> None:
    workers, lifecycle, _ = setup
    p = pod("app")
    workers.update(PodUpdate(UpdateType.CREATE, p))
    await workers.wait_idle()
    workers.update(PodUpdate(UpdateType.UPDATE, deleting(p, 7)))
    await workers.wait_idle()
    assert lifecycle.calls[1:] == [("terminating", 7.0), ("terminated",)]
    assert workers.state("uid-1") is PodState.TERMINATED
    workers.removed(deleting(p, 7))
    await workers.wait_idle()
    assert lifecycle.calls[-1] == ("cleanup", "uid-1")
    assert workers.state("uid-1") is None and workers.is_finished("uid-1")
    workers.update(PodUpdate(UpdateType.UPDATE, p))
    await workers.wait_idle()
    assert lifecycle.calls[-1] == ("cleanup", "uid-1"), "a finished UID never starts again"


async def test_a_pod_that_reaches_a_terminal_phase_is_terminated_and_never_synced_again(setup) -> None:
    workers, lifecycle, clock = setup
    lifecycle.outcome = SyncOutcome(terminal=True)
    workers.update(PodUpdate(UpdateType.CREATE, pod("app", terminationGracePeriodSeconds=12)))
    await workers.wait_idle()
    assert lifecycle.calls[1:] == [("terminating", 12.0), ("terminated",)]
    workers.update(PodUpdate(UpdateType.UPDATE, pod("app")))
    clock.step(1000)
    await asyncio.sleep(0)
    await workers.wait_idle()
    assert [c[0] for c in lifecycle.calls].count("sync") == 1


async def test_a_shorter_grace_period_restarts_termination_with_it(setup) -> None:
    workers, lifecycle, _ = setup
    lifecycle.terminating_gate = asyncio.Event()
    p = pod("app")
    workers.update(PodUpdate(UpdateType.UPDATE, deleting(p, 30)))
    await lifecycle.terminating_started.wait()
    workers.update(PodUpdate(UpdateType.UPDATE, deleting(p, 5)))
    workers.update(PodUpdate(UpdateType.UPDATE, deleting(p, 60)))  # longer: ignored
    await asyncio.sleep(0)
    lifecycle.terminating_gate.set()
    await workers.wait_idle()
    assert [c for c in lifecycle.calls if c[0] == "terminating"] == [("terminating", 30.0), ("terminating", 5.0)]
    assert workers.grace_period("uid-1") == 5.0


async def test_a_force_deleted_pod_gets_its_spec_grace_period_and_at_least_one_second(setup) -> None:
    workers, lifecycle, _ = setup
    workers.update(PodUpdate(UpdateType.KILL, deleting(pod("app", terminationGracePeriodSeconds=9), 0)))
    workers.update(PodUpdate(UpdateType.KILL, deleting(pod("app", uid="uid-2", terminationGracePeriodSeconds=0), 0)))
    await workers.wait_idle()
    assert ("terminating", 9.0) in lifecycle.calls and ("terminating", 1.0) in lifecycle.calls


async def test_a_failing_sync_is_retried_after_a_back_off(setup) -> None:
    workers, lifecycle, clock = setup
    lifecycle.fail_next = 1
    workers.update(PodUpdate(UpdateType.CREATE, pod("app")))
    await workers.wait_idle()
    assert len(lifecycle.calls) == 1
    clock.step(9.9)
    await asyncio.sleep(0)
    assert len(lifecycle.calls) == 1
    clock.step(6)
    await asyncio.sleep(0)
    await workers.wait_idle()
    assert len(lifecycle.calls) == 2


async def test_each_pod_has_its_own_worker(setup) -> None:
    workers, lifecycle, _ = setup
    lifecycle.gate = asyncio.Event()
    workers.update(PodUpdate(UpdateType.CREATE, pod("app", uid="a")))
    workers.update(PodUpdate(UpdateType.CREATE, pod("app", uid="b")))
    await asyncio.sleep(0)
    assert len(lifecycle.calls) == 2, "a blocked pod does not hold up another"
    lifecycle.gate.set()
    await workers.wait_idle()
    assert sorted(workers.uids()) == ["a", "b"]
