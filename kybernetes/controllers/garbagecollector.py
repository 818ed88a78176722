"""Garbage collector: deletes objects whose owners are gone and carries out foreground and orphan deletion.

A simplified port of upstream's pkg/controller/garbagecollector. Instead of a separate graph,
the owner→dependents edges are the `owner-uid` index of every monitored informer's store, and
an object is found by the `uid` index. One queue of uids drives everything; `sync(uid)` looks at
the object's current state and does one of:

* the object is gone from every cache → enqueue its dependents (they may now be orphans);
* being deleted with finalizer `orphan` → remove its ownerReference from every dependent, then
  remove the finalizer;
* being deleted with finalizer `foregroundDeletion` → have every dependent deleted, and remove
  the finalizer once no dependent with `blockOwnerDeletion: true` remains;
* it has ownerReferences → classify each owner by a live GET (cache hits only ever *spare* work,
  never cause a delete): if some owner is alive, drop the references to dead or
  foreground-deleting owners; if none is, delete the object (Foreground if it has dependents and
  an owner waits for it, else by its own finalizers, else Background), with a uid precondition.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from dataclasses import dataclass
from typing import Any, Literal

from kybernetes.aio.backoff import Backoff
from kybernetes.aio.clock import Clock, RealClock
from kybernetes.client import errors
from kybernetes.client.cache import OWNER_UID_INDEX, UID_INDEX
from kybernetes.client.informer import Handlers, SharedInformerFactory
from kybernetes.client.rest import MERGE_PATCH, Client, PropagationPolicy, ResourceRef
from kybernetes.client.workqueue import WorkQueue, process

log = logging.getLogger(__name__)

Obj = dict[str, Any]
OwnerState = Literal["solid", "dangling", "waiting"]

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"

IGNORED_RESOURCES = frozenset({("", "events"), ("events.k8s.io", "events")})
"""Resources the collector never watches: high churn, never owners (upstream's default)."""


@dataclass(frozen=True)
class Settings:
    """Settings of the garbage collector."""

    workers: int = 5
    """Uids synced concurrently."""
    rediscover_every: float = 30.0
    """Seconds between discovery runs that pick up new (and drop vanished) resources."""
    unsynced_retry: float = 1.0
    """Seconds to wait before retrying work that needs every monitored cache to be synced."""
    sync_timeout: float = 30.0
    """Seconds to wait for the first caches before starting workers anyway."""
    discovery_backoff: Backoff = Backoff(initial=0.5, cap=30.0, jitter=0.2)
    """Delays between attempts of the first discovery."""


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _uid(obj: Obj) -> str:
    return str(_meta(obj).get("uid") or "")


def _owner_refs(obj: Obj) -> list[Obj]:
    return [r for r in _meta(obj).get("ownerReferences") or [] if isinstance(r, dict) and r.get("uid")]


def _being_deleted(obj: Obj) -> bool:
    return bool(_meta(obj).get("deletionTimestamp"))


def _has_finalizer(obj: Obj, finalizer: str) -> bool:
    return finalizer in (_meta(obj).get("finalizers") or [])


def _deleting_dependents(obj: Obj) -> bool:
    return _being_deleted(obj) and _has_finalizer(obj, FOREGROUND)


def _split_api_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


class GarbageCollector:
    """GarbageCollector watches every deletable resource and removes what lost its owners."""

    name = "garbagecollector"

    def __init__(self, client: Client, informers: SharedInformerFactory, *, clock: Clock | None = None,
                 settings: Settings = Settings()) -> None:
        self.client = client
        self.informers = informers
        self.clock: Clock = clock or RealClock()
        self.settings = settings
        self.queue: WorkQueue[str] = WorkQueue(name=self.name, clock=self.clock)
        self.monitored: set[ResourceRef] = set()
        # (group, kind) -> resource, for resolving an ownerReference's apiVersion/kind to a URL.
        self._kinds: dict[tuple[str, str], ResourceRef] = {}
        self._handlers = Handlers(self._on_add, self._on_update, self._on_delete)

    # -- monitors --------------------------------------------------------------------------

    async def resync_monitors(self) -> None:
        """Discover resources; watch every new deletable one, stop watching vanished ones."""
        complete = True
        try:
            refs = await self.client.discover()
        except errors.ClientError as err:
            log.warning("garbage collector: discovery incomplete, keeping current monitors: %s", err)
            refs = await self.client.discover(partial=True)
            complete = False
        self.set_resources(refs, complete=complete)

    def set_resources(self, refs: list[ResourceRef], *, complete: bool = True) -> None:
        """Monitor the deletable ones of `refs`; when `complete`, drop monitors of resources not listed."""
        kinds = {(r.group, r.kind): r for r in refs if r.supports("get")}
        self._kinds = kinds if complete else {**self._kinds, **kinds}
        wanted = {r for r in refs if r.supports("list", "watch", "delete")
                  and (r.group, r.plural) not in IGNORED_RESOURCES}
        for ref in sorted(wanted - self.monitored, key=lambda r: (r.group, r.plural)):
            self.informers.informer(ref).add_handlers(self._handlers)
            self.monitored.add(ref)
        if complete:
            for ref in self.monitored - wanted:
                log.info("garbage collector: %s no longer served, not monitoring it", ref.group_resource)
                self.informers.remove(ref)
                self.monitored.discard(ref)

    async def run(self) -> None:
        """Monitor, wait for the caches, then collect until cancelled."""
        for attempt in itertools.count():
            try:
                await self.resync_monitors()
                break
            except errors.ClientError as err:
                # Discovery failing outright (server restarting) must not take the process down.
                delay = self.settings.discovery_backoff.delay(attempt)
                log.warning("garbage collector: discovery failed, retrying in %.1fs: %s", delay, err)
                await self.clock.sleep(delay)
        async with asyncio.TaskGroup() as group:
            group.create_task(self._rediscover())
            if not await self._wait_synced(self.settings.sync_timeout):
                unsynced = [r.group_resource for r in self.monitored if not self.informers.has_synced([r])]
                log.warning("garbage collector: starting with caches not synced: %s", ", ".join(sorted(unsynced)))
            group.create_task(process(self.queue, self.sync, workers=self.settings.workers))

    async def _wait_synced(self, timeout: float) -> bool:
        """Wait for every monitored cache, at most `timeout` seconds on our clock; tell whether they synced."""
        synced = asyncio.ensure_future(self.informers.wait_synced(self.monitored))
        timer = asyncio.ensure_future(self.clock.sleep(timeout))
        try:
            await asyncio.wait({synced, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            synced.cancel()
            timer.cancel()
        return self.informers.has_synced(self.monitored)

    async def _rediscover(self) -> None:
        while True:
            await self.clock.sleep(self.settings.rediscover_every)
            try:
                await self.resync_monitors()
            except errors.ClientError as err:
                log.warning("garbage collector: discovery failed: %s", err)

    # -- handlers: enqueue only ------------------------------------------------------------

    def _on_add(self, obj: Obj) -> None:
        self._on_update(None, obj)

    def _on_update(self, old: Obj | None, new: Obj) -> None:
        if _owner_refs(new) or (_being_deleted(new) and (_has_finalizer(new, FOREGROUND) or _has_finalizer(new, ORPHAN))):
            self.queue.add(_uid(new))
        # A foreground-deleting owner waits for this object: let it look again.
        for ref in _owner_refs(new) + (_owner_refs(old) if old else []):
            self.queue.add(str(ref["uid"]))

    def _on_delete(self, obj: Obj) -> None:
        # Syncing a uid that is gone enqueues its dependents; owners may have been waiting for it.
        self.queue.add(_uid(obj))
        for ref in _owner_refs(obj):
            self.queue.add(str(ref["uid"]))

    # -- cache lookups ---------------------------------------------------------------------

    def find(self, uid: str) -> tuple[Obj, ResourceRef] | None:
        """Return the cached object with `uid` and its resource."""
        for ref in self.monitored:
            informer = self.informers.get(ref)
            if informer is not None:
                for obj in informer.store.by_index(UID_INDEX, uid):
                    return obj, ref
        return None

    def dependents(self, uid: str) -> list[tuple[Obj, ResourceRef]]:
        """Return the cached objects that name `uid` among their owners, each once."""
        # One object can be served under two groups (ingresses in extensions and networking.k8s.io).
        found: dict[str, tuple[Obj, ResourceRef]] = {}
        for ref in self.monitored:
            informer = self.informers.get(ref)
            if informer is not None:
                for obj in informer.store.by_index(OWNER_UID_INDEX, uid):
                    found.setdefault(_uid(obj), (obj, ref))
        return list(found.values())

    # -- sync ------------------------------------------------------------------------------

    async def sync(self, uid: str) -> float | None:
        """Bring the object with `uid` (or its dependents, if it is gone) in line with its owners."""
        found = self.find(uid)
        if found is None:
            for dependent, _ in self.dependents(uid):
                self.queue.add(_uid(dependent))
            return None
        obj, ref = found
        if _being_deleted(obj):
            if _has_finalizer(obj, ORPHAN):
                return await self._orphan_dependents(obj, ref)
            if _has_finalizer(obj, FOREGROUND):
                return await self._delete_dependents_first(obj, ref)
            return None
        if not _owner_refs(obj):
            return None
        return await self._attempt_to_delete(obj, ref)

    async def _attempt_to_delete(self, cached: Obj, ref: ResourceRef) -> float | None:
        namespace = _meta(cached).get("namespace")
        if all(self._live_in_cache(str(o["uid"]), namespace) for o in _owner_refs(cached)):
            return None  # every owner is alive as far as we know; its deletion would enqueue us
        latest = await self._get_latest(ref, cached)
        if latest is None or _being_deleted(latest):
            return None
        owners = _owner_refs(latest)
        if not owners:
            return None
        namespace = _meta(latest).get("namespace")
        states = {str(o["uid"]): await self._owner_state(o, namespace) for o in owners}
        solid = [u for u, s in states.items() if s == "solid"]
        stale = [u for u, s in states.items() if s != "solid"]
        uid, name = _uid(latest), _meta(latest).get("name")
        if solid:
            if stale:
                log.info("garbage collector: %s %s/%s keeps live owners; dropping references to %s",
                         ref.kind, namespace or "", name, ", ".join(stale))
                await self._remove_owner_refs(ref, latest, set(stale))
            return None
        policy: PropagationPolicy
        waiting = any(s == "waiting" for s in states.values())
        if waiting and self.dependents(uid):
            # Our owner waits for us, and we have dependents of our own: they go first.
            policy = "Foreground"
        elif _has_finalizer(latest, ORPHAN):
            policy = "Orphan"
        elif _has_finalizer(latest, FOREGROUND):
            policy = "Foreground"
        else:
            policy = "Background"
        log.info("garbage collector: deleting %s %s/%s (owners gone: %s), propagation %s",
                 ref.kind, namespace or "", name, ", ".join(states), policy)
        await self._delete(ref, latest, policy)
        return None

    async def _delete_dependents_first(self, owner: Obj, ref: ResourceRef) -> float | None:
        if not self.informers.has_synced(self.monitored):
            return self.settings.unsynced_retry  # an unsynced cache could hide a blocking dependent
        uid = _uid(owner)
        blocking = 0
        for dependent, _ in self.dependents(uid):
            if not _being_deleted(dependent):
                self.queue.add(_uid(dependent))  # it will find us waiting and delete itself
            if any(o.get("uid") == uid and o.get("blockOwnerDeletion") for o in _owner_refs(dependent)):
                blocking += 1
        if blocking:
            return None  # each dependent's deletion event enqueues us again
        latest = await self._get_latest(ref, owner)
        if latest is None or not _has_finalizer(latest, FOREGROUND):
            return None
        log.info("garbage collector: dependents of %s %s gone; removing %s", ref.kind, _meta(latest).get("name"), FOREGROUND)
        await self._remove_finalizer(ref, latest, FOREGROUND)
        return None

    async def _orphan_dependents(self, owner: Obj, ref: ResourceRef) -> float | None:
        if not self.informers.has_synced(self.monitored):
            return self.settings.unsynced_retry  # an unsynced cache could hide a dependent
        uid = _uid(owner)
        for dependent, dependent_ref in self.dependents(uid):
            latest = await self._get_latest(dependent_ref, dependent)
            if latest is not None:
                await self._remove_owner_refs(dependent_ref, latest, {uid})
        latest_owner = await self._get_latest(ref, owner)
        if latest_owner is None or not _has_finalizer(latest_owner, ORPHAN):
            return None
        log.info("garbage collector: orphaned dependents of %s %s; removing %s", ref.kind, _meta(latest_owner).get("name"), ORPHAN)
        await self._remove_finalizer(ref, latest_owner, ORPHAN)
        return None

    # -- owners ----------------------------------------------------------------------------

    def _live_in_cache(self, uid: str, namespace: str | None) -> bool:
        found = self.find(uid)
        if found is None or _being_deleted(found[0]):
            return False
        # Owners live in the dependent's namespace, or are cluster-scoped; anything else is dangling.
        owner_namespace = _meta(found[0]).get("namespace")
        return not owner_namespace or owner_namespace == namespace

    def resolve(self, api_version: str, kind: str) -> ResourceRef:
        """Map an ownerReference's apiVersion/kind to a served resource."""
        group, version = _split_api_version(api_version)
        ref = self._kinds.get((group, kind))
        if ref is None:
            raise LookupError(f"no served resource for kind {kind!r} in group {group!r}")
        return ref if ref.version == version else ResourceRef(group, version, ref.plural, ref.namespaced, kind, ref.verbs)

    async def _owner_state(self, owner: Obj, namespace: str | None) -> OwnerState:
        """Classify an owner by reading it: absent or another incarnation is dangling (upstream's isDangling)."""
        ref = self.resolve(str(owner.get("apiVersion", "")), str(owner.get("kind", "")))
        if ref.namespaced and not namespace:
            return "dangling"  # a cluster-scoped object cannot be owned by a namespaced one
        try:
            live = await self.client.get(ref, str(owner.get("name", "")), namespace if ref.namespaced else None)
        except errors.NotFoundError:
            return "dangling"
        if _uid(live) != owner["uid"]:
            return "dangling"
        return "waiting" if _deleting_dependents(live) else "solid"

    # -- writes ----------------------------------------------------------------------------

    async def _get_latest(self, ref: ResourceRef, cached: Obj) -> Obj | None:
        """GET the current state of a cached object; None if it is gone or replaced by a namesake."""
        meta = _meta(cached)
        try:
            latest = await self.client.get(ref, str(meta.get("name", "")), meta.get("namespace"))
        except errors.NotFoundError:
            return None
        return latest if _uid(latest) == _uid(cached) else None

    async def _delete(self, ref: ResourceRef, obj: Obj, policy: PropagationPolicy) -> None:
        meta = _meta(obj)
        try:
            await self.client.delete(ref, str(meta["name"]), meta.get("namespace"), propagation_policy=policy,
                                     uid=_uid(obj))
        except errors.NotFoundError:
            pass
        except errors.ConflictError:
            pass  # the uid precondition failed: a namesake took its place, which we must not touch

    async def _remove_owner_refs(self, ref: ResourceRef, obj: Obj, owner_uids: set[str]) -> None:
        """Drop the ownerReferences to `owner_uids` from `obj`, guarded by its resourceVersion."""
        for attempt in range(3):
            meta = _meta(obj)
            refs = meta.get("ownerReferences") or []
            kept = [r for r in refs if not (isinstance(r, dict) and r.get("uid") in owner_uids)]
            if len(kept) == len(refs):
                return
            patch = {"metadata": {"ownerReferences": kept or None, "resourceVersion": meta.get("resourceVersion")}}
            try:
                await self.client.patch(ref, str(meta["name"]), patch, content_type=MERGE_PATCH,
                                        namespace=meta.get("namespace"))
                return
            except errors.NotFoundError:
                return
            except errors.ConflictError:
                if attempt == 2:
                    raise
                latest = await self._get_latest(ref, obj)
                if latest is None:
                    return
                obj = latest

    async def _remove_finalizer(self, ref: ResourceRef, obj: Obj, finalizer: str) -> None:
        """Remove one finalizer from `obj`, guarded by its resourceVersion."""
        meta = _meta(obj)
        finalizers = [f for f in meta.get("finalizers") or [] if f != finalizer]
        patch = {"metadata": {"finalizers": finalizers or None, "resourceVersion": meta.get("resourceVersion")}}
        try:
            await self.client.patch(ref, str(meta["name"]), patch, content_type=MERGE_PATCH,
                                    namespace=meta.get("namespace"))
        except errors.NotFoundError:
            pass

