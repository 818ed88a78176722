"""DaemonSet: one pod of a template on every eligible node (apps/v1; retired apps/v1beta2 and extensions/v1beta1)."""

from __future__ import annotations

from typing import Any

from kybernetes.api import duration, validation
from kybernetes.api.errors import FieldError, forbidden, invalid, not_supported, required
from kybernetes.api.labels import format_labels
from kybernetes.registry.apps.deployments import int_or_percent_value, not_more_than_100_percent, validate_int_or_percent
from kybernetes.registry.apps.replicasets import (
    CONTAINERS_COLUMN,
    IMAGES_COLUMN,
    child,
    collision_count_errors,
    compile_selector,
    defaults_from_template_labels,
    format_selector,
    next_generation,
    relabel,
    set_default,
    validate_counts,
)
from kybernetes.registry.base import AGE_COLUMN, NAME_COLUMN, Column, Obj, ServedVersion, Strategy
from kybernetes.registry.core.podtemplate import (
    decoding,
    default_pod_template,
    pod_containers_images,
    validate_pod_template,
)

# apps/v1 keeps the retired spec.templateGeneration counter in this annotation.
TEMPLATE_GENERATION_ANNOTATION = "deprecated.daemonset.template.generation"


def template_generation(obj: Obj) -> int:
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get(TEMPLATE_GENERATION_ANNOTATION)
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _set_template_generation(obj: Obj, value: int) -> None:
    child(child(obj, "metadata"), "annotations")[TEMPLATE_GENERATION_ANNOTATION] = str(value)


def _default_rolling_update(spec: Obj, default_type: str, *, surge: bool) -> None:
    strategy = child(spec, "updateStrategy")
    if not strategy.get("type"):
        strategy["type"] = default_type
    if strategy["type"] == "RollingUpdate":
        rolling = child(strategy, "rollingUpdate")
        set_default(rolling, "maxUnavailable", 1)
        if surge:
            set_default(rolling, "maxSurge", 0)


def _from_extensions(obj: Obj) -> Obj:
    out = relabel(obj, "apps/v1")
    defaults_from_template_labels(out)
    spec = child(out, "spec")
    # extensions/v1beta1 DaemonSets replaced pods only when deleted unless told otherwise.
    _default_rolling_update(spec, "OnDelete", surge=False)
    set_default(spec, "revisionHistoryLimit", 10)
    generation = spec.pop("templateGeneration", None)
    if generation is not None:
        _set_template_generation(out, int(generation))
    return out


def _to_extensions(obj: Obj) -> Obj:
    out = relabel(obj, "extensions/v1beta1")
    annotations = (out.get("metadata") or {}).get("annotations") or {}
    value = annotations.pop(TEMPLATE_GENERATION_ANNOTATION, None)
    if value is not None:
        try:
            number = int(value)
        except ValueError:
            number = 0
        if number:
            child(out, "spec")["templateGeneration"] = number
        if not annotations:
            out["metadata"].pop("annotations", None)
    return out


APPS_V1BETA2 = ServedVersion(
    "apps",
    "v1beta2",
    "DaemonSet",
    lambda obj: relabel(obj, "apps/v1"),
    lambda obj: relabel(obj, "apps/v1beta2"),
    "apps/v1beta2 DaemonSet is deprecated in v1.9+, unavailable in v1.16+; use apps/v1 DaemonSet",
)
EXTENSIONS_V1BETA1 = ServedVersion(
    "extensions",
    "v1beta1",
    "DaemonSet",
    _from_extensions,
    _to_extensions,
    "extensions/v1beta1 DaemonSet is deprecated in v1.8+, unavailable in v1.16+; use apps/v1 DaemonSet",
)


def _validate_update_strategy(strategy: Obj, path: str) -> list[FieldError]:
    kind = strategy.get("type")
    if kind == "OnDelete":
        return []
    if kind == "RollingUpdate":
        rolling = strategy.get("rollingUpdate")
        if rolling is None:
            return [required(f"{path}.rollingUpdate")]
        return _validate_rolling_update(rolling, f"{path}.rollingUpdate")
    return [not_supported(path, strategy, ["RollingUpdate", "OnDelete"])]


def _validate_rolling_update(rolling: Obj, path: str) -> list[FieldError]:
    unavailable = rolling.get("maxUnavailable", 0)
    surge = rolling.get("maxSurge", 0)
    errs = validate_int_or_percent(unavailable, f"{path}.maxUnavailable")
    errs.extend(validate_int_or_percent(surge, f"{path}.maxSurge"))
    errs.extend(not_more_than_100_percent(unavailable, f"{path}.maxUnavailable"))
    errs.extend(not_more_than_100_percent(surge, f"{path}.maxSurge"))
    # Exactly one of the two may be non-zero.
    has_unavailable = int_or_percent_value(unavailable) != 0
    has_surge = int_or_percent_value(surge) != 0
    if has_unavailable and has_surge:
        errs.append(invalid(f"{path}.maxSurge", surge, "may not be set when maxUnavailable is non-zero"))
    elif not has_unavailable and not has_surge:
        errs.append(required(f"{path}.maxUnavailable", "cannot be 0 when maxSurge is 0"))
    return errs


_STATUS_COUNTS = (
    "currentNumberScheduled",
    "numberMisscheduled",
    "desiredNumberScheduled",
    "numberReady",
    "observedGeneration",
    "updatedNumberScheduled",
    "numberAvailable",
    "numberUnavailable",
    "collisionCount",
)


