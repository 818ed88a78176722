"""CronJob strategy: defaults, the schedule parser and its messages, time zones, batch/v1beta1, rows."""

from __future__ import annotations

import copy
from datetime import datetime, timezone

import pytest

from kybernetes.api import duration
from kybernetes.registry.batch import cronjobs
from kybernetes.registry.batch.cronjobs import ScheduleError, parse_schedule
from tests.registry.apps.storeflow import book, create, messages, update, valid

STRATEGY = cronjobs.STRATEGY


def manifest(**spec_changes: object) -> dict:
    obj = book("cronjob.yaml")
    obj["apiVersion"] = "batch/v1"
    obj["spec"].update(spec_changes)
    return obj


def test_identity() -> None:
    assert (STRATEGY.group, STRATEGY.plural, STRATEGY.singular, STRATEGY.short_names) == ("batch", "cronjobs", "cronjob", ("cj",))
    assert STRATEGY.categories == ("all",) and STRATEGY.subresources == ("status",)
    assert STRATEGY.tracks_generation and STRATEGY.has_status


def test_book_cronjob_in_batch_v1beta1_gets_v1_defaults() -> None:
    stored = valid(STRATEGY, book("cronjob.yaml"), served=cronjobs.BATCH_V1BETA1)
    assert stored["apiVersion"] == "batch/v1"
    spec = stored["spec"]
    assert (spec["concurrencyPolicy"], spec["suspend"]) == ("Allow", False)
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (3, 1)
    assert spec["startingDeadlineSeconds"] == 15
    job_spec = spec["jobTemplate"]["spec"]
    # Only pod defaults reach the job template; Job defaults apply when the Job is made.
    assert set(job_spec) == {"template"}
    assert job_spec["template"]["spec"]["dnsPolicy"] == "ClusterFirst"
    assert stored["status"] == {}
    served = cronjobs.BATCH_V1BETA1.from_storage(stored)
    assert served["apiVersion"] == "batch/v1beta1"
    assert cronjobs.BATCH_V1BETA1.to_storage(served) == stored
    assert cronjobs.BATCH_V1BETA1.warning == (
        "batch/v1beta1 CronJob is deprecated in v1.21+, unavailable in v1.25+; use batch/v1 CronJob"
    )


@pytest.mark.parametrize(
    "schedule",
    [
        "0,15,30,45 * * * *",
        "*/5 * * * *",
        "0 9-17 * * MON-FRI",
        "0 0 1 jan,Jul *",
        "? * * * *",
        "@hourly",
        "@daily",
        "@midnight",
        "@weekly",
        "@monthly",
        "@yearly",
        "@annually",
        "@every 1h30m",
        "@every 90s",
    ],
)
def test_valid_schedules(schedule: str) -> None:
    parse_schedule(schedule)
    assert messages(create(STRATEGY, manifest(schedule=schedule))[1]) == []


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("* * *", "expected exactly 5 fields, found 3: [* * *]"),
        ("0 0 * * * *", "expected exactly 5 fields, found 6: [0 0 * * * *]"),
        ("61 * * * *", "end of range (61) above maximum (59): 61"),
        ("0 24 * * *", "end of range (24) above maximum (23): 24"),
        ("0 0 0 * *", "beginning of range (0) below minimum (1): 0"),
        ("0 0 * 13 *", "end of range (13) above maximum (12): 13"),
        ("0 0 * * 7", "end of range (7) above maximum (6): 7"),
        ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
        ("x * * * *", 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax'),
        ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
        ("1/2/3 * * * *", "too many slashes: 1/2/3"),
        ("*/0 * * * *", "step of range should be a positive number: */0"),
        ("@often", "unrecognized descriptor: @often"),
        ("@every 5x", 'failed to parse duration @every 5x: time: unknown unit "x" in duration "5x"'),
        ("@every 5", 'failed to parse duration @every 5: time: missing unit in duration "5"'),
        ("@every soon", 'failed to parse duration @every soon: time: invalid duration "soon"'),
    ],
)
def test_schedule_errors_carry_robfig_cron_messages(schedule: str, message: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_schedule(schedule)
    assert str(caught.value) == message
    _, errs = create(STRATEGY, manifest(schedule=schedule))
    assert messages(errs) == [f'spec.schedule: Invalid value: "{schedule}": {message}']


def test_next_activation() -> None:
    after = datetime(2024, 1, 1, 0, 7, tzinfo=timezone.utc)  # a Monday
    assert parse_schedule("0,15,30,45 * * * *").next_after(after) == datetime(2024, 1, 1, 0, 15, tzinfo=timezone.utc)
    assert parse_schedule("0 0 * * MON-FRI").next_after(after) == datetime(2024, 1, 2, tzinfo=timezone.utc)
    assert parse_schedule("@every 1h").next_after(after) == datetime(2024, 1, 1, 1, 7, tzinfo=timezone.utc)
    # Day-of-month and day-of-week both restricted: either may match, as in cron.
    assert parse_schedule("0 0 13 * FRI").next_after(after) == datetime(2024, 1, 5, tzinfo=timezone.utc)
    assert parse_schedule("0 0 30 2 *").next_after(after) is None


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"schedule": ""}, ["spec.schedule: Required value"]),
        (
            {"schedule": "TZ=UTC 0 * * * *"},
            ['spec.schedule: Invalid value: "TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field instead'],
        ),
        ({"timeZone": "Europe/Ljubljana"}, []),
        ({"timeZone": ""}, ['spec.timeZone: Invalid value: "": timeZone must be nil or non-empty string']),
        ({"timeZone": "Mars/Olympus"}, ['spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus']),
        (
            {"timeZone": "Local"},
            ['spec.timeZone: Invalid value: "Local": timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones'],
        ),
        (
            {"concurrencyPolicy": "Sometimes"},
            ['spec.concurrencyPolicy: Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace"'],
        ),
        ({"startingDeadlineSeconds": -1}, ["spec.startingDeadlineSeconds: Invalid value: -1: must be greater than or equal to 0"]),
        (
            {"successfulJobsHistoryLimit": -1},
            ["spec.successfulJobsHistoryLimit: Invalid value: -1: must be greater than or equal to 0"],
        ),
    ],
    ids=["no-schedule", "tz-prefix", "time-zone", "empty-zone", "unknown-zone", "local-zone", "concurrency", "deadline", "history"],
)
def test_spec_validation(changes: dict, expected: list[str]) -> None:
    assert messages(create(STRATEGY, manifest(**changes))[1]) == expected


