"""gen_openapi_definitions writes kybernetes/api/openapi/definitions.json from the official client's models."""

# A development-time tool: it introspects the pydantic models of the `kubernetes` Python client
# (structure only: field names, JSON names, types, required lists) and emits OpenAPI v2-style
# definitions keyed by upstream definition names.  Nothing the client says in prose is copied;
# the few descriptions in the output are our own (DESCRIPTIONS below).  Facts the client does not
# carry (integer widths, Quantity/MicroTime fields, patch strategies, the package of types that are
# only reachable from another group) live in the tables of this file.
#
# Run:  .venv/bin/python tools/gen_openapi_definitions.py  [--check]

from __future__ import annotations

import argparse
import copy
import datetime
import functools
import inspect
import json
import re
import sys
import types
import typing
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

OUTPUT = Path(__file__).resolve().parent.parent / "kybernetes" / "api" / "openapi" / "definitions.json"

# Group versions whose types we publish (the stable ones; alpha/beta groups of the client are
# left out on purpose: we do not serve them and their nested types would bloat the file).
SCOPE_GVS: tuple[str, ...] = (
    "v1",
    "apps/v1",
    "batch/v1",
    "autoscaling/v1",
    "autoscaling/v2",
    "policy/v1",
    "networking.k8s.io/v1",
    "storage.k8s.io/v1",
    "discovery.k8s.io/v1",
    "coordination.k8s.io/v1",
    "events.k8s.io/v1",
    "authentication.k8s.io/v1",
    "authorization.k8s.io/v1",
    "rbac.authorization.k8s.io/v1",
    "scheduling.k8s.io/v1",
    "node.k8s.io/v1",
    "certificates.k8s.io/v1",
    "admissionregistration.k8s.io/v1",
    "apiextensions.k8s.io/v1",
    "apiregistration.k8s.io/v1",
    "flowcontrol.apiserver.k8s.io/v1",
)

# API group -> upstream definition-name package prefix (the version is appended).
GROUP_PACKAGES: dict[str, str] = {
    "": "io.k8s.api.core",
    "apps": "io.k8s.api.apps",
    "batch": "io.k8s.api.batch",
    "autoscaling": "io.k8s.api.autoscaling",
    "policy": "io.k8s.api.policy",
    "extensions": "io.k8s.api.extensions",
    "networking.k8s.io": "io.k8s.api.networking",
    "storage.k8s.io": "io.k8s.api.storage",
    "discovery.k8s.io": "io.k8s.api.discovery",
    "coordination.k8s.io": "io.k8s.api.coordination",
    "events.k8s.io": "io.k8s.api.events",
    "authentication.k8s.io": "io.k8s.api.authentication",
    "authorization.k8s.io": "io.k8s.api.authorization",
    "rbac.authorization.k8s.io": "io.k8s.api.rbac",
    "scheduling.k8s.io": "io.k8s.api.scheduling",
    "node.k8s.io": "io.k8s.api.node",
    "certificates.k8s.io": "io.k8s.api.certificates",
    "admissionregistration.k8s.io": "io.k8s.api.admissionregistration",
    "apiextensions.k8s.io": "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions",
    "apiregistration.k8s.io": "io.k8s.kube-aggregator.pkg.apis.apiregistration",
    "flowcontrol.apiserver.k8s.io": "io.k8s.api.flowcontrol",
}

META = "io.k8s.apimachinery.pkg.apis.meta.v1"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
TIME = f"{META}.Time"
MICRO_TIME = f"{META}.MicroTime"
FIELDS_V1 = f"{META}.FieldsV1"
RAW_EXTENSION = "io.k8s.apimachinery.pkg.runtime.RawExtension"
APIEXT = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1"

# Types that are not models in the client but named definitions upstream.
SCALAR_DEFINITIONS: dict[str, dict] = {
    INT_OR_STRING: {"type": "string", "format": "int-or-string"},
    QUANTITY: {"type": "string"},
    TIME: {"type": "string", "format": "date-time"},
    MICRO_TIME: {"type": "string", "format": "date-time"},
    FIELDS_V1: {"type": "object"},
    f"{META}.Patch": {"type": "object"},  # request body of every PATCH operation
    RAW_EXTENSION: {"type": "object"},
    # apiextensions' JSON-ish unions carry no type: any JSON value is accepted.
    f"{APIEXT}.JSON": {},
    f"{APIEXT}.JSONSchemaPropsOrArray": {},
    f"{APIEXT}.JSONSchemaPropsOrBool": {},
    f"{APIEXT}.JSONSchemaPropsOrStringArray": {},
    f"{APIEXT}.CustomResourceSubresourceStatus": {"type": "object"},
}

# Client classes that live in apimachinery's meta/v1 package (everything reachable only from
# them is meta too, see assign_packages).
META_CLASSES: tuple[str, ...] = (
    "V1ObjectMeta", "V1ListMeta", "V1LabelSelector", "V1LabelSelectorRequirement",
    "V1OwnerReference", "V1ManagedFieldsEntry", "V1Status", "V1StatusDetails", "V1StatusCause",
    "V1DeleteOptions", "V1Preconditions", "V1Condition", "V1APIResource", "V1APIResourceList",
    "V1APIGroup", "V1APIGroupList", "V1APIVersions", "V1GroupVersionForDiscovery",
    "V1ServerAddressByClientCIDR", "V1WatchEvent", "V1FieldSelectorRequirement",
)

