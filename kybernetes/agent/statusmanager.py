"""statusmanager: caches each pod's generated status and writes changes to the API, then deletes finished pods.

Upstream's status manager: `set_pod_status` is synchronous and only records the newest status
(filling transition times and the start time); a pool of writers sends each pod's status as a
merge patch of `pods/<name>/status`, one pod at a time per writer, so bursts from many pods are
coalesced — a pod whose status changed twice before its turn is written once. The patch names the
pod's UID, so a status never lands on a newer pod of the same name. Once the agent reports a pod's
resources reclaimed and the pod is being deleted, the manager deletes the object with grace
period 0 and a UID precondition, as the kubelet does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from kybernetes.agent.status import finalize_status, illegal_transition
from kybernetes.aio.clock import Clock, RealClock
from kybernetes.client import errors
from kybernetes.client.rest import PODS, Client
from kybernetes.client.workqueue import WorkQueue, process

log = logging.getLogger(__name__)

Obj = dict[str, Any]

OWNED_FIELDS = ("phase", "conditions", "message", "reason", "hostIP", "hostIPs", "podIP", "podIPs", "startTime",
                "initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses", "qosClass")
"""Status fields the agent writes; others (nominatedNodeName, resize) belong to someone else."""


@dataclass
class _Entry:
    namespace: str
    name: str
    uid: str
    status: Obj
    sent: Obj
    deleting: bool = False
    reclaimed: bool = False
    deleted: bool = False


def status_patch(new: Obj, sent: Obj) -> Obj:
    """A merge patch from `sent` to `new` over the fields the agent owns."""
    patch: Obj = {key: value for key, value in new.items() if sent.get(key) != value}
    for key in OWNED_FIELDS:
        if key in sent and key not in new:
            patch[key] = None
    return patch


class StatusManager:
    """StatusManager keeps the newest status of every pod the agent runs and writes it out."""

    def __init__(self, client: Client, *, clock: Clock | None = None, writers: int = 16) -> None:
        self._client = client
        self._clock: Clock = clock or RealClock()
        self._writers = writers
        self._entries: dict[str, _Entry] = {}
        self._queue: WorkQueue[str] = WorkQueue(name="pod-status", clock=self._clock)
        self.writes = 0
        """Status patches sent, for benchmarks and tests."""

    def cached(self, uid: str) -> Obj | None:
        """The newest status recorded for the pod, if any."""
        entry = self._entries.get(uid)
        return entry.status if entry is not None else None

    def set_pod_status(self, pod: Obj, status: Obj) -> None:
        """Record `status` as the pod's newest; it is written in the background if it changed."""
        meta = pod.get("metadata") or {}
        uid = str(meta.get("uid", ""))
        entry = self._entries.get(uid)
        api_status = pod.get("status") or {}
        old = entry.status if entry is not None else api_status
        bad = illegal_transition(pod, old, status)
        if bad:
            log.error("pod %s/%s: refusing a status that restarts terminated container %s against restartPolicy",
                      meta.get("namespace"), meta.get("name"), bad)
            return
        finalize_status(status, old, self._clock.now())
        if entry is None:
            entry = self._entries[uid] = _Entry(str(meta.get("namespace") or "default"), str(meta.get("name", "")), uid,
                                                status, dict(api_status))
        elif entry.status == status:
            self.observe(pod)
            return
        entry.status = status
        entry.deleting = entry.deleting or bool(meta.get("deletionTimestamp"))
        self._queue.add(uid)

    def observe(self, pod: Obj) -> None:
        """Note the pod's newest API object: a deletion may make a finished pod removable."""
        meta = pod.get("metadata") or {}
        entry = self._entries.get(str(meta.get("uid", "")))
        if entry is None or not meta.get("deletionTimestamp") or entry.deleting:
            return
        entry.deleting = True
        if entry.reclaimed:
            self._queue.add(entry.uid)

    def reclaimed(self, pod: Obj) -> None:
        """The pod's containers are stopped and its resources released: delete it once it is being deleted."""
        meta = pod.get("metadata") or {}
        entry = self._entries.get(str(meta.get("uid", "")))
        if entry is None:
            return
        entry.reclaimed = True
        entry.deleting = entry.deleting or bool(meta.get("deletionTimestamp"))
        self._queue.add(entry.uid)

    def forget(self, uid: str) -> None:
        self._entries.pop(uid, None)

    @property
    def pending(self) -> int:
        """Pods waiting for a write."""
        return len(self._queue)

    async def run(self) -> None:
        """Write statuses until cancelled."""
        try:
            await process(self._queue, self._sync, workers=self._writers)
        finally:
            self._queue.shutdown()

    async def _sync(self, uid: str) -> None:
        entry = self._entries.get(uid)
        if entry is None or entry.deleted:
            return
        status = entry.status
        if status != entry.sent:
            patch = status_patch(status, entry.sent)
            try:
                await self._client.patch(PODS, entry.name, {"metadata": {"uid": uid}, "status": patch},
                                         namespace=entry.namespace, subresource="status")
                self.writes += 1
            except errors.NotFoundError:
                self._entries.pop(uid, None)
                return
            except (errors.ConflictError, errors.InvalidError) as err:
                # Another pod of the same name now holds it, or the server refuses this one: ours is moot.
                log.info("pod %s/%s: status not written: %s", entry.namespace, entry.name, err)
                if self._entries.get(uid) is entry and entry.status is status:
                    entry.sent = status
                return
            entry.sent = status
        if entry.reclaimed and entry.deleting and not entry.deleted:
            try:
                await self._client.delete(PODS, entry.name, entry.namespace, body={"gracePeriodSeconds": 0}, uid=uid)
            except errors.NotFoundError:
                pass
            except errors.ConflictError:
                pass  # the UID precondition failed: a newer pod of that name is not ours to delete
            entry.deleted = True
