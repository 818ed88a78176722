"""`kubectl exec` and `kubectl cp` through the API server to the node agent, over WebSocket and SPDY."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from kubernetes.stream import stream

from tests.conftest import Kubectl
from tests.e2e.conftest import Cluster
from tests.e2e.streamingkit import IMAGE, argv, eventually_logged, python_client, wait_phase, wait_running


@pytest.fixture
def web(e2e_kubectl: Kubectl) -> Kubectl:
    e2e_kubectl("run", "web", f"--image={IMAGE}")
    wait_running(e2e_kubectl, "web")
    return e2e_kubectl


def test_exec_streams_output_and_passes_the_exit_code_on(web: Kubectl) -> None:
    ok = web("exec", "web", "--", "sh", "-c", "echo to-stdout; echo to-stderr >&2; id -u")
    assert ok.stdout == "to-stdout\n33\n"
    assert ok.stderr == "to-stderr\n"
    failed = web("exec", "web", "--", "sh", "-c", "echo partial; exit 7", check=False)
    assert failed.returncode == 7
    assert failed.stdout == "partial\n"
    assert "command terminated with exit code 7" in failed.stderr


def test_exec_feeds_stdin(web: Kubectl) -> None:
    result = web("exec", "-i", "web", "--", "sh", "-c", "tr a-z A-Z; echo done", input="some stdin data\n")
    assert result.stdout == "SOME STDIN DATA\ndone\n"
    # Without -i the command sees no input at all.
    assert web("exec", "web", "--", "cat", input="ignored\n").stdout == ""


def test_exec_with_a_terminal(web: Kubectl) -> None:
    if shutil.which("script") is None:
        pytest.skip("script(1) is needed to give kubectl a terminal")
    command = " ".join(argv(web, "exec", "-it", "web", "--", "sh"))
    result = subprocess.run(["script", "-qec", command, "/dev/null"], input=b"echo in-tty-$((6*7))\nexit 4\n",
                            capture_output=True, timeout=60)
    text = result.stdout.decode(errors="replace")
    assert "in-tty-42" in text
    assert "command terminated with exit code 4" in text
    assert result.returncode == 4


@pytest.mark.parametrize("version", ["1.32", "1.33"])
def test_exec_over_spdy_when_websockets_are_off(cluster: Cluster, tmp_path: Path, version: str) -> None:
    kubectl = cluster.kubectl(version, tmp_path)
    kubectl("run", "web", f"--image={IMAGE}")
    wait_running(kubectl, "web")
    env = {"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false"}
    assert kubectl("exec", "-i", "web", "--", "cat", input="over spdy\n", env=env).stdout == "over spdy\n"
    failed = kubectl("exec", "web", "--", "sh", "-c", "exit 3", env=env, check=False)
    assert failed.returncode == 3 and "command terminated with exit code 3" in failed.stderr


def test_cp_copies_both_ways(web: Kubectl, tmp_path: Path) -> None:
    local = tmp_path / "payload.bin"
    local.write_bytes(os.urandom(300_000))
    web("cp", str(local), "web:/tmp/payload.bin")
    assert web("exec", "web", "--", "ls", "-l", "/tmp/payload.bin").stdout.split()[4] == "300000"
    back = tmp_path / "back.bin"
    web("cp", "web:/tmp/payload.bin", str(back))
    assert back.read_bytes() == local.read_bytes()
    web("exec", "web", "--", "mkdir", "/tmp/dir")
    web("cp", str(local), "web:/tmp/dir")
    assert web("exec", "web", "--", "ls", "/tmp/dir").stdout == "payload.bin\n"


def test_exec_into_a_container_that_is_not_running_fails_clearly(e2e_kubectl: Kubectl) -> None:
    e2e_kubectl.apply_yaml(f"""
apiVersion: v1
kind: Pod
metadata: {{name: duo}}
spec:
  restartPolicy: Never
  containers:
  - {{name: stays, image: "{IMAGE}", command: ["sleep", "3600"]}}
  - {{name: gone, image: "{IMAGE}", command: ["sh", "-c", "echo bye"]}}
""")
    wait_running(e2e_kubectl, "duo")
    eventually_logged(e2e_kubectl, "duo", "bye", "-c", "gone")
    result = e2e_kubectl("exec", "duo", "-c", "gone", "--", "true", check=False)
    assert result.returncode != 0
    assert 'unable to upgrade connection: container not found ("gone")' in result.stderr
    unknown = e2e_kubectl("exec", "duo", "-c", "nope", "--", "true", check=False)
    assert unknown.returncode != 0 and "container nope is not valid for pod duo" in unknown.stderr
    e2e_kubectl("run", "finished", f"--image={IMAGE}", "--restart=Never", "--", "true")
    wait_phase(e2e_kubectl, "finished", "Succeeded")
    completed = e2e_kubectl("exec", "finished", "--", "true", check=False)
    assert completed.returncode != 0
    assert "cannot exec into a container in a completed pod; current phase is Succeeded" in completed.stderr


def test_containers_of_a_pod_share_localhost(e2e_kubectl132: Kubectl) -> None:
    e2e_kubectl132.apply_yaml(f"""
apiVersion: v1
kind: Pod
metadata: {{name: duo}}
spec:
  containers:
  - {{name: server, image: "{IMAGE}", command: ["httpd", "-f", "-p", "127.0.0.1:9090", "-h", "/www"]}}
  - {{name: client, image: "{IMAGE}", command: ["sleep", "3600"]}}
""")
    wait_running(e2e_kubectl132, "duo")
    page = e2e_kubectl132("exec", "duo", "-c", "client", "--", "wget", "-qO-", "http://127.0.0.1:9090/").stdout
    assert "<title>busybox-httpd</title>" in page


def test_the_python_client_execs_over_websocket(cluster: Cluster, e2e_kubectl132: Kubectl) -> None:
    e2e_kubectl132("run", "web", f"--image={IMAGE}")
    wait_running(e2e_kubectl132, "web")
    core = python_client(cluster)
    ns = e2e_kubectl132.namespace
    out = stream(core.connect_get_namespaced_pod_exec, "web", ns, command=["sh", "-c", "echo hello py"],
                 stderr=True, stdin=False, stdout=True, tty=False)
    assert out == "hello py\n"
    resp = stream(core.connect_get_namespaced_pod_exec, "web", ns, command=["sh", "-c", "cat; exit 5"],
                  stderr=True, stdin=True, stdout=True, tty=False, _preload_content=False)
    resp.write_stdin("from python\n")
    resp.close_channel(0)
    resp.run_forever(timeout=30)
    assert resp.read_stdout() == "from python\n"
    assert resp.returncode == 5
