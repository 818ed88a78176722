"""InterPodAffinity: required pod affinity and anti-affinity by topology key, both the pod's own and existing pods'.

pre_filter counts, per (topologyKey, value), the existing pods that satisfy the pod's affinity
terms, those its anti-affinity terms reject, and those whose own anti-affinity rejects the pod;
filter then only looks up the node's labels (upstream's interpodaffinity PreFilter/Filter). A pod
whose affinity matches nothing yet may still go where its own labels would satisfy it, so the
first replica of a self-affine group is not stuck forever.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from kybernetes.scheduler.framework import (
    SKIP,
    SUCCESS,
    AffinityTerm,
    CycleState,
    Event,
    Handle,
    NamespaceLabels,
    NodeInfo,
    PodInfo,
    Status,
    unresolvable,
    unschedulable,
)

NAME = "InterPodAffinity"
AFFINITY_REASON = "node(s) didn't match pod affinity rules"
ANTI_AFFINITY_REASON = "node(s) didn't match pod anti-affinity rules"
EXISTING_ANTI_AFFINITY_REASON = "node(s) didn't satisfy existing pods anti-affinity rules"

Pair = tuple[str, str]


@dataclass
class Counts:
    """Counts is the pre_filter state: matching pods per topology pair."""

    affinity: Counter[Pair] = field(default_factory=Counter)
    anti_affinity: Counter[Pair] = field(default_factory=Counter)
    existing_anti_affinity: Counter[Pair] = field(default_factory=Counter)


def _bump(counter: Counter[Pair], labels: Mapping[str, str], key: str) -> None:
    if key in labels:
        counter[(key, labels[key])] += 1


def count(pod: PodInfo, nodes: Sequence[NodeInfo], namespace_labels: NamespaceLabels) -> Counts:
    """Count what `filter` needs to know about every pod already placed."""
    counts = Counts()
    for node in nodes:
        if node.node is None:
            continue
        for existing in node.with_anti_affinity.values():
            for term in existing.anti_affinity_terms:
                if term.matches(pod, namespace_labels):
                    _bump(counts.existing_anti_affinity, node.labels, term.topology_key)
        if not pod.affinity_terms and not pod.anti_affinity_terms:
            continue
        for other in node.pods.values():
            if pod.affinity_terms and all(t.matches(other, namespace_labels) for t in pod.affinity_terms):
                for term in pod.affinity_terms:
                    _bump(counts.affinity, node.labels, term.topology_key)
            for term in pod.anti_affinity_terms:
                if term.matches(other, namespace_labels):
                    _bump(counts.anti_affinity, node.labels, term.topology_key)
    return counts


def _matches_itself(terms: Sequence[AffinityTerm], pod: PodInfo, namespace_labels: NamespaceLabels) -> bool:
    return all(t.matches(pod, namespace_labels) for t in terms)


def fits(pod: PodInfo, labels: Mapping[str, str], counts: Counts, namespace_labels: NamespaceLabels) -> Status:
    """Judge one node's labels against the counts; the first broken rule is the reason."""
    missing = False
    for term in pod.affinity_terms:
        if term.topology_key not in labels:
            return unresolvable(AFFINITY_REASON)
        if counts.affinity[(term.topology_key, labels[term.topology_key])] <= 0:
            missing = True
    if missing and not (not counts.affinity and _matches_itself(pod.affinity_terms, pod, namespace_labels)):
        return unresolvable(AFFINITY_REASON)
    if counts.anti_affinity:
        for term in pod.anti_affinity_terms:
            value = labels.get(term.topology_key)
            if value is not None and counts.anti_affinity[(term.topology_key, value)] > 0:
                return unschedulable(ANTI_AFFINITY_REASON)
    if counts.existing_anti_affinity:
        if any(counts.existing_anti_affinity[pair] > 0 for pair in labels.items()):
            return unschedulable(EXISTING_ANTI_AFFINITY_REASON)
    return SUCCESS


class InterPodAffinity:
    """InterPodAffinity is the pod (anti-)affinity filter."""

    name = NAME
    events = Event.NODE_ADD | Event.NODE_LABEL | Event.POD_ADD | Event.POD_LABEL | Event.POD_DELETE

    def __init__(self, handle: Handle) -> None:
        self._namespace_labels = handle.namespace_labels

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        counts = count(pod, nodes, self._namespace_labels)
        if not pod.affinity_terms and not counts.anti_affinity and not counts.existing_anti_affinity:
            return SKIP
        state[NAME] = counts
        return SUCCESS

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        return fits(pod, node.labels, state[NAME], self._namespace_labels)


def factory(handle: Handle) -> InterPodAffinity:
    return InterPodAffinity(handle)
