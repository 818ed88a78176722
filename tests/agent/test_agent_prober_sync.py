"""Probes driving pods: a failed liveness probe restarts the container, readiness drives the Ready condition.

The pod syncer, runtime manager and prober work together on the simulated runtime and a fake
clock, with a scripted prober deciding each probe's outcome.
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator

import pytest

from kybernetes.agent.hooks import SimulatedHookRunner
from kybernetes.agent.images import SimulatedImageService
from kybernetes.agent.lifecycle import PodSyncer
from kybernetes.agent.podworkers import UpdateType
from kybernetes.agent.prober.manager import ProberManager
from kybernetes.agent.runtime.simulated import SimulatedRuntime, SimulatedSettings
from kybernetes.agent.runtime.types import ContainerState
from kybernetes.agent.statusmanager import StatusManager
from kybernetes.agent.sync import NodeFacts, RuntimeManager
from kybernetes.aio.clock import FakeClock
from kybernetes.client.config import Config
from kybernetes.client.rest import Client, Request, Response
from tests.agent.agentkit import MemoryRecorder, pod
from tests.agent.proberkit import ScriptedProber, failed, settle

Obj = dict[str, Any]


class Configs:
    async def configmap(self, namespace: str, name: str) -> Obj | None:
        return None

    async def secret(self, namespace: str, name: str) -> Obj | None:
        return None


class FailingHooks(SimulatedHookRunner):
    async def run(self, pod: Obj, container: Obj, container_id: Any, handler: Obj, *, pod_ip: str) -> str | None:
        await super().run(pod, container, container_id, handler, pod_ip=pod_ip)
        return "Exec lifecycle hook ([false]) for Container \"app\" in Pod \"p_ns(uid-1)\" failed - error: exit 1"


class Node:
    """A node's pod syncer, runtime manager and prober; nothing is written anywhere."""

    def __init__(self, hooks: SimulatedHookRunner | None = None) -> None:
        self.clock = FakeClock()
        self.clock.step(60)  # the agent has been up a while: workers start without jitter

        async def server(request: Request) -> Response:
            return Response(200, b"{}")

        self.status = StatusManager(Client(Config(server="http://test"), transport=server), clock=self.clock)
        self.recorder = MemoryRecorder()
        self.prober = ScriptedProber()
        self.synced: list[str] = []
        self.probes = ProberManager(prober=self.prober, recorder=self.recorder, statuses=self.status.cached,
                                    clock=self.clock, node_name="n1", on_result=self.synced.append)
        self.runtime = SimulatedRuntime(SimulatedSettings(pod_cidr="10.42.3.0/24"), clock=self.clock)
        self.manager = RuntimeManager(runtime=self.runtime, runtime_name="simulated", images=SimulatedImageService(),
                                      hooks=hooks or SimulatedHookRunner(clock=self.clock),
                                      recorder=self.recorder,  # type: ignore[arg-type]
                                      config_source=Configs(), clock=self.clock,
                                      node=NodeFacts("n1", ("192.0.2.10",)), health=self.probes)
        self.syncer = PodSyncer(manager=self.manager, status=self.status, config_source=Configs(),
                                host_ips=("192.0.2.10",), probes=self.probes)

    async def sync(self, p: Obj) -> Obj:
        await self.syncer.sync_pod(UpdateType.SYNC, p)
        await settle()
        status = self.status.cached(p["metadata"]["uid"])
        assert status is not None
        return status

    async def step(self, seconds: int) -> None:
        for _ in range(seconds):
            self.clock.step(1)
            await settle()

    def since(self, mark: int) -> list[tuple[str, str]]:
        return [(reason, message) for _, reason, message, _ in self.recorder.events[mark:]]


@pytest.fixture
async def node() -> AsyncIterator[Node]:
    n = Node()
    task = asyncio.create_task(n.probes.run())
    await settle()
    try:
        yield n
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def probed(restart: str = "Always", **probes: Obj) -> Obj:
    p = pod("app", restart=restart)
    p["spec"]["containers"][0].update(probes)
    p["spec"]["terminationGracePeriodSeconds"] = 5
    return p


def condition(status: Obj, kind: str) -> Obj:
    return next(c for c in status["conditions"] if c["type"] == kind)


