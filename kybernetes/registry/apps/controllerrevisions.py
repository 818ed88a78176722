"""ControllerRevision: an immutable snapshot of a controller's state for rollbacks (apps/v1; retired v1beta1, v1beta2)."""

from __future__ import annotations

from typing import Any

from kybernetes.api import duration, validation
from kybernetes.api.errors import FieldError, required
from kybernetes.registry.apps.replicasets import relabel
from kybernetes.registry.base import AGE_COLUMN, NAME_COLUMN, Column, Obj, ServedVersion, Strategy


def _retired(version: str, deprecated: str) -> ServedVersion:
    return ServedVersion(
        "apps",
        version,
        "ControllerRevision",
        lambda obj: relabel(obj, "apps/v1"),
        lambda obj: relabel(obj, f"apps/{version}"),
        f"apps/{version} ControllerRevision is deprecated in v{deprecated}+, unavailable in v1.16+; "
        "use apps/v1 ControllerRevision",
    )


def controller_name(obj: Obj) -> str:
    """The owning controller as `kind.group/name` in lower case, or `<none>`."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if not ref.get("controller"):
            continue
        api_version = ref.get("apiVersion") or ""
        group = api_version.split("/", 1)[0] if "/" in api_version else ""
        kind = ref.get("kind") or ""
        if not kind and not group:
            return ref.get("name") or ""
        qualified = f"{kind}.{group}" if group else kind
        return f"{qualified.lower()}/{ref.get('name') or ''}"
    return "<none>"


class ControllerRevisionStrategy(Strategy):
    """ControllerRevisionStrategy: data is required and never changes after creation."""

    group = "apps"
    version = "v1"
    kind = "ControllerRevision"
    plural = "controllerrevisions"
    singular = "controllerrevision"
    served_versions = (_retired("v1beta1", "1.8"), _retired("v1beta2", "1.9"))
    columns = (
        NAME_COLUMN,
        Column("Controller", description="The object that owns this revision."),
        Column("Revision", description="Sequence number of the revision within its owner's history."),
        AGE_COLUMN,
    )

    def validate_fields(self, obj: Obj) -> list[FieldError]:
        errs: list[FieldError] = []
        if obj.get("data") is None:
            errs.append(required("data", "data is mandatory"))
        errs.extend(validation.validate_nonnegative(obj.get("revision"), "revision"))
        return errs

    def validate_fields_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return validation.validate_immutable(new.get("data"), old.get("data"), "data")

    def row(self, obj: Obj) -> list[Any]:
        return [obj["metadata"]["name"], controller_name(obj), int(obj.get("revision") or 0), duration.age(obj)]


STRATEGY = ControllerRevisionStrategy()
