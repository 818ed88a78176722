"""PersistentVolumes: Retain/Filesystem/Pending defaults, one source with capacity, immutable source, the row."""

from __future__ import annotations

import copy
import posixpath
from typing import Any

from kybernetes.api import duration, quantity, validation
from kybernetes.api.errors import FieldError, forbidden, invalid, not_supported, required
from kybernetes.registry.base import AGE_COLUMN, NAME_COLUMN, Column, Obj, Strategy
from kybernetes.registry.core.persistentvolumeclaims import BETA_CLASS_ANNOTATION, VOLUME_MODES, access_modes_cell, validate_access_modes
from kybernetes.registry.core.podtemplate import decoding, default_resource_list, default_volume, validate_node_selector

RECLAIM_POLICIES = ("Delete", "Recycle", "Retain")
# Persistent volume sources in the order upstream checks them; flexVolume is never "extra" there.
SOURCES: tuple[str, ...] = (
    "hostPath", "gcePersistentDisk", "awsElasticBlockStore", "glusterfs", "flocker", "nfs", "rbd", "quobyte",
    "cephfs", "iscsi", "cinder", "fc", "flexVolume", "azureFile", "vsphereVolume", "photonPersistentDisk",
    "portworxVolume", "azureDisk", "scaleIO", "local", "storageos", "csi",
)
_ERROR_NAME = {"cephfs": "cephFS"}
_REQUIRED_KEYS = {
    "gcePersistentDisk": ("pdName",),
    "awsElasticBlockStore": ("volumeID",),
    "glusterfs": ("endpoints", "path"),
    "rbd": ("monitors", "image"),
    "quobyte": ("registry", "volume"),
    "cephfs": ("monitors",),
    "iscsi": ("targetPortal", "iqn"),
    "cinder": ("volumeID",),
    "flexVolume": ("driver",),
    "azureFile": ("secretName", "shareName"),
    "vsphereVolume": ("volumePath",),
    "photonPersistentDisk": ("pdID",),
    "portworxVolume": ("volumeID",),
    "azureDisk": ("diskName", "diskURI"),
    "csi": ("driver", "volumeHandle"),
}