async def test_a_container_failing_its_liveness_probe_is_killed_and_restarted(node: Node) -> None:
    p = probed(livenessProbe={"exec": {"command": ["live"]}, "periodSeconds": 1, "failureThreshold": 2})
    status = await node.sync(p)
    assert status["containerStatuses"][0]["restartCount"] == 0
    mark = len(node.recorder.events)
    node.prober.script("live", failed("HTTP probe failed with statuscode: 500"),
                       failed("HTTP probe failed with statuscode: 500"))
    await node.step(2)
    assert node.synced == ["uid-1"], "the failure asks for a sync"
    status = await node.sync(p)
    assert node.since(mark)[:4] == [
        ("Unhealthy", "Liveness probe failed: HTTP probe failed with statuscode: 500"),
        ("Unhealthy", "Liveness probe failed: HTTP probe failed with statuscode: 500"),
        ("Killing", "Container app failed liveness probe, will be restarted"),
        ("Pulled", 'Container image "busybox" already present on machine'),
    ]
    assert [reason for reason, _ in node.since(mark)[4:]] == ["Created", "Started"]
    app = status["containerStatuses"][0]
    assert app["restartCount"] == 1 and "running" in app["state"]
    assert "terminated" in app["lastState"]
    await node.step(1)
    assert node.probes.failed_probe(app["containerID"].split("://")[1]) is None, "the new container is healthy"


async def test_a_pod_that_never_restarts_is_stopped_by_a_failed_liveness_probe(node: Node) -> None:
    p = probed(restart="Never", livenessProbe={"exec": {"command": ["live"]}, "periodSeconds": 1, "failureThreshold": 1})
    await node.sync(p)
    mark = len(node.recorder.events)
    node.prober.script("live", failed("down"))
    await node.step(1)
    await node.sync(p)
    assert node.since(mark) == [("Unhealthy", "Liveness probe failed: down"), ("Killing", "Stopping container app")]
    runtime = await node.manager.pod_status("uid-1")
    assert [c.state for c in runtime.containers] == [ContainerState.EXITED]


