"""CronJob: Jobs created on a cron schedule (batch/v1; retired batch/v1beta1), with a cron parser of our own.

The schedule grammar and its error messages follow github.com/robfig/cron/v3's ParseStandard,
which upstream validates with: five fields (minute hour day-of-month month day-of-week) or a
descriptor (`@hourly`, `@every 1h30m`, …).
"""

from __future__ import annotations

import copy
import re
import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from kybernetes.api import duration, validation
from kybernetes.api.errors import FieldError, invalid, not_supported, required
from kybernetes.registry.base import AGE_COLUMN, NAME_COLUMN, Column, Obj, ServedVersion, Strategy
from kybernetes.registry.batch.jobs import format_selector, validate_job_spec
from kybernetes.registry.core.podtemplate import decoding, default_pod_template, pod_containers_images

# ----- cron schedules ------------------------------------------------------------------------


class ScheduleError(ValueError):
    """ScheduleError is a schedule robfig/cron would reject; the message is upstream's."""


@dataclass(frozen=True, slots=True)
class _Bounds:
    low: int
    high: int
    names: tuple[tuple[str, int], ...] = ()


_MINUTES = _Bounds(0, 59)
_HOURS = _Bounds(0, 23)
_DAYS = _Bounds(1, 31)
_MONTHS = _Bounds(1, 12, tuple((n, i + 1) for i, n in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split())))
_WEEKDAYS = _Bounds(0, 6, tuple((n, i) for i, n in enumerate("sun mon tue wed thu fri sat".split())))


@dataclass(frozen=True, slots=True)
class Field:
    """The values one schedule field allows; `star` marks `*`/`?`, which changes how days combine."""

    values: frozenset[int]
    star: bool = False


