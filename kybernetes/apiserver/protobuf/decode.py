"""Decoder of Kubernetes protobuf request bodies into the JSON-shaped objects the API server stores."""

from __future__ import annotations

import base64
import json
import struct
from datetime import datetime, timedelta, timezone
from functools import cache
from typing import Any

from kybernetes.apiserver.protobuf.messages import INLINE, KEEP, KINDS, MESSAGES, PTR, Field
from kybernetes.apiserver.protobuf.wire import (
    BYTES,
    FIXED32,
    FIXED64,
    VARINT,
    ProtobufDecodeError,
    iter_fields,
    iter_packed,
    to_int32,
    to_int64,
    zigzag_decode,
)

MAGIC = b"k8s\x00"
# Upstream runtime.Unknown wraps every object; its numbers are fixed (runtime/generated.proto).
_UNKNOWN_TYPE_META, _UNKNOWN_RAW, _UNKNOWN_CONTENT_ENCODING = 1, 2, 3
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

_VARINT_TYPES = {"int32", "int64", "uint32", "uint64", "bool", "sint32", "sint64"}
_FIXED32_TYPES = {"fixed32", "sfixed32", "float"}
_FIXED64_TYPES = {"fixed64", "sfixed64", "double"}
_STRUCT_FORMATS = {"fixed32": "<I", "sfixed32": "<i", "float": "<f", "fixed64": "<Q", "sfixed64": "<q",
                   "double": "<d"}
LEAVES = {"meta.v1.Time", "meta.v1.MicroTime", "meta.v1.Duration", "meta.v1.FieldsV1", "runtime.RawExtension",
          "intstr.IntOrString", "resource.Quantity", "[]string"}


def decode_request(body: bytes) -> dict[str, Any]:
    """Decode a `application/vnd.kubernetes.protobuf` body into its JSON-equivalent object.

    Raises ProtobufDecodeError for a missing magic prefix, truncated or malformed data and kinds
    that have no field table.
    """
    if not body.startswith(MAGIC):
        raise ProtobufDecodeError(
            "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]")
    api_version = kind = ""
    raw = b""
    for number, wire_type, value in iter_fields(body[len(MAGIC):]):
        if number == _UNKNOWN_TYPE_META:
            for inner, inner_type, inner_value in iter_fields(_payload(wire_type, value, "TypeMeta")):
                if inner == 1:
                    api_version = _text(_payload(inner_type, inner_value, "APIVersion"))
                elif inner == 2:
                    kind = _text(_payload(inner_type, inner_value, "Kind"))
        elif number == _UNKNOWN_RAW:
            raw = _payload(wire_type, value, "Raw")
        elif number == _UNKNOWN_CONTENT_ENCODING:
            encoding = _payload(wire_type, value, "ContentEncoding")
            if encoding:
                raise ProtobufDecodeError(f"unsupported content encoding {_text(encoding)!r}")
    if not kind:
        raise ProtobufDecodeError("Object 'Kind' is missing in protobuf object")
    message = KINDS.get((api_version, kind))
    if message is None:
        raise ProtobufDecodeError(
            f'no kind "{kind}" is registered for version "{api_version}" in scheme '
            '"pkg/api/legacyscheme/scheme.go:30"')
    obj: dict[str, Any] = {"apiVersion": api_version, "kind": kind}
    obj.update(decode_message(raw, message))
    # The encoder always writes the status struct; a status of zeros is what a fresh object carries
    # and what create resets anyway, so it is not stored (kubectl's JSON sends "status": {}).
    if "status" in obj and _all_zero(obj["status"]):
        del obj["status"]
    return obj


