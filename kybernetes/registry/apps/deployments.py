"""Deployment: rolls a pod template out through ReplicaSets (apps/v1; retired v1beta1, v1beta2, extensions)."""

from __future__ import annotations

import re
from typing import Any

from kybernetes.api import duration, validation
from kybernetes.api.errors import FieldError, forbidden, invalid, not_supported, required
from kybernetes.registry.apps.replicasets import (
    CONTAINERS_COLUMN,
    IMAGES_COLUMN,
    child,
    collision_count_errors,
    compile_selector,
    defaults_from_template_labels,
    next_generation,
    not_above,
    relabel,
    selector_text,
    set_default,
    validate_counts,
    validate_replica_template,
    validate_workload_selector,
)
from kybernetes.registry.base import AGE_COLUMN, NAME_COLUMN, Column, Obj, ServedVersion, Strategy
from kybernetes.registry.core.podtemplate import decoding, default_pod_template, pod_containers_images

MAX_INT32 = 2147483647
# Retired versions had a spec.rollbackTo field; apps/v1 keeps it in this annotation.
ROLLBACK_ANNOTATION = "deprecated.deployment.rollback.to"

# ----- int-or-percent fields (shared with DaemonSet) ---------------------------------------

_PERCENT = re.compile(r"^[0-9]+%$")
_INTEGER = re.compile(r"^[+-]?[0-9]+$")
# Upstream's RegexError text, its doubled space included.
PERCENT_MESSAGE = (
    "a valid percent string must be a numeric string followed by an ending '%' "
    "(e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"
)


def validate_int_or_percent(value: Any, path: str) -> list[FieldError]:
    """ValidatePositiveIntOrPercent: a non-negative integer or an `N%` string."""
    if isinstance(value, str):
        return [] if _PERCENT.match(value) else [invalid(path, value, PERCENT_MESSAGE)]
    if isinstance(value, bool) or not isinstance(value, int):
        # Upstream's literal text carries the doubled percent sign.
        return [invalid(path, value, "must be an integer or percentage (e.g '5%%')")]
    return validation.validate_nonnegative(value, path)


