"""A watch-driven operator written with kopf runs against the server unchanged."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
import uuid

OPERATOR = textwrap.dedent(
    """
    import kopf

    @kopf.on.startup()
    def configure(settings, **_):
        settings.persistence.finalizer = "kyb.example.com/kopf-finalizer"
        settings.posting.enabled = True
        settings.watching.server_timeout = 10

    @kopf.on.create("configmaps", labels={"kopf-test": "yes"})
    def mirror(body, name, namespace, patch, **_):
        data = dict(body.get("data") or {})
        patch.setdefault("metadata", {}).setdefault("annotations", {})["kopf-test/seen"] = ",".join(sorted(data))
        return {"keys": len(data)}
    """
)


def test_kopf_operator_reacts_to_a_created_configmap(server, kubectl132, tmp_path):
    script = tmp_path / "operator.py"
    script.write_text(OPERATOR)
    log = open(tmp_path / "kopf.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kopf", "run", "--standalone", "--namespace", kubectl132.namespace, str(script)],
        env={"KUBECONFIG": str(server.kubeconfig), "PATH": "/usr/bin:/bin"},
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        time.sleep(3)
        name = f"op-{uuid.uuid4().hex[:6]}"
        kubectl132("create", "configmap", name, "--from-literal=b=2", "--from-literal=a=1")
        kubectl132("label", "configmap", name, "kopf-test=yes")
        kubectl132("create", "configmap", name + "-2", "--from-literal=z=1")
        kubectl132("label", "configmap", name + "-2", "kopf-test=yes")
        deadline = time.monotonic() + 30
        seen = None
        while time.monotonic() < deadline:
            obj = json.loads(kubectl132("get", "configmap", name + "-2", "-o", "json").stdout)
            seen = (obj["metadata"].get("annotations") or {}).get("kopf-test/seen")
            if seen:
                break
            time.sleep(0.5)
        assert seen == "z", (tmp_path / "kopf.log").read_text()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
