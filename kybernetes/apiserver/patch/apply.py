"""Server-side apply and metadata.managedFields bookkeeping, after structured-merge-diff and apimachinery's field manager."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from kybernetes.apiserver.patch.errors import ApplyConflictError, Conflict, PatchError, bad_request, internal
from kybernetes.apiserver.patch.schema import SchemaNode

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
MAX_UPDATE_MANAGERS = 10
"""Update entries beyond this many are folded, oldest first, into ``ancient-changes`` (as upstream)."""
ANCIENT_CHANGES = "ancient-changes"
BEFORE_FIRST_APPLY = "before-first-apply"

_UNTRACKED_METADATA = frozenset(
    {
        "name",
        "namespace",
        "creationTimestamp",
        "selfLink",
        "uid",
        "clusterName",
        "generation",
        "managedFields",
        "resourceVersion",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    }
)

FieldSet = dict[str, Any]
"""A set of fields in the FieldsV1 wire shape, used as is throughout.

Each position is a dict keyed by ``f:<field>``, ``k:<json of the element's key fields>`` (keyed lists)
or ``v:<json value>`` (sets), plus ``"."`` when the position itself is owned; an owned position
without children is ``{}``. The top-level dict holds children only. A set is never changed once
built, so sets may be shared between entries and objects.
"""

_EntryKey = tuple[str, str, str, str]


# -- public API -----------------------------------------------------------------------------------


def fields_of(obj: dict[str, Any], schema: SchemaNode, *, subresource: str | None = None) -> FieldSet:
    """fields_of returns the FieldsV1 set an apply of ``obj`` would own: its leaves and list elements."""
    return _fields(_tracked(obj, subresource), schema, dot_maps=False)


def update_managed_fields(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    *,
    manager: str,
    operation: str = "Update",
    schema: SchemaNode,
    api_version: str,
    now: str,
    subresource: str | None = None,
) -> None:
    """update_managed_fields records in ``new.metadata.managedFields`` that ``manager`` set what this write changed.

    ``old`` is the stored object (None for a create). Fields the write changed move to ``manager``
    (other managers lose them, as upstream's update always forces); removed fields leave every set.
    The entries of ``new`` are authoritative when it carries a non-empty list (clients may edit them;
    ``[{}]`` resets them), otherwise those of ``old``; subresource writes always start from ``old``.
    An existing object without entries stays untracked, as upstream's skip-non-applied manager does.
    """
    meta = new.get("metadata")
    if not isinstance(meta, dict):
        meta = new["metadata"] = {}
    old_meta = old.get("metadata") if isinstance(old, dict) else None
    stored = old_meta.get("managedFields") if isinstance(old_meta, dict) else None
    incoming = meta.get("managedFields")
    source = incoming if isinstance(incoming, list) and incoming and not subresource else stored
    entries = _decode(source)
    if old is not None and not entries and isinstance(old_meta, dict) and old_meta.get("uid"):
        meta.pop("managedFields", None)
        return
    added, modified, removed = _compare(_tracked(old or {}, subresource), _tracked(new, subresource), schema)
    changed = _union(added or {}, modified or {})
    removed = removed or {}
    for entry in entries.values():
        entry.fields = _difference(_difference(entry.fields, changed), removed)
    if changed:
        key = _key(manager, operation, api_version, subresource or "")
        entry = entries.get(key) or _Entry(manager, operation, api_version, subresource or "", None, {})
        entry.fields = _union(entry.fields, changed)
        entry.time = now
        entry.api_version = api_version
        entries[key] = entry
    _store(meta, _capped({k: e for k, e in entries.items() if e.fields}))


def apply_patch(
    live: dict[str, Any] | None,
    applied: dict[str, Any],
    *,
    manager: str,
    force: bool,
    schema: SchemaNode,
    api_version: str,
    now: str,
    subresource: str | None = None,
    kind: str | None = None,
) -> dict[str, Any]:
    """apply_patch returns the object after ``manager`` applied ``applied`` to ``live`` (None: create).

    Maps merge, keyed lists merge per element, sets unite, atomic lists are replaced. Fields this
    manager applied last time and omits now are removed unless another manager owns them (or
    something beneath them). Changing a field another manager owns raises
    :class:`ApplyConflictError` unless ``force``, which moves the ownership. As upstream, the manager
    ``kubectl`` may take over fields recorded in the client-side-apply annotation without conflict
    and keeps that annotation in sync. ``kind``, when given, must match the applied object's kind.
    Inputs are not mutated.
    """
    _check_applied(applied, api_version, kind)
    sub = subresource or ""
    merged: dict[str, Any] = _copy(live) if isinstance(live, dict) else {}
    meta = merged.get("metadata")
    source = meta.pop("managedFields", None) if isinstance(meta, dict) else None
    entries = _decode(source)
    if live is not None and not entries:
        # The object predates field management: its current fields become before-first-apply's.
        existing = _fields(_tracked(merged, subresource), schema, dot_maps=True)
        if existing:
            key = _key(BEFORE_FIRST_APPLY, "Update", api_version, sub)
            entries[key] = _Entry(BEFORE_FIRST_APPLY, "Update", api_version, sub, now, existing)
    config = _fields(_tracked(applied, subresource), schema, dot_maps=False, strict=_Strict(applied))
    merged = _merge(merged, applied, schema)
    me = _key(manager, "Apply", api_version, sub)
    last = entries.get(me)
    entries[me] = _Entry(manager, "Apply", api_version, sub, now, config)
    if last is not None and last.fields:
        owned: FieldSet = {}
        for entry in entries.values():
            owned = _union(owned, entry.fields)
        _prune(merged, last.fields, owned, schema, keep=frozenset({"f:metadata"}))

    added, modified, removed = _compare(_tracked(live or {}, subresource), _tracked(merged, subresource), schema)
    changed = _union(added or {}, modified or {})
    conflicts = {k: c for k, e in entries.items() if k != me and (c := _intersection(e.fields, changed))}
    if conflicts and not force:
        remaining = conflicts
        if manager == "kubectl" and live is not None:
            allowed = _taken_over_from_client_side_apply(live, api_version, schema, subresource)
            if allowed is not None:
                remaining = {k: d for k, c in conflicts.items() if (d := _difference(c, allowed))}
        if remaining:
            raise ApplyConflictError.from_conflicts(_conflict_list(remaining, entries))
    for key, entry in entries.items():
        if key != me:
            entry.fields = _difference(_difference(entry.fields, conflicts.get(key, {})), removed or {})
    entries = _capped({k: e for k, e in entries.items() if e.fields})

    meta = merged.get("metadata")
    if not isinstance(meta, dict):
        meta = merged["metadata"] = {}
    if manager == "kubectl":
        _sync_last_applied(meta, applied)
    if live is not None and _unchanged(merged, live, entries, source):
        # A no-op apply keeps the old timestamps, so the object compares equal and is not rewritten.
        meta["managedFields"] = source
    else:
        _store(meta, entries)
    return merged


# -- managedFields entries ----------------------------------------------------------------------------


@dataclass
class _Entry:
    manager: str
    operation: str
    api_version: str
    subresource: str
    time: str | None
    fields: FieldSet


def _key(manager: str, operation: str, api_version: str, subresource: str) -> _EntryKey:
    # Appliers are identified without their apiVersion, so re-applying at another version replaces the entry.
    return (manager, operation, "" if operation == "Apply" else api_version, subresource)


def _decode(source: Any) -> dict[_EntryKey, _Entry]:
    entries: dict[_EntryKey, _Entry] = {}
    if not isinstance(source, list):
        return entries
    for raw in source:
        if not isinstance(raw, dict):
            continue
        fields = raw.get("fieldsV1")
        entry = _Entry(
            manager=str(raw.get("manager") or ""),
            operation=str(raw.get("operation") or ""),
            api_version=str(raw.get("apiVersion") or ""),
            subresource=str(raw.get("subresource") or ""),
            time=raw.get("time") if isinstance(raw.get("time"), str) else None,
            fields=fields if isinstance(fields, dict) else {},
        )
        key = _key(entry.manager, entry.operation, entry.api_version, entry.subresource)
        if key in entries:  # the same manager twice: one entry owning both sets
            first = entries[key]
            first.fields = _union(first.fields, entry.fields)
            first.time = max(first.time or "", entry.time or "") or None
        else:
            entries[key] = entry
    return entries


def _store(meta: dict[str, Any], entries: dict[_EntryKey, _Entry]) -> None:
    if not entries:
        meta.pop("managedFields", None)
        return
    meta.pop("managedFields", None)  # re-insert so it stays the last metadata field, as upstream serializes it
    meta["managedFields"] = [_encode(e) for e in sorted(entries.values(), key=_entry_order)]


def _entry_order(entry: _Entry) -> tuple[str, str, str, str, str]:
    # Upstream sorts Apply before Update, then by time, manager, apiVersion, subresource.
    return (entry.operation, entry.time or "", entry.manager, entry.api_version, entry.subresource)


def _encode(entry: _Entry) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if entry.manager:
        out["manager"] = entry.manager
    if entry.operation:
        out["operation"] = entry.operation
    if entry.api_version:
        out["apiVersion"] = entry.api_version
    if entry.time:
        out["time"] = entry.time
    out["fieldsType"] = "FieldsV1"
    out["fieldsV1"] = entry.fields
    if entry.subresource:
        out["subresource"] = entry.subresource
    return out


def _capped(entries: dict[_EntryKey, _Entry]) -> dict[_EntryKey, _Entry]:
    """Fold the oldest Update entries into per-apiVersion ``ancient-changes`` entries above the cap."""
    updaters = [k for k, e in entries.items() if e.operation == "Update"]
    if len(updaters) <= MAX_UPDATE_MANAGERS:
        return entries
    updaters.sort(key=lambda k: (entries[k].time or "", k))
    first_of_version: dict[str, _EntryKey] = {}
    count = len(updaters)
    for key in updaters:
        if count <= MAX_UPDATE_MANAGERS:
            break
        entry = entries[key]
        bucket = _key(ANCIENT_CHANGES, "Update", entry.api_version, "")
        first = first_of_version.get(entry.api_version)
        if first is None:
            first_of_version[entry.api_version] = key
            continue
        if bucket not in entries:
            moved = entries.pop(first)
            entries[bucket] = _Entry(ANCIENT_CHANGES, "Update", moved.api_version, "", moved.time, moved.fields)
        if key == bucket:
            continue
        target = entries[bucket]
        target.fields = _union(target.fields, entry.fields)
        target.time = entry.time
        del entries[key]
        count -= 1
    return entries


def _unchanged(merged: dict[str, Any], live: dict[str, Any], entries: dict[_EntryKey, _Entry], source: Any) -> bool:
    if _without_managed_fields(merged) != _without_managed_fields(live):
        return False
    before = _decode(source)
    if before.keys() != entries.keys():
        return False
    return all(before[k].fields == e.fields and before[k].api_version == e.api_version for k, e in entries.items())


def _without_managed_fields(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or "managedFields" not in meta:
        return obj
    return {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}


# -- conflicts --------------------------------------------------------------------------------------


def _conflict_list(conflicts: dict[_EntryKey, FieldSet], entries: dict[_EntryKey, _Entry]) -> list[Conflict]:
    out: list[Conflict] = []
    for key in sorted(conflicts):
        entry = entries[key]
        for path in _paths(conflicts[key]):
            out.append(
                Conflict(
                    manager=entry.manager,
                    field_path=path,
                    operation=entry.operation,
                    api_version=entry.api_version if entry.operation == "Update" else "",
                    subresource=entry.subresource,
                )
            )
    return out


def _taken_over_from_client_side_apply(
    live: dict[str, Any], api_version: str, schema: SchemaNode, subresource: str | None
) -> FieldSet | None:
    """Fields kubectl may take over: in the last-applied annotation and still equal in the live object."""
    annotations = (live.get("metadata") or {}).get("annotations") or {}
    text = annotations.get(LAST_APPLIED) if isinstance(annotations, dict) else None
    if not isinstance(text, str) or not text:
        return None
    try:
        last = json.loads(text)
    except ValueError:
        return None
    if not isinstance(last, dict) or last.get("apiVersion") != api_version:
        return None
    last_view = _tracked(last, subresource)
    added, modified, removed = _compare(last_view, _tracked(live, subresource), schema)
    allowed = _fields(last_view, schema, dot_maps=False)
    for drop in (modified, added, removed):
        allowed = _difference(allowed, drop or {})
    return allowed


def _sync_last_applied(meta: dict[str, Any], applied: dict[str, Any]) -> None:
    """Keep an existing client-side-apply annotation equal to what kubectl applied server-side."""
    annotations = meta.get("annotations")
    if not isinstance(annotations, dict) or LAST_APPLIED not in annotations:
        return
    config = dict(applied)
    applied_meta = config.get("metadata")
    if isinstance(applied_meta, dict) and isinstance(applied_meta.get("annotations"), dict):
        kept = {k: v for k, v in applied_meta["annotations"].items() if k != LAST_APPLIED}
        config["metadata"] = {**applied_meta, "annotations": kept}
    meta["annotations"] = {**annotations, LAST_APPLIED: _go_json(config) + "\n"}


def _go_json(value: Any) -> str:
    # encoding/json: sorted keys, compact, HTML-sensitive characters escaped.
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(raw, escaped)
    return text


def _check_applied(applied: Any, api_version: str, kind: str | None) -> None:
    if not isinstance(applied, dict):
        kind_name = "array" if isinstance(applied, list) else "string" if isinstance(applied, str) else "value"
        raise bad_request(
            f"error decoding YAML: json: cannot unmarshal {kind_name} into Go value of type map[string]interface {{}}"
        )
    version, applied_kind = _text(applied.get("apiVersion")), _text(applied.get("kind"))
    if kind is not None and (version, applied_kind) != (api_version, kind):
        raise bad_request(f"invalid object type: {_gvk(version, applied_kind)}")
    if version != api_version:
        raise bad_request(
            f"Incorrect version specified in apply patch. Specified patch version: {version}, expected: {api_version}"
        )
    meta = applied.get("metadata")
    if isinstance(meta, dict) and meta.get("managedFields") is not None:
        raise bad_request("metadata.managedFields must be nil")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _gvk(api_version: str, kind: str) -> str:
    group, _, version = api_version.rpartition("/")
    return f"{group}/{version}, Kind={kind}"


# -- what is tracked -------------------------------------------------------------------------------------


def _tracked(obj: dict[str, Any], subresource: str | None) -> dict[str, Any]:
    """A shallow view of ``obj`` without the fields that are never owned by anyone.

    Those are ``apiVersion``, ``kind``, the server-written metadata (name, namespace, uid,
    resourceVersion, generation, creationTimestamp, …, managedFields) and, for writes to the main
    resource, ``status``, which is owned through ``/status``; a ``/status`` write tracks only
    ``status`` and ``metadata``.
    """
    view: dict[str, Any] = {}
    for key, value in obj.items():
        if key in ("apiVersion", "kind"):
            continue
        if subresource == "status" and key not in ("status", "metadata"):
            continue
        if subresource != "status" and key == "status":
            continue
        if key == "metadata" and isinstance(value, dict):
            value = {k: v for k, v in value.items() if k not in _UNTRACKED_METADATA}
            if not value:
                continue
        view[key] = value
    return view


# -- field sets of values ----------------------------------------------------------------------------------


@dataclass
class _Strict:
    """Validation context for an applied configuration: malformed keyed lists are errors, not atomic lists."""

    obj: dict[str, Any]

    def fail(self, text: str) -> PatchError:
        meta = self.obj.get("metadata")
        if not isinstance(meta, dict):
            meta = {}
        gvk = _gvk(_text(self.obj.get("apiVersion")), _text(self.obj.get("kind")))
        where = f"{_text(meta.get('namespace'))}/{_text(meta.get('name'))}; {gvk}"
        return internal(f"failed to create typed patch object ({where}): {text}")


def _fields(view: dict[str, Any], schema: SchemaNode, *, dot_maps: bool, strict: _Strict | None = None) -> FieldSet:
    root = _subtree(view, schema, dot_maps, strict, "")
    return _kids(root)


def _subtree(value: Any, node: SchemaNode, dot_maps: bool, strict: _Strict | None, path: str) -> FieldSet:
    """The set of ``value`` at one position, the position itself included (FieldsV1 node)."""
    if isinstance(value, dict) and not node.is_atomic_map:
        if not value:
            return {}
        out: FieldSet = {}
        if dot_maps and node.additional() is not None and not node.is_struct:
            out["."] = {}  # an added map is owned as a whole (upstream marks maps, not structs)
        for key, child in value.items():
            out["f:" + key] = _subtree(child, node.child(key), dot_maps, strict, f"{path}.{key}" if strict else "")
        return out
    if isinstance(value, list) and value:
        keyed = _list_children(value, node, dot_maps, strict, path)
        if keyed is not None:
            return keyed
    return {}


def _list_children(
    values: list[Any], node: SchemaNode, dot_maps: bool, strict: _Strict | None, path: str
) -> FieldSet | None:
    keyer = _keyer(node, strict, path)
    if keyer is None:
        return None
    item = node.element()
    out: FieldSet = {}
    for index, value in enumerate(values):
        key = keyer(value, index)
        if key is None:
            return None
        if key in out:
            if strict is not None:
                raise strict.fail(f"{path}: duplicate entries for key {_element_text(key)}")
            return None
        if key.startswith("v:"):
            out[key] = {}
        else:
            where = f"{path}{_element_text(key)}" if strict else ""
            out[key] = _as_member(_subtree(value, item, dot_maps, strict, where))
    return out


def _keyer(node: SchemaNode, strict: _Strict | None, path: str) -> Callable[[Any, int], str | None] | None:
    """A function giving each element's FieldsV1 key, or None when the list is atomic."""
    list_type = node.list_type
    if list_type == "set":
        return lambda value, index: None if isinstance(value, (dict, list)) else "v:" + _json(value)
    if list_type != "map" or not node.list_map_keys:
        return None
    names = node.list_map_keys
    item = node.element()

    def key_of(value: Any, index: int) -> str | None:
        if not isinstance(value, dict):
            if strict is not None:
                raise strict.fail(f"{path}: element {index}: expected map, got {_json(value)}")
            return None
        fields: dict[str, Any] = {}
        for name in names:
            field_value = value.get(name)
            if field_value is None:
                field_value = item.key_default(name)
            if field_value is None:
                if strict is not None:
                    raise strict.fail(
                        f"{path}: element {index}: associative list with keys has an element that omits key field "
                        f'"{name}" (and doesn\'t have default value)'
                    )
                return None
            fields[name] = field_value
        return "k:" + _json(fields)

    return key_of


def _keyed_index(values: list[Any], node: SchemaNode) -> dict[str, Any] | None:
    keyer = _keyer(node, None, "")
    if keyer is None:
        return None
    index: dict[str, Any] = {}
    for position, value in enumerate(values):
        key = keyer(value, position)
        if key is None or key in index:
            return None  # unkeyable or duplicated: the list is treated as one atomic value
        index[key] = value
    return index


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


# -- comparing two values ------------------------------------------------------------------------------------


def _compare(old: Any, new: Any, node: SchemaNode) -> tuple[FieldSet | None, FieldSet | None, FieldSet | None]:
    """(added, modified, removed) sets for one position present in both values."""
    if isinstance(old, dict) and isinstance(new, dict) and not node.is_atomic_map:
        added: FieldSet = {}
        modified: FieldSet = {}
        removed: FieldSet = {}
        for key, value in new.items():
            if key in old:
                before = old[key]
                if before == value and type(before) is type(value):
                    continue  # the common case, compared at C speed
                a, m, r = _compare(before, value, node.child(key))
                _put(added, "f:" + key, a)
                _put(modified, "f:" + key, m)
                _put(removed, "f:" + key, r)
            else:
                added["f:" + key] = _subtree(value, node.child(key), True, None, "")
        for key, before in old.items():
            if key not in new:
                removed["f:" + key] = _subtree(before, node.child(key), True, None, "")
        return added or None, modified or None, removed or None
    if isinstance(old, list) and isinstance(new, list):
        keyed = _compare_lists(old, new, node)
        if keyed is not None:
            return keyed
    if old == new and type(old) is type(new):
        return None, None, None
    if type(old) is not type(new) and (isinstance(old, (dict, list)) or isinstance(new, (dict, list))):
        # A change of shape: whatever was below the old value is gone, the new value is all new.
        return _as_member(_subtree(new, node, True, None, "")), None, _as_member(_subtree(old, node, True, None, ""))
    return None, {}, None


def _compare_lists(
    old: list[Any], new: list[Any], node: SchemaNode
) -> tuple[FieldSet | None, FieldSet | None, FieldSet | None] | None:
    before = _keyed_index(old, node)
    after = _keyed_index(new, node)
    if before is None or after is None:
        return None
    item = node.element()
    added: FieldSet = {}
    modified: FieldSet = {}
    removed: FieldSet = {}
    for key, value in after.items():
        if key not in before:
            added[key] = {} if key.startswith("v:") else _as_member(_subtree(value, item, True, None, ""))
        elif not key.startswith("v:") and before[key] != value:
            a, m, r = _compare(before[key], value, item)
            _put(added, key, a)
            _put(modified, key, m)
            _put(removed, key, r)
    for key, value in before.items():
        if key not in after:
            removed[key] = {} if key.startswith("v:") else _as_member(_subtree(value, item, True, None, ""))
    return added or None, modified or None, removed or None


def _put(target: FieldSet, key: str, node: FieldSet | None) -> None:
    if node is not None:
        target[key] = node


# -- merging an applied configuration -----------------------------------------------------------------------


def _merge(live: Any, config: Any, node: SchemaNode) -> Any:
    """``config`` merged over ``live``, which is owned here and changed in place where possible."""
    if isinstance(live, dict) and isinstance(config, dict) and not node.is_atomic_map:
        for key, value in config.items():
            if value is None:
                live.pop(key, None)  # an explicit null unsets the field (the applier still owns it)
            elif key in live:
                live[key] = _merge(live[key], value, node.child(key))
            else:
                live[key] = _config_copy(value)
        return live
    if isinstance(live, list) and isinstance(config, list):
        merged = _merge_lists(live, config, node)
        if merged is not None:
            return merged
    return _config_copy(config)


def _merge_lists(live: list[Any], config: list[Any], node: SchemaNode) -> list[Any] | None:
    """Merge keyed lists or sets the way structured-merge-diff orders them; None means atomic."""
    keyer = _keyer(node, None, "")
    if keyer is None:
        return None
    maybe_live = [keyer(v, i) for i, v in enumerate(live)]
    maybe_config = [keyer(v, i) for i, v in enumerate(config)]
    live_keys = [k for k in maybe_live if k is not None]
    config_keys = [k for k in maybe_config if k is not None]
    if len(live_keys) != len(live) or len(config_keys) != len(config):
        return None
    live_by_key: dict[str, Any] = {}
    for key, value in zip(live_keys, live, strict=True):
        live_by_key.setdefault(key, value)
    config_by_key = dict(zip(config_keys, config, strict=True))
    item = node.element()

    def merged(key: str) -> Any:
        if key in live_by_key:
            return _merge(live_by_key[key], config_by_key[key], item)
        return _config_copy(config_by_key[key])

    # Config order wins for the elements it names; live-only elements keep their place between them.
    shared = iter([k for k in config_keys if k in live_by_key])
    next_shared = next(shared, None)
    out: list[Any] = []
    done: set[str] = set()
    li = ci = 0
    while li < len(live_keys) or ci < len(config_keys):
        if li < len(live_keys) and ci < len(config_keys):
            key = live_keys[li]
            if key == config_keys[ci]:
                out.append(merged(key))
                done.add(key)
                li += 1
                ci += 1
                next_shared = next(shared, None)
                continue
            if key in config_by_key and next_shared is not None and next_shared != key:
                li += 1  # a shared element the config wants later: emit it when the config reaches it
                continue
        if li < len(live_keys):
            key = live_keys[li]
            if key not in config_by_key:
                out.append(live[li])
                li += 1
                continue
            if key in done:
                li += 1
                continue
        if ci < len(config_keys):
            key = config_keys[ci]
            out.append(merged(key))
            done.add(key)
            ci += 1
            if key == next_shared:
                next_shared = next(shared, None)
    return out


def _prune(value: Any, last: FieldSet, owned: FieldSet | None, node: SchemaNode, keep: frozenset[str] = frozenset()) -> None:
    """Remove from ``value`` what ``last`` owned and nobody owns now (nor anything beneath it).

    Positions in ``keep`` are only descended into: metadata holds the untracked name, uid, … that
    upstream keeps because every apply configuration names the object.
    """
    if isinstance(value, dict):
        for key, was in last.items():
            if not key.startswith("f:") or key[2:] not in value:
                continue
            now = owned.get(key) if owned else None
            if now is None and key not in keep:
                del value[key[2:]]
            elif _kids(was):
                _prune(value[key[2:]], _kids(was), _kids(now or {}), node.child(key[2:]))
        return
    if isinstance(value, list):
        keyer = _keyer(node, None, "")
        if keyer is None:
            return
        positions = {keyer(v, i): i for i, v in reversed(list(enumerate(value)))}
        doomed: set[int] = set()
        for key, was in last.items():
            position = positions.get(key)
            if position is None:
                continue
            now = owned.get(key) if owned else None
            if now is None:
                doomed.add(position)
            elif _kids(was):
                _prune(value[position], _kids(was), _kids(now), node.element())
        if doomed:
            value[:] = [v for i, v in enumerate(value) if i not in doomed]


def _config_copy(value: Any) -> Any:
    """A copy of an applied value without null members (null means "unset")."""
    if isinstance(value, dict):
        return {k: _config_copy(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_config_copy(v) for v in value]
    return value


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


# -- set algebra on FieldsV1 ---------------------------------------------------------------------------------


def _is_member(node: FieldSet) -> bool:
    return not node or "." in node


def _kids(node: FieldSet) -> FieldSet:
    return {k: v for k, v in node.items() if k != "."} if "." in node else node


def _build(member: bool, kids: FieldSet) -> FieldSet | None:
    if not kids:
        return {} if member else None
    return {".": {}, **kids} if member else kids


def _as_member(node: FieldSet) -> FieldSet:
    return node if _is_member(node) else {".": {}, **node}


def _union(a: FieldSet, b: FieldSet) -> FieldSet:
    """Union of two child maps."""
    if not b:
        return a
    if not a:
        return b
    out = dict(a)
    for key, theirs in b.items():
        ours = a.get(key)
        if ours is None:
            out[key] = theirs
        elif ours is not theirs:
            out[key] = _build(_is_member(ours) or _is_member(theirs), _union(_kids(ours), _kids(theirs)))
    return out


def _difference(a: FieldSet, b: FieldSet) -> FieldSet:
    """``a`` without the positions in ``b``; returns ``a`` itself when nothing is taken away."""
    if not a or not b:
        return a
    out: FieldSet | None = None
    for key, theirs in b.items():
        ours = a.get(key)
        if ours is None:
            continue
        member = _is_member(ours)
        kept_member = member and not _is_member(theirs)
        kids = _kids(ours)
        left = _difference(kids, _kids(theirs))
        if kept_member == member and left is kids:
            continue
        if out is None:
            out = dict(a)
        rest = _build(kept_member, left)
        if rest is None:
            del out[key]
        else:
            out[key] = rest
    return a if out is None else out


def _intersection(a: FieldSet, b: FieldSet) -> FieldSet:
    if len(b) < len(a):
        a, b = b, a
    out: FieldSet = {}
    for key, ours in a.items():
        theirs = b.get(key)
        if theirs is None:
            continue
        both = _build(_is_member(ours) and _is_member(theirs), _intersection(_kids(ours), _kids(theirs)))
        if both is not None:
            out[key] = both
    return out


_ELEMENT_RANK = {"f": 0, "k": 1, "v": 2, "i": 3}


def _paths(children: FieldSet, prefix: str = "") -> Iterator[str]:
    """Owned paths in upstream's order: a level's members first, then each child's subtree."""
    keys = sorted(children, key=lambda k: (_ELEMENT_RANK.get(k[:1], 4), k))
    for key in keys:
        if _is_member(children[key]):
            yield prefix + _element_text(key)
    for key in keys:
        kids = _kids(children[key])
        if kids:
            yield from _paths(kids, prefix + _element_text(key))


def _element_text(key: str) -> str:
    """One path element as structured-merge-diff prints it: ``.name``, ``[name="a",port=80]``, ``[="x"]``."""
    kind, _, rest = key.partition(":")
    if kind == "f":
        return "." + rest
    if kind == "k":
        fields = json.loads(rest)
        return "[" + ",".join(f"{name}={_value_text(fields[name])}" for name in sorted(fields)) + "]"
    if kind == "v":
        return f"[={_value_text(json.loads(rest))}]"
    if kind == "i":
        return f"[{rest}]"
    return key


def _value_text(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        return _json(value)
    return str(value)
