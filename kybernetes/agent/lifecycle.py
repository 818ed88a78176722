"""lifecycle: what the node agent does in each pod state — upstream's SyncPod, SyncTerminatingPod, SyncTerminatedPod.

`PodSyncer` implements the pod workers' `PodLifecycle`: it asks the runtime what it holds for
the pod, derives and records the API status, and drives `RuntimeManager` to start or stop
containers. It also keeps upstream's reason cache (why each container last failed to start) and
tells the prober which pods to probe: from the first sync until the containers are stopped.
"""

from __future__ import annotations

import base64
import logging
from typing import Any, Protocol

import orjson

from kybernetes.agent.podstate import RuntimePodStatus
from kybernetes.agent.podworkers import SyncOutcome, UpdateType
from kybernetes.agent.runtime.types import ContainerState
from kybernetes.agent.status import (
    TERMINAL_PHASES,
    ContainerProbes,
    NoProbes,
    StartFailure,
    StatusInputs,
    generate_pod_status,
)
from kybernetes.agent.statusmanager import StatusManager
from kybernetes.agent.sync import RuntimeManager, requeue_delay
from kybernetes.client import errors
from kybernetes.client.rest import CONFIGMAPS, SECRETS, Client

log = logging.getLogger(__name__)

Obj = dict[str, Any]


class PodProbes(ContainerProbes, Protocol):
    """PodProbes is the prober as the pod lifecycle drives it (upstream's prober.Manager)."""

    def add_pod(self, pod: Obj) -> None:
        """Probe the pod's containers; called on every sync, so it must be idempotent."""
        ...

    def stop_liveness_and_startup(self, pod: Obj) -> None:
        """Termination began: no container may be restarted for failing a probe any more."""
        ...

    def remove_pod(self, pod: Obj) -> None:
        """The pod's containers are stopped: stop probing it."""
        ...


class Unprobed(NoProbes):
    """Unprobed: no prober; containers count as started and ready while they run."""

    def add_pod(self, pod: Obj) -> None:
        pass

    def stop_liveness_and_startup(self, pod: Obj) -> None:
        pass

    def remove_pod(self, pod: Obj) -> None:
        pass


UNPROBED = Unprobed()


class APIConfigSource:
    """APIConfigSource reads ConfigMaps and Secrets straight from the API server."""

    def __init__(self, client: Client) -> None:
        self._client = client

    async def configmap(self, namespace: str, name: str) -> Obj | None:
        try:
            return await self._client.get(CONFIGMAPS, name, namespace)
        except errors.NotFoundError:
            return None

    async def secret(self, namespace: str, name: str) -> Obj | None:
        try:
            return await self._client.get(SECRETS, name, namespace)
        except errors.NotFoundError:
            return None


def dockerconfig_of(secret: Obj) -> Obj | None:
    """The registry credentials document of an image pull secret, if it holds one."""
    data = secret.get("data") or {}
    for key in (".dockerconfigjson", ".dockercfg"):
        if key in data:
            try:
                doc = orjson.loads(base64.b64decode(str(data[key])))
            except (ValueError, orjson.JSONDecodeError):
                return None
            return doc if isinstance(doc, dict) else None
    return None


class PodSyncer:
    """PodSyncer handles the three pod states for one node."""

    def __init__(self, *, manager: RuntimeManager, status: StatusManager, config_source: APIConfigSource | Any,
                 host_ips: tuple[str, ...], backoff_period: float = 10.0, probes: PodProbes = UNPROBED) -> None:
        self.manager = manager
        self.status = status
        self.config_source = config_source
        self.host_ips = host_ips
        self.backoff_period = backoff_period
        self.probes = probes
        self.failures: dict[str, dict[str, StartFailure]] = {}

    def _generate(self, pod: Obj, runtime: RuntimePodStatus, *, terminal: bool) -> Obj:
        uid = str((pod.get("metadata") or {}).get("uid", ""))
        inputs = StatusInputs(runtime_name=self.manager.runtime_name, host_ips=self.host_ips,
                              failures=self.failures.get(uid, {}), probes=self.probes)
        return generate_pod_status(pod, runtime, old_status=self.status.cached(uid), pod_is_terminal=terminal,
                                   inputs=inputs)

    async def _pull_secrets(self, pod: Obj) -> list[Obj]:
        namespace = str((pod.get("metadata") or {}).get("namespace") or "default")
        out = []
        for ref in (pod.get("spec") or {}).get("imagePullSecrets") or []:
            name = (ref or {}).get("name") if isinstance(ref, dict) else None
            if not name:
                continue
            secret = await self.config_source.secret(namespace, str(name))
            doc = dockerconfig_of(secret) if secret is not None else None
            if doc is not None:
                out.append(doc)
        return out

    async def sync_pod(self, update: UpdateType, pod: Obj) -> SyncOutcome:
        uid = str((pod.get("metadata") or {}).get("uid", ""))
        if (pod.get("status") or {}).get("phase") not in TERMINAL_PHASES:
            # Before the status is generated: a container with a startup or readiness probe that
            # has not run yet must not be reported started or ready (e.g. after an agent restart).
            self.probes.add_pod(pod)
        runtime = await self.manager.pod_status(uid)
        status = self._generate(pod, runtime, terminal=False)
        self.status.set_pod_status(pod, status)
        if status["phase"] in TERMINAL_PHASES:
            return SyncOutcome(terminal=True)
        result = await self.manager.sync_pod(pod, runtime, await self._pull_secrets(pod))
        reasons = self.failures.setdefault(uid, {})
        for name in result.started:
            reasons.pop(name, None)
        reasons.update(result.failures)
        # Report what the sync did now rather than on the next event: the runtime has the answer.
        runtime = await self.manager.pod_status(uid)
        status = self._generate(pod, runtime, terminal=False)
        self.status.set_pod_status(pod, status)
        if status["phase"] in TERMINAL_PHASES:
            return SyncOutcome(terminal=True)
        if result.error:
            raise RuntimeError(result.error)
        return SyncOutcome(requeue_after=requeue_delay(result, self.backoff_period))

    async def sync_terminating_pod(self, pod: Obj, grace_period: float) -> None:
        uid = str((pod.get("metadata") or {}).get("uid", ""))
        runtime = await self.manager.pod_status(uid)
        self.status.set_pod_status(pod, self._generate(pod, runtime, terminal=False))
        self.probes.stop_liveness_and_startup(pod)
        await self.manager.kill_pod(pod, runtime, grace_override=grace_period)
        # Readiness is probed while the containers stop (an app shutting down may turn unready), not after.
        self.probes.remove_pod(pod)
        runtime = await self.manager.pod_status(uid)
        still = [c.name for c in runtime.containers if c.state is ContainerState.RUNNING]
        if still:
            raise RuntimeError(f"containers still running after being killed: {', '.join(still)}")
        self.status.set_pod_status(pod, self._generate(pod, runtime, terminal=True))

    async def sync_terminated_pod(self, pod: Obj) -> None:
        uid = str((pod.get("metadata") or {}).get("uid", ""))
        runtime = await self.manager.pod_status(uid)
        self.status.set_pod_status(pod, self._generate(pod, runtime, terminal=True))
        self.status.reclaimed(pod)

    async def cleanup_pod(self, uid: str) -> None:
        await self.manager.remove_pod(uid)
        self.failures.pop(uid, None)
        self.status.forget(uid)
