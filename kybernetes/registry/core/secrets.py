"""Secrets: the Opaque default, stringData folded into data, type-specific required keys and `immutable`."""

from __future__ import annotations

import base64
import json
from typing import Any

from kybernetes.api import duration, validation
from kybernetes.api.errors import FieldError, forbidden, invalid, required, too_long
from kybernetes.registry.base import AGE_COLUMN, NAME_COLUMN, Column, Obj, Strategy
from kybernetes.registry.core.configmaps import MAX_SIZE, check_base64, decoded

SERVICE_ACCOUNT_NAME_KEY = "kubernetes.io/service-account.name"
# The keys each well-known type needs, checked in this order as upstream does.
DOCKERCFG_KEY = ".dockercfg"
DOCKER_CONFIG_JSON_KEY = ".dockerconfigjson"


def _d(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _s(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _json_error(raw: bytes) -> str:
    """A Go-like encoding/json error for content that is not a JSON object ("" when it is one).

    Go's messages are approximated: literal typos and truncation read as upstream's do, other
    syntax errors name the offending character.
    """
    text = raw.decode("utf-8", errors="replace")
    stripped = text.strip(" \t\r\n")
    literals = {"n": "null", "t": "true", "f": "false"}
    if stripped[:1] in literals:
        literal = literals[stripped[0]]
        for i, char in enumerate(stripped[: len(literal)]):
            if char != literal[i]:
                return f"invalid character '{char}' in literal {literal} (expecting '{literal[i]}')"
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        if err.pos >= len(text.rstrip(" \t\r\n")):
            return "unexpected end of JSON input"
        return f"invalid character '{text[err.pos]}' looking for beginning of value"
    if value is None or isinstance(value, dict):
        return ""
    kind = {list: "array", str: "string", bool: "bool"}.get(type(value), "number")
    return f"json: cannot unmarshal {kind} into Go value of type map[string]interface {{}}"


def fold_string_data(secret: Obj) -> None:
    """stringData is write-only: its entries overwrite data (base64-encoded) and it is dropped."""
    string_data = secret.pop("stringData", None)
    if not isinstance(string_data, dict) or not string_data:
        return
    data = secret.get("data")
    if not isinstance(data, dict):
        data = secret["data"] = {}
    for key, value in string_data.items():
        data[key] = base64.b64encode(_s(value).encode()).decode()


class SecretStrategy(Strategy):
    """SecretStrategy is the per-kind behaviour of core/v1 Secrets."""

    kind = "Secret"
    plural = "secrets"
    singular = "secret"
    namespaced = True
    columns = (
        NAME_COLUMN,
        Column("Type", "string", "", "What the secret holds, e.g. Opaque or kubernetes.io/tls."),
        Column("Data", "string", "", "Number of keys in data."),
        AGE_COLUMN,
    )

    def default(self, obj: Obj) -> None:
        check_base64(self.kind, obj.get("data"))
        fold_string_data(obj)
        if not obj.get("type"):
            obj["type"] = "Opaque"

    def validate_fields(self, obj: Obj) -> list[FieldError]:
        errs: list[FieldError] = []
        data = _d(obj.get("data"))
        size = 0
        for key, value in data.items():
            errs.extend(invalid(f"data[{key}]", key, m) for m in validation.is_config_map_key(key))
            size += len(decoded(value))
        if size > MAX_SIZE:
            errs.append(too_long("data", "", MAX_SIZE))
        kind = _s(obj.get("type"))
        annotations = _d(_d(obj.get("metadata")).get("annotations"))
        if kind == "kubernetes.io/service-account-token":
            if not annotations.get(SERVICE_ACCOUNT_NAME_KEY):
                errs.append(required(f"metadata.annotations[{SERVICE_ACCOUNT_NAME_KEY}]"))
        elif kind in ("kubernetes.io/dockercfg", "kubernetes.io/dockerconfigjson"):
            key = DOCKERCFG_KEY if kind == "kubernetes.io/dockercfg" else DOCKER_CONFIG_JSON_KEY
            if key not in data:
                errs.append(required(f"data[{key}]"))
            else:
                problem = _json_error(decoded(data[key]))
                if problem:
                    errs.append(invalid(f"data[{key}]", "<secret contents redacted>", problem))
        elif kind == "kubernetes.io/basic-auth":
            if "username" not in data and "password" not in data:
                errs.append(required("data[username]"))
                errs.append(required("data[password]"))
        elif kind == "kubernetes.io/ssh-auth":
            if not decoded(data.get("ssh-privatekey")):
                errs.append(required("data[ssh-privatekey]"))
        elif kind == "kubernetes.io/tls":
            for key in ("tls.crt", "tls.key"):
                if key not in data:
                    errs.append(required(f"data[{key}]"))
        return errs

    def validate_fields_update(self, new: Obj, old: Obj) -> list[FieldError]:
        errs = validation.validate_immutable(new.get("type"), old.get("type"), "type")
        if old.get("immutable") is True:
            if new.get("immutable") is not True:
                errs.append(forbidden("immutable", "field is immutable when `immutable` is set"))
            # Compared as bytes, as upstream does: two spellings of the same base64 are equal.
            if {k: decoded(v) for k, v in _d(new.get("data")).items()} != {k: decoded(v) for k, v in _d(old.get("data")).items()}:
                errs.append(forbidden("data", "field is immutable when `immutable` is set"))
        return errs

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        # Upstream checks immutability before the create rules; the order shows in the 422 text.
        errs = validation.validate_object_meta_update(_d(new.get("metadata")), _d(old.get("metadata")))
        errs.extend(self.validate_fields_update(new, old))
        errs.extend(self.validate(new))
        return errs

    def row(self, obj: Obj) -> list[Any]:
        return [_d(obj.get("metadata")).get("name", ""), _s(obj.get("type")), len(_d(obj.get("data"))), duration.age(obj)]

    def selectable_fields(self, obj: Obj) -> dict[str, str]:
        return {"type": _s(obj.get("type"))}


STRATEGY = SecretStrategy()
