"""`kyb agent --server … --token …` joins a running server (simulated runtime, no root); its mistakes are one line."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest
import yaml

from kybernetes.apiserver.join import JoinToken
from tests.conftest import REPO, RunningServer, free_port, kubectl_binary, start_server

SERVER_NODE = "join-srv"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server with its own simulated node, so joined nodes come second."""
    srv = start_server(tmp_path_factory.mktemp("join-agent") / "data", "--agent-runtime", "simulated",
                       "--node-name", SERVER_NODE, "--node-ip", "127.0.0.1", "--kubelet-port", str(free_port()),
                       control_plane_only=False)
    yield srv
    srv.stop()


def _kubectl(server: RunningServer, *args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess[str]:
    binary = kubectl_binary("1.32") or "kubectl"
    result = subprocess.run([binary, "--kubeconfig", str(server.kubeconfig), *args], capture_output=True, text=True,
                            timeout=60, input=input)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def _wait(predicate: Callable[[], object], what: str, timeout: float = 30) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _node(server: RunningServer, name: str) -> dict | None:
    result = _kubectl(server, "get", "node", name, "-o", "json", check=False)
    return json.loads(result.stdout) if result.returncode == 0 else None


def _ready(node: dict | None) -> bool:
    conditions = (node or {}).get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def _agent_args(server: RunningServer, data_dir: Path, name: str, *token_args: str) -> list[str]:
    return ["--server", server.url, *token_args, "--data-dir", str(data_dir), "--node-name", name,
            "--node-ip", "127.0.0.1", "--runtime", "simulated", "--kubelet-port", str(free_port())]


def _agent_cmd(server: RunningServer, data_dir: Path, name: str, *token_args: str) -> list[str]:
    return [sys.executable, "-m", "kybernetes", "agent", *_agent_args(server, data_dir, name, *token_args)]


def _start_agent(cmd: list[str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _run_agent(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kybernetes", "agent", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=timeout, env={**os.environ, "KYB_URL": "", "KYB_TOKEN": ""})


def test_an_agent_joins_with_the_token_file_and_runs_pods_in_its_own_range(
        cluster: RunningServer, tmp_path: Path) -> None:
    data = tmp_path / "agent"
    token_file = cluster.data_dir / "server" / "token"
    log = tmp_path / "agent.log"
    agent = _start_agent(_agent_cmd(cluster, data, "join-agent", "--token-file", str(token_file)), log)
    try:
        node = _wait(lambda: (n := _node(cluster, "join-agent")) and _ready(n) and n, "node join-agent Ready")
        assert isinstance(node, dict)
        server_node = _node(cluster, SERVER_NODE)
        assert server_node and server_node["spec"]["podCIDR"] == "10.42.0.0/24"
        assert node["spec"]["podCIDR"] == "10.42.1.0/24"
        assert node["spec"]["podCIDRs"] == ["10.42.1.0/24"]
        rows = _kubectl(cluster, "get", "nodes", "--no-headers").stdout
        assert {line.split()[0]: line.split()[1] for line in rows.splitlines()} == {
            SERVER_NODE: "Ready", "join-agent": "Ready"}

        # Its pods get addresses from the range the server gave it.
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "on-joined", "namespace": "default"},
               "spec": {"nodeSelector": {"kubernetes.io/hostname": "join-agent"},
                        "containers": [{"name": "c", "image": "busybox"}]}}
        _kubectl(cluster, "apply", "-f", "-", input=json.dumps(pod))
        ip = _wait(lambda: json.loads(_kubectl(cluster, "get", "pod", "on-joined", "-o", "json").stdout)
                   .get("status", {}).get("podIP"), "a pod IP on join-agent")
        assert str(ip).startswith("10.42.1.")
        _kubectl(cluster, "delete", "pod", "on-joined", "--grace-period=0", "--force", "--wait=false")

        tls = data / "agent" / "tls"
        for key in ("client-kubelet.key", "serving-kubelet.key"):
            assert stat.S_IMODE((tls / key).stat().st_mode) == 0o600
        assert stat.S_IMODE((data / "agent" / "kubelet.kubeconfig").stat().st_mode) == 0o600
        kubeconfig = yaml.safe_load((data / "agent" / "kubelet.kubeconfig").read_text())
        assert kubeconfig["clusters"][0]["cluster"]["server"] == cluster.url
    finally:
        _stop(agent)
    text = log.read_text()
    assert "join: node join-agent joined" in text
    assert JoinToken.parse(token_file.read_text()).secret not in text
    assert "PRIVATE KEY" not in text and "Traceback" not in text

    # A restarted agent keeps its credentials and its range.
    again = _start_agent(_agent_cmd(cluster, data, "join-agent", "--token-file", str(token_file)), log)
    try:
        _wait(lambda: "reusing the credentials of node join-agent" in log.read_text(), "the agent to reuse credentials")
        node = _wait(lambda: (n := _node(cluster, "join-agent")) and _ready(n) and n, "node join-agent Ready again")
        assert isinstance(node, dict) and node["spec"]["podCIDR"] == "10.42.1.0/24"
    finally:
        _stop(again)
        _kubectl(cluster, "delete", "node", "join-agent", check=False)


def test_a_token_without_the_ca_hash_joins_with_a_warning(cluster: RunningServer, tmp_path: Path) -> None:
    secret = JoinToken.parse((cluster.data_dir / "server" / "token").read_text()).secret
    log = tmp_path / "agent.log"
    agent = _start_agent(_agent_cmd(cluster, tmp_path / "agent", "join-short", "--token", secret), log)
    try:
        _wait(lambda: _ready(_node(cluster, "join-short")), "node join-short Ready")
    finally:
        _stop(agent)
        _kubectl(cluster, "delete", "node", "join-short", check=False)
    lines = [line for line in log.read_text().splitlines() if "WARNING" in line]
    assert any("the token has no CA hash" in line and "without verifying it" in line for line in lines)
    assert secret not in log.read_text()


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("kyb: error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def test_a_wrong_token_is_refused_in_one_line(cluster: RunningServer, tmp_path: Path) -> None:
    token = JoinToken.parse((cluster.data_dir / "server" / "token").read_text())
    wrong = JoinToken(secret="not-the-secret", ca_hash=token.ca_hash, username="server").text()
    line = _one_line_error(_run_agent(*_agent_args(cluster, tmp_path / "a", "join-wrong", "--token", wrong)))
    assert line == f"kyb: error: join refused by {cluster.url}: the token is not valid"
    assert _node(cluster, "join-wrong") is None
    assert not (tmp_path / "a" / "agent" / "tls").exists()


def test_a_token_naming_another_ca_sends_nothing(cluster: RunningServer, tmp_path: Path) -> None:
    token = JoinToken.parse((cluster.data_dir / "server" / "token").read_text())
    other_ca = JoinToken(secret=token.secret, ca_hash="ab" * 32, username="server").text()
    line = _one_line_error(_run_agent(*_agent_args(cluster, tmp_path / "a", "join-mitm", "--token", other_ca)))
    assert line.startswith(f"kyb: error: cannot join {cluster.url}: its CA certificate")
    assert "is not the one the token names" in line
    assert "join-mitm" not in cluster.log()
    assert not (tmp_path / "a" / "agent" / "tls").exists()


def test_an_unreachable_server_is_one_line(tmp_path: Path) -> None:
    port = free_port()  # bound and released: nothing listens there
    line = _one_line_error(_run_agent("--server", f"https://127.0.0.1:{port}", "--token", "K10" + "ab" * 32 + "::server:x",
                                      "--data-dir", str(tmp_path), "--node-name", "n", "--runtime", "simulated"))
    assert line == f"kyb: error: cannot reach https://127.0.0.1:{port}: Connection refused"


@pytest.mark.parametrize("args, message", [
    ((), "give --server URL with --token (or --token-file) to join a cluster, or --kubeconfig"),
    (("--server", "https://127.0.0.1:1"), "--server needs a join token"),
    (("--server", "http://127.0.0.1:1", "--token", "t"), "--server: expected https://HOST[:PORT]"),
    (("--server", "https://127.0.0.1:1", "--token", "t", "--kubeconfig", "/dev/null"), "--server and --kubeconfig"),
    (("--server", "https://127.0.0.1:1", "--token", "t", "--token-file", "/dev/null"), "--token and --token-file"),
    (("--server", "https://127.0.0.1:1", "--token-file", "/nonexistent/token"), "--token-file: cannot read"),
    (("--server", "https://127.0.0.1:1", "--token", "t", "--pod-cidr", "10.9.0.0/24"), "--pod-cidr: the server assigns"),
], ids=["nothing", "no-token", "http", "both-modes", "both-tokens", "missing-file", "pod-cidr"])
def test_agent_flag_mistakes_are_one_line(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    line = _one_line_error(_run_agent(*args, "--data-dir", str(tmp_path), "--runtime", "simulated"))
    assert message in line
