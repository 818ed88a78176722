"""Tests for fieldcheck: unknown fields and wrong types, reported with upstream's paths and messages."""

from __future__ import annotations

import copy
import time

import pytest

from kybernetes.api.openapi import (
    check_fields,
    format_type_error,
    format_unknown_fields_error,
    unknown_field_warning,
)

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"},
                 "annotations": {"note": "x"}, "finalizers": ["a/b"],
                 "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs",
                                      "uid": "1", "controller": True}],
                 "managedFields": [{"manager": "kubectl", "operation": "Apply",
                                    "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}}],
                 "creationTimestamp": None},
    "spec": {
        "containers": [{
            "name": "nginx", "image": "nginx:1.27", "args": ["-g", "daemon off;"],
            "ports": [{"containerPort": 80, "protocol": "TCP", "name": "http"}],
            "env": [{"name": "A", "value": "1"},
                    {"name": "B", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
            "resources": {"limits": {"cpu": "500m", "memory": 134217728}, "requests": {"cpu": 0.25}},
            "livenessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 5},
            "readinessProbe": {"tcpSocket": {"port": 80}},
            "volumeMounts": [{"name": "data", "mountPath": "/data"}],
        }],
        "volumes": [{"name": "data", "emptyDir": {"sizeLimit": "1Gi"}}],
        "terminationGracePeriodSeconds": 30,
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 60}],
    },
    "status": {"phase": "Running", "podIP": "10.0.0.5",
               "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2024-01-01T00:00:00Z"}]},
}


def test_a_valid_pod_has_no_findings():
    result = check_fields(POD, "", "v1", "Pod")
    assert result.ok and result.known
    assert result.unknown == [] and result.type_errors == []


def test_nested_unknown_fields_are_reported_with_upstreams_paths():
    pod = copy.deepcopy(POD)
    pod["spec"]["bogus"] = 1
    pod["spec"]["containers"][0]["foo"] = {"deep": True}
    pod["spec"]["containers"][0]["ports"][0]["hostPortt"] = 8080
    pod["spec"]["volumes"][0]["emptyDir"]["size"] = "1Gi"
    pod["metadata"]["labelz"] = {}
    pod["status"]["weird"] = "x"
    result = check_fields(pod, "", "v1", "Pod")
    assert result.unknown == [
        "metadata.labelz", "spec.containers[0].ports[0].hostPortt", "spec.containers[0].foo",
        "spec.volumes[0].emptyDir.size", "spec.bogus", "status.weird"]
    assert result.type_errors == []


def test_maps_accept_any_key_but_check_their_values():
    pod = copy.deepcopy(POD)
    pod["metadata"]["labels"] = {"any/key.example.com": "v", "n": 1}
    result = check_fields(pod, "", "v1", "Pod")
    assert result.unknown == []
    assert result.type_errors == ["metadata.labels.n"]


def test_map_of_objects_values_are_checked():
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "spec": {"group": "example.com", "versions": [{"name": "v1", "served": True, "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                        "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                        "size": {"type": "integer", "minimum": 1, "bogus": 1}}}}}]}}
    result = check_fields(crd, "apiextensions.k8s.io", "v1", "CustomResourceDefinition")
    assert result.unknown == ["spec.versions[0].schema.openAPIV3Schema.properties.size.bogus"]
    assert result.type_errors == []


def test_autoscaling_v2_nested_objects_are_checked():
    cm = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"},
          "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "d"}, "maxReplicas": 3,
                   "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                       "type": "Utilization", "averageUtilization": 50, "averageValue": "1", "x": 1}}}]}}
    result = check_fields(cm, "autoscaling", "v2", "HorizontalPodAutoscaler")
    assert result.unknown == ["spec.metrics[0].resource.target.x"]


