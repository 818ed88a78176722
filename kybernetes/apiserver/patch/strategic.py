"""Strategic merge patch, following apimachinery's strategicpatch.StrategicMergeMapPatch step by step."""

from __future__ import annotations

from typing import Any

from kybernetes.apiserver.patch.errors import PatchError, bad_request, internal, rejected
from kybernetes.apiserver.patch.schema import SchemaNode

DIRECTIVE = "$patch"
RETAIN_KEYS = "$retainKeys"
SET_ORDER_PREFIX = "$setElementOrder"
DELETE_PRIMITIVE_PREFIX = "$deleteFromPrimitiveList"

# mergepatch's sentinel errors.
ERR_BAD_PRIMITIVE_LIST = "invalid patch format of primitive list"
ERR_BAD_RETAIN_KEYS = "invalid patch format of retainKeys"
ERR_BAD_SET_ORDER = "invalid patch format of setElementOrder list"
ERR_LIST_OF_LISTS = "lists of lists are not supported"


def apply_strategic_merge_patch(doc: dict[str, Any], patch: dict[str, Any], schema: SchemaNode) -> dict[str, Any]:
    """apply_strategic_merge_patch returns ``doc`` with ``patch`` applied; neither input is mutated.

    Maps merge key by key and ``null`` deletes. A list merges only when its field says
    ``x-kubernetes-patch-strategy: merge``: lists of maps by the merge key, lists of primitives as a
    union; every other list is replaced. Directives: ``$patch`` (replace, or delete which leaves ``{}``
    as upstream does, in maps; delete/replace elements of merge lists), ``$retainKeys``,
    ``$setElementOrder/<field>`` and ``$deleteFromPrimitiveList/<field>``.

    Ordering is upstream's: after merging a list, the elements named in the patch take the patch's
    order and the server-only elements keep the live order, interleaved where both orders are known;
    an element the live list lacks therefore goes *before* the live elements unless
    ``$setElementOrder`` places it (kubectl always sends one). Values copied from the patch where the
    live object has nothing are cleaned of directives and of ``null`` members (upstream's typed decode
    drops the former; for the latter it would store zero values).
    """
    if not isinstance(patch, dict):
        raise bad_request(f"json: cannot unmarshal {_json_kind(patch)} into Go value of type map[string]interface {{}}")
    original = _copy(doc) if isinstance(doc, dict) else {}
    return _merge_map(original, patch, schema)


# -- maps ---------------------------------------------------------------------------------------


def _merge_map(original: dict[str, Any], patch: dict[str, Any], node: SchemaNode) -> dict[str, Any]:
    """Merge ``patch`` into ``original``, which this module owns and may change in place."""
    if DIRECTIVE in patch:
        return _map_directive(patch)
    patch = dict(patch)  # directives are consumed as they are handled
    _apply_retain_keys(original, patch)
    _merge_ordered_lists(original, patch, node)
    for key, value in patch.items():
        deleting = False
        if key.startswith(DELETE_PRIMITIVE_PREFIX):
            key = _field_of_directive(key, DELETE_PRIMITIVE_PREFIX)
            deleting = True
        if value is None:
            original.pop(key, None)
            continue
        if key not in original:
            if not deleting:  # deleting from a list that is not there changes nothing
                original[key] = _clean(value)
            continue
        current = original[key]
        child = node.child(key)
        if isinstance(current, dict) and isinstance(value, dict):
            original[key] = _merge_map_field(current, value, child)
        elif isinstance(current, list) and isinstance(value, list):
            original[key] = _merge_list_field(current, value, child, deleting)
        else:
            original[key] = _clean(value)
    return original


def _map_directive(patch: dict[str, Any]) -> dict[str, Any]:
    directive = patch[DIRECTIVE]
    if directive == "replace":
        replaced: dict[str, Any] = _clean({k: v for k, v in patch.items() if k != DIRECTIVE})
        return replaced
    if directive == "delete":
        # Upstream answers an empty map, not a missing key.
        return {}
    raise internal(f"unknown patch type: {_go(directive)} in map: {_go(patch)}")


