"""Content negotiation: decoding request bodies by Content-Type and choosing the answer's shape from Accept."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import yaml

from kybernetes.api import errors

JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH_YAML = "application/apply-patch+yaml"
APPLY_PATCH_CBOR = "application/apply-patch+cbor"

BODY_TYPES = [JSON, YAML, PROTOBUF]
PATCH_TYPES = [JSON_PATCH, MERGE_PATCH, APPLY_PATCH_YAML, STRATEGIC_PATCH]


def media_type(header: str | None) -> str:
    """The bare media type of a Content-Type header (parameters dropped, lower-cased)."""
    if not header:
        return ""
    return header.split(";", 1)[0].strip().lower()


def _json_error(exc: Exception) -> str:
    return str(exc).split("\n", 1)[0]


def decode_body(raw: bytes, content_type: str | None) -> Any:
    """Decode a POST/PUT body; a missing Content-Type is JSON, as the Python client sends no header."""
    mt = media_type(content_type)
    if mt in ("", JSON, "*/*", "text/plain"):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            if mt == "" and raw.lstrip()[:1] not in (b"{", b"["):
                return _decode_yaml(raw)
            raise errors.bad_request(f"couldn't get version/kind; json parse error: {_json_error(exc)}") from None
    if mt in (YAML, "application/x-yaml", "text/yaml"):
        return _decode_yaml(raw)
    if mt == PROTOBUF:
        from kybernetes.apiserver.protobuf import ProtobufDecodeError, decode_request

        try:
            return decode_request(raw)
        except ProtobufDecodeError as exc:
            raise errors.bad_request(str(exc)) from None
    raise errors.unsupported_media_type(mt, BODY_TYPES)


def _decode_yaml(raw: bytes) -> Any:
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise errors.bad_request(f"error converting YAML to JSON: {str(exc).splitlines()[0]}") from None


def decode_json(raw: bytes, what: str = "body") -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise errors.bad_request(f"error decoding {what}: {_json_error(exc)}") from None


@dataclass(frozen=True, slots=True)
class Accept:
    """What the client accepts: a Table (v1 or v1beta1), or plain JSON."""

    table: bool = False
    table_beta: bool = False
    yaml: bool = False

    @classmethod
    def parse(cls, header: str | None) -> "Accept":
        if not header:
            return cls()
        table = False
        beta = False
        json_ok = False
        yaml_ok = False
        for part in header.split(","):
            p = part.replace(" ", "")
            base = p.split(";", 1)[0].lower()
            if "as=Table" in p and "g=meta.k8s.io" in p:
                if not table:
                    table = True
                    beta = "v=v1beta1" in p
                continue
            if base in ("application/json", "*/*", "application/*"):
                json_ok = True
            elif base == PROTOBUF:
                json_ok = json_ok or False
            elif base in (YAML,):
                yaml_ok = True
        if table:
            return cls(table=True, table_beta=beta)
        return cls(yaml=yaml_ok and not json_ok)
