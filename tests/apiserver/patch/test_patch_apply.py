"""Server-side apply and managedFields bookkeeping."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from kybernetes.apiserver.patch import (
    ApplyConflictError,
    Conflict,
    PatchError,
    SchemaNode,
    apply_patch,
    fields_of,
    update_managed_fields,
)

T0, T1, T2 = "2024-01-01T00:00:00Z", "2024-01-01T00:01:00Z", "2024-01-01T00:02:00Z"
LAST = "kubectl.kubernetes.io/last-applied-configuration"
NGINX = 'k:{"name":"nginx"}'


def manifest(replicas: int = 2, image: str = "nginx:1.25", **extra_meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "nginx", "namespace": "default", "labels": {"app": "nginx"}, **extra_meta},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "nginx"}},
            "template": {
                "metadata": {"labels": {"app": "nginx"}},
                "spec": {"containers": [{"name": "nginx", "image": image, "ports": [{"containerPort": 80}]}]},
            },
        },
    }


def entries(obj: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["manager"], e["operation"]): e for e in obj["metadata"].get("managedFields", [])}


def stored(obj: dict[str, Any]) -> dict[str, Any]:
    """What the API server would persist after a create: system metadata filled in."""
    out = copy.deepcopy(obj)
    out["metadata"].update(uid="u-1", resourceVersion="1", creationTimestamp=T0)
    return out


def apply(live: dict[str, Any] | None, config: dict[str, Any], schema: SchemaNode, *, manager: str = "kubectl", force: bool = False, now: str = T1) -> dict[str, Any]:
    return apply_patch(live, config, manager=manager, force=force, schema=schema, api_version="apps/v1", now=now)


def created_by_update(obj: dict[str, Any], schema: SchemaNode, manager: str = "kubectl-client-side-apply") -> dict[str, Any]:
    new = copy.deepcopy(obj)
    update_managed_fields(None, new, manager=manager, schema=schema, api_version="apps/v1", now=T0)
    return stored(new)


# -- server-side apply ------------------------------------------------------------------------------------


def test_applying_to_nothing_creates_the_object_and_records_an_apply_entry(deployment_schema: SchemaNode) -> None:
    result = apply(None, manifest(), deployment_schema)
    assert result["spec"] == manifest()["spec"]
    assert result["metadata"]["managedFields"] == [
        {
            "manager": "kubectl",
            "operation": "Apply",
            "apiVersion": "apps/v1",
            "time": T1,
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},
                    "f:template": {
                        "f:metadata": {"f:labels": {"f:app": {}}},
                        "f:spec": {
                            "f:containers": {
                                NGINX: {
                                    ".": {},
                                    "f:image": {},
                                    "f:name": {},
                                    "f:ports": {'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}},
                                }
                            }
                        },
                    },
                },
            },
        }
    ]


def test_reapplying_without_a_field_removes_it(deployment_schema: SchemaNode) -> None:
    first = manifest(annotations={"note": "x"})
    first["spec"]["template"]["spec"]["containers"].append({"name": "side", "image": "busybox"})
    live = stored(apply(None, first, deployment_schema, now=T0))
    second = manifest()
    result = apply(live, second, deployment_schema)
    assert "annotations" not in result["metadata"]
    assert [c["name"] for c in result["spec"]["template"]["spec"]["containers"]] == ["nginx"]
    assert result["metadata"]["uid"] == "u-1"  # untracked fields are never pruned


def test_dropping_all_labels_and_annotations_keeps_the_object_metadata(deployment_schema: SchemaNode) -> None:
    live = stored(apply(None, manifest(annotations={"note": "x"}), deployment_schema, now=T0))
    bare = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nginx"}, "spec": manifest()["spec"]}
    result = apply(live, bare, deployment_schema)
    assert {k: v for k, v in result["metadata"].items() if k != "managedFields"} == {
        "name": "nginx",
        "namespace": "default",
        "uid": "u-1",
        "resourceVersion": "1",
        "creationTimestamp": T0,
    }


def test_a_field_dropped_from_the_config_stays_when_another_manager_owns_it(deployment_schema: SchemaNode) -> None:
    live = stored(apply(None, manifest(annotations={"note": "x"}), deployment_schema, now=T0))
    edited = copy.deepcopy(live)
    edited["metadata"]["annotations"]["note"] = "edited"
    update_managed_fields(live, edited, manager="kubectl-edit", schema=deployment_schema, api_version="apps/v1", now=T1)
    result = apply(edited, manifest(), deployment_schema, now=T2)
    assert result["metadata"]["annotations"] == {"note": "edited"}


def test_a_conflict_with_an_update_manager_raises_with_upstreams_message(deployment_schema: SchemaNode) -> None:
    live = created_by_update(manifest(replicas=1), deployment_schema)
    with pytest.raises(ApplyConflictError) as info:
        apply(live, manifest(replicas=3), deployment_schema, manager="mgr")
    error = info.value
    assert str(error) == 'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas'
    assert error.conflicts == [Conflict("kubectl-client-side-apply", ".spec.replicas", "Update", "apps/v1")]
    assert error.status() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": str(error),
        "reason": "Conflict",
        "details": {
            "causes": [
                {
                    "reason": "FieldManagerConflict",
                    "message": 'conflict with "kubectl-client-side-apply" using apps/v1',
                    "field": ".spec.replicas",
                }
            ]
        },
        "code": 409,
    }


def test_several_conflicts_are_listed_per_manager(deployment_schema: SchemaNode) -> None:
    live = created_by_update(manifest(replicas=1), deployment_schema)
    with pytest.raises(ApplyConflictError) as info:
        apply(live, manifest(replicas=3, image="nginx:2"), deployment_schema, manager="mgr")
    assert str(info.value) == (
        'Apply failed with 2 conflicts: conflicts with "kubectl-client-side-apply" using apps/v1:\n'
        "- .spec.replicas\n"
        '- .spec.template.spec.containers[name="nginx"].image'
    )


def test_a_conflict_with_another_applier_names_no_api_version(deployment_schema: SchemaNode) -> None:
    live = stored(apply(None, manifest(replicas=1), deployment_schema, manager="ci", now=T0))
    with pytest.raises(ApplyConflictError) as info:
        apply(live, manifest(replicas=3), deployment_schema, manager="kubectl")
    assert str(info.value) == 'Apply failed with 1 conflict: conflict with "ci": .spec.replicas'


def test_forcing_takes_ownership_of_the_conflicting_fields(deployment_schema: SchemaNode) -> None:
    live = created_by_update(manifest(replicas=1), deployment_schema)
    result = apply(live, manifest(replicas=3), deployment_schema, manager="mgr", force=True)
    owners = entries(result)
    assert result["spec"]["replicas"] == 3
    assert "f:replicas" in owners[("mgr", "Apply")]["fieldsV1"]["f:spec"]
    assert "f:replicas" not in owners[("kubectl-client-side-apply", "Update")]["fieldsV1"]["f:spec"]


def test_two_appliers_setting_the_same_value_share_the_field(deployment_schema: SchemaNode) -> None:
    live = stored(apply(None, manifest(replicas=2), deployment_schema, manager="a", now=T0))
    result = apply(live, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nginx"}, "spec": {"replicas": 2}}, deployment_schema, manager="b")
    owners = entries(result)
    assert "f:replicas" in owners[("a", "Apply")]["fieldsV1"]["f:spec"]
    assert owners[("b", "Apply")]["fieldsV1"] == {"f:spec": {"f:replicas": {}}}


def test_keyed_list_elements_are_owned_per_element(deployment_schema: SchemaNode) -> None:
    live = stored(apply(None, manifest(), deployment_schema, manager="a", now=T0))
    sidecar = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "nginx"},
        "spec": {"template": {"spec": {"containers": [{"name": "side", "image": "busybox"}]}}},
    }
    both = stored(apply(live, sidecar, deployment_schema, manager="b", now=T1))
    assert [c["name"] for c in both["spec"]["template"]["spec"]["containers"]] == ["nginx", "side"]
    assert list(entries(both)[("b", "Apply")]["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]) == ['k:{"name":"side"}']

    # b changing its own container is no conflict; changing a's is.
    sidecar["spec"]["template"]["spec"]["containers"][0]["image"] = "busybox:2"
    apply(both, sidecar, deployment_schema, manager="b", now=T2)
    sidecar["spec"]["template"]["spec"]["containers"].append({"name": "nginx", "image": "nginx:9"})
    with pytest.raises(ApplyConflictError) as info:
        apply(both, sidecar, deployment_schema, manager="b", now=T2)
    assert [c.field_path for c in info.value.conflicts] == ['.spec.template.spec.containers[name="nginx"].image']

    # a dropping its container removes only that element.
    without_nginx = manifest()
    without_nginx["spec"]["template"]["spec"]["containers"] = []
    result = apply(both, without_nginx, deployment_schema, manager="a", now=T2)
    assert [c["name"] for c in result["spec"]["template"]["spec"]["containers"]] == ["side"]


def test_a_port_without_protocol_matches_the_defaulted_live_port(deployment_schema: SchemaNode) -> None:
    live = manifest()
    live["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "protocol": "TCP", "name": "http"}]
    live = created_by_update(live, deployment_schema, manager="creator")
    result = apply(live, manifest(), deployment_schema)
    assert result["spec"]["template"]["spec"]["containers"][0]["ports"] == [{"containerPort": 80, "protocol": "TCP", "name": "http"}]


def test_set_lists_unite_and_are_owned_per_value(deployment_schema: SchemaNode) -> None:
    live = stored(apply(None, manifest(finalizers=["example.com/a"]), deployment_schema, manager="a", now=T0))
    config = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nginx", "finalizers": ["example.com/b"]}}
    result = apply(live, config, deployment_schema, manager="b")
    assert result["metadata"]["finalizers"] == ["example.com/a", "example.com/b"]
    assert entries(result)[("b", "Apply")]["fieldsV1"] == {"f:metadata": {"f:finalizers": {'v:"example.com/b"': {}}}}


def test_config_order_wins_for_shared_elements_and_live_only_elements_keep_their_place(deployment_schema: SchemaNode) -> None:
    live = manifest()
    live["spec"]["template"]["spec"]["containers"] = [{"name": n, "image": n} for n in ("a", "x", "b", "c")]
    live = created_by_update(live, deployment_schema, manager="other")
    config = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "nginx"},
        "spec": {"template": {"spec": {"containers": [{"name": "c"}, {"name": "new"}, {"name": "a"}]}}},
    }
    result = apply(live, config, deployment_schema)
    assert [c["name"] for c in result["spec"]["template"]["spec"]["containers"]] == ["x", "b", "c", "new", "a"]


def test_kubectl_takes_over_fields_recorded_by_client_side_apply(deployment_schema: SchemaNode) -> None:
    original = manifest(replicas=1)
    original["metadata"]["annotations"] = {LAST: json.dumps(original, sort_keys=True)}
    live = created_by_update(original, deployment_schema)
    result = apply(live, manifest(replicas=3), deployment_schema, manager="kubectl")
    assert result["spec"]["replicas"] == 3
    assert json.loads(result["metadata"]["annotations"][LAST]) == manifest(replicas=3)
    assert result["metadata"]["annotations"][LAST].endswith("}\n")


def test_only_kubectl_takes_over_from_client_side_apply(deployment_schema: SchemaNode) -> None:
    original = manifest(replicas=1)
    original["metadata"]["annotations"] = {LAST: json.dumps(original, sort_keys=True)}
    live = created_by_update(original, deployment_schema)
    with pytest.raises(ApplyConflictError):
        apply(live, manifest(replicas=3), deployment_schema, manager="someone-else")


def test_a_no_op_apply_keeps_the_recorded_times(deployment_schema: SchemaNode) -> None:
    live = stored(apply(None, manifest(), deployment_schema, now=T0))
    again = apply(live, manifest(), deployment_schema, now=T2)
    assert again == live


def test_an_object_without_managed_fields_gets_a_before_first_apply_owner(deployment_schema: SchemaNode) -> None:
    live = stored(manifest(replicas=1))
    with pytest.raises(ApplyConflictError) as info:
        apply(live, manifest(replicas=3), deployment_schema, manager="mgr")
    assert str(info.value) == 'Apply failed with 1 conflict: conflict with "before-first-apply" using apps/v1: .spec.replicas'


def test_status_in_an_apply_to_the_main_resource_is_not_owned(deployment_schema: SchemaNode) -> None:
    config = {**manifest(), "status": {"replicas": 5}}
    result = apply(None, config, deployment_schema)
    assert "f:status" not in result["metadata"]["managedFields"][0]["fieldsV1"]


def test_apply_mutates_neither_input(deployment_schema: SchemaNode) -> None:
    live = created_by_update(manifest(replicas=1), deployment_schema)
    config = manifest(replicas=3)
    live_before, config_before = copy.deepcopy(live), copy.deepcopy(config)
    result = apply(live, config, deployment_schema, manager="mgr", force=True)
    result["spec"]["template"]["spec"]["containers"][0]["image"] = "changed"
    assert (live, config) == (live_before, config_before)


@pytest.mark.parametrize(
    "config, message",
    [
        ({**manifest(), "apiVersion": "apps/v1beta1"}, "Incorrect version specified in apply patch. Specified patch version: apps/v1beta1, expected: apps/v1"),
        (
            {**manifest(), "metadata": {"name": "nginx", "managedFields": []}},
            "metadata.managedFields must be nil",
        ),
        (["not", "an", "object"], "error decoding YAML: json: cannot unmarshal array into Go value of type map[string]interface {}"),
    ],
    ids=["wrong-api-version", "managed-fields-in-config", "not-an-object"],
)
def test_invalid_apply_configurations_are_400(deployment_schema: SchemaNode, config: Any, message: str) -> None:
    with pytest.raises(PatchError) as info:
        apply(None, config, deployment_schema)
    assert (info.value.code, str(info.value)) == (400, message)


def test_a_kind_that_does_not_match_is_400(deployment_schema: SchemaNode) -> None:
    with pytest.raises(PatchError) as info:
        apply_patch(None, {**manifest(), "kind": "ReplicaSet"}, manager="k", force=False, schema=deployment_schema, api_version="apps/v1", now=T0, kind="Deployment")
    assert str(info.value) == "invalid object type: apps/v1, Kind=ReplicaSet"


@pytest.mark.parametrize(
    "containers, message",
    [
        (
            [{"image": "nginx"}],
            'failed to create typed patch object (default/nginx; apps/v1, Kind=Deployment): .spec.template.spec.containers: '
            'element 0: associative list with keys has an element that omits key field "name" (and doesn\'t have default value)',
        ),
        (
            [{"name": "a"}, {"name": "a"}],
            'failed to create typed patch object (default/nginx; apps/v1, Kind=Deployment): .spec.template.spec.containers: '
            'duplicate entries for key [name="a"]',
        ),
    ],
    ids=["missing-key", "duplicate-key"],
)
def test_keyed_lists_without_usable_keys_are_refused(deployment_schema: SchemaNode, containers: list[Any], message: str) -> None:
    config = manifest()
    config["spec"]["template"]["spec"]["containers"] = containers
    with pytest.raises(PatchError) as info:
        apply(None, config, deployment_schema)
    assert str(info.value) == message


# -- managedFields for ordinary writes ------------------------------------------------------------------------------


def test_a_create_records_every_set_field_as_an_update_entry(deployment_schema: SchemaNode) -> None:
    obj = manifest()
    obj["metadata"].update(uid="u", resourceVersion="1", generation=1, creationTimestamp=T0)
    obj["status"] = {"replicas": 0}
    update_managed_fields(None, obj, manager="kubectl-create", schema=deployment_schema, api_version="apps/v1", now=T0)
    assert obj["metadata"]["managedFields"] == [
        {
            "manager": "kubectl-create",
            "operation": "Update",
            "apiVersion": "apps/v1",
            "time": T0,
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},
                    "f:template": {
                        "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                        "f:spec": {
                            "f:containers": {
                                NGINX: {
                                    ".": {},
                                    "f:image": {},
                                    "f:name": {},
                                    "f:ports": {'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}},
                                }
                            }
                        },
                    },
                },
            },
        }
    ]


def test_an_update_moves_the_changed_fields_to_its_manager(deployment_schema: SchemaNode) -> None:
    old = created_by_update(manifest(), deployment_schema, manager="creator")
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 5
    update_managed_fields(old, new, manager="kubectl-scale", schema=deployment_schema, api_version="apps/v1", now=T1)
    owners = entries(new)
    assert owners[("kubectl-scale", "Update")]["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    assert owners[("kubectl-scale", "Update")]["time"] == T1
    assert "f:replicas" not in owners[("creator", "Update")]["fieldsV1"]["f:spec"]
    assert owners[("creator", "Update")]["time"] == T0


def test_an_update_that_changes_nothing_leaves_the_entries_alone(deployment_schema: SchemaNode) -> None:
    old = created_by_update(manifest(), deployment_schema)
    new = copy.deepcopy(old)
    update_managed_fields(old, new, manager="other", schema=deployment_schema, api_version="apps/v1", now=T2)
    assert new["metadata"]["managedFields"] == old["metadata"]["managedFields"]


def test_removed_fields_leave_every_set(deployment_schema: SchemaNode) -> None:
    old = created_by_update(manifest(), deployment_schema, manager="creator")
    new = copy.deepcopy(old)
    del new["metadata"]["labels"]
    update_managed_fields(old, new, manager="editor", schema=deployment_schema, api_version="apps/v1", now=T1)
    owners = entries(new)
    assert "f:metadata" not in owners[("creator", "Update")]["fieldsV1"]
    assert ("editor", "Update") not in owners  # a pure removal gives the writer nothing to own


def test_writes_by_the_same_manager_merge_into_one_entry(deployment_schema: SchemaNode) -> None:
    old = created_by_update(manifest(), deployment_schema, manager="m")
    new = copy.deepcopy(old)
    new["spec"]["paused"] = True
    update_managed_fields(old, new, manager="m", schema=deployment_schema, api_version="apps/v1", now=T1)
    assert len(new["metadata"]["managedFields"]) == 1
    assert {"f:paused", "f:replicas"} <= set(new["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"])
    assert new["metadata"]["managedFields"][0]["time"] == T1


def test_a_status_write_is_recorded_with_its_subresource_and_tracks_only_status(deployment_schema: SchemaNode) -> None:
    old = created_by_update(manifest(), deployment_schema)
    new = copy.deepcopy(old)
    new["status"] = {"replicas": 2, "conditions": [{"type": "Available", "status": "True"}]}
    new["spec"]["replicas"] = 7  # ignored: /status cannot change spec
    update_managed_fields(old, new, manager="deployment-controller", schema=deployment_schema, api_version="apps/v1", now=T1, subresource="status")
    entry = entries(new)[("deployment-controller", "Update")]
    assert entry["subresource"] == "status"
    assert entry["fieldsV1"] == {
        "f:status": {
            "f:replicas": {},
            "f:conditions": {'k:{"type":"Available"}': {".": {}, "f:type": {}, "f:status": {}}},
        }
    }


def test_an_existing_object_without_entries_stays_untracked(deployment_schema: SchemaNode) -> None:
    old = stored(manifest())
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 9
    update_managed_fields(old, new, manager="m", schema=deployment_schema, api_version="apps/v1", now=T1)
    assert "managedFields" not in new["metadata"]


def test_a_single_empty_entry_resets_the_managed_fields(deployment_schema: SchemaNode) -> None:
    old = created_by_update(manifest(), deployment_schema)
    new = copy.deepcopy(old)
    new["metadata"]["managedFields"] = [{}]
    update_managed_fields(old, new, manager="m", schema=deployment_schema, api_version="apps/v1", now=T1)
    assert "managedFields" not in new["metadata"]


def test_client_supplied_entries_win_over_the_stored_ones(deployment_schema: SchemaNode) -> None:
    old = created_by_update(manifest(), deployment_schema, manager="creator")
    new = copy.deepcopy(old)
    new["metadata"]["managedFields"][0]["manager"] = "renamed"
    update_managed_fields(old, new, manager="m", schema=deployment_schema, api_version="apps/v1", now=T1)
    assert [e["manager"] for e in new["metadata"]["managedFields"]] == ["renamed"]


def test_more_than_ten_update_managers_fold_into_ancient_changes(configmap_schema: SchemaNode) -> None:
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}}
    update_managed_fields(None, obj, manager="m00", schema=configmap_schema, api_version="v1", now="2024-01-01T00:00:00Z")
    obj["metadata"]["uid"] = "u"
    for i in range(1, 12):
        new = copy.deepcopy(obj)
        new["data"][f"k{i}"] = "v"
        update_managed_fields(obj, new, manager=f"m{i:02}", schema=configmap_schema, api_version="v1", now=f"2024-01-01T00:00:{i:02}Z")
        obj = new
    managers = [e["manager"] for e in obj["metadata"]["managedFields"]]
    assert len(managers) == 10
    assert "ancient-changes" in managers
    ancient = next(e for e in obj["metadata"]["managedFields"] if e["manager"] == "ancient-changes")
    # m00 (which created the empty map, so owns it: "."), m01 and m02 are the oldest.
    assert set(ancient["fieldsV1"]["f:data"]) == {".", "f:k1", "f:k2"}
    assert ancient["time"] == "2024-01-01T00:00:02Z"


def test_apply_entries_come_first_then_updates_by_time(deployment_schema: SchemaNode) -> None:
    live = created_by_update(manifest(), deployment_schema, manager="creator")
    result = apply(live, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nginx"}, "spec": {"paused": True}}, deployment_schema, manager="z-applier", now=T2)
    assert [(e["manager"], e["operation"]) for e in result["metadata"]["managedFields"]] == [
        ("z-applier", "Apply"),
        ("creator", "Update"),
    ]


def test_fields_of_lists_leaves_and_elements_without_untracked_fields(pod_schema: SchemaNode) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "uid": "u", "finalizers": ["a"], "ownerReferences": [{"uid": "o", "name": "rs"}]},
        "spec": {"containers": [{"name": "c", "env": [{"name": "E", "value": "1"}]}], "tolerations": [{"key": "k"}]},
        "status": {"phase": "Running"},
    }
    assert fields_of(pod, pod_schema) == {
        "f:metadata": {
            "f:finalizers": {'v:"a"': {}},
            "f:ownerReferences": {'k:{"uid":"o"}': {".": {}, "f:uid": {}, "f:name": {}}},
        },
        "f:spec": {
            "f:containers": {'k:{"name":"c"}': {".": {}, "f:name": {}, "f:env": {'k:{"name":"E"}': {".": {}, "f:name": {}, "f:value": {}}}}},
            "f:tolerations": {},
        },
    }
