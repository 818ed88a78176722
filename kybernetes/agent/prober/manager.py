"""manager: a probe worker per (pod, container, probe type), and the answers status and sync need (prober_manager.go).

The pod lifecycle drives it: `add_pod` on every sync (idempotent), `stop_liveness_and_startup`
when termination starts, `remove_pod` once the containers are stopped. Results feed back two ways:
a change calls `on_result(pod_uid)` so the agent syncs the pod (liveness only on failure, as
upstream), and the status and sync code ask `started`, `ready` and `failed_probe`.

Workers are tasks in the manager's own TaskGroup; they never raise, so a broken probe cannot take
other pods or the agent down. A pod without probes costs nothing.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable

from kybernetes.agent.events import EventSink
from kybernetes.agent.podstate import containers_of
from kybernetes.agent.prober.probes import Prober
from kybernetes.agent.prober.results import Result, ResultsManager, Update
from kybernetes.agent.prober.worker import ProbeType, Worker, raw_container_id
from kybernetes.agent.runtime.types import ContainerId
from kybernetes.aio.clock import Clock

Obj = dict[str, Any]
ProbeKey = tuple[str, str, ProbeType]
"""(pod UID, container name, probe type)."""

StatusSource = Callable[[str], "Obj | None"]
"""StatusSource gives the pod status the agent last generated for a pod UID (the status manager's cache)."""


def _uid(pod: Obj) -> str:
    return str((pod.get("metadata") or {}).get("uid", ""))


def probed_containers(pod: Obj) -> list[Obj]:
    """Regular containers and sidecars (restartable init containers): the ones upstream probes."""
    spec = pod.get("spec") or {}
    sidecars = [c for c in containers_of(spec, "initContainers") if c.get("restartPolicy") == "Always"]
    return containers_of(spec) + sidecars


class ProberManager:
    """ProberManager owns the probe workers of one node and their results."""

    def __init__(self, *, prober: Prober, recorder: EventSink, statuses: StatusSource, clock: Clock,
                 on_result: Callable[[str], None], node_name: str = "") -> None:
        self.prober = prober
        self.recorder = recorder
        self.clock = clock
        self.node_name = node_name
        self._statuses = statuses
        self._on_result = on_result
        self.started_at = clock.monotonic()
        self.liveness = ResultsManager(self._liveness_changed)
        self.readiness = ResultsManager(self._changed)
        self.startup = ResultsManager(self._changed)
        self._workers: dict[ProbeKey, Worker] = {}
        self._finished: set[ProbeKey] = set()
        """Workers that ended on their own (container gone for good): a later sync must not start them again."""
        self._group: asyncio.TaskGroup | None = None

    # -- wiring ------------------------------------------------------------------------------

    def results(self, kind: ProbeType) -> ResultsManager:
        return {ProbeType.LIVENESS: self.liveness, ProbeType.READINESS: self.readiness,
                ProbeType.STARTUP: self.startup}[kind]

    def pod_status(self, uid: str) -> Obj | None:
        return self._statuses(uid)

    def _liveness_changed(self, update: Update) -> None:
        # A container turning healthy needs nothing done; one turning unhealthy must be restarted.
        if update.result is Result.FAILURE:
            self._on_result(update.pod_uid)

    def _changed(self, update: Update) -> None:
        self._on_result(update.pod_uid)

    def workers(self) -> list[ProbeKey]:
        """The keys of the running workers, for tests and debugging."""
        return list(self._workers)

    async def run(self) -> None:
        """Run workers until cancelled; workers added before are started now."""
        async with asyncio.TaskGroup() as group:
            self._group = group
            try:
                for worker in self._workers.values():
                    self._start(worker)
                await asyncio.Future()
            finally:
                self._group = None

    def _start(self, worker: Worker) -> None:
        if worker.task is None and self._group is not None:
            worker.task = self._group.create_task(
                worker.run(), name=f"{worker.kind.value.lower()} probe {worker.uid}/{worker.name}")

    def worker_done(self, worker: Worker) -> None:
        """A worker ended: forget it; if it ended on its own, do not start it again for this pod."""
        key = (worker.uid, worker.name, worker.kind)
        if self._workers.get(key) is worker:
            del self._workers[key]
            if worker.task is not None and not worker.task.cancelled() and not worker.task.cancelling():
                self._finished.add(key)

    # -- the pod lifecycle ---------------------------------------------------------------------

    def add_pod(self, pod: Obj) -> None:
        """Start a worker for every probe of the pod that has none (upstream's AddPod); refresh the others' pod."""
        uid = _uid(pod)
        for container in probed_containers(pod):
            name = str(container.get("name", ""))
            for kind in (ProbeType.STARTUP, ProbeType.READINESS, ProbeType.LIVENESS):
                if not isinstance(container.get(kind.field), dict):
                    continue
                key = (uid, name, kind)
                worker = self._workers.get(key)
                if worker is not None:
                    worker.pod = pod
                    continue
                if key in self._finished:
                    continue
                worker = self._workers[key] = Worker(self, kind, pod, container)
                self._start(worker)

    def _stop(self, uid: str, kinds: tuple[ProbeType, ...]) -> None:
        for key, worker in list(self._workers.items()):
            if key[0] == uid and key[2] in kinds:
                del self._workers[key]
                if worker.container_id:
                    self.results(worker.kind).remove(worker.container_id)
                if worker.task is not None:
                    worker.task.cancel()

    def stop_liveness_and_startup(self, pod: Obj) -> None:
        """Termination began: a container being stopped must not be restarted for failing a probe."""
        self._stop(_uid(pod), (ProbeType.LIVENESS, ProbeType.STARTUP))

    def remove_pod(self, pod: Obj) -> None:
        """The pod's containers are stopped: stop every worker and forget its results."""
        uid = _uid(pod)
        self._stop(uid, tuple(ProbeType))
        self._finished = {key for key in self._finished if key[0] != uid}

    # -- answers -------------------------------------------------------------------------------

    def started(self, pod: Obj, container: Obj, status: Obj) -> bool:
        """Upstream's isContainerStarted: running, and its startup probe (if any) succeeded."""
        if "running" not in (status.get("state") or {}):
            return False
        result = self.startup.get(raw_container_id(str(status.get("containerID") or "")))
        if result is not None:
            return result is Result.SUCCESS
        # A startup probe that has not run yet holds the container back.
        return (_uid(pod), str(container.get("name", "")), ProbeType.STARTUP) not in self._workers

    def ready(self, pod: Obj, container: Obj, status: Obj) -> bool:
        """Upstream's readiness in UpdatePodStatus: the readiness probe's result, ready if there is no probe."""
        if "running" not in (status.get("state") or {}):
            return False
        result = self.readiness.get(raw_container_id(str(status.get("containerID") or "")))
        if result is not None:
            return result is Result.SUCCESS
        worker = self._workers.get((_uid(pod), str(container.get("name", "")), ProbeType.READINESS))
        if worker is None:
            return True
        # The probe has not run for this container yet: run it now rather than a period later.
        worker.trigger()
        return False

    def failed_probe(self, container_id: ContainerId) -> str | None:
        """`liveness` or `startup` if that probe failed this running container (it must be killed), else None."""
        if self.liveness.get(container_id) is Result.FAILURE:
            return "liveness"
        if self.startup.get(container_id) is Result.FAILURE:
            return "startup"
        return None
