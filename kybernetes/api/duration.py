"""Durations and timestamps as kubectl shows them: `45s`, `3m12s`, `5h30m`, `3d4h`, `2y45d`.

`human_duration` follows upstream's HumanDuration (k8s.io/apimachinery/pkg/util/duration): more
precision for young objects, less for old ones. All divisions truncate toward zero, as Go's
integer conversions do, and a year is 365 days. `now` is a module-level function so tests can
replace the clock with monkeypatch instead of threading a parameter through every Table row.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any


def now() -> datetime:
    """The current time, timezone-aware (UTC)."""
    return datetime.now(timezone.utc)


_formatted_second: tuple[int, str] = (-1, "")


def now_rfc3339() -> str:
    """The current time as metav1.Time serialises it: seconds precision with a `Z` suffix.

    Every write stamps times; the text changes once a second, so it is formatted once a second.
    """
    global _formatted_second
    moment = now()
    second = int(moment.timestamp())
    if _formatted_second[0] != second:
        _formatted_second = (second, format_time(moment))
    return _formatted_second[1]


def format_time(moment: datetime) -> str:
    """A timestamp as metav1.Time writes it (`2024-05-01T12:00:00Z`)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    """Parse an RFC 3339 timestamp (metav1.Time or MicroTime) into an aware datetime."""
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment


def _trunc(value: float) -> int:
    """Go's int(float) conversion: truncation toward zero."""
    return int(value)


def human_duration(seconds: float) -> str:
    """Upstream's HumanDuration: `<invalid>` for clearly negative, then s, m, h, d, y with varying detail."""
    whole = _trunc(seconds)
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 60 * 2:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 10:
        rest = whole % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = whole // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        rest = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y" if rest == 0 else f"{years}y{rest}d"
    return f"{hours // 24 // 365}y"


def short_human_duration(seconds: float) -> str:
    """Upstream's ShortHumanDuration: a single unit (`45s`, `12m`, `5h`, `3d`, `2y`)."""
    whole = _trunc(seconds)
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 60:
        return f"{whole}s"
    minutes = _trunc(seconds / 60)
    if minutes < 60:
        return f"{minutes}m"
    hours = _trunc(seconds / 3600)
    if hours < 24:
        return f"{hours}h"
    if hours < 24 * 365:
        return f"{hours // 24}d"
    return f"{_trunc(seconds / 3600 / 24 / 365)}y"


def since(timestamp: Any) -> str:
    """Time elapsed since an RFC 3339 timestamp, or `<unknown>` when it is missing (translateTimestampSince)."""
    if not timestamp or not isinstance(timestamp, str):
        return "<unknown>"
    try:
        moment = parse_time(timestamp)
    except ValueError:
        return "<unknown>"
    return human_duration((now() - moment).total_seconds())


def age(obj: dict[str, Any]) -> str:
    """The AGE cell of an object: time since metadata.creationTimestamp."""
    return since((obj.get("metadata") or {}).get("creationTimestamp"))