class DaemonSetStrategy(Strategy):
    """DaemonSetStrategy: defaults, checks and columns of apps/v1 DaemonSet."""

    group = "apps"
    version = "v1"
    kind = "DaemonSet"
    plural = "daemonsets"
    singular = "daemonset"
    short_names = ("ds",)
    categories = ("all",)
    subresources = ("status",)
    tracks_generation = True
    has_status = True
    # extensions/v1beta1 is converted (EXTENSIONS_V1BETA1) but not served: kubectl prefers the
    # group listed first in discovery, and the catalog lists "extensions" as soon as a kind
    # serves it, ahead of networking.k8s.io, so `kubectl get ingress` would pick the retired one.
    served_versions = (APPS_V1BETA2,)
    columns = (
        NAME_COLUMN,
        Column("Desired", "integer", description="Number of nodes that should run the daemon pod."),
        Column("Current", "integer", description="Number of nodes running at least one daemon pod."),
        Column("Ready", "integer", description="Number of nodes whose daemon pod is ready."),
        Column("Up-to-date", "integer", description="Number of nodes running the newest pod template."),
        Column("Available", "integer", description="Number of nodes whose daemon pod has been ready long enough."),
        Column("Node Selector", description="Node labels a node must have to run the daemon pod."),
        AGE_COLUMN,
        CONTAINERS_COLUMN,
        IMAGES_COLUMN,
        Column("Selector", priority=1, description="Label query over the pods the DaemonSet owns."),
    )

    def default(self, obj: Obj) -> None:
        spec = child(obj, "spec")
        _default_rolling_update(spec, "RollingUpdate", surge=True)
        set_default(spec, "revisionHistoryLimit", 10)
        with decoding(self.kind):
            default_pod_template(child(spec, "template"))

    def initial_status(self, obj: Obj) -> Obj:
        # The Python client requires these four counters in every DaemonSetStatus.
        return {"currentNumberScheduled": 0, "desiredNumberScheduled": 0, "numberMisscheduled": 0, "numberReady": 0}

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        _set_template_generation(obj, max(template_generation(obj), 1))

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        # Clients may not set the template generation; it counts template changes only.
        generation = template_generation(old)
        new_spec = new.get("spec") or {}
        old_spec = old.get("spec") or {}
        if new_spec.get("template") != old_spec.get("template"):
            generation += 1
        _set_template_generation(new, generation)
        next_generation(new, old, new_spec != old_spec)

    def validate_fields(self, obj: Obj) -> list[FieldError]:
        spec = obj.get("spec") or {}
        selector = spec.get("selector")
        template = spec.get("template") or {}
        errs = validation.validate_label_selector(selector, "spec.selector")
        compiled = compile_selector(selector)
        labels = (template.get("metadata") or {}).get("labels") or {}
        if compiled is not None and not compiled.matches(labels):
            errs.append(invalid("spec.template.metadata.labels", labels, "`selector` does not match template `labels`"))
        if isinstance(selector, dict) and not selector.get("matchLabels") and not selector.get("matchExpressions"):
            errs.append(invalid("spec.selector", selector, "empty selector is invalid for daemonset"))
        errs.extend(validate_pod_template(template, "spec.template", selector=None))
        pod_spec = template.get("spec") or {}
        restart = pod_spec.get("restartPolicy")
        if restart != "Always":
            errs.append(not_supported("spec.template.spec.restartPolicy", restart or "", ["Always"]))
        if pod_spec.get("activeDeadlineSeconds") is not None:
            detail = "activeDeadlineSeconds in DaemonSet is not Supported"
            errs.append(forbidden("spec.template.spec.activeDeadlineSeconds", detail))
        errs.extend(validation.validate_nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds"))
        errs.extend(_validate_update_strategy(spec.get("updateStrategy") or {}, "spec.updateStrategy"))
        errs.extend(validation.validate_nonnegative(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit"))
        return errs

    def validate_fields_update(self, new: Obj, old: Obj) -> list[FieldError]:
        # Upstream leaves the selector mutable through extensions/v1beta1 only; hooks do not
        # learn the request's version, so it is immutable here for every version.
        return validation.validate_immutable(
            (new.get("spec") or {}).get("selector"), (old.get("spec") or {}).get("selector"), "spec.selector"
        )

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        errs = super().validate_status_update(new, old)
        errs.extend(validate_counts(new.get("status") or {}, "status", _STATUS_COUNTS))
        errs.extend(collision_count_errors(new, old))
        return errs

    def row(self, obj: Obj) -> list[Any]:
        spec = obj.get("spec") or {}
        status = obj.get("status") or {}
        template = spec.get("template") or {}
        names, images = pod_containers_images(template)
        return [
            obj["metadata"]["name"],
            int(status.get("desiredNumberScheduled") or 0),
            int(status.get("currentNumberScheduled") or 0),
            int(status.get("numberReady") or 0),
            int(status.get("updatedNumberScheduled") or 0),
            int(status.get("numberAvailable") or 0),
            format_labels((template.get("spec") or {}).get("nodeSelector")),
            duration.age(obj),
            names,
            images,
            format_selector(spec.get("selector")),
        ]


STRATEGY = DaemonSetStrategy()
