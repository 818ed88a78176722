"""status: pure functions from the runtime's view of a pod to its API PodStatus, as the kubelet derives it.

`generate_pod_status` is upstream's generateAPIPodStatus (convertToAPIContainerStatuses, getPhase
and the condition generators of `pkg/kubelet/status/generate.go`); `finalize_status` is the part of
the status manager that fills transition times and the start time. Nothing here does I/O or reads
a clock: the time comes in as an argument, so a table of runtime states gives a fixed answer.
"""

from __future__ import annotations

import copy
import datetime
from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol

from kybernetes.agent.podstate import (
    IMAGE_REF_ANNOTATION,
    RuntimePodStatus,
    containers_of,
    should_container_be_restarted,
)
from kybernetes.agent.runtime.types import ContainerState, ContainerStatus, SandboxState
from kybernetes.api import qos as api_qos

Obj = dict[str, Any]

# Waiting reasons the kubelet gives before a container first runs (kubelet_pods.go).
POD_INITIALIZING = "PodInitializing"
CONTAINER_CREATING = "ContainerCreating"
CONTAINER_STATUS_UNKNOWN = "ContainerStatusUnknown"

# Condition reasons (status/generate.go).
UNKNOWN_CONTAINER_STATUSES = "UnknownContainerStatuses"
POD_COMPLETED = "PodCompleted"
POD_FAILED = "PodFailed"
CONTAINERS_NOT_READY = "ContainersNotReady"
CONTAINERS_NOT_INITIALIZED = "ContainersNotInitialized"
READINESS_GATES_NOT_READY = "ReadinessGatesNotReady"

KUBELET_CONDITIONS = ("PodScheduled", "Ready", "Initialized", "ContainersReady", "PodReadyToStartContainers")
"""Condition types the node agent owns; the others on a pod are kept as they are."""

TERMINAL_PHASES = ("Succeeded", "Failed")


@dataclass(frozen=True, slots=True)
class StartFailure:
    """StartFailure is why a container could not be started on the last try (upstream's reason cache entry)."""

    reason: str
    """ErrImagePull, ImagePullBackOff, CrashLoopBackOff, CreateContainerConfigError, RunContainerError, …"""
    message: str = ""


class ContainerProbes(Protocol):
    """ContainerProbes tells whether a running container has started and is ready (the prober's results)."""

    def started(self, pod: Obj, container: Obj, status: Obj) -> bool: ...

    def ready(self, pod: Obj, container: Obj, status: Obj) -> bool: ...


class NoProbes:
    """NoProbes answers as the prober does for containers without startup or readiness probes."""

    def started(self, pod: Obj, container: Obj, status: Obj) -> bool:
        return "running" in status["state"]

    def ready(self, pod: Obj, container: Obj, status: Obj) -> bool:
        return "running" in status["state"]


NO_PROBES = NoProbes()


@dataclass(frozen=True)
class StatusInputs:
    """StatusInputs is what status generation needs besides the pod and the runtime's view of it."""

    runtime_name: str
    """Prefix of container IDs, e.g. `runc` gives `runc://<id>`."""
    host_ips: tuple[str, ...] = ()
    failures: Mapping[str, StartFailure] = field(default_factory=dict)
    """The last start failure of each container, by container name."""
    probes: ContainerProbes = NO_PROBES


# ----- small helpers ----------------------------------------------------------------------------


