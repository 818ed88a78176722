"""Encoder of JSON-shaped objects into Kubernetes protobuf bodies, byte for byte like Go's gogo encoder."""

from __future__ import annotations

import base64
import json
import struct
from datetime import datetime, timezone
from typing import Any

from kybernetes.apiserver.protobuf.decode import LEAVES, MAGIC
from kybernetes.apiserver.protobuf.messages import INLINE, KINDS, MESSAGES, PTR
from kybernetes.apiserver.protobuf.wire import (
    FIXED32,
    FIXED64,
    VARINT,
    encode_bytes_field,
    encode_key,
    encode_varint,
)

_STRUCT_FORMATS = {"fixed32": ("<I", FIXED32), "sfixed32": ("<i", FIXED32), "float": ("<f", FIXED32),
                   "fixed64": ("<Q", FIXED64), "sfixed64": ("<q", FIXED64), "double": ("<d", FIXED64)}


def encode_request(obj: dict[str, Any]) -> bytes:
    """Encode an object (with apiVersion and kind) as `k8s\\0` + runtime.Unknown, as kubectl does."""
    api_version, kind = obj.get("apiVersion", ""), obj.get("kind", "")
    message = KINDS.get((api_version, kind))
    if message is None:
        raise ValueError(f'no kind "{kind}" is registered for version "{api_version}"')
    type_meta = encode_bytes_field(1, api_version.encode()) + encode_bytes_field(2, kind.encode())
    # runtime.Unknown: typeMeta, raw, and the always-written empty contentEncoding/contentType.
    unknown = (encode_bytes_field(1, type_meta) + encode_bytes_field(2, encode_message(obj, message))
               + encode_bytes_field(3, b"") + encode_bytes_field(4, b""))
    return MAGIC + unknown


def encode_message(obj: dict[str, Any], message: str) -> bytes:
    """Encode one message in field-number order, writing non-pointer fields even when absent (zero)."""
    out = bytearray()
    for number, field in sorted(MESSAGES[message].items()):
        if field.zero == INLINE:
            out += encode_bytes_field(number, encode_message(obj, field.type))
            continue
        value = obj.get(field.name)
        if field.type.startswith("map<"):
            key_type, _, value_type = field.type[len("map<"):-1].partition(",")
            # gogo writes map entries sorted by key, key and value always present.
            for key in sorted(value or {}):
                entry = _value(1, key_type, key) + _value(2, value_type, value[key])
                out += encode_bytes_field(number, entry)
        elif field.repeated:
            for item in value or []:
                out += _value(number, field.type, item)
        elif value is None and field.zero == PTR:
            continue
        else:
            out += _value(number, field.type, value)
    return bytes(out)


def _value(number: int, type_name: str, value: Any) -> bytes:
    if type_name in MESSAGES:
        return encode_bytes_field(number, encode_message(value or {}, type_name))
    if type_name in LEAVES:
        return encode_bytes_field(number, _leaf(type_name, value))
    if type_name == "string":
        return encode_bytes_field(number, (value or "").encode())
    if type_name == "bytes":
        return encode_bytes_field(number, base64.b64decode(value or ""))
    if type_name in _STRUCT_FORMATS:
        fmt, wire_type = _STRUCT_FORMATS[type_name]
        return encode_key(number, wire_type) + struct.pack(fmt, value or 0)
    if type_name in ("sint32", "sint64"):
        n = int(value or 0)
        return encode_key(number, VARINT) + encode_varint((n << 1) ^ (n >> 63))
    return encode_key(number, VARINT) + encode_varint(int(value or 0))


def _leaf(type_name: str, value: Any) -> bytes:
    if type_name in ("meta.v1.Time", "meta.v1.MicroTime"):
        if not value:
            return b""  # metav1.Time marshals the zero time as nothing
        moment = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)
        seconds = int(moment.timestamp())
        nanos = moment.microsecond * 1000 if type_name == "meta.v1.MicroTime" else 0
        return _key_varint(1, seconds) + _key_varint(2, nanos)
    if type_name == "intstr.IntOrString":
        if isinstance(value, str):
            return _key_varint(1, 1) + _key_varint(2, 0) + encode_bytes_field(3, value.encode())
        return _key_varint(1, 0) + _key_varint(2, int(value or 0)) + encode_bytes_field(3, b"")
    if type_name == "resource.Quantity":
        return encode_bytes_field(1, str(value if value is not None else "0").encode())
    if type_name == "[]string":
        return b"".join(encode_bytes_field(1, item.encode()) for item in value or [])
    if type_name == "meta.v1.Duration":
        raise ValueError("encoding meta.v1.Duration is not supported")
    if type_name in ("meta.v1.FieldsV1", "runtime.RawExtension"):
        raw = b"" if value is None else json.dumps(value, separators=(",", ":")).encode()
        return encode_bytes_field(1, raw) if raw else b""
    raise ValueError(f"unsupported field type {type_name}")


def _key_varint(number: int, value: int) -> bytes:
    return encode_key(number, VARINT) + encode_varint(value)

