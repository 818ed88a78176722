"""events.k8s.io/v1 Event: field renames to and from the stored core v1 Event."""

from __future__ import annotations

from kybernetes.registry.events import events

CORE = {
    "apiVersion": "v1",
    "kind": "Event",
    "metadata": {"name": "kubia.17a", "namespace": "default"},
    "involvedObject": {"kind": "Pod", "name": "kubia", "namespace": "default", "fieldPath": "spec.containers{kubia}"},
    "reason": "Pulling",
    "message": 'Pulling image "luksa/kubia"',
    "source": {"component": "kubelet", "host": "node1"},
    "firstTimestamp": "2024-01-01T00:00:00Z",
    "lastTimestamp": "2024-01-01T00:00:05Z",
    "count": 2,
    "type": "Normal",
    "reportingComponent": "kubelet",
    "reportingInstance": "node1",
}


def test_core_event_reads_with_the_new_names() -> None:
    served = events.core_to_events_v1(CORE)
    assert served["apiVersion"] == "events.k8s.io/v1"
    assert served["kind"] == "Event"
    assert served["regarding"] == CORE["involvedObject"]
    assert served["note"] == CORE["message"]
    assert served["deprecatedSource"] == CORE["source"]
    assert served["deprecatedFirstTimestamp"] == CORE["firstTimestamp"]
    assert served["deprecatedLastTimestamp"] == CORE["lastTimestamp"]
    assert served["deprecatedCount"] == 2
    assert served["reportingController"] == "kubelet"
    assert served["reportingInstance"] == "node1"
    assert served["eventTime"] is None
    for old in ("involvedObject", "message", "source", "firstTimestamp", "lastTimestamp", "count", "reportingComponent"):
        assert old not in served


def test_round_trip_is_lossless() -> None:
    assert events.events_v1_to_core(events.core_to_events_v1(CORE)) == {**CORE, "eventTime": None}


def test_new_style_event_is_stored_as_core() -> None:
    new = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "e1"},
        "eventTime": "2024-01-01T00:00:00.000000Z",
        "reportingController": "example.com/controller",
        "reportingInstance": "ctrl-1",
        "action": "Scaling",
        "reason": "ScaledUp",
        "note": "scaled to 3",
        "type": "Normal",
        "series": {"count": 3, "lastObservedTime": "2024-01-01T00:01:00.000000Z"},
    }
    core = events.events_v1_to_core(new)
    assert core["apiVersion"] == "v1"
    assert core["message"] == "scaled to 3"
    assert core["reportingComponent"] == "example.com/controller"
    assert core["series"] == new["series"]
    # The Python client requires involvedObject on core Events.
    assert core["involvedObject"] == {}


def test_served_version_identity() -> None:
    assert (events.SERVED.group, events.SERVED.version, events.SERVED.kind) == ("events.k8s.io", "v1", "Event")
    assert events.SERVED.api_version == "events.k8s.io/v1"
    assert events.SERVED.warning == ""