# Client classes whose package is not the group of the API class that mentions them.
CLASS_GROUPS: dict[str, str] = {
    "V1Scale": "autoscaling",          # served as apps/v1 and core subresources
    "V1ScaleSpec": "autoscaling",
    "V1ScaleStatus": "autoscaling",
    "V1Eviction": "policy",            # pods/eviction
    "AuthenticationV1TokenRequest": "authentication.k8s.io",  # serviceaccounts/token
    "V1TokenRequestSpec": "authentication.k8s.io",
    "V1TokenRequestStatus": "authentication.k8s.io",
    "V1BoundObjectReference": "authentication.k8s.io",
    "V1TopologySelectorTerm": "",      # core types only used by StorageClass
    "V1TopologySelectorLabelRequirement": "",
    "VersionInfo": "version",
}

# JSON types the client flattens to `object`/datetime but upstream names.
FIELD_REFS: dict[tuple[str, str], str] = {
    ("V1ManagedFieldsEntry", "fieldsV1"): FIELDS_V1,
    ("V1ControllerRevision", "data"): RAW_EXTENSION,
    ("V1WatchEvent", "object"): RAW_EXTENSION,
    ("CoreV1Event", "eventTime"): MICRO_TIME,
    ("CoreV1EventSeries", "lastObservedTime"): MICRO_TIME,
    ("EventsV1Event", "eventTime"): MICRO_TIME,
    ("EventsV1EventSeries", "lastObservedTime"): MICRO_TIME,
    ("V1LeaseSpec", "acquireTime"): MICRO_TIME,
    ("V1LeaseSpec", "renewTime"): MICRO_TIME,
    ("V1CustomResourceSubresources", "status"): f"{APIEXT}.CustomResourceSubresourceStatus",
    ("V1JSONSchemaProps", "default"): f"{APIEXT}.JSON",
    ("V1JSONSchemaProps", "example"): f"{APIEXT}.JSON",
    ("V1JSONSchemaProps", "additionalItems"): f"{APIEXT}.JSONSchemaPropsOrBool",
    ("V1JSONSchemaProps", "additionalProperties"): f"{APIEXT}.JSONSchemaPropsOrBool",
    ("V1JSONSchemaProps", "items"): f"{APIEXT}.JSONSchemaPropsOrArray",
}

# Fields whose values may be any JSON (apiextensions' schema-of-schemas).
UNTYPED_FIELDS: frozenset[tuple[str, str]] = frozenset({("V1JSONSchemaProps", "dependencies")})

# Map values of these fields are Quantities (the client types them as plain strings).
QUANTITY_MAPS: frozenset[tuple[str, str]] = frozenset({
    ("V1ResourceRequirements", "limits"), ("V1ResourceRequirements", "requests"),
    ("V1VolumeResourceRequirements", "limits"), ("V1VolumeResourceRequirements", "requests"),
    ("V1PodSpec", "overhead"), ("V1Overhead", "podFixed"),
    ("V1NodeStatus", "capacity"), ("V1NodeStatus", "allocatable"),
    ("V1PersistentVolumeSpec", "capacity"),
    ("V1PersistentVolumeClaimStatus", "capacity"),
    ("V1PersistentVolumeClaimStatus", "allocatedResources"),
    ("V1ResourceQuotaSpec", "hard"), ("V1ResourceQuotaStatus", "hard"),
    ("V1ResourceQuotaStatus", "used"),
    ("V1LimitRangeItem", "default"), ("V1LimitRangeItem", "defaultRequest"),
    ("V1LimitRangeItem", "max"), ("V1LimitRangeItem", "min"),
    ("V1LimitRangeItem", "maxLimitRequestRatio"),
    ("V1ContainerStatus", "allocatedResources"),
})

# Scalar Quantity fields.
QUANTITY_FIELDS: frozenset[tuple[str, str]] = frozenset({
    ("V1EmptyDirVolumeSource", "sizeLimit"),
    ("V1ResourceFieldSelector", "divisor"),
    ("V1CSIStorageCapacity", "capacity"), ("V1CSIStorageCapacity", "maximumVolumeSize"),
    ("V2MetricTarget", "averageValue"), ("V2MetricTarget", "value"),
    ("V2MetricValueStatus", "averageValue"), ("V2MetricValueStatus", "value"),
})

# Integer fields that are int64 upstream; every other integer is int32.
INT64_FIELDS: frozenset[tuple[str, str]] = frozenset({
    # (every observedGeneration/generation and *Bytes field is int64 too, see is_int64)
    ("V1ObjectMeta", "deletionGracePeriodSeconds"),
    ("V1ListMeta", "remainingItemCount"),
    ("V1DeleteOptions", "gracePeriodSeconds"),
    ("V1PodSpec", "terminationGracePeriodSeconds"), ("V1PodSpec", "activeDeadlineSeconds"),
    ("V1PodSecurityContext", "runAsUser"), ("V1PodSecurityContext", "runAsGroup"),
    ("V1PodSecurityContext", "fsGroup"), ("V1PodSecurityContext", "supplementalGroups"),
    ("V1SecurityContext", "runAsUser"), ("V1SecurityContext", "runAsGroup"),
    ("V1LinuxContainerUser", "uid"), ("V1LinuxContainerUser", "gid"),
    ("V1LinuxContainerUser", "supplementalGroups"),
    ("V1Probe", "terminationGracePeriodSeconds"),
    ("V1SleepAction", "seconds"),
    ("V1Toleration", "tolerationSeconds"),
    ("V1NodeSwapStatus", "capacity"),
    ("V1ServiceAccountTokenProjection", "expirationSeconds"),
    ("V1TokenRequestSpec", "expirationSeconds"),
    ("V1ControllerRevision", "revision"),
    ("V1JobSpec", "activeDeadlineSeconds"),
    ("V1CronJobSpec", "startingDeadlineSeconds"),
    ("StorageV1TokenRequest", "expirationSeconds"),
    ("V1CertificateSigningRequestSpec", "expirationSeconds"),
    ("V1JSONSchemaProps", "maxItems"), ("V1JSONSchemaProps", "minItems"),
    ("V1JSONSchemaProps", "maxLength"), ("V1JSONSchemaProps", "minLength"),
    ("V1JSONSchemaProps", "maxProperties"), ("V1JSONSchemaProps", "minProperties"),
})

