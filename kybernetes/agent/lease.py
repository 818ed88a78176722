"""lease: the node's heartbeat, a Lease in kube-node-lease renewed every quarter of its duration.

Upstream's node lease controller (`component-helpers/apimachinery/lease`): the Lease is named
after the node, held by it, owned by the Node object (so it goes when the node does), and renewed
with an update of `renewTime` every 10 s for a 40 s duration. Failed renewals are retried with a
short back-off, then again at the next interval.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any, Callable

from kybernetes.aio.backoff import Backoff
from kybernetes.aio.clock import Clock
from kybernetes.client import errors
from kybernetes.client.rest import Client, ResourceRef

log = logging.getLogger(__name__)

Obj = dict[str, Any]

LEASES = ResourceRef("coordination.k8s.io", "v1", "leases", True, "Lease")
NODE_LEASE_NAMESPACE = "kube-node-lease"
DEFAULT_LEASE_DURATION = 40
RENEW_FRACTION = 0.25
RETRY = Backoff(initial=0.2, cap=7.0)
"""Retries within one interval: upstream's 200 ms doubling to 7 s."""
MAX_RETRIES = 5


def micro_time(moment: datetime.datetime) -> str:
    """A MicroTime as the API writes it: microseconds and `Z`."""
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class NodeLease:
    """NodeLease keeps `kube-node-lease/<node>` renewed until cancelled."""

    def __init__(self, client: Client, node_name: str, *, clock: Clock, duration: int = DEFAULT_LEASE_DURATION,
                 node_uid: Callable[[], str] | None = None) -> None:
        self._client = client
        self._node = node_name
        self._clock = clock
        self._duration = duration
        self._node_uid = node_uid or (lambda: "")
        self._lease: Obj | None = None
        self.renewals = 0
        """Successful creates and renewals, for tests and benchmarks."""

    @property
    def interval(self) -> float:
        return self._duration * RENEW_FRACTION

    def _owner(self) -> list[Obj]:
        uid = self._node_uid()
        if not uid:
            return []
        return [{"apiVersion": "v1", "kind": "Node", "name": self._node, "uid": uid}]

    def _fresh(self) -> Obj:
        meta: Obj = {"name": self._node, "namespace": NODE_LEASE_NAMESPACE}
        if owners := self._owner():
            meta["ownerReferences"] = owners
        return {
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta,
            "spec": {"holderIdentity": self._node, "leaseDurationSeconds": self._duration,
                     "renewTime": micro_time(self._clock.now())},
        }

    async def renew(self) -> None:
        """Create the lease or move its renewTime to now."""
        if self._lease is None:
            try:
                self._lease = await self._client.get(LEASES, self._node, NODE_LEASE_NAMESPACE)
            except errors.NotFoundError:
                self._lease = await self._client.create(LEASES, self._fresh(), NODE_LEASE_NAMESPACE)
                self.renewals += 1
                return
        lease = dict(self._lease)
        lease["spec"] = {**(lease.get("spec") or {}), "holderIdentity": self._node,
                         "leaseDurationSeconds": self._duration, "renewTime": micro_time(self._clock.now())}
        meta = dict(lease.get("metadata") or {})
        if not meta.get("ownerReferences") and (owners := self._owner()):
            meta["ownerReferences"] = owners
        lease["metadata"] = meta
        try:
            self._lease = await self._client.update(LEASES, lease)
        except (errors.ConflictError, errors.NotFoundError):
            # Someone else wrote it (or removed it): read it afresh next time.
            self._lease = None
            raise
        self.renewals += 1

    async def run(self) -> None:
        while True:
            for attempt in range(MAX_RETRIES):
                try:
                    await self.renew()
                    break
                except errors.ClientError as err:
                    log.warning("node %s: renewing lease failed: %s", self._node, err)
                    await self._clock.sleep(RETRY.delay(attempt))
            await self._clock.sleep(self.interval)
