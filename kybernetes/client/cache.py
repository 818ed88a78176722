"""Store: the informer's local copy of one resource's objects, keyed "namespace/name", with indexes.

Objects in a store are shared with every reader: treat them as read-only and copy before
mutating (upstream's "don't mutate the cache" rule). The store is plain asyncio-era Python:
no locks, because only the event loop's thread touches it.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator

Obj = dict[str, Any]
IndexFunc = Callable[[Obj], list[str]]
"""IndexFunc maps an object to the index values it should be found under."""

NAMESPACE_INDEX = "namespace"
OWNER_UID_INDEX = "owner-uid"
UID_INDEX = "uid"


def meta_namespace_key(obj: Obj) -> str:
    """Return "namespace/name", or "name" for cluster-scoped objects (upstream's MetaNamespaceKeyFunc)."""
    meta = obj.get("metadata") or {}
    name = str(meta.get("name", ""))
    namespace = meta.get("namespace")
    return f"{namespace}/{name}" if namespace else name


def split_key(key: str) -> tuple[str | None, str]:
    """Split a store key into (namespace or None, name)."""
    namespace, sep, name = key.partition("/")
    return (namespace, name) if sep else (None, namespace)


def by_namespace(obj: Obj) -> list[str]:
    """Index objects by their namespace ("" for cluster-scoped ones)."""
    return [str((obj.get("metadata") or {}).get("namespace") or "")]


def by_owner_uid(obj: Obj) -> list[str]:
    """Index objects by the uid of each of their owners."""
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return [str(ref["uid"]) for ref in refs if isinstance(ref, dict) and ref.get("uid")]


def by_uid(obj: Obj) -> list[str]:
    """Index objects by their own uid."""
    uid = (obj.get("metadata") or {}).get("uid")
    return [str(uid)] if uid else []


STANDARD_INDEXERS: dict[str, IndexFunc] = {
    NAMESPACE_INDEX: by_namespace,
    OWNER_UID_INDEX: by_owner_uid,
    UID_INDEX: by_uid,
}
"""Indexers every shared informer's store carries."""


class Store:
    """Store holds objects by key and keeps every index current on each change."""

    def __init__(self, *, key_func: Callable[[Obj], str] = meta_namespace_key,
                 indexers: dict[str, IndexFunc] | None = None) -> None:
        self._key_func = key_func
        self._items: dict[str, Obj] = {}
        self._indexers: dict[str, IndexFunc] = {}
        # index name -> index value -> keys
        self._indices: dict[str, dict[str, set[str]]] = {}
        self.resource_version = ""
        """The resourceVersion of the newest list or event applied."""
        if indexers:
            self.add_indexers(indexers)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: str) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[Obj]:
        return iter(list(self._items.values()))

    def key_of(self, obj: Obj) -> str:
        return self._key_func(obj)

    def add_indexers(self, indexers: dict[str, IndexFunc]) -> None:
        """Add indexers, building them over the current contents; an existing name is kept as is."""
        for name, func in indexers.items():
            if name in self._indexers:
                continue
            self._indexers[name] = func
            index: dict[str, set[str]] = {}
            for key, obj in self._items.items():
                for value in func(obj):
                    index.setdefault(value, set()).add(key)
            self._indices[name] = index

    def get(self, key: str) -> Obj | None:
        return self._items.get(key)

    def list(self) -> list[Obj]:
        return list(self._items.values())

    def keys(self) -> list[str]:
        return list(self._items)

    def by_index(self, index_name: str, value: str) -> list[Obj]:
        """Return the objects whose `index_name` values include `value`."""
        keys = self._indices[index_name].get(value, ())
        return [self._items[k] for k in sorted(keys)]

    def index_values(self, index_name: str) -> list[str]:
        return [v for v, keys in self._indices[index_name].items() if keys]

    def upsert(self, obj: Obj) -> Obj | None:
        """Add or replace `obj`; return the object it replaced, if any."""
        key = self._key_func(obj)
        old = self._items.get(key)
        if old is not None:
            self._unindex(key, old)
        self._items[key] = obj
        self._index(key, obj)
        return old

    def delete(self, obj_or_key: Obj | str) -> Obj | None:
        """Remove an object by itself or its key; return what was stored, if anything."""
        key = obj_or_key if isinstance(obj_or_key, str) else self._key_func(obj_or_key)
        old = self._items.pop(key, None)
        if old is not None:
            self._unindex(key, old)
        return old

    def replace(self, objs: Iterable[Obj], resource_version: str) -> None:
        """Replace the whole contents, as after a fresh list."""
        self._items = {self._key_func(o): o for o in objs}
        self._indices = {name: {} for name in self._indexers}
        for key, obj in self._items.items():
            self._index(key, obj)
        self.resource_version = resource_version

    def _index(self, key: str, obj: Obj) -> None:
        for name, func in self._indexers.items():
            index = self._indices[name]
            for value in func(obj):
                index.setdefault(value, set()).add(key)

    def _unindex(self, key: str, obj: Obj) -> None:
        for name, func in self._indexers.items():
            index = self._indices[name]
            for value in func(obj):
                keys = index.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[value]
