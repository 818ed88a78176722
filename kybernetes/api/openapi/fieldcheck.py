"""fieldcheck finds unknown fields and wrongly typed values in an object, as upstream's strict decoder does."""

# Used for fieldValidation: Strict answers 400 with format_unknown_fields_error, Warn adds one
# Warning header per unknown_field_warning, Ignore drops the unknown fields silently.
#
# A value of the wrong JSON type fails decoding upstream whatever fieldValidation says; the API
# server answers 400 BadRequest with the first such error, e.g.
#
#     Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal string into Go struct
#     field PodSpec.spec.containers of type []v1.Container
#
# format_type_error writes that message: the struct is the Go struct holding the innermost field,
# the path lists JSON field names without list indices, and the type is the Go type at that
# position ([]v1.Container, v1.Container for one element, int32, map[string]string, ...).
# Numbers that do not fit (a fraction or an out-of-range value for an integer) are quoted as
# `number <literal>`, as Go does; bad base64 in a []byte field gets an "illegal base64 data" message.
#
# Rules: null is accepted anywhere; an int-or-string takes integers and strings; a Quantity takes
# strings and numbers; a Time takes strings; RawExtension/FieldsV1 take any JSON; maps accept any
# key and check their values; unknown fields are reported once, at their own path, without looking
# inside them.  Duplicate keys are the JSON parser's business and are not seen here.  Schemas are
# compiled once per definition, so a pod takes well under a millisecond.

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass, field

from kybernetes.api.openapi import definition_name, definitions

INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"

# Node kinds.
_ANY, _STRING, _BYTES, _INT32, _INT64, _BOOL, _NUMBER = range(7)
_INT_OR_STRING, _QUANTITY, _STRUCT, _MAP, _ARRAY, _OBJECT = range(7, 13)

_INT32_RANGE = (-(1 << 31), (1 << 31) - 1)
_INT64_RANGE = (-(1 << 63), (1 << 63) - 1)

# Definitions that accept any JSON value (or any object) whatever their declared type.
_FREE_FORM = {
    "io.k8s.apimachinery.pkg.runtime.RawExtension",
    "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1",
}


@dataclass(frozen=True)
class TypeMismatch:
    """TypeMismatch is one value whose JSON type the schema does not allow."""

    path: str          # spec.containers[0].ports
    got: str           # JSON type of the value: string, number, bool, array, object
    want: str          # Go type at that position: []v1.ContainerPort
    owner: str         # Go struct holding the innermost field: Container
    literal: str = ""  # for numbers that do not fit: the number as written

    @property
    def go_path(self) -> str:
        """The path as Go's decoder prints it: field names only, no list indices."""
        return re.sub(r"\[\d+\]", "", self.path)


@dataclass
class FieldCheckResult:
    """FieldCheckResult lists what strict decoding would complain about."""

    unknown: list[str] = field(default_factory=list)
    type_errors: list[str] = field(default_factory=list)   # paths of the mismatches below
    mismatches: list[TypeMismatch] = field(default_factory=list)
    known: bool = True   # False when we have no schema for the kind (nothing was checked)

    @property
    def ok(self) -> bool:
        return not self.unknown and not self.mismatches


class _Node:
    """_Node is a compiled schema: a kind code plus what is needed to descend."""

    __slots__ = ("kind", "go", "props", "elem", "owner")

    def __init__(self, kind: int, go: str, elem: _Node | None = None) -> None:
        self.kind = kind
        self.go = go
        self.props: dict[str, _Node] = {}
        self.elem = elem
        self.owner = ""


_SCALARS = {
    _ANY: _Node(_ANY, "interface {}"),
    _STRING: _Node(_STRING, "string"),
    _BYTES: _Node(_BYTES, "[]uint8"),
    _INT32: _Node(_INT32, "int32"),
    _INT64: _Node(_INT64, "int64"),
    _BOOL: _Node(_BOOL, "bool"),
    _NUMBER: _Node(_NUMBER, "float64"),
}
_compiled: dict[str, _Node] = {}


def _go_name(definition: str) -> str:
    """io.k8s.api.core.v1.Container -> v1.Container (package name + type, as Go prints it)."""
    head, _, short = definition.rpartition(".")
    return f"{head.rpartition('.')[2]}.{short}"


def _compile_definition(name: str) -> _Node:
    node = _compiled.get(name)
    if node is not None:
        return node
    schema = definitions()[name]
    if name == INT_OR_STRING:
        node = _Node(_INT_OR_STRING, "intstr.IntOrString")
    elif name == QUANTITY:
        node = _Node(_QUANTITY, "resource.Quantity")
    elif name in _FREE_FORM or not schema.get("type"):
        node = _Node(_ANY, _go_name(name))
    elif "properties" in schema:
        node = _Node(_STRUCT, _go_name(name))
        node.owner = name.rpartition(".")[2]
        _compiled[name] = node  # before the properties: definitions may be recursive
        node.props = {k: _compile_schema(v) for k, v in schema["properties"].items()}
        return node
    else:  # a named scalar such as Time: checked as its JSON type, named as its Go type
        node = _copy_with_go(_compile_schema(schema), _go_name(name))
    _compiled[name] = node
    return node


def _copy_with_go(node: _Node, go: str) -> _Node:
    copy = _Node(node.kind, go, node.elem)
    copy.props, copy.owner = node.props, node.owner
    return copy


