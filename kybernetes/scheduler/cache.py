"""Cache: the scheduler's picture of every node and the pods on it, including pods it has assumed but not yet seen bound.

Upstream's internal/cache in small. Once the scheduler picks a node it *assumes* the pod there at
once, before the binding is even sent, so the next pod in a burst already sees the node's
requests go up; when the informer later reports the pod bound, the assumed copy is replaced by
the real one; if binding fails, `forget` takes it off again. A node deleted while pods still sit
on it lingers without its Node object until they go, so requests never go negative.
"""

from __future__ import annotations

import logging
from typing import Any

from kybernetes.scheduler.framework import Event, NodeInfo, PodInfo, implied_taints

log = logging.getLogger(__name__)

Obj = dict[str, Any]


def node_changes(old: Obj, new: Obj) -> Event:
    """Return which scheduling-relevant parts of a node changed between two versions (heartbeats don't count)."""
    changes = Event.NONE
    old_meta, new_meta = old.get("metadata") or {}, new.get("metadata") or {}
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    if (old_meta.get("labels") or {}) != (new_meta.get("labels") or {}):
        changes |= Event.NODE_LABEL
    if (old_spec.get("taints") or []) != (new_spec.get("taints") or []):
        changes |= Event.NODE_TAINT
    if bool(old_spec.get("unschedulable")) != bool(new_spec.get("unschedulable")):
        changes |= Event.NODE_UNSCHEDULABLE
    if ((old.get("status") or {}).get("allocatable") or {}) != ((new.get("status") or {}).get("allocatable") or {}):
        changes |= Event.NODE_ALLOCATABLE
    if implied_taints(old) != implied_taints(new):
        changes |= Event.NODE_CONDITION
    return changes


class Cache:
    """Cache holds a NodeInfo per node name and knows which pod sits where."""

    def __init__(self) -> None:
        self._nodes: dict[str, NodeInfo] = {}
        self._where: dict[str, str] = {}
        """Pod uid → the node it is on (bound or assumed)."""
        self._assumed: set[str] = set()
        self._listed: list[NodeInfo] | None = None

    # -- nodes ---------------------------------------------------------------------------------

    def nodes(self) -> list[NodeInfo]:
        """Return the NodeInfos of nodes that exist, in a stable order (by name)."""
        if self._listed is None:
            self._listed = [self._nodes[n] for n in sorted(self._nodes) if self._nodes[n].node is not None]
        return self._listed

    def node(self, name: str) -> NodeInfo | None:
        return self._nodes.get(name)

    def set_node(self, node: Obj) -> None:
        """Add or update a node."""
        name = str((node.get("metadata") or {}).get("name") or "")
        info = self._nodes.get(name)
        if info is None:
            info = self._nodes[name] = NodeInfo(name)
        if info.node is None:
            self._listed = None
        info.set_node(node)

    def remove_node(self, node: Obj) -> None:
        name = str((node.get("metadata") or {}).get("name") or "")
        info = self._nodes.get(name)
        if info is None:
            return
        self._listed = None
        if info.pods:
            info.node = None  # keep accounting until the pods are gone too
        else:
            del self._nodes[name]

    # -- pods ----------------------------------------------------------------------------------

    def is_assumed(self, uid: str) -> bool:
        return uid in self._assumed

    def node_of(self, uid: str) -> str | None:
        return self._where.get(uid)

    def assume(self, pod: PodInfo, node_name: str) -> PodInfo:
        """Put `pod` on `node_name` before the binding is confirmed; return the assumed copy."""
        spec = {**(pod.pod.get("spec") or {}), "nodeName": node_name}
        assumed = PodInfo.of({**pod.pod, "spec": spec})
        self._place(assumed, node_name)
        self._assumed.add(assumed.uid)
        return assumed

    def forget(self, uid: str) -> None:
        """Undo `assume` (the binding failed); a pod already confirmed bound is left alone."""
        if uid in self._assumed:
            self._assumed.discard(uid)
            self._unplace(uid)

    def set_pod(self, pod: Obj) -> bool:
        """Record a bound pod as the informer reports it; return True if it was not known on that node before."""
        info = PodInfo.of(pod)
        node_name = str((pod.get("spec") or {}).get("nodeName") or "")
        was = self._where.get(info.uid)
        self._assumed.discard(info.uid)
        self._place(info, node_name)
        return was != node_name

    def remove_pod(self, pod: Obj) -> bool:
        """Forget a pod that was deleted or terminated; return True if it was on a node."""
        uid = PodInfo.of(pod).uid
        self._assumed.discard(uid)
        return self._unplace(uid)

    def _place(self, pod: PodInfo, node_name: str) -> None:
        self._unplace(pod.uid)
        info = self._nodes.get(node_name)
        if info is None:
            # The pod arrived before its node: account for it on a node-less entry.
            info = self._nodes[node_name] = NodeInfo(node_name)
        info.add_pod(pod)
        self._where[pod.uid] = node_name

    def _unplace(self, uid: str) -> bool:
        node_name = self._where.pop(uid, None)
        if node_name is None:
            return False
        info = self._nodes.get(node_name)
        if info is not None:
            info.remove_pod(uid)
            if info.node is None and not info.pods:
                del self._nodes[node_name]
        return True
