"""Probes and lifecycle hooks end to end: containers on runc (and a simulated node), seen through the real kubectl."""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

from tests.conftest import KUBECTL_VERSIONS, Kubectl, kubectl_binary
from tests.e2e.conftest import EXAMPLE_IMAGE, Cluster, wait_for

Obj = dict[str, Any]

KUBIA_LIVENESS = f"""
apiVersion: v1
kind: Pod
metadata:
  name: kubia-liveness
spec:
  containers:
  - name: kubia
    image: {EXAMPLE_IMAGE}
    # The book's kubia-unhealthy: fine for five requests, then 500 for good (a CGI script counting in /tmp).
    command:
    - sh
    - -c
    - |
      mkdir -p /tmp/www/cgi-bin
      cat > /tmp/www/cgi-bin/health <<'CGI'
      #!/bin/sh
      n=$(cat /tmp/count 2>/dev/null || echo 0)
      n=$((n + 1))
      echo $n > /tmp/count
      if [ $n -gt 5 ]; then
        printf 'Status: 500 Internal Server Error\\r\\nContent-Type: text/plain\\r\\n\\r\\nI am not well\\n'
      else
        printf 'Content-Type: text/plain\\r\\n\\r\\nok %s\\n' $n
      fi
      CGI
      chmod +x /tmp/www/cgi-bin/health
      exec httpd -f -v -p 8080 -h /tmp/www
    ports:
    - name: http
      containerPort: 8080
    livenessProbe:
      httpGet:
        path: /cgi-bin/health
        port: http
      periodSeconds: 1
      failureThreshold: 2
      terminationGracePeriodSeconds: 1
"""


def _pod(kubectl: Kubectl, name: str) -> Obj:
    return json.loads(kubectl("get", "pod", name, "-o", "json").stdout)


def _container(pod: Obj, name: str) -> Obj:
    return next(s for s in pod["status"].get("containerStatuses") or [] if s["name"] == name)


def _condition(pod: Obj, kind: str) -> str:
    return next((c["status"] for c in pod["status"].get("conditions") or [] if c["type"] == kind), "")


def _events(kubectl: Kubectl, name: str) -> list[Obj]:
    """The pod's events in the order they happened (their names end in the creation time, hex nanoseconds)."""
    items = json.loads(kubectl("get", "events", "--field-selector", f"involvedObject.name={name}",
                               "-o", "json").stdout)["items"]
    return sorted(items, key=lambda e: int(e["metadata"]["name"].rsplit(".", 1)[1], 16))


def _messages(kubectl: Kubectl, name: str, reason: str) -> list[str]:
    return [e["message"] for e in _events(kubectl, name) if e["reason"] == reason]


def _row(kubectl: Kubectl, name: str) -> list[str]:
    return kubectl("get", "pod", name, "--no-headers").stdout.split()


def test_a_container_that_turns_unhealthy_after_five_requests_is_restarted_by_its_liveness_probe(
        e2e_kubectl132: Kubectl) -> None:
    kubectl = e2e_kubectl132
    kubectl.create_yaml(KUBIA_LIVENESS)
    wait_for(lambda: _container(_pod(kubectl, "kubia-liveness"), "kubia")["restartCount"] >= 2, 90,
             "kubia restarted twice")
    status = _container(_pod(kubectl, "kubia-liveness"), "kubia")
    terminated = status["lastState"]["terminated"]
    # httpd runs as PID 1 and ignores SIGTERM: it is killed (137); a process that exits on SIGTERM shows 143.
    assert terminated["reason"] == "Error" and terminated["exitCode"] in (137, 143), terminated
    assert int(_row(kubectl, "kubia-liveness")[3]) >= 2, "RESTARTS"

    def probe_events() -> list[Obj]:
        wanted = {("Unhealthy", "Liveness probe failed: HTTP probe failed with statuscode: 500"),
                  ("Killing", "Container kubia failed liveness probe, will be restarted")}
        # Repeats of an event are counted on the first one: two restarts, each after failures in a row.
        found = [e for e in _events(kubectl, "kubia-liveness") if (e["reason"], e["message"]) in wanted]
        return found if len(found) == 2 and all(e["count"] >= 2 for e in found) else []

    events = wait_for(probe_events, 10, "Unhealthy and Killing events, twice each")
    assert [e["reason"] for e in events] == ["Unhealthy", "Killing"]  # type: ignore[union-attr]
    for version in KUBECTL_VERSIONS:
        other = dataclasses.replace(kubectl, version=version, binary=kubectl_binary(version) or "")
        described = other("describe", "pod", "kubia-liveness").stdout
        assert "Liveness probe failed: HTTP probe failed with statuscode: 500" in described, version
        assert "Container kubia failed liveness probe, will be restarted" in described, version
        assert "Last State:     Terminated" in described and "Reason:       Error" in described, version
        assert "http-get http://:http/cgi-bin/health delay=0s timeout=1s period=1s #success=1 #failure=2" in described


