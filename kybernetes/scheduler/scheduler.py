"""Scheduler: watches pods without a node, picks one for each with the plugin framework, and binds them through pods/binding.

The scheduling loop pops one pod at a time and decides synchronously against the cache (so no
other event can change the picture mid-decision), assumes the pod on the chosen node, and leaves
the binding POST to a background task, as upstream's binding cycle does; at most
`Settings.binding_concurrency` bindings are in flight. A pod that fits nowhere gets a Warning
FailedScheduling event and the condition PodScheduled=False/Unschedulable with the same message,
and waits in the queue until a cluster event may help it. A bound pod gets a Normal Scheduled event.

Informer handlers only update the cache and the queue; they never call the API.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from typing import Any

from kybernetes.aio.clock import Clock, RealClock
from kybernetes.client import errors
from kybernetes.client.cache import meta_namespace_key
from kybernetes.client.config import Config
from kybernetes.client.events import NORMAL, WARNING, EventRecorder
from kybernetes.client.informer import Handlers, SharedInformerFactory
from kybernetes.client.rest import NAMESPACES, NODES, PODS, STRATEGIC_MERGE_PATCH, Client
from kybernetes.scheduler.cache import Cache, node_changes
from kybernetes.scheduler.framework import Event, Handle, PodInfo
from kybernetes.scheduler.queue import QueuedPod, QueueSettings, SchedulingQueue
from kybernetes.scheduler.runtime import Algorithm, FitError, Framework, NoNodesAvailable

log = logging.getLogger(__name__)

Obj = dict[str, Any]

DEFAULT_SCHEDULER = "default-scheduler"
NOTE_LENGTH_LIMIT = 1024
"""Longest event message the API accepts; longer ones are cut with " ..." as upstream does."""


@dataclass(frozen=True)
class Settings:
    """Settings of the scheduler."""

    binding_concurrency: int = 64
    """Bindings (POST pods/binding) in flight at once; the loop waits for a free slot before the next pod."""
    percentage_of_nodes_to_score: int = 0
    """Stop filtering once this share of nodes fit (0: upstream's adaptive rule, all nodes below 100)."""
    queue: QueueSettings = QueueSettings()


def truncate_message(message: str) -> str:
    """Cut a message to the event note limit the way upstream's scheduler does."""
    if len(message) <= NOTE_LENGTH_LIMIT:
        return message
    suffix = " ..."
    return message[: NOTE_LENGTH_LIMIT - len(suffix)] + suffix


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _spec(obj: Obj) -> Obj:
    return obj.get("spec") or {}


def _terminal(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def _significant(old: Obj, new: Obj) -> bool:
    """Tell whether a pending pod changed in a way that may change where it fits (not just its status)."""
    return _spec(old) != _spec(new) or _meta(old).get("labels") != _meta(new).get("labels")


class Scheduler:
    """Scheduler assigns pending pods whose schedulerName is `name` to nodes."""

    def __init__(self, client: Client, informers: SharedInformerFactory, *, name: str = DEFAULT_SCHEDULER,
                 clock: Clock | None = None, settings: Settings = Settings(), framework: Framework | None = None,
                 rng: random.Random | None = None) -> None:
        self.client = client
        self.name = name
        self.clock: Clock = clock or RealClock()
        self.settings = settings
        self.pods = informers.informer(PODS)
        self.nodes = informers.informer(NODES)
        self.namespaces = informers.informer(NAMESPACES)
        self.framework = framework or Framework(Handle(namespace_labels=self._namespace_labels))
        self.algorithm = Algorithm(self.framework, rng=rng, percentage_of_nodes_to_score=settings.percentage_of_nodes_to_score)
        self.cache = Cache()
        self.queue = SchedulingQueue(plugin_events=self.framework.events, clock=self.clock, settings=settings.queue)
        self.recorder = EventRecorder(client, name, clock=self.clock)
        self._slots = asyncio.Semaphore(settings.binding_concurrency)
        self._group: asyncio.TaskGroup | None = None
        self.pods.add_handlers(Handlers(self._pod_added, self._pod_updated, self._pod_deleted))
        self.nodes.add_handlers(Handlers(self._node_added, self._node_updated, self._node_deleted))

    def _namespace_labels(self, name: str) -> dict[str, str]:
        namespace = self.namespaces.store.get(name)
        return dict(_meta(namespace).get("labels") or {}) if namespace else {}

    def responsible_for(self, pod: Obj) -> bool:
        wanted = _spec(pod).get("schedulerName") or DEFAULT_SCHEDULER
        return wanted == self.name

    # -- informer handlers: cache and queue only -----------------------------------------------

    def _pending(self, pod: Obj) -> bool:
        return (not _spec(pod).get("nodeName") and self.responsible_for(pod) and not _terminal(pod)
                and not _meta(pod).get("deletionTimestamp") and not _spec(pod).get("schedulingGates"))

    def _pod_added(self, pod: Obj) -> None:
        if _spec(pod).get("nodeName"):
            if not _terminal(pod):
                self.cache.set_pod(pod)
                self.queue.move(Event.POD_ADD)
        elif self._pending(pod):
            self.queue.add(PodInfo.of(pod))

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if _spec(new).get("nodeName"):
            self.queue.delete(meta_namespace_key(new))
            if _terminal(new):
                if self.cache.remove_pod(new):
                    self.queue.move(Event.POD_DELETE)
            elif self.cache.set_pod(new):
                self.queue.move(Event.POD_ADD)
            elif _meta(old).get("labels") != _meta(new).get("labels"):
                self.queue.move(Event.POD_LABEL)
        elif self._pending(new):
            self.queue.update(PodInfo.of(new), changed=_significant(old, new))
        else:
            self.queue.delete(meta_namespace_key(new))

    def _pod_deleted(self, pod: Obj) -> None:
        self.queue.delete(meta_namespace_key(pod))
        if self.cache.remove_pod(pod):
            self.queue.move(Event.POD_DELETE)

    def _node_added(self, node: Obj) -> None:
        self.cache.set_node(node)
        self.queue.move(Event.NODE_ADD)

    def _node_updated(self, old: Obj, new: Obj) -> None:
        self.cache.set_node(new)
        changes = node_changes(old, new)
        if changes:
            self.queue.move(changes)

    def _node_deleted(self, node: Obj) -> None:
        self.cache.remove_node(node)

    # -- running ---------------------------------------------------------------------------------

    async def run(self) -> None:
        """Wait for the informers to sync, then schedule until cancelled."""
        for informer in (self.nodes, self.namespaces, self.pods):
            await informer.wait_synced()
        log.info("scheduler: started as %s (%d nodes, %d pending pods)", self.name, len(self.cache.nodes()), len(self.queue))
        async with asyncio.TaskGroup() as group:
            self._group = group
            group.create_task(self.recorder.run(), name="scheduler events")
            group.create_task(self.queue.run(), name="scheduler queue flush")
            while True:
                queued = await self.queue.pop()
                await self._slots.acquire()
                bound = self.schedule_one(queued)
                if bound is None:
                    self._slots.release()
                else:
                    group.create_task(self._bind(queued, *bound))

    def schedule_one(self, queued: QueuedPod) -> tuple[PodInfo, str] | None:
        """Decide where one popped pod goes and assume it there; return (assumed pod, node) to bind, or None."""
        pod = queued.info
        latest = self.pods.store.get(pod.key)
        if latest is None or not self._pending(latest):
            self.queue.done(pod.key)
            return None
        try:
            result = self.algorithm.schedule(pod, self.cache.nodes())
        except FitError as err:
            log.debug("unable to schedule %s: %s", pod.key, err.message)
            self._failed(queued, err.message, rejected_by=err.diagnosis.rejected_by, unschedulable=True)
            return None
        except NoNodesAvailable as err:
            log.debug("unable to schedule %s: no nodes are registered; waiting", pod.key)
            self._failed(queued, str(err), rejected_by=frozenset(), unschedulable=True)
            return None
        except Exception as err:  # noqa: BLE001 - one odd pod must not stop scheduling for the others
            log.exception("error scheduling %s; retrying", pod.key)
            self._failed(queued, str(err), rejected_by=frozenset(), unschedulable=False)
            return None
        return self.cache.assume(pod, result.node), result.node

    async def _bind(self, queued: QueuedPod, assumed: PodInfo, node: str) -> None:
        binding = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": assumed.name, "namespace": assumed.namespace, "uid": assumed.uid},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        }
        try:
            await self.client.request("POST", PODS.path(assumed.namespace, assumed.name, "binding"), body=binding)
        except (errors.NotFoundError, errors.ConflictError) as err:
            # Deleted, or bound by someone else: the informer will tell us what became of it.
            log.info("not binding %s to %s: %s", assumed.key, node, err)
            self.cache.forget(assumed.uid)
            self.queue.done(assumed.key)
            self.queue.move(Event.POD_DELETE)
        except errors.ClientError as err:
            log.warning("binding %s to %s failed: %s", assumed.key, node, err)
            self.cache.forget(assumed.uid)
            self.queue.move(Event.POD_DELETE)
            self._failed(queued, f'running Bind plugin "DefaultBinder": {err}', rejected_by=frozenset(), unschedulable=False)
        else:
            self.queue.done(assumed.key)
            self.recorder.event(queued.info.pod, NORMAL, "Scheduled",
                                f"Successfully assigned {assumed.namespace}/{assumed.name} to {node}")
        finally:
            self._slots.release()

    def _failed(self, queued: QueuedPod, message: str, *, rejected_by: frozenset[str], unschedulable: bool) -> None:
        """Requeue a pod that could not be placed, and tell its owner why (event and PodScheduled condition)."""
        pod = queued.info
        latest = self.pods.store.get(pod.key)
        if latest is None or _spec(latest).get("nodeName"):
            self.queue.done(pod.key)  # gone, or bound meanwhile: nothing to retry or report
            return
        if unschedulable:
            self.queue.unschedulable(queued, rejected_by)
        else:
            self.queue.retry(queued)
        self.recorder.event(latest, WARNING, "FailedScheduling", truncate_message(message))
        reason = "Unschedulable" if unschedulable else "SchedulerError"
        if self._group is not None:
            self._group.create_task(self._set_condition(latest, reason, message))

    async def _set_condition(self, pod: Obj, reason: str, message: str) -> None:
        """Write PodScheduled=False with `reason` and `message` unless the pod already says so."""
        conditions = (pod.get("status") or {}).get("conditions") or []
        current = next((c for c in conditions if isinstance(c, dict) and c.get("type") == "PodScheduled"), {})
        if current.get("status") == "False" and current.get("reason") == reason and current.get("message") == message:
            return
        transition = current.get("lastTransitionTime") if current.get("status") == "False" else None
        condition = {"type": "PodScheduled", "status": "False", "lastProbeTime": None,
                     "lastTransitionTime": transition or self.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
                     "reason": reason, "message": message}
        meta = _meta(pod)
        try:
            await self.client.patch(PODS, str(meta.get("name")), {"status": {"conditions": [condition]}},
                                    namespace=str(meta.get("namespace")), subresource="status",
                                    content_type=STRATEGIC_MERGE_PATCH)
        except errors.NotFoundError:
            pass
        except errors.ClientError as err:
            log.warning("updating PodScheduled of %s failed: %s", meta_namespace_key(pod), err)


async def run(config: Config, *, name: str = DEFAULT_SCHEDULER) -> None:
    """Connect with `config` and schedule pods for `name` until cancelled (the entry point for `kyb server`)."""
    async with Client(config) as client:
        informers = SharedInformerFactory(client)
        scheduler = Scheduler(client, informers, name=name)
        async with asyncio.TaskGroup() as group:
            group.create_task(informers.run(), name="scheduler informers")
            group.create_task(scheduler.run(), name=f"scheduler {name}")
