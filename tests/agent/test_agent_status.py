"""Status generation: runtime states become the phase, conditions and container statuses upstream reports."""

from __future__ import annotations

import datetime

import pytest

from kybernetes.agent.status import (
    StartFailure,
    StatusInputs,
    finalize_status,
    generate_pod_status,
    illegal_transition,
    pod_phase,
    qos_class,
)
from tests.agent.agentkit import exited, pod, running, runtime, sandbox

INPUTS = StatusInputs(runtime_name="simulated", host_ips=("192.0.2.10",))


def generate(p: dict, rt, *, terminal: bool = False, failures: dict | None = None, old: dict | None = None) -> dict:
    inputs = StatusInputs(runtime_name="simulated", host_ips=("192.0.2.10",), failures=failures or {})
    return generate_pod_status(p, rt, old_status=old, pod_is_terminal=terminal, inputs=inputs)


def conditions(status: dict) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c.get("reason", "")) for c in status["conditions"]}


def state_of(status: dict, name: str, key: str = "containerStatuses") -> dict:
    return next(s for s in status[key] if s["name"] == name)


def test_a_pod_the_runtime_has_not_seen_is_pending_with_containers_being_created() -> None:
    status = generate(pod("app"), runtime())
    assert status["phase"] == "Pending"
    app = state_of(status, "app")
    assert app["state"] == {"waiting": {"reason": "ContainerCreating"}}
    assert app["ready"] is False and app["started"] is False and app["restartCount"] == 0
    assert app["image"] == "busybox" and app["imageID"] == "" and app["lastState"] == {}
    assert conditions(status) == {
        "PodReadyToStartContainers": ("False", ""),
        "Initialized": ("True", ""),
        "Ready": ("False", "ContainersNotReady"),
        "ContainersReady": ("False", "ContainersNotReady"),
        "PodScheduled": ("True", ""),
    }
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["message"] == "containers with unready status: [app]"
    assert "podIP" not in status and status["hostIP"] == "192.0.2.10"


def test_a_running_container_makes_the_pod_running_and_ready() -> None:
    sb = sandbox()
    status = generate(pod("app"), runtime(sb, running("app", sb)))
    app = state_of(status, "app")
    assert status["phase"] == "Running"
    assert app["state"] == {"running": {"startedAt": "2023-11-14T22:13:21Z"}}
    assert app["ready"] is True and app["started"] is True
    assert app["containerID"].startswith("simulated://")
    assert app["image"] == "docker.io/library/busybox:latest"
    assert app["imageID"] == "docker.io/library/busybox@sha256:ab"
    assert all(s == "True" for s, _ in conditions(status).values())
    assert status["podIP"] == "10.42.0.5" and status["podIPs"] == [{"ip": "10.42.0.5"}]
    assert status["hostIPs"] == [{"ip": "192.0.2.10"}]
    assert status["qosClass"] == "BestEffort"


@pytest.mark.parametrize(
    ("restart", "code", "terminal", "phase", "reason"),
    [
        ("Always", 0, False, "Running", "Completed"),
        ("Always", 1, False, "Running", "Error"),
        ("OnFailure", 0, False, "Succeeded", "Completed"),
        ("OnFailure", 1, False, "Running", "Error"),
        ("Never", 0, False, "Succeeded", "Completed"),
        ("Never", 1, False, "Failed", "Error"),
        ("Always", 0, True, "Succeeded", "Completed"),
        ("Always", 137, True, "Failed", "Error"),
    ],
    ids=["always-0", "always-1", "onfailure-0", "onfailure-1", "never-0", "never-1", "terminal-0", "terminal-137"],
)
def test_an_exited_container_gives_the_phase_its_restart_policy_implies(restart: str, code: int, terminal: bool,
                                                                          phase: str, reason: str) -> None:
    sb = sandbox()
    status = generate(pod("app", restart=restart), runtime(sb, exited("app", sb, code)), terminal=terminal)
    app = state_of(status, "app")
    assert status["phase"] == phase
    assert app["state"]["terminated"]["exitCode"] == code
    assert app["state"]["terminated"]["reason"] == reason
    assert app["state"]["terminated"]["finishedAt"] == "2023-11-14T22:13:22Z"
    assert app["ready"] is False
    if phase in ("Succeeded", "Failed"):
        expected = "PodCompleted" if phase == "Succeeded" else "PodFailed"
        assert conditions(status)["Ready"] == ("False", expected)
        assert conditions(status)["ContainersReady"] == ("False", expected)


def test_a_crash_looping_container_waits_with_its_last_termination_and_restart_count() -> None:
    sb = sandbox()
    rt = runtime(sb, exited("app", sb, 1, attempt=0, finished=T(2)), exited("app", sb, 1, attempt=1, started=T(20), finished=T(30)))
    message = "back-off 10s restarting failed container=app pod=p_ns(uid-1)"
    status = generate(pod("app"), rt, failures={"app": StartFailure("CrashLoopBackOff", message)})
    app = state_of(status, "app")
    assert app["state"] == {"waiting": {"reason": "CrashLoopBackOff", "message": message}}
    assert app["lastState"]["terminated"]["exitCode"] == 1
    assert app["restartCount"] == 1
    assert status["phase"] == "Running"


def test_a_restarted_container_shows_the_previous_run_as_last_state() -> None:
    sb = sandbox()
    rt = runtime(sb, exited("app", sb, 2, attempt=0, finished=T(2)), running("app", sb, attempt=1, started=T(20)))
    app = state_of(generate(pod("app"), rt), "app")
    assert "running" in app["state"]
    assert app["lastState"]["terminated"]["exitCode"] == 2
    assert app["restartCount"] == 1