# Byte-string fields (base64 on the wire) are recognised from the client's `bytes` type.

# Patch metadata (reference §10.2) and SSA list types, keyed by definition name and field; every
# value is merged into the property schema.  kubectl ≥ 1.29 computes client-side apply patches
# from these (v3 documents), so a missing strategy turns a merged list into a replaced one.
def _merge(key: str | None, keys: tuple[str, ...] | None = None, retain: bool = False,
           list_type: str | None = None) -> dict:
    ext: dict = {"x-kubernetes-patch-strategy": "merge,retainKeys" if retain else "merge"}
    if key is not None:
        ext["x-kubernetes-patch-merge-key"] = key
        ext["x-kubernetes-list-type"] = list_type or "map"
        if ext["x-kubernetes-list-type"] == "map":
            ext["x-kubernetes-list-map-keys"] = list(keys or (key,))
    else:
        ext["x-kubernetes-list-type"] = list_type or "set"
    return ext


ATOMIC = {"x-kubernetes-list-type": "atomic"}

_CONTAINER_PATCH = {
    "ports": _merge("containerPort", ("containerPort", "protocol")),
    "env": _merge("name"),
    "volumeMounts": _merge("mountPath"),
    "volumeDevices": _merge("devicePath"),
    "args": ATOMIC, "command": ATOMIC, "envFrom": ATOMIC, "resizePolicy": ATOMIC,
}
_CONDITIONS = {"conditions": _merge("type")}

PATCH_METADATA: dict[str, dict[str, dict]] = {
    f"{META}.ObjectMeta": {
        "finalizers": _merge(None),
        "ownerReferences": _merge("uid"),
    },
    f"{META}.LabelSelector": {"matchExpressions": ATOMIC},
    "io.k8s.api.core.v1.PodSpec": {
        "containers": _merge("name"),
        "initContainers": _merge("name"),
        "ephemeralContainers": _merge("name"),
        "volumes": _merge("name", retain=True),
        "imagePullSecrets": _merge("name"),
        "hostAliases": _merge("ip"),
        "topologySpreadConstraints": _merge("topologyKey", ("topologyKey", "whenUnsatisfiable")),
        "schedulingGates": _merge("name"),
        "resourceClaims": _merge("name", retain=True),
        "tolerations": ATOMIC, "readinessGates": ATOMIC,
    },
    "io.k8s.api.core.v1.Container": dict(_CONTAINER_PATCH),
    "io.k8s.api.core.v1.EphemeralContainer": dict(_CONTAINER_PATCH),
    "io.k8s.api.core.v1.PodStatus": {
        **_CONDITIONS,
        "podIPs": _merge("ip"),
        "hostIPs": _merge("ip", list_type="atomic"),
        "resourceClaimStatuses": _merge("name", retain=True),
    },
    "io.k8s.api.core.v1.ServiceSpec": {
        "ports": _merge("port", ("port", "protocol")),
        "clusterIPs": ATOMIC, "externalIPs": ATOMIC, "ipFamilies": ATOMIC,
    },
    "io.k8s.api.core.v1.ServiceStatus": _CONDITIONS,
    "io.k8s.api.core.v1.ServiceAccount": {"secrets": _merge("name")},
    "io.k8s.api.core.v1.NodeSpec": {"podCIDRs": _merge(None), "taints": ATOMIC},
    "io.k8s.api.core.v1.NodeStatus": {**_CONDITIONS, "addresses": _merge("type")},
    "io.k8s.api.core.v1.NamespaceStatus": _CONDITIONS,
    "io.k8s.api.core.v1.PersistentVolumeClaimStatus": _CONDITIONS,
    "io.k8s.api.core.v1.PersistentVolumeClaimSpec": {"accessModes": ATOMIC},
    "io.k8s.api.core.v1.PersistentVolumeSpec": {"accessModes": ATOMIC},
    "io.k8s.api.core.v1.ReplicationControllerStatus": _CONDITIONS,
    "io.k8s.api.core.v1.Endpoints": {"subsets": ATOMIC},
    "io.k8s.api.apps.v1.DeploymentSpec": {
        "strategy": {"x-kubernetes-patch-strategy": "retainKeys"},
    },
    "io.k8s.api.apps.v1.DeploymentStatus": _CONDITIONS,
    "io.k8s.api.apps.v1.ReplicaSetStatus": _CONDITIONS,
    "io.k8s.api.apps.v1.DaemonSetStatus": _CONDITIONS,
    "io.k8s.api.apps.v1.StatefulSetStatus": _CONDITIONS,
    "io.k8s.api.batch.v1.JobStatus": {"conditions": _merge("type", list_type="atomic")},
    "io.k8s.api.batch.v1.CronJobStatus": {"active": ATOMIC},
    "io.k8s.api.networking.v1.IngressSpec": {"rules": ATOMIC, "tls": ATOMIC},
    "io.k8s.api.networking.v1.IngressTLS": {"hosts": ATOMIC},
    "io.k8s.api.networking.v1.HTTPIngressRuleValue": {"paths": ATOMIC},
    "io.k8s.api.discovery.v1.EndpointSlice": {"endpoints": ATOMIC, "ports": ATOMIC},
    "io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerStatus": _CONDITIONS,
    # Beyond the book's kinds (kubectl ≥ 1.29 computes apply patches from these too).
    "io.k8s.api.policy.v1.PodDisruptionBudgetStatus": _CONDITIONS,
    "io.k8s.api.storage.v1.CSINodeSpec": {"drivers": _merge("name")},
    "io.k8s.api.flowcontrol.v1.FlowSchemaStatus": _CONDITIONS,
    "io.k8s.api.flowcontrol.v1.PriorityLevelConfigurationStatus": _CONDITIONS,
    "io.k8s.kube-aggregator.pkg.apis.apiregistration.v1.APIServiceStatus": _CONDITIONS,
}

