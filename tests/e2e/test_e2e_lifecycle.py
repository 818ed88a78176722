"""Pod lifecycle through the real kubectl, on the runc node and on the simulated one alike.

Each manifest carries both scripts: the container command for runc, and the
`kybernetes.io/simulate-*` annotations the simulated runtime follows (runc ignores them).
"""

from __future__ import annotations

import json
import time
import uuid

import pytest

from tests.conftest import Kubectl, free_port
from tests.e2e.conftest import EXAMPLE_IMAGE, Cluster, wait_for


def _pod(kubectl: Kubectl, name: str) -> dict:
    return json.loads(kubectl("get", "pod", name, "-o", "json").stdout)


def _status_of(kubectl: Kubectl, name: str, container: str, *, init: bool = False) -> dict:
    key = "initContainerStatuses" if init else "containerStatuses"
    for status in _pod(kubectl, name)["status"].get(key) or []:
        if status["name"] == container:
            return status
    return {}


def _events(kubectl: Kubectl, name: str) -> list[dict]:
    out = kubectl("get", "events", "--field-selector", f"involvedObject.name={name}", "-o", "json").stdout
    return json.loads(out)["items"]


def _phase(kubectl: Kubectl, name: str) -> str:
    return str(_pod(kubectl, name)["status"].get("phase", ""))


def test_oom_killed_container_shows_oomkilled(any_kubectl: Kubectl) -> None:
    any_kubectl.create_yaml(f"""
apiVersion: v1
kind: Pod
metadata:
  name: hog
  annotations: {{kybernetes.io/simulate-exit: "hog=OOMKilled@0.5"}}
spec:
  restartPolicy: Never
  containers:
  - name: hog
    image: {EXAMPLE_IMAGE}
    # dd's 64 MiB block buffer cannot fit under a 24 MiB limit: the kernel's OOM killer ends it.
    command: ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=20"]
    resources: {{limits: {{memory: 24Mi}}}}
""")
    wait_for(lambda: _phase(any_kubectl, "hog") == "Failed", 30, "pod hog Failed")
    terminated = _status_of(any_kubectl, "hog", "hog")["state"]["terminated"]
    assert terminated["reason"] == "OOMKilled"
    assert terminated["exitCode"] == 137
    row = any_kubectl("get", "pod", "hog", "--no-headers").stdout.split()
    assert row[1:3] == ["0/1", "OOMKilled"]


def test_init_containers_run_first_and_in_order(any_kubectl: Kubectl) -> None:
    any_kubectl.create_yaml(f"""
apiVersion: v1
kind: Pod
metadata:
  name: staged
  annotations: {{kybernetes.io/simulate-exit: "first=0@1,second=0@1"}}
spec:
  initContainers:
  - {{name: first, image: {EXAMPLE_IMAGE}, command: ["sleep", "1"]}}
  - {{name: second, image: {EXAMPLE_IMAGE}, command: ["sleep", "1"]}}
  containers:
  - {{name: app, image: {EXAMPLE_IMAGE}}}
""")
    seen_status = set()

    def running() -> bool:
        row = any_kubectl("get", "pod", "staged", "--no-headers").stdout.split()
        seen_status.add(row[2] if len(row) > 2 else "")
        return row[2:3] == ["Running"]

    wait_for(running, 30, "pod staged Running")
    # While init containers ran the STATUS column counted them, as upstream's printer does.
    assert seen_status & {"Init:0/2", "Init:1/2", "PodInitializing"}, seen_status
    first = _status_of(any_kubectl, "staged", "first", init=True)["state"]["terminated"]
    second = _status_of(any_kubectl, "staged", "second", init=True)["state"]["terminated"]
    app = _status_of(any_kubectl, "staged", "app")["state"]["running"]
    assert first["reason"] == second["reason"] == "Completed"
    assert first["finishedAt"] <= second["startedAt"]
    assert second["finishedAt"] <= app["startedAt"]
    conditions = {c["type"]: c["status"] for c in _pod(any_kubectl, "staged")["status"]["conditions"]}
    assert conditions["Initialized"] == "True"