def test_a_readiness_probe_toggles_ready_without_restarting(e2e_kubectl132: Kubectl) -> None:
    kubectl = e2e_kubectl132
    kubectl.create_yaml(f"""
apiVersion: v1
kind: Pod
metadata:
  name: toggler
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: {EXAMPLE_IMAGE}
    command: ["sh", "-c", "while true; do touch /tmp/ready; sleep 3; rm -f /tmp/ready; sleep 3; done"]
    readinessProbe:
      exec:
        command: ["cat", "/tmp/ready"]
      periodSeconds: 1
      failureThreshold: 1
      timeoutSeconds: 5
""")
    for want in ("True", "False", "True"):
        wait_for(lambda: _condition(_pod(kubectl, "toggler"), "Ready") == want, 30, f"Ready={want}")
    pod = _pod(kubectl, "toggler")
    assert _container(pod, "app")["restartCount"] == 0 and pod["status"]["phase"] == "Running"
    # The command's output, verbatim (newline included), as upstream reports it.
    assert ("Readiness probe failed: cat: can't open '/tmp/ready': No such file or directory\n"
            in _messages(kubectl, "toggler", "Unhealthy"))
    assert not _messages(kubectl, "toggler", "Killing")
    wait_for(lambda: _row(kubectl, "toggler")[1] == "0/1", 30, "READY 0/1")
    wait_for(lambda: _row(kubectl, "toggler")[1] == "1/1", 30, "READY 1/1")


def test_probes_on_a_closed_port_report_unhealthy_and_harm_nothing_else(e2e_kubectl132: Kubectl) -> None:
    kubectl = e2e_kubectl132
    kubectl.create_yaml(f"""
apiVersion: v1
kind: Pod
metadata:
  name: closed
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: {EXAMPLE_IMAGE}
    readinessProbe:
      tcpSocket:
        port: 8081
      periodSeconds: 1
    livenessProbe:
      httpGet:
        path: /healthz
        port: 8082
      periodSeconds: 1
      failureThreshold: 1000
  - name: side
    image: {EXAMPLE_IMAGE}
    command: ["httpd", "-f", "-p", "8090", "-h", "/www"]
""")
    wait_for(lambda: len(_messages(kubectl, "closed", "Unhealthy")) >= 2, 30, "Unhealthy events")
    pod = _pod(kubectl, "closed")
    ip = pod["status"]["podIP"]
    messages = set(_messages(kubectl, "closed", "Unhealthy"))
    assert f"Readiness probe failed: dial tcp {ip}:8081: connect: connection refused" in messages
    assert (f'Liveness probe failed: Get "http://{ip}:8082/healthz": dial tcp {ip}:8082: connect: connection refused'
            in messages)
    assert _row(kubectl, "closed")[1:3] == ["1/2", "Running"]
    assert _container(pod, "side")["ready"] is True and _container(pod, "web")["ready"] is False
    assert all(s["restartCount"] == 0 and "running" in s["state"] for s in pod["status"]["containerStatuses"])
    # The node goes on serving other pods.
    kubectl("run", "other", f"--image={EXAMPLE_IMAGE}")
    wait_for(lambda: _row(kubectl, "other")[1:3] == ["1/1", "Running"], 30, "pod other ready")


