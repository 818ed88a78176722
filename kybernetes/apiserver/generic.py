"""Generic CRUD: every resource's create, read, update, patch and delete, over the store and a Strategy.

This is upstream's genericregistry.Store in small: the order of hooks, the preconditions, the
deletion rules (finalizers, grace periods, propagation policies) and the answers are the same for
every kind; what differs per kind lives in its Strategy.
"""

from __future__ import annotations

import logging
import random
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

import orjson

from kybernetes.api.jsoncopy import clone
from kybernetes.api import errors
from kybernetes.api.duration import now_rfc3339
from kybernetes.api.errors import APIError
from kybernetes.api.fields import FieldSelector
from kybernetes.api.labels import Selector
from kybernetes.registry.base import Obj
from kybernetes.registry.catalog import Catalog, Resource
from kybernetes.store.backend import (
    Backend,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    RevisionMismatchError,
)
from kybernetes.store.cache import WatchCache

log = logging.getLogger("kybernetes.apiserver")

# Characters upstream uses for generateName suffixes (no vowels, no look-alikes).
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_GENERATE_RETRIES = 8
_CONFLICT_RETRIES = 16

NAMESPACE_PREFIX = "/registry/core/namespaces/"


@dataclass
class RequestInfo:
    """What a write needs to know about its request: who, which manager, dry run, validation mode."""

    user: str = "system:admin"
    groups: tuple[str, ...] = ()
    user_agent: str = ""
    field_manager: str = ""
    field_validation: str = "Ignore"  # Strict | Warn | Ignore
    dry_run: bool = False
    warnings: list[str] = field(default_factory=list)
    # Server-side apply records its own managedFields entry (operation Apply).
    applying: bool = False

    @property
    def manager(self) -> str:
        """fieldManager, else the User-Agent's first token (upstream's default manager name)."""
        if self.field_manager:
            return self.field_manager
        agent = self.user_agent.split(" ", 1)[0]
        return agent.split("/", 1)[0] or "unknown"


@dataclass(frozen=True)
class DeleteOptions:
    grace_period_seconds: int | None = None
    propagation_policy: str | None = None  # Foreground | Background | Orphan
    orphan_dependents: bool | None = None
    precondition_uid: str | None = None
    precondition_resource_version: str | None = None
    dry_run: bool = False


class Hooks:
    """Side effects some kinds need around storage (IP allocation, …); the server installs them."""

    async def before_create(self, resource: Resource, obj: Obj, info: RequestInfo) -> Callable[[], None] | None:
        """Run after validation; may allocate. Returns an undo callable for a failed write."""
        return None

    async def before_update(self, resource: Resource, new: Obj, old: Obj, info: RequestInfo) -> Callable[[], None] | None:
        return None

    def prepare_update(self, resource: Resource, new: Obj, old: Obj) -> None:
        """Before validation of an update: carry over values the server allocated."""

    def after_update(self, resource: Resource, new: Obj, old: Obj) -> None:
        """After a successful update: release what the new object no longer holds."""

    def after_delete(self, resource: Resource, obj: Obj) -> None:
        """Release what the object held (called once it is really gone)."""


def encode(obj: Obj) -> bytes:
    """The stored form: JSON without resourceVersion (the store's revision is the version)."""
    meta = obj.get("metadata")
    if meta is not None and "resourceVersion" in meta:
        meta = dict(meta)
        del meta["resourceVersion"]
        obj = dict(obj)
        obj["metadata"] = meta
    return orjson.dumps(obj)


def decode(kv: KeyValue) -> Obj:
    obj = orjson.loads(kv.value)
    obj.setdefault("metadata", {})["resourceVersion"] = str(kv.mod_revision)
    return obj


