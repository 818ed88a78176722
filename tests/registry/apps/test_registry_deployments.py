"""Deployment strategy: defaults per served version, validation messages, generation, table rows."""

from __future__ import annotations

import copy
from datetime import datetime, timezone

import pytest

from kybernetes.api import duration
from kybernetes.registry.apps import deployments as deploy
from tests.registry.apps.storeflow import book, create, messages, update, update_status, valid

STRATEGY = deploy.STRATEGY


def manifest(**spec_changes: object) -> dict:
    obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "kubia"},
        "spec": {
            "selector": {"matchLabels": {"app": "kubia"}},
            "template": {
                "metadata": {"labels": {"app": "kubia"}},
                "spec": {"containers": [{"name": "nodejs", "image": "luksa/kubia:v1"}]},
            },
        },
    }
    obj["spec"].update(spec_changes)
    return obj


def spec_without_template(obj: dict) -> dict:
    return {k: v for k, v in obj["spec"].items() if k != "template"}


def test_identity_matches_the_catalogue() -> None:
    assert (STRATEGY.group, STRATEGY.version, STRATEGY.kind, STRATEGY.plural) == ("apps", "v1", "Deployment", "deployments")
    assert STRATEGY.short_names == ("deploy",) and STRATEGY.categories == ("all",)
    assert STRATEGY.subresources == ("status", "scale")
    assert STRATEGY.tracks_generation and STRATEGY.has_status


def test_apps_v1_defaults() -> None:
    stored = valid(STRATEGY, manifest())
    assert spec_without_template(stored) == {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "kubia"}},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
        "revisionHistoryLimit": 10,
        "progressDeadlineSeconds": 600,
    }
    assert stored["spec"]["template"]["spec"]["restartPolicy"] == "Always"
    assert stored["status"] == {}


def test_recreate_strategy_gets_no_rolling_update_block() -> None:
    stored = valid(STRATEGY, manifest(strategy={"type": "Recreate"}))
    assert stored["spec"]["strategy"] == {"type": "Recreate"}


def test_book_deployment_in_apps_v1beta1_defaults_selector_labels_and_history_limit() -> None:
    stored = valid(STRATEGY, book("kubia-deployment-v1.yaml"), served=deploy.APPS_V1BETA1)
    assert stored["apiVersion"] == "apps/v1"
    assert stored["metadata"]["labels"] == {"app": "kubia"}
    assert spec_without_template(stored) == {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "kubia"}},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
        "revisionHistoryLimit": 2,
        "progressDeadlineSeconds": 600,
    }
    served = deploy.APPS_V1BETA1.from_storage(stored)
    assert served["apiVersion"] == "apps/v1beta1"
    assert deploy.APPS_V1BETA1.to_storage(served) == stored


def test_extensions_v1beta1_defaults_are_one_one_and_unbounded() -> None:
    obj = book("kubia-deployment-v1.yaml")
    obj["apiVersion"] = "extensions/v1beta1"
    stored = valid(STRATEGY, obj, served=deploy.EXTENSIONS_V1BETA1)
    assert spec_without_template(stored) == {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "kubia"}},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 1}},
        "progressDeadlineSeconds": 2147483647,
        "revisionHistoryLimit": 2147483647,
    }