async def test_liveness_restarts_in_a_loop_back_off(node: Node) -> None:
    p = probed(livenessProbe={"exec": {"command": ["live"]}, "periodSeconds": 1, "failureThreshold": 1})
    await node.sync(p)
    for _ in range(3):
        node.prober.script("live", failed("down"))
        await node.step(1)
        status = await node.sync(p)
    app = status["containerStatuses"][0]
    assert app["restartCount"] == 2, "killed three times, restarted twice"
    assert app["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert node.recorder.events[-1][1:3] == ("BackOff", "Back-off restarting failed container app in pod p_ns(uid-1)")


async def test_readiness_drives_the_ready_conditions_without_restarts(node: Node) -> None:
    p = probed(readinessProbe={"exec": {"command": ["ready"]}, "periodSeconds": 1, "failureThreshold": 1})
    node.prober.script("ready", failed("cat: can't open '/tmp/ready': No such file or directory"))
    status = await node.sync(p)
    assert condition(status, "Ready")["status"] == "False"
    assert condition(status, "ContainersReady")["message"] == "containers with unready status: [app]"
    status = await node.sync(p)  # the first verdict asked for a sync; still failing
    assert status["containerStatuses"][0]["ready"] is False
    await node.step(1)
    status = await node.sync(p)
    assert condition(status, "Ready")["status"] == "True" and status["containerStatuses"][0]["ready"] is True
    node.prober.script("ready", failed("gone"))
    await node.step(1)
    status = await node.sync(p)
    assert condition(status, "Ready")["status"] == "False"
    assert status["containerStatuses"][0]["restartCount"] == 0
    assert [(r, m) for _, r, m, _ in node.recorder.events if r == "Unhealthy"] == [
        ("Unhealthy", "Readiness probe failed: cat: can't open '/tmp/ready': No such file or directory"),
        ("Unhealthy", "Readiness probe failed: gone")]


async def test_a_container_is_not_started_until_its_startup_probe_succeeds(node: Node) -> None:
    p = probed(startupProbe={"exec": {"command": ["start"]}, "periodSeconds": 1, "failureThreshold": 5})
    node.prober.script("start", failed("not yet"))
    status = await node.sync(p)
    app = status["containerStatuses"][0]
    assert "running" in app["state"] and app["started"] is False and app["ready"] is False
    await node.step(1)  # the worker began before the container ran: its first probe comes a period later
    status = await node.sync(p)
    assert status["containerStatuses"][0]["started"] is False
    await node.step(1)
    status = await node.sync(p)
    assert status["containerStatuses"][0]["started"] is True and status["containerStatuses"][0]["ready"] is True


async def test_a_failed_probe_kill_uses_the_probes_own_grace_period(node: Node) -> None:
    p = probed(livenessProbe={"exec": {"command": ["live"]}, "terminationGracePeriodSeconds": 2})
    container = p["spec"]["containers"][0]
    assert node.manager.grace_period(p, container, "liveness") == 2
    assert node.manager.grace_period(p, container, "startup") == 5, "no startup probe: the pod's"
    assert node.manager.grace_period(p, container) == 5


async def test_termination_stops_the_probes() -> None:
    n = Node()
    task = asyncio.create_task(n.probes.run())
    try:
        p = probed(livenessProbe={"exec": {"command": ["live"]}, "periodSeconds": 1},
                   readinessProbe={"exec": {"command": ["ready"]}, "periodSeconds": 1})
        await n.sync(p)
        assert len(n.probes.workers()) == 2
        await n.syncer.sync_terminating_pod(p, 1.0)
        await settle()
        assert n.probes.workers() == []
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_failed_post_start_hook_reports_the_hook_output_in_the_status_not_the_event() -> None:
    n = Node(hooks=FailingHooks())
    p = probed()
    p["spec"]["containers"][0]["lifecycle"] = {"postStart": {"exec": {"command": ["false"]}}}
    status = await n.sync(p)
    events = [(reason, message) for _, reason, message, _ in n.recorder.events]
    assert ("FailedPostStartHook", "PostStartHook failed") in events
    assert ("Killing", "FailedPostStartHook") in events
    app = status["containerStatuses"][0]
    assert app["state"]["waiting"]["reason"] == "PostStartHookError"
    assert app["state"]["waiting"]["message"].startswith('Exec lifecycle hook ([false]) for Container "app"')


async def test_a_failed_pre_stop_hook_is_reported_and_the_container_still_stopped() -> None:
    n = Node(hooks=FailingHooks())
    p = probed()
    p["spec"]["containers"][0]["lifecycle"] = {"preStop": {"exec": {"command": ["false"]}}}
    await n.sync(p)
    await n.manager.kill_pod(p, await n.manager.pod_status("uid-1"), grace_override=None)
    events = [(reason, message) for _, reason, message, _ in n.recorder.events]
    assert events[-2:] == [("Killing", "Stopping container app"), ("FailedPreStopHook", "PreStopHook failed")]
    assert all(c.state is ContainerState.EXITED for c in (await n.manager.pod_status("uid-1")).containers)


def test_a_simulated_node_answers_probes_instead_of_connecting_to_pod_ips() -> None:
    from kybernetes.agent.agent import AgentSettings, NodeAgent, RuntimeInfo
    from kybernetes.agent.events import EventRecorder
    from kybernetes.agent.node import simulated_machine_info
    from kybernetes.agent.prober.probes import RuntimeProber, SimulatedProber
    from kybernetes.agent.runtime.simulated import RUNTIME_NAME, RUNTIME_VERSION

    async def server(request: Request) -> Response:
        return Response(200, b"{}")

    client = Client(Config(server="http://test"), transport=server)

    def agent(name: str) -> NodeAgent:
        return NodeAgent(client, AgentSettings(node_name="n1", node_ips=("127.0.0.1",)),
                         runtime=SimulatedRuntime(), runtime_info=RuntimeInfo(name, RUNTIME_VERSION),
                         images=SimulatedImageService(), machine=simulated_machine_info("n1"),
                         recorder=EventRecorder(client), status_manager=StatusManager(client))

    assert isinstance(agent(RUNTIME_NAME).prober.prober, SimulatedProber)
    assert isinstance(agent("runc").prober.prober, RuntimeProber)
