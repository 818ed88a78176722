"""NodePorts: a pod's hostPorts must not collide with ports already taken on the node.

Two claims collide on the same port and protocol when their host IPs are equal or either is
0.0.0.0 (every address), as upstream's HostPortInfo.CheckConflict.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from kybernetes.scheduler.framework import SKIP, SUCCESS, CycleState, Event, Handle, HostPort, NodeInfo, PodInfo, Status, unschedulable

NAME = "NodePorts"
REASON = "node(s) didn't have free ports for the requested pod ports"


def fits(wanted: Iterable[HostPort], used: Iterable[HostPort]) -> bool:
    """Tell whether none of `wanted` collides with any of `used`."""
    taken = list(used)
    return not any(w.conflicts(u) for w in wanted for u in taken)


class NodePorts:
    """NodePorts is the host port filter."""

    name = NAME
    events = Event.NODE_ADD | Event.POD_DELETE

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        return SUCCESS if pod.host_ports else SKIP

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        if not pod.host_ports or fits(pod.host_ports, node.used_ports):
            return SUCCESS
        return unschedulable(REASON)


def factory(handle: Handle) -> NodePorts:
    return NodePorts()
