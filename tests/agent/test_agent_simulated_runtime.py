"""The simulated runtime: the Runtime protocol in memory, with scripted exits and no processes."""

from __future__ import annotations

import asyncio
import inspect

import pytest

from kybernetes.agent.runtime.protocol import InvalidState, NotFound, Runtime, RuntimeFailure
from kybernetes.agent.runtime.simulated import (
    ScriptedExit,
    SimulatedRuntime,
    SimulatedSettings,
    parse_exits,
    parse_terminations,
)
from kybernetes.agent.runtime.types import ContainerConfig, ContainerState, PodSandboxConfig, SandboxState
from kybernetes.aio.clock import FakeClock


def test_it_implements_every_method_of_the_protocol() -> None:
    wanted = {name for name, member in vars(Runtime).items() if inspect.iscoroutinefunction(member)}
    for name in sorted(wanted):
        ours = getattr(SimulatedRuntime, name)
        assert inspect.iscoroutinefunction(ours), name
        assert list(inspect.signature(ours).parameters) == list(inspect.signature(getattr(Runtime, name)).parameters), name


@pytest.mark.parametrize(("text", "expected"), [
    ("app=1@2", {"app": ScriptedExit(1, "Error", 2.0)}),
    ("app=0@0.5, init=3@1", {"app": ScriptedExit(0, "Completed", 0.5), "init": ScriptedExit(3, "Error", 1.0)}),
    ("app=OOMKilled@4", {"app": ScriptedExit(137, "OOMKilled", 4.0)}),
    ("app=1,bad@x,=1@1,app2=300@1,app3=1@-1", {}),
], ids=["one", "two", "oom", "malformed"])
def test_the_exit_annotation_parses_as_documented(text: str, expected: dict) -> None:
    assert parse_exits(text) == expected


def test_the_termination_annotation_parses_as_documented() -> None:
    assert parse_terminations("app=20, side=0.5,bad") == {"app": 20.0, "side": 0.5}


def sandbox_config(uid: str = "u1", **annotations: str) -> PodSandboxConfig:
    return PodSandboxConfig(uid=uid, name="p", namespace="ns", annotations=annotations)


async def test_containers_run_at_once_and_exit_as_scripted() -> None:
    clock = FakeClock()
    rt = SimulatedRuntime(SimulatedSettings(pod_cidr="10.9.0.0/30"), clock=clock)
    told: list[str] = []
    rt.subscribe(told.append)
    sb = await rt.run_pod_sandbox(sandbox_config(**{"kybernetes.io/simulate-exit": "app=2@3"}))
    assert (await rt.sandbox_status(sb)).ip == "10.9.0.2"
    cid = await rt.create_container(sb, ContainerConfig(name="app", lowerdirs=(), image="busybox"))
    assert (await rt.container_status(cid)).state is ContainerState.CREATED
    await rt.start_container(cid)
    assert (await rt.container_status(cid)).state is ContainerState.RUNNING
    assert await rt.exec(cid, ["true"], stdout=lambda b: asyncio.sleep(0)) == 0
    assert b"stdout F simulated container app" in rt.container_log(cid)
    clock.step(3)
    status = await rt.container_status(cid)
    assert (status.state, status.exit_code, status.reason) == (ContainerState.EXITED, 2, "Error")
    assert status.finished_at - status.started_at == 3_000_000_000
    assert told == ["u1"]
    with pytest.raises(InvalidState):
        await rt.start_container(cid)


async def test_init_containers_finish_on_their_own() -> None:
    clock = FakeClock()
    rt = SimulatedRuntime(clock=clock)
    sb = await rt.run_pod_sandbox(sandbox_config())
    cid = await rt.create_container(sb, ContainerConfig(name="init", lowerdirs=(), labels={"kybernetes.io/container-type": "init"}))
    await rt.start_container(cid)
    clock.step(0)
    assert (await rt.container_status(cid)).exit_code == 0


async def test_stopping_waits_for_a_slow_container_and_kills_it_at_the_timeout() -> None:
    clock = FakeClock()
    rt = SimulatedRuntime(clock=clock)
    sb = await rt.run_pod_sandbox(sandbox_config(**{"kybernetes.io/simulate-termination": "slow=5,slower=50"}))
    ids = {}
    for name in ("quick", "slow", "slower"):
        ids[name] = await rt.create_container(sb, ContainerConfig(name=name, lowerdirs=()))
        await rt.start_container(ids[name])
    await rt.stop_container(ids["quick"], timeout=10)
    assert (await rt.container_status(ids["quick"])).exit_code == 0
    slow = asyncio.ensure_future(rt.stop_container(ids["slow"], timeout=10))
    slower = asyncio.ensure_future(rt.stop_container(ids["slower"], timeout=10))
    await asyncio.sleep(0)
    clock.step(5)
    await asyncio.sleep(0)
    assert slow.done() and not slower.done()
    clock.step(5)
    await asyncio.gather(slow, slower)
    assert (await rt.container_status(ids["slow"])).exit_code == 0
    assert (await rt.container_status(ids["slower"])).exit_code == 137


async def test_ips_are_released_with_the_sandbox_and_run_out_cleanly() -> None:
    rt = SimulatedRuntime(SimulatedSettings(pod_cidr="10.9.0.0/30"), clock=FakeClock())
    first = await rt.run_pod_sandbox(sandbox_config("a"))
    with pytest.raises(RuntimeFailure, match="no IP addresses available"):
        await rt.run_pod_sandbox(sandbox_config("b"))
    await rt.stop_pod_sandbox(first)
    assert (await rt.sandbox_status(first)).state is SandboxState.NOT_READY
    second = await rt.run_pod_sandbox(sandbox_config("b"))
    assert (await rt.sandbox_status(second)).ip == "10.9.0.2"
    await rt.remove_pod_sandbox(first)
    with pytest.raises(NotFound):
        await rt.sandbox_status(first)
    assert [s.uid for s in await rt.list_sandboxes()] == ["b"]
