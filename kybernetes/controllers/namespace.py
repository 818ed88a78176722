"""Namespace controller: empties a terminating namespace, then releases its `kubernetes` finalizer.

Upstream's pkg/controller/namespace: for a namespace with a deletionTimestamp, delete every
namespaced object of every served resource (deletecollection where supported, else list and
delete each), report progress in the namespace's status conditions, requeue until nothing is
left, then `PUT /api/v1/namespaces/<name>/finalize` without "kubernetes" in `spec.finalizers`,
after which the API server removes the namespace.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import logging
from dataclasses import dataclass, field
from typing import Any

from kybernetes.aio.clock import Clock, RealClock
from kybernetes.client import errors
from kybernetes.client.informer import Handlers, SharedInformerFactory
from kybernetes.client.rest import NAMESPACES, Client, ResourceRef
from kybernetes.client.workqueue import WorkQueue, process

log = logging.getLogger(__name__)

Obj = dict[str, Any]

FINALIZER = "kubernetes"
"""The spec finalizer this controller owns."""


@dataclass(frozen=True)
class Settings:
    """Settings of the namespace controller."""

    workers: int = 2
    """Namespaces emptied concurrently."""
    recheck: float = 1.0
    """Seconds between checks while content remains (pods may take a while to terminate)."""
    concurrency: int = 8
    """Resources deleted from concurrently within one namespace."""


@dataclass
class Content:
    """Content is what one sweep of a namespace found and failed at."""

    remaining: dict[str, int] = field(default_factory=dict)
    """Objects left per resource ("pods", "replicasets.apps")."""
    finalizers: dict[str, int] = field(default_factory=dict)
    """Remaining objects per finalizer they still carry."""
    failures: list[str] = field(default_factory=list)
    """Human-readable errors of resources that could not be listed or deleted."""


def conditions(*, discovery_error: str | None, content: Content | None) -> list[Obj]:
    """Return the namespace deletion conditions upstream reports, without transition times."""

    def condition(kind: str, bad: bool, reason_bad: str, reason_ok: str, message: str) -> Obj:
        return {"type": kind, "status": "True" if bad else "False",
                "reason": reason_bad if bad else reason_ok, "message": message if bad else ""}

    content = content or Content()
    remaining = ", ".join(f"{r} has {n} resource instances" for r, n in sorted(content.remaining.items()))
    finalizers = ", ".join(f"{f} in {n} resource instances" for f, n in sorted(content.finalizers.items()))
    return [
        condition("NamespaceDeletionDiscoveryFailure", discovery_error is not None, "DiscoveryFailed",
                  "ResourcesDiscovered", f"Discovery failed for some groups: {discovery_error}"),
        condition("NamespaceDeletionGroupVersionParsingFailure", False, "GroupVersionParsingFailed",
                  "ParsedGroupVersions", ""),
        condition("NamespaceDeletionContentFailure", bool(content.failures), "ContentDeletionFailed",
                  "ContentDeleted", "Failed to delete all resource types, " + "; ".join(content.failures)),
        condition("NamespaceContentRemaining", bool(content.remaining), "SomeResourcesRemain",
                  "ContentRemoved", f"Some resources are remaining: {remaining}"),
        condition("NamespaceFinalizersRemaining", bool(content.finalizers), "SomeFinalizersRemain",
                  "ContentHasNoFinalizers", f"Some content in the namespace has finalizers remaining: {finalizers}"),
    ]


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _spec_finalizers(ns: Obj) -> list[str]:
    return list((ns.get("spec") or {}).get("finalizers") or [])


class NamespaceController:
    """NamespaceController deletes the contents of terminating namespaces."""

    name = "namespace"

    def __init__(self, client: Client, informers: SharedInformerFactory, *, clock: Clock | None = None,
                 settings: Settings = Settings()) -> None:
        self.client = client
        self.clock: Clock = clock or RealClock()
        self.settings = settings
        self.queue: WorkQueue[str] = WorkQueue(name=self.name, clock=self.clock)
        self.informer = informers.informer(NAMESPACES)
        self.informer.add_handlers(Handlers(on_add=self._enqueue, on_update=lambda _old, new: self._enqueue(new)))

    def _enqueue(self, ns: Obj) -> None:
        if _meta(ns).get("deletionTimestamp"):
            self.queue.add(str(_meta(ns).get("name")))

    async def run(self) -> None:
        await self.informer.wait_synced()
        await process(self.queue, self.sync, workers=self.settings.workers)

    async def sync(self, name: str) -> float | None:
        """Advance the deletion of namespace `name` by one sweep; ask to be requeued while content remains."""
        cached = self.informer.store.get(name)
        if cached is None or not _meta(cached).get("deletionTimestamp"):
            return None
        try:
            ns = await self.client.get(NAMESPACES, name)  # the cache may lag; finalize needs the latest version
        except errors.NotFoundError:
            return None
        if not _meta(ns).get("deletionTimestamp"):
            return None
        if FINALIZER not in _spec_finalizers(ns):
            if not _spec_finalizers(ns) and not _meta(ns).get("finalizers"):
                # Nothing holds it any more, yet it is still here: ask again for its removal.
                await self._delete_namespace(name)
            return None

        try:
            refs = await self.client.discover()
        except errors.ClientError as err:
            await self._report(ns, conditions(discovery_error=str(err), content=None))
            raise
        content = await self.delete_content(name, refs)
        ns = await self._report(ns, conditions(discovery_error=None, content=content))
        if content.failures:
            raise RuntimeError(f"namespace {name}: " + "; ".join(content.failures))
        if content.remaining:
            log.info("namespace %s: waiting for %s", name,
                     ", ".join(f"{n} {r}" for r, n in sorted(content.remaining.items())))
            return self.settings.recheck
        await self._finalize(ns)
        return None

    async def delete_content(self, namespace: str, refs: list[ResourceRef]) -> Content:
        """Delete every namespaced object in `namespace`; return what remains."""
        content = Content()
        deletable = [r for r in refs if r.namespaced and r.supports("list")
                     and (r.supports("delete") or r.supports("deletecollection"))]
        limit = asyncio.Semaphore(self.settings.concurrency)

        async def sweep(ref: ResourceRef) -> None:
            async with limit:
                try:
                    await self._sweep(namespace, ref, content)
                except errors.ClientError as err:
                    content.failures.append(f"{ref.group_resource}: {err}")

        async with asyncio.TaskGroup() as group:
            for ref in deletable:
                group.create_task(sweep(ref))
        return content

    async def _sweep(self, namespace: str, ref: ResourceRef, content: Content) -> None:
        if ref.supports("deletecollection"):
            try:
                await self.client.delete_collection(ref, namespace, propagation_policy="Background")
            except (errors.MethodNotAllowedError, errors.NotFoundError):
                pass  # fall back to deleting one by one
        try:
            items = (await self.client.list_all(ref, namespace)).get("items") or []
        except errors.NotFoundError:
            return  # the resource went away since discovery
        for item in items:
            meta = _meta(item)
            if not meta.get("deletionTimestamp") and ref.supports("delete"):
                try:
                    await self.client.delete(ref, str(meta.get("name")), namespace, propagation_policy="Background",
                                             uid=meta.get("uid"))
                except (errors.NotFoundError, errors.ConflictError):
                    pass  # already gone, or replaced by a namesake that the next sweep sees
            for finalizer in meta.get("finalizers") or []:
                content.finalizers[finalizer] = content.finalizers.get(finalizer, 0) + 1
        if items:
            content.remaining[ref.group_resource] = len(items)

    async def _report(self, ns: Obj, wanted: list[Obj]) -> Obj:
        """Write the deletion conditions if they changed; return the namespace as now stored."""
        status = ns.get("status") or {}
        current = {c.get("type"): c for c in status.get("conditions") or []}
        if all(all(current.get(c["type"], {}).get(k) == c[k] for k in ("status", "reason", "message")) for c in wanted):
            return ns
        now = self.clock.now().astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        merged = []
        for c in wanted:
            old = current.pop(c["type"], None)
            changed = old is None or old.get("status") != c["status"]
            merged.append({**c, "lastTransitionTime": now if changed else old.get("lastTransitionTime", now)})
        merged.extend(current.values())  # keep conditions others wrote
        updated = copy.deepcopy(ns)
        updated.setdefault("status", {})["conditions"] = merged
        try:
            return await self.client.update_status(NAMESPACES, updated)
        except (errors.NotFoundError, errors.MethodNotAllowedError) as err:
            log.debug("namespace %s: cannot write status conditions: %s", _meta(ns).get("name"), err)
            return ns

    async def _finalize(self, ns: Obj) -> None:
        name = str(_meta(ns).get("name"))
        finalized = copy.deepcopy(ns)
        finalized.setdefault("spec", {})["finalizers"] = [f for f in _spec_finalizers(ns) if f != FINALIZER]
        log.info("namespace %s: empty; removing finalizer %r", name, FINALIZER)
        try:
            result = await self.client.update(NAMESPACES, finalized, subresource="finalize")
        except errors.NotFoundError:
            return
        if result and FINALIZER in _spec_finalizers(result):
            # No event will follow a write that changed nothing: fail, so the key is retried with backoff.
            raise RuntimeError(f"namespace {name}: finalize answered with {FINALIZER!r} still in spec.finalizers")
        if result and not _spec_finalizers(result) and not _meta(result).get("finalizers"):
            # The server removes a namespace once its finalizers are gone; make sure it does.
            await self._delete_namespace(name)

    async def _delete_namespace(self, name: str) -> None:
        try:
            await self.client.delete(NAMESPACES, name)
        except (errors.NotFoundError, errors.ConflictError):
            pass
