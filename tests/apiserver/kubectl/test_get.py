"""`kubectl get` in every output format, with selectors, sorting and watch, across kubectl versions."""

from __future__ import annotations

import json
import subprocess
import time

import yaml

POD = """
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels: {labels}
spec:
  containers:
  - name: main
    image: busybox:1.36
"""


def make_pods(kubectl, specs):
    docs = "---".join(POD.format(name=name, labels=json.dumps(labels)) for name, labels in specs)
    kubectl("create", "-f", "-", input=docs)


def names(out: str) -> list[str]:
    return [line.split()[0] for line in out.strip().splitlines()[1:]]


def test_get_pods_prints_upstream_columns(kubectl):
    make_pods(kubectl, [("web", {"app": "web"})])
    out = kubectl("get", "pods").stdout
    header = out.splitlines()[0].split()
    assert header == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert out.splitlines()[1].split()[:4] == ["web", "0/1", "Pending", "0"]
    wide = kubectl("get", "pods", "-o", "wide").stdout.splitlines()[0]
    for col in ("IP", "NODE", "NOMINATED NODE", "READINESS GATES"):
        assert col in wide


def test_get_single_object_and_missing_object(kubectl):
    make_pods(kubectl, [("one", {})])
    assert names(kubectl("get", "pod", "one").stdout) == ["one"]
    missing = kubectl("get", "pod", "nope", check=False)
    assert missing.returncode == 1
    assert 'Error from server (NotFound): pods "nope" not found' in missing.stderr


def test_output_formats(kubectl):
    make_pods(kubectl, [("fmt", {"app": "fmt"})])
    as_yaml = yaml.safe_load(kubectl("get", "pod", "fmt", "-o", "yaml").stdout)
    assert as_yaml["kind"] == "Pod" and as_yaml["apiVersion"] == "v1"
    assert as_yaml["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    assert as_yaml["spec"]["restartPolicy"] == "Always"
    as_json = json.loads(kubectl("get", "pods", "-o", "json").stdout)
    assert as_json["kind"] == "List" and len(as_json["items"]) == 1
    assert kubectl("get", "pods", "-o", "name").stdout.strip() == "pod/fmt"
    assert kubectl("get", "pod", "fmt", "-o", "jsonpath={.metadata.labels.app}").stdout == "fmt"
    cc = kubectl("get", "pods", "-o", "custom-columns=N:.metadata.name,IMG:.spec.containers[0].image").stdout
    assert cc.split() == ["N", "IMG", "fmt", "busybox:1.36"]


def test_label_selectors_with_every_operator(kubectl):
    make_pods(kubectl, [("a", {"app": "web", "tier": "fe"}), ("b", {"app": "web", "tier": "db"}), ("c", {"app": "db"}), ("d", {})])
    cases = {
        "app=web": ["a", "b"],
        "app==web": ["a", "b"],
        "app!=web": ["c", "d"],
        "tier in (fe,xx)": ["a"],
        "tier notin (fe)": ["b", "c", "d"],
        "tier": ["a", "b"],
        "!tier": ["c", "d"],
        "app=web,tier!=db": ["a"],
    }
    for selector, expected in cases.items():
        assert names(kubectl("get", "pods", "-l", selector).stdout) == expected, selector


def test_show_labels_and_label_columns(kubectl):
    make_pods(kubectl, [("lab", {"app": "web", "env": "prod"})])
    out = kubectl("get", "pods", "--show-labels").stdout
    assert out.splitlines()[0].split()[-1] == "LABELS"
    assert "app=web,env=prod" in out
    out = kubectl("get", "pods", "-L", "env,app").stdout
    assert out.splitlines()[0].split()[-2:] == ["ENV", "APP"]
    assert out.splitlines()[1].split()[-2:] == ["prod", "web"]


def test_field_selectors(kubectl):
    make_pods(kubectl, [("f1", {}), ("f2", {})])
    assert names(kubectl("get", "pods", "--field-selector", "metadata.name=f2").stdout) == ["f2"]
    assert names(kubectl("get", "pods", "--field-selector", "status.phase=Pending,metadata.name!=f2").stdout) == ["f1"]
    bad = kubectl("get", "pods", "--field-selector", "spec.bogus=x", check=False)
    assert bad.returncode == 1 and "field label not supported: spec.bogus" in bad.stderr


def test_sort_by_and_chunking(kubectl):
    make_pods(kubectl, [("zz", {}), ("aa", {}), ("mm", {})])
    out = kubectl("get", "pods", "--sort-by=.metadata.name").stdout
    assert names(out) == ["aa", "mm", "zz"]
    out = kubectl("get", "pods", "--chunk-size=1").stdout
    assert names(out) == ["aa", "mm", "zz"]


def test_get_all_namespaces_shows_namespace_column(kubectl):
    make_pods(kubectl, [("everywhere", {})])
    out = kubectl("get", "pods", "-A", namespaced=False).stdout
    assert out.splitlines()[0].split()[0] == "NAMESPACE"
    assert any(line.split()[:2] == [kubectl.namespace, "everywhere"] for line in out.splitlines())


def test_get_watch_prints_changes_until_the_stream_ends(kubectl, server):
    make_pods(kubectl, [("watched", {"v": "1"})])
    cmd = [kubectl.binary, "--kubeconfig", str(server.kubeconfig), "--cache-dir", str(kubectl.cache_dir), "-n", kubectl.namespace,
           "get", "pods", "-w", "--request-timeout=4s"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    kubectl("label", "pod", "watched", "v=2", "--overwrite")
    kubectl("delete", "pod", "watched", "--wait=false")
    out, _ = proc.communicate(timeout=15)
    lines = [l for l in out.splitlines() if l.startswith("watched")]
    assert len(lines) >= 3, out


def test_get_kinds_together_uses_qualified_names(kubectl):
    kubectl("create", "configmap", "cm1", "--from-literal=a=b")
    kubectl("create", "deployment", "web", "--image=nginx")
    out = kubectl("get", "deploy,cm", "-o", "name").stdout.split()
    assert "deployment.apps/web" in out and "configmap/cm1" in out
