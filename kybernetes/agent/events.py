"""events: the node agent's event reasons and a small recorder that writes core/v1 Events.

The reasons are upstream's (`pkg/kubelet/events/event.go`). The recorder behaves as client-go's
for what users see: an event repeated within ten minutes bumps `count` and `lastTimestamp` on the
existing object instead of creating another, and writes are rate limited (the kubelet's default
`--event-qps=50 --event-burst=100`) behind a bounded queue that drops when full, so events never
hold up pods. It stands in until `kybernetes.client.events` exists.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol

from kybernetes.aio.clock import Clock, RealClock
from kybernetes.client import errors
from kybernetes.client.rest import EVENTS, Client

log = logging.getLogger(__name__)

Obj = dict[str, Any]

NORMAL = "Normal"
WARNING = "Warning"

# Container events.
CREATED_CONTAINER = "Created"
STARTED_CONTAINER = "Started"
FAILED_TO_CREATE_CONTAINER = "Failed"
FAILED_TO_START_CONTAINER = "Failed"
KILLING_CONTAINER = "Killing"
BACK_OFF_START_CONTAINER = "BackOff"
EXCEEDED_GRACE_PERIOD = "ExceededGracePeriod"
# Pod events.
FAILED_TO_KILL_POD = "FailedKillPod"
FAILED_TO_CREATE_POD_CONTAINER = "FailedCreatePodContainer"
NETWORK_NOT_READY = "NetworkNotReady"
# Image events.
PULLING_IMAGE = "Pulling"
PULLED_IMAGE = "Pulled"
FAILED_TO_PULL_IMAGE = "Failed"
FAILED_TO_INSPECT_IMAGE = "InspectFailed"
ERR_IMAGE_NEVER_PULL_POLICY = "ErrImageNeverPull"
BACK_OFF_PULL_IMAGE = "BackOff"
# Node events.
NODE_READY = "NodeReady"
NODE_NOT_READY = "NodeNotReady"
STARTING_KUBELET = "Starting"
NODE_ALLOCATABLE_ENFORCED = "NodeAllocatableEnforced"
# Sandbox events.
SANDBOX_CHANGED = "SandboxChanged"
FAILED_CREATE_POD_SANDBOX = "FailedCreatePodSandBox"
FAILED_STATUS_POD_SANDBOX = "FailedPodSandBoxStatus"
# Lifecycle hooks.
FAILED_POST_START_HOOK = "FailedPostStartHook"
FAILED_PRE_STOP_HOOK = "FailedPreStopHook"
# Probes.
CONTAINER_UNHEALTHY = "Unhealthy"
CONTAINER_PROBE_WARNING = "ProbeWarning"

COMPONENT = "kubelet"
"""The source component on our events: clients filter on upstream's name."""

CORRELATION_WINDOW = 600.0
"""Seconds within which a repeated event updates the earlier one (client-go's aggregation window)."""


class EventSink(Protocol):
    """EventSink takes events about objects; `EventRecorder` writes them, tests keep them in memory."""

    def event(self, obj: Obj, type_: str, reason: str, message: str, *, field_path: str = "", host: str = "") -> None:
        ...


def format_pod(pod: Obj) -> str:
    """Upstream's format.Pod, how the kubelet names a pod in messages: `name_namespace(uid)`."""
    meta = pod.get("metadata") or {}
    return f"{meta.get('name', '')}_{meta.get('namespace', '')}({meta.get('uid', '')})"


def object_reference(obj: Obj, field_path: str = "") -> Obj:
    """The ObjectReference of `obj` as events carry it."""
    meta = obj.get("metadata") or {}
    ref: Obj = {"kind": obj.get("kind") or "Pod", "apiVersion": obj.get("apiVersion") or "v1"}
    if meta.get("namespace"):
        ref["namespace"] = meta["namespace"]
    ref["name"] = meta.get("name", "")
    if meta.get("uid"):
        ref["uid"] = meta["uid"]
    if meta.get("resourceVersion"):
        ref["resourceVersion"] = meta["resourceVersion"]
    if field_path:
        ref["fieldPath"] = field_path
    return ref


def node_reference(node_name: str) -> Obj:
    """The kubelet refers to its Node by name, with the name as UID too."""
    return {"kind": "Node", "name": node_name, "uid": node_name}


def container_field_path(pod: Obj, container_name: str) -> str:
    """`spec.containers{name}` or `spec.initContainers{name}`, as upstream's GenerateContainerRef."""
    spec = pod.get("spec") or {}
    for key in ("containers", "initContainers", "ephemeralContainers"):
        for container in spec.get(key) or []:
            if isinstance(container, dict) and container.get("name") == container_name:
                return f"spec.{key}{{{container_name}}}"
    return ""


