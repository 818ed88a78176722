"""Pods: defaults (with the admission plugins' ones), create and update rules, status writes and the Table row.

Besides SetDefaults_Pod, a new Pod gets what upstream's default admission plugins add:
ServiceAccount (`serviceAccountName: default`), Priority (`priority: 0`,
`preemptionPolicy: PreemptLowerPriority`) and DefaultTolerationSeconds (tolerate the
not-ready/unreachable taints for 300 s). A running Pod's spec is nearly immutable: only images,
a shorter activeDeadlineSeconds, added tolerations and removed scheduling gates may change.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

import orjson

from kybernetes.api import duration, validation
from kybernetes.api.errors import FieldError, duplicate, forbidden, invalid, required
from kybernetes.registry.base import AGE_COLUMN, NAME_COLUMN, Column, Obj, Strategy
from kybernetes.registry.core.podtemplate import (
    decoding,
    default_pod_spec,
    validate_image_whitespace,
    validate_pod_spec,
    validate_tolerations,
)

DEFAULT_SERVICE_ACCOUNT = "default"
DEFAULT_TOLERATION_SECONDS = 300
NOT_READY_TAINT = "node.kubernetes.io/not-ready"
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"
# Built-in PriorityClasses every cluster has; other names need a PriorityClass object.
SYSTEM_PRIORITIES = {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}
NODE_LOST_REASON = "NodeLost"

UPDATABLE_SPEC_FIELDS = (
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
)


def _d(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _s(value: Any) -> str:
    return value if isinstance(value, str) else ""


# ----- defaults and admission ----------------------------------------------------------------


def _default_pod_only(spec: Obj) -> None:
    """SetDefaults_Pod: requests copied from limits, service links on, hostNetwork ports mirrored."""
    for key in ("containers", "initContainers"):
        for container in _l(spec.get(key)):
            resources = _d(_d(container).get("resources"))
            limits = resources.get("limits")
            if isinstance(limits, dict) and limits:
                requests = resources.setdefault("requests", {})
                if isinstance(requests, dict):
                    for name, value in limits.items():
                        requests.setdefault(name, value)
    if spec.get("enableServiceLinks") is None:
        spec["enableServiceLinks"] = True
    if spec.get("hostNetwork") is True:
        for key in ("containers", "initContainers"):
            for container in _l(spec.get(key)):
                for port in _l(_d(container).get("ports")):
                    if isinstance(port, dict) and not port.get("hostPort"):
                        port["hostPort"] = port.get("containerPort")


def sync_ips(status: Obj) -> None:
    """Keep the singular and plural IP fields in step, as v1 conversion does (podIP ↔ podIPs[0])."""
    for single, plural in (("podIP", "podIPs"), ("hostIP", "hostIPs")):
        many = _l(status.get(plural))
        if many and isinstance(many[0], dict) and many[0].get("ip"):
            status[single] = many[0]["ip"]
        elif status.get(single) and not many:
            status[plural] = [{"ip": status[single]}]


def _tolerates(tolerations: list[Any], taint: str) -> bool:
    for toleration in tolerations:
        toleration = _d(toleration)
        if toleration.get("key") in (taint, "", None) and toleration.get("effect") in ("NoExecute", "", None):
            return True
    return False


def admit(pod: Obj) -> None:
    """What the default admission plugins add to a new Pod (ServiceAccount, Priority, DefaultTolerationSeconds)."""
    spec = pod.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    if not spec.get("serviceAccountName"):
        spec["serviceAccountName"] = DEFAULT_SERVICE_ACCOUNT
    spec["serviceAccount"] = spec["serviceAccountName"]
    class_name = _s(spec.get("priorityClassName"))
    if not class_name:
        spec.setdefault("priority", 0)
    elif class_name in SYSTEM_PRIORITIES:
        spec.setdefault("priority", SYSTEM_PRIORITIES[class_name])
    if spec.get("priority") is not None and spec.get("preemptionPolicy") is None:
        spec["preemptionPolicy"] = "PreemptLowerPriority"
    tolerations = spec.get("tolerations")
    if not isinstance(tolerations, list):
        tolerations = []
    for taint in (NOT_READY_TAINT, UNREACHABLE_TAINT):
        if not _tolerates(tolerations, taint):
            tolerations.append(
                {"key": taint, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": DEFAULT_TOLERATION_SECONDS}
            )
    spec["tolerations"] = tolerations


# ----- QoS -----------------------------------------------------------------------------------


from kybernetes.api.qos import qos_class  # noqa: E402,F401 - re-exported: strategies and tests use pods.qos_class


# ----- update rules --------------------------------------------------------------------------


def _normalized(value: Any) -> Any:
    """Drop null and empty values: upstream's semantic equality treats nil and empty alike."""
    if isinstance(value, dict):
        out = {k: _normalized(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, [], {})}
    if isinstance(value, list):
        return [_normalized(v) for v in value]
    return value