def _compile_schema(schema: dict) -> _Node:
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return _compile_definition(ref.rpartition("/")[2])
    typ = schema.get("type")
    if typ == "string":
        return _SCALARS[_BYTES if schema.get("format") == "byte" else _STRING]
    if typ == "integer":
        return _SCALARS[_INT32 if schema.get("format") == "int32" else _INT64]
    if typ == "boolean":
        return _SCALARS[_BOOL]
    if typ == "number":
        return _SCALARS[_NUMBER]
    if typ == "array":
        elem = _compile_schema(schema.get("items", {}))
        return _Node(_ARRAY, "[]" + elem.go, elem)
    if typ == "object":
        if "properties" in schema:  # inline struct (not produced by our generator, kept for safety)
            node = _Node(_STRUCT, "struct")
            node.props = {k: _compile_schema(v) for k, v in schema["properties"].items()}
            return node
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            elem = _compile_schema(extra)
            return _Node(_MAP, "map[string]" + elem.go, elem)
        return _Node(_OBJECT, "map[string]interface {}")
    return _SCALARS[_ANY]


def _json_type(value: object) -> str:
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


class _Checker:
    """_Checker walks one object against a compiled node and collects the findings."""

    __slots__ = ("unknown", "mismatches")

    def __init__(self) -> None:
        self.unknown: list[str] = []
        self.mismatches: list[TypeMismatch] = []

    def bad(self, node: _Node, value: object, path: str, owner: str, literal: str = "") -> None:
        self.mismatches.append(TypeMismatch(path, _json_type(value), node.go, owner, literal))

    def walk(self, node: _Node, value: object, path: str, owner: str) -> None:
        kind = node.kind
        if value is None or kind == _ANY:
            return
        if kind == _STRING:
            if type(value) is not str:
                self.bad(node, value, path, owner)
        elif kind == _STRUCT:
            if type(value) is not dict:
                self.bad(node, value, path, owner)
                return
            props = node.props
            inner = node.owner or owner
            for key, item in value.items():
                child = props.get(key)
                sub = f"{path}.{key}" if path else key
                if child is None:
                    self.unknown.append(sub)
                elif item is not None:
                    self.walk(child, item, sub, inner)
        elif kind == _ARRAY:
            if type(value) is not list:
                self.bad(node, value, path, owner)
                return
            elem = node.elem
            for i, item in enumerate(value):
                if item is not None:
                    self.walk(elem, item, f"{path}[{i}]", owner)
        elif kind == _MAP:
            if type(value) is not dict:
                self.bad(node, value, path, owner)
                return
            elem = node.elem
            if elem.kind == _STRING:  # labels, annotations, selectors: the common case
                for key, item in value.items():
                    if item is not None and type(item) is not str:
                        self.bad(elem, item, f"{path}.{key}", owner)
                return
            for key, item in value.items():
                if item is not None:
                    self.walk(elem, item, f"{path}.{key}", owner)
        elif kind in (_INT32, _INT64):
            if type(value) is int:
                lo, hi = _INT32_RANGE if kind == _INT32 else _INT64_RANGE
                if not lo <= value <= hi:
                    self.bad(node, value, path, owner, str(value))
            elif type(value) is float:
                self.bad(node, value, path, owner, repr(value))
            else:
                self.bad(node, value, path, owner)
        elif kind == _BOOL:
            if type(value) is not bool:
                self.bad(node, value, path, owner)
        elif kind == _INT_OR_STRING:
            if type(value) is float:
                self.bad(node, value, path, owner, repr(value))
            elif type(value) not in (int, str):
                self.bad(node, value, path, owner)
        elif kind == _QUANTITY:
            if type(value) not in (str, int, float):
                self.bad(node, value, path, owner)
        elif kind == _NUMBER:
            if type(value) not in (int, float):
                self.bad(node, value, path, owner)
        elif kind == _BYTES:
            if type(value) is not str:
                self.bad(node, value, path, owner)
            else:
                try:
                    binascii.a2b_base64(value, strict_mode=True)
                except (binascii.Error, ValueError):
                    self.bad(node, value, path, owner, "base64")
        elif kind == _OBJECT:
            if type(value) is not dict:
                self.bad(node, value, path, owner)


def check_fields(obj: dict, group: str, version: str, kind: str) -> FieldCheckResult:
    """Unknown fields and type mismatches of `obj`, a `kind` sent as `group/version`."""
    name = definition_name(group, version, kind)
    if name is None:
        return FieldCheckResult(known=False)
    node = _compile_definition(name)
    checker = _Checker()
    if type(obj) is not dict:
        checker.bad(node, obj, "", kind)
    else:
        checker.walk(node, obj, "", kind)
    return FieldCheckResult(
        unknown=checker.unknown,
        type_errors=[m.path for m in checker.mismatches],
        mismatches=checker.mismatches,
    )


def unknown_field_warning(path: str) -> str:
    """The text of one `Warning` header for `fieldValidation=Warn`: unknown field "spec.bogus"."""
    return f'unknown field "{path}"'


def format_unknown_fields_error(kind: str, version: str, paths: list[str]) -> str:
    """Upstream's 400 message for `fieldValidation=Strict`."""
    fields = ", ".join(unknown_field_warning(p) for p in paths)
    return f'{kind} in version "{version}" cannot be handled as a {kind}: strict decoding error: {fields}'


def format_type_error(kind: str, version: str, mismatch: TypeMismatch) -> str:
    """Upstream-style 400 message for a value of the wrong type (see the comment at the top)."""
    prefix = f'{kind} in version "{version}" cannot be handled as a {kind}: '
    if mismatch.literal == "base64":
        return prefix + "illegal base64 data in field " + mismatch.go_path
    got = f"number {mismatch.literal}" if mismatch.literal else mismatch.got
    if not mismatch.path:
        return prefix + f"json: cannot unmarshal {got} into Go value of type {mismatch.want}"
    return (prefix + f"json: cannot unmarshal {got} into Go struct field "
            f"{mismatch.owner}.{mismatch.go_path} of type {mismatch.want}")