def _merge_map_field(current: dict[str, Any], value: dict[str, Any], node: SchemaNode) -> dict[str, Any]:
    if node.list_strategy == "replace":
        replaced: dict[str, Any] = _clean(value)
        return replaced
    return _merge_map(current, value, node)


def _apply_retain_keys(original: dict[str, Any], patch: dict[str, Any]) -> None:
    if RETAIN_KEYS not in patch:
        return
    keep = patch.pop(RETAIN_KEYS)
    if not isinstance(keep, list):
        raise bad_request(ERR_BAD_RETAIN_KEYS)
    for key, value in patch.items():
        if value is None or key.startswith(DELETE_PRIMITIVE_PREFIX) or key.startswith(SET_ORDER_PREFIX):
            continue
        if key not in keep:
            raise bad_request(ERR_BAD_RETAIN_KEYS)
    for key in [k for k in original if k not in keep]:
        del original[key]


def _field_of_directive(key: str, prefix: str) -> str:
    head, sep, name = key.partition("/")
    if not sep or head != prefix:
        raise bad_request(ERR_BAD_PRIMITIVE_LIST if prefix == DELETE_PRIMITIVE_PREFIX else ERR_BAD_SET_ORDER)
    return name


# -- $setElementOrder -------------------------------------------------------------------------


def _merge_ordered_lists(original: dict[str, Any], patch: dict[str, Any], node: SchemaNode) -> None:
    """Merge each list that has a ``$setElementOrder`` sibling and put it in that order."""
    for key in [k for k in patch if k.startswith(SET_ORDER_PREFIX)]:
        order = patch.pop(key)
        if not isinstance(order, list):
            raise internal(f"expected a slice, but received a {_go_kind(order)}")
        name = _field_of_directive(key, SET_ORDER_PREFIX)
        current = original.get(name)
        value = patch.get(name)
        if name in original and not isinstance(current, list):
            raise internal(f"expected a slice, but received a {_go_kind(current)}")
        if name in patch and not isinstance(value, list):
            raise internal(f"expected a slice, but received a {_go_kind(value)}")
        child = node.child(name)
        merge_key = child.merge_key if child.list_strategy == "merge" else None
        _check_order_matches(value or [], order, merge_key)
        if current is not None and value is not None:
            merged = _merge_list_field(current, value, child, False)
        elif current is not None:
            merged = current
        elif value is not None:
            merged = _clean(value)
        else:
            continue
        in_order, server_only = _partition(merged, order, merge_key)
        original[name] = _normalize_order(in_order, server_only, order, current or [], merge_key)
        patch.pop(name, None)


def _check_order_matches(items: list[Any], order: list[Any], merge_key: str | None) -> None:
    # Every patch element must appear in $setElementOrder, in the same relative order.
    if not items or not order:
        return
    kept = [v for v in items if not _is_delete(v)] if merge_key else items
    i = j = 0
    while i < len(kept) and j < len(order):
        if isinstance(kept[i], dict) and DIRECTIVE in kept[i]:
            i += 1
            continue
        if _same_key(kept[i], order[j], merge_key):
            i += 1
        j += 1
    if i < len(kept) and j >= len(order):
        raise internal(
            f"The order in patch list:\n{_go(items)}\n doesn't match {SET_ORDER_PREFIX} list:\n{_go(order)}\n"
        )


def _same_key(left: Any, right: Any, merge_key: str | None) -> bool:
    if not merge_key:
        return _same(left, right)
    for side in (left, right):
        if not isinstance(side, dict):
            raise internal(f"expected a map, but received a {_go_kind(side)}")
        if merge_key not in side:
            raise _no_merge_key(side, merge_key)
    return _same(left[merge_key], right[merge_key])


# -- lists ------------------------------------------------------------------------------------


