"""ReplicationControllers: selector and labels from the template, template rules, status checks and the row."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.registry.core.replicationcontrollers import STRATEGY

Obj = dict[str, Any]


def controller(**spec: Any) -> Obj:
    body: Obj = {"template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}
    body.update(spec)
    return {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "web", "namespace": "default"}, "spec": body}


def test_replication_controllers_are_catalogued_as_upstream() -> None:
    assert (STRATEGY.plural, STRATEGY.short_names, STRATEGY.categories, STRATEGY.subresources) == ("replicationcontrollers", ("rc",), ("all",), ("status", "scale"))
    assert STRATEGY.tracks_generation
    assert [(c.name, c.type, c.priority) for c in STRATEGY.columns] == [
        ("Name", "string", 0), ("Desired", "integer", 0), ("Current", "integer", 0), ("Ready", "integer", 0), ("Age", "string", 0),
        ("Containers", "string", 1), ("Images", "string", 1), ("Selector", "string", 1),
    ]


def test_selector_labels_and_replicas_are_defaulted_from_the_template(create) -> None:
    obj, errors = create(STRATEGY, controller())
    assert errors == []
    assert obj["spec"]["selector"] == {"app": "web"}
    assert obj["spec"]["replicas"] == 1
    assert obj["metadata"]["labels"] == {"app": "web"}
    assert obj["spec"]["template"]["metadata"]["creationTimestamp"] is None
    assert obj["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "Always"
    assert obj["status"] == {"replicas": 0}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"selector": {"app": "api"}}, ['spec.template.metadata.labels: Invalid value: {"app":"web"}: `selector` does not match template `labels`']),
        ({"replicas": -1}, ["spec.replicas: Invalid value: -1: must be greater than or equal to 0"]),
        ({"template": None}, ["spec.selector: Required value", "spec.template: Required value"]),
        (
            {"template": {"metadata": {"labels": {"app": "web"}}, "spec": {"restartPolicy": "OnFailure", "containers": [{"name": "web", "image": "nginx"}]}}},
            ['spec.template.spec.restartPolicy: Unsupported value: "OnFailure": supported values: "Always"'],
        ),
        (
            {"template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web"}]}}},
            ["spec.template.spec.containers[0].image: Required value"],
        ),
    ],
    ids=["selector-mismatch", "negative-replicas", "no-template", "restart-policy", "template-container"],
)
def test_bad_controllers_report_upstreams_errors(create, spec: Obj, expected: list[str]) -> None:
    _, errors = create(STRATEGY, controller(**spec))
    assert errors == expected


def test_status_counts_may_not_exceed_replicas(create, status_update) -> None:
    stored, _ = create(STRATEGY, controller())
    new = dict(stored, status={"replicas": 1, "readyReplicas": 2, "availableReplicas": 1})
    _, errors = status_update(STRATEGY, new, stored)
    assert errors == ["status.readyReplicas: Invalid value: 2: cannot be greater than status.replicas"]


def test_row_selectable_fields_and_scale_selector(clock, create) -> None:
    obj, _ = create(STRATEGY, controller(replicas=3, selector={"tier": "front", "app": "web"}))
    obj["spec"]["template"]["metadata"]["labels"]["tier"] = "front"
    obj["metadata"]["creationTimestamp"] = "2024-05-01T11:58:00Z"
    obj["status"] = {"replicas": 3, "readyReplicas": 2}
    assert STRATEGY.row(obj) == ["web", 3, 3, 2, "2m", "web", "nginx", "app=web,tier=front"]
    assert STRATEGY.selectable_fields(obj) == {"status.replicas": "3"}
    assert STRATEGY.scale_selector(obj) == "app=web,tier=front"
