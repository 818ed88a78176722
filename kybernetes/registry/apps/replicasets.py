"""ReplicaSet: keeps a fixed number of pods matching a selector running (apps/v1; retired v1beta2, extensions).

The helpers at the top are shared by the other pod-template workloads (Deployment, DaemonSet):
selector checks, the template checks upstream calls ValidatePodTemplateSpecForReplicaSet,
generation bookkeeping and the defaulting that retired API versions did before conversion.
"""

from __future__ import annotations

import copy
from typing import Any

from kybernetes.api import duration, validation
from kybernetes.api.errors import FieldError, forbidden, invalid, not_supported, required
from kybernetes.api.labels import NOTHING, Selector, SelectorError, selector_from_label_selector
from kybernetes.registry.base import AGE_COLUMN, NAME_COLUMN, Column, Obj, ServedVersion, Strategy
from kybernetes.registry.core.podtemplate import (
    decoding,
    default_pod_template,
    pod_containers_images,
    validate_pod_template,
)

CONTAINERS_COLUMN = Column("Containers", priority=1, description="Names of the containers in the pod template.")
IMAGES_COLUMN = Column("Images", priority=1, description="Images the containers of the pod template run.")

# ----- helpers shared by the apps workloads ---------------------------------------------------


def set_default(parent: dict[str, Any], key: str, value: Any) -> None:
    """Fill `key` when it is absent or null, as a nil pointer is defaulted upstream."""
    if parent.get(key) is None:
        parent[key] = value


def child(parent: dict[str, Any], key: str) -> dict[str, Any]:
    """The dict at `key`, created when absent or null (a Go struct field is never nil)."""
    value = parent.get(key)
    if not isinstance(value, dict):
        value = parent[key] = {}
    return value


def compile_selector(selector: Any) -> Selector | None:
    """metav1.LabelSelectorAsSelector: nil selects nothing; None means the selector cannot be built."""
    if selector is None:
        return NOTHING
    if not isinstance(selector, dict) or validation.validate_label_selector(selector, "spec.selector"):
        return None
    try:
        return selector_from_label_selector(selector)
    except SelectorError:
        return None


def selector_text(selector: Any) -> str:
    """The selector as a query string; empty when it selects everything or cannot be built."""
    compiled = compile_selector(selector)
    return "" if compiled is None or compiled.nothing else str(compiled)


def validate_workload_selector(selector: Any, path: str, what: str) -> list[FieldError]:
    """A required, well formed, non-empty selector (`what` names the kind in upstream's message)."""
    if selector is None:
        return [required(path)]
    errs = validation.validate_label_selector(selector, path)
    if isinstance(selector, dict) and not selector.get("matchLabels") and not selector.get("matchExpressions"):
        errs.append(invalid(path, selector, f"empty selector is invalid for {what}"))
    return errs


def template_match_errors(template: Obj, selector: Selector, path: str) -> list[FieldError]:
    """The template's labels must be selected by the controller's own selector."""
    labels = (template.get("metadata") or {}).get("labels") or {}
    if not selector.empty and not selector.matches(labels):
        return [invalid(f"{path}.metadata.labels", labels, "`selector` does not match template `labels`")]
    return []


def validate_replica_template(template: Obj, selector: Selector, path: str, owner: str) -> list[FieldError]:
    """ValidatePodTemplateSpecForReplicaSet: selector match, pod template, restartPolicy Always."""
    errs = template_match_errors(template, selector, path)
    errs.extend(validate_pod_template(template, path, selector=None))
    pod_spec = template.get("spec") or {}
    restart = pod_spec.get("restartPolicy")
    if restart != "Always":
        errs.append(not_supported(f"{path}.spec.restartPolicy", restart or "", ["Always"]))
    if pod_spec.get("activeDeadlineSeconds") is not None:
        errs.append(forbidden(f"{path}.spec.activeDeadlineSeconds", f"activeDeadlineSeconds in {owner} is not Supported"))
    return errs


def next_generation(new: Obj, old: Obj, changed: bool) -> None:
    """Move metadata.generation one past the stored value when the desired state changed."""
    old_generation = int((old.get("metadata") or {}).get("generation") or 0)
    child(new, "metadata")["generation"] = old_generation + 1 if changed else old_generation


def defaults_from_template_labels(obj: Obj) -> None:
    """Retired versions (extensions/v1beta1, apps/v1beta1) took selector and labels from the template."""
    spec = child(obj, "spec")
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels")
    if labels is None:
        return
    if spec.get("selector") is None:
        spec["selector"] = {"matchLabels": dict(labels)}
    meta = child(obj, "metadata")
    if not meta.get("labels"):
        meta["labels"] = dict(labels)


def relabel(obj: Obj, api_version: str) -> Obj:
    """A deep copy of `obj` that declares `api_version` (kinds keep their names across versions)."""
    out = copy.deepcopy(obj)
    out["apiVersion"] = api_version
    return out


def validate_counts(status: Obj, path: str, names: tuple[str, ...]) -> list[FieldError]:
    errs: list[FieldError] = []
    for name in names:
        errs.extend(validation.validate_nonnegative(status.get(name), f"{path}.{name}"))
    return errs


def not_above(status: Obj, path: str, name: str, limit: str, detail: str) -> list[FieldError]:
    value = int(status.get(name) or 0)
    if value > int(status.get(limit) or 0):
        return [invalid(f"{path}.{name}", value, detail)]
    return []


def collision_count_errors(new: Obj, old: Obj) -> list[FieldError]:
    """status.collisionCount may grow but never shrink (or vanish once set)."""
    before = (old.get("status") or {}).get("collisionCount")
    after = (new.get("status") or {}).get("collisionCount")
    if before is not None and (after is None or after < before):
        return [invalid("status.collisionCount", after or 0, "cannot be decremented")]
    return []


