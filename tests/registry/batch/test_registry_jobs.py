"""Job strategy: defaults, the generated selector, validation messages, update rules, table rows."""

from __future__ import annotations

import copy
from datetime import datetime, timezone

import pytest

from kybernetes.api import duration, validation
from kybernetes.registry.batch import jobs
from tests.registry.apps.storeflow import create, messages, update, update_status, valid

STRATEGY = jobs.STRATEGY
UID = "uid-1"
GENERATED = {
    "controller-uid": UID,
    "job-name": "batch-job",
    "batch.kubernetes.io/controller-uid": UID,
    "batch.kubernetes.io/job-name": "batch-job",
}


def manifest(**spec_changes: object) -> dict:
    """The book's batch-job.yaml (chapter 4)."""
    obj = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "batch-job"},
        "spec": {
            "template": {
                "metadata": {"labels": {"app": "batch-job"}},
                "spec": {"restartPolicy": "OnFailure", "containers": [{"name": "main", "image": "luksa/batch-job"}]},
            }
        },
    }
    obj["spec"].update(spec_changes)
    return obj


def spec_without_template(obj: dict) -> dict:
    return {k: v for k, v in obj["spec"].items() if k != "template"}


def test_identity() -> None:
    assert (STRATEGY.group, STRATEGY.version, STRATEGY.plural, STRATEGY.singular) == ("batch", "v1", "jobs", "job")
    assert STRATEGY.short_names == () and STRATEGY.categories == ("all",)
    assert STRATEGY.subresources == ("status",)
    assert STRATEGY.tracks_generation and STRATEGY.has_status


def test_defaults_and_generated_selector() -> None:
    stored = valid(STRATEGY, manifest())
    assert spec_without_template(stored) == {
        "completions": 1,
        "parallelism": 1,
        "backoffLimit": 6,
        "completionMode": "NonIndexed",
        "suspend": False,
        "podReplacementPolicy": "TerminatingOrFailed",
        "manualSelector": False,
        "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": UID}},
    }
    assert stored["spec"]["template"]["metadata"]["labels"] == {"app": "batch-job", **GENERATED}
    # Upstream's defaulting shares the label map with the template, so the Job carries them too.
    assert stored["metadata"]["labels"] == {"app": "batch-job", **GENERATED}
    assert stored["status"] == {}


def test_job_without_labels_shows_the_generated_ones() -> None:
    obj = manifest()
    del obj["spec"]["template"]["metadata"]
    stored = valid(STRATEGY, obj)
    assert stored["metadata"]["labels"] == GENERATED


def test_own_job_labels_are_kept() -> None:
    obj = manifest()
    obj["metadata"]["labels"] = {"team": "batch"}
    assert valid(STRATEGY, obj)["metadata"]["labels"] == {"team": "batch"}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"completions": 5}, {"completions": 5, "parallelism": 1}),
        ({"parallelism": 3}, {"parallelism": 3}),
        ({"completions": 4, "parallelism": 2}, {"completions": 4, "parallelism": 2}),
    ],
    ids=["completions-only", "parallelism-only", "both"],
)
def test_completions_and_parallelism_defaults(spec: dict, expected: dict) -> None:
    stored = valid(STRATEGY, manifest(**spec))
    assert {k: stored["spec"].get(k) for k in ("completions", "parallelism") if k in stored["spec"]} == expected


def test_backoff_limit_per_index_makes_backoff_limit_unbounded() -> None:
    stored = valid(STRATEGY, manifest(completionMode="Indexed", completions=3, backoffLimitPerIndex=1))
    assert stored["spec"]["backoffLimit"] == 2147483647


