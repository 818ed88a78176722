"""Probe workers and the prober manager on a fake clock: thresholds, delays, startup gating, readiness, events."""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator

import pytest

from kybernetes.agent.prober.manager import ProberManager
from kybernetes.agent.prober.probes import Outcome, ProbeResult
from kybernetes.agent.prober.results import Result
from kybernetes.agent.prober.worker import ProbeType
from kybernetes.aio.clock import FakeClock
from tests.agent.agentkit import MemoryRecorder, pod
from tests.agent.proberkit import OK, ScriptedProber, failed, settle

Obj = dict[str, Any]
STARTED_AT = "2024-01-01T00:01:00Z"
"""Containers start a minute after the fake clock's epoch, once the agent has been up a while (no start-up jitter)."""


def probe(name: str, **timing: int) -> Obj:
    return {"exec": {"command": [name]}, **timing}


def probed_pod(**probes: Obj) -> Obj:
    p = pod("app")
    p["spec"]["containers"][0].update(probes)
    return p


def container_status(cid: str = "c1", *, running: bool = True, started: bool = True) -> Obj:
    state = {"running": {"startedAt": STARTED_AT}} if running else {"terminated": {"exitCode": 137, "reason": "Error"}}
    return {"name": "app", "containerID": f"simulated://{cid}", "state": state, "started": started and running}


