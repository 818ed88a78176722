"""NodeUnschedulable: a cordoned node (spec.unschedulable) takes only pods that tolerate its unschedulable taint."""

from __future__ import annotations

from typing import Any, Iterable

from kybernetes.scheduler.framework import (
    SUCCESS,
    UNSCHEDULABLE_TAINT,
    CycleState,
    Event,
    Handle,
    NodeInfo,
    PodInfo,
    Status,
    unresolvable,
)
from kybernetes.scheduler.plugins.taint_toleration import tolerates

NAME = "NodeUnschedulable"
REASON = "node(s) were unschedulable"

_TAINT = {"key": UNSCHEDULABLE_TAINT, "effect": "NoSchedule"}


def fits(unschedulable: bool, tolerations: Iterable[Any]) -> bool:
    """Tell whether a pod with `tolerations` may go to a node that is (or is not) marked unschedulable."""
    if not unschedulable:
        return True
    return any(tolerates(t, _TAINT) for t in tolerations if isinstance(t, dict))


class NodeUnschedulable:
    """NodeUnschedulable is the filter over spec.unschedulable (kubectl cordon)."""

    name = NAME
    events = Event.NODE_ADD | Event.NODE_UNSCHEDULABLE | Event.NODE_TAINT

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        if fits(node.unschedulable, pod.spec.get("tolerations") or ()):
            return SUCCESS
        return unresolvable(REASON)


def factory(handle: Handle) -> NodeUnschedulable:
    return NodeUnschedulable()
