"""DaemonSet strategy: defaults, template generation, validation messages, retired versions, rows."""

from __future__ import annotations

import copy
from datetime import datetime, timezone

import pytest

from kybernetes.api import duration
from kybernetes.registry.apps import daemonsets as ds
from tests.registry.apps.storeflow import book, create, messages, update, update_status, valid

STRATEGY = ds.STRATEGY
TG = ds.TEMPLATE_GENERATION_ANNOTATION


def manifest(**spec_changes: object) -> dict:
    obj = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "ssd-monitor"},
        "spec": {
            "selector": {"matchLabels": {"app": "ssd-monitor"}},
            "template": {
                "metadata": {"labels": {"app": "ssd-monitor"}},
                "spec": {"nodeSelector": {"disk": "ssd"}, "containers": [{"name": "main", "image": "luksa/ssd-monitor"}]},
            },
        },
    }
    obj["spec"].update(spec_changes)
    return obj


def test_identity_matches_the_catalogue() -> None:
    assert (STRATEGY.group, STRATEGY.kind, STRATEGY.plural, STRATEGY.singular) == ("apps", "DaemonSet", "daemonsets", "daemonset")
    assert STRATEGY.short_names == ("ds",) and STRATEGY.categories == ("all",)
    assert STRATEGY.subresources == ("status",)


def test_defaults_and_the_status_the_python_client_requires() -> None:
    stored = valid(STRATEGY, manifest())
    assert stored["spec"]["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    assert stored["spec"]["revisionHistoryLimit"] == 10
    assert stored["status"] == {
        "currentNumberScheduled": 0,
        "desiredNumberScheduled": 0,
        "numberMisscheduled": 0,
        "numberReady": 0,
    }
    assert stored["metadata"]["annotations"] == {TG: "1"}
    assert stored["metadata"]["generation"] == 1


def test_on_delete_strategy_has_no_rolling_update() -> None:
    stored = valid(STRATEGY, manifest(updateStrategy={"type": "OnDelete"}))
    assert stored["spec"]["updateStrategy"] == {"type": "OnDelete"}


def test_book_daemonset_in_apps_v1beta2() -> None:
    stored = valid(STRATEGY, book("ssd-monitor-daemonset.yaml"), served=ds.APPS_V1BETA2)
    assert stored["apiVersion"] == "apps/v1"
    served = ds.APPS_V1BETA2.from_storage(stored)
    assert served["apiVersion"] == "apps/v1beta2"
    assert ds.APPS_V1BETA2.to_storage(served) == stored
    assert ds.APPS_V1BETA2.warning == (
        "apps/v1beta2 DaemonSet is deprecated in v1.9+, unavailable in v1.16+; use apps/v1 DaemonSet"
    )


def test_extensions_v1beta1_defaults_on_delete_and_template_generation() -> None:
    obj = book("ssd-monitor-daemonset.yaml")
    obj["apiVersion"] = "extensions/v1beta1"
    del obj["spec"]["selector"]
    stored = valid(STRATEGY, obj, served=ds.EXTENSIONS_V1BETA1)
    assert stored["spec"]["selector"] == {"matchLabels": {"app": "ssd-monitor"}}
    assert stored["metadata"]["labels"] == {"app": "ssd-monitor"}
    assert stored["spec"]["updateStrategy"] == {"type": "OnDelete"}
    served = ds.EXTENSIONS_V1BETA1.from_storage(stored)
    assert served["spec"]["templateGeneration"] == 1
    assert TG not in (served["metadata"].get("annotations") or {})
    assert ds.EXTENSIONS_V1BETA1.warning == (
        "extensions/v1beta1 DaemonSet is deprecated in v1.8+, unavailable in v1.16+; use apps/v1 DaemonSet"
    )


def test_served_versions() -> None:
    # extensions/v1beta1 is converted but not served (see the module).
    assert STRATEGY.served_versions == (ds.APPS_V1BETA2,)


def test_template_generation_moves_with_the_template_only() -> None:
    old = valid(STRATEGY, manifest())
    tweaked = copy.deepcopy(old)
    tweaked["spec"]["minReadySeconds"] = 5
    tweaked["metadata"]["annotations"][TG] = "40"
    stored, errs = update(STRATEGY, old, tweaked)
    assert not errs
    assert stored["metadata"]["annotations"][TG] == "1"
    assert stored["metadata"]["generation"] == 2
    retemplated = copy.deepcopy(stored)
    retemplated["spec"]["template"]["spec"]["containers"][0]["image"] = "luksa/ssd-monitor:v2"
    again, errs = update(STRATEGY, stored, retemplated)
    assert not errs
    assert again["metadata"]["annotations"][TG] == "2"
    assert again["metadata"]["generation"] == 3


def _no_selector() -> dict:
    obj = manifest()
    del obj["spec"]["selector"]
    return obj


def _rolling(unavailable: object, surge: object) -> dict:
    return manifest(updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": unavailable, "maxSurge": surge}})


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (
            # DaemonSet has no Required error for the selector upstream: only the mismatch.
            _no_selector(),
            ['spec.template.metadata.labels: Invalid value: {"app":"ssd-monitor"}: `selector` does not match template `labels`'],
        ),
        (manifest(selector={}), ["spec.selector: Invalid value: {}: empty selector is invalid for daemonset"]),
        (_rolling(0, 0), ["spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0"]),
        (_rolling(1, 1), ["spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 1: may not be set when maxUnavailable is non-zero"]),
        (
            _rolling("120%", 0),
            ['spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: "120%": must not be greater than 100%'],
        ),
        (
            manifest(updateStrategy={"type": "Sometimes"}),
            ['spec.updateStrategy: Unsupported value: {"type":"Sometimes"}: supported values: "RollingUpdate", "OnDelete"'],
        ),
        (manifest(minReadySeconds=-1), ["spec.minReadySeconds: Invalid value: -1: must be greater than or equal to 0"]),
    ],
    ids=["selector-missing", "selector-empty", "both-zero", "both-set", "above-100", "unknown-type", "min-ready"],
)
def test_validation_reports_upstream_messages(obj: dict, expected: list[str]) -> None:
    _, errs = create(STRATEGY, obj)
    assert messages(errs) == expected


