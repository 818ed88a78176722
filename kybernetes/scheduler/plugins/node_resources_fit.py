"""NodeResourcesFit: a pod fits a node only if its requests fit in what the node's allocatable leaves free.

Free means allocatable minus the requests of the pods bound or assumed on the node. Reasons are
upstream's: "Too many pods", "Insufficient cpu", "Insufficient memory",
"Insufficient ephemeral-storage" and "Insufficient <extended resource>". A request larger than the
whole allocatable can never fit, so that node is unresolvable (preemption would not help).
"""

from __future__ import annotations

from dataclasses import dataclass

from kybernetes.scheduler.framework import SUCCESS, Code, CycleState, Event, Handle, NodeInfo, PodInfo, Status
from kybernetes.scheduler.resources import Resource

NAME = "NodeResourcesFit"
TOO_MANY_PODS = "Too many pods"


@dataclass(frozen=True, slots=True)
class Insufficient:
    """Insufficient is one resource the node lacks for the pod."""

    resource: str
    reason: str
    unresolvable: bool = False


def _check(name: str, wanted: int, allocatable: int, requested: int) -> Insufficient | None:
    if wanted > 0 and wanted > allocatable - requested:
        return Insufficient(name, f"Insufficient {name}", wanted > allocatable)
    return None


def insufficient(wanted: Resource, allocatable: Resource, requested: Resource, pod_count: int) -> list[Insufficient]:
    """Return every resource the node lacks for the pod, in upstream's order (fitsRequest)."""
    if (pod_count < allocatable.allowed_pods and not wanted.scalars
            and wanted.milli_cpu <= allocatable.milli_cpu - requested.milli_cpu
            and wanted.memory <= allocatable.memory - requested.memory
            and wanted.ephemeral_storage <= allocatable.ephemeral_storage - requested.ephemeral_storage):
        return []  # the common case, decided without building anything
    found: list[Insufficient] = []
    if pod_count + 1 > allocatable.allowed_pods:
        found.append(Insufficient("pods", TOO_MANY_PODS))
    if wanted.empty:
        return found
    for name, want, have, used in (
        ("cpu", wanted.milli_cpu, allocatable.milli_cpu, requested.milli_cpu),
        ("memory", wanted.memory, allocatable.memory, requested.memory),
        ("ephemeral-storage", wanted.ephemeral_storage, allocatable.ephemeral_storage, requested.ephemeral_storage),
    ):
        if (miss := _check(name, want, have, used)) is not None:
            found.append(miss)
    for name in sorted(wanted.scalars):
        miss = _check(name, wanted.scalars[name], allocatable.scalars.get(name, 0), requested.scalars.get(name, 0))
        if miss is not None:
            found.append(miss)
    return found


def fits(pod: PodInfo, node: NodeInfo) -> Status:
    """Return the fit verdict with every missing resource as a reason."""
    missing = insufficient(pod.requests, node.allocatable, node.requested, len(node.pods))
    if not missing:
        return SUCCESS
    code = Code.UNSCHEDULABLE_AND_UNRESOLVABLE if any(m.unresolvable for m in missing) else Code.UNSCHEDULABLE
    return Status(code, tuple(m.reason for m in missing))


class NodeResourcesFit:
    """NodeResourcesFit is the resource filter."""

    name = NAME
    events = Event.NODE_ADD | Event.NODE_ALLOCATABLE | Event.POD_DELETE

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        return fits(pod, node)


def factory(handle: Handle) -> NodeResourcesFit:
    return NodeResourcesFit()
