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


class _Loader(yaml.SafeLoader):
    """SafeLoader without timestamp resolution: sigs.k8s.io/yaml keeps `2024-01-01` a string."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _decode_yaml(raw: bytes) -> Any:
    try:
        return _json_keys(yaml.load(raw, Loader=_Loader))  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise errors.bad_request(f"error converting YAML to JSON: {str(exc).splitlines()[0]}") from None


def _json_key(key: Any) -> str:
    """yaml.YAMLToJSON's key conversion: `on:` is the bool true and becomes "true", `80:` becomes "80"."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int):
        return str(key)
    if isinstance(key, float):
        if key != key:
            return ".nan"
        if key in (float("inf"), float("-inf")):
            return ".inf" if key > 0 else "-.inf"
        return format(key, "g") if key != int(key) or abs(key) >= 1e21 else str(int(key))
    raise errors.bad_request(f"error converting YAML to JSON: unsupported map key of type: {type(key).__name__}, key: {key!r}")


def _json_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {_json_key(k): _json_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_keys(v) for v in value]
    return value


def decode_json(raw: bytes, what: str = "body") -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise errors.bad_request(f"error decoding {what}: {_json_error(exc)}") from None


def parse_accept(header: str | None) -> list[tuple[str, dict[str, str], float]]:
    """An Accept header as (type/subtype, params, q), most preferred first (goautoneg's order:
    q descending, then concrete types before wildcards, then the client's order)."""
    ranges: list[tuple[str, dict[str, str], float, int]] = []
    for index, part in enumerate((header or "").split(",")):
        pieces = [p.strip() for p in part.split(";")]
        media = pieces[0].lower()
        if not media:
            continue
        params: dict[str, str] = {}
        q = 1.0
        for piece in pieces[1:]:
            key, _, value = piece.partition("=")
            key, value = key.strip(), value.strip()
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
            elif key:
                params[key] = value
        ranges.append((media, params, q, index))
    ranges.sort(key=lambda r: (-r[2], r[0].startswith("*/"), r[0].endswith("/*"), r[3]))
    return [(media, params, q) for media, params, q, _ in ranges]


_JSON_RANGES = ("application/json", "application/*", "*/*")


@dataclass(frozen=True, slots=True)
class Accept:
    """What the client accepts: a Table (v1 or v1beta1), YAML, or plain JSON (the default)."""

    table: bool = False
    table_beta: bool = False
    yaml: bool = False

    @classmethod
    def parse(cls, header: str | None) -> "Accept":
        """The first range of the header we can answer decides; with none, plain JSON."""
        for media, params, q in parse_accept(header):
            if q <= 0:
                continue
            if params.get("as") == "Table":
                if media in _JSON_RANGES and params.get("g") == "meta.k8s.io" and params.get("v") in ("v1", "v1beta1"):
                    return cls(table=True, table_beta=params["v"] == "v1beta1")
                continue
            if params.get("as"):
                continue  # another conversion (PartialObjectMetadata, …) we do not serve
            if media in _JSON_RANGES:
                return cls()
            if media == YAML:
                return cls(yaml=True)
        return cls()