def test_book_chapter_nine_strategy_is_kept() -> None:
    obj = book("kubia-deployment-v1.yaml")
    obj["spec"]["minReadySeconds"] = 10
    obj["spec"]["strategy"] = {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}, "type": "RollingUpdate"}
    stored = valid(STRATEGY, obj, served=deploy.APPS_V1BETA1)
    assert stored["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}


def test_apps_v1beta2_round_trip() -> None:
    obj = manifest()
    obj["apiVersion"] = "apps/v1beta2"
    stored = valid(STRATEGY, obj, served=deploy.APPS_V1BETA2)
    assert stored["apiVersion"] == "apps/v1"
    assert spec_without_template(stored)["revisionHistoryLimit"] == 10
    assert deploy.APPS_V1BETA2.from_storage(stored)["apiVersion"] == "apps/v1beta2"


def test_rollback_to_of_retired_versions_lives_in_an_annotation() -> None:
    obj = book("kubia-deployment-v1.yaml")
    obj["spec"]["rollbackTo"] = {"revision": 2}
    stored = valid(STRATEGY, obj, served=deploy.APPS_V1BETA1)
    assert "rollbackTo" not in stored["spec"]
    assert stored["metadata"]["annotations"] == {deploy.ROLLBACK_ANNOTATION: "2"}
    served = deploy.APPS_V1BETA1.from_storage(stored)
    assert served["spec"]["rollbackTo"] == {"revision": 2}
    assert "annotations" not in served["metadata"]


@pytest.mark.parametrize(
    ("served", "warning"),
    [
        (deploy.APPS_V1BETA1, "apps/v1beta1 Deployment is deprecated in v1.8+, unavailable in v1.16+; use apps/v1 Deployment"),
        (deploy.APPS_V1BETA2, "apps/v1beta2 Deployment is deprecated in v1.9+, unavailable in v1.16+; use apps/v1 Deployment"),
        (
            deploy.EXTENSIONS_V1BETA1,
            "extensions/v1beta1 Deployment is deprecated in v1.8+, unavailable in v1.16+; use apps/v1 Deployment",
        ),
    ],
    ids=["apps-v1beta1", "apps-v1beta2", "extensions-v1beta1"],
)
def test_retired_versions_carry_upstream_deprecation_warnings(served, warning) -> None:
    assert served.warning == warning


def test_served_versions() -> None:
    # extensions/v1beta1 is converted but not served (see the module).
    assert STRATEGY.served_versions == (deploy.APPS_V1BETA1, deploy.APPS_V1BETA2)


def _no_selector() -> dict:
    obj = manifest()
    del obj["spec"]["selector"]
    return obj


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (
            _no_selector(),
            [
                "spec.selector: Required value",
                'spec.template.metadata.labels: Invalid value: {"app":"kubia"}: `selector` does not match template `labels`',
            ],
        ),
        (manifest(selector={}), ["spec.selector: Invalid value: {}: empty selector is invalid for deployment"]),
        (manifest(replicas=-2), ["spec.replicas: Invalid value: -2: must be greater than or equal to 0"]),
        (
            manifest(strategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}}),
            ["spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0"],
        ),
        (
            manifest(strategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "0%", "maxSurge": "0%"}}),
            ['spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "0%": may not be 0 when `maxSurge` is 0'],
        ),
        (
            manifest(strategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "150%", "maxSurge": 1}}),
            ['spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "150%": must not be greater than 100%'],
        ),
        (
            manifest(strategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "half", "maxSurge": -1}}),
            [
                'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "half": a valid percent string must be a '
                "numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
                "spec.strategy.rollingUpdate.maxSurge: Invalid value: -1: must be greater than or equal to 0",
            ],
        ),
        (
            manifest(strategy={"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}),
            ["spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"],
        ),
        (
            manifest(strategy={"type": "BlueGreen"}),
            ['spec.strategy: Unsupported value: {"type":"BlueGreen"}: supported values: "Recreate", "RollingUpdate"'],
        ),
        (
            manifest(minReadySeconds=700),
            ["spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds"],
        ),
        (manifest(revisionHistoryLimit=-1), ["spec.revisionHistoryLimit: Invalid value: -1: must be greater than or equal to 0"]),
    ],
    ids=[
        "selector-missing",
        "selector-empty",
        "replicas-negative",
        "both-zero",
        "both-zero-percent",
        "above-100-percent",
        "not-a-percent",
        "recreate-with-rolling",
        "unknown-type",
        "deadline-below-min-ready",
        "history-negative",
    ],
)
def test_validation_reports_upstream_messages(obj: dict, expected: list[str]) -> None:
    _, errs = create(STRATEGY, obj)
    assert messages(errs) == expected