def test_deleting_a_pod_that_ignores_sigterm_takes_its_grace_period(any_kubectl: Kubectl) -> None:
    any_kubectl.create_yaml(f"""
apiVersion: v1
kind: Pod
metadata:
  name: stubborn
  annotations: {{kybernetes.io/simulate-termination: "app=60"}}
spec:
  terminationGracePeriodSeconds: 3
  containers:
  - name: app
    image: {EXAMPLE_IMAGE}
    # As PID 1 without a handler, SIGTERM is ignored: only SIGKILL at the end of the grace period ends it.
    command: ["sh", "-c", "trap '' TERM; while true; do sleep 0.2; done"]
""")
    wait_for(lambda: _phase(any_kubectl, "stubborn") == "Running", 30, "pod stubborn Running")
    started = time.monotonic()
    any_kubectl("delete", "pod", "stubborn", timeout=60)
    elapsed = time.monotonic() - started
    assert elapsed >= 2.5, f"deleted after {elapsed:.1f}s, before its 3 s grace period ran out"
    gone = any_kubectl("get", "pod", "stubborn", check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr
    reasons = [e["reason"] for e in _events(any_kubectl, "stubborn")]
    assert "Killing" in reasons


def test_node_selector_waits_until_the_node_is_labelled(any_cluster: Cluster, any_kubectl: Kubectl) -> None:
    label = f"e2e-{uuid.uuid4().hex[:6]}"
    any_kubectl.create_yaml(f"""
apiVersion: v1
kind: Pod
metadata: {{name: picky}}
spec:
  nodeSelector: {{{label}: "true"}}
  containers:
  - {{name: app, image: {EXAMPLE_IMAGE}}}
""")

    def failed_scheduling() -> list[dict]:
        return [e for e in _events(any_kubectl, "picky") if e["reason"] == "FailedScheduling"]

    events = wait_for(failed_scheduling, 15, "a FailedScheduling event")
    assert "didn't match Pod's node affinity/selector" in events[0]["message"]  # type: ignore[index]
    assert events[0]["message"].startswith("0/")  # type: ignore[index]
    condition = next(c for c in _pod(any_kubectl, "picky")["status"]["conditions"] if c["type"] == "PodScheduled")
    assert (condition["status"], condition["reason"]) == ("False", "Unschedulable")
    any_kubectl("label", "node", any_cluster.node, f"{label}=true", namespaced=False)
    try:
        wait_for(lambda: _phase(any_kubectl, "picky") == "Running", 20, "pod picky Running after labelling")
        assert _pod(any_kubectl, "picky")["spec"]["nodeName"] == any_cluster.node
    finally:
        any_kubectl("label", "node", any_cluster.node, f"{label}-", namespaced=False)


def test_a_pod_asking_for_more_memory_than_any_node_has_stays_pending(any_kubectl: Kubectl) -> None:
    any_kubectl.create_yaml(f"""
apiVersion: v1
kind: Pod
metadata: {{name: greedy}}
spec:
  containers:
  - name: app
    image: {EXAMPLE_IMAGE}
    resources: {{requests: {{memory: 64Ti}}}}
""")
    events = wait_for(lambda: [e for e in _events(any_kubectl, "greedy") if e["reason"] == "FailedScheduling"],
                      15, "a FailedScheduling event")
    assert "Insufficient memory" in events[0]["message"]  # type: ignore[index]
    assert _phase(any_kubectl, "greedy") == "Pending"
    described = any_kubectl("describe", "pod", "greedy").stdout
    assert "FailedScheduling" in described and "Insufficient memory" in described


def test_an_image_that_cannot_be_pulled_backs_off_with_the_reason(cluster: Cluster, e2e_kubectl132: Kubectl) -> None:
    # A registry port on loopback where nothing listens: the pull fails at once, nothing leaves the machine.
    image = f"127.0.0.1:{free_port()}/missing/app:1"
    e2e_kubectl132("run", "nopull", f"--image={image}")

    def waiting_reason() -> str:
        state = _status_of(e2e_kubectl132, "nopull", "nopull").get("state", {})
        return str(state.get("waiting", {}).get("reason", ""))

    wait_for(lambda: waiting_reason() == "ImagePullBackOff", 30, "ImagePullBackOff")
    events = _events(e2e_kubectl132, "nopull")
    failed = [e["message"] for e in events if e["reason"] == "Failed"]
    # Upstream's sequence: the registry's reason, then the container's waiting reasons.
    assert any(m.startswith(f'Failed to pull image "{image}"') and "connection refused" in m for m in failed), failed
    assert "Error: ErrImagePull" in failed and "Error: ImagePullBackOff" in failed
    assert any(e["reason"] == "BackOff" and e["message"] == f'Back-off pulling image "{image}"' for e in events)
    waiting = _status_of(e2e_kubectl132, "nopull", "nopull")["state"]["waiting"]
    assert waiting["message"].startswith(f'Back-off pulling image "{image}"')
    assert e2e_kubectl132("get", "pod", "nopull", "--no-headers").stdout.split()[2] in ("ErrImagePull", "ImagePullBackOff")


def test_a_command_missing_from_the_image_is_reported_on_the_container(cluster: Cluster, e2e_kubectl132: Kubectl) -> None:
    e2e_kubectl132("run", "nocmd", f"--image={EXAMPLE_IMAGE}", "--command", "--", "/no/such/program")

    def terminated() -> dict:
        status = _status_of(e2e_kubectl132, "nocmd", "nocmd")
        return status.get("lastState", {}).get("terminated") or status.get("state", {}).get("terminated") or {}

    last = wait_for(terminated, 30, "the failed start recorded")
    assert last["reason"] in ("StartError", "ContainerCannotRun"), last  # type: ignore[index]
    assert "/no/such/program" in last.get("message", "")  # type: ignore[union-attr]
    # The agent keeps serving other pods.
    e2e_kubectl132("run", "fine", f"--image={EXAMPLE_IMAGE}")
    wait_for(lambda: _phase(e2e_kubectl132, "fine") == "Running", 30, "pod fine Running")


@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_restarting_the_node_keeps_running_pods_running(cluster: Cluster, e2e_kubectl132: Kubectl, how: str) -> None:
    e2e_kubectl132("run", "keeper", f"--image={EXAMPLE_IMAGE}")
    wait_for(lambda: _phase(e2e_kubectl132, "keeper") == "Running", 30, "pod keeper Running")
    before = _status_of(e2e_kubectl132, "keeper", "keeper")
    cluster.restart(kill=how == "SIGKILL")
    # Give the new agent time to adopt the container and resync the pod.
    time.sleep(2)
    after = _status_of(e2e_kubectl132, "keeper", "keeper")
    assert after["restartCount"] == before["restartCount"] == 0
    assert after["containerID"] == before["containerID"]
    assert after["state"]["running"]["startedAt"] == before["state"]["running"]["startedAt"]
    assert _phase(e2e_kubectl132, "keeper") == "Running"


def test_a_guaranteed_pod_runs(any_kubectl: Kubectl) -> None:
    # Requests equal to limits: QoS Guaranteed, which upstream runs with oom_score_adj -997; a host
    # that refuses negative values (some sandboxed VMs) must still run the pod.
    any_kubectl.create_yaml(f"""
apiVersion: v1
kind: Pod
metadata: {{name: steady}}
spec:
  containers:
  - name: app
    image: {EXAMPLE_IMAGE}
    resources:
      requests: {{cpu: 100m, memory: 32Mi}}
      limits: {{cpu: 100m, memory: 32Mi}}
""")
    wait_for(lambda: _phase(any_kubectl, "steady") == "Running", 30, "pod steady Running")
    pod = _pod(any_kubectl, "steady")
    assert pod["status"]["qosClass"] == "Guaranteed"
    assert _status_of(any_kubectl, "steady", "app")["ready"] is True


def test_pulls_of_outside_images_stay_on_the_machine(cluster: Cluster, e2e_kubectl132: Kubectl) -> None:
    # The test cluster mirrors every registry to a closed loopback port and disables the default
    # endpoint (k3s' --disable-default-registry-endpoint): a Docker Hub image fails here, not out there.
    e2e_kubectl132("run", "hub", "--image=busybox:1.36")

    def failed() -> list[str]:
        return [e["message"] for e in _events(e2e_kubectl132, "hub") if e["reason"] == "Failed"
                and e["message"].startswith("Failed to pull image")]

    messages = wait_for(failed, 30, "the pull to fail")
    assert "127.0.0.1:1" in messages[0]  # type: ignore[index]
    assert "registry-1.docker.io" not in messages[0]  # type: ignore[index]