def T(seconds: int) -> int:  # noqa: N802 - a time, read like a constant
    return 1_700_000_000 * 1_000_000_000 + seconds * 1_000_000_000


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("ErrImagePull", 'failed to pull and unpack image "x"'),
        ("ImagePullBackOff", 'Back-off pulling image "x"'),
        ("CreateContainerConfigError", 'configmap "cfg" not found'),
    ],
    ids=["err-image-pull", "image-pull-back-off", "config-error"],
)
def test_a_container_that_could_not_start_waits_with_the_failure(reason: str, message: str) -> None:
    sb = sandbox()
    status = generate(pod("app"), runtime(sb), failures={"app": StartFailure(reason, message)})
    assert state_of(status, "app")["state"] == {"waiting": {"reason": reason, "message": message}}
    assert status["phase"] == "Pending"


def test_init_containers_hold_the_pod_pending_and_uninitialized() -> None:
    sb = sandbox()
    p = pod("app", inits=("one", "two"))
    status = generate(p, runtime(sb, running("one", sb)))
    assert status["phase"] == "Pending"
    assert [s["name"] for s in status["initContainerStatuses"]] == ["one", "two"]
    assert "running" in state_of(status, "one", "initContainerStatuses")["state"]
    assert state_of(status, "two", "initContainerStatuses")["state"] == {"waiting": {"reason": "PodInitializing"}}
    assert state_of(status, "app")["state"] == {"waiting": {"reason": "PodInitializing"}}
    initialized = next(c for c in status["conditions"] if c["type"] == "Initialized")
    assert initialized["status"] == "False" and initialized["reason"] == "ContainersNotInitialized"
    assert initialized["message"] == "containers with incomplete status: [one two]"


def test_finished_init_containers_are_ready_and_the_pod_runs() -> None:
    sb = sandbox()
    p = pod("app", inits=("one",))
    status = generate(p, runtime(sb, exited("one", sb, 0), running("app", sb, started=T(5))))
    one = state_of(status, "one", "initContainerStatuses")
    assert one["ready"] is True and one["state"]["terminated"]["reason"] == "Completed"
    assert conditions(status)["Initialized"] == ("True", "")
    assert status["phase"] == "Running"


def test_a_failed_init_container_fails_a_pod_that_never_restarts() -> None:
    sb = sandbox()
    status = generate(pod("app", inits=("one",), restart="Never"), runtime(sb, exited("one", sb, 3)))
    assert status["phase"] == "Failed"


def test_terminal_phases_are_never_left() -> None:
    p = pod("app")
    p["status"]["phase"] = "Succeeded"
    sb = sandbox()
    assert generate(p, runtime(sb, running("app", sb)))["phase"] == "Succeeded"


def test_a_stopped_sandbox_keeps_the_pod_ip_it_had() -> None:
    sb = sandbox(ready=False)
    old = {"podIP": "10.42.0.9", "podIPs": [{"ip": "10.42.0.9"}]}
    status = generate(pod("app", restart="Never"), runtime(sb, exited("app", sb, 0)), old=old, terminal=True)
    assert status["podIP"] == "10.42.0.9"
    assert conditions(status)["PodReadyToStartContainers"] == ("False", "")


def test_conditions_from_others_are_kept_and_readiness_gates_count() -> None:
    sb = sandbox()
    p = pod("app", readinessGates=[{"conditionType": "example.com/gate"}])
    p["status"]["conditions"] = [{"type": "example.com/gate", "status": "False"},
                                 {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2020-01-01T00:00:00Z"}]
    status = generate(p, runtime(sb, running("app", sb)))
    kinds = [c["type"] for c in status["conditions"]]
    assert kinds.count("PodScheduled") == 1 and "example.com/gate" in kinds
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "ReadinessGatesNotReady"
    assert ready["message"] == 'the status of pod readiness gate "example.com/gate" is not "True", but False'


def test_finalizing_keeps_transition_times_of_unchanged_conditions_and_the_start_time() -> None:
    sb = sandbox()
    p = pod("app")
    first = finalize_status(generate(p, runtime()), {}, datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc))
    later = datetime.datetime(2024, 1, 1, 0, 5, tzinfo=datetime.timezone.utc)
    second = finalize_status(generate(p, runtime(sb, running("app", sb)), old=first), first, later)
    times = {c["type"]: c["lastTransitionTime"] for c in second["conditions"]}
    assert times["PodScheduled"] == "2024-01-01T00:00:00Z"
    assert times["Initialized"] == "2024-01-01T00:00:00Z"
    assert times["Ready"] == "2024-01-01T00:05:00Z"
    assert second["startTime"] == "2024-01-01T00:00:00Z"


def test_a_terminated_container_may_not_come_back_under_never() -> None:
    p = pod("app", restart="Never")
    old = {"containerStatuses": [{"name": "app", "state": {"terminated": {"exitCode": 0}}}]}
    new = {"containerStatuses": [{"name": "app", "state": {"running": {}}}]}
    assert illegal_transition(p, old, new) == "app"
    assert illegal_transition(pod("app", restart="Always"), old, new) == ""


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        ({}, "BestEffort"),
        ({"requests": {"cpu": "100m"}}, "Burstable"),
        ({"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}, "Guaranteed"),
        ({"limits": {"cpu": "1"}}, "Burstable"),
    ],
    ids=["none", "requests", "equal-limits", "cpu-limit-only"],
)
def test_qos_class_follows_requests_and_limits(resources: dict, expected: str) -> None:
    p = pod("app")
    p["spec"]["containers"][0]["resources"] = resources
    assert qos_class(p) == expected


def test_get_phase_counts_unknown_containers_as_pending() -> None:
    assert pod_phase(pod("a", "b"), [{"name": "a", "state": {"running": {}}}], pod_is_terminal=False,
                     pod_has_initialized=True) == "Pending"
