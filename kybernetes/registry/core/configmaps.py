"""ConfigMaps: key rules, the 1 MiB limit, `immutable`, and base64 binaryData decoded as upstream decodes it."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from kybernetes.api import duration, validation
from kybernetes.api.errors import FieldError, bad_request, forbidden, invalid, too_long
from kybernetes.registry.base import AGE_COLUMN, NAME_COLUMN, Column, Obj, Strategy

MAX_SIZE = 1024 * 1024  # the same limit upstream applies to Secrets


def _d(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def base64_error(text: str) -> str:
    """Go's base64.StdEncoding error for text it cannot decode ("" when it decodes), newlines ignored."""
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
    position, length = 0, len(text)
    while True:
        quantum = 0
        while quantum < 4:
            if position == length:
                if quantum == 0:
                    return ""
                return f"illegal base64 data at input byte {position - quantum}"
            char = text[position]
            position += 1
            if char in alphabet:
                quantum += 1
                continue
            if char in "\r\n":
                continue
            if char != "=":
                return f"illegal base64 data at input byte {position - 1}"
            # Padding: only after two or three symbols, and "==" after two.
            if quantum in (0, 1):
                return f"illegal base64 data at input byte {position - 1}"
            if quantum == 2:
                while position < length and text[position] in "\r\n":
                    position += 1
                if position == length:
                    return f"illegal base64 data at input byte {length}"
                if text[position] != "=":
                    return f"illegal base64 data at input byte {position - 1}"
                position += 1
            while position < length and text[position] in "\r\n":
                position += 1
            if position < length:
                return f"illegal base64 data at input byte {position}"
            return ""


def decoded(text: Any) -> bytes:
    """The bytes behind a base64 value already checked with `base64_error`."""
    if not isinstance(text, str):
        return b""
    try:
        return base64.b64decode(text.replace("\r", "").replace("\n", ""), validate=False)
    except (binascii.Error, ValueError):
        return b""


def check_base64(kind: str, values: Any) -> None:
    """Reject the whole object with upstream's 400 when a []byte field is not valid base64."""
    for value in _d(values).values():
        if value is None:
            continue
        problem = base64_error(value) if isinstance(value, str) else "illegal base64 data at input byte 0"
        if problem:
            raise bad_request(f'{kind} in version "v1" cannot be handled as a {kind}: {problem}')


class ConfigMapStrategy(Strategy):
    """ConfigMapStrategy is the per-kind behaviour of core/v1 ConfigMaps."""

    kind = "ConfigMap"
    plural = "configmaps"
    singular = "configmap"
    namespaced = True
    short_names = ("cm",)
    columns = (
        NAME_COLUMN,
        Column("Data", "string", "", "Number of keys in data and binaryData together."),
        AGE_COLUMN,
    )

    def default(self, obj: Obj) -> None:
        check_base64(self.kind, obj.get("binaryData"))

    def validate_fields(self, obj: Obj) -> list[FieldError]:
        errs: list[FieldError] = []
        data, binary = _d(obj.get("data")), _d(obj.get("binaryData"))
        size = 0
        for key, value in data.items():
            errs.extend(invalid(f"data[{key}]", key, m) for m in validation.is_config_map_key(key))
            if key in binary:
                errs.append(invalid(f"data[{key}]", key, "duplicate of key present in binaryData"))
            size += len(value.encode()) if isinstance(value, str) else 0
        for key, value in binary.items():
            errs.extend(invalid(f"binaryData[{key}]", key, m) for m in validation.is_config_map_key(key))
            size += len(decoded(value))
        if size > MAX_SIZE:
            # Upstream reports the size at the object's root, an empty path.
            errs.append(too_long("", "", MAX_SIZE))
        return errs

    def validate_fields_update(self, new: Obj, old: Obj) -> list[FieldError]:
        errs: list[FieldError] = []
        if old.get("immutable") is True:
            if new.get("immutable") is not True:
                errs.append(forbidden("immutable", "field is immutable when `immutable` is set"))
            if _d(new.get("data")) != _d(old.get("data")):
                errs.append(forbidden("data", "field is immutable when `immutable` is set"))
            # binaryData is compared as bytes, as upstream does.
            if {k: decoded(v) for k, v in _d(new.get("binaryData")).items()} != {k: decoded(v) for k, v in _d(old.get("binaryData")).items()}:
                errs.append(forbidden("binaryData", "field is immutable when `immutable` is set"))
        return errs

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        # Upstream checks immutability before the create rules; the order shows in the 422 text.
        errs = validation.validate_object_meta_update(_d(new.get("metadata")), _d(old.get("metadata")))
        errs.extend(self.validate_fields_update(new, old))
        errs.extend(self.validate(new))
        return errs

    def row(self, obj: Obj) -> list[Any]:
        count = len(_d(obj.get("data"))) + len(_d(obj.get("binaryData")))
        return [_d(obj.get("metadata")).get("name", ""), count, duration.age(obj)]


STRATEGY = ConfigMapStrategy()