def test_job_template_rules() -> None:
    obj = manifest()
    job_spec = obj["spec"]["jobTemplate"]["spec"]
    job_spec["selector"] = {"matchLabels": {"app": "x"}}
    job_spec["manualSelector"] = True
    job_spec["template"]["spec"]["restartPolicy"] = "Always"
    assert messages(create(STRATEGY, obj)[1]) == [
        'spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"',
        'spec.jobTemplate.spec.selector: Invalid value: {"matchLabels":{"app":"x"}}: `selector` will be auto-generated',
        'spec.jobTemplate.spec.manualSelector: Unsupported value: true: supported values: "nil", "false"',
    ]


def test_long_names_are_refused_on_create_but_kept_editable() -> None:
    obj = manifest()
    obj["metadata"]["name"] = "n" * 53
    _, errs = create(STRATEGY, obj)
    assert messages(errs) == [f'metadata.name: Invalid value: "{"n" * 53}": must be no more than 52 characters']
    stored, _ = create(STRATEGY, obj)
    new = copy.deepcopy(stored)
    new["spec"]["suspend"] = True
    changed, errs = update(STRATEGY, stored, new)
    assert messages(errs) == []
    assert changed["metadata"]["generation"] == 2


def test_status_is_kept_on_update() -> None:
    old = valid(STRATEGY, manifest())
    old["status"] = {"lastScheduleTime": "2024-01-01T00:00:00Z"}
    new = copy.deepcopy(old)
    new["status"] = {}
    assert update(STRATEGY, old, new)[0]["status"] == old["status"]


def test_table_row(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(duration, "now", lambda: datetime(2024, 1, 1, 0, 20, tzinfo=timezone.utc))
    stored = valid(STRATEGY, manifest())
    assert [c.name for c in STRATEGY.columns] == [
        "Name", "Schedule", "Timezone", "Suspend", "Active", "Last Schedule", "Age", "Containers", "Images", "Selector",
    ]
    assert STRATEGY.row(stored) == [
        "batch-job-every-fifteen-minutes", "0,15,30,45 * * * *", "<none>", "False", 0, "<none>", "20m",
        "main", "luksa/batch-job", "<none>",
    ]
    stored["spec"]["timeZone"] = "Etc/UTC"
    stored["status"] = {"active": [{"name": "j1"}], "lastScheduleTime": "2024-01-01T00:15:00Z"}
    assert STRATEGY.row(stored)[2:6] == ["Etc/UTC", "False", 1, "5m"]
