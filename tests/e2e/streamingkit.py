"""streamingkit: what the streaming end-to-end tests share: pods that are up, kubectl as a background process, the Python client."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import urllib.request
from pathlib import Path
from typing import Iterator

from kubernetes import client, config

from tests.conftest import Kubectl, free_port
from tests.e2e.conftest import EXAMPLE_IMAGE, Cluster, wait_for

IMAGE = EXAMPLE_IMAGE


def pod(kubectl: Kubectl, name: str) -> dict:
    result = kubectl("get", "pod", name, "-o", "json", check=False)
    return json.loads(result.stdout) if result.returncode == 0 else {}


def phase(kubectl: Kubectl, name: str) -> str:
    return str(pod(kubectl, name).get("status", {}).get("phase", ""))


def wait_running(kubectl: Kubectl, name: str, timeout: float = 60) -> None:
    wait_for(lambda: phase(kubectl, name) == "Running", timeout, f"pod {name} Running")


def wait_phase(kubectl: Kubectl, name: str, wanted: str, timeout: float = 60) -> None:
    wait_for(lambda: phase(kubectl, name) == wanted, timeout, f"pod {name} {wanted}")


def argv(kubectl: Kubectl, *args: str) -> list[str]:
    """The command line `kubectl(...)` runs, for starting kubectl in the background."""
    return [kubectl.binary, "--kubeconfig", str(kubectl.server.kubeconfig), "--cache-dir", str(kubectl.cache_dir),
            "-n", kubectl.namespace, *args]


def stop(proc: subprocess.Popen[bytes]) -> None:
    """End a kubectl we started, by its PID."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def port_forward(kubectl: Kubectl, target: str, remote: int, *, env: dict[str, str] | None = None,
                 log: Path | None = None) -> Iterator[tuple[int, Path]]:
    """`kubectl port-forward target LOCAL:remote` in the background: (local port, its output file)."""
    local = free_port()
    out = log or kubectl.cache_dir.parent / f"port-forward-{local}.log"
    with open(out, "wb") as sink:
        proc = subprocess.Popen(argv(kubectl, "port-forward", target, f"{local}:{remote}"), stdout=sink,
                                stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    try:
        wait_for(lambda: b"Forwarding from" in out.read_bytes() or proc.poll() is not None, 30,
                 "kubectl port-forward to listen")
        assert proc.poll() is None, out.read_text()
        yield local, out
    finally:
        stop(proc)


def fetch(port: int, path: str = "/") -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=20) as resp:
        return resp.read().decode()


def python_client(cluster: Cluster) -> client.CoreV1Api:
    """The official Python client, configured from the cluster's admin kubeconfig."""
    return client.CoreV1Api(config.new_client_from_config(config_file=str(cluster.server.kubeconfig)))


def http_server_pod(name: str, *, command: str = "httpd -f -p 8080 -h /www") -> str:
    return f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  containers:
  - name: web
    image: {IMAGE}
    command: ["sh", "-c", "{command}"]
"""


def eventually_logged(kubectl: Kubectl, name: str, text: str, *args: str) -> str:
    """Wait until the pod's log contains `text`; return the log."""
    def logged() -> str:
        out = kubectl("logs", name, *args, check=False).stdout
        return out if text in out else ""

    return str(wait_for(logged, 30, f"{text!r} in the log of {name}"))
