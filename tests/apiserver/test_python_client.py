"""The official Python client does CRUD and watch on pods and services."""

from __future__ import annotations

import threading
import uuid

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException


@pytest.fixture
def core(server):
    api_client = config.new_client_from_config(config_file=str(server.kubeconfig))
    core = client.CoreV1Api(api_client)
    ns = f"py-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
    core.test_namespace = ns  # type: ignore[attr-defined]
    return core


def test_pod_crud(core):
    ns = core.test_namespace
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name="py-pod", labels={"app": "py"}),
        spec=client.V1PodSpec(containers=[client.V1Container(name="main", image="busybox")]),
    )
    created = core.create_namespaced_pod(ns, pod)
    assert created.metadata.uid and created.status.phase == "Pending"
    assert created.spec.restart_policy == "Always"
    got = core.read_namespaced_pod("py-pod", ns)
    assert got.metadata.resource_version == created.metadata.resource_version
    listed = core.list_namespaced_pod(ns, label_selector="app=py")
    assert [p.metadata.name for p in listed.items] == ["py-pod"]
    patched = core.patch_namespaced_pod("py-pod", ns, {"metadata": {"labels": {"extra": "yes"}}})
    assert patched.metadata.labels == {"app": "py", "extra": "yes"}
    core.delete_namespaced_pod("py-pod", ns)
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_pod("py-pod", ns)
    assert exc.value.status == 404


def test_service_crud_allocates_a_cluster_ip(core):
    ns = core.test_namespace
    svc = client.V1Service(
        metadata=client.V1ObjectMeta(name="py-svc"),
        spec=client.V1ServiceSpec(selector={"app": "py"}, ports=[client.V1ServicePort(port=80, target_port=8080)]),
    )
    created = core.create_namespaced_service(ns, svc)
    assert created.spec.cluster_ip.startswith("10.43.")
    assert created.spec.type == "ClusterIP"
    assert created.spec.ports[0].protocol == "TCP"
    created.spec.ports[0].port = 81
    replaced = core.replace_namespaced_service("py-svc", ns, created)
    assert replaced.spec.ports[0].port == 81
    assert replaced.spec.cluster_ip == created.spec.cluster_ip
    core.delete_namespaced_service("py-svc", ns)
    assert core.list_namespaced_service(ns).items == []


def _watch_three_events(core, list_fn, create, patch, delete, name: str) -> list[tuple[str, str]]:
    """Stream `list_fn` while the object is created, patched and deleted; return (type, name) pairs."""
    import time

    ns = core.test_namespace
    events: list[tuple[str, str]] = []
    w = watch.Watch()

    def run() -> None:
        for event in w.stream(list_fn, ns, timeout_seconds=5):
            events.append((event["type"], event["object"].metadata.name))
            if event["type"] == "DELETED":
                w.stop()

    t = threading.Thread(target=run)
    t.start()
    time.sleep(0.5)
    create(ns)
    patch(name, ns, {"metadata": {"labels": {"x": "y"}}})
    delete(name, ns)
    t.join(10)
    return events


def test_watch_sees_added_modified_deleted(core):
    pod = client.V1Pod(metadata=client.V1ObjectMeta(name="watched"), spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox")]))
    events = _watch_three_events(
        core, core.list_namespaced_pod, lambda ns: core.create_namespaced_pod(ns, pod),
        core.patch_namespaced_pod, core.delete_namespaced_pod, "watched",
    )
    assert events == [("ADDED", "watched"), ("MODIFIED", "watched"), ("DELETED", "watched")]


def test_version_and_discovery(server):
    api_client = config.new_client_from_config(config_file=str(server.kubeconfig))
    info = client.VersionApi(api_client).get_code()
    assert info.major == "1"
    groups = client.ApisApi(api_client).get_api_versions()
    assert "apps" in {g.name for g in groups.groups}
    resources = client.CoreV1Api(api_client).get_api_resources()
    assert "pods" in {r.name for r in resources.resources}


def test_watch_services_sees_added_modified_deleted(core):
    svc = client.V1Service(metadata=client.V1ObjectMeta(name="wsvc"), spec=client.V1ServiceSpec(ports=[client.V1ServicePort(port=80)]))
    events = _watch_three_events(
        core, core.list_namespaced_service, lambda ns: core.create_namespaced_service(ns, svc),
        core.patch_namespaced_service, core.delete_namespaced_service, "wsvc",
    )
    assert events == [("ADDED", "wsvc"), ("MODIFIED", "wsvc"), ("DELETED", "wsvc")]


def test_api_errors_reach_the_client_as_api_exceptions(core):
    ns = core.test_namespace
    bad = client.V1Pod(metadata=client.V1ObjectMeta(name="Bad_Name"), spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="x")]))
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_pod(ns, bad)
    assert exc.value.status == 422
    import json

    body = json.loads(exc.value.body)
    assert body["reason"] == "Invalid" and body["details"]["causes"][0]["field"] == "metadata.name"
