"""openapi holds the schemas of every served kind and builds the OpenAPI documents from them."""

# The schemas live in definitions.json, generated at development time by
# tools/gen_openapi_definitions.py (OpenAPI v2-style definitions keyed by upstream names such as
# io.k8s.api.core.v1.Pod).  `documents` turns them into /openapi/v2 and /openapi/v3 answers;
# `fieldcheck` uses them for fieldValidation=Strict|Warn.

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import orjson

_DEFINITIONS_FILE = Path(__file__).with_name("definitions.json")


@dataclass(frozen=True)
class OpenAPIResource:
    """OpenAPIResource is one served resource as the OpenAPI documents need to see it."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    verbs: tuple[str, ...]
    subresources: tuple[str, ...] = ()

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


@functools.cache
def definitions() -> dict[str, dict]:
    """Every schema by upstream definition name (loaded once; callers must not mutate it)."""
    return orjson.loads(_DEFINITIONS_FILE.read_bytes())


@functools.cache
def _gvk_index() -> dict[tuple[str, str, str], str]:
    index: dict[tuple[str, str, str], str] = {}
    for name, schema in definitions().items():
        for gvk in schema.get("x-kubernetes-group-version-kind", ()):
            index.setdefault((gvk["group"], gvk["version"], gvk["kind"]), name)
    return index


def definition_name(group: str, version: str, kind: str) -> str | None:
    """The definition that describes kind `kind` served as `group/version`, if we have one."""
    return _gvk_index().get((group, version, kind))


# Re-exported last: both submodules import the loaders above.
from kybernetes.api.openapi.documents import (  # noqa: E402
    v2_document,
    v2_document_json,
    v2_response,
    v3_document,
    v3_index,
)
from kybernetes.api.openapi.fieldcheck import (  # noqa: E402
    FieldCheckResult,
    TypeMismatch,
    check_fields,
    format_type_error,
    format_unknown_fields_error,
    unknown_field_warning,
)

__all__ = [
    "FieldCheckResult",
    "OpenAPIResource",
    "TypeMismatch",
    "check_fields",
    "definition_name",
    "definitions",
    "format_type_error",
    "format_unknown_fields_error",
    "unknown_field_warning",
    "v2_document",
    "v2_document_json",
    "v2_response",
    "v3_document",
    "v3_index",
]
