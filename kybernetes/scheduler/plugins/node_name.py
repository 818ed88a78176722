"""NodeName: a pod that names its node (spec.nodeName) fits only that node."""

from __future__ import annotations

from typing import Sequence

from kybernetes.scheduler.framework import SKIP, SUCCESS, CycleState, Event, Handle, NodeInfo, PodInfo, Status, unresolvable

NAME = "NodeName"
REASON = "node(s) didn't match the requested node name"


def fits(wanted: str, node_name: str) -> bool:
    """Tell whether a pod asking for node `wanted` ("" for any) may go to `node_name`."""
    return not wanted or wanted == node_name


class NodeName:
    """NodeName is the filter over spec.nodeName."""

    name = NAME
    events = Event.NODE_ADD

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        return SUCCESS if pod.spec.get("nodeName") else SKIP

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        if fits(str(pod.spec.get("nodeName") or ""), node.name):
            return SUCCESS
        return unresolvable(REASON)


def factory(handle: Handle) -> NodeName:
    return NodeName()
