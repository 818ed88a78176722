"""events.k8s.io/v1 Event: the same stored objects as core v1 Events, under the newer field names.

Upstream keeps one Event type and converts at the wire; so do we: `SERVED` is attached to the
core Event strategy by the catalog, and these converters rename fields in both directions.
"""

from __future__ import annotations

import copy
from typing import Any

from kybernetes.registry.base import Obj, ServedVersion

# core v1 name → events.k8s.io/v1 name; every other field has the same name in both.
_RENAMED: tuple[tuple[str, str], ...] = (
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
    ("reportingComponent", "reportingController"),
)


def _rename(obj: Obj, pairs: tuple[tuple[str, str], ...], api_version: str) -> Obj:
    out: dict[str, Any] = {}
    for key, value in obj.items():
        for before, after in pairs:
            if key == before:
                key = after
                break
        out[key] = copy.deepcopy(value)
    out["apiVersion"] = api_version
    out["kind"] = "Event"
    return out


def events_v1_to_core(obj: Obj) -> Obj:
    """An events.k8s.io/v1 Event as the core v1 Event that stores it."""
    out = _rename(obj, tuple((after, before) for before, after in _RENAMED), "v1")
    # The Python client requires involvedObject on core Events; the zero reference is what upstream stores.
    if not isinstance(out.get("involvedObject"), dict):
        out["involvedObject"] = {}
    return out


def core_to_events_v1(obj: Obj) -> Obj:
    """A stored core v1 Event as events.k8s.io/v1 presents it."""
    out = _rename(obj, _RENAMED, "events.k8s.io/v1")
    # eventTime is not optional in events.k8s.io/v1: it is serialised even when unset.
    out.setdefault("eventTime", None)
    return out


SERVED = ServedVersion("events.k8s.io", "v1", "Event", events_v1_to_core, core_to_events_v1)
