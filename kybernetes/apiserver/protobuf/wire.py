"""Protobuf wire format: varints, field keys and a field reader that never trusts the input."""

from __future__ import annotations

from collections.abc import Iterator

VARINT = 0
FIXED64 = 1
BYTES = 2
START_GROUP = 3
END_GROUP = 4
FIXED32 = 5

_MAX_VARINT_BYTES = 10
_U64 = 1 << 64


class ProtobufDecodeError(ValueError):
    """ProtobufDecodeError reports a body that is not a valid Kubernetes protobuf object."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """Read an unsigned varint at pos; return (value, position after it)."""
    result = 0
    shift = 0
    end = len(buf)
    for _ in range(_MAX_VARINT_BYTES):
        if pos >= end:
            raise ProtobufDecodeError("unexpected EOF")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            # Like Go's decoder, keep only 64 bits of a 10-byte varint.
            return result & (_U64 - 1), pos
        shift += 7
    raise ProtobufDecodeError("proto: integer overflow")


def to_int64(value: int) -> int:
    """Reinterpret an unsigned 64-bit varint as two's complement (negative int32/int64 use 10 bytes)."""
    return value - _U64 if value >= 1 << 63 else value


def to_int32(value: int) -> int:
    """Truncate to 32 bits and reinterpret as signed, as Go's int32(x) conversion does."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def zigzag_decode(value: int) -> int:
    """Decode a sint32/sint64 zigzag varint."""
    return (value >> 1) ^ -(value & 1)


def iter_fields(buf: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """Yield (field number, wire type, value) for each field of one message.

    The value is an int for varints and the raw bytes for every other wire type; a group is yielded
    whole (its body) so callers can skip it like any unknown field.
    """
    pos = 0
    end = len(buf)
    while pos < end:
        key, pos = read_varint(buf, pos)
        number, wire_type = key >> 3, key & 7
        if number <= 0 or number >= 1 << 29:
            raise ProtobufDecodeError(f"proto: illegal tag {number} (wire type {wire_type})")
        if wire_type == VARINT:
            value, pos = read_varint(buf, pos)
            yield number, wire_type, value
        elif wire_type == BYTES:
            length, pos = read_varint(buf, pos)
            if length > end - pos:
                raise ProtobufDecodeError("unexpected EOF")
            yield number, wire_type, buf[pos:pos + length]
            pos += length
        elif wire_type in (FIXED64, FIXED32):
            size = 8 if wire_type == FIXED64 else 4
            if size > end - pos:
                raise ProtobufDecodeError("unexpected EOF")
            yield number, wire_type, buf[pos:pos + size]
            pos += size
        elif wire_type == START_GROUP:
            start = pos
            pos, body_end = _skip_group(buf, pos, number)
            yield number, wire_type, buf[start:body_end]
        else:
            raise ProtobufDecodeError(f"proto: illegal wireType {wire_type}")


def _skip_group(buf: bytes, pos: int, number: int) -> tuple[int, int]:
    """Skip a (deprecated) group body; return (position after END_GROUP, end of body)."""
    end = len(buf)
    while pos < end:
        body_end = pos
        key, pos = read_varint(buf, pos)
        inner, wire_type = key >> 3, key & 7
        if wire_type == END_GROUP:
            if inner != number:
                raise ProtobufDecodeError("proto: mismatched end group")
            return pos, body_end
        if wire_type == VARINT:
            _, pos = read_varint(buf, pos)
        elif wire_type == BYTES:
            length, pos = read_varint(buf, pos)
            pos += length
        elif wire_type == FIXED64:
            pos += 8
        elif wire_type == FIXED32:
            pos += 4
        elif wire_type == START_GROUP:
            pos, _ = _skip_group(buf, pos, inner)
        else:
            raise ProtobufDecodeError(f"proto: illegal wireType {wire_type}")
        if pos > end:
            raise ProtobufDecodeError("unexpected EOF")
    raise ProtobufDecodeError("unexpected EOF")


def iter_packed(buf: bytes, wire_type: int) -> Iterator[int | bytes]:
    """Yield the elements of a packed repeated numeric field (varints or fixed-size values)."""
    pos = 0
    end = len(buf)
    if wire_type == VARINT:
        while pos < end:
            value, pos = read_varint(buf, pos)
            yield value
        return
    size = 8 if wire_type == FIXED64 else 4
    if end % size:
        raise ProtobufDecodeError("unexpected EOF")
    for start in range(0, end, size):
        yield buf[start:start + size]


def encode_varint(value: int) -> bytes:
    """Encode a varint; negative numbers become 10-byte two's complement as in Go."""
    if value < 0:
        value += _U64
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def encode_key(number: int, wire_type: int) -> bytes:
    """Encode a field key."""
    return encode_varint(number << 3 | wire_type)


def encode_bytes_field(number: int, payload: bytes) -> bytes:
    """Encode a length-delimited field."""
    return encode_key(number, BYTES) + encode_varint(len(payload)) + payload
