"""`kubectl logs` through the API server to the node agent: every flag, finished containers, upstream's errors."""

from __future__ import annotations

import datetime as dt
import re
import subprocess

import pytest
from kubernetes.client.exceptions import ApiException

from tests.conftest import Kubectl
from tests.e2e.conftest import Cluster, wait_for
from tests.e2e.streamingkit import IMAGE, argv, eventually_logged, pod, python_client, stop, wait_phase, wait_running

CHATTY = f"""
apiVersion: v1
kind: Pod
metadata: {{name: chatty}}
spec:
  containers:
  - name: talk
    image: {IMAGE}
    command: ["sh", "-c", "for i in 1 2 3 4 5; do echo line $i; done; echo oops >&2; exec sleep 3600"]
"""

TIMESTAMPED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z line 5$")


def test_logs_flags_select_and_shape_the_output(e2e_kubectl: Kubectl) -> None:
    e2e_kubectl.apply_yaml(CHATTY)
    wait_running(e2e_kubectl, "chatty")
    full = eventually_logged(e2e_kubectl, "chatty", "oops")
    assert full.splitlines() == ["line 1", "line 2", "line 3", "line 4", "line 5", "oops"]
    assert e2e_kubectl("logs", "chatty", "--tail=2").stdout.splitlines() == ["line 5", "oops"]
    assert e2e_kubectl("logs", "chatty", "--tail=0").stdout == ""
    assert e2e_kubectl("logs", "chatty", "--limit-bytes=8").stdout == "line 1\nl"
    assert e2e_kubectl("logs", "chatty", "-c", "talk", "--since=1h").stdout == full
    stamped = e2e_kubectl("logs", "chatty", "--timestamps", "--tail=2").stdout.splitlines()
    assert TIMESTAMPED.match(stamped[0]), stamped
    # --since-time after the lines were written: nothing; before: everything.
    later = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    earlier = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert e2e_kubectl("logs", "chatty", f"--since-time={later}").stdout == ""
    assert e2e_kubectl("logs", "chatty", f"--since-time={earlier}").stdout == full


