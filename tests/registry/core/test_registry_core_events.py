"""core/v1 Events: namespace agreement, new-style field checks, the Table row and selectable fields."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.registry.core.events import STRATEGY

Obj = dict[str, Any]


def event(**extra: Any) -> Obj:
    obj: Obj = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "web.17a3f", "namespace": "default", "creationTimestamp": "2024-05-01T11:00:00Z"},
        "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web", "uid": "u1", "apiVersion": "v1", "fieldPath": "spec.containers{web}"},
        "reason": "Pulled",
        "message": "Successfully pulled image \"nginx\"\n",
        "source": {"component": "kubelet", "host": "node-1"},
        "firstTimestamp": "2024-05-01T11:00:00Z",
        "lastTimestamp": "2024-05-01T11:58:00Z",
        "count": 4,
        "type": "Normal",
    }
    obj.update(extra)
    return obj


def test_events_are_catalogued_as_upstream() -> None:
    assert (STRATEGY.plural, STRATEGY.singular, STRATEGY.short_names) == ("events", "event", ("ev",))
    assert [(c.name, c.priority) for c in STRATEGY.columns] == [
        ("Last Seen", 0), ("Type", 0), ("Reason", 0), ("Object", 0), ("Subobject", 1), ("Source", 1),
        ("Message", 0), ("First Seen", 1), ("Count", 1), ("Name", 1),
    ]
    assert STRATEGY.columns[-1].format == "name"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, []),
        ({"involvedObject": {"kind": "Pod", "namespace": "other", "name": "web"}}, ['involvedObject.namespace: Invalid value: "other": does not match event.namespace']),
        ({"involvedObject": {"kind": "Node", "name": "node-1"}}, []),
    ],
    ids=["valid", "namespace-mismatch", "cluster-scoped-object-in-default"],
)
def test_legacy_events_only_check_the_namespace(create, extra: Obj, expected: list[str]) -> None:
    _, errors = create(STRATEGY, event(**extra))
    assert errors == expected


def test_new_style_events_must_name_their_reporter_action_and_reason(create) -> None:
    _, errors = create(STRATEGY, event(eventTime="2024-05-01T11:00:00.000000Z", reason=""))
    required = [e for e in errors if e.endswith("Required value")]
    assert required == ["reportingComponent: Required value", "reportingInstance: Required value", "action: Required value", "reason: Required value"]
    assert all(e.startswith(("reportingComponent", "reportingInstance", "action", "reason")) for e in errors)


def test_the_row_matches_upstreams_printer(clock) -> None:
    assert STRATEGY.row(event()) == [
        "2m", "Normal", "Pulled", "pod/web", "spec.containers{web}", "kubelet, node-1", 'Successfully pulled image "nginx"', "60m", 4, "web.17a3f",
    ]


def test_new_style_events_fall_back_to_event_time_and_series(clock) -> None:
    obj = event(firstTimestamp=None, lastTimestamp=None, count=None, eventTime="2024-05-01T11:59:00.123456Z", source={},
                reportingComponent="default-scheduler", reportingInstance="", involvedObject={"kind": "Node", "name": ""})
    row = STRATEGY.row(obj)
    # 59.88 s truncate to 59s, as Go's integer conversion does.
    assert (row[0], row[3], row[5], row[7], row[8]) == ("59s", "node", "default-scheduler", "59s", 1)
    obj["series"] = {"count": 7, "lastObservedTime": "2024-05-01T11:59:50.000000Z"}
    assert (STRATEGY.row(obj)[0], STRATEGY.row(obj)[8]) == ("10s", 7)


def test_selectable_fields_cover_the_involved_object() -> None:
    assert STRATEGY.selectable_fields(event()) == {
        "involvedObject.kind": "Pod",
        "involvedObject.namespace": "default",
        "involvedObject.name": "web",
        "involvedObject.uid": "u1",
        "involvedObject.apiVersion": "v1",
        "involvedObject.resourceVersion": "",
        "involvedObject.fieldPath": "spec.containers{web}",
        "reason": "Pulled",
        "reportingComponent": "",
        "source": "kubelet",
        "type": "Normal",
    }


def test_a_bare_event_gets_the_fields_upstream_always_writes(create) -> None:
    obj, errors = create(STRATEGY, {"metadata": {"name": "e1", "namespace": "default"}})
    assert errors == []
    assert {k: obj[k] for k in ("involvedObject", "source", "firstTimestamp", "lastTimestamp", "eventTime", "reportingComponent", "reportingInstance")} == {
        "involvedObject": {},
        "source": {},
        "firstTimestamp": None,
        "lastTimestamp": None,
        "eventTime": None,
        "reportingComponent": "",
        "reportingInstance": "",
    }