def test_pod_failure_policy_defaults() -> None:
    policy = {"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]}
    obj = manifest(podFailurePolicy=policy)
    obj["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    stored = valid(STRATEGY, obj)
    assert stored["spec"]["podReplacementPolicy"] == "Failed"
    assert stored["spec"]["podFailurePolicy"]["rules"][0]["onPodConditions"] == [{"type": "DisruptionTarget", "status": "True"}]


def test_manual_selector_is_not_generated() -> None:
    obj = manifest(manualSelector=True, selector={"matchLabels": {"app": "batch-job"}})
    stored = valid(STRATEGY, obj)
    assert stored["spec"]["selector"] == {"matchLabels": {"app": "batch-job"}}
    assert stored["spec"]["template"]["metadata"]["labels"] == {"app": "batch-job"}


def _no_restart_policy() -> dict:
    obj = manifest()
    del obj["spec"]["template"]["spec"]["restartPolicy"]
    return obj


def _with_restart_policy(policy: str) -> dict:
    obj = manifest()
    obj["spec"]["template"]["spec"]["restartPolicy"] = policy
    return obj


def _wrong_uid_label() -> dict:
    obj = manifest()
    obj["spec"]["template"]["metadata"]["labels"]["controller-uid"] = "someone-else"
    return obj


def _long_indexed_name() -> dict:
    obj = manifest(completionMode="Indexed", completions=100)
    obj["metadata"]["name"] = "a" * 61
    return obj


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (_no_restart_policy(), ['spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"']),
        (_with_restart_policy("Always"), ['spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"']),
        (manifest(parallelism=-1), ["spec.parallelism: Invalid value: -1: must be greater than or equal to 0"]),
        (manifest(backoffLimit=-1), ["spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0"]),
        (
            manifest(activeDeadlineSeconds=-5, ttlSecondsAfterFinished=-1),
            [
                "spec.activeDeadlineSeconds: Invalid value: -5: must be greater than or equal to 0",
                "spec.ttlSecondsAfterFinished: Invalid value: -1: must be greater than or equal to 0",
            ],
        ),
        (
            manifest(completionMode="Indexed", completions=None, parallelism=2),
            ["spec.completions: Required value: when completion mode is Indexed"],
        ),
        (
            manifest(completionMode="Sequential"),
            ['spec.completionMode: Unsupported value: "Sequential": supported values: "NonIndexed", "Indexed"'],
        ),
        (manifest(backoffLimitPerIndex=2), ["spec.backoffLimitPerIndex: Invalid value: 2: requires indexed completion mode"]),
        (
            manifest(podReplacementPolicy="Sometimes"),
            ['spec.podReplacementPolicy: Unsupported value: "Sometimes": supported values: "Failed", "TerminatingOrFailed"'],
        ),
        (
            manifest(manualSelector=True),
            [
                "spec.selector: Required value",
                'spec.template.metadata.labels: Invalid value: {"app":"batch-job"}: `selector` does not match template `labels`',
            ],
        ),
        (
            manifest(manualSelector=True, selector={"matchLabels": {"app": "other"}}),
            ['spec.template.metadata.labels: Invalid value: {"app":"batch-job"}: `selector` does not match template `labels`'],
        ),
        (
            _wrong_uid_label(),
            [
                'spec.template.metadata.labels[controller-uid]: Invalid value: {"app":"batch-job","controller-uid":'
                '"someone-else","job-name":"batch-job","batch.kubernetes.io/job-name":"batch-job",'
                '"batch.kubernetes.io/controller-uid":"uid-1"}: must be \'uid-1\''
            ],
        ),
        (
            _long_indexed_name(),
            [
                f'metadata.name: Invalid value: "{"a" * 61}": will not able to create pod with invalid DNS label: {"a" * 61}-99'
            ],
        ),
    ],
    ids=[
        "restart-unset",
        "restart-always",
        "parallelism",
        "backoff",
        "deadlines",
        "indexed-without-completions",
        "completion-mode",
        "per-index-needs-indexed",
        "replacement-policy",
        "manual-without-selector",
        "manual-mismatch",
        "generated-label-changed",
        "indexed-hostname",
    ],
)
def test_validation_reports_upstream_messages(obj: dict, expected: list[str]) -> None:
    _, errs = create(STRATEGY, obj)
    assert messages(errs) == expected


def test_pod_failure_policy_rules_are_checked() -> None:
    policy = {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [0, 3, 2]}}, {"action": "Explode"}]}
    _, errs = create(STRATEGY, manifest(podFailurePolicy=policy))
    assert messages(errs) == [
        "spec.podFailurePolicy.rules[0].onExitCodes.values[0]: Invalid value: 0: must not be 0 for the In operator",
        "spec.podFailurePolicy.rules[0].onExitCodes.values: Invalid value: [0,3,2]: must be ordered",
        'spec.podFailurePolicy.rules[1].action: Unsupported value: "Explode": supported values: "Count", "FailIndex", "FailJob", "Ignore"',
        "spec.podFailurePolicy.rules[1]: Invalid value: specifying one of OnExitCodes and OnPodConditions is required",
        'spec.template.spec.restartPolicy: Invalid value: "OnFailure": only "Never" is supported when podFailurePolicy is specified',
    ]


def test_template_completions_and_selector_are_immutable() -> None:
    old = valid(STRATEGY, manifest())
    new = copy.deepcopy(old)
    new["spec"]["completions"] = 3
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "luksa/batch-job:v2"
    _, errs = update(STRATEGY, old, new)
    text = messages(errs)
    assert text[0] == "spec.completions: Invalid value: 3: field is immutable"
    assert text[1].startswith("spec.template: Invalid value: {") and text[1].endswith("}: field is immutable")
    assert len(text) == 2


def test_suspended_job_that_never_started_may_change_scheduling_directives() -> None:
    old = valid(STRATEGY, manifest(suspend=True))
    new = copy.deepcopy(old)
    new["spec"]["template"]["spec"]["nodeSelector"] = {"disk": "ssd"}
    new["spec"]["template"]["spec"]["tolerations"] = [{"key": "dedicated", "operator": "Exists"}]
    stored, errs = update(STRATEGY, old, new)
    assert messages(errs) == []
    assert stored["metadata"]["generation"] == 2
    started = copy.deepcopy(old)
    started["status"] = {"startTime": "2024-01-01T00:00:01Z"}
    _, errs = update(STRATEGY, started, new)
    assert len(errs) == 1 and errs[0].field == "spec.template"


