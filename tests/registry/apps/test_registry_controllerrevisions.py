"""ControllerRevision strategy: data required and immutable, CONTROLLER column, retired versions."""

from __future__ import annotations

import copy
from datetime import datetime, timezone

import pytest

from kybernetes.api import duration
from kybernetes.registry.apps import controllerrevisions as cr
from tests.registry.apps.storeflow import create, messages, update, valid

STRATEGY = cr.STRATEGY


def manifest(**changes: object) -> dict:
    obj = {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {
            "name": "fluentd-6d5b8c7f9",
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "fluentd", "uid": "u-1", "controller": True}
            ],
        },
        "data": {"spec": {"template": {"$patch": "replace"}}},
        "revision": 1,
    }
    obj.update(changes)
    return obj


def test_identity() -> None:
    assert (STRATEGY.group, STRATEGY.plural, STRATEGY.singular, STRATEGY.namespaced) == (
        "apps",
        "controllerrevisions",
        "controllerrevision",
        True,
    )
    assert not STRATEGY.has_status and not STRATEGY.tracks_generation


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (manifest(), []),
        (manifest(data=None), ["data: Required value: data is mandatory"]),
        (manifest(revision=-1), ["revision: Invalid value: -1: must be greater than or equal to 0"]),
    ],
    ids=["valid", "no-data", "negative-revision"],
)
def test_validation(obj: dict, expected: list[str]) -> None:
    assert messages(create(STRATEGY, obj)[1]) == expected


def test_data_is_immutable() -> None:
    old = valid(STRATEGY, manifest())
    new = copy.deepcopy(old)
    new["data"] = {"spec": {}}
    assert messages(update(STRATEGY, old, new)[1]) == ['data: Invalid value: {"spec":{}}: field is immutable']


def test_row_names_the_controller(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(duration, "now", lambda: datetime(2024, 1, 1, 0, 0, 30, tzinfo=timezone.utc))
    stored = valid(STRATEGY, manifest(revision=3))
    assert [c.name for c in STRATEGY.columns] == ["Name", "Controller", "Revision", "Age"]
    assert STRATEGY.row(stored) == ["fluentd-6d5b8c7f9", "daemonset.apps/fluentd", 3, "30s"]
    orphan = copy.deepcopy(stored)
    orphan["metadata"]["ownerReferences"] = []
    assert STRATEGY.row(orphan)[1] == "<none>"


@pytest.mark.parametrize(
    ("served", "warning"),
    [
        (
            cr.STRATEGY.served_versions[0],
            "apps/v1beta1 ControllerRevision is deprecated in v1.8+, unavailable in v1.16+; use apps/v1 ControllerRevision",
        ),
        (
            cr.STRATEGY.served_versions[1],
            "apps/v1beta2 ControllerRevision is deprecated in v1.9+, unavailable in v1.16+; use apps/v1 ControllerRevision",
        ),
    ],
    ids=["v1beta1", "v1beta2"],
)
def test_retired_versions(served, warning) -> None:
    assert served.warning == warning
    stored = served.to_storage(manifest(apiVersion=f"apps/{served.version}"))
    assert stored["apiVersion"] == "apps/v1"
    assert served.from_storage(stored)["apiVersion"] == f"apps/{served.version}"