def test_template_restart_policy_and_deadline() -> None:
    obj = manifest()
    obj["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"
    obj["spec"]["template"]["spec"]["activeDeadlineSeconds"] = 10
    _, errs = create(STRATEGY, obj)
    assert messages(errs) == [
        'spec.template.spec.restartPolicy: Unsupported value: "OnFailure": supported values: "Always"',
        "spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in DaemonSet is not Supported",
    ]


def test_selector_is_immutable() -> None:
    old = valid(STRATEGY, manifest())
    new = copy.deepcopy(old)
    new["spec"]["selector"] = {"matchLabels": {"app": "ssd-monitor", "x": "y"}}
    new["spec"]["template"]["metadata"]["labels"]["x"] = "y"
    _, errs = update(STRATEGY, old, new)
    assert messages(errs) == ['spec.selector: Invalid value: {"matchLabels":{"app":"ssd-monitor","x":"y"}}: field is immutable']


def test_status_update_checks_counters() -> None:
    old = valid(STRATEGY, manifest())
    _, errs = update_status(STRATEGY, old, {"currentNumberScheduled": -1, "desiredNumberScheduled": 0, "numberMisscheduled": 0, "numberReady": 0})
    assert messages(errs) == ["status.currentNumberScheduled: Invalid value: -1: must be greater than or equal to 0"]


def test_table_row(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(duration, "now", lambda: datetime(2024, 1, 3, 0, 0, tzinfo=timezone.utc))
    stored = valid(STRATEGY, manifest())
    stored["status"].update(desiredNumberScheduled=2, currentNumberScheduled=2, numberReady=1, updatedNumberScheduled=2, numberAvailable=1)
    assert [c.name for c in STRATEGY.columns] == [
        "Name", "Desired", "Current", "Ready", "Up-to-date", "Available", "Node Selector", "Age",
        "Containers", "Images", "Selector",
    ]
    assert STRATEGY.row(stored) == ["ssd-monitor", 2, 2, 1, 2, 1, "disk=ssd", "2d", "main", "luksa/ssd-monitor", "app=ssd-monitor"]


def test_node_selector_cell_is_none_without_one() -> None:
    obj = manifest()
    del obj["spec"]["template"]["spec"]["nodeSelector"]
    assert valid(STRATEGY, obj) and STRATEGY.row(valid(STRATEGY, obj))[6] == "<none>"