@pytest.mark.parametrize("patch, path, message", [
    ({"spec": {"containers": "nginx"}}, "spec.containers",
     "json: cannot unmarshal string into Go struct field PodSpec.spec.containers of type []v1.Container"),
    ({"spec": {"containers": ["nginx"]}}, "spec.containers[0]",
     "json: cannot unmarshal string into Go struct field PodSpec.spec.containers of type v1.Container"),
    ({"spec": {"containers": [{"name": "a", "ports": [{"containerPort": "80"}]}]}},
     "spec.containers[0].ports[0].containerPort",
     "json: cannot unmarshal string into Go struct field ContainerPort.spec.containers.ports.containerPort of type int32"),
    ({"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 80.5}]}]}},
     "spec.containers[0].ports[0].containerPort",
     "json: cannot unmarshal number 80.5 into Go struct field ContainerPort.spec.containers.ports.containerPort of type int32"),
    ({"spec": {"containers": [{"name": 7}]}}, "spec.containers[0].name",
     "json: cannot unmarshal number into Go struct field Container.spec.containers.name of type string"),
    ({"spec": {"hostNetwork": "true"}}, "spec.hostNetwork",
     "json: cannot unmarshal string into Go struct field PodSpec.spec.hostNetwork of type bool"),
    ({"spec": {"terminationGracePeriodSeconds": 1 << 70}}, "spec.terminationGracePeriodSeconds",
     f"json: cannot unmarshal number {1 << 70} into Go struct field PodSpec.spec.terminationGracePeriodSeconds of type int64"),
    ({"metadata": "web"}, "metadata",
     "json: cannot unmarshal string into Go struct field Pod.metadata of type v1.ObjectMeta"),
    ({"metadata": {"labels": ["a"]}}, "metadata.labels",
     "json: cannot unmarshal array into Go struct field ObjectMeta.metadata.labels of type map[string]string"),
    ({"metadata": {"creationTimestamp": 5}}, "metadata.creationTimestamp",
     "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.creationTimestamp of type v1.Time"),
    ({"spec": {"containers": [{"name": "a", "livenessProbe": {"httpGet": {"port": True}}}]}},
     "spec.containers[0].livenessProbe.httpGet.port",
     "json: cannot unmarshal bool into Go struct field HTTPGetAction.spec.containers.livenessProbe.httpGet.port "
     "of type intstr.IntOrString"),
    ({"spec": {"containers": [{"name": "a", "resources": {"limits": {"cpu": [1]}}}]}},
     "spec.containers[0].resources.limits.cpu",
     "json: cannot unmarshal array into Go struct field ResourceRequirements.spec.containers.resources.limits.cpu "
     "of type resource.Quantity"),
], ids=["list-as-string", "element-as-string", "int-as-string", "fraction", "string-as-number",
        "bool-as-string", "int64-overflow", "struct-as-string", "map-as-array", "time-as-number",
        "intorstring-as-bool", "quantity-as-array"])
def test_wrong_types_are_reported_like_gos_decoder(patch, path, message):
    result = check_fields(patch, "", "v1", "Pod")
    assert result.type_errors == [path]
    assert format_type_error("Pod", "v1", result.mismatches[0]) == (
        f'Pod in version "v1" cannot be handled as a Pod: {message}')


@pytest.mark.parametrize("value", [None, 8080, "http"])
def test_int_or_string_and_null_are_accepted(value):
    svc = {"spec": {"ports": [{"port": 80, "targetPort": value}]}}
    assert check_fields(svc, "", "v1", "Service").ok


@pytest.mark.parametrize("value", ["1Gi", 1, 0.5, None])
def test_quantities_accept_strings_and_numbers(value):
    pod = {"spec": {"containers": [{"name": "a", "resources": {"requests": {"memory": value}}}]}}
    assert check_fields(pod, "", "v1", "Pod").ok


def test_free_form_fields_accept_anything():
    rev = {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": {"name": "r"},
           "revision": 1, "data": {"spec": {"template": {"anything": [1, "two"]}}}}
    assert check_fields(rev, "apps", "v1", "ControllerRevision").ok


def test_secret_data_must_be_base64():
    ok = {"data": {"k": "aGVsbG8="}, "stringData": {"p": "plain"}}
    assert check_fields(ok, "", "v1", "Secret").ok
    bad = check_fields({"data": {"k": "not base64!"}}, "", "v1", "Secret")
    assert bad.type_errors == ["data.k"]
    assert "illegal base64 data" in format_type_error("Secret", "v1", bad.mismatches[0])


def test_retired_versions_are_checked_against_their_own_shapes():
    ing = {"apiVersion": "extensions/v1beta1", "kind": "Ingress", "metadata": {"name": "i"},
           "spec": {"backend": {"serviceName": "web", "servicePort": 80},
                    "rules": [{"http": {"paths": [{"path": "/", "backend": {"serviceName": "web",
                                                                            "servicePort": "http"}}]}}]}}
    assert check_fields(ing, "extensions", "v1beta1", "Ingress").ok
    assert check_fields(ing, "networking.k8s.io", "v1", "Ingress").unknown == [
        "spec.backend", "spec.rules[0].http.paths[0].backend.serviceName",
        "spec.rules[0].http.paths[0].backend.servicePort"]
    cj = {"spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {
        "containers": [{"name": "c", "image": "busybox", "bogus": 1}]}}}}}}
    assert check_fields(cj, "batch", "v1beta1", "CronJob").unknown == [
        "spec.jobTemplate.spec.template.spec.containers[0].bogus"]
    dep = {"spec": {"selector": {"matchLabels": {"a": "b"}}, "strategy": {"type": "Recreate", "x": 1}}}
    assert check_fields(dep, "apps", "v1beta2", "Deployment").unknown == ["spec.strategy.x"]


def test_unknown_kinds_are_not_checked():
    result = check_fields({"spec": {"anything": 1}}, "example.com", "v1", "Widget")
    assert not result.known and result.ok


def test_strict_message_and_warning_text_match_upstream():
    assert format_unknown_fields_error("Pod", "v1", ["spec.containers[0].foo", "spec.bogus"]) == (
        'Pod in version "v1" cannot be handled as a Pod: strict decoding error: '
        'unknown field "spec.containers[0].foo", unknown field "spec.bogus"')
    assert unknown_field_warning("spec.bogus") == 'unknown field "spec.bogus"'


def test_checking_a_pod_takes_well_under_a_millisecond():
    check_fields(POD, "", "v1", "Pod")  # compile once
    rounds = 500
    start = time.perf_counter()
    for _ in range(rounds):
        check_fields(POD, "", "v1", "Pod")
    per_pod = (time.perf_counter() - start) / rounds
    assert per_pod < 0.0005
