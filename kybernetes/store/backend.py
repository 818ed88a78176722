"""The narrow storage protocol every datastore implements, shaped to map 1:1 onto etcd v3.

A revision is a cluster-wide, strictly increasing integer bumped by every write; it is
what Kubernetes exposes as ``resourceVersion``.

Error tree::

    StoreError
    ├── KeyExistsError          create() of a key that is live
    ├── KeyNotFoundError        update()/delete() of a key that is absent
    ├── RevisionMismatchError   update()/delete() whose expected_revision is stale (.current)
    ├── CompactedError          watch() from a revision older than the compacted one (.revision)
    ├── StoreClosedError        use of a backend/cache that is closed (or not started)
    └── WatcherOverflowError    a cache watcher fell too far behind and was dropped
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol, TypeAlias, runtime_checkable


@dataclass(frozen=True, slots=True)
class KeyValue:
    """One version of one key."""

    key: str
    value: bytes
    create_revision: int
    mod_revision: int


class EventType(enum.Enum):
    PUT = "PUT"
    DELETE = "DELETE"


@dataclass(frozen=True, slots=True)
class Event:
    """A change to one key.

    For DELETE, ``kv`` holds the last value with ``mod_revision`` set to the deletion's
    revision, so ``kv.mod_revision`` is always the event's revision.
    """

    type: EventType
    kv: KeyValue
    prev: KeyValue | None

    @property
    def revision(self) -> int:
        return self.kv.mod_revision

    @property
    def is_create(self) -> bool:
        return self.type is EventType.PUT and self.prev is None


# What a backend watch yields: events in revision order.
EventBatch: TypeAlias = list[Event]


class StoreError(Exception):
    """Base of every error the store raises on purpose."""


class KeyExistsError(StoreError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key already exists: {key}")
        self.key = key


class KeyNotFoundError(StoreError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key not found: {key}")
        self.key = key


class RevisionMismatchError(StoreError):
    def __init__(self, key: str, expected: int, current: KeyValue) -> None:
        super().__init__(f"revision mismatch on {key}: expected {expected}, current {current.mod_revision}")
        self.key = key
        self.expected = expected
        self.current = current


class CompactedError(StoreError):
    def __init__(self, revision: int) -> None:
        super().__init__(f"required revision has been compacted (compacted revision {revision})")
        self.revision = revision


class StoreClosedError(StoreError):
    def __init__(self, message: str = "store is closed") -> None:
        super().__init__(message)


class WatcherOverflowError(StoreError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"watcher fell more than {limit} events behind and was dropped")
        self.limit = limit


@runtime_checkable
class Backend(Protocol):
    """What the API server needs from a datastore; nothing more, so etcd fits behind it."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def get(self, key: str) -> KeyValue | None: ...

    async def list(self, prefix: str) -> tuple[int, list[KeyValue]]:
        """Return (current revision, live items under prefix sorted by key)."""
        ...

    async def create(self, key: str, value: bytes) -> KeyValue: ...

    async def update(self, key: str, value: bytes, *, expected_revision: int) -> KeyValue: ...

    async def delete(self, key: str, *, expected_revision: int | None = None) -> KeyValue: ...

    def watch(self, prefix: str, start_revision: int) -> AsyncIterator[EventBatch]:
        """Yield every event under prefix with revision > start_revision, in order, in batches."""
        ...

    async def current_revision(self) -> int: ...

    async def compact(self, revision: int) -> None: ...


def prefix_range(prefix: str) -> tuple[str, str | None]:
    """Return [low, high) bounds of all strings starting with prefix (high None = unbounded).

    Range bounds let SQLite use the (name, id) index where LIKE would not.
    """
    if not prefix:
        return "", None
    last = ord(prefix[-1])
    if last >= 0x10FFFF:
        return prefix, None
    return prefix, prefix[:-1] + chr(last + 1)


@dataclass(eq=False, slots=True)
class Subscription:
    """One backend watcher's inbox of event batches; unbounded because the consumer is local."""

    prefix: str
    queue: asyncio.Queue[list[Event] | None] = field(default_factory=asyncio.Queue)

    async def next_batch(self) -> list[Event]:
        batch = await self.queue.get()
        if batch is None:
            raise StoreClosedError()
        return batch


@dataclass(slots=True)
class Broadcaster:
    """Fans committed event batches out to the backend's in-process watchers."""

    subscriptions: set[Subscription] = field(default_factory=set)

    def subscribe(self, prefix: str) -> Subscription:
        sub = Subscription(prefix)
        self.subscriptions.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self.subscriptions.discard(sub)

    def publish(self, events: list[Event]) -> None:
        if not events:
            return
        for sub in self.subscriptions:
            if sub.prefix:
                matching = [e for e in events if e.kv.key.startswith(sub.prefix)]
            else:
                matching = events
            if matching:
                sub.queue.put_nowait(matching)

    def close(self) -> None:
        # A None sentinel makes every pending next_batch() raise StoreClosedError.
        for sub in self.subscriptions:
            sub.queue.put_nowait(None)
        self.subscriptions.clear()