def test_restart_policy_must_be_always() -> None:
    obj = manifest()
    obj["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    _, errs = create(STRATEGY, obj)
    assert messages(errs) == ['spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"']


def test_selector_is_immutable_in_apps_v1() -> None:
    old = valid(STRATEGY, manifest())
    new = copy.deepcopy(old)
    new["spec"]["selector"] = {"matchLabels": {"app": "kubia", "v": "2"}}
    new["spec"]["template"]["metadata"]["labels"]["v"] = "2"
    _, errs = update(STRATEGY, old, new)
    assert messages(errs) == ['spec.selector: Invalid value: {"matchLabels":{"app":"kubia","v":"2"}}: field is immutable']


def test_spec_and_annotation_changes_bump_generation_label_changes_do_not() -> None:
    old = valid(STRATEGY, manifest())
    relabelled = copy.deepcopy(old)
    relabelled["metadata"]["labels"] = {"team": "a"}
    assert update(STRATEGY, old, relabelled)[0]["metadata"]["generation"] == 1
    annotated = copy.deepcopy(old)
    annotated["metadata"]["annotations"] = {"kubernetes.io/change-cause": "v2"}
    assert update(STRATEGY, old, annotated)[0]["metadata"]["generation"] == 2
    scaled = copy.deepcopy(old)
    scaled["spec"]["replicas"] = 4
    assert update(STRATEGY, old, scaled)[0]["metadata"]["generation"] == 2


def test_update_keeps_status() -> None:
    old = valid(STRATEGY, manifest())
    old["status"] = {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1, "updatedReplicas": 1}
    new = copy.deepcopy(old)
    new["status"] = {}
    assert update(STRATEGY, old, new)[0]["status"] == old["status"]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({"replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 1}, []),
        ({"replicas": 1, "updatedReplicas": 2}, ["status.updatedReplicas: Invalid value: 2: cannot be greater than status.replicas"]),
        (
            {"replicas": 3, "readyReplicas": 1, "availableReplicas": 2},
            ["status.availableReplicas: Invalid value: 2: cannot be greater than readyReplicas"],
        ),
        ({"unavailableReplicas": -1}, ["status.unavailableReplicas: Invalid value: -1: must be greater than or equal to 0"]),
    ],
    ids=["fine", "updated-above", "available-above-ready", "negative"],
)
def test_status_updates_are_checked(status: dict, expected: list[str]) -> None:
    old = valid(STRATEGY, manifest())
    _, errs = update_status(STRATEGY, old, status)
    assert messages(errs) == expected


def test_collision_count_may_not_shrink() -> None:
    old = valid(STRATEGY, manifest())
    old["status"] = {"collisionCount": 2}
    _, errs = update_status(STRATEGY, old, {"collisionCount": 1})
    assert messages(errs) == ["status.collisionCount: Invalid value: 1: cannot be decremented"]


def test_table_row(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(duration, "now", lambda: datetime(2024, 1, 1, 1, 0, tzinfo=timezone.utc))
    stored = valid(STRATEGY, manifest(replicas=3))
    stored["status"] = {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}
    assert [c.name for c in STRATEGY.columns] == [
        "Name", "Ready", "Up-to-date", "Available", "Age", "Containers", "Images", "Selector",
    ]
    assert [c.type for c in STRATEGY.columns][:5] == ["string"] * 5
    assert STRATEGY.row(stored) == ["kubia", "2/3", 3, 2, "60m", "nodejs", "luksa/kubia:v1", "app=kubia"]


def test_scale_view() -> None:
    stored = valid(STRATEGY, manifest(replicas=3))
    stored["status"] = {"replicas": 2}
    assert STRATEGY.scale_selector(stored) == "app=kubia"
    assert STRATEGY.status_replicas(stored) == 2