# Our own words for the kinds and the fields users look at most.
DESCRIPTIONS: dict[str, str] = {
    "io.k8s.api.core.v1.Pod": "Pod is a group of containers scheduled together on one node.",
    "io.k8s.api.core.v1.Service": "Service gives a set of pods one stable address and name.",
    "io.k8s.api.core.v1.Namespace": "Namespace is a scope for the names of namespaced objects.",
    "io.k8s.api.core.v1.Node": "Node is a machine that runs pods.",
    "io.k8s.api.core.v1.ConfigMap": "ConfigMap holds non-secret configuration data.",
    "io.k8s.api.core.v1.Secret": "Secret holds sensitive data such as passwords and keys.",
    "io.k8s.api.core.v1.ServiceAccount": "ServiceAccount is an identity for processes in pods.",
    "io.k8s.api.core.v1.PersistentVolume": "PersistentVolume is a piece of storage in the cluster.",
    "io.k8s.api.core.v1.PersistentVolumeClaim": "PersistentVolumeClaim is a request for storage.",
    "io.k8s.api.core.v1.ReplicationController": "ReplicationController keeps a number of pod replicas running.",
    "io.k8s.api.core.v1.Endpoints": "Endpoints lists the addresses that implement a service.",
    "io.k8s.api.core.v1.Event": "Event reports something that happened to an object.",
    "io.k8s.api.core.v1.Container": "Container is one process image to run inside a pod.",
    "io.k8s.api.apps.v1.Deployment": "Deployment rolls out and scales a replicated application.",
    "io.k8s.api.apps.v1.ReplicaSet": "ReplicaSet keeps a number of identical pods running.",
    "io.k8s.api.apps.v1.DaemonSet": "DaemonSet runs one copy of a pod on each selected node.",
    "io.k8s.api.apps.v1.StatefulSet": "StatefulSet runs pods with stable identities and storage.",
    "io.k8s.api.batch.v1.Job": "Job runs pods until a number of them complete successfully.",
    "io.k8s.api.batch.v1.CronJob": "CronJob creates jobs on a repeating schedule.",
    "io.k8s.api.networking.v1.Ingress": "Ingress routes outside HTTP traffic to services.",
    "io.k8s.api.networking.v1.IngressClass": "IngressClass names the controller that implements ingresses.",
    "io.k8s.api.storage.v1.StorageClass": "StorageClass describes a kind of dynamically provisioned storage.",
    "io.k8s.api.discovery.v1.EndpointSlice": "EndpointSlice is a part of the endpoints of a service.",
    "io.k8s.api.coordination.v1.Lease": "Lease is a lock record for leader election and heartbeats.",
    "io.k8s.api.events.v1.Event": "Event reports something that happened to an object.",
    "io.k8s.api.autoscaling.v1.Scale": "Scale is the replica count of a scalable object.",
    f"{META}.ObjectMeta": "ObjectMeta is the metadata every persisted object has.",
    f"{META}.Status": "Status is the result of an operation that returns no object.",
}

