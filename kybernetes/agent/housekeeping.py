"""housekeeping: remove what the runtime still holds for pods the API server no longer has.

Upstream's HandlePodCleanups: a pod deleted while the agent was down (or force-deleted, or whose
removal was cut short by a stop) leaves a sandbox and containers behind — with their mounts,
cgroups and pod IP. Every two seconds, once the pod informer has synced, the agent kills and
removes any sandbox whose pod UID is neither in the API nor known to a pod worker.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Callable

from kybernetes.agent.runtime.protocol import RuntimeFailure

if TYPE_CHECKING:
    from kybernetes.agent.agent import NodeAgent

log = logging.getLogger(__name__)

HOUSEKEEPING_PERIOD = 2.0
ORPHAN_GRACE_PERIOD = 1.0
"""The pod's own grace period is gone with its object; upstream also ends runtime-only pods quickly."""


async def remove_orphans(agent: "NodeAgent") -> list[str]:
    """Kill and remove sandboxes of unknown pods; return their UIDs."""
    known = set(agent.pods) | set(agent.workers.uids())
    sandboxes = await agent.runtime.list_sandboxes()
    orphans = {s.uid: s for s in sandboxes if s.uid and s.uid not in known}
    for uid, sandbox in orphans.items():
        pod = {"metadata": {"uid": uid, "name": sandbox.name, "namespace": sandbox.namespace}, "spec": {}}
        try:
            status = await agent.manager.pod_status(uid)
            await agent.manager.kill_pod(pod, status, grace_override=ORPHAN_GRACE_PERIOD)
            await agent.manager.remove_pod(uid)
            log.info("removed orphaned pod %s/%s (uid %s)", sandbox.namespace, sandbox.name, uid)
        except RuntimeFailure as err:
            log.warning("removing orphaned pod %s/%s failed, will retry: %s", sandbox.namespace, sandbox.name, err)
    return list(orphans)


async def run_housekeeping(agent: "NodeAgent", synced: Callable[[], bool]) -> None:
    """Run `remove_orphans` every period once `synced()` says the agent knows every pod bound to it."""
    while True:
        await agent.clock.sleep(HOUSEKEEPING_PERIOD)
        if not synced():
            continue
        try:
            await remove_orphans(agent)
        except RuntimeFailure as err:
            log.warning("housekeeping failed: %s", err)
