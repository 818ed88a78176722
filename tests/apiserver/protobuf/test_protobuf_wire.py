"""The wire reader handles every wire type, negative and oversized varints, and truncation."""

from __future__ import annotations

import pytest

from kybernetes.apiserver.protobuf.wire import (
    BYTES,
    FIXED32,
    FIXED64,
    START_GROUP,
    VARINT,
    ProtobufDecodeError,
    encode_bytes_field,
    encode_key,
    encode_varint,
    iter_fields,
    iter_packed,
    read_varint,
    to_int32,
    to_int64,
    zigzag_decode,
)


@pytest.mark.parametrize(
    ("value", "encoded"),
    [(0, b"\x00"), (1, b"\x01"), (127, b"\x7f"), (128, b"\x80\x01"), (300, b"\xac\x02"),
     (-1, b"\xff" * 9 + b"\x01"), (-5, b"\xfb" + b"\xff" * 8 + b"\x01")],
    ids=["zero", "one", "max-one-byte", "two-bytes", "300", "minus-one", "minus-five"],
)
def test_varints_round_trip_with_negatives_as_ten_bytes(value: int, encoded: bytes) -> None:
    assert encode_varint(value) == encoded
    raw, end = read_varint(encoded, 0)
    assert end == len(encoded)
    assert to_int64(raw) == value
    assert to_int32(raw) == value


def test_varint_longer_than_ten_bytes_is_an_overflow() -> None:
    with pytest.raises(ProtobufDecodeError, match="overflow"):
        read_varint(b"\xff" * 11, 0)


def test_truncated_varint_is_unexpected_eof() -> None:
    with pytest.raises(ProtobufDecodeError, match="unexpected EOF"):
        read_varint(b"\x80\x80", 0)


def test_every_wire_type_is_read() -> None:
    buf = (encode_key(1, VARINT) + encode_varint(150)
           + encode_bytes_field(2, b"hi")
           + encode_key(3, FIXED64) + b"\x01" * 8
           + encode_key(4, FIXED32) + b"\x02" * 4
           + encode_key(5, START_GROUP) + encode_key(1, VARINT) + b"\x07" + encode_key(5, 4))
    assert list(iter_fields(buf)) == [
        (1, VARINT, 150), (2, BYTES, b"hi"), (3, FIXED64, b"\x01" * 8), (4, FIXED32, b"\x02" * 4),
        (5, START_GROUP, encode_key(1, VARINT) + b"\x07"),
    ]


@pytest.mark.parametrize(
    "buf",
    [encode_key(1, BYTES) + b"\x05abc", encode_key(1, FIXED64) + b"\x00" * 7, encode_key(1, FIXED32) + b"\x00",
     encode_key(1, START_GROUP) + encode_key(2, VARINT) + b"\x01", encode_key(1, VARINT)],
    ids=["bytes", "fixed64", "fixed32", "unterminated-group", "missing-varint"],
)
def test_truncated_fields_raise(buf: bytes) -> None:
    with pytest.raises(ProtobufDecodeError):
        list(iter_fields(buf))


@pytest.mark.parametrize("buf", [b"\x00\x01", encode_key(1, 6) + b"\x00", encode_key(1, 4)],
                         ids=["field-zero", "wire-type-6", "stray-end-group"])
def test_illegal_keys_raise(buf: bytes) -> None:
    with pytest.raises(ProtobufDecodeError):
        list(iter_fields(buf))


def test_packed_values() -> None:
    assert list(iter_packed(encode_varint(1) + encode_varint(-2) + encode_varint(300), VARINT)) == [
        1, (1 << 64) - 2, 300]
    assert list(iter_packed(b"\x01\x00\x00\x00\x02\x00\x00\x00", FIXED32)) == [b"\x01\x00\x00\x00",
                                                                             b"\x02\x00\x00\x00"]
    with pytest.raises(ProtobufDecodeError):
        list(iter_packed(b"\x01\x00\x00", FIXED32))


def test_zigzag() -> None:
    assert [zigzag_decode(v) for v in (0, 1, 2, 3, 4294967294)] == [0, -1, 1, -2, 2147483647]