def int_or_percent_value(value: Any) -> int:
    """The number in an int-or-percent value; strings that are neither read as 0, as upstream's IntValue."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        if _PERCENT.match(value):
            return int(value[:-1])
        if _INTEGER.match(value):
            return int(value)
    return 0


def not_more_than_100_percent(value: Any, path: str) -> list[FieldError]:
    if isinstance(value, str) and _PERCENT.match(value) and int(value[:-1]) > 100:
        return [invalid(path, value, "must not be greater than 100%")]
    return []


# ----- defaults of each served version -----------------------------------------------------


def _default_rolling_update(spec: Obj, unavailable: Any, surge: Any, *, when_present: bool = False) -> None:
    strategy = child(spec, "strategy")
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
    # extensions/v1beta1 also filled a rollingUpdate block given with another type.
    if strategy["type"] == "RollingUpdate" or (when_present and strategy.get("rollingUpdate") is not None):
        rolling = child(strategy, "rollingUpdate")
        set_default(rolling, "maxUnavailable", unavailable)
        set_default(rolling, "maxSurge", surge)


def _rollback_to_annotation(obj: Obj) -> None:
    rollback = child(obj, "spec").pop("rollbackTo", None)
    annotations = (obj.get("metadata") or {}).get("annotations")
    if rollback is not None:
        child(child(obj, "metadata"), "annotations")[ROLLBACK_ANNOTATION] = str(int((rollback or {}).get("revision") or 0))
    elif annotations:
        annotations.pop(ROLLBACK_ANNOTATION, None)


def _annotation_to_rollback(obj: Obj) -> None:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    revision = annotations.pop(ROLLBACK_ANNOTATION, None)
    if revision is None:
        return
    try:
        number = int(revision)
    except ValueError:
        return
    child(obj, "spec")["rollbackTo"] = {"revision": number} if number else {}
    if not annotations:
        obj["metadata"].pop("annotations", None)


def _from_apps_v1beta1(obj: Obj) -> Obj:
    out = relabel(obj, "apps/v1")
    defaults_from_template_labels(out)
    spec = child(out, "spec")
    set_default(spec, "replicas", 1)
    _default_rolling_update(spec, "25%", "25%")
    set_default(spec, "revisionHistoryLimit", 2)
    set_default(spec, "progressDeadlineSeconds", 600)
    _rollback_to_annotation(out)
    return out


def _from_extensions(obj: Obj) -> Obj:
    out = relabel(obj, "apps/v1")
    defaults_from_template_labels(out)
    spec = child(out, "spec")
    set_default(spec, "replicas", 1)
    _default_rolling_update(spec, 1, 1, when_present=True)
    # extensions/v1beta1 meant "no deadline" and "keep every ReplicaSet" by the int32 maximum.
    set_default(spec, "progressDeadlineSeconds", MAX_INT32)
    set_default(spec, "revisionHistoryLimit", MAX_INT32)
    _rollback_to_annotation(out)
    return out


def _to_old(api_version: str) -> Any:
    def convert(obj: Obj) -> Obj:
        out = relabel(obj, api_version)
        _annotation_to_rollback(out)
        return out

    return convert


APPS_V1BETA1 = ServedVersion(
    "apps",
    "v1beta1",
    "Deployment",
    _from_apps_v1beta1,
    _to_old("apps/v1beta1"),
    "apps/v1beta1 Deployment is deprecated in v1.8+, unavailable in v1.16+; use apps/v1 Deployment",
)
APPS_V1BETA2 = ServedVersion(
    "apps",
    "v1beta2",
    "Deployment",
    lambda obj: relabel(obj, "apps/v1"),
    lambda obj: relabel(obj, "apps/v1beta2"),
    "apps/v1beta2 Deployment is deprecated in v1.9+, unavailable in v1.16+; use apps/v1 Deployment",
)
EXTENSIONS_V1BETA1 = ServedVersion(
    "extensions",
    "v1beta1",
    "Deployment",
    _from_extensions,
    _to_old("extensions/v1beta1"),
    "extensions/v1beta1 Deployment is deprecated in v1.8+, unavailable in v1.16+; use apps/v1 Deployment",
)

# ----- validation ------------------------------------------------------------------------------


def _validate_strategy(strategy: Obj, path: str) -> list[FieldError]:
    kind = strategy.get("type")
    rolling = strategy.get("rollingUpdate")
    if kind == "Recreate":
        if rolling is not None:
            return [forbidden(f"{path}.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'")]
        return []
    if kind == "RollingUpdate":
        if rolling is None:
            return [required(f"{path}.rollingUpdate", "this should be defaulted and never be nil")]
        return _validate_rolling_update(rolling, f"{path}.rollingUpdate")
    return [not_supported(path, strategy, ["Recreate", "RollingUpdate"])]


def _validate_rolling_update(rolling: Obj, path: str) -> list[FieldError]:
    unavailable = rolling.get("maxUnavailable", 0)
    surge = rolling.get("maxSurge", 0)
    errs = validate_int_or_percent(unavailable, f"{path}.maxUnavailable")
    errs.extend(validate_int_or_percent(surge, f"{path}.maxSurge"))
    if int_or_percent_value(unavailable) == 0 and int_or_percent_value(surge) == 0:
        errs.append(invalid(f"{path}.maxUnavailable", unavailable, "may not be 0 when `maxSurge` is 0"))
    errs.extend(not_more_than_100_percent(unavailable, f"{path}.maxUnavailable"))
    return errs


_STATUS_COUNTS = (
    "observedGeneration",
    "replicas",
    "updatedReplicas",
    "readyReplicas",
    "availableReplicas",
    "unavailableReplicas",
    "collisionCount",
)


class DeploymentStrategy(Strategy):
    """DeploymentStrategy: defaults, checks and columns of apps/v1 Deployment."""

    group = "apps"
    version = "v1"
    kind = "Deployment"
    plural = "deployments"
    singular = "deployment"
    short_names = ("deploy",)
    categories = ("all",)
    subresources = ("status", "scale")
    tracks_generation = True
    has_status = True
    # extensions/v1beta1 is converted (EXTENSIONS_V1BETA1) but not served: kubectl prefers the
    # group listed first in discovery, and the catalog lists "extensions" as soon as a kind
    # serves it, ahead of networking.k8s.io, so `kubectl get ingress` would pick the retired one.
    served_versions = (APPS_V1BETA1, APPS_V1BETA2)
    columns = (
        NAME_COLUMN,
        Column("Ready", description="Ready pods out of the desired number."),
        Column("Up-to-date", description="Pods that already run the newest pod template."),
        Column("Available", description="Pods that have been ready for at least minReadySeconds."),
        AGE_COLUMN,
        CONTAINERS_COLUMN,
        IMAGES_COLUMN,
        Column("Selector", priority=1, description="Label query over the pods the Deployment manages."),
    )

    def default(self, obj: Obj) -> None:
        spec = child(obj, "spec")
        set_default(spec, "replicas", 1)
        _default_rolling_update(spec, "25%", "25%")
        set_default(spec, "revisionHistoryLimit", 10)
        set_default(spec, "progressDeadlineSeconds", 600)
        with decoding(self.kind):
            default_pod_template(child(spec, "template"))

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        # Annotations count as desired state: the controller copies them to the ReplicaSets.
        new_annotations = (new.get("metadata") or {}).get("annotations")
        annotations_changed = new_annotations != (old.get("metadata") or {}).get("annotations")
        next_generation(new, old, new.get("spec") != old.get("spec") or annotations_changed)

    def validate_fields(self, obj: Obj) -> list[FieldError]:
        spec = obj.get("spec") or {}
        errs = validation.validate_nonnegative(spec.get("replicas"), "spec.replicas")
        selector = spec.get("selector")
        errs.extend(validate_workload_selector(selector, "spec.selector", "deployment"))
        compiled = compile_selector(selector)
        if compiled is None:
            errs.append(invalid("spec.selector", selector, "invalid label selector"))
        else:
            errs.extend(validate_replica_template(spec.get("template") or {}, compiled, "spec.template", "ReplicaSet"))
        errs.extend(_validate_strategy(spec.get("strategy") or {}, "spec.strategy"))
        min_ready = spec.get("minReadySeconds")
        errs.extend(validation.validate_nonnegative(min_ready, "spec.minReadySeconds"))
        errs.extend(validation.validate_nonnegative(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit"))
        deadline = spec.get("progressDeadlineSeconds")
        if deadline is not None:
            errs.extend(validation.validate_nonnegative(deadline, "spec.progressDeadlineSeconds"))
            if isinstance(deadline, int) and deadline <= int(min_ready or 0):
                errs.append(invalid("spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds"))
        return errs

    def validate_fields_update(self, new: Obj, old: Obj) -> list[FieldError]:
        # Upstream leaves the selector mutable through apps/v1beta1 and extensions/v1beta1 only;
        # hooks do not learn the request's version, so it is immutable here for every version.
        return validation.validate_immutable(
            (new.get("spec") or {}).get("selector"), (old.get("spec") or {}).get("selector"), "spec.selector"
        )

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        errs = super().validate_status_update(new, old)
        status = new.get("status") or {}
        errs.extend(validate_counts(status, "status", _STATUS_COUNTS))
        above = "cannot be greater than status.replicas"
        errs.extend(not_above(status, "status", "updatedReplicas", "replicas", above))
        errs.extend(not_above(status, "status", "readyReplicas", "replicas", above))
        errs.extend(not_above(status, "status", "availableReplicas", "replicas", above))
        below_ready = "cannot be greater than readyReplicas"
        errs.extend(not_above(status, "status", "availableReplicas", "readyReplicas", below_ready))
        errs.extend(collision_count_errors(new, old))
        return errs

    def row(self, obj: Obj) -> list[Any]:
        spec = obj.get("spec") or {}
        status = obj.get("status") or {}
        names, images = pod_containers_images(spec.get("template") or {})
        selector = spec.get("selector")
        selector_cell = "<invalid>" if compile_selector(selector) is None else selector_text(selector)
        return [
            obj["metadata"]["name"],
            f"{int(status.get('readyReplicas') or 0)}/{int(spec.get('replicas') or 0)}",
            int(status.get("updatedReplicas") or 0),
            int(status.get("availableReplicas") or 0),
            duration.age(obj),
            names,
            images,
            selector_cell,
        ]

    def scale_selector(self, obj: Obj) -> str:
        return selector_text((obj.get("spec") or {}).get("selector"))


STRATEGY = DeploymentStrategy()
