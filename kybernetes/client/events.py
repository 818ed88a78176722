"""Events: an EventRecorder that writes core/v1 Events as client-go's tools/record does, without blocking the caller.

`event()` builds the Event at once (name `<object>.<hex nanoseconds>`, involvedObject taken from
the object, source and reporting component, first/last timestamp, count 1) and puts it on a
bounded queue; `run()` drains the queue in the background. A repeat of an event already written
(same source, object, type, reason and message) is not created again: the recorder PATCHes the
existing Event's count, lastTimestamp and message, as upstream's EventCorrelator does. Write
failures are logged and retried a few times for transport errors, never raised to the caller.
"""

from __future__ import annotations

import asyncio
import collections
import datetime
import logging
from dataclasses import dataclass, field
from typing import Any, Literal

from kybernetes.aio.clock import Clock, RealClock
from kybernetes.client import errors
from kybernetes.client.rest import EVENTS, STRATEGIC_MERGE_PATCH, Client

log = logging.getLogger(__name__)

Obj = dict[str, Any]
EventType = Literal["Normal", "Warning"]

NORMAL: EventType = "Normal"
WARNING: EventType = "Warning"


@dataclass(frozen=True)
class RecorderSettings:
    """RecorderSettings tune the background writer; the defaults are client-go's."""

    queue_size: int = 1000
    """Events waiting to be written; further events are dropped and logged (upstream's maxQueuedEvents)."""
    max_tries: int = 12
    """Attempts per event when the server cannot be reached (upstream's maxTriesPerEvent)."""
    retry_delay: float = 10.0
    """Seconds between attempts; the first wait is randomised by upstream, we halve it."""
    cache_size: int = 4096
    """Distinct events remembered for aggregation (upstream's maxLruCacheEntries)."""


@dataclass
class _Seen:
    """_Seen is what the server answered for the last write of one event key."""

    name: str
    namespace: str
    count: int
    first_timestamp: str


@dataclass
class _Pending:
    event: Obj
    key: str
    tries: int = field(default=0)


def _timestamp(now: datetime.datetime) -> str:
    return now.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def object_reference(obj: Obj, field_path: str = "") -> Obj:
    """Return the ObjectReference client-go's ref.GetReference builds for `obj`."""
    meta = obj.get("metadata") or {}
    ref: Obj = {
        "kind": str(obj.get("kind") or ""),
        "namespace": str(meta.get("namespace") or ""),
        "name": str(meta.get("name") or ""),
        "uid": str(meta.get("uid") or ""),
        "apiVersion": str(obj.get("apiVersion") or ""),
        "resourceVersion": str(meta.get("resourceVersion") or ""),
    }
    if field_path:
        ref["fieldPath"] = field_path
    return {k: v for k, v in ref.items() if v}


def event_key(event: Obj) -> str:
    """Return upstream's aggregation key: source, involved object, type, reason and message."""
    source = event.get("source") or {}
    ref = event.get("involvedObject") or {}
    parts = [source.get("component"), source.get("host"), ref.get("kind"), ref.get("namespace"), ref.get("name"),
             ref.get("fieldPath"), ref.get("uid"), ref.get("apiVersion"), event.get("type"), event.get("reason"),
             event.get("message")]
    return "\x00".join(str(p or "") for p in parts)


class EventRecorder:
    """EventRecorder records events about API objects on behalf of one component (and host)."""

    def __init__(self, client: Client, component: str, host: str = "", *, clock: Clock | None = None,
                 settings: RecorderSettings = RecorderSettings()) -> None:
        self.client = client
        self.component = component
        self.host = host
        self._clock: Clock = clock or RealClock()
        self._settings = settings
        self._queue: collections.deque[_Pending] = collections.deque()
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._seen: collections.OrderedDict[str, _Seen] = collections.OrderedDict()
        self._last_nanos = 0

    def event(self, obj: Obj, type_: EventType, reason: str, message: str, *, field_path: str = "") -> None:
        """Record an event about `obj`; returns at once, the write happens in `run()`."""
        if type_ not in (NORMAL, WARNING):
            log.error("unsupported event type %r for %s %s", type_, reason, message)
            return
        if len(self._queue) >= self._settings.queue_size:
            log.error("too many queued events, dropping %s event %s: %s", type_, reason, message)
            return
        ref = object_reference(obj, field_path)
        now = self._clock.now()
        # Names must stay unique even when two events land in the same nanosecond.
        nanos = max(int(now.timestamp() * 1e9), self._last_nanos + 1)
        self._last_nanos = nanos
        stamp = _timestamp(now)
        event: Obj = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{ref.get('name', '')}.{nanos:x}", "namespace": ref.get("namespace") or "default"},
            "involvedObject": ref,
            "reason": reason,
            "message": message,
            "source": {"component": self.component, **({"host": self.host} if self.host else {})},
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
            "type": type_,
            "reportingComponent": self.component,
            "reportingInstance": self.host,
        }
        self._queue.append(_Pending(event, event_key(event)))
        self._idle.clear()
        self._wakeup.set()

    async def flush(self) -> None:
        """Wait until every event recorded so far has been written or given up on."""
        await self._idle.wait()

    async def run(self) -> None:
        """Write queued events until cancelled, one at a time so repeats aggregate in order."""
        while True:
            if not self._queue:
                self._idle.set()
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            pending = self._queue[0]
            done = await self._write(pending)
            if done:
                self._queue.popleft()
                continue
            pending.tries += 1
            if pending.tries >= self._settings.max_tries:
                log.error("unable to write event (retry limit exceeded): %s %s", pending.event.get("reason"),
                          pending.event.get("message"))
                self._queue.popleft()
                continue
            delay = self._settings.retry_delay / (2 if pending.tries == 1 else 1)
            await self._clock.sleep(delay)

    async def _write(self, pending: _Pending) -> bool:
        """Create or aggregate one event; return False only when it should be tried again."""
        event = pending.event
        seen = self._seen.get(pending.key)
        try:
            if seen is not None:
                count = seen.count + 1
                patch = {"count": count, "lastTimestamp": event["lastTimestamp"], "message": event["message"]}
                try:
                    written = await self.client.patch(EVENTS, seen.name, patch, namespace=seen.namespace,
                                                      content_type=STRATEGIC_MERGE_PATCH)
                except errors.NotFoundError:
                    # Someone deleted (or TTL expired) the event: create it again, keeping its history.
                    event = {**event, "metadata": {**event["metadata"], "name": seen.name},
                             "count": count, "firstTimestamp": seen.first_timestamp}
                    written = await self.client.create(EVENTS, event, seen.namespace)
            else:
                written = await self.client.create(EVENTS, event, event["metadata"]["namespace"])
        except errors.APIStatusError as err:
            # The server refused the event itself; sending it again would fail again.
            level = logging.DEBUG if isinstance(err, errors.AlreadyExistsError) else logging.WARNING
            log.log(level, "server rejected event %s %r (will not retry): %s", event.get("reason"),
                    event.get("message"), err)
            return True
        except errors.ClientError as err:
            log.warning("unable to write event %s (may retry): %s", event.get("reason"), err)
            return False
        self._remember(pending.key, written or event)
        return True

    def _remember(self, key: str, written: Obj) -> None:
        meta = written.get("metadata") or {}
        self._seen[key] = _Seen(str(meta.get("name", "")), str(meta.get("namespace", "")),
                                int(written.get("count") or 1), str(written.get("firstTimestamp") or ""))
        self._seen.move_to_end(key)
        while len(self._seen) > self._settings.cache_size:
            self._seen.popitem(last=False)
