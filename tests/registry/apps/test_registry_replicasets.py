"""ReplicaSet strategy: defaults, validation messages, retired versions, status, table rows."""

from __future__ import annotations

import copy
from datetime import datetime, timezone

import pytest

from kybernetes.api import duration
from kybernetes.registry.apps import replicasets as rs
from tests.registry.apps.storeflow import book, create, messages, update, update_status, valid

STRATEGY = rs.STRATEGY


def manifest(**spec_changes: object) -> dict:
    obj = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "kubia"},
        "spec": {
            "selector": {"matchLabels": {"app": "kubia"}},
            "template": {
                "metadata": {"labels": {"app": "kubia"}},
                "spec": {"containers": [{"name": "kubia", "image": "luksa/kubia"}]},
            },
        },
    }
    obj["spec"].update(spec_changes)
    return obj


@pytest.fixture
def fixed_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(duration, "now", lambda: datetime(2024, 1, 1, 0, 5, tzinfo=timezone.utc))


def test_identity_matches_the_catalogue() -> None:
    assert (STRATEGY.group, STRATEGY.version, STRATEGY.kind) == ("apps", "v1", "ReplicaSet")
    assert (STRATEGY.plural, STRATEGY.singular, STRATEGY.short_names) == ("replicasets", "replicaset", ("rs",))
    assert STRATEGY.categories == ("all",)
    assert STRATEGY.subresources == ("status", "scale")
    assert STRATEGY.tracks_generation and STRATEGY.has_status


def test_defaults_fill_replicas_pod_template_and_a_status_the_python_client_accepts() -> None:
    stored = valid(STRATEGY, manifest())
    assert stored["spec"]["replicas"] == 1
    pod = stored["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Always"
    assert pod["dnsPolicy"] == "ClusterFirst"
    assert stored["spec"]["template"]["metadata"]["creationTimestamp"] is None
    assert stored["status"] == {"replicas": 0}
    assert stored["metadata"]["generation"] == 1


def test_create_resets_a_status_sent_by_the_client() -> None:
    obj = manifest()
    obj["status"] = {"replicas": 5, "readyReplicas": 5}
    assert valid(STRATEGY, obj)["status"] == {"replicas": 0}


def test_book_replicaset_in_apps_v1beta2_is_stored_as_apps_v1_and_read_back_unchanged() -> None:
    original = book("kubia-replicaset.yaml")
    stored = valid(STRATEGY, original, served=rs.APPS_V1BETA2)
    assert stored["apiVersion"] == "apps/v1"
    assert stored["spec"]["replicas"] == 3
    served = rs.APPS_V1BETA2.from_storage(stored)
    assert served["apiVersion"] == "apps/v1beta2"
    assert served["kind"] == "ReplicaSet"
    assert served["spec"]["selector"] == original["spec"]["selector"]
    assert rs.APPS_V1BETA2.to_storage(served) == stored


def test_book_replicaset_with_match_expressions_is_valid() -> None:
    stored = valid(STRATEGY, book("kubia-replicaset-matchexpressions.yaml"), served=rs.APPS_V1BETA2)
    assert STRATEGY.scale_selector(stored) == "app in (kubia)"


def test_extensions_v1beta1_takes_selector_and_labels_from_the_template() -> None:
    obj = manifest()
    obj["apiVersion"] = "extensions/v1beta1"
    del obj["spec"]["selector"]
    stored = valid(STRATEGY, obj, served=rs.EXTENSIONS_V1BETA1)
    assert stored["spec"]["selector"] == {"matchLabels": {"app": "kubia"}}
    assert stored["metadata"]["labels"] == {"app": "kubia"}
    assert rs.EXTENSIONS_V1BETA1.from_storage(stored)["apiVersion"] == "extensions/v1beta1"


@pytest.mark.parametrize(
    ("served", "warning"),
    [
        (rs.APPS_V1BETA2, "apps/v1beta2 ReplicaSet is deprecated in v1.9+, unavailable in v1.16+; use apps/v1 ReplicaSet"),
        (
            rs.EXTENSIONS_V1BETA1,
            "extensions/v1beta1 ReplicaSet is deprecated in v1.8+, unavailable in v1.16+; use apps/v1 ReplicaSet",
        ),
    ],
    ids=["apps-v1beta2", "extensions-v1beta1"],
)
def test_retired_versions_carry_upstream_deprecation_warnings(served, warning) -> None:
    assert served.warning == warning


def test_extensions_is_converted_but_not_served() -> None:
    # Serving it would list "extensions" before networking.k8s.io in discovery (see the module).
    assert STRATEGY.served_versions == (rs.APPS_V1BETA2,)


def _without_selector() -> dict:
    obj = manifest()
    del obj["spec"]["selector"]
    return obj


def _with_template_pod(**pod: object) -> dict:
    obj = manifest()
    obj["spec"]["template"]["spec"].update(pod)
    return obj


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (
            _without_selector(),
            [
                "spec.selector: Required value",
                'spec.template.metadata.labels: Invalid value: {"app":"kubia"}: `selector` does not match template `labels`',
            ],
        ),
        (manifest(selector={}), ["spec.selector: Invalid value: {}: empty selector is invalid for deployment"]),
        (
            manifest(selector={"matchLabels": {"app": "other"}}),
            ['spec.template.metadata.labels: Invalid value: {"app":"kubia"}: `selector` does not match template `labels`'],
        ),
        (manifest(replicas=-1), ["spec.replicas: Invalid value: -1: must be greater than or equal to 0"]),
        (manifest(minReadySeconds=-5), ["spec.minReadySeconds: Invalid value: -5: must be greater than or equal to 0"]),
        (
            _with_template_pod(restartPolicy="OnFailure"),
            ['spec.template.spec.restartPolicy: Unsupported value: "OnFailure": supported values: "Always"'],
        ),
        (
            _with_template_pod(activeDeadlineSeconds=30),
            ["spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in ReplicaSet is not Supported"],
        ),
        (
            manifest(selector={"matchExpressions": [{"key": "app", "operator": "Near", "values": ["kubia"]}]}),
            [
                'spec.selector.matchExpressions[0].operator: Invalid value: "Near": not a valid selector operator',
                'spec.selector: Invalid value: {"matchExpressions":[{"key":"app","operator":"Near","values":["kubia"]}]}: '
                "invalid label selector",
            ],
        ),
    ],
    ids=[
        "selector-missing",
        "selector-empty",
        "selector-mismatch",
        "replicas-negative",
        "min-ready-negative",
        "restart-policy",
        "active-deadline",
        "selector-operator",
    ],
)
def test_validation_reports_upstream_messages(obj: dict, expected: list[str]) -> None:
    _, errs = create(STRATEGY, obj)
    assert messages(errs) == expected