def decode_message(buf: bytes, message: str, into: dict[str, Any] | None = None) -> dict[str, Any]:
    """Decode one message of the table into a dict (merging into `into`, as protobuf merges repeats)."""
    table = MESSAGES[message]
    out: dict[str, Any] = {} if into is None else into
    for number, wire_type, value in iter_fields(buf):
        field = table.get(number)
        if field is None:
            continue  # unknown field numbers are skipped: the wire format is self-describing
        if field.zero == INLINE:
            decode_message(_payload(wire_type, value, field.name), field.type, out)
        elif field.type.startswith("map<"):
            key, item = _map_entry(_payload(wire_type, value, field.name), field.type)
            out.setdefault(field.name, {})[key] = item
        elif field.repeated:
            out.setdefault(field.name, []).extend(_repeated(field, wire_type, value))
        elif field.type in MESSAGES and isinstance(out.get(field.name), dict):
            decode_message(_payload(wire_type, value, field.name), field.type, out[field.name])
        else:
            out[field.name] = _single(field.type, wire_type, value, field.name)
    for field in table.values():
        if field.name in out and field.zero != INLINE and _omitted(field, out[field.name]):
            del out[field.name]
    return out


def _omitted(field: Field, value: Any) -> bool:
    """Say whether Go's JSON encoder would leave this decoded value out."""
    if value is None:
        return True  # a zero Time: Go writes null, which means absent
    if field.zero == PTR:
        return False  # pointers are written only when set, so presence is the information
    if field.zero == KEEP and not isinstance(value, str):
        return False
    return value in ("", 0, False) or value == {} or value == []


def _all_zero(value: Any) -> bool:
    if isinstance(value, dict):
        return all(_all_zero(v) for v in value.values())
    if isinstance(value, list):
        return all(_all_zero(v) for v in value)
    return value in ("", 0, False, None)


def _expect(wire_type: int, expected: int, name: str) -> None:
    if wire_type != expected:
        raise ProtobufDecodeError(f"proto: wrong wireType = {wire_type} for field {name}")


def _payload(wire_type: int, value: int | bytes, name: str) -> bytes:
    """Return the bytes of a length-delimited field, rejecting any other wire type."""
    _expect(wire_type, BYTES, name)
    return _bytes(value)


def _text(value: bytes) -> str:
    # gogo does not validate UTF-8; Go's JSON encoder then substitutes U+FFFD for invalid bytes.
    return value.decode("utf-8", errors="replace")


def _repeated(field: Field, wire_type: int, value: int | bytes) -> list[Any]:
    if field.type in _VARINT_TYPES and wire_type == BYTES:
        return [_scalar(field.type, v) for v in iter_packed(_bytes(value), VARINT)]
    if (field.type in _FIXED32_TYPES or field.type in _FIXED64_TYPES) and wire_type == BYTES:
        width = FIXED32 if field.type in _FIXED32_TYPES else FIXED64
        return [_scalar(field.type, v) for v in iter_packed(_bytes(value), width)]
    return [_single(field.type, wire_type, value, field.name)]


def _single(type_name: str, wire_type: int, value: int | bytes, name: str) -> Any:
    if type_name in _VARINT_TYPES:
        _expect(wire_type, VARINT, name)
    elif type_name in _FIXED32_TYPES:
        _expect(wire_type, FIXED32, name)
    elif type_name in _FIXED64_TYPES:
        _expect(wire_type, FIXED64, name)
    else:
        _expect(wire_type, BYTES, name)
    if type_name in MESSAGES:
        return decode_message(_bytes(value), type_name)
    if type_name in LEAVES:
        return _leaf(type_name, _bytes(value))
    return _scalar(type_name, value)


def _scalar(type_name: str, value: int | bytes) -> Any:
    if type_name == "string":
        return _text(_bytes(value))
    if type_name == "bytes":
        return base64.b64encode(_bytes(value)).decode("ascii")
    if type_name in _STRUCT_FORMATS:
        return struct.unpack(_STRUCT_FORMATS[type_name], _bytes(value))[0]
    number = _int(value)
    if type_name == "bool":
        return number != 0
    if type_name == "int32":
        return to_int32(number)
    if type_name == "int64":
        return to_int64(number)
    if type_name == "uint32":
        return number & 0xFFFFFFFF
    if type_name == "uint64":
        return number
    if type_name in ("sint32", "sint64"):
        decoded = zigzag_decode(number)
        return to_int32(decoded) if type_name == "sint32" else decoded
    raise ProtobufDecodeError(f"unsupported field type {type_name}")


@cache
def _map_types(type_name: str) -> tuple[str, str]:
    key, _, value = type_name[len("map<"):-1].partition(",")
    return key, value