def _merge_list_field(current: list[Any], value: list[Any], node: SchemaNode, deleting: bool) -> list[Any]:
    if node.list_strategy != "merge":
        replaced: list[Any] = _clean(value)
        return replaced
    return _merge_list(current, value, node.element(), node.merge_key, deleting)


def _merge_list(current: list[Any], patch: list[Any], item: SchemaNode, merge_key: str | None, deleting: bool) -> list[Any]:
    if not current and not patch:
        return current
    kind = _element_kind(current, patch)
    if kind != "map":
        if deleting:
            return [v for v in current if not any(_same(v, d) for d in patch)]
        merged = _dedupe(current + [_clean(v) for v in patch])
        order: list[Any] = patch
        server_order = current
    else:
        if not merge_key:
            raise internal("cannot merge lists without merge key for type struct")
        server_order, order = _apply_element_directives(current, patch, merge_key)
        merged = _merge_elements(list(server_order), order, merge_key, item)
    key = merge_key if kind == "map" else None
    in_patch, server_only = _partition(merged, order, key)
    return _normalize_order(in_patch, server_only, order, server_order, key)


def _apply_element_directives(current: list[Any], patch: list[Any], merge_key: str) -> tuple[list[Any], list[Any]]:
    """Apply ``$patch`` elements; returns (the live list after deletes, the plain patch elements)."""
    plain: list[Any] = []
    replace = False
    for element in patch:
        if DIRECTIVE not in element:
            plain.append(element)
            continue
        directive = element[DIRECTIVE]
        if directive == "delete":
            if merge_key not in element:
                raise _no_merge_key(element, merge_key)
            doomed = element[merge_key]
            current = [v for v in current if not (merge_key in v and _same(v[merge_key], doomed))]
        elif directive == "replace":
            replace = True  # keep scanning: deletes elsewhere in the list still have to be dropped
        elif directive == "merge":
            raise internal("merging lists cannot yet be specified in the patch")
        else:
            raise internal(f"unknown patch type: {_go(directive)} in map: {_go(element)}")
    if replace:
        return [_clean(v) for v in plain], []
    return current, plain


def _merge_elements(current: list[Any], patch: list[Any], merge_key: str, item: SchemaNode) -> list[Any]:
    for element in patch:
        if merge_key not in element:
            raise _no_merge_key(element, merge_key)
        wanted = element[merge_key]
        for index, existing in enumerate(current):
            if merge_key in existing and _same(existing[merge_key], wanted):
                current[index] = _merge_map(existing, element, item)
                break
        else:
            current.append(_clean(element))
    return current


def _element_kind(*lists: list[Any]) -> str:
    """The one kind of all elements: map, string, int64, …; lists of lists are refused with 422."""
    kind: str | None = None
    for values in lists:
        for value in values:
            this = _go_kind(value)
            if kind is None:
                if this == "slice":
                    raise rejected(ERR_LIST_OF_LISTS)
                kind = this
            elif this != kind:
                raise internal(f"list element types are not identical: {_go(list(lists))}")
    return kind or "nil"


def _partition(values: list[Any], by: list[Any], merge_key: str | None) -> tuple[list[Any], list[Any]]:
    """Split ``values`` into those named in ``by`` and the rest (server-only), keeping order."""
    named: list[Any] = []
    rest: list[Any] = []
    if merge_key:
        keys = []
        for entry in by:
            if not isinstance(entry, dict):
                raise internal(f"value for key {_go(entry)} is not a map.")
            if merge_key in entry:
                keys.append(entry[merge_key])
        for value in values:
            if not isinstance(value, dict):
                raise internal(f"expected a map, but received a {_go_kind(value)}")
            if merge_key not in value:
                raise _no_merge_key(value, merge_key)
            (named if any(_same(value[merge_key], k) for k in keys) else rest).append(value)
    else:
        for value in values:
            (named if any(_same(value, b) for b in by) else rest).append(value)
    return named, rest