def test_logs_follow_streams_new_lines_and_ends_with_the_container(e2e_kubectl: Kubectl) -> None:
    e2e_kubectl("run", "ticker", f"--image={IMAGE}", "--restart=Never", "--",
                "sh", "-c", "for i in 1 2 3; do echo tick $i; sleep 1; done")
    wait_running(e2e_kubectl, "ticker")
    proc = subprocess.Popen(argv(e2e_kubectl, "logs", "-f", "ticker"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        stop(proc)
    assert proc.returncode == 0, err
    assert out.decode().splitlines() == ["tick 1", "tick 2", "tick 3"]


def test_logs_of_finished_containers_completed_and_crashed(e2e_kubectl: Kubectl) -> None:
    e2e_kubectl("run", "done", f"--image={IMAGE}", "--restart=Never", "--", "sh", "-c", "echo all done")
    e2e_kubectl("run", "broken", f"--image={IMAGE}", "--restart=Never", "--", "sh", "-c", "echo about to fail >&2; exit 3")
    wait_phase(e2e_kubectl, "done", "Succeeded")
    wait_phase(e2e_kubectl, "broken", "Failed")
    assert e2e_kubectl("logs", "done").stdout == "all done\n"
    assert e2e_kubectl("logs", "broken").stdout == "about to fail\n"


def test_logs_previous_shows_the_run_before_the_restart(e2e_kubectl132: Kubectl) -> None:
    # /dev/shm belongs to the pod, so it outlives the first run: the second run knows it is one.
    e2e_kubectl132("run", "twice", f"--image={IMAGE}", "--", "sh", "-c",
                   "if [ -f /dev/shm/ran ]; then echo second run; exec sleep 3600; fi; "
                   "touch /dev/shm/ran; echo first run; exit 1")
    eventually_logged(e2e_kubectl132, "twice", "second run")
    assert e2e_kubectl132("logs", "twice").stdout == "second run\n"
    assert e2e_kubectl132("logs", "twice", "-p").stdout == "first run\n"
    assert e2e_kubectl132("logs", "twice", "--previous", "--timestamps").stdout.endswith(" first run\n")


def test_logs_of_several_containers(e2e_kubectl: Kubectl) -> None:
    e2e_kubectl.apply_yaml(f"""
apiVersion: v1
kind: Pod
metadata: {{name: pair}}
spec:
  containers:
  - {{name: one, image: "{IMAGE}", command: ["sh", "-c", "echo from one; exec sleep 3600"]}}
  - {{name: two, image: "{IMAGE}", command: ["sh", "-c", "echo from two; exec sleep 3600"]}}
""")
    wait_running(e2e_kubectl, "pair")
    eventually_logged(e2e_kubectl, "pair", "from two", "-c", "two")
    assert e2e_kubectl("logs", "pair", "-c", "one").stdout == "from one\n"
    # Without -c kubectl picks the first container itself and says so.
    default = e2e_kubectl("logs", "pair")
    assert default.stdout == "from one\n" and 'Defaulted container "one"' in default.stderr
    everything = e2e_kubectl("logs", "pair", "--all-containers").stdout
    assert sorted(everything.splitlines()) == ["from one", "from two"]


def test_log_errors_read_as_upstreams(e2e_kubectl: Kubectl) -> None:
    e2e_kubectl.apply_yaml(CHATTY)
    e2e_kubectl.apply_yaml(f"""
apiVersion: v1
kind: Pod
metadata: {{name: later}}
spec:
  initContainers:
  - {{name: wait, image: "{IMAGE}", command: ["sleep", "3600"]}}
  containers:
  - {{name: app, image: "{IMAGE}", command: ["sleep", "3600"]}}
""")
    wait_running(e2e_kubectl, "chatty")
    unknown = e2e_kubectl("logs", "chatty", "-c", "nope", check=False)
    assert unknown.returncode != 0 and "container nope is not valid for pod chatty" in unknown.stderr
    previous = e2e_kubectl("logs", "chatty", "-p", check=False)
    assert previous.returncode != 0
    assert 'Error from server (BadRequest): previous terminated container "talk" in pod "chatty" not found' in previous.stderr
    wait_for(lambda: "running" in (pod(e2e_kubectl, "later").get("status", {}).get("initContainerStatuses") or [{}])[0]
             .get("state", {}), 60, "init container running")
    waiting = e2e_kubectl("logs", "later", "-c", "app", check=False)
    assert waiting.returncode != 0
    assert 'container "app" in pod "later" is waiting to start: PodInitializing' in waiting.stderr


def test_the_api_server_asks_which_container_when_there_are_several(cluster: Cluster, e2e_kubectl132: Kubectl) -> None:
    e2e_kubectl132.apply_yaml(f"""
apiVersion: v1
kind: Pod
metadata: {{name: pair}}
spec:
  containers:
  - {{name: a, image: "{IMAGE}", command: ["sh", "-c", "echo from a; exec sleep 3600"]}}
  - {{name: b, image: "{IMAGE}", command: ["sleep", "3600"]}}
""")
    wait_running(e2e_kubectl132, "pair")
    core = python_client(cluster)
    with pytest.raises(ApiException) as raised:
        core.read_namespaced_pod_log("pair", e2e_kubectl132.namespace)
    assert raised.value.status == 400
    assert "a container name must be specified for pod pair, choose one of: [a b]" in str(raised.value.body)
    eventually_logged(e2e_kubectl132, "pair", "from a", "-c", "a")
    assert core.read_namespaced_pod_log("pair", e2e_kubectl132.namespace, container="a", tail_lines=1) == "from a\n"


def test_logs_of_a_pod_without_a_node_are_empty(e2e_kubectl132: Kubectl) -> None:
    e2e_kubectl132.apply_yaml(f"""
apiVersion: v1
kind: Pod
metadata: {{name: nowhere}}
spec:
  nodeSelector: {{no-such-label: "x"}}
  containers:
  - {{name: app, image: "{IMAGE}"}}
""")
    assert e2e_kubectl132("logs", "nowhere").stdout == ""
