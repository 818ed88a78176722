"""Reconciling one pod: computePodActions decisions, and the runtime manager driving the simulated runtime."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from kybernetes.agent.hooks import SimulatedHookRunner
from kybernetes.agent.images import SimulatedImageService
from kybernetes.agent.podspec import container_hash
from kybernetes.agent.podstate import CONTAINER_HASH_ANNOTATION
from kybernetes.agent.runtime.simulated import SimulatedRuntime, SimulatedSettings
from kybernetes.agent.runtime.types import ContainerState
from kybernetes.agent.sync import NodeFacts, RuntimeManager, compute_pod_actions, requeue_delay
from kybernetes.aio.clock import FakeClock
from tests.agent.agentkit import MemoryRecorder, exited, pod, running, runtime, sandbox


def names(containers: list[dict]) -> list[str]:
    return [c["name"] for c in containers]


# ----- compute_pod_actions --------------------------------------------------------------------


def test_a_pod_without_a_sandbox_gets_one_and_all_its_containers() -> None:
    actions = compute_pod_actions(pod("a", "b"), runtime())
    assert actions.create_sandbox and actions.kill_pod and names(actions.start) == ["a", "b"]


def test_init_containers_run_one_at_a_time_before_the_others() -> None:
    p = pod("app", inits=("one", "two"))
    assert compute_pod_actions(p, runtime()).next_init["name"] == "one"
    sb = sandbox()
    assert compute_pod_actions(p, runtime(sb, running("one", sb))).next_init is None
    after_one = compute_pod_actions(p, runtime(sb, exited("one", sb, 0)))
    assert after_one.next_init["name"] == "two" and after_one.start == []
    done = compute_pod_actions(p, runtime(sb, exited("one", sb, 0), exited("two", sb, 0)))
    assert names(done.start) == ["app"]


@pytest.mark.parametrize(("restart", "kill_pod", "retry"), [("Never", True, False), ("OnFailure", False, True)],
                         ids=["never-kills", "onfailure-retries"])
def test_a_failed_init_container_is_retried_or_the_pod_killed(restart: str, kill_pod: bool, retry: bool) -> None:
    sb = sandbox()
    actions = compute_pod_actions(pod("app", inits=("one",), restart=restart), runtime(sb, exited("one", sb, 1)))
    assert actions.kill_pod is kill_pod
    assert (actions.next_init is not None) is retry


@pytest.mark.parametrize(
    ("restart", "code", "start"),
    [("Always", 0, True), ("Always", 1, True), ("OnFailure", 0, False), ("OnFailure", 1, True), ("Never", 1, False)],
    ids=["always-0", "always-1", "onfailure-0", "onfailure-1", "never-1"],
)
def test_exited_containers_restart_as_the_policy_says(restart: str, code: int, start: bool) -> None:
    sb = sandbox()
    actions = compute_pod_actions(pod("app", restart=restart), runtime(sb, exited("app", sb, code)))
    assert bool(actions.start) is start
    assert actions.kill_pod is (not start), "nothing left to run: the pod is killed (its sandbox stopped)"


def test_a_running_container_whose_spec_changed_is_replaced() -> None:
    sb = sandbox()
    p = pod("app")
    old = running("app", sb)
    old.annotations[CONTAINER_HASH_ANNOTATION] = "stale"
    actions = compute_pod_actions(p, runtime(sb, old))
    assert names(actions.start) == ["app"] and actions.kill[0].message == "Container app definition changed, will be restarted"
    current = running("app", sb)
    current.annotations[CONTAINER_HASH_ANNOTATION] = container_hash(p["spec"]["containers"][0])
    assert compute_pod_actions(p, runtime(sb, current)).start == []


def test_a_not_ready_sandbox_is_replaced() -> None:
    sb = sandbox(ready=False)
    actions = compute_pod_actions(pod("app"), runtime(sb, exited("app", sb, 137)))
    assert actions.create_sandbox and actions.sandbox_id == sb.id and actions.attempt == 1


# ----- RuntimeManager with the simulated runtime ------------------------------------------------


class Configs:
    def __init__(self, **objects: dict) -> None:
        self.objects = objects

    async def configmap(self, namespace: str, name: str) -> dict | None:
        return self.objects.get(f"cm/{name}")

    async def secret(self, namespace: str, name: str) -> dict | None:
        return self.objects.get(f"secret/{name}")


class FailingHooks(SimulatedHookRunner):
    async def run(self, pod: dict, container: dict, container_id: Any, handler: dict, *, pod_ip: str) -> str | None:
        await super().run(pod, container, container_id, handler, pod_ip=pod_ip)
        return "Exec lifecycle hook ([false]) failed"


def make_manager(clock: FakeClock, *, hooks: SimulatedHookRunner | None = None, configs: Configs | None = None):
    rt = SimulatedRuntime(SimulatedSettings(pod_cidr="10.42.3.0/24"), clock=clock)
    recorder = MemoryRecorder()
    manager = RuntimeManager(runtime=rt, runtime_name="simulated", images=SimulatedImageService(),
                             hooks=hooks or SimulatedHookRunner(clock=clock), recorder=recorder,  # type: ignore[arg-type]
                             config_source=configs or Configs(), clock=clock,
                             node=NodeFacts("n1", ("192.0.2.10",), {"cpu": "4", "memory": "8Gi"}, 8 * 2**30))
    return manager, rt, recorder


async def sync(manager: RuntimeManager, p: dict):
    status = await manager.pod_status(p["metadata"]["uid"])
    return await manager.sync_pod(p, status, [])


async def test_a_pod_starts_with_pull_create_and_start_events() -> None:
    clock = FakeClock()
    manager, rt, recorder = make_manager(clock)
    p = pod("app")
    p["spec"]["containers"][0]["imagePullPolicy"] = "Always"
    result = await sync(manager, p)
    assert not result.failed and result.started == {"app"}
    assert recorder.reasons() == ["Pulling", "Pulled", "Created", "Started"]
    assert recorder.events[2][2] == "Created container: app"
    assert recorder.events[3][2] == "Started container app"
    assert recorder.events[0][3] == "spec.containers{app}"
    status = await manager.pod_status("uid-1")
    assert status.ips == ("10.42.3.2",)
    assert status.find("app").state is ContainerState.RUNNING
    assert (await sync(manager, p)).started == set(), "a second sync has nothing to do"


async def test_image_pull_policy_decides_whether_to_pull() -> None:
    clock = FakeClock()
    manager, _, recorder = make_manager(clock)
    never = pod("app", uid="never")
    never["spec"]["containers"][0]["imagePullPolicy"] = "Never"
    result = await sync(manager, never)
    assert result.failures["app"].reason == "ErrImageNeverPull"
    assert result.failures["app"].message == 'Container image "busybox" is not present with pull policy of Never'
    await sync(manager, pod("app", uid="first"))
    recorder.events.clear()
    await sync(manager, pod("app", uid="second"))
    assert recorder.events[0][1:3] == ("Pulled", 'Container image "busybox" already present on machine')


async def test_a_missing_image_fails_to_pull_then_backs_off() -> None:
    clock = FakeClock()
    manager, _, recorder = make_manager(clock)
    p = pod("app")
    p["spec"]["containers"][0]["image"] = "example.com/doesnotexist:1"
    first = await sync(manager, p)
    assert first.failures["app"].reason == "ErrImagePull"
    assert [r for _, r, _, _ in recorder.events] == ["Pulling", "Failed", "Failed"]
    assert recorder.events[2][2] == "Error: ErrImagePull"
    clock.step(5)
    second = await sync(manager, p)
    assert second.failures["app"].reason == "ImagePullBackOff"
    assert second.failures["app"].message == 'Back-off pulling image "example.com/doesnotexist:1"'
    assert recorder.events[-1][2] == "Error: ImagePullBackOff"
    assert second.backoff_remaining == pytest.approx(5, abs=0.01)
    assert requeue_delay(second, 10) == pytest.approx(5.01, abs=0.02)
    clock.step(5.1)
    assert (await sync(manager, p)).failures["app"].reason == "ErrImagePull"


async def test_a_crashing_container_restarts_at_once_then_backs_off_doubling() -> None:
    clock = FakeClock()
    manager, rt, recorder = make_manager(clock)
    p = pod("app", annotations={"kybernetes.io/simulate-exit": "app=1@1"})
    await sync(manager, p)
    clock.step(1)  # exits
    first = await sync(manager, p)
    assert first.started == {"app"}, "the first restart is immediate"
    assert (await manager.pod_status("uid-1")).find("app").attempt == 1
    clock.step(1)  # exits again
    backed = await sync(manager, p)
    assert backed.failures["app"].reason == "CrashLoopBackOff"
    assert backed.failures["app"].message == "back-off 10s restarting failed container=app pod=p_ns(uid-1)"
    assert recorder.events[-1][1:3] == ("BackOff", "Back-off restarting failed container app in pod p_ns(uid-1)")
    assert backed.backoff_remaining == pytest.approx(10)
    clock.step(9.5)
    assert (await sync(manager, p)).failures["app"].reason == "CrashLoopBackOff"
    clock.step(0.6)
    assert (await sync(manager, p)).started == {"app"}
    clock.step(1)
    assert (await sync(manager, p)).failures["app"].message.startswith("back-off 20s ")
    kept = [c for c in (await manager.pod_status("uid-1")).containers if c.name == "app"]
    assert len(kept) <= 2, "only the newest exited run is kept"


async def test_back_off_resets_after_ten_minutes_of_running() -> None:
    clock = FakeClock()
    manager, _, _ = make_manager(clock)
    p = pod("app", annotations={"kybernetes.io/simulate-exit": "app=1@1"})
    await sync(manager, p)
    for _ in range(3):
        clock.step(1)
        await sync(manager, p)
        clock.step(30)
        await sync(manager, p)
    key = next(iter(manager.crash_backoff._entries))
    assert manager.crash_backoff.get(key) == 40
    clock.step(601)  # ran ten minutes without a new crash being recorded
    manager.crash_backoff.next(key, clock.monotonic())
    assert manager.crash_backoff.get(key) == 10


async def test_env_resolves_field_resource_config_map_and_secret_refs() -> None:
    clock = FakeClock()
    configs = Configs(**{"cm/cfg": {"data": {"color": "blue"}},
                         "secret/sec": {"data": {"token": base64.b64encode(b"s3cret").decode()}}})
    manager, rt, _ = make_manager(clock, configs=configs)
    p = pod("app")
    p["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "250m", "memory": "64Mi"}}
    p["spec"]["containers"][0]["env"] = [
        {"name": "PLAIN", "value": "x-$(COLOR)"},
        {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu"}}},
        {"name": "MEM_LIMIT", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
        {"name": "COLOR", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "color"}}},
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "token"}}},
    ]
    await sync(manager, p)
    env = dict(next(iter(rt._containers.values())).config.env)
    assert env == {"PLAIN": "x-$(COLOR)", "POD": "p", "IP": "10.42.3.2", "NODE": "n1", "CPU": "1",
                   "MEM_LIMIT": "8192", "COLOR": "blue", "TOKEN": "s3cret"}


async def test_a_missing_config_map_is_a_create_container_config_error() -> None:
    manager, _, recorder = make_manager(FakeClock())
    p = pod("app")
    p["spec"]["containers"][0]["env"] = [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "k"}}}]
    result = await sync(manager, p)
    assert result.failures["app"].reason == "CreateContainerConfigError"
    assert result.failures["app"].message == 'configmap "nope" not found'
    assert recorder.events[-1][1:3] == ("Failed", 'Error: configmap "nope" not found')


async def test_a_failing_post_start_hook_kills_the_container() -> None:
    clock = FakeClock()
    manager, rt, recorder = make_manager(clock, hooks=FailingHooks(clock=clock))
    p = pod("app")
    p["spec"]["containers"][0]["lifecycle"] = {"postStart": {"exec": {"command": ["false"]}}}
    result = await sync(manager, p)
    assert result.failures["app"].reason == "PostStartHookError"
    assert "FailedPostStartHook" in recorder.reasons() and "Killing" in recorder.reasons()
    assert (await manager.pod_status("uid-1")).find("app").state is ContainerState.EXITED


async def test_killing_a_pod_runs_pre_stop_hooks_and_stops_the_sandbox() -> None:
    clock = FakeClock()
    hooks = SimulatedHookRunner(clock=clock)
    manager, rt, recorder = make_manager(clock, hooks=hooks)
    p = pod("app", "side")
    p["spec"]["containers"][0]["lifecycle"] = {"preStop": {"httpGet": {"path": "/quit", "port": 8080}}}
    await sync(manager, p)
    await manager.kill_pod(p, await manager.pod_status("uid-1"), grace_override=None)
    status = await manager.pod_status("uid-1")
    assert all(c.state is ContainerState.EXITED for c in status.containers)
    assert status.ips == ()
    assert hooks.ran == [("app", "httpGet")]
    assert [m for _, r, m, _ in recorder.events if r == "Killing"] == ["Stopping container app", "Stopping container side"]
