"""RFC 7386 JSON Merge Patch as evanphx/json-patch's MergePatch applies it for kube-apiserver."""

from __future__ import annotations

from typing import Any

from kybernetes.apiserver.patch.errors import bad_request

BAD_PATCH = "Invalid JSON Patch"


def apply_merge_patch(doc: Any, patch: Any) -> Any:
    """apply_merge_patch returns ``doc`` with the merge patch ``patch`` applied; ``doc`` is not mutated.

    Two upstream departures from the RFC are kept: a patch that is ``null`` or a scalar is refused
    with 400 ``Invalid JSON Patch`` (the RFC would return it as the new document), and ``null`` values
    inside a newly added object are pruned while ``null`` elements of arrays are kept.
    """
    if isinstance(patch, list):
        return [_pruned(v) for v in patch]
    if not isinstance(patch, dict):
        raise bad_request(BAD_PATCH)
    if not isinstance(doc, dict):
        # A document that is not an object is treated as {}: the result is the pruned patch.
        return _pruned(patch)
    return _merge(doc, patch)


def _merge(doc: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    # Untouched members are copied, not shared, so callers may mutate the result freely.
    out = {k: _copy(v) for k, v in doc.items() if k not in patch}
    for key, value in doc.items():
        if key not in patch:
            continue
        new = patch[key]
        if new is None:
            continue
        out[key] = _merge_value(value, new)
    for key, new in patch.items():
        if key not in doc and new is not None:
            out[key] = _pruned(new)
    return _reorder(out, doc, patch)


def _merge_value(current: Any, new: Any) -> Any:
    if current is None or not isinstance(current, dict):
        return _pruned(new)
    if not isinstance(new, dict):
        return _copy(new)
    return _merge(current, new)


def _reorder(out: dict[str, Any], doc: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    # Keep the document's key order, then the patch's new keys, so stored objects read naturally.
    ordered = {k: out[k] for k in doc if k in out}
    ordered.update((k, out[k]) for k in patch if k in out and k not in ordered)
    return ordered


def _pruned(value: Any) -> Any:
    """A copy of ``value`` without null object members (array elements stay, as upstream)."""
    if isinstance(value, dict):
        return {k: _pruned(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