def test_indexed_jobs_scale_completions_with_parallelism() -> None:
    old = valid(STRATEGY, manifest(completionMode="Indexed", completions=3, parallelism=3))
    grown = copy.deepcopy(old)
    grown["spec"]["completions"] = grown["spec"]["parallelism"] = 5
    assert messages(update(STRATEGY, old, grown)[1]) == []
    lopsided = copy.deepcopy(old)
    lopsided["spec"]["completions"] = 5
    assert messages(update(STRATEGY, old, lopsided)[1]) == [
        "spec.completions: Invalid value: 5: can only be modified in tandem with spec.parallelism"
    ]


def test_suspend_toggle_bumps_generation() -> None:
    old = valid(STRATEGY, manifest())
    new = copy.deepcopy(old)
    new["spec"]["suspend"] = True
    stored, errs = update(STRATEGY, old, new)
    assert not errs and stored["metadata"]["generation"] == 2


def test_status_update_checks_counters() -> None:
    old = valid(STRATEGY, manifest())
    _, errs = update_status(
        STRATEGY, old, {"active": -1, "uncountedTerminatedPods": {"succeeded": ["a", ""], "failed": ["a"]}}
    )
    assert messages(errs) == [
        "status.active: Invalid value: -1: must be greater than or equal to 0",
        'status.uncountedTerminatedPods.succeeded[1]: Invalid value: "": must not be empty',
        'status.uncountedTerminatedPods.failed[0]: Duplicate value: "a"',
    ]


@pytest.mark.parametrize(
    ("status", "deleting", "cells"),
    [
        ({}, False, ["Running", "0/1", ""]),
        (
            {
                "succeeded": 1,
                "startTime": "2024-01-01T00:00:00Z",
                "completionTime": "2024-01-01T00:02:05Z",
                "conditions": [{"type": "Complete", "status": "True"}],
            },
            False,
            ["Complete", "1/1", "2m5s"],
        ),
        ({"startTime": "2024-01-01T00:00:00Z"}, False, ["Running", "0/1", "10m"]),
        ({"conditions": [{"type": "Failed", "status": "True"}]}, False, ["Failed", "0/1", ""]),
        ({"conditions": [{"type": "Suspended", "status": "True"}]}, False, ["Suspended", "0/1", ""]),
        ({}, True, ["Terminating", "0/1", ""]),
    ],
    ids=["new", "complete", "running", "failed", "suspended", "terminating"],
)
def test_table_status_completions_and_duration(monkeypatch: pytest.MonkeyPatch, status: dict, deleting: bool, cells: list) -> None:
    monkeypatch.setattr(duration, "now", lambda: datetime(2024, 1, 1, 0, 10, tzinfo=timezone.utc))
    stored = valid(STRATEGY, manifest())
    stored["status"] = status
    if deleting:
        stored["metadata"]["deletionTimestamp"] = "2024-01-01T00:09:00Z"
    row = STRATEGY.row(stored)
    assert row[1:4] == cells
    assert row[0] == "batch-job" and row[4] == "10m"
    assert row[5:7] == ["main", "luksa/batch-job"]
    assert row[7] == "batch.kubernetes.io/controller-uid=uid-1"


def test_columns() -> None:
    assert [c.name for c in STRATEGY.columns] == [
        "Name", "Status", "Completions", "Duration", "Age", "Containers", "Images", "Selector",
    ]
    assert [c.priority for c in STRATEGY.columns] == [0, 0, 0, 0, 0, 1, 1, 1]


@pytest.mark.parametrize(
    ("spec", "cell"),
    [({"completions": 3}, "0/3"), ({"completions": None, "parallelism": 2}, "0/1 of 2"), ({"completions": None, "parallelism": 1}, "0/1")],
    ids=["completions", "parallel-work-queue", "single"],
)
def test_completions_cell(spec: dict, cell: str) -> None:
    stored = valid(STRATEGY, manifest())
    stored["spec"].update(spec)
    assert jobs.completions_cell(stored) == cell


def test_selectable_fields() -> None:
    stored = valid(STRATEGY, manifest())
    stored["status"] = {"succeeded": 2}
    assert STRATEGY.selectable_fields(stored) == {"status.successful": "2"}


def test_names_that_are_not_dns_labels_get_a_warning() -> None:
    obj = manifest()
    obj["metadata"]["name"] = "batch.job"
    stored = valid(STRATEGY, obj)
    reasons = validation.is_dns1123_label("batch.job")
    assert STRATEGY.warnings(stored) == [
        "metadata.name: this is used in Pod names and hostnames, which can result in surprising behavior; "
        f"a DNS label is recommended: [{' '.join(reasons)}]"
    ]
    assert STRATEGY.warnings(valid(STRATEGY, manifest())) == []