@dataclass(frozen=True, slots=True)
class _Pending:
    ref: Obj
    type: str
    reason: str
    message: str
    host: str
    at: float


@dataclass(slots=True)
class _Seen:
    name: str
    namespace: str
    count: int
    first: str
    at: float


def _rfc3339(wall: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(wall))


class EventRecorder:
    """EventRecorder queues events and writes them in the background, aggregating repeats."""

    def __init__(self, client: Client, *, clock: Clock | None = None, qps: float = 50.0, burst: int = 100,
                 queue_size: int = 1000, workers: int = 4, cache_size: int = 4096) -> None:
        self._client = client
        self._clock: Clock = clock or RealClock()
        self._qps = qps
        self._burst = burst
        self._tokens = float(burst)
        self._refilled = self._clock.monotonic()
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue(maxsize=queue_size)
        self._workers = workers
        self._seen: collections.OrderedDict[tuple[str, ...], _Seen] = collections.OrderedDict()
        self._cache_size = cache_size
        self._inflight: dict[tuple[str, ...], asyncio.Future[None]] = {}
        self.dropped = 0
        """Events dropped because the queue was full."""

    def event(self, obj: Obj, type_: str, reason: str, message: str, *, field_path: str = "", host: str = "") -> None:
        """Record an event about `obj` (a Pod or any object with metadata); never blocks."""
        self.record(object_reference(obj, field_path), type_, reason, message, host=host)

    def record(self, ref: Obj, type_: str, reason: str, message: str, *, host: str = "") -> None:
        """Record an event about the object `ref` refers to."""
        try:
            self._queue.put_nowait(_Pending(ref, type_, reason, message, host, self._clock.now().timestamp()))
        except asyncio.QueueFull:
            self.dropped += 1
            log.debug("event queue full, dropping %s %s: %s", reason, ref.get("name"), message)

    async def run(self) -> None:
        """Write queued events until cancelled."""
        async with asyncio.TaskGroup() as group:
            for _ in range(self._workers):
                group.create_task(self._worker())

    async def flush(self, timeout: float = 5.0) -> None:
        """Wait (at most `timeout` seconds) until the queue is empty; for orderly shutdown and tests."""
        deadline = time.monotonic() + timeout
        while not self._queue.empty() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)

    async def _take_token(self) -> None:
        while True:
            now = self._clock.monotonic()
            self._tokens = min(float(self._burst), self._tokens + (now - self._refilled) * self._qps)
            self._refilled = now
            if self._tokens >= 1:
                self._tokens -= 1
                return
            await self._clock.sleep((1 - self._tokens) / self._qps)

    async def _worker(self) -> None:
        while True:
            pending = await self._queue.get()
            try:
                await self._take_token()
                await self._write(pending)
            except asyncio.CancelledError:
                raise
            except errors.ClientError as err:
                log.debug("writing event %s about %s failed: %s", pending.reason, pending.ref.get("name"), err)
            except Exception:  # noqa: BLE001 - an event must never take the agent down
                log.exception("writing event %s failed", pending.reason)
            finally:
                self._queue.task_done()

    async def _write(self, pending: _Pending) -> None:
        ref = pending.ref
        namespace = ref.get("namespace") or "default"
        key = (namespace, str(ref.get("uid", "")), str(ref.get("name", "")), str(ref.get("fieldPath", "")),
               pending.type, pending.reason, pending.message, pending.host)
        stamp = _rfc3339(pending.at)
        # The same event may be in flight on another worker: wait for it so that this one aggregates.
        while (inflight := self._inflight.get(key)) is not None:
            await asyncio.shield(inflight)
        seen = self._seen.get(key)
        if seen is not None and pending.at - seen.at <= CORRELATION_WINDOW:
            seen.count += 1
            seen.at = pending.at
            self._seen.move_to_end(key)
            try:
                await self._client.patch(EVENTS, seen.name, {"count": seen.count, "lastTimestamp": stamp},
                                         namespace=seen.namespace)
                return
            except errors.NotFoundError:
                pass  # someone removed it: write a fresh one
        name = f"{ref.get('name', '')}.{int(pending.at * 1e9):x}"
        body: Obj = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": ref, "reason": pending.reason, "message": pending.message, "type": pending.type,
            "source": {"component": COMPONENT, **({"host": pending.host} if pending.host else {})},
            "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1,
            "reportingComponent": COMPONENT, "reportingInstance": pending.host,
        }
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._inflight[key] = done
        try:
            await self._client.create(EVENTS, body, namespace)
            self._seen[key] = _Seen(name, namespace, 1, stamp, pending.at)
        finally:
            del self._inflight[key]
            done.set_result(None)
        while len(self._seen) > self._cache_size:
            self._seen.popitem(last=False)