class Node:
    """One node's prober with the pod statuses it reads kept in a dict."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.prober = ScriptedProber()
        self.recorder = MemoryRecorder()
        self.statuses: dict[str, Obj] = {}
        self.synced: list[str] = []
        self.manager = ProberManager(prober=self.prober, recorder=self.recorder, statuses=self.statuses.get,
                                     clock=self.clock, node_name="n1", on_result=self.synced.append)

    def run(self, *containers: Obj, uid: str = "uid-1") -> None:
        self.statuses[uid] = {"phase": "Running", "podIP": "10.42.0.5", "containerStatuses": list(containers)}

    async def step(self, seconds: float) -> None:
        """Move the clock in one-second steps, letting the workers run after each."""
        for _ in range(int(seconds)):
            self.clock.step(1)
            await settle()

    def events(self) -> list[tuple[str, str]]:
        return [(reason, message) for _, reason, message, _ in self.recorder.events]


@pytest.fixture
async def node() -> AsyncIterator[Node]:
    n = Node()
    n.clock.step(60)
    task = asyncio.create_task(n.manager.run())
    await settle()
    try:
        yield n
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_liveness_turns_failed_only_after_failure_threshold_failures_in_a_row(node: Node) -> None:
    p = probed_pod(livenessProbe=probe("live", periodSeconds=1, failureThreshold=3))
    node.prober.script("live", failed("boom"), failed("boom"), OK, failed("boom"), failed("boom"), failed("boom"))
    node.run(container_status())
    node.manager.add_pod(p)
    await node.step(5)
    assert node.manager.liveness.get("c1") is Result.SUCCESS, "a success in between starts the count over"
    assert node.manager.failed_probe("c1") is None and node.synced == []
    await node.step(1)
    assert node.manager.failed_probe("c1") == "liveness"
    assert node.synced == ["uid-1"], "a liveness failure syncs the pod, to kill the container"
    assert node.events() == [("Unhealthy", "Liveness probe failed: boom")] * 5
    assert node.recorder.events[0][3] == "spec.containers{app}"
    calls = len(node.prober.calls)
    await node.step(5)
    assert len(node.prober.calls) == calls, "the failed container is not probed again"
    node.run(container_status("c2"))
    await node.step(1)
    assert node.manager.liveness.get("c2") is Result.SUCCESS and node.manager.liveness.get("c1") is None
    assert node.prober.calls[-1] == ("live", "c2"), "its replacement is probed"


async def test_no_probe_runs_before_the_initial_delay(node: Node) -> None:
    node.run(container_status())
    node.manager.add_pod(probed_pod(livenessProbe=probe("live", initialDelaySeconds=5, periodSeconds=1)))
    # Container started at the agent's 60 s; the clock is at 60 s.
    await node.step(4)
    assert node.prober.calls == []
    await node.step(1)
    assert node.prober.calls == [("live", "c1")]


async def test_the_period_defaults_to_ten_seconds(node: Node) -> None:
    node.run(container_status())
    node.manager.add_pod(probed_pod(livenessProbe=probe("live")))
    await node.step(1)
    assert len(node.prober.calls) == 1
    await node.step(9)
    assert len(node.prober.calls) == 1
    await node.step(1)
    assert len(node.prober.calls) == 2


async def test_readiness_is_false_until_success_threshold_successes_and_falls_with_a_failure(node: Node) -> None:
    p = probed_pod(readinessProbe=probe("ready", periodSeconds=1, successThreshold=2, failureThreshold=1))
    node.prober.script("ready", OK, OK, failed("not yet"))
    status = container_status()
    node.run(status)
    node.manager.add_pod(p)
    container = p["spec"]["containers"][0]
    await settle()
    assert len(node.prober.calls) == 1, "a new worker probes at once"
    assert node.manager.readiness.get("c1") is Result.FAILURE
    assert node.manager.ready(p, container, status) is False, "one success of two"
    await node.step(1)
    assert node.manager.ready(p, container, status) is True
    await node.step(1)
    assert node.manager.ready(p, container, status) is False
    assert node.events() == [("Unhealthy", "Readiness probe failed: not yet")]
    assert node.synced == ["uid-1"] * 3, "first verdict, ready, unready: each change syncs the pod"
    assert node.manager.failed_probe("c1") is None, "readiness never restarts a container"


async def test_asking_for_readiness_probes_a_new_container_at_once(node: Node) -> None:
    p = probed_pod(readinessProbe=probe("ready", periodSeconds=30))
    node.run(container_status())
    node.manager.add_pod(p)
    await node.step(1)
    node.run(container_status("c2"))
    status = container_status("c2")
    assert node.manager.ready(p, p["spec"]["containers"][0], status) is False
    await settle()
    assert node.prober.calls[-1] == ("ready", "c2"), "probed without waiting for the period"
    assert node.manager.ready(p, p["spec"]["containers"][0], status) is True


async def test_a_startup_probe_holds_back_liveness_and_readiness_until_it_succeeds(node: Node) -> None:
    p = probed_pod(startupProbe=probe("start", periodSeconds=1, failureThreshold=10),
                   livenessProbe=probe("live", periodSeconds=1), readinessProbe=probe("ready", periodSeconds=1))
    node.prober.script("start", failed("starting"), failed("starting"))
    status = container_status(started=False)
    node.run(status)
    node.manager.add_pod(p)
    container = p["spec"]["containers"][0]
    assert node.manager.started(p, container, status) is False
    await node.step(2)
    assert {name for name, _ in node.prober.calls} == {"start"}
    assert node.manager.started(p, container, status) is False
    await node.step(1)
    assert node.manager.started(p, container, status) is True
    # The agent syncs the pod and reports it started; from then on the other probes run.
    node.run(container_status(started=True))
    calls = len(node.prober.calls)
    await node.step(2)
    names = [name for name, _ in node.prober.calls[calls:]]
    assert "start" not in names and {"live", "ready"} <= set(names)


async def test_a_startup_probe_failing_past_its_threshold_fails_the_container(node: Node) -> None:
    p = probed_pod(startupProbe=probe("start", periodSeconds=1, failureThreshold=2))
    node.prober.script("start", failed("no"), failed("no"))
    node.run(container_status(started=False))
    node.manager.add_pod(p)
    await node.step(2)
    assert node.manager.failed_probe("c1") == "startup"
    assert node.events() == [("Unhealthy", "Startup probe failed: no")] * 2


async def test_a_probe_that_cannot_run_is_reported_and_its_result_thrown_away(node: Node) -> None:
    p = probed_pod(livenessProbe=probe("live", periodSeconds=1, failureThreshold=1))
    node.prober.script("live", *[Outcome(ProbeResult.UNKNOWN, error="container is not running")] * 3)
    node.run(container_status())
    node.manager.add_pod(p)
    await node.step(1)
    assert len(node.prober.calls) == 3, "an error is retried three times within one period"
    assert node.events() == [("Unhealthy", "Liveness probe errored: container is not running")]
    assert node.manager.failed_probe("c1") is None


async def test_a_redirect_elsewhere_is_a_success_with_a_warning(node: Node) -> None:
    p = probed_pod(readinessProbe=probe("ready", periodSeconds=1))
    node.prober.script("ready", Outcome(ProbeResult.WARNING, "Probe terminated redirects, Response body: "))
    node.run(container_status())
    node.manager.add_pod(p)
    await node.step(1)
    assert node.manager.readiness.get("c1") is Result.SUCCESS
    assert node.events() == [("ProbeWarning", "Readiness probe warning: Probe terminated redirects, Response body: ")]


async def test_without_probes_a_running_container_is_started_and_ready(node: Node) -> None:
    p = pod("app")
    node.manager.add_pod(p)
    assert node.manager.workers() == []
    container, status = p["spec"]["containers"][0], container_status()
    assert node.manager.started(p, container, status) and node.manager.ready(p, container, status)
    stopped = container_status(running=False)
    assert not node.manager.started(p, container, stopped) and not node.manager.ready(p, container, stopped)


async def test_a_deleted_pod_is_no_longer_checked_for_liveness(node: Node) -> None:
    p = probed_pod(livenessProbe=probe("live", periodSeconds=1, failureThreshold=1),
                   readinessProbe=probe("ready", periodSeconds=1))
    node.run(container_status())
    node.manager.add_pod(p)
    await node.step(1)
    deleting = probed_pod(livenessProbe=probe("live", periodSeconds=1, failureThreshold=1),
                          readinessProbe=probe("ready", periodSeconds=1))
    deleting["metadata"]["deletionTimestamp"] = "2024-01-01T00:02:00Z"
    node.manager.add_pod(deleting)
    node.prober.script("live", failed("going"))
    await node.step(2)
    assert node.manager.failed_probe("c1") is None
    assert [key[2] for key in node.manager.workers()] == [ProbeType.READINESS]


async def test_termination_stops_liveness_then_every_probe(node: Node) -> None:
    p = probed_pod(livenessProbe=probe("live", periodSeconds=1), readinessProbe=probe("ready", periodSeconds=1),
                   startupProbe=probe("start", periodSeconds=1))
    node.run(container_status())
    node.manager.add_pod(p)
    await node.step(1)
    node.manager.stop_liveness_and_startup(p)
    await settle()
    assert [key[2] for key in node.manager.workers()] == [ProbeType.READINESS]
    node.manager.remove_pod(p)
    await settle()
    assert node.manager.workers() == [] and len(node.manager.readiness) == 0
    calls = len(node.prober.calls)
    await node.step(3)
    assert len(node.prober.calls) == calls


async def test_a_container_that_stopped_for_good_is_no_longer_probed(node: Node) -> None:
    p = probed_pod(readinessProbe=probe("ready", periodSeconds=1))
    p["spec"]["restartPolicy"] = "Never"
    node.run(container_status(running=False))
    node.manager.add_pod(p)
    await node.step(1)
    assert node.manager.workers() == [] and node.prober.calls == []
    node.manager.add_pod(p)
    assert node.manager.workers() == [], "a later sync does not start it again"


async def test_a_probe_that_raises_does_not_stop_the_worker_or_others(node: Node) -> None:
    class Broken(ScriptedProber):
        async def probe(self, probe: Obj, **kwargs: Any) -> Outcome:
            if probe["exec"]["command"][0] == "broken":
                self.calls.append(("broken", ""))
                raise RuntimeError("bug")
            return await super().probe(probe, **kwargs)

    node.manager.prober = node.prober = Broken()
    p = probed_pod(livenessProbe=probe("broken", periodSeconds=1), readinessProbe=probe("ready", periodSeconds=1))
    node.run(container_status())
    node.manager.add_pod(p)
    await node.step(3)
    assert node.prober.calls.count(("broken", "")) == 3
    assert node.manager.readiness.get("c1") is Result.SUCCESS