@dataclass(frozen=True, slots=True)
class Schedule:
    """A parsed schedule: either the five fields or a fixed interval (`@every`)."""

    minutes: Field | None = None
    hours: Field | None = None
    days: Field | None = None
    months: Field | None = None
    weekdays: Field | None = None
    every: timedelta | None = None
    location: str | None = None

    def _day_matches(self, when: datetime) -> bool:
        assert self.days is not None and self.weekdays is not None
        day = when.day in self.days.values
        weekday = (when.weekday() + 1) % 7 in self.weekdays.values
        # As cron does: a starred day field means both must match, otherwise either may.
        if self.days.star or self.weekdays.star:
            return day and weekday
        return day or weekday

    def next_after(self, when: datetime) -> datetime | None:
        """The first activation strictly after `when` (None if none within five years)."""
        if self.every is not None:
            return when.replace(microsecond=0) + self.every
        assert self.minutes and self.hours and self.months
        zone = zoneinfo.ZoneInfo(self.location) if self.location else when.tzinfo
        local = when.astimezone(zone) if zone is not None else when
        t = local.replace(second=0, microsecond=0, tzinfo=None) + timedelta(minutes=1)
        limit = t.replace(year=t.year + 5)
        while t < limit:
            if t.month not in self.months.values:
                t = (t.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
                continue
            if not self._day_matches(t):
                t = t.replace(hour=0, minute=0) + timedelta(days=1)
                continue
            if t.hour not in self.hours.values:
                t = t.replace(minute=0) + timedelta(hours=1)
                continue
            if t.minute not in self.minutes.values:
                t += timedelta(minutes=1)
                continue
            return t.replace(tzinfo=zone) if zone is not None else t
        return None


def _go_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _atoi(text: str) -> int:
    """strconv.Atoi with its error text."""
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise ScheduleError(f"strconv.Atoi: parsing {_go_quote(text)}: invalid syntax")
    value = int(text)
    if not -(2**63) <= value < 2**63:
        raise ScheduleError(f"strconv.Atoi: parsing {_go_quote(text)}: value out of range")
    return value


def _parse_int(text: str) -> int:
    try:
        value = _atoi(text)
    except ScheduleError as exc:
        raise ScheduleError(f"failed to parse int from {text}: {exc}") from None
    if value < 0:
        raise ScheduleError(f"negative number ({value}) not allowed: {text}")
    return value


def _parse_int_or_name(text: str, bounds: _Bounds) -> int:
    for name, value in bounds.names:
        if text.lower() == name:
            return value
    return _parse_int(text)


def _parse_range(expr: str, bounds: _Bounds) -> tuple[set[int], bool]:
    range_and_step = expr.split("/")
    low_and_high = range_and_step[0].split("-")
    star = False
    if low_and_high[0] in ("*", "?"):
        start, end, star = bounds.low, bounds.high, True
    else:
        start = _parse_int_or_name(low_and_high[0], bounds)
        if len(low_and_high) == 1:
            end = start
        elif len(low_and_high) == 2:
            end = _parse_int_or_name(low_and_high[1], bounds)
        else:
            raise ScheduleError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _parse_int(range_and_step[1])
        # "N/step" runs from N to the field's maximum.
        if len(low_and_high) == 1:
            end = bounds.high
        if step > 1:
            star = False
    else:
        raise ScheduleError(f"too many slashes: {expr}")
    if start < bounds.low:
        raise ScheduleError(f"beginning of range ({start}) below minimum ({bounds.low}): {expr}")
    if end > bounds.high:
        raise ScheduleError(f"end of range ({end}) above maximum ({bounds.high}): {expr}")
    if start > end:
        raise ScheduleError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise ScheduleError(f"step of range should be a positive number: {expr}")
    return set(range(start, end + 1, step)), star


def _parse_field(text: str, bounds: _Bounds) -> Field:
    values: set[int] = set()
    star = False
    for expr in (part for part in text.split(",") if part):
        found, is_star = _parse_range(expr, bounds)
        values |= found
        star = star or is_star
    return Field(frozenset(values), star)


def _all(bounds: _Bounds) -> Field:
    return Field(frozenset(range(bounds.low, bounds.high + 1)), star=True)


def _only(value: int) -> Field:
    return Field(frozenset({value}))


_DESCRIPTORS: dict[str, tuple[Field, Field, Field, Field, Field]] = {
    "@yearly": (_only(0), _only(0), _only(1), _only(1), _all(_WEEKDAYS)),
    "@annually": (_only(0), _only(0), _only(1), _only(1), _all(_WEEKDAYS)),
    "@monthly": (_only(0), _only(0), _only(1), _all(_MONTHS), _all(_WEEKDAYS)),
    "@weekly": (_only(0), _only(0), _all(_DAYS), _all(_MONTHS), _only(0)),
    "@daily": (_only(0), _only(0), _all(_DAYS), _all(_MONTHS), _all(_WEEKDAYS)),
    "@midnight": (_only(0), _only(0), _all(_DAYS), _all(_MONTHS), _all(_WEEKDAYS)),
    "@hourly": (_only(0), _all(_HOURS), _all(_DAYS), _all(_MONTHS), _all(_WEEKDAYS)),
}

_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "\u00b5s": 1e-6,
    "\u03bcs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_DURATION_PART = re.compile(r"([0-9]*)(?:\.([0-9]*))?")


def parse_go_duration(text: str) -> float:
    """time.ParseDuration: seconds in `1h30m`, `90s`, `1.5h`; raises ScheduleError with Go's text."""
    original = text
    bad = ScheduleError(f"time: invalid duration {_go_quote(original)}")
    negative = False
    if text[:1] in ("-", "+"):
        negative = text[0] == "-"
        text = text[1:]
    if text == "0":
        return 0.0
    if not text:
        raise bad
    total = 0.0
    while text:
        if not (text[0] == "." or text[0].isdigit()):
            raise bad
        match = _DURATION_PART.match(text)
        assert match is not None
        whole, fraction = match.group(1), match.group(2)
        if not whole and not fraction:
            raise bad
        number = float(f"{whole or '0'}.{fraction or '0'}")
        text = text[match.end() :]
        unit_end = 0
        while unit_end < len(text) and not (text[unit_end] == "." or text[unit_end].isdigit()):
            unit_end += 1
        if unit_end == 0:
            raise ScheduleError(f"time: missing unit in duration {_go_quote(original)}")
        unit, text = text[:unit_end], text[unit_end:]
        if unit not in _DURATION_UNITS:
            raise ScheduleError(f"time: unknown unit {_go_quote(unit)} in duration {_go_quote(original)}")
        total += number * _DURATION_UNITS[unit]
    return -total if negative else total


def _parse_descriptor(spec: str, location: str | None) -> Schedule:
    if spec in _DESCRIPTORS:
        minutes, hours, days, months, weekdays = _DESCRIPTORS[spec]
        return Schedule(minutes, hours, days, months, weekdays, location=location)
    if spec.startswith("@every "):
        try:
            seconds = parse_go_duration(spec[len("@every ") :])
        except ScheduleError as exc:
            raise ScheduleError(f"failed to parse duration {spec}: {exc}") from None
        # robfig/cron runs intervals on whole seconds and never more often than once a second.
        return Schedule(every=timedelta(seconds=max(int(seconds), 1)), location=location)
    raise ScheduleError(f"unrecognized descriptor: {spec}")


def parse_schedule(spec: str) -> Schedule:
    """Parse a CronJob schedule as robfig/cron's standard parser does."""
    if not spec:
        raise ScheduleError("empty spec string")
    location: str | None = None
    if spec.startswith("TZ=") or spec.startswith("CRON_TZ="):
        space = spec.find(" ")
        name = spec[spec.find("=") + 1 : space if space >= 0 else len(spec)]
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ScheduleError(f"provided bad location {name}: unknown time zone {name}") from None
        location = name
        spec = spec[space:].strip() if space >= 0 else ""
    if spec.startswith("@"):
        return _parse_descriptor(spec, location)
    fields = spec.split()
    if len(fields) != 5:
        raise ScheduleError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    return Schedule(
        _parse_field(fields[0], _MINUTES),
        _parse_field(fields[1], _HOURS),
        _parse_field(fields[2], _DAYS),
        _parse_field(fields[3], _MONTHS),
        _parse_field(fields[4], _WEEKDAYS),
        location=location,
    )


# ----- validation ------------------------------------------------------------------------------

_TIME_ZONE_PART = re.compile(r"^[A-Za-z.\-_0-9+]{1,14}$")
_CONCURRENCY = ("Allow", "Forbid", "Replace")


def _validate_schedule(schedule: str, old_schedule: str | None, time_zone: Any) -> list[FieldError]:
    path = "spec.schedule"
    errs: list[FieldError] = []
    try:
        parse_schedule(schedule)
    except ScheduleError as exc:
        errs.append(invalid(path, schedule, str(exc)))
    # A TZ prefix is tolerated only on objects that already had one.
    tz_allowed = old_schedule is not None and "TZ" in old_schedule
    if tz_allowed and "TZ" in schedule and time_zone is not None:
        errs.append(invalid(path, schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule"))
    elif not tz_allowed and "TZ" in schedule:
        errs.append(invalid(path, schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
    return errs


def validate_time_zone(time_zone: Any, path: str = "spec.timeZone") -> list[FieldError]:
    if time_zone is None:
        return []
    if time_zone == "":
        return [invalid(path, time_zone, "timeZone must be nil or non-empty string")]
    for part in str(time_zone).split("/"):
        if part in (".", "..") or part.startswith("-") or not _TIME_ZONE_PART.match(part):
            return [invalid(path, time_zone, f"unknown time zone {time_zone}")]
    if str(time_zone).lower() == "local":
        detail = "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"
        return [invalid(path, time_zone, detail)]
    try:
        zoneinfo.ZoneInfo(str(time_zone))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return [invalid(path, time_zone, f"unknown time zone {time_zone}")]
    return []


def validate_job_template(template: Obj, path: str) -> list[FieldError]:
    """ValidateJobTemplateSpec: a job spec whose selector the server will generate."""
    meta = template.get("metadata") or {}
    errs = validation.validate_labels(meta.get("labels"), f"{path}.metadata.labels")
    errs.extend(validation.validate_annotations(meta.get("annotations"), f"{path}.metadata.annotations"))
    spec = template.get("spec") or {}
    errs.extend(validate_job_spec(spec, f"{path}.spec"))
    if spec.get("selector") is not None:
        errs.append(invalid(f"{path}.spec.selector", spec["selector"], "`selector` will be auto-generated"))
    if spec.get("manualSelector") is True:
        errs.append(not_supported(f"{path}.spec.manualSelector", True, ["nil", "false"]))
    return errs


def _validate_spec(spec: Obj, old_spec: Obj | None) -> list[FieldError]:
    errs: list[FieldError] = []
    schedule = spec.get("schedule") or ""
    if not schedule:
        errs.append(required("spec.schedule"))
    else:
        old_schedule = None if old_spec is None else old_spec.get("schedule") or ""
        errs.extend(_validate_schedule(schedule, old_schedule, spec.get("timeZone")))
    errs.extend(validation.validate_nonnegative(spec.get("startingDeadlineSeconds"), "spec.startingDeadlineSeconds"))
    if old_spec is None or old_spec.get("timeZone") != spec.get("timeZone"):
        errs.extend(validate_time_zone(spec.get("timeZone")))
    policy = spec.get("concurrencyPolicy") or ""
    if not policy:
        errs.append(required("spec.concurrencyPolicy"))
    elif policy not in _CONCURRENCY:
        errs.append(not_supported("spec.concurrencyPolicy", policy, list(_CONCURRENCY)))
    errs.extend(validate_job_template(spec.get("jobTemplate") or {}, "spec.jobTemplate"))
    errs.extend(validation.validate_nonnegative(spec.get("successfulJobsHistoryLimit"), "spec.successfulJobsHistoryLimit"))
    errs.extend(validation.validate_nonnegative(spec.get("failedJobsHistoryLimit"), "spec.failedJobsHistoryLimit"))
    return errs


# ----- strategy --------------------------------------------------------------------------------


def _relabel(obj: Obj, api_version: str) -> Obj:
    out = copy.deepcopy(obj)
    out["apiVersion"] = api_version
    return out


BATCH_V1BETA1 = ServedVersion(
    "batch",
    "v1beta1",
    "CronJob",
    lambda obj: _relabel(obj, "batch/v1"),
    lambda obj: _relabel(obj, "batch/v1beta1"),
    "batch/v1beta1 CronJob is deprecated in v1.21+, unavailable in v1.25+; use batch/v1 CronJob",
)

# The controller names Jobs `<cronjob>-<11 characters>`, and Job names must fit a DNS label.
MAX_NAME_LENGTH = 52


def _set_default(parent: dict[str, Any], key: str, value: Any) -> None:
    if parent.get(key) is None:
        parent[key] = value


def _child(parent: dict[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key)
    if not isinstance(value, dict):
        value = parent[key] = {}
    return value


class CronJobStrategy(Strategy):
    """CronJobStrategy: defaults, schedule checks and columns of batch/v1 CronJob."""

    group = "batch"
    version = "v1"
    kind = "CronJob"
    plural = "cronjobs"
    singular = "cronjob"
    short_names = ("cj",)
    categories = ("all",)
    subresources = ("status",)
    tracks_generation = True
    has_status = True
    served_versions = (BATCH_V1BETA1,)
    columns = (
        NAME_COLUMN,
        Column("Schedule", description="When Jobs are created, in cron format."),
        Column("Timezone", description="Time zone the schedule is read in; the controller's own when unset."),
        Column("Suspend", "boolean", description="Whether new Jobs are held back."),
        Column("Active", "integer", description="Number of Jobs currently running."),
        Column("Last Schedule", description="Time since a Job was last scheduled."),
        AGE_COLUMN,
        Column("Containers", priority=1, description="Names of the containers in the Job's pod template."),
        Column("Images", priority=1, description="Images the containers of the Job's pod template run."),
        Column("Selector", priority=1, description="Label query over the pods of the created Jobs."),
    )

    def default(self, obj: Obj) -> None:
        spec = _child(obj, "spec")
        _set_default(spec, "concurrencyPolicy", "Allow")
        _set_default(spec, "suspend", False)
        _set_default(spec, "successfulJobsHistoryLimit", 3)
        _set_default(spec, "failedJobsHistoryLimit", 1)
        with decoding(self.kind):
            default_pod_template(_child(_child(_child(spec, "jobTemplate"), "spec"), "template"))

    def validate_fields(self, obj: Obj) -> list[FieldError]:
        errs = _validate_spec(obj.get("spec") or {}, None)
        name = (obj.get("metadata") or {}).get("name") or ""
        if len(name) > MAX_NAME_LENGTH:
            errs.append(invalid("metadata.name", name, f"must be no more than {MAX_NAME_LENGTH} characters"))
        return errs

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        # Updates skip the name length rule so that older, longer-named CronJobs stay editable.
        errs = validation.validate_object_meta_update(new.get("metadata") or {}, old.get("metadata") or {})
        errs.extend(
            validation.validate_object_meta(new.get("metadata") or {}, namespaced=self.namespaced, name_rule=self.name_rule)
        )
        errs.extend(_validate_spec(new.get("spec") or {}, old.get("spec") or {}))
        return errs

    def warnings(self, obj: Obj) -> list[str]:
        msgs = validation.is_dns1123_label((obj.get("metadata") or {}).get("name") or "")
        if msgs:
            return [
                "metadata.name: this is used in Pod names and hostnames, which can result in surprising behavior; "
                "a DNS label is recommended: [" + " ".join(msgs) + "]"
            ]
        return []

    def row(self, obj: Obj) -> list[Any]:
        spec = obj.get("spec") or {}
        status = obj.get("status") or {}
        job_spec = (spec.get("jobTemplate") or {}).get("spec") or {}
        names, images = pod_containers_images(job_spec.get("template") or {})
        last = duration.since(status["lastScheduleTime"]) if status.get("lastScheduleTime") else "<none>"
        suspend = spec.get("suspend")
        return [
            obj["metadata"]["name"],
            spec.get("schedule") or "",
            spec.get("timeZone") if spec.get("timeZone") is not None else "<none>",
            "<unset>" if suspend is None else ("True" if suspend else "False"),
            len(status.get("active") or []),
            last,
            duration.age(obj),
            names,
            images,
            format_selector(job_spec.get("selector")),
        ]


STRATEGY = CronJobStrategy()