class GenericRegistry:
    """GenericRegistry performs the API verbs for every kind in a Catalog."""

    def __init__(self, *, catalog: Catalog, backend: Backend, cache: WatchCache, hooks: Hooks | None = None) -> None:
        self.catalog = catalog
        self.backend = backend
        self.cache = cache
        self.hooks = hooks or Hooks()
        self._field_labels: dict[int, set[str]] = {}

    # ----- reading ------------------------------------------------------------------------

    def cached_object(self, kv: KeyValue) -> Obj:
        """The decoded storage-version object for a cache entry, decoded once per revision.

        The returned dict is shared: callers must deepcopy before mutating it.
        """
        memo = self.cache.memo(kv)
        obj = memo.get("obj")
        if obj is None:
            obj = decode(kv)
            memo["obj"] = obj
        return obj

    def cached_json(self, resource: Resource, kv: KeyValue) -> bytes:
        """The JSON bytes of a cache entry in the resource's version, serialized once per revision."""
        memo = self.cache.memo(kv)
        cache_key = "json:" + resource.api_version
        data = memo.get(cache_key)
        if data is None:
            data = orjson.dumps(self.output(resource, self.cached_object(kv)))
            memo[cache_key] = data
        return data

    def output(self, resource: Resource, obj: Obj) -> Obj:
        """Convert a storage object to the served version; converters must not mutate their input."""
        if resource.served is None:
            return obj
        return resource.from_storage(clone(obj))

    def get_kv(self, resource: Resource, namespace: str | None, name: str) -> KeyValue:
        kv = self.cache.get(resource.key(namespace, name))
        if kv is None:
            raise errors.not_found_error(resource.plural, name, resource.group)
        return kv

    def get(self, resource: Resource, namespace: str | None, name: str) -> Obj:
        return self.cached_object(self.get_kv(resource, namespace, name))

    def list_kvs(
        self,
        resource: Resource,
        namespace: str | None,
        *,
        label_selector: Selector,
        field_selector: FieldSelector,
    ) -> tuple[int, list[KeyValue]]:
        prefix = resource.list_prefix(namespace)
        name = field_selector.exact("metadata.name")
        if name is not None and (namespace or not resource.namespaced):
            kv = self.cache.get(prefix + name)
            revision = self.cache.revision
            items = [kv] if kv is not None else []
        else:
            revision, items = self.cache.list(prefix)
        if label_selector.empty and field_selector.empty:
            return revision, items
        out = []
        for kv in items:
            obj = self.cached_object(kv)
            if self.matches(resource, obj, label_selector, field_selector):
                out.append(kv)
        return revision, out

    def matches(self, resource: Resource, obj: Obj, label_selector: Selector, field_selector: FieldSelector) -> bool:
        meta = obj.get("metadata") or {}
        if not label_selector.empty and not label_selector.matches(meta.get("labels") or {}):
            return False
        if not field_selector.empty:
            return field_selector.matches(self.field_set(resource, obj))
        return True

    def field_set(self, resource: Resource, obj: Obj) -> dict[str, str]:
        meta = obj.get("metadata") or {}
        fields = {"metadata.name": meta.get("name", "")}
        if resource.namespaced:
            fields["metadata.namespace"] = meta.get("namespace", "")
        fields.update(resource.strategy.selectable_fields(obj))
        return fields

    def supported_fields(self, resource: Resource) -> set[str] | None:
        """Field labels a selector may use; None means the kind did not declare (accept any)."""
        strategy = resource.strategy
        cached = self._field_labels.get(id(strategy))
        if cached is None:
            try:
                declared = set(strategy.selectable_fields({"metadata": {}, "spec": {}, "status": {}}))
            except Exception:  # noqa: BLE001 - a strategy that cannot describe itself accepts any field
                return None
            cached = self._field_labels[id(strategy)] = {"metadata.name", "metadata.namespace"} | declared
        return cached

    # ----- namespaces ---------------------------------------------------------------------

    def check_namespace(self, resource: Resource, namespace: str | None, *, creating: bool, name: str = "") -> None:
        if not resource.namespaced or not namespace:
            return
        kv = self.cache.get(NAMESPACE_PREFIX + namespace)
        if kv is None:
            raise errors.not_found_error("namespaces", namespace)
        if creating:
            ns = self.cached_object(kv)
            if ns["metadata"].get("deletionTimestamp") or (ns.get("status") or {}).get("phase") == "Terminating":
                qualified = resource.plural + ("." + resource.group if resource.group else "")
                subject = f'{qualified} "{name}"' if name else qualified
                err = errors.forbidden_error(
                    f"{subject} is forbidden: unable to create new content in namespace {namespace} because it is being terminated",
                    name=name,
                    resource=resource.plural,
                    group=resource.group,
                )
                # client-go controllers look for this cause to stop retrying.
                details = err.details or {}
                details["causes"] = [{"reason": "NamespaceTerminating", "message": f"namespace {namespace} is being terminated", "field": "metadata.namespace"}]
                err.details = details
                raise err

    # ----- create -------------------------------------------------------------------------

    def _prepare_body(self, resource: Resource, body: Any, namespace: str | None) -> Obj:
        if not isinstance(body, dict):
            raise errors.bad_request(f"the object provided is unrecognized (must be of type {resource.kind})")
        obj = body
        api_version = obj.get("apiVersion")
        kind = obj.get("kind")
        if kind and kind != resource.kind:
            raise errors.bad_request(
                f'the kind in the data ({kind}) does not match the expected kind ({resource.kind})'
            )
        if api_version and api_version != resource.api_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version ({resource.api_version})"
            )
        obj["apiVersion"] = resource.api_version
        obj["kind"] = resource.kind
        meta = obj.get("metadata")
        if meta is None:
            meta = obj["metadata"] = {}
        elif not isinstance(meta, dict):
            raise errors.bad_request(f"{resource.kind} in version \"{resource.version}\" cannot be handled as a {resource.kind}: metadata must be an object")
        if resource.namespaced:
            body_ns = meta.get("namespace")
            if body_ns and namespace and body_ns != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            if namespace:
                meta["namespace"] = namespace
        else:
            # Cluster-scoped objects have no namespace, whatever the body says (as upstream's BeforeCreate).
            meta.pop("namespace", None)
        return resource.to_storage(obj)

    async def create(self, resource: Resource, namespace: str | None, body: Any, info: RequestInfo) -> Obj:
        obj = self._prepare_body(resource, body, namespace)
        strategy = resource.strategy
        meta = obj["metadata"]
        generate = not meta.get("name") and meta.get("generateName")
        self.check_namespace(resource, meta.get("namespace") if resource.namespaced else None, creating=True, name=meta.get("name") or "")
        # Fields only the server sets.
        for key in ("uid", "resourceVersion", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"):
            meta.pop(key, None)
        meta["uid"] = _new_uid()
        meta["creationTimestamp"] = now_rfc3339()
        if strategy.tracks_generation:
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        if generate:
            meta["name"] = _generate_name(meta["generateName"])
        strategy.default(obj)
        strategy.prepare_for_create(obj)
        errs = strategy.validate(obj)
        if errs:
            raise errors.invalid_error(resource.kind, meta.get("name", ""), errs, resource.group)
        info.warnings.extend(strategy.warnings(obj))
        self._record_managed_fields(resource, None, obj, info)
        undo = await self.hooks.before_create(resource, obj, info)
        if info.dry_run:
            if undo:
                undo()
            # The dry-run store still answers as the real one would: a taken name is a conflict.
            if self.cache.get(resource.key(meta.get("namespace"), meta["name"])) is not None:
                raise errors.already_exists(resource.plural, meta["name"], resource.group)
            return self.output(resource, obj)
        for attempt in range(_GENERATE_RETRIES if generate else 1):
            key = resource.key(meta.get("namespace"), meta["name"])
            try:
                kv = await self.backend.create(key, encode(obj))
            except KeyExistsError:
                if generate and attempt + 1 < _GENERATE_RETRIES:
                    meta["name"] = _generate_name(meta["generateName"])
                    continue
                if undo:
                    undo()
                raise errors.already_exists(resource.plural, meta["name"], resource.group) from None
            except BaseException:
                if undo:
                    undo()
                raise
            await self.cache.wait_for(kv.mod_revision)
            obj["metadata"]["resourceVersion"] = str(kv.mod_revision)
            return self.output(resource, obj)
        raise AssertionError("unreachable")

    # ----- update -------------------------------------------------------------------------

    async def update(
        self,
        resource: Resource,
        namespace: str | None,
        name: str,
        body: Any,
        info: RequestInfo,
        *,
        subresource: str = "",
    ) -> tuple[Obj, bool]:
        """PUT: full replacement. Returns (object, created)."""
        obj = self._prepare_body(resource, body, namespace)
        meta = obj["metadata"]
        if meta.get("name") and meta["name"] != name:
            raise errors.bad_request(f"the name of the object ({meta['name']}) does not match the name on the URL ({name})")
        meta["name"] = name
        key = resource.key(namespace, name)
        kv = self.cache.get(key)
        if kv is None:
            if resource.strategy.allow_create_on_update and not subresource:
                return await self.create(resource, namespace, obj, info), True
            raise errors.not_found_error(resource.plural, name, resource.group)
        wanted_rv = meta.get("resourceVersion") or ""
        return await self._write_loop(resource, key, lambda old: obj, info, subresource=subresource, precondition_rv=wanted_rv), False

    async def _write_loop(
        self,
        resource: Resource,
        key: str,
        transform: Callable[[Obj], Obj],
        info: RequestInfo,
        *,
        subresource: str = "",
        precondition_rv: str = "",
    ) -> Obj:
        """Read-modify-write with optimistic concurrency, retried when the caller gave no resourceVersion."""
        strategy = resource.strategy
        for _ in range(_CONFLICT_RETRIES):
            kv = self.cache.get(key)
            if kv is None:
                name = key.rsplit("/", 1)[-1]
                raise errors.not_found_error(resource.plural, name, resource.group)
            old = self.cached_object(kv)
            name = old["metadata"]["name"]
            if precondition_rv and precondition_rv != str(kv.mod_revision):
                raise errors.conflict(resource.plural, name, errors.STALE_OBJECT, resource.group)
            new = transform(clone(old))
            new_meta = new.setdefault("metadata", {})
            if new_meta.get("uid") and new_meta["uid"] != old["metadata"].get("uid"):
                raise errors.conflict(
                    resource.plural,
                    name,
                    f"Precondition failed: UID in precondition: {new_meta['uid']}, UID in object meta: {old['metadata'].get('uid')}",
                    resource.group,
                )
            self._keep_system_metadata(new, old)
            if subresource == "status":
                strategy.prepare_for_status_update(new, old)
                errs = strategy.validate_status_update(new, old)
            elif subresource == "ephemeralcontainers":
                # Only spec.ephemeralContainers may change, and only by adding containers.
                wanted = (new.get("spec") or {}).get("ephemeralContainers") or []
                have = (old.get("spec") or {}).get("ephemeralContainers") or []
                new = clone(old)
                new.setdefault("spec", {})["ephemeralContainers"] = wanted
                errs = _validate_ephemeral_update(wanted, have)
            elif subresource == "binding":
                # pods/binding sets spec.nodeName (and PodScheduled) on an unbound pod: the
                # transform has checked that; the pod update rules, which forbid it, do not apply.
                errs = []
            elif subresource == "finalize":
                # namespaces/finalize changes spec.finalizers and nothing else.
                finalizers = (new.get("spec") or {}).get("finalizers") or []
                new = clone(old)
                new.setdefault("spec", {})["finalizers"] = finalizers
                errs = []
            else:
                strategy.default(new)
                strategy.prepare_for_update(new, old)
                self.hooks.prepare_update(resource, new, old)
                errs = strategy.validate_update(new, old)
            if errs:
                raise errors.invalid_error(resource.kind, name, errs, resource.group)
            if strategy.tracks_generation and subresource != "status" and _spec_changed(new, old):
                new["metadata"]["generation"] = int(old["metadata"].get("generation") or 0) + 1
            info.warnings.extend(strategy.warnings(new))
            new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
            if _same_except_managed(new, old):
                # Upstream skips a write that changes nothing: no new resourceVersion, no event.
                return self.output(resource, old)
            self._record_managed_fields(resource, old, new, info, subresource=subresource)
            undo = await self.hooks.before_update(resource, new, old, info)
            if info.dry_run:
                if undo:
                    undo()
                return self.output(resource, new)
            # Removing the last finalizer of an object being deleted finishes its deletion.
            if _should_delete_during_update(resource, new, old):
                try:
                    deleted = await self.backend.delete(key, expected_revision=kv.mod_revision)
                except RevisionMismatchError:
                    if precondition_rv:
                        raise errors.conflict(resource.plural, name, errors.STALE_OBJECT, resource.group) from None
                    continue
                await self.cache.wait_for(deleted.mod_revision)
                self.hooks.after_delete(resource, new)
                new["metadata"]["resourceVersion"] = str(deleted.mod_revision)
                return self.output(resource, new)
            try:
                stored = await self.backend.update(key, encode(new), expected_revision=kv.mod_revision)
            except RevisionMismatchError:
                if undo:
                    undo()
                if precondition_rv:
                    raise errors.conflict(resource.plural, name, errors.STALE_OBJECT, resource.group) from None
                continue
            except KeyNotFoundError:
                if undo:
                    undo()
                raise errors.not_found_error(resource.plural, name, resource.group) from None
            await self.cache.wait_for(stored.mod_revision)
            self.hooks.after_update(resource, new, old)
            new["metadata"]["resourceVersion"] = str(stored.mod_revision)
            return self.output(resource, new)
        raise errors.conflict(resource.plural, key.rsplit("/", 1)[-1], errors.STALE_OBJECT, resource.group)

    def _keep_system_metadata(self, new: Obj, old: Obj) -> None:
        """Fields clients may not change through an update keep their stored values."""
        new_meta = new.setdefault("metadata", {})
        old_meta = old["metadata"]
        for key in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation", "selfLink"):
            if key in old_meta:
                new_meta[key] = old_meta[key]
            else:
                new_meta.pop(key, None)
        new_meta["name"] = old_meta["name"]
        if "namespace" in old_meta:
            new_meta["namespace"] = old_meta["namespace"]
        if "managedFields" not in new_meta and "managedFields" in old_meta:
            new_meta["managedFields"] = old_meta["managedFields"]
        new["apiVersion"] = old.get("apiVersion", new.get("apiVersion"))
        new["kind"] = old.get("kind", new.get("kind"))

    def _record_managed_fields(
        self, resource: Resource, old: Obj | None, new: Obj, info: RequestInfo, *, subresource: str = ""
    ) -> None:
        if info.applying:
            return
        from kybernetes.apiserver import schemas

        schemas.record_update(resource, old, new, manager=info.manager, subresource=subresource or None)

    # ----- patch --------------------------------------------------------------------------

    async def patch(
        self,
        resource: Resource,
        namespace: str | None,
        name: str,
        apply_patch: Callable[[Obj], Obj],
        info: RequestInfo,
        *,
        subresource: str = "",
        create_if_missing: Callable[[], Obj] | None = None,
    ) -> tuple[Obj, bool]:
        """Apply `apply_patch` (which works in the served version) to the live object."""
        key = resource.key(namespace, name)
        if self.cache.get(key) is None:
            if create_if_missing is not None and not subresource:
                body = create_if_missing()
                return await self.create(resource, namespace, body, info), True
            raise errors.not_found_error(resource.plural, name, resource.group)
        precondition: dict[str, str] = {}

        def transform(old: Obj) -> Obj:
            served_old = self.output(resource, old)
            patched = apply_patch(served_old)
            if not isinstance(patched, dict):
                raise errors.bad_request("the patch did not produce an object")
            patched_meta = patched.get("metadata") or {}
            rv = patched_meta.get("resourceVersion")
            if rv and rv != old["metadata"]["resourceVersion"]:
                precondition["rv"] = rv
                raise errors.conflict(resource.plural, name, errors.STALE_OBJECT, resource.group)
            if patched_meta.get("name") not in (None, name):
                raise errors.bad_request(f"the name of the object ({patched_meta.get('name')}) does not match the name on the URL ({name})")
            if patched.get("apiVersion") != served_old.get("apiVersion") or patched.get("kind") != served_old.get("kind"):
                if patched.get("kind") not in (None, resource.kind) or patched.get("apiVersion") not in (None, resource.api_version):
                    raise errors.bad_request(
                        f"the API version in the data ({patched.get('apiVersion')}) does not match the expected API version ({resource.api_version})"
                    )
                patched["apiVersion"] = resource.api_version
                patched["kind"] = resource.kind
            return resource.to_storage(patched)

        return await self._write_loop(resource, key, transform, info, subresource=subresource), False

    # ----- delete -------------------------------------------------------------------------

    async def delete(
        self, resource: Resource, namespace: str | None, name: str, options: DeleteOptions, info: RequestInfo
    ) -> tuple[Obj, bool]:
        """DELETE one object. Returns (object, finished): finished is False while finalizers or a grace period hold it."""
        key = resource.key(namespace, name)
        strategy = resource.strategy
        for _ in range(_CONFLICT_RETRIES):
            kv = self.cache.get(key)
            if kv is None:
                raise errors.not_found_error(resource.plural, name, resource.group)
            old = self.cached_object(kv)
            meta = old["metadata"]
            if options.precondition_uid and options.precondition_uid != meta.get("uid"):
                raise errors.conflict(
                    resource.plural,
                    name,
                    f"Precondition failed: UID in precondition: {options.precondition_uid}, UID in object meta: {meta.get('uid')}",
                    resource.group,
                )
            if options.precondition_resource_version and options.precondition_resource_version != meta["resourceVersion"]:
                raise errors.conflict(
                    resource.plural,
                    name,
                    f"Precondition failed: ResourceVersion in precondition: {options.precondition_resource_version}, "
                    f"ResourceVersion in object meta: {meta['resourceVersion']}",
                    resource.group,
                )
            new = clone(old)
            pending = _mark_deleting(resource, new, options)
            if pending:
                if new == old:
                    return self.output(resource, old), False
                if info.dry_run:
                    return self.output(resource, new), False
                try:
                    stored = await self.backend.update(key, encode(new), expected_revision=kv.mod_revision)
                except RevisionMismatchError:
                    continue
                await self.cache.wait_for(stored.mod_revision)
                new["metadata"]["resourceVersion"] = str(stored.mod_revision)
                return self.output(resource, new), False
            if info.dry_run:
                return self.output(resource, old), True
            try:
                deleted = await self.backend.delete(key, expected_revision=kv.mod_revision)
            except RevisionMismatchError:
                continue
            except KeyNotFoundError:
                raise errors.not_found_error(resource.plural, name, resource.group) from None
            await self.cache.wait_for(deleted.mod_revision)
            self.hooks.after_delete(resource, old)
            out = clone(old)
            out["metadata"]["resourceVersion"] = str(deleted.mod_revision)
            return self.output(resource, out), True
        raise errors.conflict(resource.plural, name, errors.STALE_OBJECT, resource.group)


def _validate_ephemeral_update(wanted: list[Any], have: list[Any]) -> list[errors.FieldError]:
    """Ephemeral containers can be added but never changed or removed (upstream's update rule)."""
    by_name = {c.get("name"): c for c in wanted if isinstance(c, dict)}
    errs: list[errors.FieldError] = []
    for i, old in enumerate(have):
        new = by_name.get(old.get("name"))
        if new is None:
            errs.append(errors.forbidden(f"spec.ephemeralContainers[{i}]", f"existing ephemeral containers \"{old.get('name')}\" may not be removed"))
        elif new != old:
            errs.append(errors.forbidden(f"spec.ephemeralContainers[{i}]", f"existing ephemeral containers \"{old.get('name')}\" may not be changed"))
    for i, c in enumerate(wanted):
        if not isinstance(c, dict) or not c.get("name"):
            errs.append(errors.required(f"spec.ephemeralContainers[{i}].name"))
        elif not c.get("image"):
            errs.append(errors.required(f"spec.ephemeralContainers[{i}].image"))
    return errs


_uid_random = random.Random(secrets.randbits(128))


def _new_uid() -> str:
    """A version-4 UUID. UIDs must be unique, not secret: a PRNG seeded from the OS avoids a
    getrandom() system call per create (measurable at thousands of creates per second)."""
    return str(uuid.UUID(int=_uid_random.getrandbits(128), version=4))


def _generate_name(prefix: str) -> str:
    """Upstream's SimpleNameGenerator: the prefix cut to 58 characters plus 5 random ones."""
    return prefix[:58] + "".join(_uid_random.choice(_NAME_ALPHABET) for _ in range(5))


def _spec_changed(new: Obj, old: Obj) -> bool:
    """Generation moves when anything but metadata and status changes (spec, data, template, …)."""
    keys = (set(new) | set(old)) - {"metadata", "status", "apiVersion", "kind"}
    return any(new.get(k) != old.get(k) for k in keys)


def _untimed(entries: Any) -> Any:
    if not isinstance(entries, list):
        return entries
    return [{k: v for k, v in e.items() if k != "time"} if isinstance(e, dict) else e for e in entries]


def _same_except_managed(new: Obj, old: Obj) -> bool:
    """True when the write changes nothing but managedFields timestamps (upstream skips such writes)."""
    if new.keys() != old.keys():
        return False
    for key in new:
        if key == "metadata":
            a = {k: v for k, v in new["metadata"].items() if k != "managedFields"}
            b = {k: v for k, v in old["metadata"].items() if k != "managedFields"}
            if a != b or _untimed(new["metadata"].get("managedFields")) != _untimed(old["metadata"].get("managedFields")):
                return False
        elif new[key] != old[key]:
            return False
    return True


def _should_delete_during_update(resource: Resource, new: Obj, old: Obj) -> bool:
    """Upstream's ShouldDeleteDuringUpdate: the last finalizer left an object already being deleted, with no grace period pending."""
    old_meta = old["metadata"]
    if not old_meta.get("deletionTimestamp") or new["metadata"].get("finalizers"):
        return False
    if old_meta.get("deletionGracePeriodSeconds") not in (None, 0):
        return False
    if resource.strategy.kind == "Namespace" and resource.strategy.group == "":
        return not (new.get("spec") or {}).get("finalizers")
    return True


def _mark_deleting(resource: Resource, obj: Obj, options: DeleteOptions) -> bool:
    """Set deletionTimestamp and propagation finalizers; True when the object must wait (not removed now)."""
    meta = obj["metadata"]
    finalizers: list[str] = list(meta.get("finalizers") or [])
    policy = options.propagation_policy
    if policy is None and options.orphan_dependents is not None:
        policy = "Orphan" if options.orphan_dependents else "Background"
    if policy is None:
        policy = getattr(resource.strategy, "default_propagation", "Background")
    already = bool(meta.get("deletionTimestamp"))
    if policy == "Foreground":
        if "orphan" in finalizers:
            finalizers.remove("orphan")
        if "foregroundDeletion" not in finalizers:
            finalizers.append("foregroundDeletion")
    elif policy == "Orphan":
        if "foregroundDeletion" in finalizers:
            finalizers.remove("foregroundDeletion")
        if "orphan" not in finalizers:
            finalizers.append("orphan")
    elif options.propagation_policy == "Background" or options.orphan_dependents is False:
        # An explicit Background request drops the propagation finalizers an earlier delete added.
        finalizers = [f for f in finalizers if f not in ("orphan", "foregroundDeletion")]
    grace = _grace_period(resource, obj, options)
    waits_for_namespace_finalize = resource.strategy.kind == "Namespace" and resource.strategy.group == "" and bool((obj.get("spec") or {}).get("finalizers"))
    if not finalizers and not grace and not waits_for_namespace_finalize:
        return False
    # Propagation finalizers only matter when the object has dependents the collector will handle;
    # without any finalizer, a grace period still holds the object (pods on a node).
    if finalizers:
        meta["finalizers"] = finalizers
    elif "finalizers" in meta:
        del meta["finalizers"]
    if not already:
        meta["deletionTimestamp"] = now_rfc3339() if not grace else _later(grace)
        meta["deletionGracePeriodSeconds"] = grace or 0
        # markAsDeleting bumps generation so controllers notice the deletion as a spec change.
        if int(meta.get("generation") or 0) > 0:
            meta["generation"] = int(meta["generation"]) + 1
    elif grace is not None and meta.get("deletionGracePeriodSeconds") and grace < meta["deletionGracePeriodSeconds"]:
        # A shorter grace period on a later delete shortens the wait, as upstream allows.
        meta["deletionTimestamp"] = _later(grace)
        meta["deletionGracePeriodSeconds"] = grace
    if waits_for_namespace_finalize:
        obj.setdefault("status", {})["phase"] = "Terminating"
    return True


def _grace_period(resource: Resource, obj: Obj, options: DeleteOptions) -> int:
    """Only pods bound to a node wait for their grace period; the node agent confirms the stop."""
    if resource.strategy.kind != "Pod" or resource.strategy.group != "":
        return 0
    spec = obj.get("spec") or {}
    if not spec.get("nodeName"):
        return 0
    if (obj.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return 0
    grace = options.grace_period_seconds
    if grace is None:
        grace = spec.get("terminationGracePeriodSeconds", 30)
    return max(int(grace), 0)


def _later(seconds: int) -> str:
    import datetime as _dt

    when = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0) + _dt.timedelta(seconds=seconds)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")
