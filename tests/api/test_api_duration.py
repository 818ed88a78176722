"""Durations print as upstream's HumanDuration and ShortHumanDuration, timestamps as metav1.Time."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from kybernetes.api import duration

MINUTE, HOUR, DAY, YEAR = 60, 3600, 86400, 365 * 86400


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "<invalid>"),
        (-1.5, "0s"),
        (0, "0s"),
        (45, "45s"),
        (119, "119s"),
        (2 * MINUTE, "2m"),
        (3 * MINUTE + 12, "3m12s"),
        (10 * MINUTE, "10m"),
        (179 * MINUTE, "179m"),
        (3 * HOUR, "3h"),
        (5 * HOUR + 30 * MINUTE, "5h30m"),
        (12 * HOUR, "12h"),
        (47 * HOUR, "47h"),
        (3 * DAY + 4 * HOUR, "3d4h"),
        (2 * DAY, "2d"),
        (20 * DAY, "20d"),
        (729 * DAY, "729d"),
        (2 * YEAR + 45 * DAY, "2y45d"),
        (3 * YEAR, "3y"),
        (9 * YEAR + 100 * DAY, "9y"),
    ],
    ids=[
        "clearly-negative", "slightly-negative", "zero", "seconds", "under-two-minutes", "two-minutes",
        "minutes-and-seconds", "ten-minutes", "under-three-hours", "three-hours", "hours-and-minutes", "half-a-day",
        "under-two-days", "days-and-hours", "whole-days", "days", "under-two-years", "years-and-days", "whole-years",
        "many-years",
    ],
)
def test_human_duration_matches_upstream(seconds: float, text: str) -> None:
    assert duration.human_duration(seconds) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(-3, "<invalid>"), (59, "59s"), (90, "1m"), (2 * HOUR, "2h"), (3 * DAY, "3d"), (400 * DAY, "1y")],
    ids=["negative", "seconds", "minutes", "hours", "days", "years"],
)
def test_short_human_duration_uses_one_unit(seconds: float, text: str) -> None:
    assert duration.short_human_duration(seconds) == text


def test_age_is_unknown_without_a_creation_timestamp() -> None:
    assert duration.age({"metadata": {}}) == "<unknown>"
    assert duration.age({}) == "<unknown>"


def test_age_counts_from_the_creation_timestamp(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(duration, "now", lambda: datetime(2024, 5, 1, 12, 5, 0, tzinfo=timezone.utc))
    assert duration.age({"metadata": {"creationTimestamp": "2024-05-01T12:00:00Z"}}) == "5m"


def test_timestamps_parse_with_and_without_fractions() -> None:
    assert duration.parse_time("2024-05-01T12:00:00Z") == datetime(2024, 5, 1, 12, tzinfo=timezone.utc)
    assert duration.parse_time("2024-05-01T12:00:00.123456Z").microsecond == 123456


def test_now_is_written_with_seconds_precision(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(duration, "now", lambda: datetime(2024, 5, 1, 12, 0, 7, 999, tzinfo=timezone.utc))
    assert duration.now_rfc3339() == "2024-05-01T12:00:07Z"