def _d(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _s(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _validate_source(key: str, source: Obj, path: str) -> list[FieldError]:
    errs = [required(f"{path}.{field}") for field in _REQUIRED_KEYS.get(key, ()) if not source.get(field)]
    if key in ("hostPath", "local"):
        target = _s(source.get("path"))
        if not target:
            return [required(f"{path}.path")]
        if ".." in target.split("/"):
            errs.append(invalid(f"{path}.path", target, "must not contain '..'"))
        host_type = source.get("type")
        if key == "hostPath" and host_type is not None and host_type not in (
            "", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"
        ):
            errs.append(not_supported(f"{path}.type", host_type, ["", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"]))
    elif key == "nfs":
        if not source.get("server"):
            errs.append(required(f"{path}.server"))
        target = _s(source.get("path"))
        if not target:
            errs.append(required(f"{path}.path"))
        if not target.startswith("/"):
            errs.append(invalid(f"{path}.path", target, "must be an absolute path"))
    return errs


def validate_pv_spec(spec: Obj) -> list[FieldError]:
    """ValidatePersistentVolumeSpec for a stored (not inline) volume."""
    errs: list[FieldError] = []
    if not _l(spec.get("accessModes")):
        errs.append(required("spec.accessModes"))
    errs.extend(validate_access_modes(spec.get("accessModes"), "spec.accessModes"))
    capacity = spec.get("capacity")
    capacity = capacity if isinstance(capacity, dict) else {}
    if not capacity:
        errs.append(required("spec.capacity"))
    if "storage" not in capacity or len(capacity) > 1:
        errs.append(not_supported("spec.capacity", capacity, ["storage"]))
    for name, value in capacity.items():
        path = f"spec.capacity[{name}]"
        try:
            amount = quantity.parse(value)
        except quantity.QuantityError as err:
            errs.append(invalid(path, value, str(err)))
            continue
        if amount.value < 0:
            errs.append(invalid(path, int(amount.value), "must be a valid resource quantity"))
        if amount.value <= 0:
            errs.append(invalid(path, str(amount), "must be greater than zero"))
    policy = spec.get("persistentVolumeReclaimPolicy")
    if policy and policy not in RECLAIM_POLICIES:
        errs.append(not_supported("spec.persistentVolumeReclaimPolicy", policy, RECLAIM_POLICIES))
    affinity = spec.get("nodeAffinity")
    has_affinity = False
    if isinstance(affinity, dict):
        has_affinity = True
        if not isinstance(affinity.get("required"), dict):
            errs.append(required("spec.nodeAffinity.required", "must specify required node constraints"))
        else:
            errs.extend(validate_node_selector(affinity["required"], "spec.nodeAffinity.required"))
    count = 0
    for key in SOURCES:
        source = spec.get(key)
        if source is None:
            continue
        if count and key != "flexVolume":
            errs.append(forbidden(f"spec.{_ERROR_NAME.get(key, key)}", "may not specify more than 1 volume type"))
            continue
        count += 1
        errs.extend(_validate_source(key, _d(source), f"spec.{key}"))
        if key == "local" and not has_affinity:
            errs.append(required("spec.nodeAffinity", "Local volume requires node affinity"))
    if count == 0:
        errs.append(required("spec", "must specify a volume type"))
    host_path = spec.get("hostPath")
    if isinstance(host_path, dict) and posixpath.normpath(_s(host_path.get("path")) or ".") == "/" and policy == "Recycle":
        errs.append(forbidden("spec.persistentVolumeReclaimPolicy", "may not be 'recycle' for a hostPath mount of '/'"))
    class_name = _s(spec.get("storageClassName"))
    if class_name:
        errs.extend(invalid("spec.storageClassName", class_name, m) for m in validation.is_dns1123_subdomain(class_name))
    mode = spec.get("volumeMode")
    if mode is not None and mode not in VOLUME_MODES:
        errs.append(not_supported("spec.volumeMode", mode, VOLUME_MODES))
    attributes_class = spec.get("volumeAttributesClassName")
    if attributes_class is not None:
        if not attributes_class:
            errs.append(required("spec.volumeAttributesClassName", "an empty string is disallowed"))
        else:
            errs.extend(invalid("spec.volumeAttributesClassName", attributes_class, m) for m in validation.is_dns1123_subdomain(_s(attributes_class)))
        if spec.get("csi") is None:
            errs.append(required("spec.csi", "has to be specified when using volumeAttributesClassName"))
    return errs


def volume_class(pv: Obj) -> str:
    """The storage class of a volume: the beta annotation wins over spec.storageClassName."""
    annotations = _d(_d(pv.get("metadata")).get("annotations"))
    if BETA_CLASS_ANNOTATION in annotations:
        return _s(annotations[BETA_CLASS_ANNOTATION])
    return _s(_d(pv.get("spec")).get("storageClassName"))


class PersistentVolumeStrategy(Strategy):
    """PersistentVolumeStrategy is the per-kind behaviour of core/v1 PersistentVolumes."""

    kind = "PersistentVolume"
    plural = "persistentvolumes"
    singular = "persistentvolume"
    namespaced = False
    short_names = ("pv",)
    subresources = ("status",)
    has_status = True
    return_deleted_object = True
    name_rule = staticmethod(validation.is_dns1123_subdomain)
    columns = (
        NAME_COLUMN,
        Column("Capacity", "string", "", "The size of the volume."),
        Column("Access Modes", "string", "", "How the volume may be mounted (RWO, ROX, RWX, RWOP)."),
        Column("Reclaim Policy", "string", "", "What happens to the volume when its claim is deleted."),
        Column("Status", "string", "", "Pending, Available, Bound, Released or Failed; Terminating while being deleted."),
        Column("Claim", "string", "", "The claim bound to the volume, as namespace/name."),
        Column("StorageClass", "string", "", "The storage class the volume belongs to."),
        Column("VolumeAttributesClass", "string", "", "The volume attributes class of the volume."),
        Column("Reason", "string", "", "Why the volume is in its current phase, when known."),
        AGE_COLUMN,
        Column("VolumeMode", "string", "", "Filesystem or Block.", 1),
    )

    def default(self, obj: Obj) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            spec = obj["spec"] = {}
        if not spec.get("persistentVolumeReclaimPolicy"):
            spec["persistentVolumeReclaimPolicy"] = "Retain"
        if spec.get("volumeMode") is None:
            spec["volumeMode"] = "Filesystem"
        with decoding(self.kind):
            default_resource_list(spec.get("capacity"))
        # The sources a PV shares with pod volumes take the same per-source defaults.
        shared = {k: spec[k] for k in ("hostPath", "iscsi", "rbd", "azureDisk", "scaleIO") if isinstance(spec.get(k), dict)}
        if shared:
            default_volume(shared)
        status = obj.get("status")
        if isinstance(status, dict) and not status.get("phase"):
            status["phase"] = "Pending"

    def initial_status(self, obj: Obj) -> Obj:
        return {"phase": "Pending", "lastPhaseTransitionTime": duration.now_rfc3339()}

    def validate_fields(self, obj: Obj) -> list[FieldError]:
        return validate_pv_spec(_d(obj.get("spec")))

    def validate_fields_update(self, new: Obj, old: Obj) -> list[FieldError]:
        from kybernetes.registry.core.pods import spec_diff

        errs: list[FieldError] = []
        spec, old_spec = copy.deepcopy(_d(new.get("spec"))), _d(old.get("spec"))
        # A CSI volume may gain a controllerExpandSecretRef later.
        if isinstance(old_spec.get("csi"), dict) and old_spec["csi"].get("controllerExpandSecretRef") is None and isinstance(spec.get("csi"), dict):
            spec["csi"].pop("controllerExpandSecretRef", None)
        new_source = {k: spec[k] for k in SOURCES if spec.get(k) is not None}
        old_source = {k: old_spec[k] for k in SOURCES if old_spec.get(k) is not None}
        if new_source != old_source:
            errs.append(forbidden(
                "spec.persistentvolumesource",
                "spec.persistentvolumesource is immutable after creation\n" + spec_diff(old_source, new_source),
            ))
        errs.extend(validation.validate_immutable(spec.get("volumeMode"), old_spec.get("volumeMode"), "volumeMode"))
        if old_spec.get("volumeAttributesClassName") is not None and spec.get("volumeAttributesClassName") is None:
            errs.append(forbidden("spec.volumeAttributesClassName", "update from non-nil value to nil is forbidden"))
        return errs

    def prepare_for_status_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_status_update(new, old)
        status, old_status = new.get("status"), _d(old.get("status"))
        if not isinstance(status, dict):
            return
        changed = _s(status.get("phase")) != _s(old_status.get("phase"))
        stamp = status.get("lastPhaseTransitionTime")
        if not changed and stamp is None:
            if old_status.get("lastPhaseTransitionTime") is not None:
                status["lastPhaseTransitionTime"] = old_status["lastPhaseTransitionTime"]
        elif changed and (stamp is None or stamp == old_status.get("lastPhaseTransitionTime")):
            status["lastPhaseTransitionTime"] = duration.now_rfc3339()

    def row(self, obj: Obj) -> list[Any]:
        meta, spec, status = _d(obj.get("metadata")), _d(obj.get("spec")), _d(obj.get("status"))
        claim = spec.get("claimRef")
        claim_cell = f"{_s(_d(claim).get('namespace'))}/{_s(_d(claim).get('name'))}" if isinstance(claim, dict) else ""
        storage = _d(spec.get("capacity")).get("storage")
        try:
            capacity = quantity.canonical_quantity(storage) if storage is not None else "0"
        except ValueError:
            capacity = _s(storage)
        attributes_class = spec.get("volumeAttributesClassName")
        return [
            meta.get("name", ""),
            capacity,
            access_modes_cell(spec.get("accessModes")),
            _s(spec.get("persistentVolumeReclaimPolicy")),
            "Terminating" if meta.get("deletionTimestamp") else _s(status.get("phase")),
            claim_cell,
            volume_class(obj),
            attributes_class if isinstance(attributes_class, str) else "<unset>",
            _s(status.get("reason")),
            duration.age(obj),
            _s(spec.get("volumeMode")) or "<unset>",
        ]

    def selectable_fields(self, obj: Obj) -> dict[str, str]:
        # Upstream also accepts a bare `name` label here, kept for compatibility.
        return {"name": _s(_d(obj.get("metadata")).get("name"))}


STRATEGY = PersistentVolumeStrategy()
