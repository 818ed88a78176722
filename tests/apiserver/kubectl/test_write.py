"""Writes through the real kubectl: create, apply (client and server side), replace, edit, label, annotate, patch, scale, delete."""

from __future__ import annotations

import json
import os
import stat
import textwrap

DEPLOY = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {{app: web}}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
      - name: nginx
        image: {image}
        ports:
        - containerPort: 80
"""


def get(kubectl, *ref):
    return json.loads(kubectl("get", *ref, "-o", "json").stdout)


def test_apply_creates_configures_and_leaves_unchanged(kubectl):
    out = kubectl.apply_yaml(DEPLOY.format(replicas=2, image="nginx:1.25")).stdout
    assert "deployment.apps/web created" in out
    obj = get(kubectl, "deploy", "web")
    assert "kubectl.kubernetes.io/last-applied-configuration" in obj["metadata"]["annotations"]
    assert obj["metadata"]["generation"] == 1
    out = kubectl.apply_yaml(DEPLOY.format(replicas=3, image="nginx:1.26")).stdout
    assert "deployment.apps/web configured" in out
    obj = get(kubectl, "deploy", "web")
    assert obj["spec"]["replicas"] == 3
    assert obj["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26"
    assert obj["metadata"]["generation"] == 2
    out = kubectl.apply_yaml(DEPLOY.format(replicas=3, image="nginx:1.26")).stdout
    assert "deployment.apps/web unchanged" in out


def test_server_side_apply_creates_then_updates_and_reports_conflicts(kubectl):
    out = kubectl("apply", "--server-side", "-f", "-", input=DEPLOY.format(replicas=1, image="nginx")).stdout
    assert "serverside-applied" in out
    obj = json.loads(kubectl("get", "deploy", "web", "-o", "json", "--show-managed-fields").stdout)
    managers = {m["manager"]: m["operation"] for m in obj["metadata"]["managedFields"]}
    assert managers.get("kubectl") == "Apply"
    kubectl("scale", "deploy", "web", "--replicas=5")
    conflict = kubectl("apply", "--server-side", "-f", "-", input=DEPLOY.format(replicas=2, image="nginx"), check=False)
    assert conflict.returncode == 1
    assert "conflict" in conflict.stderr.lower() and ".spec.replicas" in conflict.stderr
    kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=DEPLOY.format(replicas=2, image="nginx"))
    assert get(kubectl, "deploy", "web")["spec"]["replicas"] == 2


def test_replace_uses_optimistic_concurrency(kubectl):
    kubectl("create", "configmap", "conf", "--from-literal=k=v1")
    obj = get(kubectl, "cm", "conf")
    obj["data"]["k"] = "v2"
    kubectl("replace", "-f", "-", input=json.dumps(obj))
    assert get(kubectl, "cm", "conf")["data"]["k"] == "v2"
    obj["data"]["k"] = "v3"  # still carries the old resourceVersion
    stale = kubectl("replace", "-f", "-", input=json.dumps(obj), check=False)
    assert stale.returncode == 1
    assert "Operation cannot be fulfilled on configmaps \"conf\": the object has been modified" in stale.stderr


def test_label_annotate_and_remove(kubectl):
    kubectl("create", "configmap", "lbl")
    kubectl("label", "cm", "lbl", "env=prod", "tier=fe")
    kubectl("annotate", "cm", "lbl", "note=hello")
    obj = get(kubectl, "cm", "lbl")
    assert obj["metadata"]["labels"] == {"env": "prod", "tier": "fe"}
    assert obj["metadata"]["annotations"]["note"] == "hello"
    overwrite = kubectl("label", "cm", "lbl", "env=dev", check=False)
    assert overwrite.returncode == 1 and "already has a value" in overwrite.stderr
    kubectl("label", "cm", "lbl", "env-")
    assert get(kubectl, "cm", "lbl")["metadata"]["labels"] == {"tier": "fe"}


def test_patch_every_type(kubectl):
    kubectl.apply_yaml(DEPLOY.format(replicas=1, image="nginx"))
    kubectl("patch", "deploy", "web", "--type=merge", "-p", '{"spec":{"replicas":2}}')
    kubectl("patch", "deploy", "web", "--type=json", "-p", '[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"nginx:2"}]')
    kubectl("patch", "deploy", "web", "-p", '{"spec":{"template":{"spec":{"containers":[{"name":"side","image":"busybox"}]}}}}')
    obj = get(kubectl, "deploy", "web")
    assert obj["spec"]["replicas"] == 2
    # Without $setElementOrder upstream puts a new keyed element before the existing ones.
    assert [c["name"] for c in obj["spec"]["template"]["spec"]["containers"]] == ["side", "nginx"]
    assert obj["spec"]["template"]["spec"]["containers"][1]["image"] == "nginx:2"
    bad = kubectl("patch", "deploy", "web", "--type=json", "-p", '[{"op":"remove","path":"/spec/nothing"}]', check=False)
    assert bad.returncode == 1


def test_scale_deployment_and_replication_controller(kubectl):
    kubectl.apply_yaml(DEPLOY.format(replicas=1, image="nginx"))
    assert "scaled" in kubectl("scale", "deploy", "web", "--replicas=4").stdout
    assert get(kubectl, "deploy", "web")["spec"]["replicas"] == 4
    kubectl("scale", "deploy", "web", "--current-replicas=4", "--replicas=2")
    assert get(kubectl, "deploy", "web")["spec"]["replicas"] == 2


def test_edit_with_an_editor_script(kubectl, tmp_path):
    kubectl("create", "configmap", "editme", "--from-literal=k=old")
    editor = tmp_path / "editor.sh"
    editor.write_text(textwrap.dedent("""\
        #!/bin/sh
        sed -i 's/k: old/k: new/' "$1"
    """))
    editor.chmod(editor.stat().st_mode | stat.S_IEXEC)
    out = kubectl("edit", "cm", "editme", env={"EDITOR": str(editor), "KUBE_EDITOR": str(editor)}).stdout
    assert "edited" in out
    assert get(kubectl, "cm", "editme")["data"]["k"] == "new"


def test_describe_shows_the_object(kubectl):
    kubectl("create", "configmap", "desc", "--from-literal=key1=value1")
    out = kubectl("describe", "cm", "desc").stdout
    assert "Name:" in out and "desc" in out and "key1" in out and "value1" in out
    kubectl.apply_yaml(DEPLOY.format(replicas=1, image="nginx"))
    out = kubectl("describe", "deploy", "web").stdout
    assert "Replicas:" in out and "nginx" in out


def test_delete_with_every_propagation_policy_waits_for_deletion(kubectl):
    for i, cascade in enumerate(("background", "foreground", "orphan")):
        name = f"owner{i}"
        kubectl("create", "configmap", name)
        owner = get(kubectl, "cm", name)
        dependent = {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": f"dep{i}", "ownerReferences": [
                {"apiVersion": "v1", "kind": "ConfigMap", "name": name, "uid": owner["metadata"]["uid"], "blockOwnerDeletion": True}]},
        }
        kubectl("create", "-f", "-", input=json.dumps(dependent))
        out = kubectl("delete", "cm", name, f"--cascade={cascade}", "--timeout=30s")
        assert f'configmap "{name}" deleted' in out.stdout
        assert kubectl("get", "cm", name, check=False).returncode == 1
        dep = kubectl("get", "cm", f"dep{i}", "-o", "json", check=False)
        if cascade == "orphan":
            assert dep.returncode == 0
            assert not json.loads(dep.stdout)["metadata"].get("ownerReferences")
        elif cascade == "foreground":
            assert dep.returncode == 1


def test_create_from_generators(kubectl):
    """kubectl ≥ 1.32 sends these as protobuf; older versions as JSON."""
    kubectl("create", "configmap", "gen-cm", "--from-literal=a=1", "--from-literal=b=2")
    kubectl("create", "secret", "generic", "gen-secret", "--from-literal=password=s3cr3t")
    kubectl("create", "deployment", "gen-deploy", "--image=nginx", "--replicas=3", "--port=8080")
    kubectl("create", "service", "nodeport", "gen-svc", "--tcp=80:8080")
    kubectl("create", "job", "gen-job", "--image=busybox", "--", "echo", "hi")
    kubectl("create", "cronjob", "gen-cj", "--image=busybox", "--schedule=*/5 * * * *", "--", "date")
    kubectl("create", "serviceaccount", "gen-sa")
    kubectl("create", "ingress", "gen-ing", "--class=nginx", "--rule=foo.com/*=gen-svc:80")
    assert get(kubectl, "cm", "gen-cm")["data"] == {"a": "1", "b": "2"}
    assert get(kubectl, "secret", "gen-secret")["data"] == {"password": "czNjcjN0"}
    deploy = get(kubectl, "deploy", "gen-deploy")
    assert deploy["spec"]["replicas"] == 3
    assert deploy["spec"]["template"]["spec"]["containers"][0]["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
    svc = get(kubectl, "svc", "gen-svc")
    assert 30000 <= svc["spec"]["ports"][0]["nodePort"] <= 32767
    job = get(kubectl, "job", "gen-job")
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["echo", "hi"]
    ing = get(kubectl, "ingress", "gen-ing")
    assert ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == "gen-svc"


def test_explain_shows_fields_and_types(kubectl):
    out = kubectl("explain", "pod.spec.containers", namespaced=False).stdout
    assert "image" in out and "<string>" in out
    assert "ports" in out and "ContainerPort" in out
    out = kubectl("explain", "deployment.spec.replicas", namespaced=False).stdout
    assert "<integer>" in out


def test_dry_run_server_persists_nothing(kubectl):
    out = kubectl("create", "configmap", "dry", "--dry-run=server", "-o", "json").stdout
    assert json.loads(out)["metadata"]["name"] == "dry"
    assert kubectl("get", "cm", "dry", check=False).returncode == 1


def test_delete_namespace_removes_its_objects(kubectl, tmp_path):
    ns = kubectl.namespace + "-gone"
    kubectl("create", "namespace", ns, namespaced=False)
    kubectl("create", "configmap", "inside", "-n", ns, namespaced=False)
    out = kubectl("delete", "namespace", ns, "--timeout=60s", namespaced=False)
    assert f'namespace "{ns}" deleted' in out.stdout
    assert kubectl("get", "namespace", ns, check=False, namespaced=False).returncode == 1