def test_pod_template_errors_use_template_paths() -> None:
    obj = manifest()
    obj["spec"]["template"]["spec"]["containers"] = []
    _, errs = create(STRATEGY, obj)
    assert "spec.template.spec.containers: Required value" in messages(errs)


def test_selector_is_immutable_on_update() -> None:
    old = valid(STRATEGY, manifest())
    new = copy.deepcopy(old)
    new["spec"]["selector"] = {"matchLabels": {"app": "kubia", "tier": "web"}}
    new["spec"]["template"]["metadata"]["labels"]["tier"] = "web"
    _, errs = update(STRATEGY, old, new)
    assert messages(errs) == [
        'spec.selector: Invalid value: {"matchLabels":{"app":"kubia","tier":"web"}}: field is immutable'
    ]


def test_spec_changes_bump_generation_and_status_is_kept() -> None:
    old = valid(STRATEGY, manifest())
    old["status"] = {"replicas": 1, "readyReplicas": 1}
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 5
    new["status"] = {"replicas": 99}
    stored, errs = update(STRATEGY, old, new)
    assert not errs
    assert stored["metadata"]["generation"] == 2
    assert stored["status"] == {"replicas": 1, "readyReplicas": 1}


def test_label_changes_keep_generation() -> None:
    old = valid(STRATEGY, manifest())
    new = copy.deepcopy(old)
    new["metadata"]["labels"] = {"team": "a"}
    stored, errs = update(STRATEGY, old, new)
    assert not errs
    assert stored["metadata"]["generation"] == 1


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({"replicas": 2, "readyReplicas": 1, "availableReplicas": 1}, []),
        (
            # As upstream, the zero counters are then also "greater" than the negative total.
            {"replicas": -1},
            [
                "status.replicas: Invalid value: -1: must be greater than or equal to 0",
                "status.fullyLabeledReplicas: Invalid value: 0: cannot be greater than status.replicas",
                "status.readyReplicas: Invalid value: 0: cannot be greater than status.replicas",
                "status.availableReplicas: Invalid value: 0: cannot be greater than status.replicas",
            ],
        ),
        (
            {"replicas": 1, "readyReplicas": 2, "availableReplicas": 0},
            ["status.readyReplicas: Invalid value: 2: cannot be greater than status.replicas"],
        ),
        (
            {"replicas": 3, "readyReplicas": 1, "availableReplicas": 2},
            ["status.availableReplicas: Invalid value: 2: cannot be greater than readyReplicas"],
        ),
    ],
    ids=["fine", "negative", "ready-above-replicas", "available-above-ready"],
)
def test_status_updates_are_checked(status: dict, expected: list[str]) -> None:
    old = valid(STRATEGY, manifest())
    new, errs = update_status(STRATEGY, old, status)
    assert messages(errs) == expected
    assert new["spec"] == old["spec"]


def test_table_row_matches_upstream_columns(fixed_now: None) -> None:
    stored = valid(STRATEGY, manifest(replicas=3))
    stored["status"] = {"replicas": 3, "readyReplicas": 2}
    names = [c.name for c in STRATEGY.columns]
    assert names == ["Name", "Desired", "Current", "Ready", "Age", "Containers", "Images", "Selector"]
    assert [c.priority for c in STRATEGY.columns] == [0, 0, 0, 0, 0, 1, 1, 1]
    assert STRATEGY.row(stored) == ["kubia", 3, 3, 2, "5m", "kubia", "luksa/kubia", "app=kubia"]


def test_selectable_fields_and_scale() -> None:
    stored = valid(STRATEGY, manifest())
    stored["status"] = {"replicas": 4}
    assert STRATEGY.selectable_fields(stored) == {"status.replicas": "4"}
    assert STRATEGY.scale_selector(stored) == "app=kubia"
    assert STRATEGY.status_replicas(stored) == 4