# ----- ReplicaSet ----------------------------------------------------------------------------


def _default_extensions(obj: Obj) -> None:
    defaults_from_template_labels(obj)
    set_default(child(obj, "spec"), "replicas", 1)


def _from_apps_v1beta2(obj: Obj) -> Obj:
    return relabel(obj, "apps/v1")


def _to_apps_v1beta2(obj: Obj) -> Obj:
    return relabel(obj, "apps/v1beta2")


def _from_extensions(obj: Obj) -> Obj:
    out = relabel(obj, "apps/v1")
    _default_extensions(out)
    return out


def _to_extensions(obj: Obj) -> Obj:
    return relabel(obj, "extensions/v1beta1")


APPS_V1BETA2 = ServedVersion(
    "apps",
    "v1beta2",
    "ReplicaSet",
    _from_apps_v1beta2,
    _to_apps_v1beta2,
    "apps/v1beta2 ReplicaSet is deprecated in v1.9+, unavailable in v1.16+; use apps/v1 ReplicaSet",
)
EXTENSIONS_V1BETA1 = ServedVersion(
    "extensions",
    "v1beta1",
    "ReplicaSet",
    _from_extensions,
    _to_extensions,
    "extensions/v1beta1 ReplicaSet is deprecated in v1.8+, unavailable in v1.16+; use apps/v1 ReplicaSet",
)

_STATUS_COUNTS = ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas", "observedGeneration")


class ReplicaSetStrategy(Strategy):
    """ReplicaSetStrategy: defaults, checks and columns of apps/v1 ReplicaSet."""

    group = "apps"
    version = "v1"
    kind = "ReplicaSet"
    plural = "replicasets"
    singular = "replicaset"
    short_names = ("rs",)
    categories = ("all",)
    subresources = ("status", "scale")
    tracks_generation = True
    has_status = True
    # extensions/v1beta1 is converted (EXTENSIONS_V1BETA1) but not served: kubectl prefers the
    # group listed first in discovery, and the catalog lists "extensions" as soon as a kind
    # serves it, ahead of networking.k8s.io, so `kubectl get ingress` would pick the retired one.
    served_versions = (APPS_V1BETA2,)
    columns = (
        NAME_COLUMN,
        Column("Desired", "integer", description="Number of pods the ReplicaSet wants."),
        Column("Current", "integer", description="Number of pods the ReplicaSet currently has."),
        Column("Ready", "integer", description="Number of its pods that are ready."),
        AGE_COLUMN,
        CONTAINERS_COLUMN,
        IMAGES_COLUMN,
        Column("Selector", priority=1, description="Label query over the pods the ReplicaSet owns."),
    )

    def default(self, obj: Obj) -> None:
        spec = child(obj, "spec")
        set_default(spec, "replicas", 1)
        with decoding(self.kind):
            default_pod_template(child(spec, "template"))

    def initial_status(self, obj: Obj) -> Obj:
        # The Python client requires ReplicaSetStatus.replicas; upstream's zero value has it too.
        return {"replicas": 0}

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        next_generation(new, old, new.get("spec") != old.get("spec"))

    def validate_fields(self, obj: Obj) -> list[FieldError]:
        spec = obj.get("spec") or {}
        errs = validation.validate_nonnegative(spec.get("replicas"), "spec.replicas")
        errs.extend(validation.validate_nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds"))
        selector = spec.get("selector")
        # Upstream's ReplicaSet message says "deployment" too.
        errs.extend(validate_workload_selector(selector, "spec.selector", "deployment"))
        compiled = compile_selector(selector)
        if compiled is None:
            errs.append(invalid("spec.selector", selector, "invalid label selector"))
        else:
            errs.extend(validate_replica_template(spec.get("template") or {}, compiled, "spec.template", "ReplicaSet"))
        return errs

    def validate_fields_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return validation.validate_immutable(
            (new.get("spec") or {}).get("selector"), (old.get("spec") or {}).get("selector"), "spec.selector"
        )

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        errs = super().validate_status_update(new, old)
        status = new.get("status") or {}
        errs.extend(validate_counts(status, "status", _STATUS_COUNTS))
        above = "cannot be greater than status.replicas"
        errs.extend(not_above(status, "status", "fullyLabeledReplicas", "replicas", above))
        errs.extend(not_above(status, "status", "readyReplicas", "replicas", above))
        errs.extend(not_above(status, "status", "availableReplicas", "replicas", above))
        below_ready = "cannot be greater than readyReplicas"
        errs.extend(not_above(status, "status", "availableReplicas", "readyReplicas", below_ready))
        return errs

    def row(self, obj: Obj) -> list[Any]:
        spec = obj.get("spec") or {}
        status = obj.get("status") or {}
        names, images = pod_containers_images(spec.get("template") or {})
        return [
            obj["metadata"]["name"],
            int(spec.get("replicas") or 0),
            int(status.get("replicas") or 0),
            int(status.get("readyReplicas") or 0),
            duration.age(obj),
            names,
            images,
            format_selector(spec.get("selector")),
        ]

    def selectable_fields(self, obj: Obj) -> dict[str, str]:
        return {"status.replicas": str(int((obj.get("status") or {}).get("replicas") or 0))}

    def scale_selector(self, obj: Obj) -> str:
        return selector_text((obj.get("spec") or {}).get("selector"))


def format_selector(selector: Any) -> str:
    """metav1.FormatLabelSelector as the wide SELECTOR column shows it."""
    compiled = compile_selector(selector)
    if compiled is None:
        return "<error>"
    text = "" if compiled.nothing else str(compiled)
    return text or "<none>"


STRATEGY = ReplicaSetStrategy()
