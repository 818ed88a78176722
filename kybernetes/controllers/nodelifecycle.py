"""Node lifecycle controller, its NoSchedule tainting pass: a node's conditions and `kubectl cordon` become taints.

Upstream's pkg/controller/nodelifecycle (`doNoScheduleTaintingPass`): Ready False or Unknown →
`node.kubernetes.io/not-ready` or `…/unreachable`; MemoryPressure, DiskPressure, PIDPressure or
NetworkUnavailable True → the matching taint; spec.unschedulable → `node.kubernetes.io/unschedulable`.
All have effect NoSchedule and a timeAdded. Taints of other keys or effects are left as they are.
The NoExecute pass (evicting pods from unreachable nodes) is not done here.
"""

from __future__ import annotations

import copy
import datetime
import logging
from dataclasses import dataclass
from typing import Any

from kybernetes.aio.clock import Clock, RealClock
from kybernetes.client import errors
from kybernetes.client.informer import Handlers, SharedInformerFactory
from kybernetes.client.rest import NODES, Client
from kybernetes.client.workqueue import WorkQueue, process

log = logging.getLogger(__name__)

Obj = dict[str, Any]

NO_SCHEDULE = "NoSchedule"
UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"
CONDITION_TAINTS: dict[str, dict[str, str]] = {
    "Ready": {"False": "node.kubernetes.io/not-ready", "Unknown": "node.kubernetes.io/unreachable"},
    "MemoryPressure": {"True": "node.kubernetes.io/memory-pressure"},
    "DiskPressure": {"True": "node.kubernetes.io/disk-pressure"},
    "NetworkUnavailable": {"True": "node.kubernetes.io/network-unavailable"},
    "PIDPressure": {"True": "node.kubernetes.io/pid-pressure"},
}
"""upstream's nodeConditionToTaintKeyStatusMap."""
MANAGED = frozenset({UNSCHEDULABLE_TAINT, *(key for by_status in CONDITION_TAINTS.values() for key in by_status.values())})
"""The NoSchedule taint keys this pass owns: it adds and removes only these."""


def wanted_keys(node: Obj) -> list[str]:
    """The managed taint keys `node` should carry, in upstream's order (conditions, then unschedulable)."""
    keys: list[str] = []
    for condition in (node.get("status") or {}).get("conditions") or []:
        if not isinstance(condition, dict):
            continue
        key = CONDITION_TAINTS.get(str(condition.get("type")), {}).get(str(condition.get("status")))
        if key and key not in keys:
            keys.append(key)
    if (node.get("spec") or {}).get("unschedulable"):
        keys.append(UNSCHEDULABLE_TAINT)
    return keys


def _managed(taint: Any) -> bool:
    return isinstance(taint, dict) and taint.get("effect") == NO_SCHEDULE and taint.get("key") in MANAGED


def reconciled_taints(node: Obj, now: str) -> list[Obj] | None:
    """The node's taints with the managed ones made right, or None when nothing changes.

    A managed taint that stays keeps its timeAdded; a new one gets `now`.
    """
    current = list((node.get("spec") or {}).get("taints") or [])
    wanted = wanted_keys(node)
    have = [t for t in current if _managed(t)]
    if sorted(t["key"] for t in have) == sorted(wanted):
        return None
    kept = [t for t in current if not _managed(t) or t["key"] in wanted]
    present = {t["key"] for t in have}
    added = [{"key": key, "effect": NO_SCHEDULE, "timeAdded": now} for key in wanted if key not in present]
    return kept + added


@dataclass(frozen=True)
class Settings:
    """Settings of the node lifecycle controller."""

    workers: int = 1
    """Nodes reconciled concurrently; one is plenty for a handful of taint writes."""


class NodeLifecycleController:
    """NodeLifecycleController keeps the condition and unschedulable NoSchedule taints of every node current."""

    name = "nodelifecycle"

    def __init__(self, client: Client, informers: SharedInformerFactory, *, clock: Clock | None = None,
                 settings: Settings = Settings()) -> None:
        self.client = client
        self.clock: Clock = clock or RealClock()
        self.settings = settings
        self.queue: WorkQueue[str] = WorkQueue(name=self.name, clock=self.clock)
        self.informer = informers.informer(NODES)
        self.informer.add_handlers(Handlers(on_add=self._enqueue, on_update=lambda _old, new: self._enqueue(new)))

    def _enqueue(self, node: Obj) -> None:
        self.queue.add(str((node.get("metadata") or {}).get("name")))

    async def run(self) -> None:
        await self.informer.wait_synced()
        await process(self.queue, self.sync, workers=self.settings.workers)

    async def sync(self, name: str) -> float | None:
        """Write the node's taints if the managed ones are not what its conditions and spec ask for."""
        cached = self.informer.store.get(name)
        if cached is None:
            return None
        now = self.clock.now().astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        taints = reconciled_taints(cached, now)
        if taints is None:
            return None
        meta = cached.get("metadata") or {}
        # The resourceVersion makes the write conditional: a node changed meanwhile answers 409 and
        # the key is retried against the newer version (upstream re-reads and swaps the taints).
        patch = {"metadata": {"resourceVersion": meta.get("resourceVersion")},
                 "spec": {"taints": copy.deepcopy(taints) or None}}
        try:
            await self.client.patch(NODES, name, patch)
        except errors.NotFoundError:
            return None
        log.info("node %s: NoSchedule taints now %s", name,
                 ", ".join(t["key"] for t in taints if _managed(t)) or "none")
        return None
