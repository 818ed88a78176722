"""Events (core/v1): the involved object's namespace rule, the legacy field checks and the Table row.

Upstream validates core/v1 Events leniently for old clients: an event without eventTime only has
to agree with its involved object's namespace; one with eventTime (written by a new-style
recorder through core/v1) must also name its reporting controller, instance, action and reason.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api import duration, validation
from kybernetes.api.errors import FieldError, invalid, required
from kybernetes.registry.base import Column, Obj, Strategy

REPORTING_INSTANCE_LIMIT = 128
ACTION_LIMIT = 128
REASON_LIMIT = 128
NOTE_LIMIT = 1024


def _d(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _s(value: Any) -> str:
    return value if isinstance(value, str) else ""


def event_source(event: Obj) -> str:
    """SOURCE: component (or reporting controller), then `, host` (or instance) when known."""
    source = _d(event.get("source"))
    component = _s(source.get("component")) or _s(event.get("reportingComponent"))
    host = _s(source.get("host")) or _s(event.get("reportingInstance"))
    return f"{component}, {host}" if host else component


def event_times(event: Obj) -> tuple[str, str, int]:
    """LAST SEEN, FIRST SEEN and COUNT, falling back to eventTime and series as upstream's printer does."""
    first = duration.since(event.get("firstTimestamp")) if event.get("firstTimestamp") else duration.since(event.get("eventTime"))
    last = duration.since(event.get("lastTimestamp")) if event.get("lastTimestamp") else first
    count = event.get("count") if isinstance(event.get("count"), int) else 0
    series = event.get("series")
    if isinstance(series, dict):
        last = duration.since(series.get("lastObservedTime"))
        count = series.get("count") if isinstance(series.get("count"), int) else 0
    elif count == 0:
        # Singleton events written by new-style recorders carry no count.
        count = 1
    return last, first, count


def event_object(event: Obj) -> str:
    """OBJECT: `kind/name` in lower case, or just the kind."""
    involved = _d(event.get("involvedObject"))
    kind = _s(involved.get("kind")).lower()
    name = _s(involved.get("name"))
    return f"{kind}/{name}" if name else kind


class EventStrategy(Strategy):
    """EventStrategy is the per-kind behaviour of core/v1 Events."""

    kind = "Event"
    plural = "events"
    singular = "event"
    namespaced = True
    short_names = ("ev",)
    allow_create_on_update = True
    columns = (
        Column("Last Seen", "string", "", "Time since the event was last observed."),
        Column("Type", "string", "", "Normal or Warning."),
        Column("Reason", "string", "", "A short machine-readable reason for the event."),
        Column("Object", "string", "", "The object the event is about, as kind/name."),
        Column("Subobject", "string", "", "The part of the object the event is about, such as a container.", 1),
        Column("Source", "string", "", "The component (and host) that reported the event.", 1),
        Column("Message", "string", "", "What happened, in words."),
        Column("First Seen", "string", "", "Time since the event was first observed.", 1),
        Column("Count", "string", "", "How many times the event has occurred.", 1),
        Column("Name", "string", "name", "The name of the Event object.", 1),
    )

    def default(self, obj: Obj) -> None:
        # Structs, times and two strings that upstream always writes, even when empty.
        for key in ("involvedObject", "source"):
            if not isinstance(obj.get(key), dict):
                obj[key] = {}
        for key in ("firstTimestamp", "lastTimestamp", "eventTime"):
            obj.setdefault(key, None)
        for key in ("reportingComponent", "reportingInstance"):
            obj.setdefault(key, "")

    def validate_fields(self, obj: Obj) -> list[FieldError]:
        errs: list[FieldError] = []
        namespace = _s(_d(obj.get("metadata")).get("namespace"))
        involved_ns = _s(_d(obj.get("involvedObject")).get("namespace"))
        mismatch = invalid("involvedObject.namespace", involved_ns, "does not match event.namespace")
        if not obj.get("eventTime"):
            if not involved_ns:
                # Old clients put cluster-scoped objects' events in "default".
                if namespace not in ("", "default"):
                    errs.append(mismatch)
            elif namespace != involved_ns:
                errs.append(mismatch)
        else:
            if not involved_ns and namespace not in ("default", "kube-system"):
                errs.append(mismatch)
            controller = _s(obj.get("reportingComponent"))
            if not controller:
                errs.append(required("reportingComponent"))
            errs.extend(invalid("reportingComponent", controller, m) for m in validation.is_qualified_name(controller))
            for key, limit in (("reportingInstance", REPORTING_INSTANCE_LIMIT), ("action", ACTION_LIMIT), ("reason", REASON_LIMIT)):
                value = _s(obj.get(key))
                if not value:
                    errs.append(required(key))
                if len(value) > limit:
                    errs.append(invalid(key, "", f"can have at most {limit} characters"))
            if len(_s(obj.get("message"))) > NOTE_LIMIT:
                errs.append(invalid("message", "", f"can have at most {NOTE_LIMIT} characters"))
        errs.extend(invalid("namespace", namespace, m) for m in validation.is_dns1123_subdomain(namespace))
        return errs

    def row(self, obj: Obj) -> list[Any]:
        last, first, count = event_times(obj)
        involved = _d(obj.get("involvedObject"))
        return [
            last,
            _s(obj.get("type")),
            _s(obj.get("reason")),
            event_object(obj),
            _s(involved.get("fieldPath")),
            event_source(obj),
            _s(obj.get("message")).strip(),
            first,
            count,
            _d(obj.get("metadata")).get("name", ""),
        ]

    def selectable_fields(self, obj: Obj) -> dict[str, str]:
        involved = _d(obj.get("involvedObject"))
        source = _s(_d(obj.get("source")).get("component")) or _s(obj.get("reportingComponent"))
        fields = {f"involvedObject.{key}": _s(involved.get(key)) for key in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")}
        fields.update(
            {
                "reason": _s(obj.get("reason")),
                "reportingComponent": _s(obj.get("reportingComponent")),
                "source": source,
                "type": _s(obj.get("type")),
            }
        )
        return fields


STRATEGY = EventStrategy()
