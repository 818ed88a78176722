"""Every served kind goes through create, get, describe, label, annotate, patch, (scale,) and delete with the real kubectl."""

from __future__ import annotations

import json
import uuid

import pytest

TEMPLATE = {"metadata": {"labels": {"app": "k"}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


def _template(restart: str = "Always") -> dict:
    t = json.loads(json.dumps(TEMPLATE))
    t["spec"]["restartPolicy"] = restart
    return t


# kind → (resource name for kubectl, manifest without metadata.name, expected header columns, scalable)
KINDS: dict[str, tuple[str, dict, list[str], bool]] = {
    "Pod": ("pods", {"apiVersion": "v1", "kind": "Pod", "spec": TEMPLATE["spec"]}, ["NAME", "READY", "STATUS", "RESTARTS", "AGE"], False),
    "ReplicationController": ("replicationcontrollers", {"apiVersion": "v1", "kind": "ReplicationController", "spec": {"replicas": 1, "selector": {"app": "k"}, "template": _template()}}, ["NAME", "DESIRED", "CURRENT", "READY", "AGE"], True),
    "Service": ("services", {"apiVersion": "v1", "kind": "Service", "spec": {"selector": {"app": "k"}, "ports": [{"port": 80}]}}, ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"], False),
    "Endpoints": ("endpoints", {"apiVersion": "v1", "kind": "Endpoints", "subsets": [{"addresses": [{"ip": "10.42.0.5"}], "ports": [{"port": 80}]}]}, ["NAME", "ENDPOINTS", "AGE"], False),
    "ConfigMap": ("configmaps", {"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"}}, ["NAME", "DATA", "AGE"], False),
    "Secret": ("secrets", {"apiVersion": "v1", "kind": "Secret", "stringData": {"a": "b"}}, ["NAME", "TYPE", "DATA", "AGE"], False),
    "PersistentVolumeClaim": ("persistentvolumeclaims", {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}, ["NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS MODES", "STORAGECLASS", "VOLUMEATTRIBUTESCLASS", "AGE"], False),
    "ServiceAccount": ("serviceaccounts", {"apiVersion": "v1", "kind": "ServiceAccount"}, ["NAME", "SECRETS", "AGE"], False),
    "Event": ("events", {"apiVersion": "v1", "kind": "Event", "involvedObject": {"kind": "Pod", "name": "x", "apiVersion": "v1"}, "reason": "Testing", "message": "hello", "type": "Normal", "source": {"component": "test"}}, ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"], False),
    "ReplicaSet": ("replicasets", {"apiVersion": "apps/v1", "kind": "ReplicaSet", "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "k"}}, "template": _template()}}, ["NAME", "DESIRED", "CURRENT", "READY", "AGE"], True),
    "Deployment": ("deployments", {"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "k"}}, "template": _template()}}, ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"], True),
    "DaemonSet": ("daemonsets", {"apiVersion": "apps/v1", "kind": "DaemonSet", "spec": {"selector": {"matchLabels": {"app": "k"}}, "template": _template()}}, ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE SELECTOR", "AGE"], False),
    "ControllerRevision": ("controllerrevisions", {"apiVersion": "apps/v1", "kind": "ControllerRevision", "revision": 1, "data": {"spec": {}}}, ["NAME", "CONTROLLER", "REVISION", "AGE"], False),
    "Job": ("jobs", {"apiVersion": "batch/v1", "kind": "Job", "spec": {"template": _template("Never")}}, ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"], False),
    "CronJob": ("cronjobs", {"apiVersion": "batch/v1", "kind": "CronJob", "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": _template("OnFailure")}}}}, ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "AGE"], False),
    "Ingress": ("ingresses", {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "spec": {"rules": [{"host": "a.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "s", "port": {"number": 80}}}}]}}]}}, ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"], False),
    "EndpointSlice": ("endpointslices", {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4", "endpoints": [{"addresses": ["10.42.0.9"]}], "ports": [{"port": 80}]}, ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"], False),
    "Lease": ("leases", {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "spec": {"holderIdentity": "me", "leaseDurationSeconds": 40}}, ["NAME", "HOLDER", "AGE"], False),
}

CLUSTER_KINDS: dict[str, tuple[str, dict, list[str]]] = {
    "Namespace": ("namespaces", {"apiVersion": "v1", "kind": "Namespace"}, ["NAME", "STATUS", "AGE"]),
    "Node": ("nodes", {"apiVersion": "v1", "kind": "Node"}, ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]),
    "PersistentVolume": ("persistentvolumes", {"apiVersion": "v1", "kind": "PersistentVolume", "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/tmp/x"}}}, ["NAME", "CAPACITY", "ACCESS MODES", "RECLAIM POLICY", "STATUS", "CLAIM", "STORAGECLASS", "VOLUMEATTRIBUTESCLASS", "REASON", "AGE"]),
    "StorageClass": ("storageclasses", {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "provisioner": "example.com/fake"}, ["NAME", "PROVISIONER", "RECLAIMPOLICY", "VOLUMEBINDINGMODE", "ALLOWVOLUMEEXPANSION", "AGE"]),
    "IngressClass": ("ingressclasses", {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "spec": {"controller": "example.com/ingress"}}, ["NAME", "CONTROLLER", "PARAMETERS", "AGE"]),
}


def _header(out: str) -> list[str]:
    line = out.splitlines()[0]
    # Column names may contain one space ("ACCESS MODES"); kubectl separates columns by ≥ 2 spaces.
    return [c.strip() for c in line.split("  ") if c.strip()]


# An editor kubectl runs on its temporary file; it writes JSON back, which kubectl reads as YAML.
EDITOR = """#!{python}
import json, sys, yaml
path = sys.argv[1]
doc = yaml.safe_load(open(path))
doc["metadata"].setdefault("annotations", {{}})["edited"] = "yes"
open(path, "w").write(json.dumps(doc))
"""


def _lifecycle(kubectl, resource: str, manifest: dict, header: list[str], scalable: bool, *, namespaced: bool, tmp_path) -> None:
    name = f"k-{uuid.uuid4().hex[:6]}"
    obj = json.loads(json.dumps(manifest))
    obj["metadata"] = {"name": name, "labels": {"step": "created"}}
    if "involvedObject" in obj:
        # Upstream requires an event's involved object to live in the event's namespace.
        obj["involvedObject"]["namespace"] = kubectl.namespace
    flags = {"namespaced": namespaced}

    def live() -> dict:
        return json.loads(kubectl("get", resource, name, "-o", "json", **flags).stdout)

    # create, then client-side apply (configured), then server-side apply.
    assert "created" in kubectl("create", "-f", "-", input=json.dumps(obj), **flags).stdout
    obj["metadata"]["labels"]["step"] = "applied"
    out = kubectl("apply", "-f", "-", input=json.dumps(obj), **flags)
    assert "configured" in out.stdout, out
    assert live()["metadata"]["labels"]["step"] == "applied"
    obj["metadata"]["labels"]["step"] = "server-side"
    kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=json.dumps(obj), **flags)
    assert live()["metadata"]["labels"]["step"] == "server-side"
    # get: table columns and the wide row.
    out = kubectl("get", resource, name, **flags).stdout
    assert _header(out) == header, out
    # Events print LAST SEEN first and their name only with -o wide.
    row = kubectl("get", resource, name, "-o", "wide", **flags).stdout.splitlines()[1]
    assert name in row.split()
    current = live()
    assert current["metadata"]["name"] == name and current["metadata"]["resourceVersion"]
    # replace with the live object (carries its resourceVersion).
    current["metadata"]["labels"]["step"] = "replaced"
    kubectl("replace", "-f", "-", input=json.dumps(current), **flags)
    assert live()["metadata"]["labels"]["step"] == "replaced"
    assert name in kubectl("describe", resource, name, **flags).stdout
    kubectl("label", resource, name, "tier=x", **flags)
    kubectl("annotate", resource, name, "note=y", **flags)
    kubectl("patch", resource, name, "--type=merge", "-p", '{"metadata":{"labels":{"patched":"merge"}}}', **flags)
    kubectl("patch", resource, name, "-p", '{"metadata":{"labels":{"strategic":"yes"}}}', **flags)
    kubectl("patch", resource, name, "--type=json", "-p", '[{"op":"add","path":"/metadata/labels/json","value":"yes"}]', **flags)
    editor = tmp_path / "editor.py"
    import sys

    editor.write_text(EDITOR.format(python=sys.executable))
    editor.chmod(0o755)
    kubectl("edit", resource, name, env={"EDITOR": str(editor), "KUBE_EDITOR": str(editor)}, **flags)
    meta = live()["metadata"]
    assert meta["labels"]["tier"] == "x" and meta["labels"]["patched"] == "merge"
    assert meta["labels"]["strategic"] == "yes" and meta["labels"]["json"] == "yes"
    assert meta["annotations"]["note"] == "y" and meta["annotations"]["edited"] == "yes"
    if scalable:
        kubectl("scale", resource, name, "--replicas=3", **flags)
        assert live()["spec"]["replicas"] == 3
    assert "FIELDS:" in kubectl("explain", resource, namespaced=False).stdout
    assert "deleted" in kubectl("delete", resource, name, "--timeout=60s", **flags).stdout
    assert kubectl("get", resource, name, check=False, **flags).returncode == 1


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_namespaced_kind_lifecycle(kubectl, kind, tmp_path):
    resource, manifest, header, scalable = KINDS[kind]
    _lifecycle(kubectl, resource, manifest, header, scalable, namespaced=True, tmp_path=tmp_path)


@pytest.mark.parametrize("kind", sorted(CLUSTER_KINDS))
def test_cluster_scoped_kind_lifecycle(kubectl, kind, tmp_path):
    resource, manifest, header = CLUSTER_KINDS[kind]
    _lifecycle(kubectl, resource, manifest, header, False, namespaced=False, tmp_path=tmp_path)


def test_api_resources_lists_every_kind_with_short_names(kubectl132):
    out = kubectl132("api-resources", namespaced=False).stdout
    # setdefault: `pods` and `nodes` also appear under metrics.k8s.io, listed after the core group.
    rows: dict[str, str] = {}
    for line in out.splitlines()[1:]:
        rows.setdefault(line.split()[0], line)
    for resource, short in (("pods", "po"), ("services", "svc"), ("deployments", "deploy"), ("replicationcontrollers", "rc"),
                            ("namespaces", "ns"), ("persistentvolumeclaims", "pvc"), ("ingresses", "ing"), ("cronjobs", "cj")):
        assert short in rows[resource].split(), rows.get(resource)
    versions = kubectl132("api-versions", namespaced=False).stdout.split()
    for gv in ("v1", "apps/v1", "apps/v1beta2", "batch/v1beta1", "extensions/v1beta1", "networking.k8s.io/v1"):
        assert gv in versions


def test_get_all_lists_workloads(kubectl132):
    kubectl132("create", "deployment", "alld", "--image=nginx")
    kubectl132("create", "service", "clusterip", "allsvc", "--tcp=80:80")
    out = kubectl132("get", "all").stdout
    assert "deployment.apps/alld" in out and "service/allsvc" in out