FIELD_DESCRIPTIONS: dict[tuple[str, str], str] = {
    ("*", "apiVersion"): "The versioned schema of this object, such as v1 or apps/v1.",
    ("*", "kind"): "The type of this object, in CamelCase.",
    ("*", "metadata"): "Standard object metadata: name, namespace, labels, annotations.",
    ("io.k8s.api.core.v1.Pod", "spec"): "The desired behaviour of the pod.",
    ("io.k8s.api.core.v1.Pod", "status"): "The observed state of the pod, written by the system.",
    ("io.k8s.api.core.v1.PodSpec", "containers"): "The containers of the pod; at least one.",
    ("io.k8s.api.core.v1.PodSpec", "initContainers"): "Containers run in order before the main ones.",
    ("io.k8s.api.core.v1.PodSpec", "nodeName"): "The node the pod is bound to.",
    ("io.k8s.api.core.v1.Container", "name"): "The container's name, unique within the pod.",
    ("io.k8s.api.core.v1.Container", "image"): "The container image reference, e.g. nginx:1.27.",
    ("io.k8s.api.core.v1.Container", "ports"): "Ports the container listens on (informational).",
    ("io.k8s.api.core.v1.Container", "command"): "The entrypoint; replaces the image's ENTRYPOINT.",
    ("io.k8s.api.core.v1.Container", "args"): "Arguments to the entrypoint; replace the image's CMD.",
    ("io.k8s.api.core.v1.Container", "env"): "Environment variables to set in the container.",
    ("io.k8s.api.core.v1.ContainerPort", "containerPort"): "The port number on the pod's IP address.",
    ("io.k8s.api.core.v1.Service", "spec"): "The desired behaviour of the service.",
    ("io.k8s.api.core.v1.ServiceSpec", "selector"): "Pods with these labels receive the traffic.",
    ("io.k8s.api.core.v1.ServiceSpec", "ports"): "The ports the service exposes.",
    ("io.k8s.api.core.v1.ServiceSpec", "type"): "ClusterIP, NodePort, LoadBalancer or ExternalName.",
    ("io.k8s.api.apps.v1.Deployment", "spec"): "The desired state of the deployment.",
    ("io.k8s.api.apps.v1.DeploymentSpec", "replicas"): "The number of desired pods.",
    ("io.k8s.api.apps.v1.DeploymentSpec", "selector"): "Selects the pods the deployment manages.",
    ("io.k8s.api.apps.v1.DeploymentSpec", "template"): "The pod template new pods are made from.",
    ("io.k8s.api.apps.v1.DeploymentSpec", "strategy"): "How old pods are replaced by new ones.",
    ("io.k8s.api.apps.v1.ReplicaSetSpec", "replicas"): "The number of desired pods.",
    ("io.k8s.api.batch.v1.CronJobSpec", "schedule"): "The schedule in cron format.",
    ("io.k8s.api.batch.v1.CronJobSpec", "jobTemplate"): "The job to create at each scheduled time.",
    ("io.k8s.api.core.v1.ConfigMap", "data"): "Configuration data as UTF-8 strings.",
    ("io.k8s.api.core.v1.Secret", "data"): "Secret data, base64-encoded.",
}

VERSION_RE = re.compile(r"^(?:[A-Z][a-z]+)?(V\d+(?:alpha\d+|beta\d+)?)(\w+)$")


@dataclass
class Model:
    """Model is one client class and where it belongs upstream."""

    cls: type
    group: str | None = None
    version: str = ""
    short: str = ""
    refs: set[str] = field(default_factory=set)

    @property
    def name(self) -> str:
        if self.group == "meta":
            return f"{META}.{self.short}"
        if self.group == "version":
            return "io.k8s.apimachinery.pkg.version.Info"
        return f"{GROUP_PACKAGES[self.group]}.{self.version}.{self.short}"


def _client():
    import kubernetes.client.api as apis
    import kubernetes.client.models as models
    return apis, models


def _model_classes(annotation, models) -> list[str]:
    """Names of client model classes mentioned anywhere inside a type annotation."""
    found: list[str] = []
    stack = [annotation]
    while stack:
        a = stack.pop()
        if inspect.isclass(a) and hasattr(a, "model_fields") and getattr(models, a.__name__, None) is a:
            found.append(a.__name__)
        stack.extend(typing.get_args(a))
    return found


@functools.cache
def api_roots(apis, models) -> dict[str, set[str]]:
    """Group version -> client classes its API module accepts or returns."""
    roots: dict[str, set[str]] = {}
    for name in dir(apis):
        cls = getattr(apis, name)
        if not (inspect.isclass(cls) and name.endswith("Api")):
            continue
        src = Path(inspect.getfile(cls)).read_text()  # (getsource re-tokenizes: far slower)
        gvs = {m.group(1) or m.group(2)
               for m in re.finditer(r"resource_path='/(?:api/(v1)|apis/([^/{]+/[^/{]+))/", src)}
        if len(gvs) != 1:
            continue
        gv = gvs.pop()
        found: set[str] = set()
        for mname, fn in inspect.getmembers(cls, inspect.isfunction):
            if mname.startswith("_") or mname.endswith(("_with_http_info", "_without_preload_content")):
                continue
            hints = typing.get_type_hints(fn)
            for pname in ("return", "body"):
                if pname in hints:
                    found.update(_model_classes(hints[pname], models))
        roots[gv] = found
    return roots


