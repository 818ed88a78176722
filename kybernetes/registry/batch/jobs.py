"""Job: pods that run to completion, with a selector the server generates from the Job's uid (batch/v1)."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from kybernetes.api import duration, validation
from kybernetes.api.errors import ErrorType, FieldError, duplicate, invalid, not_supported, required
from kybernetes.api.labels import NOTHING, Selector, SelectorError, selector_from_label_selector
from kybernetes.registry.base import AGE_COLUMN, NAME_COLUMN, Column, Obj, Strategy
from kybernetes.registry.core.podtemplate import (
    decoding,
    default_pod_template,
    pod_containers_images,
    validate_pod_template,
)

CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
# The unprefixed labels are still written (and checked) for older clients and controllers.
LEGACY_CONTROLLER_UID_LABEL = "controller-uid"
LEGACY_JOB_NAME_LABEL = "job-name"

MAX_INT32 = 2147483647
MAX_PARALLELISM_INDEXED = 100_000
MAX_FAILED_INDEXES = 100_000
COMPLETIONS_SOFT_LIMIT = 100_000
PARALLELISM_LIMIT_HIGH_COMPLETIONS = 10_000
MAX_FAILED_INDEXES_HIGH_COMPLETIONS = 10_000
MAX_POD_FAILURE_RULES = 20
MAX_EXIT_CODES = 255
MAX_POD_CONDITION_PATTERNS = 20

_FAILURE_ACTIONS = ("Count", "FailIndex", "FailJob", "Ignore")
_EXIT_CODE_OPERATORS = ("In", "NotIn")
_CONDITION_STATUSES = ("False", "True", "Unknown")
_REPLACEMENT_POLICIES = ("Failed", "TerminatingOrFailed")


def _set_default(parent: dict[str, Any], key: str, value: Any) -> None:
    if parent.get(key) is None:
        parent[key] = value


def _child(parent: dict[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key)
    if not isinstance(value, dict):
        value = parent[key] = {}
    return value


def _compile(selector: Any) -> Selector | None:
    if selector is None:
        return NOTHING
    if not isinstance(selector, dict) or validation.validate_label_selector(selector, "spec.selector"):
        return None
    try:
        return selector_from_label_selector(selector)
    except SelectorError:
        return None


def format_selector(selector: Any) -> str:
    """metav1.FormatLabelSelector as the wide SELECTOR column shows it."""
    compiled = _compile(selector)
    if compiled is None:
        return "<error>"
    return ("" if compiled.nothing else str(compiled)) or "<none>"


def _go_list(items: list[str]) -> str:
    """A []string as Go's %v prints it."""
    return "[" + " ".join(items) + "]"


# ----- defaults ----------------------------------------------------------------------------


def default_job_spec(spec: Obj) -> None:
    """SetDefaults_Job for the spec part."""
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    _set_default(spec, "parallelism", 1)
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = MAX_INT32 if spec.get("backoffLimitPerIndex") is not None else 6
    _set_default(spec, "completionMode", "NonIndexed")
    _set_default(spec, "suspend", False)
    failure_policy = spec.get("podFailurePolicy")
    for rule in (failure_policy or {}).get("rules") or []:
        for pattern in rule.get("onPodConditions") or []:
            if not pattern.get("status"):
                pattern["status"] = "True"
    _set_default(spec, "podReplacementPolicy", "Failed" if failure_policy is not None else "TerminatingOrFailed")
    _set_default(spec, "manualSelector", False)


def generate_selector(obj: Obj) -> None:
    """Label the template with the Job's name and uid and select on the uid, keeping labels a user set."""
    meta = obj.get("metadata") or {}
    spec = _child(obj, "spec")
    template_meta = _child(_child(spec, "template"), "metadata")
    labels = _child(template_meta, "labels")
    for key in (LEGACY_JOB_NAME_LABEL, JOB_NAME_LABEL):
        labels.setdefault(key, meta.get("name") or "")
    for key in (LEGACY_CONTROLLER_UID_LABEL, CONTROLLER_UID_LABEL):
        labels.setdefault(key, meta.get("uid") or "")
    match = _child(_child(spec, "selector"), "matchLabels")
    match.setdefault(CONTROLLER_UID_LABEL, meta.get("uid") or "")


