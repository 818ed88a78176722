"""TaintToleration: a node's NoSchedule/NoExecute taints keep out pods that don't tolerate them; PreferNoSchedule ones lower its score.

The taints include those implied by a node that is not Ready (node.kubernetes.io/not-ready or
unreachable, see `framework.implied_taints`).
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from kybernetes.scheduler.framework import (
    SKIP,
    SUCCESS,
    CycleState,
    Event,
    Handle,
    NodeInfo,
    PodInfo,
    Status,
    default_normalize,
    unresolvable,
)

NAME = "TaintToleration"

_FILTERED_EFFECTS = ("NoSchedule", "NoExecute")


def reason(taint: dict[str, Any]) -> str:
    """Return upstream's failure reason for an untolerated taint."""
    return f"node(s) had untolerated taint {{{taint.get('key', '')}: {taint.get('value', '')}}}"


def tolerates(toleration: dict[str, Any], taint: dict[str, Any]) -> bool:
    """Tell whether one toleration tolerates one taint (upstream's Toleration.ToleratesTaint)."""
    if toleration.get("effect") and toleration.get("effect") != taint.get("effect"):
        return False
    if toleration.get("key") and toleration.get("key") != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    if operator == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def untolerated(taints: Iterable[dict[str, Any]], tolerations: Sequence[Any],
                effects: tuple[str, ...] = _FILTERED_EFFECTS) -> dict[str, Any] | None:
    """Return the first taint with one of `effects` that no toleration tolerates, or None."""
    valid = [t for t in tolerations if isinstance(t, dict)]
    for taint in taints:
        if taint.get("effect") in effects and not any(tolerates(t, taint) for t in valid):
            return taint
    return None


def intolerable_preferences(taints: Iterable[dict[str, Any]], tolerations: Sequence[Any]) -> int:
    """Count PreferNoSchedule taints the pod does not tolerate (the raw score: fewer is better)."""
    relevant = [t for t in tolerations if isinstance(t, dict) and t.get("effect") in (None, "", "PreferNoSchedule")]
    return sum(1 for taint in taints if taint.get("effect") == "PreferNoSchedule"
               and not any(tolerates(t, taint) for t in relevant))


class TaintToleration:
    """TaintToleration filters on hard taints and scores on soft ones."""

    name = NAME
    events = Event.NODE_ADD | Event.NODE_TAINT | Event.NODE_CONDITION

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        taint = untolerated(node.taints, pod.spec.get("tolerations") or ())
        return SUCCESS if taint is None else unresolvable(reason(taint))

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        # Without soft taints anywhere every node scores the same.
        soft = any(t.get("effect") == "PreferNoSchedule" for n in nodes for t in n.taints)
        return SUCCESS if soft else SKIP

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return intolerable_preferences(node.taints, pod.spec.get("tolerations") or ())

    def normalize(self, state: CycleState, pod: PodInfo, scores: dict[str, int]) -> None:
        default_normalize(scores, reverse=True)


def factory(handle: Handle) -> TaintToleration:
    return TaintToleration()
