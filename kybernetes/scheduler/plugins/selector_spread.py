"""SelectorSpread: prefer nodes (and zones) running fewer pods of the same owner, so replicas spread out.

Pods count as siblings when they share a namespace and the uid of their controller owner
reference (a ReplicaSet, StatefulSet, Job, ...). The score follows upstream's SelectorSpread:
100 * (most siblings on any node - siblings here) / most, blended two thirds with the same
measure per zone (`topology.kubernetes.io/zone`) when nodes carry zones.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from kybernetes.scheduler.framework import MAX_NODE_SCORE, SKIP, SUCCESS, CycleState, Handle, NodeInfo, PodInfo, Status

NAME = "SelectorSpread"
ZONE_LABEL = "topology.kubernetes.io/zone"
ZONE_WEIGHTING = 2 / 3


def siblings(pod: PodInfo, node: NodeInfo) -> int:
    """Count the pods on `node` with the same controller owner as `pod` (terminating ones excluded)."""
    if not pod.owner_uid:
        return 0
    return sum(1 for other in node.pods.values() if other.owner_uid == pod.owner_uid
               and other.namespace == pod.namespace and not other.terminating)


def spread(counts: Mapping[str, int], zones: Mapping[str, str]) -> dict[str, int]:
    """Turn sibling counts per node into 0..100 scores, fewer siblings scoring higher."""
    most = max(counts.values(), default=0)
    per_zone: dict[str, int] = {}
    for name, value in counts.items():
        if zones.get(name):
            per_zone[zones[name]] = per_zone.get(zones[name], 0) + value
    most_zone = max(per_zone.values(), default=0)
    scores = {}
    for name, value in counts.items():
        score = MAX_NODE_SCORE * (most - value) / most if most > 0 else float(MAX_NODE_SCORE)
        zone = zones.get(name)
        if per_zone and zone:
            zone_score = MAX_NODE_SCORE * (most_zone - per_zone[zone]) / most_zone if most_zone > 0 else MAX_NODE_SCORE
            score = score * (1 - ZONE_WEIGHTING) + ZONE_WEIGHTING * zone_score
        scores[name] = int(score)
    return scores


class SelectorSpread:
    """SelectorSpread is the scorer that spreads an owner's pods."""

    name = NAME

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        if not pod.owner_uid:
            return SKIP
        state[NAME] = {n.name: n.labels.get(ZONE_LABEL, "") for n in nodes}
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return siblings(pod, node)

    def normalize(self, state: CycleState, pod: PodInfo, scores: dict[str, int]) -> None:
        scores.update(spread(scores, state[NAME]))


def factory(handle: Handle) -> SelectorSpread:
    return SelectorSpread()