def test_post_start_and_pre_stop_hooks_run_around_the_container(e2e_kubectl132: Kubectl) -> None:
    kubectl = e2e_kubectl132
    kubectl.create_yaml(f"""
apiVersion: v1
kind: Pod
metadata:
  name: hooks
spec:
  terminationGracePeriodSeconds: 30
  containers:
  - name: web
    image: {EXAMPLE_IMAGE}
    # Serves what the postStart hook writes; exits at once on SIGTERM.
    command: ["sh", "-c", "trap 'exit 0' TERM; mkdir -p /tmp/www; httpd -p 8080 -h /tmp/www; while true; do sleep 1; done"]
    lifecycle:
      postStart:
        exec:
          command: ["sh", "-c", "mkdir -p /tmp/www && echo started > /tmp/www/started.txt"]
      preStop:
        exec:
          command: ["sleep", "5"]
    readinessProbe:
      httpGet:
        path: /started.txt
        port: 8080
      periodSeconds: 1
""")
    wait_for(lambda: _row(kubectl, "hooks")[1] == "1/1", 30, "ready: the postStart hook's file is served")
    assert not _messages(kubectl, "hooks", "FailedPostStartHook")
    kubectl("delete", "pod", "hooks", "--wait=false")
    deleted = time.monotonic()
    running_until = deleted

    def gone() -> bool:
        nonlocal running_until
        result = kubectl("get", "pod", "hooks", "-o", "json", check=False)
        if result.returncode != 0:
            return True
        state = _container(json.loads(result.stdout), "web")["state"]
        if "running" in state:
            running_until = time.monotonic()
        return False

    wait_for(gone, 40, "pod hooks gone")
    # The preStop hook (5 s) runs before the stop signal, which the container obeys at once.
    assert running_until - deleted >= 2, "the container was stopped without waiting for its preStop hook"
    assert _messages(kubectl, "hooks", "Killing") == ["Stopping container web"]
    assert not _messages(kubectl, "hooks", "FailedPreStopHook")


def test_failing_hooks_are_reported_and_a_failed_post_start_restarts_the_container(e2e_kubectl132: Kubectl) -> None:
    kubectl = e2e_kubectl132
    kubectl.create_yaml(f"""
apiVersion: v1
kind: Pod
metadata:
  name: badhooks
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: broken
    image: {EXAMPLE_IMAGE}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    lifecycle:
      postStart:
        exec:
          command: ["sh", "-c", "echo no >&2; exit 1"]
  - name: fine
    image: {EXAMPLE_IMAGE}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    lifecycle:
      preStop:
        exec:
          command: ["false"]
""")
    wait_for(lambda: _container(_pod(kubectl, "badhooks"), "broken")["restartCount"] >= 1, 30, "broken restarted")
    assert "PostStartHook failed" in _messages(kubectl, "badhooks", "FailedPostStartHook")
    assert "FailedPostStartHook" in _messages(kubectl, "badhooks", "Killing")
    described = kubectl("describe", "pod", "badhooks").stdout
    assert "FailedPostStartHook" in described and "PostStartHook failed" in described
    kubectl("delete", "pod", "badhooks", "--timeout=30s")
    wait_for(lambda: "PreStopHook failed" in _messages(kubectl, "badhooks", "FailedPreStopHook"), 10,
             "FailedPreStopHook event")


def test_probes_pass_on_every_runtime(any_cluster: Cluster, any_kubectl: Kubectl) -> None:
    """On the simulated node probes pass without anything running; on runc these ones really pass."""
    kubectl = any_kubectl
    kubectl.create_yaml(f"""
apiVersion: v1
kind: Pod
metadata:
  name: healthy
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: {EXAMPLE_IMAGE}
    ports:
    - name: http
      containerPort: 8080
    startupProbe:
      tcpSocket:
        port: http
      initialDelaySeconds: 1
      periodSeconds: 1
    livenessProbe:
      httpGet:
        path: /
        port: http
      periodSeconds: 1
    readinessProbe:
      exec:
        command: ["true"]
      periodSeconds: 1
      timeoutSeconds: 5
""")
    wait_for(lambda: _row(kubectl, "healthy")[1:3] == ["1/1", "Running"], 30, "pod healthy ready")
    pod = _pod(kubectl, "healthy")
    web = _container(pod, "web")
    assert web["started"] is True and web["ready"] is True and web["restartCount"] == 0
    assert _condition(pod, "ContainersReady") == "True"
    assert not _messages(kubectl, "healthy", "Unhealthy") and not _messages(kubectl, "healthy", "Killing")
