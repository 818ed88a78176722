"""Framework: what scheduler plugins are given and return — Status, PodInfo, NodeInfo, cluster events and the plugin protocols.

Upstream's pkg/scheduler/framework in small: a plugin's `filter` answers a `Status` whose reasons
end up, counted per node, in the FailedScheduling message; `score` answers 0..100 per node after
`normalize`. PodInfo and NodeInfo hold what plugins need parsed once (requests, host ports,
affinity terms), so the per-node work of a scheduling cycle is plain arithmetic.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol, Sequence, runtime_checkable

from kybernetes.api.labels import NOTHING, Selector, SelectorError, selector_from_label_selector
from kybernetes.scheduler.resources import Resource, pod_non_zero_requests, pod_requests

Obj = dict[str, Any]

MAX_NODE_SCORE = 100
"""The highest score a plugin may give a node after normalizing."""

CycleState = dict[str, Any]
"""CycleState is per-pod scratch space plugins fill in pre_filter/pre_score, keyed by plugin name."""

NamespaceLabels = Callable[[str], Mapping[str, str]]
"""NamespaceLabels looks up a namespace's labels by name."""


class Code(enum.IntEnum):
    """Code of a plugin's answer, as upstream's framework.Code."""

    SUCCESS = 0
    ERROR = 1
    UNSCHEDULABLE = 2
    """The node does not fit now; preemption or freed resources could change that."""
    UNSCHEDULABLE_AND_UNRESOLVABLE = 3
    """The node cannot fit whatever is removed from it (affinity, taints, node name)."""
    SKIP = 4
    """From pre_filter or pre_score: this plugin has nothing to say about this pod, don't run it."""


@dataclass(frozen=True, slots=True)
class Status:
    """Status is a plugin's verdict on one node: a code and the reasons shown to users."""

    code: Code = Code.SUCCESS
    reasons: tuple[str, ...] = ()
    plugin: str = ""

    @property
    def ok(self) -> bool:
        return self.code is Code.SUCCESS

    @property
    def rejected(self) -> bool:
        return self.code in (Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE)

    @property
    def message(self) -> str:
        return ", ".join(self.reasons)

    def with_plugin(self, plugin: str) -> Status:
        return Status(self.code, self.reasons, plugin)


SUCCESS = Status()
SKIP = Status(Code.SKIP)


def unschedulable(*reasons: str) -> Status:
    return Status(Code.UNSCHEDULABLE, reasons)


def unresolvable(*reasons: str) -> Status:
    return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, reasons)


class Event(enum.Flag):
    """Event is a cluster change that may make an unschedulable pod schedulable (upstream's ClusterEvent)."""

    NONE = 0
    NODE_ADD = enum.auto()
    NODE_LABEL = enum.auto()
    NODE_TAINT = enum.auto()
    NODE_ALLOCATABLE = enum.auto()
    NODE_UNSCHEDULABLE = enum.auto()
    NODE_CONDITION = enum.auto()
    POD_ADD = enum.auto()
    """A pod was bound to a node (it may satisfy another pod's affinity)."""
    POD_LABEL = enum.auto()
    """A bound pod's labels changed."""
    POD_DELETE = enum.auto()
    """A bound pod went away or terminated, freeing its node's resources and ports."""


ALL_EVENTS = ~Event.NONE


@dataclass(frozen=True, slots=True)
class HostPort:
    """HostPort is one (hostIP, protocol, hostPort) a container claims on its node; "" means every IP."""

    ip: str
    protocol: str
    port: int

    def conflicts(self, other: HostPort) -> bool:
        if self.port != other.port or self.protocol != other.protocol:
            return False
        return self.ip == other.ip or "0.0.0.0" in (self.ip, other.ip)


