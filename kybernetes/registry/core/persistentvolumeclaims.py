"""PersistentVolumeClaims: defaults, the claim-spec rules (shared with ephemeral volumes) and the update rules."""

from __future__ import annotations

import copy
from typing import Any

from kybernetes.api import duration, quantity, validation
from kybernetes.api.errors import FieldError, forbidden, invalid, not_supported, required
from kybernetes.registry.base import AGE_COLUMN, NAME_COLUMN, Column, Obj, Strategy

ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")
VOLUME_MODES = ("Block", "Filesystem")
BETA_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"
_SHORT_MODES = (("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"), ("ReadWriteOncePod", "RWOP"))


def _d(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _s(value: Any) -> str:
    return value if isinstance(value, str) else ""


def access_modes_cell(modes: Any) -> str:
    """ACCESS MODES: the abbreviations of the modes present, in upstream's fixed order."""
    present = set(_l(modes))
    return ",".join(short for mode, short in _SHORT_MODES if mode in present)


def validate_access_modes(modes: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    once_pod = other = False
    for mode in _l(modes):
        if mode not in ACCESS_MODES:
            errs.append(not_supported(path, mode, ACCESS_MODES))
        if mode == "ReadWriteOncePod":
            once_pod = True
        elif mode in ACCESS_MODES:
            other = True
    if once_pod and other:
        errs.append(forbidden(path, "may not use ReadWriteOncePod with other access modes"))
    return errs


def _validate_data_source(source: Obj, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not source.get("name"):
        errs.append(required(f"{path}.name"))
    if not source.get("kind"):
        errs.append(required(f"{path}.kind"))
    group = _s(source.get("apiGroup"))
    if not group and source.get("kind") != "PersistentVolumeClaim":
        errs.append(invalid(path, _s(source.get("kind")), "must be 'PersistentVolumeClaim' when referencing the default apiGroup"))
    if group:
        errs.extend(invalid(f"{path}.apiGroup", group, m) for m in validation.is_dns1123_subdomain(group))
    return errs


def validate_claim_spec(spec: Obj, path: str) -> list[FieldError]:
    """ValidatePersistentVolumeClaimSpec: access modes, a positive storage request, class and mode."""
    errs: list[FieldError] = []
    if not _l(spec.get("accessModes")):
        errs.append(required(f"{path}.accessModes", "at least 1 access mode is required"))
    if spec.get("selector") is not None:
        errs.extend(validation.validate_label_selector(spec.get("selector"), f"{path}.selector"))
    errs.extend(validate_access_modes(spec.get("accessModes"), f"{path}.accessModes"))
    requests = _d(_d(spec.get("resources")).get("requests"))
    # Upstream keys the storage request on `resources` itself, without `requests`.
    storage_path = f"{path}.resources[storage]"
    if "storage" not in requests:
        errs.append(required(storage_path))
    else:
        try:
            storage = quantity.parse(requests["storage"])
        except quantity.QuantityError as err:
            errs.append(invalid(storage_path, requests["storage"], str(err)))
        else:
            if storage.value <= 0:
                errs.append(invalid(storage_path, str(storage), "must be greater than zero"))
    class_name = spec.get("storageClassName")
    if isinstance(class_name, str) and class_name:
        errs.extend(invalid(f"{path}.storageClassName", class_name, m) for m in validation.is_dns1123_subdomain(class_name))
    mode = spec.get("volumeMode")
    if mode is not None and mode not in VOLUME_MODES:
        errs.append(not_supported(f"{path}.volumeMode", mode, VOLUME_MODES))
    source, source_ref = spec.get("dataSource"), spec.get("dataSourceRef")
    if isinstance(source, dict):
        errs.extend(_validate_data_source(source, f"{path}.dataSource"))
    if isinstance(source_ref, dict):
        errs.extend(_validate_data_source(source_ref, f"{path}.dataSourceRef"))
        namespace = _s(source_ref.get("namespace"))
        if namespace:
            errs.extend(invalid(f"{path}.dataSourceRef.namespace", namespace, m) for m in validation.is_dns1123_label(namespace))
    if isinstance(source_ref, dict) and _s(source_ref.get("namespace")):
        if isinstance(source, dict):
            errs.append(invalid(path, f"{path}.dataSource", "may not be specified when dataSourceRef.namespace is specified"))
    elif isinstance(source, dict) and isinstance(source_ref, dict):
        if any(source.get(k) != source_ref.get(k) for k in ("apiGroup", "kind", "name")):
            errs.append(invalid(path, f"{path}.dataSource", "must match dataSourceRef"))
    attributes_class = spec.get("volumeAttributesClassName")
    if isinstance(attributes_class, str) and attributes_class:
        errs.extend(invalid(f"{path}.volumeAttributesClassName", attributes_class, m) for m in validation.is_dns1123_subdomain(attributes_class))
    return errs


def claim_class(claim: Obj) -> str:
    """The storage class of a claim: the beta annotation wins over spec.storageClassName."""
    annotations = _d(_d(claim.get("metadata")).get("annotations"))
    if BETA_CLASS_ANNOTATION in annotations:
        return _s(annotations[BETA_CLASS_ANNOTATION])
    return _s(_d(claim.get("spec")).get("storageClassName"))


def _storage(spec: Obj) -> Any:
    return _d(_d(spec.get("resources")).get("requests")).get("storage")


def _compare(a: Any, b: Any) -> int:
    try:
        return quantity.compare_quantities(a if a is not None else "0", b if b is not None else "0")
    except ValueError:
        return 0


class PersistentVolumeClaimStrategy(Strategy):
    """PersistentVolumeClaimStrategy is the per-kind behaviour of core/v1 PersistentVolumeClaims."""

    kind = "PersistentVolumeClaim"
    plural = "persistentvolumeclaims"
    singular = "persistentvolumeclaim"
    namespaced = True
    short_names = ("pvc",)
    subresources = ("status",)
    has_status = True
    return_deleted_object = True
    name_rule = staticmethod(validation.is_dns1123_subdomain)
    columns = (
        NAME_COLUMN,
        Column("Status", "string", "", "Pending, Bound or Lost; Terminating while being deleted."),
        Column("Volume", "string", "", "The persistent volume bound to the claim."),
        Column("Capacity", "string", "", "The size of the bound volume."),
        Column("Access Modes", "string", "", "How the bound volume may be mounted (RWO, ROX, RWX, RWOP)."),
        Column("StorageClass", "string", "", "The storage class the claim asks for."),
        Column("VolumeAttributesClass", "string", "", "The volume attributes class the claim asks for."),
        AGE_COLUMN,
        Column("VolumeMode", "string", "", "Filesystem or Block.", 1),
    )

    def default(self, obj: Obj) -> None:
        from kybernetes.registry.core.podtemplate import decoding, default_claim_spec, default_resource_list

        spec = obj.get("spec")
        if not isinstance(spec, dict):
            spec = obj["spec"] = {}
        status = obj.get("status")
        with decoding(self.kind):
            default_claim_spec(spec)
            if isinstance(status, dict):
                default_resource_list(status.get("capacity"))
                default_resource_list(status.get("allocatedResources"))
        if isinstance(status, dict) and not status.get("phase"):
            status["phase"] = "Pending"

    def initial_status(self, obj: Obj) -> Obj:
        return {"phase": "Pending"}

    def validate_fields(self, obj: Obj) -> list[FieldError]:
        return validate_claim_spec(_d(obj.get("spec")), "spec")

    def validate_fields_update(self, new: Obj, old: Obj) -> list[FieldError]:
        errs: list[FieldError] = []
        spec, old_spec = _d(new.get("spec")), _d(old.get("spec"))
        new_clone, old_clone = copy.deepcopy(spec), copy.deepcopy(old_spec)
        # volumeName may be set once (by the binder); the class may move from the beta annotation or from nil.
        if not old_spec.get("volumeName"):
            old_clone["volumeName"] = new_clone.get("volumeName")
            if old_clone["volumeName"] is None:
                old_clone.pop("volumeName")
        old_annotations = _d(_d(old.get("metadata")).get("annotations"))
        new_annotations = _d(_d(new.get("metadata")).get("annotations"))
        if BETA_CLASS_ANNOTATION in old_annotations and old_spec.get("storageClassName") is None and spec.get(
            "storageClassName"
        ) == old_annotations[BETA_CLASS_ANNOTATION] and new_annotations.get(BETA_CLASS_ANNOTATION, old_annotations[BETA_CLASS_ANNOTATION]) == old_annotations[BETA_CLASS_ANNOTATION]:
            new_clone.pop("storageClassName", None)
        else:
            old_class, new_class = old_annotations.get(BETA_CLASS_ANNOTATION, ""), new_annotations.get(BETA_CLASS_ANNOTATION, "")
            if old_class != new_class:
                errs.append(invalid(f"metadata.annotations.{BETA_CLASS_ANNOTATION}", new_class, "field is immutable"))
            if spec.get("storageClassName") is not None and old_spec.get("storageClassName") is None and (
                BETA_CLASS_ANNOTATION not in old_annotations or spec["storageClassName"] == old_annotations[BETA_CLASS_ANNOTATION]
            ):
                new_clone.pop("storageClassName", None)
        bound = _d(new.get("status")).get("phase") == "Bound"
        if bound and isinstance(_d(new_clone.get("resources")).get("requests"), dict):
            new_clone["resources"]["requests"]["storage"] = _storage(old_spec)
            if new_clone["resources"]["requests"]["storage"] is None:
                new_clone["resources"]["requests"].pop("storage")
        if bound and new_clone.get("volumeAttributesClassName") is not None:
            new_clone["volumeAttributesClassName"] = old_clone.get("volumeAttributesClassName")
        if new_clone != old_clone:
            from kybernetes.registry.core.pods import spec_diff

            errs.append(forbidden(
                "spec",
                "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n"
                + spec_diff(old_clone, new_clone),
            ))
        if _compare(_storage(spec), _storage(old_spec)) < 0:
            errs.append(forbidden("spec.resources.requests.storage", "field can not be less than previous value"))
        errs.extend(validation.validate_immutable(spec.get("volumeMode"), old_spec.get("volumeMode"), "volumeMode"))
        old_vac, new_vac = old_spec.get("volumeAttributesClassName"), spec.get("volumeAttributesClassName")
        if old_vac is not None and new_vac != old_vac:
            if new_vac is None:
                errs.append(forbidden("spec.volumeAttributesClassName", "update from non-nil value to nil is forbidden"))
            elif new_vac == "":
                errs.append(forbidden("spec.volumeAttributesClassName", "update from non-nil value to an empty string is forbidden"))
        return errs

    def prepare_for_status_update(self, new: Obj, old: Obj) -> None:
        from kybernetes.registry.core.podtemplate import decoding, default_resource_list

        super().prepare_for_status_update(new, old)
        status = new.get("status")
        if isinstance(status, dict):
            with decoding(self.kind):
                default_resource_list(status.get("capacity"))
                default_resource_list(status.get("allocatedResources"))

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        errs = super().validate_status_update(new, old)
        if not _l(_d(new.get("spec")).get("accessModes")):
            errs.append(required("Spec.accessModes"))
        for name, value in _d(_d(new.get("status")).get("capacity")).items():
            try:
                if quantity.parse_quantity(value) < 0:
                    errs.append(invalid(f"status.capacity[{name}]", int(quantity.parse_quantity(value)), "must be a valid resource quantity"))
            except ValueError as err:
                errs.append(invalid(f"status.capacity[{name}]", value, str(err)))
        return errs

    def row(self, obj: Obj) -> list[Any]:
        meta, spec, status = _d(obj.get("metadata")), _d(obj.get("spec")), _d(obj.get("status"))
        phase = "Terminating" if meta.get("deletionTimestamp") else _s(status.get("phase"))
        capacity = modes = ""
        if spec.get("volumeName"):
            modes = access_modes_cell(status.get("accessModes"))
            storage = _d(status.get("capacity")).get("storage")
            capacity = quantity.canonical_quantity(storage) if storage is not None else "0"
        attributes_class = spec.get("volumeAttributesClassName")
        return [
            meta.get("name", ""),
            phase,
            _s(spec.get("volumeName")),
            capacity,
            modes,
            claim_class(obj),
            attributes_class if isinstance(attributes_class, str) else "<unset>",
            duration.age(obj),
            _s(spec.get("volumeMode")) or "<unset>",
        ]

    def selectable_fields(self, obj: Obj) -> dict[str, str]:
        # Upstream also accepts a bare `name` label here, kept for compatibility.
        return {"name": _s(_d(obj.get("metadata")).get("name"))}


STRATEGY = PersistentVolumeClaimStrategy()