def _diff(old: Any, new: Any, path: str, out: list[str]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            _diff(old.get(key), new.get(key), f"{path}.{key}", out)
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new)):
            _diff(a, b, f"{path}[{i}]", out)
    elif old != new:
        out.append(f"- {path}: {_render(old)}")
        out.append(f"+ {path}: {_render(new)}")


def _render(value: Any) -> str:
    return "<unset>" if value is None else orjson.dumps(value).decode()


def spec_diff(old: Obj, new: Obj, limit: int = 12) -> str:
    """A short description of what differs between two specs (ours, in place of upstream's cmp.Diff)."""
    lines: list[str] = []
    _diff(_normalized(old), _normalized(new), "spec", lines)
    if len(lines) > limit:
        lines = lines[:limit] + [f"  … {len(lines) - limit} more lines"]
    return "\n".join(lines)


def _validate_container_updates(new: list[Any], old: list[Any], path: str) -> tuple[list[FieldError], bool]:
    if len(new) != len(old):
        return [forbidden(path, "pod updates may not add or remove containers")], True
    errs: list[FieldError] = []
    for i, container in enumerate(new):
        container = _d(container)
        if not container.get("image"):
            errs.append(required(f"{path}[{i}].image"))
        errs.extend(validate_image_whitespace(container, f"{path}[{i}]"))
    return errs, False


def _validate_only_added_tolerations(new: list[Any], old: list[Any], path: str) -> list[FieldError]:
    for existing in old:
        kept = False
        for candidate in new:
            # tolerationSeconds may change; every other field must stay.
            if {k: v for k, v in _d(existing).items() if k != "tolerationSeconds"} == {
                k: v for k, v in _d(candidate).items() if k != "tolerationSeconds"
            }:
                kept = True
                break
        if not kept:
            return [forbidden(path, "existing toleration can not be modified except its tolerationSeconds")]
    return validate_tolerations(new, path)


