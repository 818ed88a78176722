"""NodeResourcesLeastAllocated: prefer the node whose cpu and memory would stay the least requested.

Per resource: (allocatable - requested) * 100 / allocatable, where requested counts the pod and
everything on the node with missing requests taken as 100m cpu / 200Mi memory; the score is the
weighted mean (upstream's NodeResourcesFit scoring with the LeastAllocated strategy).
"""

from __future__ import annotations

from typing import Sequence

from kybernetes.scheduler.framework import MAX_NODE_SCORE, SUCCESS, CycleState, Handle, NodeInfo, PodInfo, Status

NAME = "NodeResourcesLeastAllocated"

CPU_WEIGHT = 1
MEMORY_WEIGHT = 1


def resource_score(requested: int, allocatable: int) -> int:
    """Score one resource: 100 for idle, 0 for full or over-committed or absent."""
    if allocatable == 0 or requested > allocatable:
        return 0
    return (allocatable - requested) * MAX_NODE_SCORE // allocatable


def score(pod: PodInfo, node: NodeInfo) -> int:
    """Return the weighted least-allocated score of `node` for `pod`."""
    cpu = resource_score(node.non_zero_requested.milli_cpu + pod.non_zero_requests.milli_cpu, node.allocatable.milli_cpu)
    memory = resource_score(node.non_zero_requested.memory + pod.non_zero_requests.memory, node.allocatable.memory)
    return (cpu * CPU_WEIGHT + memory * MEMORY_WEIGHT) // (CPU_WEIGHT + MEMORY_WEIGHT)


class LeastAllocated:
    """LeastAllocated is the scorer that spreads load by free capacity."""

    name = NAME

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return score(pod, node)

    def normalize(self, state: CycleState, pod: PodInfo, scores: dict[str, int]) -> None:
        pass


def factory(handle: Handle) -> LeastAllocated:
    return LeastAllocated()