# ----- validation shared with CronJob's job template ----------------------------------------


def validate_job_spec(spec: Obj, path: str) -> list[FieldError]:
    """validateJobSpec: counts, completion mode, failure and replacement policies, the pod template."""
    errs: list[FieldError] = []
    for name in (
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
        "backoffLimitPerIndex",
    ):
        errs.extend(validation.validate_nonnegative(spec.get(name), f"{path}.{name}"))
    per_index = spec.get("backoffLimitPerIndex")
    max_failed = spec.get("maxFailedIndexes")
    if max_failed is not None:
        errs.extend(validation.validate_nonnegative(max_failed, f"{path}.maxFailedIndexes"))
        if per_index is None:
            errs.append(required(f"{path}.backoffLimitPerIndex", "when maxFailedIndexes is specified"))
    mode = spec.get("completionMode")
    if mode is not None:
        if mode not in ("NonIndexed", "Indexed"):
            errs.append(not_supported(f"{path}.completionMode", mode, ["NonIndexed", "Indexed"]))
        if mode == "Indexed":
            errs.extend(_indexed_errors(spec, path))
    if mode in (None, "NonIndexed"):
        if per_index is not None:
            errs.append(invalid(f"{path}.backoffLimitPerIndex", per_index, "requires indexed completion mode"))
        if max_failed is not None:
            errs.append(invalid(f"{path}.maxFailedIndexes", max_failed, "requires indexed completion mode"))
    failure_policy = spec.get("podFailurePolicy")
    if failure_policy is not None:
        errs.extend(_validate_pod_failure_policy(spec, failure_policy, f"{path}.podFailurePolicy"))
    replacement = spec.get("podReplacementPolicy")
    if replacement is not None:
        if failure_policy is not None:
            if replacement != "Failed":
                errs.append(not_supported(f"{path}.podReplacementPolicy", replacement, ["Failed"]))
        elif replacement not in _REPLACEMENT_POLICIES:
            errs.append(not_supported(f"{path}.podReplacementPolicy", replacement, list(_REPLACEMENT_POLICIES)))
    template = spec.get("template") or {}
    errs.extend(validate_pod_template(template, f"{path}.template", selector=None))
    restart = (template.get("spec") or {}).get("restartPolicy") or ""
    restart_path = f"{path}.template.spec.restartPolicy"
    # Pod defaulting turns an unset policy into Always, so both mean "not chosen".
    if restart in ("Always", ""):
        errs.append(required(restart_path, 'valid values: "OnFailure", "Never"'))
    elif restart not in ("OnFailure", "Never"):
        errs.append(not_supported(restart_path, restart, ["OnFailure", "Never"]))
    elif failure_policy is not None and restart != "Never":
        errs.append(invalid(restart_path, restart, 'only "Never" is supported when podFailurePolicy is specified'))
    return errs


