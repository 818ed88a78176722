"""SchemaNode walks OpenAPI v2 definitions to answer the patch-metadata questions SMP and SSA ask."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_REF_PREFIX = "#/definitions/"

# Key fields whose default upstream declares with +default but that a definitions file may omit.
# Without it a port written without `protocol` would never match the defaulted live port.
_KEY_DEFAULTS = {"protocol": "TCP"}


@dataclass(eq=False)
class SchemaNode:
    """SchemaNode is one position in a schema; a missing or empty node means "no metadata"."""

    definitions: Mapping[str, Any]
    declared: Mapping[str, Any]
    """The schema as written where the field is declared: it carries the field's x-kubernetes-* extensions."""
    resolved: Mapping[str, Any]
    """The same schema after following ``$ref`` / single-element ``allOf``."""
    _children: dict[tuple[str, str], SchemaNode | None] = field(default_factory=dict, repr=False)

    @classmethod
    def empty(cls) -> SchemaNode:
        """A node without metadata: lists are atomic, maps merge."""
        return _EMPTY

    @classmethod
    def for_definition(cls, definitions: Mapping[str, Any], name: str) -> SchemaNode:
        """The node for a named definition, e.g. ``io.k8s.api.apps.v1.Deployment``; empty if unknown."""
        schema = definitions.get(name)
        if not isinstance(schema, Mapping):
            return _EMPTY
        return cls(definitions, schema, _resolve(definitions, schema))

    @classmethod
    def from_schema(cls, definitions: Mapping[str, Any], schema: Mapping[str, Any]) -> SchemaNode:
        """The node for an inline schema (which may be a ``$ref``)."""
        return cls(definitions, schema, _resolve(definitions, schema))

    # -- navigation ---------------------------------------------------------------------------

    def field(self, name: str) -> SchemaNode | None:
        """The node of property ``name``; for a map (additionalProperties) the value schema."""
        key = ("f", name)
        if key in self._children:
            return self._children[key]
        found: SchemaNode | None = None
        props = self.resolved.get("properties")
        if isinstance(props, Mapping) and isinstance(props.get(name), Mapping):
            found = SchemaNode.from_schema(self.definitions, props[name])
        else:
            found = self.additional()
        self._children[key] = found
        return found

    def items(self) -> SchemaNode | None:
        """The node of a list's elements."""
        key = ("i", "")
        if key not in self._children:
            items = self.resolved.get("items")
            self._children[key] = SchemaNode.from_schema(self.definitions, items) if isinstance(items, Mapping) else None
        return self._children[key]

    def additional(self) -> SchemaNode | None:
        """The node of a map's values (``additionalProperties``)."""
        key = ("a", "")
        if key not in self._children:
            extra = self.resolved.get("additionalProperties")
            self._children[key] = SchemaNode.from_schema(self.definitions, extra) if isinstance(extra, Mapping) else None
        return self._children[key]

    def child(self, name: str) -> SchemaNode:
        """Like :meth:`field` but never None: an unknown field gets the empty node."""
        return self.field(name) or _EMPTY

    def element(self) -> SchemaNode:
        """Like :meth:`items` but never None."""
        return self.items() or _EMPTY

    # -- metadata -----------------------------------------------------------------------------

    def _ext(self, key: str) -> Any:
        value = self.declared.get(key)
        return self.resolved.get(key) if value is None else value

    @property
    def is_empty(self) -> bool:
        return not self.declared and not self.resolved

    @property
    def patch_strategy(self) -> str | None:
        """The raw ``x-kubernetes-patch-strategy``: merge, retainKeys, "merge,retainKeys" or replace."""
        value = self._ext("x-kubernetes-patch-strategy")
        return value if isinstance(value, str) else None

    @property
    def strategies(self) -> tuple[str, ...]:
        return tuple(s.strip() for s in self.patch_strategy.split(",")) if self.patch_strategy else ()

    @property
    def list_strategy(self) -> str | None:
        """The strategy SMP acts on once retainKeys is split off: "merge", "replace" or None."""
        rest = [s for s in self.strategies if s != "retainKeys"]
        return rest[0] if rest else None

    @property
    def retain_keys(self) -> bool:
        return "retainKeys" in self.strategies

    @property
    def merge_key(self) -> str | None:
        value = self._ext("x-kubernetes-patch-merge-key")
        return value if isinstance(value, str) and value else None

    @property
    def list_type(self) -> str | None:
        """atomic, set or map, as SSA sees the list.

        An explicit ``x-kubernetes-list-type`` wins; otherwise, like kube-openapi's schema
        conversion, a merge patch strategy makes the list associative (keyed by the merge key,
        or a set of primitives without one). None means not a list or no metadata (atomic).
        """
        value = self._ext("x-kubernetes-list-type")
        if isinstance(value, str):
            return value
        if self.list_strategy == "merge":
            return "map" if self.merge_key else "set"
        return None

    @property
    def list_map_keys(self) -> tuple[str, ...]:
        keys = self._ext("x-kubernetes-list-map-keys")
        if isinstance(keys, list) and keys:
            return tuple(str(k) for k in keys)
        return (self.merge_key,) if self.merge_key else ()

    @property
    def map_type(self) -> str | None:
        value = self._ext("x-kubernetes-map-type")
        return value if isinstance(value, str) else None

    @property
    def is_atomic_map(self) -> bool:
        return self.map_type == "atomic"

    @property
    def is_struct(self) -> bool:
        """True for an object with declared properties (a Go struct), as opposed to a map."""
        return bool(self.resolved.get("properties"))

    @property
    def default(self) -> Any:
        return self._ext("default")

    def key_default(self, key: str) -> Any:
        """The default of list-map key field ``key`` of this (element) node, or None."""
        node = self.field(key)
        value = node.default if node is not None else None
        return _KEY_DEFAULTS.get(key) if value is None else value


def _resolve(definitions: Mapping[str, Any], schema: Mapping[str, Any]) -> Mapping[str, Any]:
    seen = 0
    while seen < 16:  # bound the walk: a malformed file could hold a reference cycle
        seen += 1
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith(_REF_PREFIX):
            target = definitions.get(ref[len(_REF_PREFIX):])
            if not isinstance(target, Mapping):
                return {}
            schema = target
            continue
        all_of = schema.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], Mapping) and not schema.get("properties"):
            schema = all_of[0]
            continue
        return schema
    return schema


_EMPTY = SchemaNode({}, {}, {})
