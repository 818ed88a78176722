"""The real kubectl binaries read our OpenAPI documents: explain, validation and apply patches."""

# Driven against the throwaway server in openapi_fake_apiserver.py; skipped when a binary is missing.

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from kybernetes.api.openapi import definitions
from tests.api.openapi.openapi_fake_apiserver import FakeServer, serve

BIN = Path("/usr/lib/google-cloud-sdk/bin")
ALL_VERSIONS = ("1.27", "1.28", "1.29", "1.30", "1.31", "1.32", "1.33")
MAIN_VERSIONS = ("1.27", "1.32", "1.33")


def _binary(version: str) -> Path:
    path = BIN / f"kubectl.{version}"
    if not path.exists():
        pytest.skip(f"{path} not installed")
    return path


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[tuple[FakeServer, Path]]:
    with serve() as server:
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(
            "apiVersion: v1\nkind: Config\n"
            f"clusters: [{{name: fake, cluster: {{server: '{server.url}'}}}}]\n"
            "contexts: [{name: fake, context: {cluster: fake, user: nobody, namespace: default}}]\n"
            "users: [{name: nobody, user: {}}]\n"
            "current-context: fake\n")
        yield server, kubeconfig


def kubectl(fake: tuple[FakeServer, Path], version: str, *args: str,
            cache_dir: str | None = None) -> subprocess.CompletedProcess[str]:
    _, kubeconfig = fake
    cache = cache_dir or tempfile.mkdtemp(prefix="kubectl-cache-")
    return subprocess.run([str(_binary(version)), "--kubeconfig", str(kubeconfig), "--cache-dir", cache, *args],
                          capture_output=True, text=True, timeout=60)


def explain(fake, version: str, *args: str) -> str:
    out = kubectl(fake, version, "explain", *args)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_explain_lists_every_container_field_with_its_type(fake, version):
    text = explain(fake, version, "pod.spec.containers")
    assert "FIELD: containers <[]Container>" in text
    for line in ("image\t<string>", "ports\t<[]ContainerPort>", "name\t<string> -required-",
                 "env\t<[]EnvVar>", "resources\t<ResourceRequirements>", "stdin\t<boolean>",
                 "args\t<[]string>"):
        assert line in text
    for field in definitions()["io.k8s.api.core.v1.Container"]["properties"]:
        assert f"  {field}\t<" in text


@pytest.mark.parametrize("version", MAIN_VERSIONS)
def test_explain_deployment_spec(fake, version):
    text = explain(fake, version, "deployment.spec", "--api-version=apps/v1")
    assert "GROUP:      apps" in text and "VERSION:    v1" in text
    for line in ("replicas\t<integer>", "selector\t<LabelSelector> -required-",
                 "template\t<PodTemplateSpec> -required-", "strategy\t<DeploymentStrategy>"):
        assert line in text


@pytest.mark.parametrize("version", MAIN_VERSIONS)
def test_explain_a_retired_version(fake, version):
    text = explain(fake, version, "ingress", "--api-version=extensions/v1beta1")
    assert "GROUP:      extensions" in text and "VERSION:    v1beta1" in text
    assert "spec\t<IngressSpec>" in text
    backend = explain(fake, version, "ingress.spec.backend", "--api-version=extensions/v1beta1")
    for line in ("serviceName\t<string>", "servicePort\t<IntOrString>", "resource\t<TypedLocalObjectReference>"):
        assert line in backend
    assert "backend\t<IngressBackend>" in explain(fake, version, "ingress.spec", "--api-version=extensions/v1beta1")
    assert "jobTemplate\t<JobTemplateSpec> -required-" in explain(
        fake, version, "cronjob.spec", "--api-version=batch/v1beta1")
    assert "VERSION:    v1beta2" in explain(fake, version, "deployment", "--api-version=apps/v1beta2")


@pytest.mark.parametrize("version", MAIN_VERSIONS)
def test_explain_cronjob_job_template(fake, version):
    text = explain(fake, version, "cronjob.spec.jobTemplate")
    assert "FIELD: jobTemplate <JobTemplateSpec>" in text
    assert "spec\t<JobSpec>" in text and "metadata\t<ObjectMeta>" in text


@pytest.mark.parametrize("version", MAIN_VERSIONS)
def test_explain_pods_recursive(fake, version):
    text = explain(fake, version, "pods", "--recursive")
    assert "KIND:       Pod" in text
    for line in ("containers\t<[]Container> -required-", "containerPort\t<integer> -required-",
                 "port\t<IntOrString> -required-", "limits\t<map[string]Quantity>", "podIP\t<string>"):
        assert line in text


POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "typo", "namespace": "default"},
       "spec": {"containers": [{"name": "c", "image": "nginx", "imagePullPolicyy": "Always"}]}}


