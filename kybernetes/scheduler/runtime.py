"""Runtime: runs a profile's plugins over the nodes to pick one for a pod, or explains in upstream's words why none fits.

One scheduling cycle (upstream's schedulePod): pre-filter, filter nodes starting where the last
cycle stopped (stopping early in big clusters, as percentageOfNodesToScore does), score the
feasible ones with each scorer's weight, and pick the best, breaking ties at random. When no
node fits, `FitError.message` is upstream's FailedScheduling text:

    0/3 nodes are available: 1 Insufficient memory, 2 node(s) didn't match Pod's node
    affinity/selector. preemption: 0/3 nodes are available: 1 No preemption victims found for
    incoming pod, 2 Preemption is not helpful for scheduling.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from kybernetes.scheduler.framework import (
    Code,
    CycleState,
    Event,
    FilterPlugin,
    Handle,
    NodeInfo,
    PodInfo,
    PreFilterPlugin,
    SUCCESS,
    ScorePlugin,
    Status,
)
from kybernetes.scheduler.plugins.registry import DEFAULT_FILTERS, DEFAULT_SCORES, PLUGINS, Factory

MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5
NO_NODES_AVAILABLE = "no nodes available to schedule pods"
PREEMPTION_NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_PREEMPTION_VICTIMS = "No preemption victims found for incoming pod"


class Framework:
    """Framework is one scheduling profile: its plugins built once, in filter order, with score weights."""

    def __init__(self, handle: Handle = Handle(), *, filters: Sequence[str] = DEFAULT_FILTERS,
                 scores: Mapping[str, int] = DEFAULT_SCORES, plugins: Mapping[str, Factory] = PLUGINS) -> None:
        built: dict[str, object] = {}

        def plugin(name: str) -> object:
            if name not in built:
                if name not in plugins:
                    raise ValueError(f"unknown scheduler plugin {name!r}; known: {', '.join(sorted(plugins))}")
                built[name] = plugins[name](handle)
            return built[name]

        self.filters: list[FilterPlugin] = []
        for name in filters:
            instance = plugin(name)
            if not isinstance(instance, FilterPlugin):
                raise ValueError(f"scheduler plugin {name!r} cannot filter")
            self.filters.append(instance)
        self.pre_filters = [p for p in self.filters if isinstance(p, PreFilterPlugin)]
        self.scorers: list[tuple[ScorePlugin, int]] = []
        for name, weight in scores.items():
            instance = plugin(name)
            if not isinstance(instance, ScorePlugin):
                raise ValueError(f"scheduler plugin {name!r} cannot score")
            self.scorers.append((instance, weight))

    @property
    def events(self) -> dict[str, Event]:
        """Return, per filter plugin, the cluster events that may undo its rejection."""
        return {p.name: p.events for p in self.filters}

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> tuple[Status, list[FilterPlugin]]:
        """Run the pre-filters; return their verdict and the filters to run for this pod (those not skipped)."""
        skipped = set()
        for plugin in self.pre_filters:
            status = plugin.pre_filter(state, pod, nodes)
            if status.code is Code.SKIP:
                skipped.add(plugin.name)
            elif status.code:
                return status.with_plugin(plugin.name), []
        return SUCCESS, [p for p in self.filters if p.name not in skipped]

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo, plugins: Sequence[FilterPlugin] | None = None) -> Status:
        """Run the filters in order; the first that does not pass decides."""
        for plugin in self.filters if plugins is None else plugins:
            status = plugin.filter(state, pod, node)
            if status.code:  # Code.SUCCESS is 0
                return status.with_plugin(plugin.name)
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> dict[str, int]:
        """Return each node's total weighted score; skipped scorers would have scored all nodes alike."""
        totals = {n.name: 0 for n in nodes}
        for plugin, weight in self.scorers:
            if plugin.pre_score(state, pod, nodes).code is Code.SKIP:
                continue
            scores = {n.name: plugin.score(state, pod, n) for n in nodes}
            plugin.normalize(state, pod, scores)
            for name, value in scores.items():
                totals[name] += value * weight
        return totals


@dataclass
class Diagnosis:
    """Diagnosis records why each node was rejected in one cycle."""

    statuses: dict[str, Status] = field(default_factory=dict)
    pre_filter_message: str = ""

    @property
    def rejected_by(self) -> frozenset[str]:
        return frozenset(s.plugin for s in self.statuses.values() if s.plugin)


def histogram(statuses: Sequence[Status], absent: int = 0, absent_reason: str = "") -> str:
    """Return "n reason" pairs sorted as strings (so "10 x" sorts before "2 y", as upstream's does)."""
    counts: Counter[str] = Counter()
    for status in statuses:
        for reason in status.reasons:
            counts[reason] += 1
    if absent and absent_reason:
        counts[absent_reason] += absent
    return ", ".join(sorted(f"{n} {reason}" for reason, n in counts.items()))


