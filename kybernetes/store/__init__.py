"""Revisioned key-value storage: the backend protocol, SQLite and memory backends, the watch cache."""

from kybernetes.store.backend import (
    Backend,
    CompactedError,
    Event,
    EventBatch,
    EventType,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    RevisionMismatchError,
    StoreClosedError,
    StoreError,
    WatcherOverflowError,
)
from kybernetes.store.cache import WatchCache, Watcher
from kybernetes.store.drivers import open_backend
from kybernetes.store.memory import MemoryBackend
from kybernetes.store.sqlite import SQLiteBackend

__all__ = [
    "Backend",
    "CompactedError",
    "Event",
    "EventBatch",
    "EventType",
    "KeyExistsError",
    "KeyNotFoundError",
    "KeyValue",
    "MemoryBackend",
    "RevisionMismatchError",
    "SQLiteBackend",
    "StoreClosedError",
    "StoreError",
    "WatchCache",
    "Watcher",
    "WatcherOverflowError",
    "open_backend",
]
