"""ReplicationControllers: selector and labels taken from the template, the template rules and the row."""

from __future__ import annotations

import copy
from typing import Any

from kybernetes.api import duration, validation
from kybernetes.api.errors import FieldError, forbidden, invalid, not_supported, required
from kybernetes.api.labels import format_labels
from kybernetes.registry.base import AGE_COLUMN, NAME_COLUMN, Column, Obj, Strategy
from kybernetes.registry.core.podtemplate import decoding, default_pod_template, pod_containers_images, validate_pod_template


def _d(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _nonnegative(value: Any, path: str) -> list[FieldError]:
    return validation.validate_nonnegative(_int(value), path)


class ReplicationControllerStrategy(Strategy):
    """ReplicationControllerStrategy is the per-kind behaviour of core/v1 ReplicationControllers."""

    kind = "ReplicationController"
    plural = "replicationcontrollers"
    singular = "replicationcontroller"
    namespaced = True
    short_names = ("rc",)
    categories = ("all",)
    subresources = ("status", "scale")
    tracks_generation = True
    has_status = True
    # v1 keeps the old default for API clients that send no policy: pods outlive the controller.
    default_propagation = "Orphan"
    name_rule = staticmethod(validation.is_dns1123_subdomain)
    columns = (
        NAME_COLUMN,
        Column("Desired", "integer", "", "How many pods the controller should keep running."),
        Column("Current", "integer", "", "How many pods the controller has now."),
        Column("Ready", "integer", "", "How many of those pods are ready."),
        AGE_COLUMN,
        Column("Containers", "string", "", "Names of the containers in the pod template.", 1),
        Column("Images", "string", "", "Images of the containers in the pod template.", 1),
        Column("Selector", "string", "", "Labels the controller uses to find its pods.", 1),
    )

    def default(self, obj: Obj) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            spec = obj["spec"] = {}
        template = spec.get("template")
        if isinstance(template, dict):
            template_labels = _d(template.get("metadata")).get("labels")
            if isinstance(template_labels, dict):
                if not spec.get("selector"):
                    spec["selector"] = copy.deepcopy(template_labels)
                metadata = obj.setdefault("metadata", {})
                if not metadata.get("labels"):
                    metadata["labels"] = copy.deepcopy(template_labels)
            with decoding(self.kind):
                default_pod_template(template)
        if spec.get("replicas") is None:
            spec["replicas"] = 1

    def initial_status(self, obj: Obj) -> Obj:
        # replicas is required in ReplicationControllerStatus, so a new object reports 0.
        return {"replicas": 0}

    def validate_fields(self, obj: Obj) -> list[FieldError]:
        spec = _d(obj.get("spec"))
        errs = _nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
        selector = _d(spec.get("selector"))
        if not selector:
            errs.append(required("spec.selector"))
        errs.extend(_nonnegative(spec.get("replicas"), "spec.replicas"))
        template = spec.get("template")
        if not isinstance(template, dict):
            errs.append(required("spec.template"))
            return errs
        errs.extend(validate_pod_template(template, "spec.template", selector=selector))
        pod_spec = _d(template.get("spec"))
        restart_policy = pod_spec.get("restartPolicy", "")
        if restart_policy != "Always":
            errs.append(not_supported("spec.template.spec.restartPolicy", restart_policy, ["Always"]))
        if pod_spec.get("activeDeadlineSeconds") is not None:
            errs.append(forbidden("spec.template.spec.activeDeadlineSeconds", "activeDeadlineSeconds in ReplicationController is not Supported"))
        return errs

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        errs = super().validate_status_update(new, old)
        status = _d(new.get("status"))
        for key in ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas", "observedGeneration"):
            errs.extend(_nonnegative(status.get(key), f"status.{key}"))
        replicas = _int(status.get("replicas"))
        for key in ("fullyLabeledReplicas", "readyReplicas", "availableReplicas"):
            if _int(status.get(key)) > replicas:
                errs.append(invalid(f"status.{key}", _int(status.get(key)), "cannot be greater than status.replicas"))
        if _int(status.get("availableReplicas")) > _int(status.get("readyReplicas")):
            errs.append(invalid("status.availableReplicas", _int(status.get("availableReplicas")), "cannot be greater than readyReplicas"))
        return errs

    def row(self, obj: Obj) -> list[Any]:
        spec, status = _d(obj.get("spec")), _d(obj.get("status"))
        names, images = pod_containers_images(spec.get("template"))
        return [
            _d(obj.get("metadata")).get("name", ""),
            _int(spec.get("replicas")),
            _int(status.get("replicas")),
            _int(status.get("readyReplicas")),
            duration.age(obj),
            names,
            images,
            format_labels(spec.get("selector")),
        ]

    def selectable_fields(self, obj: Obj) -> dict[str, str]:
        return {"status.replicas": str(_int(_d(obj.get("status")).get("replicas")))}

    def scale_selector(self, obj: Obj) -> str:
        selector = _d(_d(obj.get("spec")).get("selector"))
        return ",".join(f"{key}={selector[key]}" for key in sorted(selector))


STRATEGY = ReplicationControllerStrategy()