@dataclass(frozen=True, slots=True)
class AffinityTerm:
    """AffinityTerm is a parsed PodAffinityTerm: which pods (selector, namespaces) and over which topology."""

    selector: Selector
    namespaces: frozenset[str]
    namespace_selector: Selector
    topology_key: str

    def matches(self, pod: PodInfo, namespace_labels: NamespaceLabels) -> bool:
        """Tell whether `pod` is one this term is about (upstream's AffinityTerm.Matches).

        `namespace_labels` is only asked when the term has a namespaceSelector.
        """
        if pod.namespace in self.namespaces:
            return self.selector.matches(pod.labels)
        if self.namespace_selector is not NOTHING and self.namespace_selector.matches(namespace_labels(pod.namespace)):
            return self.selector.matches(pod.labels)
        return False


def _affinity_terms(namespace: str, terms: Any) -> tuple[AffinityTerm, ...]:
    parsed = []
    for term in terms or ():
        if not isinstance(term, dict):
            continue
        names = frozenset(str(n) for n in term.get("namespaces") or ())
        ns_selector = term.get("namespaceSelector")
        if not names and ns_selector is None:
            names = frozenset({namespace})
        try:
            selector = selector_from_label_selector(term.get("labelSelector"))
            namespace_selector = selector_from_label_selector(ns_selector) if ns_selector is not None else NOTHING
        except SelectorError:
            selector, namespace_selector = NOTHING, NOTHING
        parsed.append(AffinityTerm(selector, names, namespace_selector, str(term.get("topologyKey") or "")))
    return tuple(parsed)


def _host_ports(spec: Obj) -> tuple[HostPort, ...]:
    ports = []
    containers = list(spec.get("containers") or [])
    # Sidecars (restartable init containers) keep running, so their ports are held too.
    containers += [c for c in spec.get("initContainers") or [] if (c or {}).get("restartPolicy") == "Always"]
    for container in containers:
        for port in (container or {}).get("ports") or []:
            host_port = int((port or {}).get("hostPort") or 0)
            if host_port > 0:
                ports.append(HostPort(str(port.get("hostIP") or "0.0.0.0"), str(port.get("protocol") or "TCP"), host_port))
    return tuple(ports)


def controller_uid(meta: Obj) -> str:
    """Return the uid of the owner reference marked controller, or ""."""
    for ref in meta.get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller"):
            return str(ref.get("uid") or "")
    return ""