def _map_entry(buf: bytes, type_name: str) -> tuple[Any, Any]:
    key_type, value_type = _map_types(type_name)
    # Absent key or value means the zero value, as in any protobuf message.
    key: Any = _zero(key_type)
    item: Any = _zero(value_type)
    for number, wire_type, value in iter_fields(buf):
        if number == 1:
            key = _single(key_type, wire_type, value, "key")
        elif number == 2:
            item = _single(value_type, wire_type, value, "value")
    return key, item


def _zero(type_name: str) -> Any:
    if type_name == "string":
        return ""
    if type_name == "bool":
        return False
    if type_name in MESSAGES:
        return {}
    if type_name in LEAVES:
        return _leaf(type_name, b"")
    if type_name == "bytes":
        return ""
    return 0


def _leaf(type_name: str, buf: bytes) -> Any:
    """Convert the Go types that marshal themselves (Time, IntOrString, Quantity, ...) to JSON values."""
    fields: dict[int, int | bytes] = {}
    for number, _wire_type, value in iter_fields(buf):
        fields[number] = value
    if type_name == "meta.v1.Time":
        # metav1.Time writes nothing for the zero time and drops nanoseconds when reading.
        return None if not buf else _timestamp(fields, micro=False)
    if type_name == "meta.v1.MicroTime":
        return None if not buf else _timestamp(fields, micro=True)
    if type_name == "intstr.IntOrString":
        if _int(fields.get(1, 0)) == 1:
            return _text(_bytes(fields.get(3, b"")))
        return to_int32(_int(fields.get(2, 0)))
    if type_name == "resource.Quantity":
        # Passed through verbatim: the JSON path keeps the client's spelling too, and parsing and
        # canonical form belong to the API's quantity type.
        return _text(_bytes(fields.get(1, b"")))
    if type_name == "[]string":
        return [_text(_bytes(v)) for n, _, v in iter_fields(buf) if n == 1]
    if type_name == "meta.v1.Duration":
        return _go_duration(to_int64(_int(fields.get(1, 0))))
    if type_name in ("meta.v1.FieldsV1", "runtime.RawExtension"):
        raw = _bytes(fields.get(1, b""))
        if not raw:
            return None
        try:
            return json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise ProtobufDecodeError(f"{type_name} does not hold JSON: {exc}") from exc
    raise ProtobufDecodeError(f"unsupported field type {type_name}")


def _int(value: int | bytes) -> int:
    if not isinstance(value, int):
        raise ProtobufDecodeError("proto: wrong wireType = 2 for an integer field")
    return value


def _bytes(value: int | bytes) -> bytes:
    if not isinstance(value, bytes):
        raise ProtobufDecodeError("proto: wrong wireType = 0 for a length-delimited field")
    return value


def _timestamp(fields: dict[int, int | bytes], *, micro: bool) -> str:
    seconds = to_int64(_int(fields.get(1, 0)))
    nanos = to_int32(_int(fields.get(2, 0))) if micro else 0
    try:
        moment = _EPOCH + timedelta(seconds=seconds, microseconds=nanos // 1000)
    except OverflowError as exc:
        raise ProtobufDecodeError("Time.MarshalJSON: year outside of range [0,9999]") from exc
    text = f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}"
    return f"{text}.{moment.microsecond:06d}Z" if micro else f"{text}Z"


def _go_duration(nanos: int) -> str:
    """Format nanoseconds like Go's time.Duration.String ("1h0m0s", "1.5s", "300ms")."""
    if nanos == 0:
        return "0s"
    sign = "-" if nanos < 0 else ""
    n = abs(nanos)
    if n < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if n >= size:
                return sign + _fraction(n, size) + unit
    hours, rest = divmod(n, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    text = _fraction(rest, 1_000_000_000) + "s"
    if hours or minutes:
        text = f"{minutes}m{text}"
    if hours:
        text = f"{hours}h{text}"
    return sign + text


def _fraction(value: int, unit: int) -> str:
    whole, frac = divmod(value, unit)
    if not frac:
        return str(whole)
    digits = str(frac).rjust(len(str(unit)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}"