def _normalize_order(
    in_patch: list[Any], server_only: list[Any], patch_order: list[Any], server_order: list[Any], merge_key: str | None
) -> list[Any]:
    """Patch elements in patch order, server-only ones in live order, interleaved by live position."""
    patch_index = _positions(patch_order, merge_key)
    server_index = _positions(server_order, merge_key)
    in_patch = _sorted_by(in_patch, patch_index, merge_key)
    server_only = _sorted_by(server_only, server_index, merge_key)
    out: list[Any] = []
    i = j = 0
    while i < len(server_only) or j < len(in_patch):
        if i >= len(server_only):
            out.append(in_patch[j])
            j += 1
        elif j >= len(in_patch):
            out.append(server_only[i])
            i += 1
        else:
            left = server_index.get(_identity(server_only[i], merge_key))
            right = server_index.get(_identity(in_patch[j], merge_key))
            # A server-only element goes first only when both are in the live list and it came first there.
            if left is not None and right is not None and left < right:
                out.append(server_only[i])
                i += 1
            else:
                out.append(in_patch[j])
                j += 1
    return out


def _positions(values: list[Any], merge_key: str | None) -> dict[Any, int]:
    positions: dict[Any, int] = {}
    for index, value in enumerate(values):
        positions.setdefault(_identity(value, merge_key), index)
    return positions


def _sorted_by(values: list[Any], positions: dict[Any, int], merge_key: str | None) -> list[Any]:
    end = len(positions)
    return sorted(values, key=lambda v: positions.get(_identity(v, merge_key), end))


def _identity(value: Any, merge_key: str | None) -> Any:
    """A hashable stand-in for comparing elements (by merge key) the way Go's == on interfaces does."""
    if merge_key:
        value = value.get(merge_key) if isinstance(value, dict) else None
    if isinstance(value, (dict, list)):
        return ("json", repr(value))
    return (type(value) is bool, value)


def _dedupe(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    seen: set[Any] = set()
    for value in values:
        ident = _identity(value, None)
        if ident not in seen:
            seen.add(ident)
            out.append(value)
    return out


def _is_delete(value: Any) -> bool:
    return isinstance(value, dict) and value.get(DIRECTIVE) == "delete"


def _same(a: Any, b: Any) -> bool:
    # Go compares interface{} values: true is not 1.
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and bool(a == b)
    return bool(a == b)


def _no_merge_key(value: Any, merge_key: str) -> PatchError:
    return internal(f"map: {_go(value)} does not contain declared merge key: {merge_key}")


# -- values taken from the patch as they are -----------------------------------------------------


def _clean(value: Any) -> Any:
    """A copy of a patch value without directives or null members, as it would be stored."""
    if isinstance(value, dict):
        if DIRECTIVE in value:
            if value[DIRECTIVE] == "delete":
                return {}
            value = {k: v for k, v in value.items() if k != DIRECTIVE}
        return {k: _clean(v) for k, v in value.items() if v is not None and not _is_directive_key(k)}
    if isinstance(value, list):
        return [_clean(v) for v in value if not _is_list_directive(v)]
    return value


def _is_directive_key(key: str) -> bool:
    return key == RETAIN_KEYS or key.startswith(SET_ORDER_PREFIX) or key.startswith(DELETE_PRIMITIVE_PREFIX)


def _is_list_directive(value: Any) -> bool:
    # Elements that only instruct ({"$patch": "delete", …}, {"$patch": "replace"}) are never stored.
    return isinstance(value, dict) and value.get(DIRECTIVE) in ("delete", "replace")


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


# -- Go-flavoured texts for error messages ----------------------------------------------------


def _go_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "slice"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    return "nil" if value is None else type(value).__name__


def _json_kind(value: Any) -> str:
    return {"map": "object", "slice": "array", "string": "string", "bool": "bool", "nil": "null"}.get(
        _go_kind(value), "number"
    )


def _go(value: Any) -> str:
    """Go's %v of a decoded JSON value: ``map[name:a port:80]``, ``[a b]``, ``<nil>``."""
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_go(v) for v in value) + "]"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    return str(value)
