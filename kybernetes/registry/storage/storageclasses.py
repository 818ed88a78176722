"""StorageClass: how dynamically provisioned volumes of a class are made (storage.k8s.io/v1; retired v1beta1)."""

from __future__ import annotations

import copy
from typing import Any

from kybernetes.api import duration, validation
from kybernetes.api.errors import FieldError, duplicate, forbidden, invalid, not_supported, required, too_long
from kybernetes.registry.base import AGE_COLUMN, NAME_COLUMN, Column, Obj, ServedVersion, Strategy

DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
BETA_DEFAULT_CLASS_ANNOTATION = "storageclass.beta.kubernetes.io/is-default-class"
MAX_PARAMETERS = 512
MAX_PARAMETERS_SIZE = 256 * 1024
RECLAIM_POLICIES = ("Delete", "Retain")
BINDING_MODES = ("Immediate", "WaitForFirstConsumer")
# Node labels upstream warns about when topologies still use them.
DEPRECATED_NODE_LABELS = {
    "beta.kubernetes.io/arch": 'deprecated since v1.14; use "kubernetes.io/arch" instead',
    "beta.kubernetes.io/os": 'deprecated since v1.14; use "kubernetes.io/os" instead',
    "failure-domain.beta.kubernetes.io/region": 'deprecated since v1.17; use "topology.kubernetes.io/region" instead',
    "failure-domain.beta.kubernetes.io/zone": 'deprecated since v1.17; use "topology.kubernetes.io/zone" instead',
    "beta.kubernetes.io/instance-type": 'deprecated since v1.17; use "node.kubernetes.io/instance-type" instead',
}


def _relabel(obj: Obj, api_version: str) -> Obj:
    out = copy.deepcopy(obj)
    out["apiVersion"] = api_version
    return out


STORAGE_V1BETA1 = ServedVersion(
    "storage.k8s.io",
    "v1beta1",
    "StorageClass",
    lambda obj: _relabel(obj, "storage.k8s.io/v1"),
    lambda obj: _relabel(obj, "storage.k8s.io/v1beta1"),
    "storage.k8s.io/v1beta1 StorageClass is deprecated in v1.19+, unavailable in v1.22+; "
    "use storage.k8s.io/v1 StorageClass",
)


def is_default_class(obj: Obj) -> bool:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return annotations.get(DEFAULT_CLASS_ANNOTATION) == "true" or annotations.get(BETA_DEFAULT_CLASS_ANNOTATION) == "true"


def _validate_parameters(params: Any) -> list[FieldError]:
    if not params:
        return []
    if len(params) > MAX_PARAMETERS:
        return [too_long("parameters", "", MAX_PARAMETERS)]
    errs: list[FieldError] = []
    size = 0
    for key, value in params.items():
        if not key:
            errs.append(invalid("parameters", key, "field can not be empty."))
        size += len(key) + len(str(value))
    if size > MAX_PARAMETERS_SIZE:
        errs.append(too_long("parameters", "", MAX_PARAMETERS_SIZE))
    return errs


def _validate_topologies(terms: list[Obj]) -> list[FieldError]:
    errs: list[FieldError] = []
    seen_terms: list[dict[str, frozenset[str]]] = []
    for i, term in enumerate(terms):
        term_path = f"allowedTopologies[{i}]"
        expressions: dict[str, frozenset[str]] = {}
        for j, requirement in enumerate((term or {}).get("matchLabelExpressions") or []):
            path = f"{term_path}.matchLabelExpressions[{j}]"
            values = requirement.get("values") or []
            if not values:
                errs.append(required(f"{path}.values"))
            seen_values: set[str] = set()
            for k, value in enumerate(values):
                if value in seen_values:
                    errs.append(duplicate(f"{path}.values[{k}]", value))
                seen_values.add(value)
            key = requirement.get("key") or ""
            errs.extend(invalid(f"{path}.key", key, msg) for msg in validation.is_qualified_name(key))
            if key in expressions:
                errs.append(duplicate(f"{path}.key", key))
            expressions[key] = frozenset(seen_values)
        if expressions in seen_terms:
            errs.append(duplicate(f"{term_path}.matchLabelExpressions", ""))
        seen_terms.append(expressions)
    return errs


