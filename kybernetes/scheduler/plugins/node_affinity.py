"""NodeAffinity: spec.nodeSelector and required node affinity decide where a pod may go; preferred terms add score.

Node selector terms are ORed, the requirements of one term ANDed; an empty term matches nothing.
Operators: In, NotIn, Exists, DoesNotExist, Gt, Lt on labels, In/NotIn on the `metadata.name` field.
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

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

NAME = "NodeAffinity"
REASON = "node(s) didn't match Pod's node affinity/selector"

_INT = re.compile(r"[+-]?[0-9]+")


def _integer(text: Any) -> int | None:
    return int(text) if isinstance(text, str) and _INT.fullmatch(text) else None


def requirement_matches(requirement: Mapping[str, Any], values: Mapping[str, str]) -> bool:
    """Tell whether one NodeSelectorRequirement holds for `values` (labels, or fields); unknown operators fail."""
    key = requirement.get("key") or ""
    operator = requirement.get("operator")
    wanted = [str(v) for v in requirement.get("values") or ()]
    present = key in values
    if operator == "In":
        return present and values[key] in wanted
    if operator == "NotIn":
        return not present or values[key] not in wanted
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    if operator in ("Gt", "Lt"):
        if not present or len(wanted) != 1:
            return False
        have, bound = _integer(values[key]), _integer(wanted[0])
        if have is None or bound is None:
            return False
        return have > bound if operator == "Gt" else have < bound
    return False


def term_matches(term: Mapping[str, Any], labels: Mapping[str, str], node_name: str) -> bool:
    """Tell whether a NodeSelectorTerm matches a node; a term with no requirements matches nothing."""
    expressions = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not expressions and not fields:
        return False
    if not all(requirement_matches(r, labels) for r in expressions):
        return False
    # Only metadata.name is a supported field, and only with In/NotIn.
    for requirement in fields:
        if requirement.get("key") != "metadata.name" or requirement.get("operator") not in ("In", "NotIn"):
            return False
        if not requirement_matches(requirement, {"metadata.name": node_name}):
            return False
    return True


def fits(spec: Mapping[str, Any], labels: Mapping[str, str], node_name: str) -> bool:
    """Tell whether the pod's nodeSelector and required node affinity accept the node."""
    for key, value in (spec.get("nodeSelector") or {}).items():
        if labels.get(key) != value:
            return False
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution"))
    if required is None:
        return True
    return any(term_matches(t or {}, labels, node_name) for t in required.get("nodeSelectorTerms") or [])


def _node_affinity(spec: Mapping[str, Any]) -> Mapping[str, Any]:
    return (spec.get("affinity") or {}).get("nodeAffinity") or {}


def preference_score(spec: Mapping[str, Any], labels: Mapping[str, str], node_name: str) -> int:
    """Sum the weights of the preferred scheduling terms the node matches."""
    preferred = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                 .get("preferredDuringSchedulingIgnoredDuringExecution")) or []
    return sum(int(p.get("weight") or 0) for p in preferred
               if isinstance(p, dict) and term_matches(p.get("preference") or {}, labels, node_name))


class NodeAffinity:
    """NodeAffinity filters on the pod's node selector and affinity, and scores preferred terms."""

    name = NAME
    events = Event.NODE_ADD | Event.NODE_LABEL

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        wanted = pod.spec.get("nodeSelector") or _node_affinity(pod.spec).get("requiredDuringSchedulingIgnoredDuringExecution")
        return SUCCESS if wanted is not None and wanted != {} else SKIP

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        return SUCCESS if fits(pod.spec, node.labels, node.name) else unresolvable(REASON)

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        return SUCCESS if _node_affinity(pod.spec).get("preferredDuringSchedulingIgnoredDuringExecution") else SKIP

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return preference_score(pod.spec, node.labels, node.name)

    def normalize(self, state: CycleState, pod: PodInfo, scores: dict[str, int]) -> None:
        default_normalize(scores)


def factory(handle: Handle) -> NodeAffinity:
    return NodeAffinity()
