"""Informer: keeps a local Store of one resource current by list-then-watch, and tells handlers.

The loop is upstream's reflector: list (resourceVersion=0 the first time, a consistent read after
410 Gone), replace the store, then watch from the list's resourceVersion with bookmarks. A watch
that ends normally is restarted from the last resourceVersion seen; 410 Gone (the server no
longer has that history) forces a re-list; other failures back off exponentially. Handlers are
synchronous and must only enqueue work.

`SharedInformerFactory` gives every controller in a process the same informer per resource.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from kybernetes.aio.backoff import Backoff
from kybernetes.aio.clock import Clock, RealClock
from kybernetes.client import errors
from kybernetes.client.cache import STANDARD_INDEXERS, IndexFunc, Store
from kybernetes.client.rest import Client, ResourceRef, WatchEvent

log = logging.getLogger(__name__)

Obj = dict[str, Any]
AddHandler = Callable[[Obj], None]
UpdateHandler = Callable[[Obj, Obj], None]
DeleteHandler = Callable[[Obj], None]

SHORT_WATCH = 1.0
"""A watch that ends within this many seconds without events counts as a failure (upstream's rule)."""


@dataclass(frozen=True)
class Handlers:
    """Handlers are the synchronous callbacks an informer calls on each change; any may be None."""

    on_add: AddHandler | None = None
    on_update: UpdateHandler | None = None
    on_delete: DeleteHandler | None = None


@dataclass(frozen=True)
class InformerSettings:
    """InformerSettings tune the list/watch loop."""

    backoff: Backoff = Backoff(initial=0.8, cap=30.0, jitter=0.2)
    """Delay between attempts after failures; reset by a watch that delivered events."""
    watch_timeout: tuple[int, int] = (300, 600)
    """A watch asks the server to end it after a random number of seconds in this range."""
    page_size: int = 500
    """Items per page when listing with a consistent read (after 410)."""


def _rv(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


class Informer:
    """Informer mirrors one resource (optionally one namespace or selector) into `store`."""

    def __init__(self, client: Client, ref: ResourceRef, *, namespace: str | None = None,
                 label_selector: str | None = None, field_selector: str | None = None, clock: Clock | None = None,
                 indexers: dict[str, IndexFunc] | None = None, settings: InformerSettings = InformerSettings()) -> None:
        self.client = client
        self.ref = ref
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.store = Store(indexers=indexers)
        self._clock: Clock = clock or RealClock()
        self._settings = settings
        self._handlers: list[Handlers] = []
        self._synced = asyncio.Event()

    def __repr__(self) -> str:
        return f"Informer({self.ref.group_resource}, namespace={self.namespace!r})"

    @property
    def has_synced(self) -> bool:
        """True once the first list has been applied to the store."""
        return self._synced.is_set()

    async def wait_synced(self) -> None:
        await self._synced.wait()

    def add_handlers(self, handlers: Handlers | None = None, *, on_add: AddHandler | None = None,
                     on_update: UpdateHandler | None = None, on_delete: DeleteHandler | None = None) -> None:
        """Register callbacks; a late registration first sees the current contents as adds."""
        handlers = handlers or Handlers(on_add, on_update, on_delete)
        self._handlers.append(handlers)
        if self.has_synced and handlers.on_add is not None:
            for obj in self.store:
                self._call(handlers.on_add, obj)

    # -- the list/watch loop ---------------------------------------------------------------

    async def run(self) -> None:
        """List and watch until cancelled; errors from the server are retried, never raised."""
        failures = 0
        list_rv: str | None = "0"  # the first list may come from the server's cache
        need_list = True
        while True:
            try:
                if need_list:
                    await self._list(list_rv)
                    need_list = False
                if await self._watch():
                    failures = 0
                    continue
                raise errors.TransportError(f"watch of {self.ref.group_resource} ended at once without events")
            except errors.GoneError as err:
                # The history we asked for is gone: only a fresh, consistent list can resync us.
                log.info("%r: %s; re-listing", self, err)
                need_list, list_rv = True, None
                if failures == 0:
                    failures += 1
                    continue
            except errors.ClientError as err:
                log.warning("%r: %s", self, err)
            delay = self._settings.backoff.delay(failures)
            failures += 1
            await self._clock.sleep(delay)

    async def _list(self, resource_version: str | None) -> None:
        if resource_version == "0":
            # resourceVersion=0 is served whole from the server's cache; paging doesn't apply.
            listed = await self.client.list(self.ref, self.namespace, label_selector=self.label_selector,
                                            field_selector=self.field_selector, resource_version="0")
        else:
            listed = await self.client.list_all(self.ref, self.namespace, label_selector=self.label_selector,
                                                field_selector=self.field_selector, page_size=self._settings.page_size)
        self.replace(listed.get("items") or [], str((listed.get("metadata") or {}).get("resourceVersion") or ""))

    async def _watch(self) -> bool:
        """Watch from the store's resourceVersion; return False if the watch was suspiciously short."""
        started = self._clock.monotonic()
        low, high = self._settings.watch_timeout
        events = self.client.watch(self.ref, self.namespace, resource_version=self.store.resource_version or None,
                                   label_selector=self.label_selector, field_selector=self.field_selector,
                                   timeout_seconds=random.randint(low, high), allow_bookmarks=True)
        count = 0
        async with contextlib.aclosing(events):
            async for event in events:
                count += 1
                self._apply(event)
        return count > 0 or self._clock.monotonic() - started >= SHORT_WATCH

    # -- applying changes -------------------------------------------------------------------

    def replace(self, items: list[Obj], resource_version: str) -> None:
        """Make the store hold exactly `items` (a fresh list), telling handlers what changed."""
        old = {self.store.key_of(o): o for o in self.store}
        kind = self.ref.kind
        for item in items:
            # Lists carry apiVersion/kind on the list only; handlers want them on each object.
            item.setdefault("apiVersion", self.ref.api_version)
            item.setdefault("kind", kind)
        self.store.replace(items, resource_version)
        for item in items:
            previous = old.pop(self.store.key_of(item), None)
            if previous is None:
                self._emit_add(item)
            elif _rv(previous) != _rv(item):
                self._emit_update(previous, item)
        for gone in old.values():
            self._emit_delete(gone)
        self._synced.set()

    def _apply(self, event: WatchEvent) -> None:
        obj = event.object
        if event.type == "BOOKMARK":
            self.store.resource_version = event.resource_version or self.store.resource_version
            return
        obj.setdefault("apiVersion", self.ref.api_version)
        obj.setdefault("kind", self.ref.kind)
        if event.type in ("ADDED", "MODIFIED"):
            old = self.store.upsert(obj)
            self.store.resource_version = event.resource_version or self.store.resource_version
            if old is None:
                self._emit_add(obj)
            else:
                self._emit_update(old, obj)
        elif event.type == "DELETED":
            self.store.delete(obj)
            self.store.resource_version = event.resource_version or self.store.resource_version
            self._emit_delete(obj)
        else:
            log.warning("%r: ignoring watch event of type %r", self, event.type)

    def _emit_add(self, obj: Obj) -> None:
        for h in self._handlers:
            if h.on_add is not None:
                self._call(h.on_add, obj)

    def _emit_update(self, old: Obj, new: Obj) -> None:
        for h in self._handlers:
            if h.on_update is not None:
                self._call(h.on_update, old, new)

    def _emit_delete(self, obj: Obj) -> None:
        for h in self._handlers:
            if h.on_delete is not None:
                self._call(h.on_delete, obj)

    def _call(self, handler: Callable[..., None], *args: Obj) -> None:
        # A broken handler must not stop the informer or starve the other handlers.
        try:
            handler(*args)
        except Exception:
            log.exception("%r: event handler %r failed", self, handler)


class SharedInformerFactory:
    """SharedInformerFactory hands out one informer per resource and runs them all.

    Informers requested while `run()` is active start at once; `remove()` stops one (the
    garbage collector drops resources that discovery no longer lists).
    """

    def __init__(self, client: Client, *, clock: Clock | None = None, namespace: str | None = None,
                 settings: InformerSettings = InformerSettings()) -> None:
        self.client = client
        self._clock = clock or RealClock()
        self._namespace = namespace
        self._settings = settings
        self._informers: dict[ResourceRef, Informer] = {}
        self._tasks: dict[ResourceRef, asyncio.Task[None]] = {}
        self._group: asyncio.TaskGroup | None = None

    def informer(self, ref: ResourceRef) -> Informer:
        """Return the shared informer of `ref`, creating (and, if running, starting) it."""
        informer = self._informers.get(ref)
        if informer is None:
            informer = Informer(self.client, ref, namespace=self._namespace, clock=self._clock,
                                indexers=STANDARD_INDEXERS, settings=self._settings)
            self._informers[ref] = informer
            self._start(ref)
        return informer

    def get(self, ref: ResourceRef) -> Informer | None:
        """Return the informer of `ref` if one was requested, without creating one."""
        return self._informers.get(ref)

    @property
    def informers(self) -> dict[ResourceRef, Informer]:
        return dict(self._informers)

    def remove(self, ref: ResourceRef) -> None:
        """Stop and forget the informer of `ref`."""
        self._informers.pop(ref, None)
        task = self._tasks.pop(ref, None)
        if task is not None:
            task.cancel()

    def has_synced(self, refs: Iterable[ResourceRef] | None = None) -> bool:
        chosen = self._informers if refs is None else refs
        return all(r in self._informers and self._informers[r].has_synced for r in chosen)

    async def wait_synced(self, refs: Iterable[ResourceRef] | None = None) -> None:
        """Wait until the informers of `refs` (default: all requested so far) have synced."""
        chosen = list(self._informers if refs is None else refs)
        for ref in chosen:
            await self.informer(ref).wait_synced()

    async def run(self) -> None:
        """Run every informer, present and future, until cancelled."""
        async with asyncio.TaskGroup() as group:
            self._group = group
            try:
                for ref in self._informers:
                    self._start(ref)
                await asyncio.Future()  # until cancelled
            finally:
                self._group = None
                self._tasks.clear()

    def _start(self, ref: ResourceRef) -> None:
        if self._group is None or ref in self._tasks:
            return
        self._tasks[ref] = self._group.create_task(self._informers[ref].run(), name=f"informer {ref.group_resource}")