def assign_packages(models) -> dict[str, Model]:
    """Decide the upstream package of every class reachable from the in-scope API roots."""
    apis, _ = _client()
    roots = api_roots(apis, models)
    out: dict[str, Model] = {}

    def refs_of(cname: str) -> set[str]:
        r: set[str] = set()
        for info in getattr(models, cname).model_fields.values():
            r.update(_model_classes(info.annotation, models))
        return r

    def claim(start: list[str], group: str, version: str = "") -> None:
        queue = deque(start)
        while queue:
            cname = queue.popleft()
            if cname in out:
                continue
            g = CLASS_GROUPS.get(cname, group)
            if cname in META_CLASSES:
                g = "meta"
            m = VERSION_RE.match(cname)
            if m and g == group and group != "meta" and m.group(1).lower() != version:
                if is_prerelease(cname):
                    continue  # a gated field pointing into an alpha/beta group: not served
                raise SystemExit(f"{cname} reached from {group}/{version}: add it to CLASS_GROUPS")
            if g != group and cname not in start:
                continue  # claimed by its own pass
            if cname == "VersionInfo":
                out[cname] = Model(getattr(models, cname), g, "", "Info")
                continue
            if not m:
                raise SystemExit(f"cannot parse class name {cname}")
            out[cname] = Model(getattr(models, cname), g, m.group(1).lower(), m.group(2), refs_of(cname))
            queue.extend(sorted(out[cname].refs))

    claim(list(META_CLASSES), "meta")
    claim(["VersionInfo"], "version")
    # Core first: a core type reachable from another group's kind keeps its core name.
    claim(sorted(c for c, g in CLASS_GROUPS.items() if g == "") + sorted(roots["v1"] - set(CLASS_GROUPS)), "", "v1")
    for gv in SCOPE_GVS:
        group = gv.rpartition("/")[0]
        if gv == "v1":
            continue
        extra = sorted(c for c, g in CLASS_GROUPS.items() if g == group and VERSION_RE.match(c)
                       and VERSION_RE.match(c).group(1).lower() == gv.rpartition("/")[2])
        claim(extra + sorted(c for c in roots.get(gv, ()) if c not in CLASS_GROUPS), group,
              gv.rpartition("/")[2])
    # Classes claimed by CLASS_GROUPS but only reachable from other passes.
    for cname, g in CLASS_GROUPS.items():
        if cname not in out and g not in ("", "version") and hasattr(models, cname):
            claim([cname], g, VERSION_RE.match(cname).group(1).lower())
    return out


def is_int64(owner: str, jname: str) -> bool:
    # Generations and byte counts are int64 everywhere upstream.
    return (owner, jname) in INT64_FIELDS or jname in ("observedGeneration", "generation") \
        or jname.endswith("Bytes")


def is_prerelease(cname: str) -> bool:
    m = VERSION_RE.match(cname)
    return bool(m) and ("alpha" in m.group(1) or "beta" in m.group(1))


def _is(a, t) -> bool:
    base = typing.get_args(a)[0] if typing.get_origin(a) is typing.Annotated else a
    return base is t


def _strip_optional(a):
    if typing.get_origin(a) in (typing.Union, types.UnionType):
        args = [x for x in typing.get_args(a) if x is not type(None)]
        if len(args) == 1:
            return args[0]
        return typing.Union[tuple(args)]
    return a


def ref(name: str) -> dict:
    return {"$ref": f"#/definitions/{name}"}


def type_schema(a, owner: str, jname: str, names: dict[str, str], models) -> dict:
    """The schema of one annotation (after Optional is removed)."""
    a = _strip_optional(a)
    origin = typing.get_origin(a)
    if origin is typing.Annotated:
        a = typing.get_args(a)[0]
        origin = typing.get_origin(a)
    if origin in (typing.Union, types.UnionType):
        members = typing.get_args(a)
        if all(_is(x, int) or _is(x, str) for x in members) and len(members) == 2:
            return ref(INT_OR_STRING)
        if all(_is(x, bytes) or _is(x, str) for x in members):
            return {"type": "string", "format": "byte"}
        if all(_is(x, float) or _is(x, int) for x in members):
            return {"type": "number"}
        if (owner, jname) in UNTYPED_FIELDS:
            return {}
        raise SystemExit(f"unmapped union {a!r} at {owner}.{jname}")
    if origin in (list, typing.List):
        return {"type": "array", "items": type_schema(typing.get_args(a)[0], owner, jname, names, models)}
    if origin in (dict, typing.Dict):
        value = typing.get_args(a)[1]
        if (owner, jname) in QUANTITY_MAPS:
            return {"type": "object", "additionalProperties": ref(QUANTITY)}
        if value is typing.Any:
            return {"type": "object"}
        return {"type": "object", "additionalProperties": type_schema(value, owner, jname, names, models)}
    if a is typing.Any:
        return {}
    if a is str:
        return {"type": "string"}
    if a is bool:
        return {"type": "boolean"}
    if a is int:
        return {"type": "integer", "format": "int64" if is_int64(owner, jname) else "int32"}
    if a is float:
        return {"type": "number", "format": "double"}
    if a is datetime.datetime:
        return ref(TIME)
    if inspect.isclass(a) and a.__name__ in names:
        return ref(names[a.__name__])
    raise SystemExit(f"unmapped annotation {a!r} at {owner}.{jname}")


def model_definition(m: Model, names: dict[str, str], models) -> dict:
    cls = m.cls
    props: dict[str, dict] = {}
    required: list[str] = []
    cname = cls.__name__
    for attr, info in cls.model_fields.items():
        jname = info.serialization_alias or cls.attribute_map.get(attr, attr)
        if any(is_prerelease(c) and c not in names for c in _model_classes(info.annotation, models)):
            continue  # see assign_packages: alpha/beta fields of stable types are left out
        if (cname, jname) in FIELD_REFS and FIELD_REFS[(cname, jname)]:
            schema = ref(FIELD_REFS[(cname, jname)])
        elif (cname, jname) in QUANTITY_FIELDS:
            schema = ref(QUANTITY)
        else:
            schema = type_schema(info.annotation, cname, jname, names, models)
        schema.update(PATCH_METADATA.get(m.name, {}).get(jname, {}))
        text = FIELD_DESCRIPTIONS.get((m.name, jname)) or FIELD_DESCRIPTIONS.get(("*", jname))
        if text and jname in ("apiVersion", "kind", "metadata") and not _is_kind(cls):
            text = None
        if text and jname == "metadata" and m.short.endswith("List"):
            text = "Standard list metadata: resourceVersion and the continue token."
        if text:
            schema["description"] = text
        props[jname] = schema
        if info.is_required():
            required.append(jname)
    d: dict = {"type": "object", "properties": dict(sorted(props.items()))}
    if required:
        d["required"] = sorted(required)
    if m.name in DESCRIPTIONS:
        d = {"description": DESCRIPTIONS[m.name], **d}
    return d