def _indexed_errors(spec: Obj, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    completions = spec.get("completions")
    parallelism = spec.get("parallelism")
    max_failed = spec.get("maxFailedIndexes")
    if completions is None:
        errs.append(required(f"{path}.completions", "when completion mode is Indexed"))
    if isinstance(parallelism, int) and parallelism > MAX_PARALLELISM_INDEXED:
        detail = f"must be less than or equal to {MAX_PARALLELISM_INDEXED} when completion mode is Indexed"
        errs.append(invalid(f"{path}.parallelism", parallelism, detail))
    if isinstance(completions, int) and isinstance(max_failed, int) and max_failed > completions:
        errs.append(invalid(f"{path}.maxFailedIndexes", max_failed, "must be less than or equal to completions"))
    if isinstance(max_failed, int) and max_failed > MAX_FAILED_INDEXES:
        errs.append(invalid(f"{path}.maxFailedIndexes", max_failed, f"must be less than or equal to {MAX_FAILED_INDEXES}"))
    many = isinstance(completions, int) and completions > COMPLETIONS_SOFT_LIMIT
    if many and spec.get("backoffLimitPerIndex") is not None:
        above = f"when completions are above {COMPLETIONS_SOFT_LIMIT} and used with backoff limit per index"
        if max_failed is None:
            detail = f"must be specified when completions is above {COMPLETIONS_SOFT_LIMIT}"
            errs.append(required(f"{path}.maxFailedIndexes", detail))
        if isinstance(parallelism, int) and parallelism > PARALLELISM_LIMIT_HIGH_COMPLETIONS:
            detail = f"must be less than or equal to {PARALLELISM_LIMIT_HIGH_COMPLETIONS} {above}"
            errs.append(invalid(f"{path}.parallelism", parallelism, detail))
        if isinstance(max_failed, int) and max_failed > MAX_FAILED_INDEXES_HIGH_COMPLETIONS:
            detail = f"must be less than or equal to {MAX_FAILED_INDEXES_HIGH_COMPLETIONS} {above}"
            errs.append(invalid(f"{path}.maxFailedIndexes", max_failed, detail))
    return errs


def _validate_pod_failure_policy(spec: Obj, policy: Obj, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    rules = policy.get("rules") or []
    if len(rules) > MAX_POD_FAILURE_RULES:
        errs.append(too_many(f"{path}.rules", len(rules), MAX_POD_FAILURE_RULES))
    pod_spec = (spec.get("template") or {}).get("spec") or {}
    names = {c.get("name") for c in (pod_spec.get("containers") or []) + (pod_spec.get("initContainers") or [])}
    for i, rule in enumerate(rules):
        rule_path = f"{path}.rules[{i}]"
        action = rule.get("action") or ""
        action_path = f"{rule_path}.action"
        if not action:
            errs.append(required(action_path, "valid values: " + _go_quoted_list(_FAILURE_ACTIONS)))
        elif action == "FailIndex":
            if spec.get("backoffLimitPerIndex") is None:
                errs.append(invalid(action_path, action, "requires the backoffLimitPerIndex to be set"))
        elif action not in _FAILURE_ACTIONS:
            errs.append(not_supported(action_path, action, list(_FAILURE_ACTIONS)))
        exit_codes = rule.get("onExitCodes")
        conditions = rule.get("onPodConditions") or []
        if exit_codes is not None:
            errs.extend(_validate_exit_codes(exit_codes, f"{rule_path}.onExitCodes", names))
        if conditions:
            errs.extend(_validate_pod_conditions(conditions, f"{rule_path}.onPodConditions"))
        if exit_codes is not None and conditions:
            errs.append(_omitted_invalid(rule_path, "specifying both OnExitCodes and OnPodConditions is not supported"))
        if exit_codes is None and not conditions:
            errs.append(_omitted_invalid(rule_path, "specifying one of OnExitCodes and OnPodConditions is required"))
    return errs


def _validate_exit_codes(requirement: Obj, path: str, names: set[Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    operator = requirement.get("operator") or ""
    if not operator:
        errs.append(required(f"{path}.operator", "valid values: " + _go_quoted_list(_EXIT_CODE_OPERATORS)))
    elif operator not in _EXIT_CODE_OPERATORS:
        errs.append(not_supported(f"{path}.operator", operator, list(_EXIT_CODE_OPERATORS)))
    container = requirement.get("containerName")
    if container is not None and container not in names:
        detail = "must be one of the container or initContainer names in the pod template"
        errs.append(invalid(f"{path}.containerName", container, detail))
    values = requirement.get("values") or []
    values_path = f"{path}.values"
    if not values:
        errs.append(invalid(values_path, values, "at least one value is required"))
    elif len(values) > MAX_EXIT_CODES:
        errs.append(too_many(values_path, len(values), MAX_EXIT_CODES))
    seen: set[Any] = set()
    for j, value in enumerate(values):
        if operator == "In" and value == 0:
            errs.append(invalid(f"{values_path}[{j}]", value, "must not be 0 for the In operator"))
        if value in seen:
            errs.append(duplicate(f"{values_path}[{j}]", value))
        seen.add(value)
    if any(a > b for a, b in zip(values, values[1:])):
        errs.append(invalid(values_path, values, "must be ordered"))
    return errs


def _validate_pod_conditions(patterns: list[Obj], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if len(patterns) > MAX_POD_CONDITION_PATTERNS:
        errs.append(too_many(path, len(patterns), MAX_POD_CONDITION_PATTERNS))
    for j, pattern in enumerate(patterns):
        kind = pattern.get("type") or ""
        for msg in validation.is_qualified_name(kind):
            errs.append(invalid(f"{path}[{j}].type", kind, msg))
        status = pattern.get("status") or ""
        if not status:
            errs.append(required(f"{path}[{j}].status", "valid values: " + _go_quoted_list(_CONDITION_STATUSES)))
        elif status not in _CONDITION_STATUSES:
            errs.append(not_supported(f"{path}[{j}].status", status, list(_CONDITION_STATUSES)))
    return errs


def _go_quoted_list(values: tuple[str, ...]) -> str:
    """A []string as Go's %q prints it: ["a" "b"]."""
    return "[" + " ".join(f'"{v}"' for v in values) + "]"


def _omitted_invalid(path: str, detail: str) -> FieldError:
    """An Invalid error whose value upstream leaves out of the message."""
    return FieldError(ErrorType.INVALID, path, detail)


def too_many(path: str, actual: int, limit: int) -> FieldError:
    return FieldError(ErrorType.TOO_MANY, path, f"must have at most {limit} items", actual)


# ----- Job-level checks ----------------------------------------------------------------------


def _has_label(labels: dict[str, Any], key: str, expected: str) -> list[FieldError]:
    path = f"spec.template.metadata.labels[{key}]"
    if key not in labels:
        return [required(path, expected)]
    if labels[key] != expected:
        return [invalid(path, labels, f"must be '{expected}'")]
    return []


def _generated_selector_errors(obj: Obj) -> list[FieldError]:
    """validateGeneratedSelector: a server-made selector must still select this Job's pods."""
    spec = obj.get("spec") or {}
    if spec.get("manualSelector") is True or spec.get("selector") is None:
        return []
    meta = obj.get("metadata") or {}
    uid = meta.get("uid") or ""
    name = meta.get("name") or ""
    errs: list[FieldError] = []
    if not uid:
        errs.append(required("metadata.uid"))
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    errs.extend(_has_label(labels, LEGACY_CONTROLLER_UID_LABEL, uid))
    errs.extend(_has_label(labels, LEGACY_JOB_NAME_LABEL, name))
    errs.extend(_has_label(labels, CONTROLLER_UID_LABEL, uid))
    errs.extend(_has_label(labels, JOB_NAME_LABEL, name))
    expected = {
        LEGACY_CONTROLLER_UID_LABEL: uid,
        LEGACY_JOB_NAME_LABEL: name,
        CONTROLLER_UID_LABEL: uid,
        JOB_NAME_LABEL: name,
    }
    compiled = _compile(spec.get("selector"))
    if compiled is not None and not compiled.matches(expected):
        errs.append(invalid("spec.selector", spec.get("selector"), "`selector` not auto-generated"))
    return errs


def _copy_key(dst: dict[str, Any], src: dict[str, Any], key: str) -> None:
    if key in src:
        dst[key] = copy.deepcopy(src[key])
    else:
        dst.pop(key, None)


def _template_with_scheduling_of(old: Obj, new: Obj) -> Obj:
    """The old template, with the scheduling directives a suspended, unstarted Job may change taken from `new`."""
    result = copy.deepcopy(old)
    old_spec = _child(result, "spec")
    new_spec = new.get("spec") or {}
    new_affinity = new_spec.get("affinity")
    old_affinity = old_spec.get("affinity")
    if new_affinity is None and old_affinity is not None:
        old_affinity.pop("nodeAffinity", None)
        if not any(old_affinity.get(k) is not None for k in ("podAffinity", "podAntiAffinity")):
            old_spec.pop("affinity", None)
    elif new_affinity is not None and old_affinity is None:
        node_affinity = new_affinity.get("nodeAffinity")
        old_spec["affinity"] = {} if "nodeAffinity" not in new_affinity else {"nodeAffinity": copy.deepcopy(node_affinity)}
    elif new_affinity is not None and old_affinity is not None:
        _copy_key(old_affinity, new_affinity, "nodeAffinity")
    for key in ("nodeSelector", "tolerations", "schedulingGates"):
        _copy_key(old_spec, new_spec, key)
    old_meta = _child(result, "metadata")
    new_meta = new.get("metadata") or {}
    for key in ("annotations", "labels"):
        _copy_key(old_meta, new_meta, key)
    return result


def _parse_time(value: Any) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        return duration.parse_time(value)
    except ValueError:
        return None


def _condition_true(status: Obj, kind: str) -> bool:
    for condition in status.get("conditions") or []:
        if condition.get("type") == kind:
            return condition.get("status") == "True"
    return False


def job_status_cell(obj: Obj) -> str:
    """The STATUS column: the first of Complete, Failed, Terminating, Suspended, FailureTarget, else Running."""
    status = obj.get("status") or {}
    if _condition_true(status, "Complete"):
        return "Complete"
    if _condition_true(status, "Failed"):
        return "Failed"
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        return "Terminating"
    if _condition_true(status, "Suspended"):
        return "Suspended"
    if _condition_true(status, "FailureTarget"):
        return "FailureTarget"
    return "Running"


def completions_cell(obj: Obj) -> str:
    spec = obj.get("spec") or {}
    succeeded = int((obj.get("status") or {}).get("succeeded") or 0)
    completions = spec.get("completions")
    if completions is not None:
        return f"{succeeded}/{completions}"
    parallelism = int(spec.get("parallelism") or 0)
    if parallelism > 1:
        return f"{succeeded}/1 of {parallelism}"
    return f"{succeeded}/1"


def duration_cell(obj: Obj) -> str:
    """How long the Job ran: start to completion, or start to now while it runs; empty before it starts."""
    status = obj.get("status") or {}
    start = _parse_time(status.get("startTime"))
    if start is None:
        return ""
    end = _parse_time(status.get("completionTime")) or duration.now()
    return duration.human_duration((end - start).total_seconds())


_STATUS_COUNTS = ("active", "succeeded", "failed", "ready", "terminating")


class JobStrategy(Strategy):
    """JobStrategy: defaults, the generated selector, checks and columns of batch/v1 Job."""

    group = "batch"
    version = "v1"
    kind = "Job"
    plural = "jobs"
    singular = "job"
    categories = ("all",)
    subresources = ("status",)
    tracks_generation = True
    has_status = True
    # batch/v1 keeps the old default for API clients that send no policy: pods outlive the Job.
    default_propagation = "Orphan"
    columns = (
        NAME_COLUMN,
        Column("Status", description="Whether the Job runs, completed, failed or is suspended."),
        Column("Completions", description="Pods that succeeded out of the completions wanted."),
        Column("Duration", description="How long the Job has run, or took to complete."),
        AGE_COLUMN,
        Column("Containers", priority=1, description="Names of the containers in the pod template."),
        Column("Images", priority=1, description="Images the containers of the pod template run."),
        Column("Selector", priority=1, description="Label query over the pods the Job owns."),
    )

    def default(self, obj: Obj) -> None:
        spec = _child(obj, "spec")
        default_job_spec(spec)
        template = _child(spec, "template")
        labels = (template.get("metadata") or {}).get("labels")
        meta = _child(obj, "metadata")
        if labels is not None and not meta.get("labels"):
            meta["labels"] = dict(labels)
        with decoding(self.kind):
            default_pod_template(template)

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        meta = _child(obj, "metadata")
        template_meta = _child(_child(_child(obj, "spec"), "template"), "metadata")
        copied = meta.get("labels") is not None and meta.get("labels") == template_meta.get("labels")
        if obj["spec"].get("manualSelector") is not True:
            generate_selector(obj)
        # Upstream's defaulting shares one label map between the Job and its template, so the
        # generated labels reach the Job too; and it re-runs on every read, so a Job without
        # labels shows the template's. Store what upstream shows.
        if copied or not meta.get("labels"):
            labels = template_meta.get("labels")
            if labels is not None:
                meta["labels"] = dict(labels)

    def validate_fields(self, obj: Obj) -> list[FieldError]:
        spec = obj.get("spec") or {}
        meta = obj.get("metadata") or {}
        errs = _generated_selector_errors(obj)
        errs.extend(validate_job_spec(spec, "spec"))
        selector = spec.get("selector")
        if selector is None:
            errs.append(required("spec.selector"))
        else:
            errs.extend(validation.validate_label_selector(selector, "spec.selector"))
        compiled = _compile(selector)
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        if compiled is not None and not compiled.matches(labels):
            errs.append(invalid("spec.template.metadata.labels", labels, "`selector` does not match template `labels`"))
        completions = spec.get("completions")
        if spec.get("completionMode") == "Indexed" and isinstance(completions, int) and completions > 0:
            # Indexed pods get `<job>-<index>` hostnames, which must be DNS labels.
            hostname = f"{meta.get('name') or ''}-{completions - 1}"
            if validation.is_dns1123_label(hostname):
                detail = f"will not able to create pod with invalid DNS label: {hostname}"
                errs.append(invalid("metadata.name", meta.get("name") or "", detail))
        return errs

    def validate_fields_update(self, new: Obj, old: Obj) -> list[FieldError]:
        spec = new.get("spec") or {}
        old_spec = old.get("spec") or {}
        errs = self._completions_update_errors(spec, old_spec)
        errs.extend(validation.validate_immutable(spec.get("selector"), old_spec.get("selector"), "spec.selector"))
        old_template = old_spec.get("template") or {}
        template = spec.get("template") or {}
        suspended = old_spec.get("suspend") is True
        never_started = not (old.get("status") or {}).get("startTime")
        if suspended and never_started:
            old_template = _template_with_scheduling_of(old_template, template)
        errs.extend(validation.validate_immutable(template, old_template, "spec.template"))
        for name in ("completionMode", "podFailurePolicy", "backoffLimitPerIndex", "managedBy"):
            errs.extend(validation.validate_immutable(spec.get(name), old_spec.get(name), f"spec.{name}"))
        return errs

    @staticmethod
    def _completions_update_errors(spec: Obj, old_spec: Obj) -> list[FieldError]:
        completions = spec.get("completions")
        if spec.get("completionMode") != "Indexed":
            return validation.validate_immutable(completions, old_spec.get("completions"), "spec.completions")
        # Indexed Jobs may be resized when completions and parallelism move together.
        if completions == old_spec.get("completions") or completions is None:
            return []
        if completions != spec.get("parallelism"):
            return [invalid("spec.completions", completions, "can only be modified in tandem with spec.parallelism")]
        return []

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        errs = super().validate_status_update(new, old)
        status = new.get("status") or {}
        for name in _STATUS_COUNTS:
            errs.extend(validation.validate_nonnegative(status.get(name), f"status.{name}"))
        uncounted = status.get("uncountedTerminatedPods") or {}
        seen: set[str] = set()
        for part in ("succeeded", "failed"):
            for i, uid in enumerate(uncounted.get(part) or []):
                path = f"status.uncountedTerminatedPods.{part}[{i}]"
                if not uid:
                    errs.append(invalid(path, uid, "must not be empty"))
                elif uid in seen:
                    errs.append(duplicate(path, uid))
                else:
                    seen.add(uid)
        return errs

    def warnings(self, obj: Obj) -> list[str]:
        msgs = validation.is_dns1123_label((obj.get("metadata") or {}).get("name") or "")
        if msgs:
            return [
                "metadata.name: this is used in Pod names and hostnames, which can result in surprising behavior; "
                f"a DNS label is recommended: {_go_list(msgs)}"
            ]
        return []

    def row(self, obj: Obj) -> list[Any]:
        spec = obj.get("spec") or {}
        names, images = pod_containers_images(spec.get("template") or {})
        return [
            obj["metadata"]["name"],
            job_status_cell(obj),
            completions_cell(obj),
            duration_cell(obj),
            duration.age(obj),
            names,
            images,
            format_selector(spec.get("selector")),
        ]

    def selectable_fields(self, obj: Obj) -> dict[str, str]:
        return {"status.successful": str(int((obj.get("status") or {}).get("succeeded") or 0))}


STRATEGY = JobStrategy()
