"""Namespaces: the `kubernetes` finalizer, the metadata-name label, the Active/Terminating phase and the row."""

from __future__ import annotations

import copy
from typing import Any

from kybernetes.api import duration, validation
from kybernetes.api.errors import FieldError, invalid
from kybernetes.registry.base import AGE_COLUMN, NAME_COLUMN, Column, Obj, Strategy

NAME_LABEL = "kubernetes.io/metadata.name"
KUBERNETES_FINALIZER = "kubernetes"
# Finalizer names without a domain that upstream accepts.
STANDARD_FINALIZERS = ("kubernetes", "orphan", "foregroundDeletion")


def _d(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def set_name_label(obj: Obj) -> None:
    """Every namespace carries its own name as a label, whatever the client sent."""
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict) or not metadata.get("name"):
        return
    labels = metadata.get("labels")
    if not isinstance(labels, dict):
        labels = metadata["labels"] = {}
    labels[NAME_LABEL] = metadata["name"]


def validate_finalizer_name(name: Any, path: str) -> list[FieldError]:
    """A finalizer is a qualified name, and one without a domain must be a standard one."""
    text = name if isinstance(name, str) else ""
    errs = [invalid(path, text, msg) for msg in validation.is_qualified_name(text)]
    if "/" not in text and text not in STANDARD_FINALIZERS:
        errs.append(invalid(path, text, "name is neither a standard finalizer name nor is it fully qualified"))
    return errs


class NamespaceStrategy(Strategy):
    """NamespaceStrategy is the per-kind behaviour of core/v1 Namespaces."""

    kind = "Namespace"
    plural = "namespaces"
    singular = "namespace"
    namespaced = False
    short_names = ("ns",)
    subresources = ("status", "finalize")
    verbs = ("create", "delete", "get", "list", "patch", "update", "watch")
    has_status = True
    return_deleted_object = True
    name_rule = staticmethod(validation.is_dns1123_label)
    columns = (
        NAME_COLUMN,
        Column("Status", "string", "", "Active, or Terminating while its contents are being deleted."),
        AGE_COLUMN,
    )

    def default(self, obj: Obj) -> None:
        set_name_label(obj)
        status = obj.get("status")
        if isinstance(status, dict) and not status.get("phase"):
            status["phase"] = "Active"

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            spec = obj["spec"] = {}
        finalizers = _l(spec.get("finalizers"))
        if KUBERNETES_FINALIZER not in finalizers:
            finalizers = [*finalizers, KUBERNETES_FINALIZER]
        spec["finalizers"] = finalizers
        # generateName leaves the name unknown during defaulting; set the label again once it exists.
        set_name_label(obj)

    def initial_status(self, obj: Obj) -> Obj:
        return {"phase": "Active"}

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        # spec.finalizers only change through the finalize subresource.
        old_spec = _d(old.get("spec"))
        spec = new.get("spec")
        if not isinstance(spec, dict):
            spec = new["spec"] = {}
        if "finalizers" in old_spec:
            spec["finalizers"] = copy.deepcopy(old_spec["finalizers"])
        else:
            spec.pop("finalizers", None)
        set_name_label(new)

    def validate_fields(self, obj: Obj) -> list[FieldError]:
        errs: list[FieldError] = []
        for name in _l(_d(obj.get("spec")).get("finalizers")):
            # Upstream reports these at the list's path, without the index.
            errs.extend(validate_finalizer_name(name, "spec.finalizers"))
        return errs

    def validate_fields_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return []

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        errs = super().validate_status_update(new, old)
        phase = _d(new.get("status")).get("phase")
        if not _d(new.get("metadata")).get("deletionTimestamp"):
            if phase != "Active":
                errs.append(invalid("status.Phase", phase, "may only be 'Active' if `deletionTimestamp` is empty"))
        elif phase != "Terminating":
            errs.append(invalid("status.Phase", phase, "may only be 'Terminating' if `deletionTimestamp` is not empty"))
        return errs

    def validate_finalize_update(self, new: Obj, old: Obj) -> list[FieldError]:
        """Checks on a write to /finalize: metadata unchanged, finalizer names valid (indexed paths here)."""
        errs = validation.validate_object_meta_update(_d(new.get("metadata")), _d(old.get("metadata")))
        for i, name in enumerate(_l(_d(new.get("spec")).get("finalizers"))):
            errs.extend(validate_finalizer_name(name, f"spec.finalizers[{i}]"))
        return errs

    def row(self, obj: Obj) -> list[Any]:
        return [_d(obj.get("metadata")).get("name", ""), _d(obj.get("status")).get("phase", ""), duration.age(obj)]

    def selectable_fields(self, obj: Obj) -> dict[str, str]:
        # Upstream also accepts a bare `name` label here, kept for compatibility.
        return {"status.phase": _d(obj.get("status")).get("phase") or "", "name": _d(obj.get("metadata")).get("name") or ""}


STRATEGY = NamespaceStrategy()