def _is_kind(cls) -> bool:
    fields = {i.serialization_alias or cls.attribute_map.get(a, a) for a, i in cls.model_fields.items()}
    return {"apiVersion", "kind"} <= fields


def gvk_extensions(models_by_name: dict[str, Model], roots: dict[str, set[str]],
                   defs: dict[str, dict]) -> None:
    """Add x-kubernetes-group-version-kind to every served kind and its list."""
    served_gvs: list[tuple[str, str]] = []
    for gv in SCOPE_GVS:
        group, _, version = gv.rpartition("/")
        served_gvs.append((group, version))
        for cname in roots.get(gv, ()):
            m = models_by_name.get(cname)
            if m is None or m.group == "meta" or not _is_kind(m.cls):
                continue
            group_of = m.group
            defs[m.name]["x-kubernetes-group-version-kind"] = [
                {"group": group_of, "kind": m.short, "version": m.version}]
    status = f"{META}.Status"
    defs[status]["x-kubernetes-group-version-kind"] = [{"group": "", "kind": "Status", "version": "v1"}]
    for g, v in RETIRED_GVS:
        served_gvs.append((g, v))
    for meta_kind in ("DeleteOptions", "WatchEvent"):
        defs[f"{META}.{meta_kind}"]["x-kubernetes-group-version-kind"] = [
            {"group": g, "kind": meta_kind, "version": v} for g, v in sorted(set(served_gvs))]
    for meta_kind in ("APIResourceList", "APIGroup", "APIGroupList", "APIVersions"):
        defs[f"{META}.{meta_kind}"]["x-kubernetes-group-version-kind"] = [
            {"group": "", "kind": meta_kind, "version": "v1"}]


RETIRED_GVS: tuple[tuple[str, str], ...] = (
    ("apps", "v1beta2"), ("batch", "v1beta1"), ("extensions", "v1beta1"))


def _rename_refs(schema, mapping: dict[str, str]):
    if isinstance(schema, dict):
        out = {}
        for k, v in schema.items():
            if k == "$ref" and isinstance(v, str):
                target = v.removeprefix("#/definitions/")
                out[k] = "#/definitions/" + mapping.get(target, target)
            else:
                out[k] = _rename_refs(v, mapping)
        return out
    if isinstance(schema, list):
        return [_rename_refs(x, mapping) for x in schema]
    return schema


def _closure(defs: dict[str, dict], starts: list[str], package: str,
             stop: tuple[str, ...] = ()) -> list[str]:
    """Definitions in `package` reachable from `starts` without leaving it or entering `stop`."""
    seen: list[str] = []
    queue = deque(starts)
    while queue:
        n = queue.popleft()
        if n in seen or not n.startswith(package + ".") or n.rpartition(".")[2] in stop:
            continue
        seen.append(n)
        for r in re.findall(r'"#/definitions/([^"]+)"', json.dumps(defs[n])):
            queue.append(r)
    return seen