@pytest.mark.parametrize("version", MAIN_VERSIONS)
def test_create_leaves_validation_to_the_server(fake, version, tmp_path):
    server, _ = fake
    manifest = tmp_path / "pod.json"
    manifest.write_text(json.dumps(POD))
    out = kubectl(fake, version, "create", "-f", str(manifest))
    assert out.returncode == 0, out.stderr
    posts = [r for r in server.requests if r["method"] == "POST"]
    assert len(posts) == 1
    assert posts[0]["query"]["fieldValidation"] == "Strict"
    # No client-side schema check dropped or rejected the typo: the server must judge it.
    assert json.loads(posts[0]["body"])["spec"]["containers"][0]["imagePullPolicyy"] == "Always"
    v2 = [r for r in server.requests if r["path"] == "/openapi/v2"]
    if version in ("1.27", "1.28"):
        assert v2  # fetched first, and our empty protobuf answer was accepted
    assert any(r["path"].startswith("/openapi/v3/api/v1") for r in server.requests)


DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web", "tier": "front"},
                 "annotations": {"note": "x"}, "finalizers": ["example.com/a", "example.com/b"]},
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "web"}},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
            "containers": [
                {"name": "nginx", "image": "nginx:1.25", "args": ["-a", "-b"],
                 "ports": [{"containerPort": 80}, {"containerPort": 443}],
                 "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                 "volumeMounts": [{"name": "data", "mountPath": "/data"}]},
                {"name": "side", "image": "busybox"}],
            "volumes": [{"name": "data", "emptyDir": {}}],
            "tolerations": [{"key": "a", "operator": "Exists"}]}}},
}


def _changed() -> dict:
    d = json.loads(json.dumps(DEPLOYMENT))
    d["metadata"]["labels"].pop("tier")
    d["metadata"]["annotations"].pop("note")
    d["metadata"]["finalizers"] = ["example.com/a"]
    d["spec"]["replicas"] = 3
    d["spec"]["strategy"] = {"type": "Recreate"}
    pod = d["spec"]["template"]["spec"]
    pod["containers"] = [{"name": "nginx", "image": "nginx:1.26", "args": ["-a"],
                          "ports": [{"containerPort": 8080}, {"containerPort": 80}],
                          "env": [{"name": "C", "value": "3"}, {"name": "A", "value": "1"}]}]
    pod["volumes"] = [{"name": "data", "hostPath": {"path": "/tmp"}}]
    pod["tolerations"] = [{"key": "b", "operator": "Exists"}]
    return d


def _apply_patch(fake, version: str, tmp_path: Path) -> dict:
    server, _ = fake
    server.objects.clear()
    server.requests.clear()
    cache = tempfile.mkdtemp(prefix="kubectl-cache-")
    first, second = tmp_path / f"a-{version}.json", tmp_path / f"b-{version}.json"
    first.write_text(json.dumps(DEPLOYMENT))
    second.write_text(json.dumps(_changed()))
    for manifest in (first, second):
        out = kubectl(fake, version, "apply", "-f", str(manifest), cache_dir=cache)
        assert out.returncode == 0, out.stderr
        assert "warning" not in out.stderr.lower(), out.stderr
    patches = [r for r in server.requests if r["method"] == "PATCH"]
    assert len(patches) == 1
    assert patches[0]["headers"]["Content-Type"] == "application/strategic-merge-patch+json"
    patch = json.loads(patches[0]["body"])
    patch["metadata"]["annotations"].pop("kubectl.kubernetes.io/last-applied-configuration")
    return patch


@pytest.mark.parametrize("version", ("1.29", "1.31", "1.33"))
def test_apply_patches_from_our_v3_schemas_equal_kubectls_compiled_in_ones(fake, version, tmp_path):
    # kubectl 1.27 fetches the (empty) v2 document and uses its compiled-in Go types; from 1.29
    # kubectl computes the strategic merge patch from our v3 patch metadata instead.
    builtin = _apply_patch(fake, "1.27", tmp_path)
    ours = _apply_patch(fake, version, tmp_path)
    assert ours == builtin
    containers = ours["spec"]["template"]["spec"]
    assert containers["$setElementOrder/containers"] == [{"name": "nginx"}]
    assert {"$patch": "delete", "name": "side"} in containers["containers"]
    assert ours["spec"]["strategy"]["$retainKeys"] == ["type"]
    assert containers["volumes"][0]["$retainKeys"] == ["hostPath", "name"]
    assert ours["metadata"]["$deleteFromPrimitiveList/finalizers"] == ["example.com/b"]
    requested = {r["path"] for r in fake[0].requests}
    assert "/openapi/v2" not in requested  # v3 answered everything
