"""The first edition's manifests, retired API versions included, go through the real kubectl unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parents[2] / "manifests" / "book"

# manifest → (kubectl resource/name as created, apiVersion it was written in)
MANIFESTS = {
    "kubia-manual.yaml": [("pod/kubia-manual", "v1")],
    "kubia-manual-with-labels.yaml": [("pod/kubia-manual-v2", "v1")],
    "kubia-liveness-probe.yaml": [("pod/kubia-liveness", "v1")],
    "fortune-pod.yaml": [("pod/fortune", "v1")],
    "kubia-rc.yaml": [("replicationcontroller/kubia", "v1")],
    "kubia-replicaset.yaml": [("replicasets.v1beta2.apps/kubia", "apps/v1beta2")],
    "kubia-replicaset-matchexpressions.yaml": [("replicasets.v1beta2.apps/kubia-expr", "apps/v1beta2")],
    "ssd-monitor-daemonset.yaml": [("daemonsets.v1beta2.apps/ssd-monitor", "apps/v1beta2")],
    "kubia-deployment-v1.yaml": [("deployments.v1beta1.apps/kubia", "apps/v1beta1")],
    "exporter.yaml": [("job/batch-job", "batch/v1")],
    "cronjob.yaml": [("cronjobs.v1beta1.batch/batch-job-every-fifteen-minutes", "batch/v1beta1")],
    "kubia-svc.yaml": [("service/kubia", "v1")],
    "kubia-svc-loadbalancer.yaml": [("service/kubia-loadbalancer", "v1")],
    "kubia-svc-headless.yaml": [("service/kubia-headless", "v1")],
    "external-service.yaml": [("service/external-service", "v1"), ("endpoints/external-service", "v1")],
    "external-service-externalname.yaml": [("service/external-service-name", "v1")],
    "kubia-ingress.yaml": [("ingresses.v1beta1.extensions/kubia", "extensions/v1beta1")],
    "fortune-config.yaml": [("configmap/fortune-config", "v1")],
    "fortune-https-secret.yaml": [("secret/fortune-https", "v1")],
    "mongodb-pvc.yaml": [("persistentvolumeclaim/mongodb-pvc", "v1")],
}


@pytest.mark.parametrize("manifest", sorted(MANIFESTS), ids=lambda m: m.removesuffix(".yaml"))
def test_book_manifest_is_created_and_read_back_in_its_own_version(kubectl, manifest):
    out = kubectl("create", "-f", str(BOOK / manifest))
    assert "created" in out.stdout
    for ref, api_version in MANIFESTS[manifest]:
        obj = json.loads(kubectl("get", ref, "-o", "json").stdout)
        assert obj["apiVersion"] == api_version
        assert obj["metadata"]["uid"]
        assert obj["metadata"]["namespace"] == kubectl.namespace


def test_deprecated_versions_warn_as_upstream_does(kubectl132):
    out = kubectl132("create", "-f", str(BOOK / "kubia-replicaset.yaml"))
    assert "Warning: apps/v1beta2 ReplicaSet is deprecated" in out.stderr


def test_retired_replicaset_is_the_same_object_in_apps_v1(kubectl132):
    kubectl132("create", "-f", str(BOOK / "kubia-replicaset.yaml"))
    obj = json.loads(kubectl132("get", "replicasets.v1.apps/kubia", "-o", "json").stdout)
    assert obj["apiVersion"] == "apps/v1"
    assert obj["spec"]["selector"] == {"matchLabels": {"app": "kubia"}}
    assert obj["spec"]["replicas"] == 3


def test_retired_ingress_backend_reads_back_as_networking_v1(kubectl132):
    kubectl132("create", "-f", str(BOOK / "kubia-ingress.yaml"))
    obj = json.loads(kubectl132("get", "ingresses.v1.networking.k8s.io/kubia", "-o", "json").stdout)
    path = obj["spec"]["rules"][0]["http"]["paths"][0]
    assert path["backend"] == {"service": {"name": "kubia-nodeport", "port": {"number": 80}}}
    assert path["pathType"] == "ImplementationSpecific"
    old = json.loads(kubectl132("get", "ingresses.v1beta1.extensions/kubia", "-o", "json").stdout)
    assert old["spec"]["rules"][0]["http"]["paths"][0]["backend"] == {"serviceName": "kubia-nodeport", "servicePort": 80}


def test_cluster_scoped_book_objects(kubectl132):
    for manifest, ref in (("mongodb-pv-hostpath.yaml", "persistentvolume/mongodb-pv"), ("storageclass-fast-hostpath.yaml", "storageclass/fast")):
        kubectl132("create", "-f", str(BOOK / manifest))
        try:
            obj = json.loads(kubectl132("get", ref, "-o", "json").stdout)
            assert "namespace" not in obj["metadata"]
        finally:
            kubectl132("delete", ref)


def test_nodeport_service_keeps_the_requested_port_and_frees_it_on_delete(kubectl132):
    kubectl132("create", "-f", str(BOOK / "kubia-svc-nodeport.yaml"))
    svc = json.loads(kubectl132("get", "svc", "kubia-nodeport", "-o", "json").stdout)
    assert svc["spec"]["ports"][0]["nodePort"] == 30123
    assert svc["spec"]["clusterIP"].startswith("10.43.")
    kubectl132("delete", "svc", "kubia-nodeport")
    kubectl132("create", "-f", str(BOOK / "kubia-svc-nodeport.yaml"))
    kubectl132("delete", "svc", "kubia-nodeport")
