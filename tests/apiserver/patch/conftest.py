"""Hand-made OpenAPI v2 definitions mirroring the upstream types the patch tests need."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.apiserver.patch import SchemaNode


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/definitions/{name}"}


def _obj(**properties: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties}


def _keyed(item: str, merge_key: str, *map_keys: str, retain: bool = False) -> dict[str, Any]:
    return {
        "type": "array",
        "items": _ref(item),
        "x-kubernetes-patch-strategy": "merge,retainKeys" if retain else "merge",
        "x-kubernetes-patch-merge-key": merge_key,
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": list(map_keys or (merge_key,)),
    }


def _atomic(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items, "x-kubernetes-list-type": "atomic"}


STRING = {"type": "string"}
INT = {"type": "integer", "format": "int32"}
STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
INT_OR_STRING = {"type": "string", "format": "int-or-string"}

META = "io.k8s.apimachinery.pkg.apis.meta.v1."
CORE = "io.k8s.api.core.v1."
APPS = "io.k8s.api.apps.v1."

DEFINITIONS: dict[str, Any] = {
    META + "ObjectMeta": _obj(
        name=STRING,
        namespace=STRING,
        uid=STRING,
        resourceVersion=STRING,
        generation={"type": "integer", "format": "int64"},
        creationTimestamp=STRING,
        labels=STRING_MAP,
        annotations=STRING_MAP,
        finalizers={
            "type": "array",
            "items": STRING,
            "x-kubernetes-patch-strategy": "merge",
            "x-kubernetes-list-type": "set",
        },
        ownerReferences=_keyed(META + "OwnerReference", "uid"),
        managedFields={"type": "array", "items": {"type": "object"}},
    ),
    META + "OwnerReference": _obj(apiVersion=STRING, kind=STRING, name=STRING, uid=STRING, controller={"type": "boolean"}),
    META + "LabelSelector": {
        **_obj(matchLabels=STRING_MAP, matchExpressions=_atomic({"type": "object"})),
        "x-kubernetes-map-type": "atomic",
    },
    CORE + "Pod": _obj(
        apiVersion=STRING,
        kind=STRING,
        metadata=_ref(META + "ObjectMeta"),
        spec=_ref(CORE + "PodSpec"),
        status=_ref(CORE + "PodStatus"),
    ),
    CORE + "PodSpec": _obj(
        containers=_keyed(CORE + "Container", "name"),
        initContainers=_keyed(CORE + "Container", "name"),
        volumes=_keyed(CORE + "Volume", "name", retain=True),
        tolerations=_atomic(_ref(CORE + "Toleration")),
        imagePullSecrets=_keyed(CORE + "LocalObjectReference", "name"),
        nodeSelector=STRING_MAP,
        restartPolicy=STRING,
    ),
    CORE + "Container": _obj(
        name=STRING,
        image=STRING,
        command=_atomic(STRING),
        args=_atomic(STRING),
        env=_keyed(CORE + "EnvVar", "name"),
        ports=_keyed(CORE + "ContainerPort", "containerPort", "containerPort", "protocol"),
        volumeMounts=_keyed(CORE + "VolumeMount", "mountPath"),
        resources=_obj(limits=STRING_MAP, requests=STRING_MAP),
    ),
    CORE + "ContainerPort": _obj(containerPort=INT, name=STRING, protocol={**STRING, "default": "TCP"}),
    CORE + "EnvVar": _obj(name=STRING, value=STRING),
    CORE + "VolumeMount": _obj(name=STRING, mountPath=STRING, readOnly={"type": "boolean"}),
    CORE + "Volume": _obj(
        name=STRING,
        emptyDir=_obj(medium=STRING),
        hostPath=_obj(path=STRING, type=STRING),
        configMap=_obj(name=STRING),
    ),
    CORE + "Toleration": _obj(key=STRING, operator=STRING, value=STRING, effect=STRING),
    CORE + "LocalObjectReference": _obj(name=STRING),
    CORE + "PodStatus": _obj(
        phase=STRING,
        conditions=_keyed(CORE + "PodCondition", "type"),
    ),
    CORE + "PodCondition": _obj(type=STRING, status=STRING, reason=STRING),
    CORE + "PodTemplateSpec": _obj(metadata=_ref(META + "ObjectMeta"), spec=_ref(CORE + "PodSpec")),
    CORE + "Service": _obj(
        apiVersion=STRING, kind=STRING, metadata=_ref(META + "ObjectMeta"), spec=_ref(CORE + "ServiceSpec")
    ),
    CORE + "ServiceSpec": _obj(
        ports=_keyed(CORE + "ServicePort", "port", "port", "protocol"),
        selector=STRING_MAP,
        type=STRING,
    ),
    CORE + "ServicePort": _obj(name=STRING, port=INT, protocol={**STRING, "default": "TCP"}, targetPort=INT_OR_STRING),
    CORE + "ConfigMap": _obj(apiVersion=STRING, kind=STRING, metadata=_ref(META + "ObjectMeta"), data=STRING_MAP),
    APPS + "Deployment": _obj(
        apiVersion=STRING,
        kind=STRING,
        metadata=_ref(META + "ObjectMeta"),
        spec=_ref(APPS + "DeploymentSpec"),
        status=_ref(APPS + "DeploymentStatus"),
    ),
    APPS + "DeploymentSpec": _obj(
        replicas=INT,
        paused={"type": "boolean"},
        selector=_ref(META + "LabelSelector"),
        template=_ref(CORE + "PodTemplateSpec"),
        strategy={**_ref(APPS + "DeploymentStrategy"), "x-kubernetes-patch-strategy": "retainKeys"},
    ),
    APPS + "DeploymentStrategy": _obj(type=STRING, rollingUpdate=_ref(APPS + "RollingUpdateDeployment")),
    APPS + "RollingUpdateDeployment": _obj(maxSurge=INT_OR_STRING, maxUnavailable=INT_OR_STRING),
    APPS + "DeploymentStatus": _obj(
        replicas=INT,
        conditions=_keyed(APPS + "DeploymentCondition", "type"),
    ),
    APPS + "DeploymentCondition": _obj(type=STRING, status=STRING, reason=STRING),
}


@pytest.fixture
def definitions() -> dict[str, Any]:
    return DEFINITIONS


@pytest.fixture
def deployment_schema() -> SchemaNode:
    return SchemaNode.for_definition(DEFINITIONS, APPS + "Deployment")


@pytest.fixture
def pod_schema() -> SchemaNode:
    return SchemaNode.for_definition(DEFINITIONS, CORE + "Pod")


@pytest.fixture
def service_schema() -> SchemaNode:
    return SchemaNode.for_definition(DEFINITIONS, CORE + "Service")


@pytest.fixture
def configmap_schema() -> SchemaNode:
    return SchemaNode.for_definition(DEFINITIONS, CORE + "ConfigMap")