def add_retired(defs: dict[str, dict]) -> None:
    """Hand-built definitions for versions current clients no longer know."""
    def copy_tree(src_pkg: str, dst_pkg: str, kinds: list[str], group: str, version: str,
                  keep: tuple[str, ...] = ()) -> None:
        starts = [f"{src_pkg}.{k}" for k in kinds] + [f"{src_pkg}.{k}List" for k in kinds]
        names = _closure(defs, starts, src_pkg, keep)
        mapping = {n: f"{dst_pkg}.{n.rpartition('.')[2]}" for n in names}
        for n in names:
            d = _rename_refs(copy.deepcopy(defs[n]), mapping)
            short = n.rpartition(".")[2]
            if "x-kubernetes-group-version-kind" in d:
                d["x-kubernetes-group-version-kind"] = [{"group": group, "kind": short, "version": version}]
            defs[mapping[n]] = d

    copy_tree("io.k8s.api.apps.v1", "io.k8s.api.apps.v1beta2",
              ["ReplicaSet", "DaemonSet", "Deployment"], "apps", "v1beta2")
    # batch/v1beta1's JobTemplateSpec embeds the batch/v1 JobSpec, as upstream did.
    copy_tree("io.k8s.api.batch.v1", "io.k8s.api.batch.v1beta1", ["CronJob"], "batch", "v1beta1",
              keep=("JobSpec",))
    defs["io.k8s.api.batch.v1beta1.CronJob"]["description"] = "CronJob (batch/v1beta1, retired) creates jobs on a schedule."

    ext = "io.k8s.api.extensions.v1beta1"
    net = "io.k8s.api.networking.v1"
    core = "io.k8s.api.core.v1"
    obj_meta, list_meta = ref(f"{META}.ObjectMeta"), ref(f"{META}.ListMeta")
    s = {"type": "string"}
    defs[f"{ext}.Ingress"] = {
        "description": "Ingress (extensions/v1beta1, retired) routes outside HTTP traffic to services.",
        "type": "object",
        "properties": {
            "apiVersion": s, "kind": s, "metadata": obj_meta,
            "spec": ref(f"{ext}.IngressSpec"), "status": ref(f"{ext}.IngressStatus")},
        "x-kubernetes-group-version-kind": [{"group": "extensions", "kind": "Ingress", "version": "v1beta1"}],
    }
    defs[f"{ext}.IngressList"] = {
        "type": "object",
        "properties": {"apiVersion": s, "items": {"type": "array", "items": ref(f"{ext}.Ingress")},
                       "kind": s, "metadata": list_meta},
        "required": ["items"],
        "x-kubernetes-group-version-kind": [{"group": "extensions", "kind": "IngressList", "version": "v1beta1"}],
    }
    defs[f"{ext}.IngressSpec"] = {"type": "object", "properties": {
        "backend": ref(f"{ext}.IngressBackend"),
        "ingressClassName": s,
        "rules": {"type": "array", "items": ref(f"{ext}.IngressRule"), **ATOMIC},
        "tls": {"type": "array", "items": ref(f"{ext}.IngressTLS"), **ATOMIC}}}
    defs[f"{ext}.IngressBackend"] = {"type": "object", "properties": {
        "resource": ref(f"{core}.TypedLocalObjectReference"),
        "serviceName": s,
        "servicePort": ref(INT_OR_STRING)}}
    defs[f"{ext}.IngressRule"] = {"type": "object", "properties": {
        "host": s, "http": ref(f"{ext}.HTTPIngressRuleValue")}}
    defs[f"{ext}.HTTPIngressRuleValue"] = {"type": "object", "properties": {
        "paths": {"type": "array", "items": ref(f"{ext}.HTTPIngressPath"), **ATOMIC}},
        "required": ["paths"]}
    defs[f"{ext}.HTTPIngressPath"] = {"type": "object", "properties": {
        "backend": ref(f"{ext}.IngressBackend"), "path": s, "pathType": s},
        "required": ["backend"]}
    defs[f"{ext}.IngressTLS"] = {"type": "object", "properties": {
        "hosts": {"type": "array", "items": s, **ATOMIC}, "secretName": s}}
    defs[f"{ext}.IngressStatus"] = {"type": "object", "properties": {
        "loadBalancer": ref(f"{core}.LoadBalancerStatus")}}
    assert f"{net}.IngressSpec" in defs


def build() -> dict[str, dict]:
    _, models = _client()
    assigned = assign_packages(models)
    names = {c: m.name for c, m in assigned.items()}
    dupes = {}
    for c, n in names.items():
        dupes.setdefault(n, []).append(c)
    clashes = {n: cs for n, cs in dupes.items() if len(cs) > 1}
    if clashes:
        raise SystemExit(f"definition name clashes: {clashes}")
    defs: dict[str, dict] = dict(SCALAR_DEFINITIONS)
    for c, m in sorted(assigned.items(), key=lambda kv: kv[1].name):
        defs[m.name] = model_definition(m, names, models)
    apis, _ = _client()
    gvk_extensions(assigned, api_roots(apis, models), defs)
    add_retired(defs)
    check_tables(models, defs)
    # Every reference must resolve.
    text = json.dumps(defs)
    missing = sorted({r for r in re.findall(r'"#/definitions/([^"]+)"', text)} - set(defs))
    if missing:
        raise SystemExit(f"dangling references: {missing}")
    return dict(sorted(defs.items()))


def check_tables(models, defs: dict[str, dict]) -> None:
    """Fail on table entries that name no field, so typos cannot hide."""
    def json_names(cname: str) -> set[str]:
        cls = getattr(models, cname, None)
        if cls is None:
            raise SystemExit(f"table names unknown class {cname}")
        return {i.serialization_alias or cls.attribute_map.get(a, a) for a, i in cls.model_fields.items()}

    for table in (QUANTITY_MAPS, QUANTITY_FIELDS, INT64_FIELDS, UNTYPED_FIELDS, set(FIELD_REFS)):
        for cname, jname in table:
            if jname not in json_names(cname):
                raise SystemExit(f"table names unknown field {cname}.{jname}")
    for dname, fields in PATCH_METADATA.items():
        for jname in fields:
            if jname not in defs.get(dname, {}).get("properties", {}):
                raise SystemExit(f"patch metadata names unknown field {dname}.{jname}")
    for dname, jname in FIELD_DESCRIPTIONS:
        if dname != "*" and jname not in defs.get(dname, {}).get("properties", {}):
            raise SystemExit(f"description names unknown field {dname}.{jname}")
    for dname in DESCRIPTIONS:
        if dname not in defs:
            raise SystemExit(f"description names unknown definition {dname}")


def render(defs: dict[str, dict]) -> str:
    return json.dumps(defs, indent=1, sort_keys=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed file is stale")
    parser.add_argument("--list", action="store_true", help="print class -> definition assignments")
    args = parser.parse_args(argv)
    if args.list:
        _, models = _client()
        for c, m in sorted(assign_packages(models).items(), key=lambda kv: kv[1].name):
            print(f"{m.name:80} {c}")
        return 0
    text = render(build())
    if args.check:
        if OUTPUT.read_text() != text:
            print(f"{OUTPUT} is stale; rerun {sys.argv[0]}", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text)
    print(f"wrote {OUTPUT} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