class StorageClassStrategy(Strategy):
    """StorageClassStrategy: provisioner, parameters and reclaim policy are fixed once created."""

    return_deleted_object = True
    group = "storage.k8s.io"
    version = "v1"
    kind = "StorageClass"
    plural = "storageclasses"
    singular = "storageclass"
    namespaced = False
    short_names = ("sc",)
    served_versions = (STORAGE_V1BETA1,)
    columns = (
        NAME_COLUMN,
        Column("Provisioner", description="The volume plugin or CSI driver that provisions volumes."),
        Column("ReclaimPolicy", description="What happens to a provisioned volume when its claim goes away."),
        Column("VolumeBindingMode", description="Whether volumes bind at once or when a pod first uses the claim."),
        Column("AllowVolumeExpansion", description="Whether claims of this class may grow."),
        AGE_COLUMN,
    )

    def default(self, obj: Obj) -> None:
        if obj.get("reclaimPolicy") is None:
            obj["reclaimPolicy"] = "Delete"
        if obj.get("volumeBindingMode") is None:
            obj["volumeBindingMode"] = "Immediate"

    def validate_fields(self, obj: Obj) -> list[FieldError]:
        errs: list[FieldError] = []
        provisioner = obj.get("provisioner") or ""
        if not provisioner:
            errs.append(required("provisioner"))
        else:
            lowered = provisioner.lower()
            errs.extend(invalid("provisioner", lowered, msg) for msg in validation.is_qualified_name(lowered))
        errs.extend(_validate_parameters(obj.get("parameters")))
        policy = obj.get("reclaimPolicy")
        if policy and policy not in RECLAIM_POLICIES:
            errs.append(not_supported("reclaimPolicy", policy, list(RECLAIM_POLICIES)))
        mode = obj.get("volumeBindingMode")
        if mode is None:
            errs.append(required("volumeBindingMode"))
        elif mode not in BINDING_MODES:
            errs.append(not_supported("volumeBindingMode", mode, list(BINDING_MODES)))
        errs.extend(_validate_topologies(obj.get("allowedTopologies") or []))
        return errs

    def validate_fields_update(self, new: Obj, old: Obj) -> list[FieldError]:
        errs: list[FieldError] = []
        if (new.get("parameters") or {}) != (old.get("parameters") or {}):
            errs.append(forbidden("parameters", "updates to parameters are forbidden."))
        if (new.get("provisioner") or "") != (old.get("provisioner") or ""):
            errs.append(forbidden("provisioner", "updates to provisioner are forbidden."))
        if new.get("reclaimPolicy") != old.get("reclaimPolicy"):
            errs.append(forbidden("reclaimPolicy", "updates to reclaimPolicy are forbidden."))
        mode = new.get("volumeBindingMode")
        errs.extend(validation.validate_immutable(mode, old.get("volumeBindingMode"), "volumeBindingMode"))
        return errs

    def warnings(self, obj: Obj) -> list[str]:
        out: list[str] = []
        for i, term in enumerate(obj.get("allowedTopologies") or []):
            for j, requirement in enumerate((term or {}).get("matchLabelExpressions") or []):
                message = DEPRECATED_NODE_LABELS.get(requirement.get("key") or "")
                if message:
                    out.append(f"allowedTopologies[{i}].matchLabelExpressions[{j}].key: {message}")
        return out

    def row(self, obj: Obj) -> list[Any]:
        name = obj["metadata"]["name"]
        if is_default_class(obj):
            name += " (default)"
        return [
            name,
            obj.get("provisioner") or "",
            obj.get("reclaimPolicy") or "Delete",
            obj.get("volumeBindingMode") or "Immediate",
            bool(obj.get("allowVolumeExpansion")),
            duration.age(obj),
        ]


STRATEGY = StorageClassStrategy()