def fit_error_message(num_all_nodes: int, diagnosis: Diagnosis, post_filter_message: str = "") -> str:
    """Format FitError.Error(): the node count, the reasons or the pre-filter message, then the post-filter one."""
    message = f"0/{num_all_nodes} nodes are available:"
    if diagnosis.pre_filter_message:
        message += f" {diagnosis.pre_filter_message}."
    else:
        reasons = histogram(list(diagnosis.statuses.values()))
        if reasons:
            message += f" {reasons}."
    if post_filter_message:
        message += f" {post_filter_message}"
    return message


def preemption_message(pod: PodInfo, nodes: Sequence[NodeInfo], diagnosis: Diagnosis) -> str:
    """Return what upstream's DefaultPreemption says when it finds nothing to preempt.

    We never preempt (see README), so this is the "no candidates" answer: nodes rejected for
    good count as "not helpful", the others as having no victims.
    """
    if pod.spec.get("preemptionPolicy") == "Never":
        return "preemption: not eligible due to preemptionPolicy=Never."
    retryable = [s for name, s in diagnosis.statuses.items() if s.code is Code.UNSCHEDULABLE]
    victims = [Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (NO_PREEMPTION_VICTIMS,)) for _ in retryable]
    reasons = histogram(victims, len(nodes) - len(victims), PREEMPTION_NOT_HELPFUL)
    return f"preemption: 0/{len(nodes)} nodes are available: {reasons}." if reasons else ""


class FitError(Exception):
    """FitError: no node fits the pod; the message is what users see in FailedScheduling."""

    def __init__(self, pod: PodInfo, nodes: Sequence[NodeInfo], diagnosis: Diagnosis) -> None:
        self.pod = pod
        self.num_all_nodes = len(nodes)
        self.diagnosis = diagnosis
        post_filter = preemption_message(pod, nodes, diagnosis)
        super().__init__(fit_error_message(len(nodes), diagnosis, post_filter))

    @property
    def message(self) -> str:
        return str(self)


class NoNodesAvailable(Exception):
    """NoNodesAvailable: the cluster has no nodes at all."""

    def __init__(self) -> None:
        super().__init__(NO_NODES_AVAILABLE)


@dataclass(frozen=True)
class ScheduleResult:
    """ScheduleResult is the chosen node and how many nodes were looked at."""

    node: str
    evaluated: int
    feasible: int


def feasible_nodes_to_find(num_all_nodes: int, percentage: int = 0) -> int:
    """Return how many feasible nodes are enough (upstream's numFeasibleNodesToFind)."""
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_all_nodes
    if percentage <= 0:
        percentage = max(50 - num_all_nodes // 125, MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
    if percentage >= 100:
        return num_all_nodes
    return max(num_all_nodes * percentage // 100, MIN_FEASIBLE_NODES_TO_FIND)


class Algorithm:
    """Algorithm schedules one pod at a time with a Framework, remembering where to start the next node scan."""

    def __init__(self, framework: Framework, *, rng: random.Random | None = None, percentage_of_nodes_to_score: int = 0) -> None:
        self.framework = framework
        self._rng = rng or random.Random()
        self._percentage = percentage_of_nodes_to_score
        self._next_start = 0

    def schedule(self, pod: PodInfo, nodes: Sequence[NodeInfo]) -> ScheduleResult:
        """Pick a node for `pod`; raise FitError or NoNodesAvailable if there is none."""
        if not nodes:
            raise NoNodesAvailable()
        state: CycleState = {}
        feasible, diagnosis = self._feasible(state, pod, nodes)
        if not feasible:
            raise FitError(pod, nodes, diagnosis)
        if len(feasible) == 1:
            return ScheduleResult(feasible[0].name, len(feasible) + len(diagnosis.statuses), 1)
        totals = self.framework.score(state, pod, feasible)
        return ScheduleResult(self.select(totals), len(feasible) + len(diagnosis.statuses), len(feasible))

    def _feasible(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> tuple[list[NodeInfo], Diagnosis]:
        diagnosis = Diagnosis()
        status, filters = self.framework.pre_filter(state, pod, nodes)
        if status.code:
            diagnosis.pre_filter_message = status.message
            diagnosis.statuses = {n.name: status for n in nodes}
            return [], diagnosis
        run_filters = self.framework.filter
        wanted = feasible_nodes_to_find(len(nodes), self._percentage)
        feasible: list[NodeInfo] = []
        processed = 0
        count = len(nodes)
        start = self._next_start % count
        for i in range(count):
            node = nodes[(start + i) % count]
            processed += 1
            verdict = run_filters(state, pod, node, filters)
            if not verdict.code:
                feasible.append(node)
                if len(feasible) >= wanted:
                    break
            elif verdict.rejected:
                diagnosis.statuses[node.name] = verdict
            else:
                raise RuntimeError(f"running {verdict.plugin} filter on node {node.name}: {verdict.message}")
        self._next_start = (start + processed) % count
        return feasible, diagnosis

    def select(self, totals: Mapping[str, int]) -> str:
        """Return the node with the highest total; among equals each is equally likely (reservoir sampling)."""
        best, best_score, ties = "", -1, 0
        for name, score in totals.items():
            if score > best_score:
                best, best_score, ties = name, score, 1
            elif score == best_score:
                ties += 1
                if self._rng.randrange(ties) == 0:
                    best = name
        return best