@dataclass(slots=True)
class PodInfo:
    """PodInfo is a pod with the parts plugins use parsed once."""

    pod: Obj
    key: str
    uid: str
    namespace: str
    name: str
    labels: Mapping[str, str]
    requests: Resource
    non_zero_requests: Resource
    host_ports: tuple[HostPort, ...]
    affinity_terms: tuple[AffinityTerm, ...]
    anti_affinity_terms: tuple[AffinityTerm, ...]
    owner_uid: str
    priority: int
    terminating: bool
    spec: Obj

    @classmethod
    def of(cls, pod: Obj) -> PodInfo:
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        affinity = spec.get("affinity") or {}
        pod_affinity = affinity.get("podAffinity") or {}
        anti = affinity.get("podAntiAffinity") or {}
        return cls(
            pod=pod,
            key=f"{namespace}/{name}",
            uid=str(meta.get("uid") or f"{namespace}/{name}"),
            namespace=namespace,
            name=name,
            labels=meta.get("labels") or {},
            requests=pod_requests(spec),
            non_zero_requests=pod_non_zero_requests(spec),
            host_ports=_host_ports(spec),
            affinity_terms=_affinity_terms(namespace, pod_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")),
            anti_affinity_terms=_affinity_terms(namespace, anti.get("requiredDuringSchedulingIgnoredDuringExecution")),
            owner_uid=controller_uid(meta),
            priority=int(spec.get("priority") or 0),
            terminating=bool(meta.get("deletionTimestamp")),
            spec=spec,
        )


NOT_READY_TAINT = "node.kubernetes.io/not-ready"
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"
UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"


def implied_taints(node: Obj) -> list[Obj]:
    """Return the NoSchedule taints upstream's node lifecycle controller puts on a node that is not Ready.

    We derive them here so a node whose agent stopped reporting is avoided even before (or
    without) a node lifecycle controller tainting it; duplicates of real taints are harmless.
    """
    ready = next((c for c in (node.get("status") or {}).get("conditions") or []
                  if isinstance(c, dict) and c.get("type") == "Ready"), None)
    status = (ready or {}).get("status", "Unknown")
    if status == "True":
        return []
    key = NOT_READY_TAINT if status == "False" else UNREACHABLE_TAINT
    return [{"key": key, "effect": "NoSchedule"}]


@dataclass(slots=True)
class NodeInfo:
    """NodeInfo is a node and what the scheduler knows is on it: pods (bound or assumed), requests and ports."""

    name: str
    node: Obj | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: tuple[Obj, ...] = ()
    unschedulable: bool = False
    allocatable: Resource = field(default_factory=Resource)
    pods: dict[str, PodInfo] = field(default_factory=dict)
    requested: Resource = field(default_factory=Resource)
    non_zero_requested: Resource = field(default_factory=Resource)
    used_ports: list[HostPort] = field(default_factory=list)
    with_anti_affinity: dict[str, PodInfo] = field(default_factory=dict)
    """The pods on this node that carry required anti-affinity terms."""

    def set_node(self, node: Obj) -> None:
        self.node = node
        meta = node.get("metadata") or {}
        spec = node.get("spec") or {}
        self.labels = meta.get("labels") or {}
        self.taints = tuple(t for t in spec.get("taints") or [] if isinstance(t, dict)) + tuple(implied_taints(node))
        self.unschedulable = bool(spec.get("unschedulable"))
        self.allocatable = Resource.from_list((node.get("status") or {}).get("allocatable") or {})

    def add_pod(self, pod: PodInfo) -> None:
        self.pods[pod.uid] = pod
        self.requested.add(pod.requests)
        self.non_zero_requested.add(pod.non_zero_requests)
        self.used_ports.extend(pod.host_ports)
        if pod.anti_affinity_terms:
            self.with_anti_affinity[pod.uid] = pod

    def remove_pod(self, uid: str) -> PodInfo | None:
        pod = self.pods.pop(uid, None)
        if pod is None:
            return None
        self.requested.sub(pod.requests)
        self.non_zero_requested.sub(pod.non_zero_requests)
        for port in pod.host_ports:
            self.used_ports.remove(port)
        self.with_anti_affinity.pop(uid, None)
        return pod


@dataclass(frozen=True)
class Handle:
    """Handle is what plugin factories may use beyond the pod and nodes of a cycle."""

    namespace_labels: NamespaceLabels = lambda _name: {}
    """Labels of a namespace by name (for affinity terms with a namespaceSelector)."""


@runtime_checkable
class PreFilterPlugin(Protocol):
    """PreFilterPlugin computes per-pod state once before the node loop; SKIP spares its filter for this pod."""

    name: str

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status: ...


@runtime_checkable
class FilterPlugin(Protocol):
    """FilterPlugin tells whether a pod fits one node; `events` say which changes may make it fit later."""

    name: str
    events: Event

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status: ...


@runtime_checkable
class ScorePlugin(Protocol):
    """ScorePlugin ranks the feasible nodes; `normalize` brings the scores into 0..MAX_NODE_SCORE.

    `pre_score` answering SKIP means the plugin would score every node alike for this pod.
    """

    name: str

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status: ...

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int: ...

    def normalize(self, state: CycleState, pod: PodInfo, scores: dict[str, int]) -> None: ...


def default_normalize(scores: dict[str, int], *, reverse: bool = False) -> None:
    """Scale scores to 0..MAX_NODE_SCORE by the highest one, optionally reversed (upstream's DefaultNormalizeScore)."""
    highest = max(scores.values(), default=0)
    if highest == 0:
        if reverse:
            for name in scores:
                scores[name] = MAX_NODE_SCORE
        return
    for name, score in scores.items():
        scaled = MAX_NODE_SCORE * score // highest
        scores[name] = MAX_NODE_SCORE - scaled if reverse else scaled

