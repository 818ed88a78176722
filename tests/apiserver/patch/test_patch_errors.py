"""Patch errors carry upstream's HTTP status, reason and Status body; the public surface is pinned."""

from __future__ import annotations

import pytest

import kybernetes.apiserver.patch as patch
from kybernetes.apiserver.patch import ApplyConflictError, Conflict, PatchError


def test_the_public_surface_is_exactly_this() -> None:
    assert sorted(patch.__all__) == [
        "ApplyConflictError",
        "Conflict",
        "PatchError",
        "SchemaNode",
        "apply_json_patch",
        "apply_merge_patch",
        "apply_patch",
        "apply_strategic_merge_patch",
        "fields_of",
        "update_managed_fields",
    ]


@pytest.mark.parametrize(
    "error, status",
    [
        (
            PatchError("invalid patch format of retainKeys", code=400),
            {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
             "message": "invalid patch format of retainKeys", "reason": "BadRequest", "code": 400},
        ),
        (
            PatchError("map: map[image:x] does not contain declared merge key: name", code=500),
            {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
             "message": "map: map[image:x] does not contain declared merge key: name", "code": 500},
        ),
    ],
    ids=["bad-request-has-no-details", "plain-go-error-has-no-reason"],
)
def test_status_bodies_match_upstream(error: PatchError, status: dict[str, object]) -> None:
    assert error.status() == status


def test_the_message_is_the_string_of_the_error() -> None:
    assert str(PatchError("boom", code=400)) == "boom"
    assert PatchError("boom").reason == "Invalid"


@pytest.mark.parametrize(
    "conflict, text",
    [
        (Conflict("kubectl-client-side-apply", ".spec.replicas", "Update", "apps/v1"), 'conflict with "kubectl-client-side-apply" using apps/v1'),
        (Conflict("kubectl", ".spec.replicas", "Apply"), 'conflict with "kubectl"'),
        (
            Conflict("kube-controller-manager", ".status.replicas", "Update", "apps/v1", "status"),
            'conflict with "kube-controller-manager" with subresource "status" using apps/v1',
        ),
    ],
    ids=["update-manager", "apply-manager", "subresource-manager"],
)
def test_conflict_causes_name_the_manager_as_upstream_prints_it(conflict: Conflict, text: str) -> None:
    assert conflict.cause() == {"reason": "FieldManagerConflict", "message": text, "field": conflict.field_path}


def test_conflicts_with_several_managers_are_grouped_in_manager_order() -> None:
    error = ApplyConflictError.from_conflicts(
        [
            Conflict("zeta", ".spec.b", "Update", "v1"),
            Conflict("alpha", ".spec.a", "Apply"),
            Conflict("zeta", ".spec.c", "Update", "v1"),
        ]
    )
    assert str(error) == (
        'Apply failed with 3 conflicts: conflicts with "alpha":\n- .spec.a\n'
        'conflicts with "zeta" using v1:\n- .spec.b\n- .spec.c'
    )
    assert (error.code, error.reason) == (409, "Conflict")
    assert [c["field"] for c in error.status()["details"]["causes"]] == [".spec.b", ".spec.a", ".spec.c"]
