"""Tests for definitions.json: every served kind is present, shaped like upstream, and ours."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kybernetes.api.openapi import definition_name, definitions

ROOT = Path(__file__).resolve().parents[3]

KINDS = [
    ("", "v1", "Pod"), ("", "v1", "Binding"), ("policy", "v1", "Eviction"),
    ("", "v1", "ReplicationController"), ("", "v1", "Service"), ("", "v1", "Endpoints"),
    ("", "v1", "Namespace"), ("", "v1", "Node"), ("", "v1", "Event"), ("", "v1", "ConfigMap"),
    ("", "v1", "Secret"), ("", "v1", "PersistentVolume"), ("", "v1", "PersistentVolumeClaim"),
    ("", "v1", "ServiceAccount"),
    ("apps", "v1", "ReplicaSet"), ("apps", "v1", "DaemonSet"), ("apps", "v1", "Deployment"),
    ("apps", "v1", "ControllerRevision"), ("apps", "v1", "StatefulSet"),
    ("batch", "v1", "Job"), ("batch", "v1", "CronJob"),
    ("networking.k8s.io", "v1", "Ingress"), ("networking.k8s.io", "v1", "IngressClass"),
    ("storage.k8s.io", "v1", "StorageClass"), ("discovery.k8s.io", "v1", "EndpointSlice"),
    ("coordination.k8s.io", "v1", "Lease"), ("events.k8s.io", "v1", "Event"),
    ("autoscaling", "v1", "Scale"), ("autoscaling", "v2", "HorizontalPodAutoscaler"),
    ("policy", "v1", "PodDisruptionBudget"),
    ("apps", "v1beta2", "ReplicaSet"), ("apps", "v1beta2", "DaemonSet"), ("apps", "v1beta2", "Deployment"),
    ("batch", "v1beta1", "CronJob"), ("extensions", "v1beta1", "Ingress"),
]
LISTED = [k for k in KINDS if k[2] not in ("Binding", "Eviction", "Scale")]


@pytest.mark.parametrize("gvk", KINDS, ids=lambda g: "/".join(filter(None, g)))
def test_every_served_kind_has_a_definition_tagged_with_its_gvk(gvk):
    name = definition_name(*gvk)
    assert name is not None
    schema = definitions()[name]
    assert {"group": gvk[0], "kind": gvk[2], "version": gvk[1]} in schema["x-kubernetes-group-version-kind"]
    assert {"apiVersion", "kind", "metadata"} <= set(schema["properties"])


@pytest.mark.parametrize("gvk", LISTED, ids=lambda g: "/".join(filter(None, g)))
def test_every_served_kind_has_a_list_kind_with_items(gvk):
    name = definition_name(gvk[0], gvk[1], gvk[2] + "List")
    assert name is not None
    items = definitions()[name]["properties"]["items"]
    assert items["items"]["$ref"] == f"#/definitions/{definition_name(*gvk)}"
    assert definitions()[name]["required"] == ["items"]


@pytest.mark.parametrize("name, required", [
    ("io.k8s.api.core.v1.Container", ["name"]),
    ("io.k8s.api.core.v1.PodSpec", ["containers"]),
    ("io.k8s.api.core.v1.ContainerPort", ["containerPort"]),
    ("io.k8s.api.core.v1.ServicePort", ["port"]),
    ("io.k8s.api.apps.v1.DeploymentSpec", ["selector", "template"]),
    ("io.k8s.api.apps.v1beta2.DeploymentSpec", ["selector", "template"]),
    ("io.k8s.api.batch.v1.CronJobSpec", ["jobTemplate", "schedule"]),
    ("io.k8s.api.batch.v1beta1.CronJobSpec", ["jobTemplate", "schedule"]),
    ("io.k8s.api.networking.v1.HTTPIngressPath", ["backend", "pathType"]),
    ("io.k8s.api.extensions.v1beta1.HTTPIngressPath", ["backend"]),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference", ["apiVersion", "kind", "name", "uid"]),
    ("io.k8s.api.coordination.v1.Lease", None),
])
def test_required_lists_match_upstream(name, required):
    assert definitions()[name].get("required") == required


def test_upstream_names_resolve_the_clients_ambiguous_classes():
    defs = definitions()
    assert "io.k8s.api.core.v1.EndpointPort" in defs
    assert "io.k8s.api.discovery.v1.EndpointPort" in defs
    assert defs["io.k8s.api.core.v1.Event"]["properties"]["involvedObject"]["$ref"].endswith("core.v1.ObjectReference")
    assert "reportingController" in defs["io.k8s.api.events.v1.Event"]["properties"]
    assert "io.k8s.api.core.v1.TopologySelectorTerm" in defs      # only StorageClass uses it
    assert "io.k8s.api.authentication.v1.TokenRequest" in defs    # serviceaccounts/token
    assert "io.k8s.api.storage.v1.TokenRequest" in defs           # CSIDriver's own
    probe = defs["io.k8s.api.core.v1.Probe"]["properties"]
    assert "exec" in probe and "_exec" not in probe and "var_exec" not in probe
    assert "continue" in defs["io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"]["properties"]


@pytest.mark.parametrize("name, field, schema", [
    ("io.k8s.api.core.v1.ServicePort", "targetPort",
     {"$ref": "#/definitions/io.k8s.apimachinery.pkg.util.intstr.IntOrString"}),
    ("io.k8s.api.core.v1.ContainerPort", "containerPort", {"type": "integer", "format": "int32"}),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "generation", {"type": "integer", "format": "int64"}),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "creationTimestamp",
     {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Time"}),
    ("io.k8s.api.core.v1.ResourceRequirements", "limits", {
        "type": "object",
        "additionalProperties": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.api.resource.Quantity"}}),
    ("io.k8s.api.core.v1.Secret", "data",
     {"type": "object", "additionalProperties": {"type": "string", "format": "byte"}}),
    ("io.k8s.api.coordination.v1.LeaseSpec", "renewTime",
     {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime"}),
    ("io.k8s.api.apps.v1.ControllerRevision", "data",
     {"$ref": "#/definitions/io.k8s.apimachinery.pkg.runtime.RawExtension"}),
    ("io.k8s.api.extensions.v1beta1.IngressBackend", "servicePort",
     {"$ref": "#/definitions/io.k8s.apimachinery.pkg.util.intstr.IntOrString"}),
    ("io.k8s.api.extensions.v1beta1.IngressBackend", "serviceName", {"type": "string"}),
])
def test_field_types_use_upstreams_forms(name, field, schema):
    got = {k: v for k, v in definitions()[name]["properties"][field].items() if k != "description"}
    assert got == schema


def test_scalar_definitions_use_upstreams_v2_forms():
    defs = definitions()
    assert defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] == {"type": "string", "format": "int-or-string"}
    assert defs["io.k8s.apimachinery.pkg.api.resource.Quantity"] == {"type": "string"}
    assert defs["io.k8s.apimachinery.pkg.apis.meta.v1.Time"] == {"type": "string", "format": "date-time"}
    assert defs["io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1"] == {"type": "object"}


def test_retired_versions_have_their_own_shapes():
    defs = definitions()
    spec = defs["io.k8s.api.extensions.v1beta1.IngressSpec"]["properties"]
    assert set(spec) == {"backend", "ingressClassName", "rules", "tls"}
    assert set(defs["io.k8s.api.extensions.v1beta1.IngressBackend"]["properties"]) == {
        "serviceName", "servicePort", "resource"}
    assert set(defs["io.k8s.api.extensions.v1beta1.HTTPIngressPath"]["properties"]) == {"path", "pathType", "backend"}
    # apps/v1beta2 is apps/v1 renamed; the pod template stays core/v1.
    dep = defs["io.k8s.api.apps.v1beta2.DeploymentSpec"]["properties"]
    assert dep["strategy"]["$ref"] == "#/definitions/io.k8s.api.apps.v1beta2.DeploymentStrategy"
    assert dep["template"]["$ref"] == "#/definitions/io.k8s.api.core.v1.PodTemplateSpec"
    # batch/v1beta1's job template embeds batch/v1's JobSpec.
    tmpl = defs["io.k8s.api.batch.v1beta1.JobTemplateSpec"]["properties"]["spec"]
    assert tmpl["$ref"] == "#/definitions/io.k8s.api.batch.v1.JobSpec"


@pytest.mark.parametrize("name, field, strategy, key", [
    ("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "finalizers", "merge", None),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "ownerReferences", "merge", "uid"),
    ("io.k8s.api.core.v1.PodSpec", "containers", "merge", "name"),
    ("io.k8s.api.core.v1.PodSpec", "initContainers", "merge", "name"),
    ("io.k8s.api.core.v1.PodSpec", "volumes", "merge,retainKeys", "name"),
    ("io.k8s.api.core.v1.PodSpec", "imagePullSecrets", "merge", "name"),
    ("io.k8s.api.core.v1.PodSpec", "hostAliases", "merge", "ip"),
    ("io.k8s.api.core.v1.PodSpec", "topologySpreadConstraints", "merge", "topologyKey"),
    ("io.k8s.api.core.v1.Container", "ports", "merge", "containerPort"),
    ("io.k8s.api.core.v1.Container", "env", "merge", "name"),
    ("io.k8s.api.core.v1.Container", "volumeMounts", "merge", "mountPath"),
    ("io.k8s.api.core.v1.Container", "volumeDevices", "merge", "devicePath"),
    ("io.k8s.api.core.v1.ServiceSpec", "ports", "merge", "port"),
    ("io.k8s.api.core.v1.ServiceAccount", "secrets", "merge", "name"),
    ("io.k8s.api.apps.v1.DeploymentSpec", "strategy", "retainKeys", None),
    ("io.k8s.api.apps.v1beta2.DeploymentSpec", "strategy", "retainKeys", None),
    ("io.k8s.api.core.v1.PodStatus", "conditions", "merge", "type"),
    ("io.k8s.api.core.v1.NodeStatus", "addresses", "merge", "type"),
    ("io.k8s.api.apps.v1.DeploymentStatus", "conditions", "merge", "type"),
    ("io.k8s.api.batch.v1.JobStatus", "conditions", "merge", "type"),
])
def test_patch_metadata_follows_the_reference_table(name, field, strategy, key):
    prop = definitions()[name]["properties"][field]
    assert prop["x-kubernetes-patch-strategy"] == strategy
    assert prop.get("x-kubernetes-patch-merge-key") == key


def test_ssa_list_types():
    defs = definitions()
    assert defs["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"]["finalizers"][
        "x-kubernetes-list-type"] == "set"
    ports = defs["io.k8s.api.core.v1.Container"]["properties"]["ports"]
    assert ports["x-kubernetes-list-type"] == "map"
    assert ports["x-kubernetes-list-map-keys"] == ["containerPort", "protocol"]
    assert defs["io.k8s.api.core.v1.Container"]["properties"]["args"]["x-kubernetes-list-type"] == "atomic"
    assert defs["io.k8s.api.core.v1.PodSpec"]["properties"]["tolerations"]["x-kubernetes-list-type"] == "atomic"


def test_every_reference_resolves():
    defs = definitions()
    refs = set(re.findall(r'"#/definitions/([^"]+)"', json.dumps(defs)))
    assert refs <= set(defs)


def test_descriptions_are_few_and_our_own():
    described = []

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("description"), str):
                described.append(node["description"])
            for v in node.values():
                walk(v)

    walk(definitions())
    # A few dozen short sentences, none of upstream's long prose.
    assert len(set(described)) < 80
    assert all(len(d) < 120 for d in described)
    assert not any("More info: https://" in d for d in described)


def test_runtime_does_not_import_the_kubernetes_client():
    code = ("import sys, kybernetes.api.openapi as o; o.definitions(); "
            "o.check_fields({'spec': {}}, '', 'v1', 'Pod'); "
            "print('kubernetes' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={"PYTHONPATH": str(ROOT)}, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.skipif(importlib.util.find_spec("kubernetes") is None, reason="needs the kubernetes client")
def test_committed_definitions_match_the_generator():
    out = subprocess.run([sys.executable, str(ROOT / "tools" / "gen_openapi_definitions.py"), "--check"],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
