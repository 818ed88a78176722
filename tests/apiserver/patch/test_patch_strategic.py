"""Strategic merge patch: merge keys, atomic lists, directives and upstream's list ordering."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kybernetes.apiserver.patch import PatchError, SchemaNode, apply_strategic_merge_patch

LAST = "kubectl.kubernetes.io/last-applied-configuration"


def deployment(**spec: Any) -> dict[str, Any]:
    pod_spec = spec.pop("pod", {"containers": [{"name": "nginx", "image": "nginx:1.25"}]})
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "nginx", "namespace": "default", "labels": {"app": "nginx"}},
        "spec": {"replicas": 1, **spec, "template": {"metadata": {"labels": {"app": "nginx"}}, "spec": pod_spec}},
    }


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return obj["spec"]["template"]["spec"]["containers"]


# -- the two patches kubectl apply was seen sending ------------------------------------------------


def test_kubectl_apply_patch_changing_containers_env_ports_and_removing_things(deployment_schema: SchemaNode) -> None:
    live = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "nginx",
            "annotations": {LAST: "{old}", "note": "hello"},
            "labels": {"app": "nginx", "tier": "web"},
        },
        "spec": {
            "replicas": 1,
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "nginx",
                            "image": "nginx:1.25",
                            "args": ["-b"],
                            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                            "ports": [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 443, "protocol": "TCP"}],
                            "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                        },
                        {"name": "side", "image": "busybox"},
                    ],
                    "volumes": [{"name": "data", "emptyDir": {}}],
                }
            },
        },
    }
    patch = {
        "metadata": {"annotations": {LAST: "{new}", "note": None}, "labels": {"tier": None}},
        "spec": {
            "replicas": 3,
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "nginx"}],
                    "containers": [
                        {
                            "name": "nginx",
                            "image": "nginx:1.26",
                            "args": ["-a"],
                            "$setElementOrder/env": [{"name": "C"}, {"name": "A"}],
                            "env": [{"name": "C", "value": "3"}, {"$patch": "delete", "name": "B"}],
                            "$setElementOrder/ports": [{"containerPort": 8080}, {"containerPort": 80}],
                            "ports": [{"containerPort": 8080}, {"$patch": "delete", "containerPort": 443}],
                            "volumeMounts": None,
                        },
                        {"$patch": "delete", "name": "side"},
                    ],
                    "volumes": None,
                }
            },
        },
    }
    assert apply_strategic_merge_patch(live, patch, deployment_schema) == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "nginx", "annotations": {LAST: "{new}"}, "labels": {"app": "nginx"}},
        "spec": {
            "replicas": 3,
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "nginx",
                            "image": "nginx:1.26",
                            "args": ["-a"],
                            "env": [{"name": "C", "value": "3"}, {"name": "A", "value": "1"}],
                            "ports": [{"containerPort": 8080}, {"containerPort": 80, "protocol": "TCP"}],
                        }
                    ]
                }
            },
        },
    }


def test_kubectl_apply_patch_changing_union_fields_and_removing_a_finalizer(deployment_schema: SchemaNode) -> None:
    live = {
        "metadata": {"name": "nginx", "finalizers": ["example.com/a", "example.com/b"], "annotations": {LAST: "{old}"}},
        "spec": {
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {"spec": {"volumes": [{"name": "data", "emptyDir": {}}]}},
        },
    }
    patch = {
        "metadata": {
            "$deleteFromPrimitiveList/finalizers": ["example.com/b"],
            "$setElementOrder/finalizers": ["example.com/a"],
            "annotations": {LAST: "{new}"},
        },
        "spec": {
            "strategy": {"$retainKeys": ["type"], "rollingUpdate": None, "type": "Recreate"},
            "template": {
                "spec": {
                    "$setElementOrder/volumes": [{"name": "data"}],
                    "volumes": [
                        {"$retainKeys": ["hostPath", "name"], "emptyDir": None, "hostPath": {"path": "/tmp"}, "name": "data"}
                    ],
                }
            },
        },
    }
    assert apply_strategic_merge_patch(live, patch, deployment_schema) == {
        "metadata": {"name": "nginx", "finalizers": ["example.com/a"], "annotations": {LAST: "{new}"}},
        "spec": {
            "strategy": {"type": "Recreate"},
            "template": {"spec": {"volumes": [{"name": "data", "hostPath": {"path": "/tmp"}}]}},
        },
    }


# -- maps and scalars ---------------------------------------------------------------------------------


def test_maps_merge_key_by_key_and_null_deletes(deployment_schema: SchemaNode) -> None:
    live = deployment()
    result = apply_strategic_merge_patch(live, {"metadata": {"labels": {"tier": "web", "app": None}}}, deployment_schema)
    assert result["metadata"]["labels"] == {"tier": "web"}
    assert result["spec"] == live["spec"]


def test_a_null_for_a_missing_key_is_not_stored(deployment_schema: SchemaNode) -> None:
    result = apply_strategic_merge_patch(deployment(), {"spec": {"paused": None}}, deployment_schema)
    assert "paused" not in result["spec"]


def test_kubectl_rollout_pause_and_resume(deployment_schema: SchemaNode) -> None:
    paused = apply_strategic_merge_patch(deployment(), {"spec": {"paused": True}}, deployment_schema)
    resumed = apply_strategic_merge_patch(paused, {"spec": {"paused": None}}, deployment_schema)
    assert paused["spec"]["paused"] is True
    assert "paused" not in resumed["spec"]


def test_kubectl_rollout_restart_adds_a_template_annotation(deployment_schema: SchemaNode) -> None:
    patch = {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2024-01-01T00:00:00Z"}}}}}
    result = apply_strategic_merge_patch(deployment(), patch, deployment_schema)
    assert result["spec"]["template"]["metadata"] == {
        "labels": {"app": "nginx"},
        "annotations": {"kubectl.kubernetes.io/restartedAt": "2024-01-01T00:00:00Z"},
    }


def test_kubectl_set_image_changes_one_container(deployment_schema: SchemaNode) -> None:
    live = deployment(pod={"containers": [{"name": "nginx", "image": "nginx:1"}, {"name": "side", "image": "busybox"}]})
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:2"}]}}}}
    assert containers(apply_strategic_merge_patch(live, patch, deployment_schema)) == [
        {"name": "nginx", "image": "nginx:2"},
        {"name": "side", "image": "busybox"},
    ]


def test_a_map_with_patch_replace_becomes_exactly_the_patch(deployment_schema: SchemaNode) -> None:
    patch = {"metadata": {"labels": {"$patch": "replace", "only": "this"}}}
    assert apply_strategic_merge_patch(deployment(), patch, deployment_schema)["metadata"]["labels"] == {"only": "this"}


def test_a_map_with_patch_delete_becomes_empty_as_upstream(deployment_schema: SchemaNode) -> None:
    patch = {"metadata": {"labels": {"$patch": "delete"}}}
    assert apply_strategic_merge_patch(deployment(), patch, deployment_schema)["metadata"]["labels"] == {}


# -- lists merged by key ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "live, patch, expected",
    [
        (
            {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "1"}]},
            {"containers": [{"name": "b", "image": "2"}]},
            {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "2"}]},
        ),
        (
            {"containers": [{"name": "a", "ports": [{"containerPort": 80, "name": "http"}]}]},
            {"containers": [{"name": "a", "ports": [{"containerPort": 80, "name": "web"}]}]},
            {"containers": [{"name": "a", "ports": [{"containerPort": 80, "name": "web"}]}]},
        ),
        (
            {"containers": [{"name": "a", "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]}]},
            {"containers": [{"name": "a", "env": [{"name": "Y", "value": "3"}]}]},
            {"containers": [{"name": "a", "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "3"}]}]},
        ),
        (
            {"containers": [{"name": "a", "volumeMounts": [{"name": "v", "mountPath": "/v"}]}]},
            {"containers": [{"name": "a", "volumeMounts": [{"mountPath": "/v", "readOnly": True}]}]},
            {"containers": [{"name": "a", "volumeMounts": [{"name": "v", "mountPath": "/v", "readOnly": True}]}]},
        ),
        (
            {"imagePullSecrets": [{"name": "a"}]},
            {"imagePullSecrets": [{"$patch": "delete", "name": "a"}]},
            {"imagePullSecrets": []},
        ),
    ],
    ids=["containers-by-name", "ports-by-containerPort", "env-by-name", "volumeMounts-by-mountPath", "delete-element"],
)
def test_merge_key_lists_merge_element_by_element(
    pod_schema: SchemaNode, live: dict[str, Any], patch: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert apply_strategic_merge_patch({"spec": live}, {"spec": patch}, pod_schema) == {"spec": expected}


def test_a_new_element_without_set_element_order_goes_first_as_upstream(pod_schema: SchemaNode) -> None:
    # Upstream's normalizeElementOrder puts patch items the live list lacks ahead of server-only items.
    live = {"spec": {"containers": [{"name": "nginx", "image": "nginx"}]}}
    patch = {"spec": {"containers": [{"name": "redis", "image": "redis"}]}}
    assert [c["name"] for c in apply_strategic_merge_patch(live, patch, pod_schema)["spec"]["containers"]] == ["redis", "nginx"]


def test_set_element_order_places_a_new_element_last(pod_schema: SchemaNode) -> None:
    live = {"spec": {"containers": [{"name": "nginx", "image": "nginx"}]}}
    patch = {
        "spec": {
            "$setElementOrder/containers": [{"name": "nginx"}, {"name": "redis"}],
            "containers": [{"name": "redis", "image": "redis"}],
        }
    }
    assert [c["name"] for c in apply_strategic_merge_patch(live, patch, pod_schema)["spec"]["containers"]] == ["nginx", "redis"]


def test_set_element_order_alone_reorders_the_live_list(pod_schema: SchemaNode) -> None:
    live = {"spec": {"containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}}
    patch = {"spec": {"$setElementOrder/containers": [{"name": "c"}, {"name": "a"}, {"name": "b"}]}}
    assert [c["name"] for c in apply_strategic_merge_patch(live, patch, pod_schema)["spec"]["containers"]] == ["c", "a", "b"]


def test_merged_elements_keep_the_live_order_when_the_patch_names_them_in_it(pod_schema: SchemaNode) -> None:
    live = {"spec": {"containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}}
    patch = {"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "c", "image": "y"}]}}
    result = apply_strategic_merge_patch(live, patch, pod_schema)["spec"]["containers"]
    assert result == [{"name": "a", "image": "x"}, {"name": "b"}, {"name": "c", "image": "y"}]


def test_service_ports_merge_by_port(service_schema: SchemaNode) -> None:
    live = {"spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443, "targetPort": 8443}]}}
    patch = {"spec": {"ports": [{"port": 443, "targetPort": 9443}]}}
    assert apply_strategic_merge_patch(live, patch, service_schema)["spec"]["ports"] == [
        {"port": 80, "targetPort": 8080},
        {"port": 443, "targetPort": 9443},
    ]


def test_status_conditions_merge_by_type(deployment_schema: SchemaNode) -> None:
    live = {"status": {"conditions": [{"type": "Available", "status": "False"}, {"type": "Progressing", "status": "True"}]}}
    patch = {"status": {"conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}]}}
    assert apply_strategic_merge_patch(live, patch, deployment_schema)["status"]["conditions"] == [
        {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
        {"type": "Progressing", "status": "True"},
    ]


def test_owner_references_merge_by_uid(deployment_schema: SchemaNode) -> None:
    live = {"metadata": {"ownerReferences": [{"uid": "1", "name": "a"}, {"uid": "2", "name": "b"}]}}
    patch = {"metadata": {"ownerReferences": [{"uid": "2", "controller": True}, {"$patch": "delete", "uid": "1"}]}}
    assert apply_strategic_merge_patch(live, patch, deployment_schema)["metadata"]["ownerReferences"] == [
        {"uid": "2", "name": "b", "controller": True}
    ]


def test_a_replace_element_replaces_the_whole_list(pod_schema: SchemaNode) -> None:
    live = {"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "1"}]}}
    patch = {"spec": {"containers": [{"name": "c", "image": "2"}, {"$patch": "replace"}]}}
    assert apply_strategic_merge_patch(live, patch, pod_schema)["spec"]["containers"] == [{"name": "c", "image": "2"}]


# -- atomic lists ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field, live, patch",
    [
        ("args", ["-a", "-b"], ["-c"]),
        ("command", ["sh", "-c", "x"], ["bash"]),
    ],
    ids=["args", "command"],
)
def test_atomic_container_lists_are_replaced(pod_schema: SchemaNode, field: str, live: list[str], patch: list[str]) -> None:
    doc = {"spec": {"containers": [{"name": "a", field: live}]}}
    result = apply_strategic_merge_patch(doc, {"spec": {"containers": [{"name": "a", field: patch}]}}, pod_schema)
    assert result["spec"]["containers"][0][field] == patch


def test_tolerations_are_replaced_whole(pod_schema: SchemaNode) -> None:
    live = {"spec": {"tolerations": [{"key": "a", "operator": "Exists"}, {"key": "b", "operator": "Exists"}]}}
    patch = {"spec": {"tolerations": [{"key": "c", "operator": "Exists"}]}}
    assert apply_strategic_merge_patch(live, patch, pod_schema)["spec"]["tolerations"] == [{"key": "c", "operator": "Exists"}]


def test_without_schema_every_list_is_atomic_and_maps_still_merge() -> None:
    live = {"spec": {"items": [{"name": "a"}], "map": {"a": 1}}}
    patch = {"spec": {"items": [{"name": "b"}], "map": {"b": 2}}}
    assert apply_strategic_merge_patch(live, patch, SchemaNode.empty()) == {
        "spec": {"items": [{"name": "b"}], "map": {"a": 1, "b": 2}}
    }


# -- lists of primitives ------------------------------------------------------------------------------------------


def test_finalizers_merge_as_a_union(deployment_schema: SchemaNode) -> None:
    live = {"metadata": {"finalizers": ["a", "b"]}}
    result = apply_strategic_merge_patch(live, {"metadata": {"finalizers": ["b", "c"]}}, deployment_schema)
    assert result["metadata"]["finalizers"] == ["a", "b", "c"]


def test_delete_from_primitive_list_removes_values(deployment_schema: SchemaNode) -> None:
    live = {"metadata": {"finalizers": ["a", "b", "c"]}}
    patch = {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a", "c", "zzz"]}}
    assert apply_strategic_merge_patch(live, patch, deployment_schema)["metadata"]["finalizers"] == ["b"]


def test_delete_from_a_missing_primitive_list_adds_nothing(deployment_schema: SchemaNode) -> None:
    patch = {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}
    assert "finalizers" not in apply_strategic_merge_patch({"metadata": {}}, patch, deployment_schema)["metadata"]


def test_set_element_order_orders_primitives(deployment_schema: SchemaNode) -> None:
    live = {"metadata": {"finalizers": ["a", "b"]}}
    patch = {"metadata": {"$setElementOrder/finalizers": ["c", "b", "a"], "finalizers": ["c"]}}
    assert apply_strategic_merge_patch(live, patch, deployment_schema)["metadata"]["finalizers"] == ["c", "b", "a"]


# -- $retainKeys ---------------------------------------------------------------------------------------------------


def test_retain_keys_on_deployment_strategy_drops_the_other_union_member(deployment_schema: SchemaNode) -> None:
    live = {"spec": {"strategy": {"type": "Recreate"}}}
    patch = {"spec": {"strategy": {"$retainKeys": ["type", "rollingUpdate"], "type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}
    assert apply_strategic_merge_patch(live, patch, deployment_schema)["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1},
    }


def test_retain_keys_on_a_volume_switches_its_source(pod_schema: SchemaNode) -> None:
    live = {"spec": {"volumes": [{"name": "v", "configMap": {"name": "cm"}}, {"name": "w", "emptyDir": {}}]}}
    patch = {"spec": {"volumes": [{"$retainKeys": ["name", "emptyDir"], "name": "v", "emptyDir": {}}]}}
    assert apply_strategic_merge_patch(live, patch, pod_schema)["spec"]["volumes"] == [
        {"name": "v", "emptyDir": {}},
        {"name": "w", "emptyDir": {}},
    ]


def test_a_patch_key_missing_from_retain_keys_is_400(deployment_schema: SchemaNode) -> None:
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": {"maxSurge": 1}}}}
    with pytest.raises(PatchError) as info:
        apply_strategic_merge_patch({"spec": {"strategy": {}}}, patch, deployment_schema)
    assert (info.value.code, str(info.value)) == (400, "invalid patch format of retainKeys")


# -- directives never reach the stored object --------------------------------------------------------------------


def test_directives_inside_values_the_live_object_lacks_are_dropped(pod_schema: SchemaNode) -> None:
    patch = {
        "spec": {
            "containers": [
                {
                    "name": "a",
                    "$setElementOrder/env": [{"name": "X"}],
                    "env": [{"name": "X", "value": "1"}, {"$patch": "delete", "name": "Y"}],
                }
            ],
            "volumes": [{"$retainKeys": ["name", "emptyDir"], "name": "v", "emptyDir": {}}],
            "nodeSelector": {"$patch": "replace", "disk": "ssd"},
        }
    }
    assert apply_strategic_merge_patch({"spec": {}}, patch, pod_schema) == {
        "spec": {
            "containers": [{"name": "a", "env": [{"name": "X", "value": "1"}]}],
            "volumes": [{"name": "v", "emptyDir": {}}],
            "nodeSelector": {"disk": "ssd"},
        }
    }


def test_a_new_list_ordered_by_set_element_order(pod_schema: SchemaNode) -> None:
    patch = {
        "spec": {
            "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
            "containers": [{"name": "b"}, {"name": "a"}],
        }
    }
    assert apply_strategic_merge_patch({"spec": {}}, patch, pod_schema) == {"spec": {"containers": [{"name": "b"}, {"name": "a"}]}}


def test_patch_replace_on_the_top_level_map_replaces_the_object(pod_schema: SchemaNode) -> None:
    assert apply_strategic_merge_patch({"a": 1}, {"$patch": "replace", "b": 2}, pod_schema) == {"b": 2}


# -- errors ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "live, patch, code, message",
    [
        (
            {"spec": {"containers": [{"name": "a"}]}},
            {"spec": {"containers": [{"image": "x"}]}},
            500,
            "map: map[image:x] does not contain declared merge key: name",
        ),
        (
            {"spec": {"containers": [{"name": "a"}]}},
            {"spec": {"containers": [{"$patch": "delete"}]}},
            500,
            "map: map[$patch:delete] does not contain declared merge key: name",
        ),
        (
            {"spec": {"containers": [{"name": "a"}]}},
            {"spec": {"containers": [{"$patch": "merge", "name": "a"}]}},
            500,
            "merging lists cannot yet be specified in the patch",
        ),
        (
            {"spec": {"containers": [{"name": "a"}]}},
            {"spec": {"containers": ["a"]}},
            500,
            "list element types are not identical: [[map[name:a]] [a]]",
        ),
        (
            {"metadata": {"finalizers": [["a"]]}},
            {"metadata": {"finalizers": [["b"]]}},
            422,
            "the server rejected our request due to an error in our request",
        ),
        (
            {"spec": {"containers": [{"name": "a"}]}},
            {"spec": {"$setElementOrder": [{"name": "a"}]}},
            400,
            "invalid patch format of setElementOrder list",
        ),
        (
            {"spec": {"containers": [{"name": "a"}]}},
            {"spec": {"$deleteFromPrimitiveListcontainers": ["a"]}},
            400,
            "invalid patch format of primitive list",
        ),
        (
            {"spec": {"containers": [{"name": "a"}, {"name": "b"}]}},
            {"spec": {"$setElementOrder/containers": [{"name": "a"}], "containers": [{"name": "b", "image": "x"}]}},
            500,
            "The order in patch list:\n[map[image:x name:b]]\n doesn't match $setElementOrder list:\n[map[name:a]]\n",
        ),
        (
            {"spec": {"nodeSelector": {"a": "b"}}},
            {"spec": {"nodeSelector": {"$patch": "frobnicate"}}},
            500,
            "unknown patch type: frobnicate in map: map[$patch:frobnicate]",
        ),
        (
            {"spec": {"retain": {}}},
            {"spec": {"retain": {"$retainKeys": "a"}}},
            400,
            "invalid patch format of retainKeys",
        ),
    ],
    ids=[
        "element-without-merge-key",
        "delete-without-merge-key",
        "merge-directive-in-list",
        "mixed-element-types",
        "list-of-lists",
        "set-element-order-without-field",
        "delete-list-without-slash",
        "set-element-order-does-not-match-patch",
        "unknown-map-directive",
        "retain-keys-not-a-list",
    ],
)
def test_bad_patches_fail_with_upstreams_status_and_text(
    pod_schema: SchemaNode, live: dict[str, Any], patch: dict[str, Any], code: int, message: str
) -> None:
    with pytest.raises(PatchError) as info:
        apply_strategic_merge_patch(live, patch, pod_schema)
    assert (info.value.code, str(info.value)) == (code, message)


@pytest.mark.parametrize("patch", [["a"], "a", None], ids=["array", "string", "null"])
def test_a_patch_that_is_not_an_object_is_400(pod_schema: SchemaNode, patch: Any) -> None:
    with pytest.raises(PatchError) as info:
        apply_strategic_merge_patch({}, patch, pod_schema)
    assert info.value.code == 400
    assert str(info.value).startswith("json: cannot unmarshal ")


def test_neither_input_is_mutated(deployment_schema: SchemaNode) -> None:
    live = deployment(pod={"containers": [{"name": "a", "env": [{"name": "X"}]}, {"name": "b"}]})
    patch = {
        "metadata": {"labels": {"app": None}},
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
                    "containers": [{"name": "a", "env": [{"name": "Y"}]}, {"$patch": "delete", "name": "b"}],
                }
            }
        },
    }
    live_before, patch_before = copy.deepcopy(live), copy.deepcopy(patch)
    result = apply_strategic_merge_patch(live, patch, deployment_schema)
    result["spec"]["template"]["spec"]["containers"][0]["env"].append({"name": "Z"})
    assert (live, patch) == (live_before, patch_before)