def _d(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def rfc3339(ns: int) -> str | None:
    """Render UTC nanoseconds as the API's second-precision time; 0 (never) is null."""
    if not ns:
        return None
    moment = datetime.datetime.fromtimestamp(ns // 1_000_000_000, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def format_time(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def go_list(names: list[str]) -> str:
    """Format a list of names as Go's %s does for a []string: `[a b]`."""
    return "[" + " ".join(names) + "]"


def is_sidecar(container: Obj) -> bool:
    """A restartable init container (sidecar) has restartPolicy Always of its own."""
    return container.get("restartPolicy") == "Always"


# ----- QoS ---------------------------------------------------------------------------------------


def qos_class(pod: Obj) -> str:
    """Guaranteed, Burstable or BestEffort (the same rule the API server applies on create)."""
    return api_qos.qos_class(_d(pod.get("spec")))


# ----- container statuses -------------------------------------------------------------------------


def _container_status(cs: ContainerStatus, old: Obj | None, runtime_name: str) -> Obj:
    cid = f"{runtime_name}://{cs.id}"
    status: Obj = {
        "name": cs.name, "state": {}, "lastState": {}, "ready": False, "restartCount": cs.attempt,
        "image": cs.image, "imageID": cs.annotations.get(IMAGE_REF_ANNOTATION, ""), "containerID": cid,
    }
    if cs.state is ContainerState.RUNNING:
        status["state"] = {"running": {"startedAt": rfc3339(cs.started_at)}}
    elif cs.state is ContainerState.CREATED:
        status["state"] = {"waiting": {}}
    elif cs.state is ContainerState.EXITED:
        terminated: Obj = {"exitCode": cs.exit_code if cs.exit_code is not None else 0, "reason": cs.reason}
        if cs.message:
            terminated["message"] = cs.message
        terminated.update(startedAt=rfc3339(cs.started_at), finishedAt=rfc3339(cs.finished_at), containerID=cid)
        status["state"] = {"terminated": terminated}
    elif old is not None and "running" in _d(old.get("state")):
        # It ran before and is gone without a word: report a failure rather than a fresh start.
        status["state"] = {"terminated": {
            "exitCode": 137, "reason": CONTAINER_STATUS_UNKNOWN,
            "message": "The container could not be located when the pod was terminated",
            "startedAt": None, "finishedAt": None,
        }}
        status["restartCount"] = int(old.get("restartCount") or 0) + 1
    else:
        status["state"] = {"waiting": {}}
    return status


def container_statuses(pod: Obj, runtime: RuntimePodStatus, previous: list[Obj], containers: list[Obj], *,
                       has_init_containers: bool, is_init: bool, inputs: StatusInputs) -> list[Obj]:
    """Upstream's convertToAPIContainerStatuses for one list of containers (init or regular)."""
    old = {str(s.get("name")): s for s in previous if isinstance(s, dict)}
    default_reason = POD_INITIALIZING if has_init_containers else CONTAINER_CREATING
    statuses: dict[str, Obj] = {}
    for container in containers:
        name = str(container.get("name"))
        status: Obj = {"name": name, "state": {"waiting": {"reason": default_reason}}, "lastState": {},
                       "ready": False, "restartCount": 0, "image": container.get("image", ""), "imageID": ""}
        before = old.get(name)
        if before is not None:
            if "terminated" in _d(before.get("state")):
                status = copy.deepcopy(before)
            else:
                status["restartCount"] = before.get("restartCount", 0)
                status["lastState"] = copy.deepcopy(before.get("lastState") or {})
        statuses[name] = status

    deleting = bool(_d(pod.get("metadata")).get("deletionTimestamp"))
    for container in containers:
        name = str(container.get("name"))
        before = old.get(name)
        if runtime.find(name) is not None or before is None:
            continue
        state = _d(before.get("state"))
        if "terminated" in state or "running" not in state:
            continue
        status = statuses[name]
        if _d(status["state"].get("waiting")).get("reason") != default_reason or "terminated" in status["lastState"]:
            continue
        # It was running and its record is gone: show it stopped, not waiting, so the pod stays out of Pending.
        status["lastState"] = {"terminated": {
            "exitCode": 137, "reason": CONTAINER_STATUS_UNKNOWN,
            "message": "The container could not be located when the pod was deleted.  The container used to be Running",
            "startedAt": None, "finishedAt": None,
        }}
        if not deleting:
            status["restartCount"] = int(status.get("restartCount") or 0) + 1

    seen: dict[str, int] = {}
    for cs in runtime.containers:  # newest first
        if cs.name not in statuses or seen.get(cs.name, 0) >= 2:
            continue
        converted = _container_status(cs, old.get(cs.name), inputs.runtime_name)
        if seen.get(cs.name, 0) == 0:
            statuses[cs.name] = converted
        else:
            statuses[cs.name]["lastState"] = converted["state"]
        seen[cs.name] = seen.get(cs.name, 0) + 1

    any_regular_created = any(
        (found := runtime.find(str(c.get("name")))) is not None and found.state is not ContainerState.CREATED
        for c in containers_of(_d(pod.get("spec"))))
    for container in containers:
        name = str(container.get("name"))
        if is_init:
            latest = runtime.find(name)
            if latest is not None and latest.state is ContainerState.EXITED and latest.exit_code == 0:
                continue
            if latest is None and any_regular_created and not is_sidecar(container) and "waiting" in statuses[name]["state"]:
                statuses[name]["state"] = {"terminated": {
                    "exitCode": 0, "reason": "Completed",
                    "message": "Unable to get init container status from container runtime and pod has been "
                               "initialized, treat it as exited normally",
                    "startedAt": None, "finishedAt": None,
                }}
                continue
        if not should_container_be_restarted(container, pod, runtime):
            continue
        failure = inputs.failures.get(name)
        if failure is None:
            continue
        status = statuses[name]
        if "terminated" in status["state"]:
            status["lastState"] = status["state"]
        waiting: Obj = {"reason": failure.reason}
        if failure.message:
            waiting["message"] = failure.message
        status["state"] = {"waiting": waiting}

    _apply_probes(pod, containers, statuses, is_init=is_init, probes=inputs.probes)
    if is_init:
        return [statuses[str(c.get("name"))] for c in containers]
    return [statuses[name] for name in sorted(statuses)]


def _apply_probes(pod: Obj, containers: list[Obj], statuses: dict[str, Obj], *, is_init: bool,
                  probes: ContainerProbes) -> None:
    """Set `started` and `ready` as upstream's prober manager does in UpdatePodStatus."""
    for container in containers:
        status = statuses[str(container.get("name"))]
        started = probes.started(pod, container, status) if "running" in status["state"] else False
        status["started"] = started
        if is_init and not is_sidecar(container):
            terminated = _d(status["state"].get("terminated"))
            status["ready"] = bool(terminated) and terminated.get("exitCode") == 0
            continue
        if not started:
            status["ready"] = False
            continue
        status["ready"] = probes.ready(pod, container, status)


# ----- phase ------------------------------------------------------------------------------------


def _find(statuses: list[Obj], name: str) -> Obj | None:
    for status in statuses:
        if status.get("name") == name:
            return status
    return None


def pod_phase(pod: Obj, statuses: list[Obj], *, pod_is_terminal: bool, pod_has_initialized: bool) -> str:
    """Upstream's getPhase: the pod's phase from its containers' API statuses (init and regular together)."""
    spec = _d(pod.get("spec"))
    restart_policy = spec.get("restartPolicy") or "Always"
    pending_regular_init = pending_sidecars = failed_init = 0
    for container in containers_of(spec, "initContainers"):
        if is_sidecar(container):
            continue
        status = _find(statuses, str(container.get("name")))
        if status is None:
            pending_regular_init += 1
            continue
        state, last = _d(status.get("state")), _d(status.get("lastState"))
        if "running" in state:
            pending_regular_init += 1
        elif "terminated" in state:
            if _d(state["terminated"]).get("exitCode", 0) != 0:
                failed_init += 1
        elif "waiting" in state:
            if "terminated" in last:
                if _d(last["terminated"]).get("exitCode", 0) != 0:
                    failed_init += 1
            else:
                pending_regular_init += 1
        else:
            pending_regular_init += 1

    unknown = running = waiting = stopped = succeeded = 0
    for container in containers_of(spec, "initContainers"):
        if not is_sidecar(container):
            continue
        status = _find(statuses, str(container.get("name")))
        if status is None:
            unknown += 1
            continue
        state, last = _d(status.get("state")), _d(status.get("lastState"))
        if "running" in state:
            if not status.get("started"):
                pending_sidecars += 1
            running += 1
        elif "terminated" in state:
            pass
        elif "waiting" in state:
            if "terminated" not in last:
                pending_sidecars += 1
                waiting += 1
        else:
            pending_sidecars += 1
            unknown += 1

    for container in containers_of(spec):
        status = _find(statuses, str(container.get("name")))
        if status is None:
            unknown += 1
            continue
        state, last = _d(status.get("state")), _d(status.get("lastState"))
        if "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            if _d(state["terminated"]).get("exitCode", 0) == 0:
                succeeded += 1
        elif "waiting" in state:
            if "terminated" in last:
                stopped += 1
            else:
                waiting += 1
        else:
            unknown += 1

    if failed_init > 0 and restart_policy == "Never":
        return "Failed"
    if pending_regular_init > 0 or (pending_sidecars > 0 and not pod_has_initialized) or waiting > 0:
        return "Pending"
    if running > 0 and unknown == 0:
        return "Running"
    if running == 0 and stopped > 0 and unknown == 0:
        if pod_is_terminal:
            return "Succeeded" if stopped == succeeded else "Failed"
        if restart_policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        if restart_policy == "Never":
            return "Failed"
        return "Running"
    return "Pending"


# ----- conditions -------------------------------------------------------------------------------


def _condition(kind: str, status: str, reason: str = "", message: str = "") -> Obj:
    condition: Obj = {"type": kind, "status": status, "lastProbeTime": None, "lastTransitionTime": None}
    if reason:
        condition["reason"] = reason
    if message:
        condition["message"] = message
    return condition


def containers_ready_condition(pod: Obj, statuses: list[Obj] | None, phase: str) -> Obj:
    """GenerateContainersReadyCondition."""
    if statuses is None:
        return _condition("ContainersReady", "False", UNKNOWN_CONTAINER_STATUSES)
    spec = _d(pod.get("spec"))
    unknown: list[str] = []
    unready: list[str] = []
    wanted = [c for c in containers_of(spec, "initContainers") if is_sidecar(c)] + containers_of(spec)
    for container in wanted:
        name = str(container.get("name"))
        status = _find(statuses, name)
        if status is None:
            unknown.append(name)
        elif not status.get("ready"):
            unready.append(name)
    if (phase == "Succeeded" and not unknown) or phase == "Failed":
        return _condition("ContainersReady", "False", POD_COMPLETED if phase == "Succeeded" else POD_FAILED)
    messages = []
    if unknown:
        messages.append(f"containers with unknown status: {go_list(unknown)}")
    if unready:
        messages.append(f"containers with unready status: {go_list(unready)}")
    if messages:
        return _condition("ContainersReady", "False", CONTAINERS_NOT_READY, ", ".join(messages))
    return _condition("ContainersReady", "True")


def ready_condition(pod: Obj, conditions: list[Obj], statuses: list[Obj] | None, phase: str) -> Obj:
    """GeneratePodReadyCondition: ContainersReady, then every readiness gate."""
    containers_ready = containers_ready_condition(pod, statuses, phase)
    if containers_ready["status"] != "True":
        return _condition("Ready", containers_ready["status"], containers_ready.get("reason", ""),
                          containers_ready.get("message", ""))
    messages = []
    for gate in _l(_d(pod.get("spec")).get("readinessGates")):
        kind = str(_d(gate).get("conditionType", ""))
        found = next((c for c in conditions if c.get("type") == kind), None)
        if found is None:
            messages.append(f'corresponding condition of pod readiness gate "{kind}" does not exist.')
        elif found.get("status") != "True":
            messages.append(f'the status of pod readiness gate "{kind}" is not "True", but {found.get("status")}')
    if messages:
        return _condition("Ready", "False", READINESS_GATES_NOT_READY, ", ".join(messages))
    return _condition("Ready", "True")


def initialized_condition(pod: Obj, statuses: list[Obj] | None, phase: str) -> Obj:
    """GeneratePodInitializedCondition."""
    spec = _d(pod.get("spec"))
    inits = containers_of(spec, "initContainers")
    if statuses is None and inits:
        return _condition("Initialized", "False", UNKNOWN_CONTAINER_STATUSES)
    statuses = statuses or []
    unknown: list[str] = []
    incomplete: list[str] = []
    for container in inits:
        name = str(container.get("name"))
        status = _find(statuses, name)
        if status is None:
            unknown.append(name)
            continue
        done = bool(status.get("started")) if is_sidecar(container) else bool(status.get("ready"))
        if not done:
            incomplete.append(name)
    if phase == "Succeeded" and not unknown:
        return _condition("Initialized", "True", POD_COMPLETED)
    if any_regular_container_started(spec, statuses):
        return _condition("Initialized", "True")
    messages = []
    if unknown:
        messages.append(f"containers with unknown status: {go_list(unknown)}")
    if incomplete:
        messages.append(f"containers with incomplete status: {go_list(incomplete)}")
    if messages:
        return _condition("Initialized", "False", CONTAINERS_NOT_INITIALIZED, ", ".join(messages))
    return _condition("Initialized", "True")


def any_regular_container_started(spec: Obj, statuses: list[Obj]) -> bool:
    """HasAnyRegularContainerStarted: a regular container is running or has terminated."""
    for container in containers_of(spec):
        status = _find(statuses, str(container.get("name")))
        if status is not None:
            state = _d(status.get("state"))
            if "running" in state or "terminated" in state:
                return True
    return False


# ----- the whole status ----------------------------------------------------------------------------


def generate_pod_status(pod: Obj, runtime: RuntimePodStatus, *, old_status: Obj | None, pod_is_terminal: bool,
                        inputs: StatusInputs) -> Obj:
    """Upstream's generateAPIPodStatus: the status to report for `pod` given what the runtime holds.

    `old_status` is the status last reported (the status manager's cache), falling back to the
    pod's own. Transition times are left for `finalize_status`.
    """
    api_status = _d(pod.get("status"))
    old = old_status if old_status is not None else api_status
    spec = _d(pod.get("spec"))
    has_init = bool(containers_of(spec, "initContainers"))
    status: Obj = {}

    ips = list(runtime.ips)
    if not ips:
        # A stopped sandbox has no IP any more; the pod keeps the one it was known by.
        ips = [str(_d(ip).get("ip")) for ip in _l(old.get("podIPs")) if _d(ip).get("ip")]
        if not ips and old.get("podIP"):
            ips = [str(old["podIP"])]
    if _d(spec).get("hostNetwork") and not ips and inputs.host_ips:
        ips = list(inputs.host_ips)

    init_statuses = container_statuses(pod, runtime, _l(old.get("initContainerStatuses")),
                                       containers_of(spec, "initContainers"), has_init_containers=has_init,
                                       is_init=True, inputs=inputs)
    regular = container_statuses(pod, runtime, _l(old.get("containerStatuses")), containers_of(spec),
                                 has_init_containers=has_init, is_init=False, inputs=inputs)
    every = regular + init_statuses
    has_initialized = any(c.state is ContainerState.RUNNING for name in (str(x.get("name")) for x in containers_of(spec))
                          for c in runtime.all_named(name))
    phase = pod_phase(pod, every, pod_is_terminal=pod_is_terminal, pod_has_initialized=has_initialized)
    if phase not in TERMINAL_PHASES:
        if old.get("phase") in TERMINAL_PHASES:
            phase = old["phase"]
        elif api_status.get("phase") in TERMINAL_PHASES:
            phase = api_status["phase"]
    if api_status.get("phase") in TERMINAL_PHASES:
        # Pods never leave a terminal phase.
        phase = api_status["phase"]
    status["phase"] = phase
    if phase == old.get("phase"):
        for key in ("reason", "message"):
            value = old.get(key) or api_status.get(key)
            if value:
                status[key] = value

    conditions = [copy.deepcopy(c) for c in _l(api_status.get("conditions"))
                  if isinstance(c, dict) and c.get("type") not in KUBELET_CONDITIONS]
    sandbox = runtime.sandbox
    ready_to_start = sandbox is not None and sandbox.state is SandboxState.READY
    conditions.append(_condition("PodReadyToStartContainers", "True" if ready_to_start else "False"))
    all_statuses = init_statuses + regular
    conditions.append(initialized_condition(pod, all_statuses, phase))
    conditions.append(ready_condition(pod, conditions, all_statuses, phase))
    conditions.append(containers_ready_condition(pod, all_statuses, phase))
    conditions.append(_condition("PodScheduled", "True"))
    status["conditions"] = conditions

    if inputs.host_ips:
        status["hostIP"] = inputs.host_ips[0]
        status["hostIPs"] = [{"ip": ip} for ip in inputs.host_ips]
    if ips:
        status["podIP"] = ips[0]
        status["podIPs"] = [{"ip": ip} for ip in ips]
    if old.get("startTime"):
        status["startTime"] = old["startTime"]
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    status["containerStatuses"] = regular
    status["qosClass"] = api_status.get("qosClass") or qos_class(pod)
    return status


def finalize_status(status: Obj, old_status: Obj, now: datetime.datetime) -> Obj:
    """Fill what the status manager adds: condition transition times and the start time (in place)."""
    stamp = format_time(now)
    old_conditions = {c.get("type"): c for c in _l(old_status.get("conditions")) if isinstance(c, dict)}
    for condition in _l(status.get("conditions")):
        if condition.get("type") not in KUBELET_CONDITIONS:
            continue
        before = old_conditions.get(condition.get("type"))
        if before is not None and before.get("status") == condition.get("status") and before.get("lastTransitionTime"):
            condition["lastTransitionTime"] = before["lastTransitionTime"]
        else:
            condition["lastTransitionTime"] = stamp
    status["startTime"] = old_status.get("startTime") or status.get("startTime") or stamp
    return status


def illegal_transition(pod: Obj, old_status: Obj, new_status: Obj) -> str:
    """Name a terminated container that `new_status` would restart against the pod's restart policy, or ''."""
    policy = _d(pod.get("spec")).get("restartPolicy") or "Always"
    if policy == "Always":
        return ""
    for key in ("containerStatuses", "initContainerStatuses"):
        for before in _l(old_status.get(key)):
            terminated = _d(_d(_d(before).get("state")).get("terminated"))
            if not terminated:
                continue
            if policy == "OnFailure" and terminated.get("exitCode", 0) != 0:
                continue
            after = _find(_l(new_status.get(key)), str(_d(before).get("name")))
            if after is not None and "terminated" not in _d(after.get("state")):
                return str(_d(before).get("name"))
    return ""


def kubelet_view(status: Obj) -> Obj:
    """The status without transition times, to tell whether anything worth writing changed."""
    out = dict(status)
    out["conditions"] = [{k: v for k, v in c.items() if k not in ("lastTransitionTime", "lastProbeTime")}
                         for c in _l(status.get("conditions")) if isinstance(c, dict)]
    return out