def validate_pod_spec_update(new_spec: Obj, old_spec: Obj) -> list[FieldError]:
    """ValidatePodUpdate's spec part: only the updatable fields may differ."""
    errs: list[FieldError] = []
    for key in ("containers", "initContainers"):
        found, stop = _validate_container_updates(_l(new_spec.get(key)), _l(old_spec.get(key)), f"spec.{key}")
        errs.extend(found)
        if stop:
            return errs
    new_deadline, old_deadline = new_spec.get("activeDeadlineSeconds"), old_spec.get("activeDeadlineSeconds")
    if new_deadline is not None:
        if not isinstance(new_deadline, int) or not 0 <= new_deadline <= 2**31 - 1:
            errs.append(invalid("spec.activeDeadlineSeconds", new_deadline, f"must be between 0 and {2**31 - 1}, inclusive"))
            return errs
        if isinstance(old_deadline, int) and old_deadline < new_deadline:
            errs.append(invalid("spec.activeDeadlineSeconds", new_deadline, "must be less than or equal to previous value"))
            return errs
    elif old_deadline is not None:
        errs.append(invalid("spec.activeDeadlineSeconds", None, "must not update from a positive integer to nil value"))
    errs.extend(_validate_only_added_tolerations(_l(new_spec.get("tolerations")), _l(old_spec.get("tolerations")), "spec.tolerations"))
    old_gates = {_s(_d(g).get("name")) for g in _l(old_spec.get("schedulingGates"))}
    for i, gate in enumerate(_l(new_spec.get("schedulingGates"))):
        name = _s(_d(gate).get("name"))
        if name not in old_gates:
            errs.append(forbidden(f"spec.schedulingGates[{i}].name", f"only deletion is allowed, but found new scheduling gate '{name}'"))
    if _normalized(new_spec) == _normalized(old_spec):
        return errs
    munged = copy.deepcopy(new_spec)
    for key in ("containers", "initContainers"):
        for container, before in zip(_l(munged.get(key)), _l(old_spec.get(key))):
            if isinstance(container, dict):
                container["image"] = _d(before).get("image")
    munged.pop("activeDeadlineSeconds", None)
    if old_deadline is not None:
        munged["activeDeadlineSeconds"] = old_deadline
    for key in ("schedulingGates", "tolerations"):
        munged.pop(key, None)
        if key in old_spec:
            munged[key] = old_spec[key]
    old_grace = old_spec.get("terminationGracePeriodSeconds")
    if isinstance(old_grace, int) and old_grace < 0 and munged.get("terminationGracePeriodSeconds") == 1:
        munged["terminationGracePeriodSeconds"] = old_grace
    if _normalized(munged) != _normalized(old_spec):
        detail = "pod updates may not change fields other than " + ",".join(UPDATABLE_SPEC_FIELDS)
        errs.append(forbidden("spec", detail + "\n" + spec_diff(old_spec, munged)))
    return errs


# ----- status ---------------------------------------------------------------------------------


def _validate_pod_ips(status: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    for plural in ("podIPs", "hostIPs"):
        ips = [_s(_d(ip).get("ip")) for ip in _l(status.get(plural))]
        path = f"status.{plural}"
        if plural == "hostIPs" and ips and _s(status.get("hostIP")) != ips[0]:
            errs.append(invalid(f"{path}[0].ip", ips[0], "must be equal to `hostIP`"))
        for i, ip in enumerate(ips):
            errs.extend(invalid(f"{path}[{i}]", ip, m) for m in validation.is_valid_ip(ip))
        if len(ips) > 1:
            families = {":" in ip for ip in ips}
            if len(families) != 2 or len(ips) > 2:
                errs.append(invalid(path, status.get(plural), "may specify no more than one IP for each IP family"))
            seen: set[str] = set()
            for i, ip in enumerate(ips):
                if ip in seen:
                    errs.append(duplicate(f"{path}[{i}]", {"ip": ip}))
                seen.add(ip)
    return errs


def _validate_state_transitions(new: list[Any], old: list[Any], path: str, restart_policy: str) -> list[FieldError]:
    if restart_policy == "Always":
        return []
    errs: list[FieldError] = []
    for i, before in enumerate(old):
        terminated = _d(_d(before).get("state")).get("terminated")
        if not isinstance(terminated, dict):
            continue
        if terminated.get("exitCode", 0) != 0 and restart_policy == "OnFailure":
            continue
        for after in new:
            if _d(after).get("name") == _d(before).get("name") and _d(_d(after).get("state")).get("terminated") is None:
                errs.append(forbidden(f"{path}[{i}].state", "may not be transitioned to non-terminated state"))
    return errs


# ----- table ---------------------------------------------------------------------------------


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return duration.parse_time(value)
    except ValueError:
        return None


def _later(current: datetime | None, candidate: Any) -> datetime | None:
    moment = _time(candidate)
    if moment is None:
        return current
    return moment if current is None or moment > current else current


def _has_condition(status: Obj, kind: str) -> bool:
    return any(_d(c).get("type") == kind and _d(c).get("status") == "True" for c in _l(status.get("conditions")))


def pod_status_cells(pod: Obj) -> tuple[str, str, str]:
    """READY, STATUS and RESTARTS exactly as upstream's printPod works them out."""
    spec, status = _d(pod.get("spec")), _d(pod.get("status"))
    meta = _d(pod.get("metadata"))
    total = len(_l(spec.get("containers")))
    ready = restarts = sidecar_restarts = 0
    last_restart: datetime | None = None
    last_sidecar_restart: datetime | None = None
    phase = _s(status.get("phase"))
    reason = _s(status.get("reason")) or phase
    for condition in _l(status.get("conditions")):
        if _d(condition).get("type") == "PodScheduled" and _d(condition).get("reason") == "SchedulingGated":
            reason = "SchedulingGated"
    init_specs = {_s(_d(c).get("name")): _d(c) for c in _l(spec.get("initContainers"))}
    total += sum(1 for c in init_specs.values() if c.get("restartPolicy") == "Always")
    init_count = len(_l(spec.get("initContainers")))
    initializing = False
    for i, cs in enumerate(_l(status.get("initContainerStatuses"))):
        cs = _d(cs)
        count = cs.get("restartCount") or 0
        restarts += count
        finished = _d(_d(cs.get("lastState")).get("terminated")).get("finishedAt")
        last_restart = _later(last_restart, finished)
        sidecar = init_specs.get(_s(cs.get("name")), {}).get("restartPolicy") == "Always"
        if sidecar:
            sidecar_restarts += count
            last_sidecar_restart = _later(last_sidecar_restart, finished)
        state = _d(cs.get("state"))
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if isinstance(terminated, dict) and (terminated.get("exitCode") or 0) == 0:
            continue
        if sidecar and cs.get("started") is True:
            if cs.get("ready"):
                ready += 1
            continue
        if isinstance(terminated, dict):
            if not terminated.get("reason"):
                if terminated.get("signal"):
                    reason = f"Init:Signal:{terminated['signal']}"
                else:
                    reason = f"Init:ExitCode:{terminated.get('exitCode') or 0}"
            else:
                reason = "Init:" + terminated["reason"]
        elif isinstance(waiting, dict) and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{init_count}"
        initializing = True
        break
    if not initializing or _has_condition(status, "Initialized"):
        restarts = sidecar_restarts
        last_restart = last_sidecar_restart
        running = False
        for cs in reversed(_l(status.get("containerStatuses"))):
            cs = _d(cs)
            restarts += cs.get("restartCount") or 0
            last_restart = _later(last_restart, _d(_d(cs.get("lastState")).get("terminated")).get("finishedAt"))
            state = _d(cs.get("state"))
            waiting, terminated = _d(state.get("waiting")), state.get("terminated")
            if waiting.get("reason"):
                reason = waiting["reason"]
            elif isinstance(terminated, dict) and terminated.get("reason"):
                reason = terminated["reason"]
            elif isinstance(terminated, dict):
                if terminated.get("signal"):
                    reason = f"Signal:{terminated['signal']}"
                else:
                    reason = f"ExitCode:{terminated.get('exitCode') or 0}"
            elif cs.get("ready") and isinstance(state.get("running"), dict):
                running = True
                ready += 1
        if reason == "Completed" and running:
            reason = "Running" if _has_condition(status, "Ready") else "NotReady"
    if meta.get("deletionTimestamp") and status.get("reason") == NODE_LOST_REASON:
        reason = "Unknown"
    elif meta.get("deletionTimestamp") and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"
    restarts_cell = str(restarts)
    if restarts and last_restart is not None:
        ago = duration.human_duration((duration.now() - last_restart).total_seconds())
        restarts_cell = f"{restarts} ({ago} ago)"
    return f"{ready}/{total}", reason, restarts_cell


def _first_ip(status: Obj) -> str:
    ips = _l(status.get("podIPs"))
    if ips and _d(ips[0]).get("ip"):
        return _d(ips[0])["ip"]
    return _s(status.get("podIP"))


def _readiness_gates(spec: Obj, status: Obj) -> str:
    gates = _l(spec.get("readinessGates"))
    if not gates:
        return "<none>"
    true = 0
    for gate in gates:
        for condition in _l(status.get("conditions")):
            if _d(condition).get("type") == _d(gate).get("conditionType"):
                true += _d(condition).get("status") == "True"
                break
    return f"{true}/{len(gates)}"


class PodStrategy(Strategy):
    """PodStrategy is the per-kind behaviour of core/v1 Pods."""

    kind = "Pod"
    plural = "pods"
    singular = "pod"
    namespaced = True
    short_names = ("po",)
    categories = ("all",)
    subresources = ("status", "binding", "eviction", "log", "exec", "attach", "portforward", "proxy", "ephemeralcontainers")
    has_status = True
    return_deleted_object = True
    name_rule = staticmethod(validation.is_dns1123_subdomain)
    columns = (
        NAME_COLUMN,
        Column("Ready", "string", "", "Containers ready out of containers expected (sidecar init containers count)."),
        Column("Status", "string", "", "One word summing up the pod: its phase, or why its containers are not running."),
        Column("Restarts", "string", "", "Container restarts, with how long ago the latest one ended."),
        AGE_COLUMN,
        Column("IP", "string", "", "The first IP address given to the pod.", 1),
        Column("Node", "string", "", "The node the pod is bound to.", 1),
        Column("Nominated Node", "string", "", "The node the scheduler reserved for the pod after preempting others.", 1),
        Column("Readiness Gates", "string", "", "Extra readiness conditions met out of those the pod declares.", 1),
    )

    def default(self, obj: Obj) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            spec = obj["spec"] = {}
        with decoding(self.kind):
            _default_pod_only(spec)
            default_pod_spec(spec)
        status = obj.get("status")
        if isinstance(status, dict):
            sync_ips(status)

    def prepare_for_create(self, obj: Obj) -> None:
        admit(obj)
        super().prepare_for_create(obj)

    def initial_status(self, obj: Obj) -> Obj:
        spec = _d(obj.get("spec"))
        status: Obj = {"phase": "Pending", "qosClass": qos_class(spec)}
        if _l(spec.get("schedulingGates")):
            status["conditions"] = [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "lastProbeTime": None,
                    "lastTransitionTime": None,
                    "reason": "SchedulingGated",
                    "message": "Scheduling is blocked due to non-empty scheduling gates",
                }
            ]
        return status

    def validate_fields(self, obj: Obj) -> list[FieldError]:
        spec = _d(obj.get("spec"))
        errs = validate_pod_spec(spec, "spec")
        if not spec.get("serviceAccountName"):
            for i, volume in enumerate(_l(spec.get("volumes"))):
                for j, source in enumerate(_l(_d(_d(volume).get("projected")).get("sources"))):
                    if _d(source).get("serviceAccountToken") is not None:
                        errs.append(forbidden(
                            f"spec.volumes[{i}].projected.sources[{j}].serviceAccountToken",
                            "must not be specified when serviceAccountName is not set",
                        ))
        for key in ("containers", "initContainers"):
            for i, container in enumerate(_l(spec.get(key))):
                errs.extend(validate_image_whitespace(_d(container), f"spec.{key}[{i}]"))
        return errs

    def validate(self, obj: Obj) -> list[FieldError]:
        errs = super().validate(obj)
        spec = _d(obj.get("spec"))
        if _l(spec.get("ephemeralContainers")):
            errs.append(forbidden("spec.ephemeralContainers", "cannot be set on create"))
        if spec.get("nodeName") and _l(spec.get("schedulingGates")):
            errs.append(forbidden("spec.nodeName", "cannot be set until all schedulingGates have been cleared"))
        return errs

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        # Upstream skips the create-only checks on update, so the base class's validate() is used here.
        errs = validation.validate_object_meta_update(_d(new.get("metadata")), _d(old.get("metadata")))
        errs.extend(Strategy.validate(self, new))
        errs.extend(self.validate_fields_update(new, old))
        return errs

    def validate_fields_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return validate_pod_spec_update(_d(new.get("spec")), _d(old.get("spec")))

    def prepare_for_status_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_status_update(new, old)
        status = new.get("status")
        if isinstance(status, dict):
            # Old kubelets drop qosClass when rejecting a pod; upstream backfills it.
            if not status.get("qosClass"):
                old_qos = _d(old.get("status")).get("qosClass")
                if old_qos:
                    status["qosClass"] = old_qos
            sync_ips(status)

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        errs = super().validate_status_update(new, old)
        status, old_status = _d(new.get("status")), _d(old.get("status"))
        spec, old_spec = _d(new.get("spec")), _d(old.get("spec"))
        for i, condition in enumerate(_l(status.get("conditions"))):
            kind = _s(_d(condition).get("type"))
            if kind not in ("PodScheduled", "Ready", "Initialized"):
                # Upstream reports these under `metadata`; kept for fidelity.
                errs.extend(invalid(f"metadata.conditions[{i}].Type", kind, m) for m in validation.is_qualified_name(kind))
        nominated = _s(status.get("nominatedNodeName"))
        if nominated and nominated != old_status.get("nominatedNodeName"):
            errs.extend(invalid("status.nominatedNodeName", nominated, m) for m in validation.is_dns1123_subdomain(nominated))
        errs.extend(validation.validate_immutable(status.get("qosClass") or "", old_status.get("qosClass") or "", "status.qosClass"))
        restart_policy = _s(old_spec.get("restartPolicy"))
        errs.extend(_validate_state_transitions(
            _l(status.get("containerStatuses")), _l(old_status.get("containerStatuses")), "status.containerStatuses", restart_policy
        ))
        sidecars = {_s(_d(c).get("name")) for c in _l(spec.get("initContainers")) if _d(c).get("restartPolicy") == "Always"}
        errs.extend(_validate_state_transitions(
            _l(status.get("initContainerStatuses")),
            [s for s in _l(old_status.get("initContainerStatuses")) if _d(s).get("name") not in sidecars],
            "status.initContainerStatuses",
            restart_policy,
        ))
        errs.extend(_validate_pod_ips(status))
        return errs

    def row(self, obj: Obj) -> list[Any]:
        spec, status = _d(obj.get("spec")), _d(obj.get("status"))
        ready, reason, restarts = pod_status_cells(obj)
        return [
            _d(obj.get("metadata")).get("name", ""),
            ready,
            reason,
            restarts,
            duration.age(obj),
            _first_ip(status) or "<none>",
            _s(spec.get("nodeName")) or "<none>",
            _s(status.get("nominatedNodeName")) or "<none>",
            _readiness_gates(spec, status),
        ]

    def selectable_fields(self, obj: Obj) -> dict[str, str]:
        spec, status = _d(obj.get("spec")), _d(obj.get("status"))
        return {
            "spec.nodeName": _s(spec.get("nodeName")),
            "spec.restartPolicy": _s(spec.get("restartPolicy")),
            "spec.schedulerName": _s(spec.get("schedulerName")),
            "spec.serviceAccountName": _s(spec.get("serviceAccountName")),
            "spec.hostNetwork": "true" if spec.get("hostNetwork") is True else "false",
            "status.phase": _s(status.get("phase")),
            "status.podIP": _first_ip(status),
            "status.nominatedNodeName": _s(status.get("nominatedNodeName")),
        }


STRATEGY = PodStrategy()
